package engine

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const composeFile = "../../docker-compose.yml"

// exampleEnv is .env.example with the required passwords filled in: what a
// newcomer's .env looks like before switching any channel on.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	vars, err := ReadDotEnv("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		if v == "" && strings.HasSuffix(k, "PASSWORD") && k != "SMTP_PASSWORD" {
			vars[k] = "test-password"
		}
	}
	return vars
}

// TestShippedLoadDirLoads starts the engine as the compose stack starts
// kapacitord (its environment from docker-compose.yml and .env.example, the
// load directory it mounts): Kapacitor's load service must accept every
// template, task and handler file, and every task must be running. One file
// it rejects would stop kapacitord from starting.
func TestShippedLoadDirLoads(t *testing.T) {
	cfg, err := FromCompose(composeFile, exampleEnv(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatalf("kapacitord would not start: %v\n%s", err, e.Log())
	}
	defer e.Close()

	files, _ := filepath.Glob("../../kapacitor/load/tasks/*")
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)))
	}
	sort.Strings(want)
	if len(want) < 20 {
		t.Fatalf("only %d tasks in kapacitor/load/tasks", len(want))
	}
	for _, id := range want {
		if !e.TaskMaster.IsExecuting(id) {
			t.Errorf("task %s is not executing", id)
		}
	}
	if t.Failed() {
		t.Log(e.Log())
	}
}

// TestComposeSetsRealSettings: every KAPACITOR_* variable docker-compose.yml
// sets names a real kapacitord setting; a misspelt one would be ignored by
// kapacitord without a word. The influxdb section is not part of Config
// (the engine does not subscribe to InfluxDB), so it is listed here.
func TestComposeSetsRealSettings(t *testing.T) {
	env, err := ComposeEnvironment(composeFile, "kapacitor", exampleEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromCompose(composeFile, exampleEnv(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	names := cfg.EnvNames()
	outside := map[string]bool{
		"KAPACITOR_HOSTNAME": true, "KAPACITOR_LOAD_ENABLED": true, "KAPACITOR_LOAD_DIR": true,
		"KAPACITOR_INFLUXDB_0_URLS_0": true, "KAPACITOR_INFLUXDB_0_USERNAME": true, "KAPACITOR_INFLUXDB_0_PASSWORD": true,
	}
	for k := range env {
		if strings.HasPrefix(k, "KAPACITOR_") && !names[k] && !outside[k] {
			t.Errorf("docker-compose.yml sets %s, which is no kapacitord setting", k)
		}
	}
	for _, k := range []string{"KAPACITOR_LOAD_ENABLED", "KAPACITOR_LOAD_DIR", "KAPACITOR_HOSTNAME"} {
		if !names[k] {
			t.Errorf("%s: expected to be a setting", k)
		}
	}
}
