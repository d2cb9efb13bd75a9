package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/alerting/engine"
)

const repo = ".."

// event is one alert as the webhook handler (kapacitor/load/handlers/
// webhook.yaml) posts it: Kapacitor's alert JSON.
type event struct {
	ID            string    `json:"id"`
	Message       string    `json:"message"`
	Time          time.Time `json:"time"`
	Level         string    `json:"level"`
	PreviousLevel string    `json:"previousLevel"`
}

// kapacitor is a running engine loaded from a copy of the repository's
// kapacitor/ directory, with the webhook channel pointed at a recorder.
type kapacitor struct {
	*engine.Engine
	mu     sync.Mutex
	events []event
}

// vars overrides threshold values in the copied task files:
// task id -> var name -> value as written in YAML.
type vars map[string]map[string]string

// startKapacitor starts the engine as the compose stack starts kapacitord
// (docker-compose.yml's environment, .env.example's values plus dotenv),
// with the task files' vars changed as overrides says. kapacitorEnv are
// further KAPACITOR_* settings the compose file does not set (the tests
// point the channels' API URLs at fakes with them).
func startKapacitor(t *testing.T, overrides vars, dotenv, kapacitorEnv map[string]string) *kapacitor {
	t.Helper()
	root := t.TempDir()
	copyTree(t, filepath.Join(repo, "kapacitor"), filepath.Join(root, "kapacitor"))
	copyFile(t, filepath.Join(repo, "docker-compose.yml"), filepath.Join(root, "docker-compose.yml"))
	for task, vs := range overrides {
		setVars(t, filepath.Join(root, "kapacitor", "load", "tasks", task+".yaml"), vs)
	}

	k := &kapacitor{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("webhook got %q: %v", b, err)
			return
		}
		k.mu.Lock()
		k.events = append(k.events, ev)
		k.mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	env, err := engine.ReadDotEnv(filepath.Join(repo, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env["INFLUXDB_ADMIN_PASSWORD"] = "test-password"
	env["WEBHOOK_URL"] = hook.URL
	for k, v := range dotenv {
		env[k] = v
	}
	cfg, err := engine.FromCompose(filepath.Join(root, "docker-compose.yml"), env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	applied, err := cfg.ApplyEnv(func(k string) string { return kapacitorEnv[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(kapacitorEnv) {
		t.Fatalf("applied %v of %v: not kapacitord settings", applied, kapacitorEnv)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatalf("kapacitor does not start: %v\n%s", err, e.Log())
	}
	t.Cleanup(func() {
		_ = e.Close()
		if t.Failed() {
			t.Logf("kapacitor log (errors):\n%s", grepLines(e.Log(), "lvl=error"))
		}
	})
	k.Engine = e
	return k
}

// feed writes the points and waits until the alerts they cause have been
// delivered (no new event for a second).
func (k *kapacitor) feed(t *testing.T, lp []byte) {
	t.Helper()
	if err := k.WriteLineProtocol(lp); err != nil {
		t.Fatal(err)
	}
	k.settle()
}

func (k *kapacitor) settle() {
	n, quiet := -1, 0
	for quiet < 10 {
		time.Sleep(100 * time.Millisecond)
		k.mu.Lock()
		m := len(k.events)
		k.mu.Unlock()
		if m == n {
			quiet++
		} else {
			n, quiet = m, 0
		}
	}
}

// eventsOf returns the events of one task's alerts (IDs start with the
// template's name), in time order.
func (k *kapacitor) eventsOf(prefix string) []event {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []event
	for _, e := range k.events {
		if strings.HasPrefix(e.ID, prefix+":") || e.ID == prefix {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func (k *kapacitor) all() []event {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]event(nil), k.events...)
}

var varLine = regexp.MustCompile(`(?m)^  (\w+): \{type: (\w+), value: ([^}]*)\}$`)

func setVars(t *testing.T, path string, vs map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	out := varLine.ReplaceAllStringFunc(string(b), func(line string) string {
		m := varLine.FindStringSubmatch(line)
		v, ok := vs[m[1]]
		if !ok {
			return line
		}
		seen[m[1]] = true
		return fmt.Sprintf("  %s: {type: %s, value: %s}", m[1], m[2], v)
	})
	for name := range vs {
		if !seen[name] {
			t.Fatalf("%s has no var %s", path, name)
		}
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
