// Package nativestack runs the native twin of the compose stack: influxd
// v1.8.10 and a slim Telegraf v1.37.2, built from pinned Go modules by
// scripts/stack-bins.sh, on loopback, with the repository's own
// configuration files (influxdb/influxdb.conf, telegraf.conf, telegraf/).
// Tests (internal/stacktest) and the demo (cmd/oasis-demo) use it.
package nativestack

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Credentials of the native stack's InfluxDB users (loopback only).
const (
	Database       = "telegraf"
	AdminUser      = "admin"
	AdminPassword  = "native-admin-password"
	WriterUser     = "telegraf"
	WriterPassword = "native-telegraf-password"
)

// Bins builds the stack's binaries (scripts/stack-bins.sh in repo) and
// returns the directory that holds influxd, telegraf, oasis-telegraf and
// oasis-devnet.
func Bins(repo string) (string, error) {
	cmd := exec.Command("scripts/stack-bins.sh")
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/stack-bins.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// FreePort is a loopback TCP port nobody listens on now.
func FreePort() (int, error) {
	// Below Linux's ephemeral range (32768-60999): the kernel hands ports
	// from that range to port-0 listeners and outgoing connections, so a
	// port chosen there can be taken before the server (re)binds it, as
	// happened to a devnet validator in CI.
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port in 20000-31999")
}

// Process is a child process of the stack (or a devnet validator): in its
// own process group, so nothing it starts outlives it, and killed with its
// parent if the parent dies first.
type Process struct {
	Name string
	args []string
	env  []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, set before done closes
}

// NewProcess prepares bin with args and extra environment, logging to logFile.
func NewProcess(name, logFile string, env []string, bin string, args ...string) *Process {
	return &Process{Name: name, args: append([]string{bin}, args...), env: env, log: logFile}
}

// Start starts the process (again, after Stop).
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.Name)
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { p.err = cmd.Wait(); close(done) }(p.done)
	return nil
}

// Running reports whether the process was started and not stopped.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// PID is the process's ID, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Shutdown stops the process and its children (SIGTERM, SIGKILL after 15 s)
// and reports an unclean end: a non-zero exit, or having to be killed.
// Shutting down a process that is not running is not an error.
func (p *Process) Shutdown() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
		if p.err != nil {
			return fmt.Errorf("%s did not shut down cleanly: %w; see %s", p.Name, p.err, p.log)
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s ignored SIGTERM for 15 s and was killed; see %s", p.Name, p.log)
	}
}

// Stop is Shutdown for callers that only need the process gone.
func (p *Process) Stop() { _ = p.Shutdown() }

// Log is what the process has written so far.
func (p *Process) Log() string {
	raw, _ := os.ReadFile(p.log)
	return string(raw)
}

// Influx is influxd with influxdb/influxdb.conf, its data in a directory of
// its own and its ports on loopback.
type Influx struct {
	*Process
	URL string
}

// NewInflux prepares influxd with data under dir, listening on 127.0.0.1:httpPort.
func NewInflux(repo, bins, dir string, httpPort int) (*Influx, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	rpcPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	env := []string{
		"INFLUXDB_META_DIR=" + filepath.Join(dir, "meta"),
		"INFLUXDB_DATA_DIR=" + filepath.Join(dir, "data"),
		"INFLUXDB_DATA_WAL_DIR=" + filepath.Join(dir, "wal"),
		"INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:" + strconv.Itoa(httpPort),
		"INFLUXDB_BIND_ADDRESS=127.0.0.1:" + strconv.Itoa(rpcPort),
	}
	p := NewProcess("influxd", filepath.Join(dir, "influxd.log"), env,
		filepath.Join(bins, "influxd"), "run", "-config", filepath.Join(repo, "influxdb", "influxdb.conf"))
	return &Influx{Process: p, URL: "http://127.0.0.1:" + strconv.Itoa(httpPort)}, nil
}

// Start starts influxd and waits until it answers /ping.
func (in *Influx) Start() error {
	if err := in.Process.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(in.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("influxd did not answer /ping within 60 s:\n%s", in.Log())
		}
	}
}

// Bootstrap creates the admin user (the first user of an auth-enabled
// InfluxDB needs no credentials), the database and Telegraf's writer user.
func (in *Influx) Bootstrap() error {
	for _, q := range []struct{ user, password, q string }{
		{"", "", "CREATE USER " + AdminUser + " WITH PASSWORD '" + AdminPassword + "' WITH ALL PRIVILEGES"},
		{AdminUser, AdminPassword, "CREATE DATABASE " + Database},
		{AdminUser, AdminPassword, "CREATE USER " + WriterUser + " WITH PASSWORD '" + WriterPassword + "'"},
		{AdminUser, AdminPassword, "GRANT ALL ON " + Database + " TO " + WriterUser},
	} {
		if err := in.query(q.user, q.password, q.q); err != nil {
			return err
		}
	}
	return nil
}

func (in *Influx) query(user, password, q string) error {
	req, err := http.NewRequest(http.MethodPost, in.URL+"/query?"+url.Values{"q": {q}}.Encode(), nil)
	if err != nil {
		return err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influx %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("influx %q: %s %s", q, resp.Status, body)
	}
	return nil
}

// TelegrafOptions point telegraf.conf at a node and an InfluxDB.
type TelegrafOptions struct {
	Socket   string        // the node's internal.sock
	Interval time.Duration // agent interval; also the entity/governance interval
	StateDir string        // oasis_signing's state file directory
	// Extra environment, e.g. OASIS_SIGNING_ALL_VALIDATORS=true.
	Env []string
}

// NewTelegraf prepares telegraf with the repository's telegraf.conf.
func NewTelegraf(repo, bins string, in *Influx, o TelegrafOptions) (*Process, error) {
	healthPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	env := append([]string{
		"TELEGRAF_HEALTH_ADDRESS=tcp://127.0.0.1:" + strconv.Itoa(healthPort),
		"TELEGRAF_INTERVAL=" + o.Interval.String(),
		"OASIS_SLOW_INTERVAL=" + o.Interval.String(),
		"OASIS_TELEGRAF_BIN=" + filepath.Join(bins, "oasis-telegraf"),
		"OASIS_CONFIG_DIR=" + filepath.Join(repo, "telegraf"),
		"OASIS_NODE_SOCKET=unix:" + o.Socket,
		"OASIS_STATE_DIR=" + o.StateDir,
		"INFLUX_URL=" + in.URL,
		"INFLUX_USER=" + WriterUser,
		"INFLUX_PASSWORD=" + WriterPassword,
	}, o.Env...)
	return NewProcess("telegraf", filepath.Join(o.StateDir, "telegraf.log"), env,
		filepath.Join(bins, "telegraf"), "--config", filepath.Join(repo, "telegraf.conf")), nil
}
