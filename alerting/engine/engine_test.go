package engine

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := NewConfig(t.TempDir(), "../../kapacitor/load")
	env := map[string]string{"KAPACITOR_HTTPPOST_0_ENDPOINT": "webhook", "KAPACITOR_HTTPPOST_0_URL": srv.URL}
	applied, err := cfg.ApplyEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	t.Log(applied)
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err, e.Log())
	}
	defer e.Close()
	base := time.Now().Add(-time.Hour)
	lp := ""
	for i := 0; i < 12; i++ {
		up := 1
		if i >= 3 && i < 8 {
			up = 0
		}
		lp += "oasis_node,node_id=abc up=" + itoa(up) + "i " + itoa(int(base.Add(time.Duration(i)*10*time.Second).UnixNano())) + "\n"
	}
	if err := e.WriteLineProtocol([]byte(lp)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, m := range got {
		t.Logf("%v %v %v", m["level"], m["time"], m["message"])
	}
	if len(got) != 2 {
		t.Fatal(len(got), e.Log())
	}
	_ = os.Stdout
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
