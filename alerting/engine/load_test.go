package engine

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	composeFile = "../../docker-compose.yml"
	envExample  = "../../.env.example"
)

// newcomerEnv is what a newcomer sets on top of .env.example before
// switching any channel on: a value for every variable docker-compose.yml
// requires and .env.example leaves empty (the passwords, the socket's
// group).
func newcomerEnv(t *testing.T) map[string]string {
	t.Helper()
	missing, err := MissingRequired(composeFile, envExample)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) == 0 {
		t.Fatal("docker-compose.yml requires no variable .env.example leaves empty: the passwords are required")
	}
	vars := map[string]string{}
	for _, k := range missing {
		vars[k] = "/test-" + strings.ToLower(k) // a path too, for the bind mounts
	}
	return vars
}

// TestShippedLoadDirLoads starts the engine as the compose stack starts
// kapacitord (its environment from docker-compose.yml and .env.example, the
// load directory it mounts): Kapacitor's load service must accept every
// template, task and handler file, and every task must be running. One file
// it rejects would stop kapacitord from starting.
func TestShippedLoadDirLoads(t *testing.T) {
	cfg, err := FromCompose(composeFile, envExample, newcomerEnv(t), t.TempDir())
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
	env, err := ComposeEnvironment(composeFile, envExample, newcomerEnv(t), "kapacitor")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromCompose(composeFile, envExample, newcomerEnv(t), t.TempDir())
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

// TestComposeEnvironment: the kapacitor service's environment is what
// docker compose gives it: .env.example's values, a shell variable winning
// over the file, defaults for what .env leaves empty, and an error that
// names a required variable left empty.
func TestComposeEnvironment(t *testing.T) {
	vars := newcomerEnv(t)
	vars["TELEGRAM_ENABLED"] = "true"
	env, err := ComposeEnvironment(composeFile, envExample, vars, "kapacitor")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"KAPACITOR_TELEGRAM_ENABLED":    "true",                            // the shell's value
		"KAPACITOR_SLACK_0_ENABLED":     "false",                           // .env.example's
		"KAPACITOR_SMTP_PORT":           "587",                             // .env.example's
		"KAPACITOR_SMTP_HOST":           "localhost",                       // ${SMTP_HOST:-localhost}, empty in .env
		"KAPACITOR_INFLUXDB_0_PASSWORD": vars["KAPACITOR_INFLUX_PASSWORD"], // required; its own read-only user
		"KAPACITOR_LOAD_DIR":            "/etc/kapacitor/load",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	delete(vars, "KAPACITOR_INFLUX_PASSWORD")
	_, err = ComposeEnvironment(composeFile, envExample, vars, "kapacitor")
	if err == nil || !strings.Contains(err.Error(), "KAPACITOR_INFLUX_PASSWORD") {
		t.Errorf("no KAPACITOR_INFLUX_PASSWORD: got %v, want an error naming it", err)
	}
}
