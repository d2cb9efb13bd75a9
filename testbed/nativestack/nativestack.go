// Package nativestack runs the native twin of the compose stack: influxd
// v1.8.10 and a slim Telegraf v1.37.2, built from pinned Go modules by
// scripts/stack-bins.sh, on loopback, with the repository's own
// configuration files (influxdb/influxdb.conf, telegraf.conf, telegraf/).
// Tests (testbed/stacktest) and the demo (testbed/cmd/oasis-demo) use it.
package nativestack

import (
	"bytes"
	"fmt"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Credentials of the native stack's InfluxDB users (loopback only).
const (
	Database       = "telegraf"
	AdminUser      = "admin"
	AdminPassword  = "native-admin-password"
	WriterUser     = "telegraf"
	WriterPassword = "native-telegraf-password"
	// Read-only users, as influxdb/oasis-setup.sh makes them.
	GrafanaPassword   = "native-grafana-password"
	KapacitorUser     = "kapacitor"
	KapacitorPassword = "native-kapacitor-password"
	BotUser           = "bot"
	BotPassword       = "native-bot-password"
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

// Influx is influxd with influxdb/influxdb.conf, its data in a directory of
// its own and its ports on loopback.
type Influx struct {
	*proc.Process
	URL string
	// KapacitorURL is where the subscription sends every point: a free
	// loopback port, where NewKapacitor's oasis-kapacitord listens
	// (nothing does unless a test or the demo starts it).
	KapacitorURL string
	// Dir holds its data (meta, data, wal).
	Dir string
	// RPCAddress is its backup and restore service (influxd backup -host).
	RPCAddress string
	repo       string
}

// NewInflux prepares influxd with data under dir, listening on
// 127.0.0.1:httpPort; settings adds INFLUXDB_* overrides (a benchmark's
// faster compaction).
func NewInflux(repo, bins, dir string, httpPort int, settings ...string) (*Influx, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	rpcPort, err := proc.FreePort()
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
	env = append(env, settings...)
	p := proc.New("influxd", filepath.Join(dir, "influxd.log"), env,
		filepath.Join(bins, "influxd"), "run", "-config", filepath.Join(repo, "influxdb", "influxdb.conf"))
	kapacitorPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	return &Influx{Process: p, URL: "http://127.0.0.1:" + strconv.Itoa(httpPort),
		KapacitorURL: "http://127.0.0.1:" + strconv.Itoa(kapacitorPort), Dir: dir, repo: repo,
		RPCAddress: "127.0.0.1:" + strconv.Itoa(rpcPort)}, nil
}

// Start starts influxd and waits until it answers /ping.
func (in *Influx) Start() error {
	if err := in.Process.Start(); err != nil {
		return err
	}
	exited := in.Process.Exited()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("influxd exited at start:\n%s", in.Log())
		default:
		}
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

// Bootstrap runs the shipped influxdb/oasis-setup.sh against this InfluxDB,
// as the native install does: the database, the admin, Telegraf's writer,
// Grafana's and Kapacitor's read-only users and Kapacitor's subscription.
func (in *Influx) Bootstrap() error { return in.Setup() }

// Setup runs influxdb/oasis-setup.sh as Bootstrap does, with more of its
// settings (e.g. OASIS_ALERT_FEED=direct); it may run again, as the
// operator may.
func (in *Influx) Setup(settings ...string) error {
	cmd := exec.Command("sh", filepath.Join(in.repo, "influxdb", "oasis-setup.sh"))
	cmd.Env = append(os.Environ(),
		"INFLUX_URL="+in.URL,
		"INFLUX_DB="+Database,
		"KAPACITOR_URL="+in.KapacitorURL,
		"INFLUXDB_ADMIN_USER="+AdminUser,
		"INFLUXDB_ADMIN_PASSWORD="+AdminPassword,
		"INFLUX_PASSWORD="+WriterPassword,
		"GRAFANA_INFLUX_PASSWORD="+GrafanaPassword,
		"KAPACITOR_INFLUX_PASSWORD="+KapacitorPassword,
		"BOT_INFLUX_PASSWORD="+BotPassword,
	)
	cmd.Env = append(cmd.Env, settings...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("influxdb/oasis-setup.sh: %v\n%s", err, out)
	}
	return nil
}

// Query runs one InfluxQL statement as user and returns InfluxDB's JSON
// answer; an HTTP or statement error is an error.
func (in *Influx) Query(user, password, q string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, in.URL+"/query?"+url.Values{"q": {q}, "db": {Database}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influx %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		return body, fmt.Errorf("influx %q as %s: %s %s", q, user, resp.Status, body)
	}
	return body, nil
}

// TelegrafOptions point telegraf.conf at a node and an InfluxDB.
type TelegrafOptions struct {
	Socket   string        // the node's internal.sock
	Interval time.Duration // agent interval; also the entity/governance interval
	StateDir string        // oasis_signing's state file directory
	// Extra environment, e.g. OASIS_SIGNING_ALL_VALIDATORS=true.
	Env []string
	// ConfigFile replaces the repository's telegraf.conf (a test's edited
	// copy of it); empty: telegraf.conf. telegraf-native.conf (the host
	// inputs of a native install) is loaded after it either way.
	ConfigFile string
	// HealthPort is where outputs.health listens; 0: a free port.
	HealthPort int
	// NodesDir: more nodes to read, one Telegraf config file each
	// (oasis-telegraf -new-node), loaded with --config-directory as the
	// native install and the compose stack load telegraf/nodes.
	NodesDir string
}

// NewTelegraf prepares telegraf with the repository's telegraf.conf and
// telegraf-native.conf, as the native install runs it.
func NewTelegraf(repo, bins string, in *Influx, o TelegrafOptions) (*proc.Process, error) {
	healthPort := o.HealthPort
	if healthPort == 0 {
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		healthPort = port
	}
	// The alert history's listener: a free port unless o.Env sets one
	// (a test that runs Kapacitor points its history endpoint there).
	historyPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	config := o.ConfigFile
	if config == "" {
		config = filepath.Join(repo, "telegraf.conf")
	}
	env := append([]string{
		"TELEGRAF_HEALTH_ADDRESS=tcp://127.0.0.1:" + strconv.Itoa(healthPort),
		"TELEGRAF_INTERVAL=" + o.Interval.String(),
		"OASIS_SLOW_INTERVAL=" + o.Interval.String(),
		"OASIS_TELEGRAF_BIN=" + filepath.Join(bins, "oasis-telegraf"),
		"OASIS_CONFIG_DIR=" + filepath.Join(repo, "telegraf"),
		"OASIS_NODE_SOCKET=unix:" + o.Socket,
		"OASIS_STATE_DIR=" + o.StateDir,
		// The disk buffer (telegraf.conf) in the state directory, as the
		// native install has it.
		"OASIS_BUFFER_DIR=" + filepath.Join(o.StateDir, "buffer"),
		"INFLUX_URL=" + in.URL,
		"INFLUX_USER=" + WriterUser,
		"INFLUX_PASSWORD=" + WriterPassword,
		"OASIS_ALERT_HISTORY_ADDRESS=127.0.0.1:" + strconv.Itoa(historyPort),
	}, o.Env...)
	// --strict-env-handling, as the compose stack and the native install
	// run it: an environment value is a string's contents, never TOML.
	args := []string{"--strict-env-handling", "--config", config, "--config", filepath.Join(repo, "telegraf-native.conf")}
	if o.NodesDir != "" {
		args = append(args, "--config-directory", o.NodesDir)
	}
	return proc.New("telegraf", filepath.Join(o.StateDir, "telegraf.log"), env,
		filepath.Join(bins, "telegraf"), args...), nil
}

// CheckBuffer runs oasis-telegraf -check-buffer on the disk buffer of a
// Telegraf whose state is in stateDir, as the native unit's ExecStartPre
// and the compose command do before each start, and returns what it said.
func CheckBuffer(bins, stateDir string) (string, error) {
	out, err := exec.Command(filepath.Join(bins, "oasis-telegraf"), "-check-buffer", filepath.Join(stateDir, "buffer")).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("oasis-telegraf -check-buffer: %v\n%s", err, out)
	}
	return string(out), nil
}

// Kapacitor is oasis-kapacitord (alerting/cmd/oasis-kapacitord): the
// alerting engine with the repository's kapacitor.conf and load directory,
// listening where in's subscription sends every point.
type Kapacitor struct {
	*proc.Process
	URL string
}

// NewKapacitor prepares oasis-kapacitord for in, its state under dir; env
// adds KAPACITOR_* settings (e.g. KAPACITOR_HTTPPOST_0_URL, where every
// alert is posted).
func NewKapacitor(repo, bins string, in *Influx, dir string, env []string) (*Kapacitor, error) {
	u, err := url.Parse(in.KapacitorURL)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := proc.New("oasis-kapacitord", filepath.Join(dir, "kapacitord.log"), env,
		filepath.Join(bins, "oasis-kapacitord"),
		"-config", filepath.Join(repo, "kapacitor", "kapacitor.conf"),
		"-load-dir", filepath.Join(repo, "kapacitor", "load"),
		"-data-dir", filepath.Join(dir, "data"),
		"-http", u.Host)
	return &Kapacitor{Process: p, URL: in.KapacitorURL}, nil
}

// Start starts oasis-kapacitord and waits until it says every task runs
// (its API answers /ping a little earlier, before the load directory is read).
func (k *Kapacitor) Start() error {
	if err := k.Process.Start(); err != nil {
		return err
	}
	exited := k.Process.Exited()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("oasis-kapacitord exited at start:\n%s", k.Log())
		default:
		}
		if strings.Contains(k.Log(), "oasis-kapacitord: listening on") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("oasis-kapacitord did not start its tasks within 60 s:\n%s", k.Log())
		}
	}
}
