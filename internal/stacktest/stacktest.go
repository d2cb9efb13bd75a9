// Package stacktest runs the native twin of the compose stack for tests:
// influxd v1.8.10 and a slim Telegraf v1.37.2, built from pinned Go modules
// by scripts/stack-bins.sh, started on loopback with the repository's own
// configuration files (influxdb/influxdb.conf, telegraf.conf, telegraf/).
// A missing prerequisite fails the test; it never skips.
package stacktest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
)

// Credentials of the native stack's InfluxDB users (loopback only, for tests).
const (
	Database       = "telegraf"
	AdminUser      = "admin"
	AdminPassword  = "admin-test-password"
	WriterUser     = "telegraf"
	WriterPassword = "telegraf-test-password"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Bins builds (once) and returns the directory holding influxd, telegraf,
// oasis-telegraf and oasis-devnet.
func Bins(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		cmd := exec.Command("scripts/stack-bins.sh")
		cmd.Dir = repoRoot()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("scripts/stack-bins.sh: %v\n%s", err, stderr.String())
			return
		}
		binDir = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a stack component running as a child process.
type Process struct {
	t    testing.TB
	name string
	args []string
	env  []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newProcess(t testing.TB, name, bin, logFile string, env []string, args ...string) *Process {
	p := &Process{t: t, name: name, args: append([]string{bin}, args...), env: env, log: logFile}
	t.Cleanup(p.Stop)
	return p
}

// Start starts the process (again, after Stop).
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
}

// Stop stops the process (SIGTERM, then SIGKILL after 15 s) and its children.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Log is what the process has written so far.
func (p *Process) Log() string {
	raw, _ := os.ReadFile(p.log)
	return string(raw)
}

// Influx is a running influxd.
type Influx struct {
	*Process
	URL string
}

// StartInflux starts influxd with influxdb/influxdb.conf, its data in a
// temporary directory and its ports on loopback, and creates the database
// and users the stack uses (auth is on).
func StartInflux(t testing.TB) *Influx {
	t.Helper()
	bins := Bins(t)
	dir := t.TempDir()
	httpPort, rpcPort := freePort(t), freePort(t)
	env := []string{
		"INFLUXDB_META_DIR=" + filepath.Join(dir, "meta"),
		"INFLUXDB_DATA_DIR=" + filepath.Join(dir, "data"),
		"INFLUXDB_DATA_WAL_DIR=" + filepath.Join(dir, "wal"),
		"INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:" + strconv.Itoa(httpPort),
		"INFLUXDB_BIND_ADDRESS=127.0.0.1:" + strconv.Itoa(rpcPort),
	}
	p := newProcess(t, "influxd", filepath.Join(bins, "influxd"), filepath.Join(dir, "influxd.log"), env,
		"run", "-config", filepath.Join(repoRoot(), "influxdb", "influxdb.conf"))
	in := &Influx{Process: p, URL: "http://127.0.0.1:" + strconv.Itoa(httpPort)}
	in.Start()
	in.query(t, "", "", "CREATE USER "+AdminUser+" WITH PASSWORD '"+AdminPassword+"' WITH ALL PRIVILEGES")
	in.query(t, AdminUser, AdminPassword, "CREATE DATABASE "+Database)
	in.query(t, AdminUser, AdminPassword, "CREATE USER "+WriterUser+" WITH PASSWORD '"+WriterPassword+"'")
	in.query(t, AdminUser, AdminPassword, "GRANT ALL ON "+Database+" TO "+WriterUser)
	return in
}

// Start starts influxd and waits until it answers /ping.
func (in *Influx) Start() {
	in.t.Helper()
	in.Process.Start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(in.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("influxd did not answer /ping within 60 s:\n%s", in.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (in *Influx) query(t testing.TB, user, password, q string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.URL+"/query?"+url.Values{"q": {q}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("influx %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		t.Fatalf("influx %q: %s %s", q, resp.Status, body)
	}
}

// Client is an influxdb-client-go/v2 client as the field uses it against
// InfluxDB 1.8: token "user:password", bucket "database/retention".
func (in *Influx) Client() influxdb2.Client {
	c := influxdb2.NewClient(in.URL, AdminUser+":"+AdminPassword)
	in.t.Cleanup(c.Close)
	return c
}

// Flux runs a Flux query and returns its records' values.
func (in *Influx) Flux(t testing.TB, query string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := in.Client().QueryAPI("").Query(ctx, query)
	if err != nil {
		t.Fatalf("flux query failed: %v\n%s", err, query)
	}
	var rows []map[string]any
	for res.Next() {
		rows = append(rows, res.Record().Values())
	}
	if res.Err() != nil {
		t.Fatalf("flux query: %v", res.Err())
	}
	return rows
}

// Telegraf is a running telegraf with the repository's telegraf.conf.
type Telegraf struct{ *Process }

// StartTelegraf runs telegraf with the repository's telegraf.conf against
// the node socket and InfluxDB given, gathering every interval.
func StartTelegraf(t testing.TB, in *Influx, socket string, interval time.Duration, extraEnv ...string) *Telegraf {
	t.Helper()
	bins := Bins(t)
	dir := t.TempDir()
	env := append([]string{
		"TELEGRAF_INTERVAL=" + interval.String(),
		"OASIS_TELEGRAF_BIN=" + filepath.Join(bins, "oasis-telegraf"),
		"OASIS_CONFIG_DIR=" + filepath.Join(repoRoot(), "telegraf"),
		"OASIS_NODE_SOCKET=unix:" + socket,
		"OASIS_STATE_DIR=" + dir,
		"INFLUX_URL=" + in.URL,
		"INFLUX_USER=" + WriterUser,
		"INFLUX_PASSWORD=" + WriterPassword,
		"HOST_MOUNT_PREFIX=",
	}, extraEnv...)
	p := newProcess(t, "telegraf", filepath.Join(bins, "telegraf"), filepath.Join(dir, "telegraf.log"), env,
		"--config", filepath.Join(repoRoot(), "telegraf.conf"))
	p.Start()
	return &Telegraf{p}
}
