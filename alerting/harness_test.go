package alerting

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/alerting/engine"
	"gopkg.in/yaml.v3"
)

const repo = ".."

// event is one alert as the webhook handler (kapacitor/load/handlers/
// webhook.yaml) posts it: Kapacitor's alert JSON.
type event struct {
	ID            string    `json:"id"`
	Message       string    `json:"message"`
	Details       string    `json:"details"`
	Time          time.Time `json:"time"`
	Level         string    `json:"level"`
	PreviousLevel string    `json:"previousLevel"`
	// Data is the point that triggered the alert (its group's tags and
	// its fields): what gives the name the message leads with.
	Data struct {
		Series []struct {
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
	} `json:"data"`
}

// names are the group tags of the point behind the event, and its name
// fields (node_name, entity_name), in one map.
func (e event) names() map[string]string {
	out := map[string]string{}
	if len(e.Data.Series) == 0 {
		return out
	}
	s := e.Data.Series[0]
	for k, v := range s.Tags {
		out[k] = v
	}
	for i, c := range s.Columns {
		if (c == "node_name" || c == "entity_name") && len(s.Values) > 0 && i < len(s.Values[0]) {
			if v, ok := s.Values[0][i].(string); ok {
				out[c] = v
			}
		}
	}
	return out
}

// kapacitor is a running engine loaded from a copy of the repository's
// kapacitor/ directory, with the webhook channel pointed at a recorder.
type kapacitor struct {
	*engine.Engine
	cfg    engine.Config // to start it again on the same data (restart)
	mu     sync.Mutex
	events []event
	// before is how many events the webhook had received when the engine
	// was last restarted: a restarted engine counts only its own.
	before int
}

// vars overrides threshold values in the copied task files:
// task id -> var name -> value as written in YAML.
type vars map[string]map[string]string

// startKapacitor starts the engine as the compose stack starts kapacitord
// (docker-compose.yml's environment, loaded by compose-go with .env.example
// as the .env file, its empty required values filled in and dotenv's values
// winning over it), with the task files' vars changed as overrides says.
// dotenv is what the operator changes in .env. kapacitorEnv are
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

	composeFile, envFile := filepath.Join(root, "docker-compose.yml"), filepath.Join(repo, ".env.example")
	missing, err := engine.MissingRequired(composeFile, envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, name := range missing {
		env[name] = "/test-" + strings.ToLower(name) // a path too, for the bind mounts
	}
	env["WEBHOOK_URL"] = hook.URL
	for name, value := range dotenv {
		env[name] = value
	}
	cfg, err := engine.FromCompose(composeFile, envFile, env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	applied, err := cfg.ApplyEnv(func(name string) string { return kapacitorEnv[name] })
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(kapacitorEnv) {
		t.Fatalf("applied %v of %v: not kapacitord settings", applied, kapacitorEnv)
	}
	k.cfg = cfg
	k.open(t)
	return k
}

// open starts the engine on k.cfg, closed when the test ends.
func (k *kapacitor) open(t *testing.T) {
	t.Helper()
	e, err := engine.New(k.cfg)
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
}

// restart stops the engine as kapacitord stops (its tasks finish the
// points they hold, the alert states are in its data directory) and starts
// it again on the same data, as a `docker compose restart kapacitor` does.
func (k *kapacitor) restart(t *testing.T) {
	t.Helper()
	if err := k.Close(); err != nil {
		t.Fatalf("stopping kapacitor: %v", err)
	}
	k.before = len(k.all())
	k.open(t)
}

// topic is the topic every task publishes to and every handler in
// kapacitor/load/handlers subscribes to.
const topic = "oasis"

// feed replays the points to the end: it writes them and drains the
// engine (Engine.Drain): every point processed, every alert delivered to
// every channel. Nothing can be written after it.
func (k *kapacitor) feed(t *testing.T, lp []byte) {
	t.Helper()
	k.write(t, lp)
	k.drain(t)
}

func (k *kapacitor) write(t *testing.T, lp []byte) {
	t.Helper()
	if err := k.WriteLineProtocol(lp); err != nil {
		t.Fatal(err)
	}
}

// drain ends the input and returns once every point written has been
// processed and every alert event delivered; the webhook must have
// received each event the tasks published.
func (k *kapacitor) drain(t *testing.T) {
	t.Helper()
	published, err := k.Drain()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.all()) - k.before; int64(n) != published[topic] {
		t.Fatalf("the webhook received %d of the %d alert events the tasks published to %q:\n%s",
			n, published[topic], topic, grepLines(k.Log(), "lvl=error"))
	}
}

// waitUntil polls cond until it returns nil; at the deadline it fails the
// test with cond's last error. cond runs on the test's goroutine and must
// not call t.Fatal itself: it says what is missing.
func waitUntil(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
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

// taskFile is a task file of kapacitor/load/tasks, as Kapacitor's load
// service reads it.
type taskFile struct {
	TemplateID string `yaml:"template-id"`
	// Vars in file order: name, then {type, value}.
	Vars yaml.Node `yaml:"vars"`
}

// taskVar is one var of a task file, its value as written in the file.
type taskVar struct {
	Name, Type, Value string
	node              *yaml.Node // the value node
}

func readTaskFile(t *testing.T, path string) (taskFile, *yaml.Node) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var f taskFile
	if err := doc.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if f.Vars.Kind != yaml.MappingNode {
		t.Fatalf("%s: vars is not a mapping", path)
	}
	return f, &doc
}

// vars returns the task's vars in file order.
func (f taskFile) vars(t *testing.T) []taskVar {
	t.Helper()
	var out []taskVar
	c := f.Vars.Content
	for i := 0; i+1 < len(c); i += 2 {
		v := taskVar{Name: c[i].Value}
		spec := c[i+1]
		for j := 0; j+1 < len(spec.Content); j += 2 {
			switch spec.Content[j].Value {
			case "type":
				v.Type = spec.Content[j+1].Value
			case "value":
				v.node = spec.Content[j+1]
				v.Value = asWritten(spec.Content[j+1])
			}
		}
		if v.node == nil {
			t.Fatalf("var %s has no value", v.Name)
		}
		out = append(out, v)
	}
	return out
}

// asWritten is a value node as the task file spells it: a scalar with its
// quotes, a list of vars as [a, b].
func asWritten(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Style {
		case yaml.SingleQuotedStyle:
			return "'" + strings.ReplaceAll(n.Value, "'", "''") + "'"
		case yaml.DoubleQuotedStyle:
			b, _ := json.Marshal(n.Value)
			return string(b)
		}
		return n.Value
	case yaml.SequenceNode:
		var items []string
		for _, item := range n.Content {
			var v struct{ Value string }
			if item.Decode(&v) == nil && v.Value != "" {
				items = append(items, v.Value)
			} else {
				items = append(items, asWritten(item))
			}
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return n.Value
}

// setVars overrides var values in a task file: name -> value as written in
// YAML (e.g. `'3s'`, `10`).
func setVars(t *testing.T, path string, vs map[string]string) {
	t.Helper()
	f, doc := readTaskFile(t, path)
	seen := map[string]bool{}
	for _, v := range f.vars(t) {
		value, ok := vs[v.Name]
		if !ok {
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(value), &n); err != nil || len(n.Content) != 1 {
			t.Fatalf("%s: %s: %q is not a YAML value: %v", path, v.Name, value, err)
		}
		*v.node = *n.Content[0]
		seen[v.Name] = true
	}
	for name := range vs {
		if !seen[name] {
			t.Fatalf("%s has no var %s", path, name)
		}
	}
	// f.Vars shares its child nodes with doc: the edits are in doc.
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
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
