package silence

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "30m": 30 * time.Minute, "2h": 2 * time.Hour, "7d": MaxDuration, "010m": 10 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "h", "2", "2w", "-1h", "1.5h", "0s", "8d", "99999999999d", "1h30m"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
	if CheckReason("network upgrade (v25.3), part 1/2: node-0_a") != nil || CheckReason("x; rm -rf /") == nil || CheckReason(strings.Repeat("a", 101)) == nil {
		t.Error("CheckReason")
	}
}

// fakeKapacitor keeps the oasis_silence task's status and vars as
// Kapacitor's API does, and the requests made.
type fakeKapacitor struct {
	mu       sync.Mutex
	status   string
	vars     map[string]tickVar
	requests []string
	// patches are the PATCH bodies' status, with "+vars" when vars came along.
	patches []string
}

func (f *fakeKapacitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/kapacitor/v1/tasks":
		_ = json.NewEncoder(w).Encode(map[string]any{"tasks": []task{
			{ID: "oasis_node_down", TemplateID: "oasis_node_down"}, {ID: "oasis_input_silent_signing", TemplateID: "oasis_input_silent"},
			{ID: "oasis_silence", TemplateID: "oasis_silence"}, {ID: "oasis_watchdog", TemplateID: "oasis_watchdog"},
		}})
	case r.URL.Path == "/kapacitor/v1/tasks/oasis_silence" && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(task{ID: Task, Status: f.status, Vars: f.vars})
	case r.URL.Path == "/kapacitor/v1/tasks/oasis_silence" && r.Method == http.MethodPatch:
		var patch task
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &patch); err != nil {
			http.Error(w, `{"error":"invalid JSON"}`, http.StatusBadRequest)
			return
		}
		f.status = patch.Status
		kind := patch.Status
		if patch.Vars != nil {
			f.vars = patch.Vars
			kind += "+vars"
		}
		f.patches = append(f.patches, kind)
		w.Write([]byte("{}"))
	default:
		http.NotFound(w, r)
	}
}

func TestClientSetsTheTaskAsTheScriptDoes(t *testing.T) {
	k := &fakeKapacitor{status: "enabled"}
	srv := httptest.NewServer(k)
	defer srv.Close()
	c := &Client{URL: srv.URL}
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 8, 0, 0, 500, time.UTC)

	names, err := c.Alerts(ctx)
	if err != nil || strings.Join(names, ",") != "oasis_input_silent,oasis_node_down" {
		t.Fatalf("alerts: %v %v", names, err)
	}
	if _, err := c.Set(ctx, now, time.Hour, "x", "oasis_nope"); err == nil || !strings.Contains(err.Error(), `no alert "oasis_nope"`) {
		t.Errorf("an unknown alert: %v", err)
	}
	s, err := c.Set(ctx, now, 2*time.Hour, "network upgrade", "oasis_input_silent")
	if err != nil {
		t.Fatal(err)
	}
	// Whole seconds, never before the time asked for.
	if want := time.Date(2026, 11, 28, 10, 0, 1, 0, time.UTC); !s.Until.Equal(want) {
		t.Errorf("until %s, want %s", s.Until, want)
	}
	k.mu.Lock()
	patches := k.patches
	vars := k.vars
	k.mu.Unlock()
	// The vars go with the disable, never to a running task (Kapacitor
	// would store them without applying them); then it is enabled.
	if strings.Join(patches, ",") != "disabled+vars,enabled" {
		t.Errorf("patches: %v", patches)
	}
	if vars["until_text"].Value != "2026-11-28 10:00:01 UTC" || vars["alert_name"].Value != "oasis_input_silent" || vars["remind_every"].Value != "3600s" || vars["until"].Value.(float64) != float64(s.Until.Unix()) {
		t.Errorf("vars: %+v", vars)
	}
	cur, err := c.Current(ctx)
	if err != nil || !cur.Active(now) || cur.Alert != "oasis_input_silent" || cur.Reason != "network upgrade" {
		t.Errorf("current: %+v %v", cur, err)
	}
	// Off keeps the alert's name (its RECOVERED notice needs it), ends the silence.
	if err := c.Off(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ = c.Current(ctx)
	if cur.Active(now) || cur.Alert != "oasis_input_silent" {
		t.Errorf("after off: %+v", cur)
	}
	// A disabled task holds nothing back, whatever its vars say.
	k.mu.Lock()
	k.status = "disabled"
	k.vars["until"] = tickVar{Type: "int", Value: float64(now.Add(time.Hour).Unix())}
	k.mu.Unlock()
	if cur, _ := c.Current(ctx); cur.Active(now) {
		t.Errorf("a disabled task taken as a silence")
	}
	// Kapacitor down: an error that names it.
	srv.Close()
	if _, err := c.Set(ctx, now, time.Hour, "x", ""); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("Kapacitor down: %v", err)
	}
}
