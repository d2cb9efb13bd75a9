package hostaccess

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// The native install as docs/install-native.md gives it, on real
// processes: `make install` (scripts/install-native.sh) into a root of its
// own, InfluxDB set up by the installed oasis-setup.sh with the passwords
// the install made, and Telegraf started the way systemd starts the
// vendor's unit with our drop-in (its ExecStart, EnvironmentFile,
// SupplementaryGroups and StateDirectory, as a non-root user) against a
// validator that runs as its own user with its socket in the monitoring
// group's directory. Data must reach InfluxDB, readable by Grafana's and
// Kapacitor's users with the passwords in their own env files.
func TestNativeInstall(t *testing.T) {
	needRoot(t)
	bins := stacktest.Bins(t)
	monitorGID := group(t, "omc-test-monitor")
	nodeUser := account(t, "omc-test-node")
	telegrafUser := account(t, "omc-test-telegraf") // groups come from the drop-in

	shared, _, net := operatorsLayout(t, nodeUser, monitorGID)
	v := net.Validators[0]

	// Kapacitor's write endpoint, as InfluxDB's subscription sees it: what
	// arrives, by db and rp.
	var received sync.Map // "path?db=...&rp=... measurement" -> true
	kapacitor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if m, _, ok := strings.Cut(line, ","); ok {
				received.Store(r.URL.Path+"?db="+r.URL.Query().Get("db")+"&rp="+r.URL.Query().Get("rp")+" "+m, true)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(kapacitor.Close)

	port, err := proc.FreePort()
	require.NoError(t, err)
	in, err := nativestack.NewInflux(devnettest.RepoRoot(), bins, filepath.Join(shared, "influxdb"), port)
	require.NoError(t, err)
	t.Cleanup(in.Stop)
	require.NoError(t, in.Start())

	// make install, every path under the test's root (systemd's
	// StateDirectory must be under /var/lib).
	root := filepath.Join(shared, "root")
	stateDir := fmt.Sprintf("/var/lib/omc-test-telegraf-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	conf := filepath.Join(root, "etc/oasis-mission-control")
	share := filepath.Join(root, "usr/local/share/oasis-mission-control")
	systemd := filepath.Join(root, "etc/systemd/system")
	install := func() string {
		cmd := exec.Command("make", "install",
			"PREFIX="+filepath.Join(root, "usr/local"), "CONFDIR="+conf, "SYSTEMDDIR="+systemd,
			"SOCKET=unix:"+v.Socket, "MONITOR_GROUP=omc-test-monitor", "STATEDIR="+stateDir,
			"INFLUX_URL="+in.URL, "KAPACITOR_URL="+kapacitor.URL, "TELEGRAF_BIN="+filepath.Join(bins, "telegraf"),
			"OASIS_TELEGRAF="+filepath.Join(bins, "oasis-telegraf"), "OASIS_BOT="+filepath.Join(bins, "oasis-bot"))
		cmd.Dir = devnettest.RepoRoot()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "make install:\n%s", out)
		return string(out)
	}
	install()

	// Secrets: root only (systemd reads EnvironmentFile as root).
	for _, f := range []string{"influxdb-setup.env", "influxdb.env", "telegraf.env", "kapacitor.env", "grafana.env", "bot.env"} {
		requireOwned(t, filepath.Join(conf, f), 0, 0o600)
	}
	setup := readEnvFile(t, filepath.Join(conf, "influxdb-setup.env"))

	// Step 3 of the doc: InfluxDB's users and subscription, as written.
	cmd := exec.Command("sh", "-c", "set -a; . "+filepath.Join(conf, "influxdb-setup.env")+"; sh "+filepath.Join(share, "oasis-setup.sh"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "oasis-setup.sh:\n%s", out)

	// Telegraf as systemd would start it: the drop-in's ExecStart, with
	// the vendor unit's User (here omc-test-telegraf), the drop-in's
	// SupplementaryGroups, EnvironmentFile and StateDirectory.
	unit := readDropIn(t, filepath.Join(systemd, "telegraf.service.d/oasis-mission-control.conf"))
	require.Equal(t, []string{"omc-test-monitor"}, unit["SupplementaryGroups"])
	require.Equal(t, []string{strings.TrimPrefix(stateDir, "/var/lib/")}, unit["StateDirectory"])
	require.Equal(t, []string{"", filepath.Join(bins, "telegraf") + " --strict-env-handling --config " + filepath.Join(conf, "telegraf.conf") +
		" --config " + filepath.Join(conf, "telegraf-native.conf") + " --config-directory " + filepath.Join(conf, "oasis", "nodes") + " $TELEGRAF_OPTS"},
		unit["ExecStart"], "ExecStart is reset, then ours")
	nodes, err := os.Stat(filepath.Join(conf, "oasis", "nodes"))
	require.NoError(t, err, "the directory of more nodes is made")
	require.True(t, nodes.IsDir())
	g, err := user.LookupGroup(unit["SupplementaryGroups"][0])
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(stateDir, 0o700))
	require.NoError(t, os.Chown(stateDir, int(telegrafUser.Uid), int(telegrafUser.Gid)))
	env := readEnvFile(t, unit["EnvironmentFile"][0])
	require.Equal(t, stateDir, env["OASIS_STATE_DIR"])
	require.Equal(t, setup["INFLUX_PASSWORD"], env["INFLUX_PASSWORD"])
	healthPort, err := proc.FreePort()
	require.NoError(t, err)
	var environ []string
	for k, val := range env {
		environ = append(environ, k+"="+val)
	}
	environ = append(environ, "PATH=/usr/bin:/bin",
		// Not the installed values: the devnet's process name, and a free
		// port for the health endpoint on a machine that runs other tests.
		"OASIS_NODE_PROCESS=oasis-devnet", fmt.Sprintf("TELEGRAF_HEALTH_ADDRESS=tcp://127.0.0.1:%d", healthPort))
	cred := &syscall.Credential{Uid: telegrafUser.Uid, Gid: telegrafUser.Gid, Groups: []uint32{parseID(t, g.Gid)}}

	// Step 5 of the doc: -check as the service's user, groups and
	// environment (systemd-run there) passes every check, the write to
	// InfluxDB as Telegraf's user included.
	checked := runAsWith(t, cred, environ, env["OASIS_TELEGRAF_BIN"], "-config", filepath.Join(env["OASIS_CONFIG_DIR"], "oasis_node.conf"), "-check")
	t.Logf("-check:\n%s", checked.stdout)
	require.Equal(t, 0, checked.code, "-check as the installed service:\n%s%s", checked.stdout, checked.stderr)
	require.Contains(t, checked.stdout, "all checks passed")
	require.Regexp(t, `(?m)^ok\s+influxdb`, checked.stdout, "-check wrote to InfluxDB")

	// ExecStartPre, as the service's user: the disk buffer's check, on
	// the buffer directory telegraf.env gives Telegraf (none yet).
	bufferDir := filepath.Join(stateDir, "buffer")
	require.Equal(t, bufferDir, env["OASIS_BUFFER_DIR"])
	require.Equal(t, "disk", env["OASIS_BUFFER_STRATEGY"])
	// The check reads the same setting Telegraf does (systemd expands it
	// from the EnvironmentFile).
	require.Equal(t, []string{env["OASIS_TELEGRAF_BIN"] + " -check-buffer ${OASIS_BUFFER_DIR}"}, unit["ExecStartPre"])
	pre := strings.Fields(os.Expand(unit["ExecStartPre"][0], func(k string) string { return env[k] }))
	prechecked := runAsWith(t, cred, environ, pre[0], pre[1:]...)
	require.Equal(t, 0, prechecked.code, "ExecStartPre:\n%s%s", prechecked.stdout, prechecked.stderr)
	require.Contains(t, prechecked.stderr, "no buffer yet")

	argv := strings.Fields(strings.TrimSuffix(unit["ExecStart"][1], " $TELEGRAF_OPTS"))
	logPath := filepath.Join(shared, "telegraf.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	tg := exec.Command(argv[0], argv[1:]...)
	tg.Env = environ
	tg.Stdout, tg.Stderr = logFile, logFile
	tg.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	require.NoError(t, tg.Start())
	t.Cleanup(func() { _ = tg.Process.Kill(); _ = tg.Wait() })

	// Every input reaches InfluxDB, read back as Grafana's user with the
	// password from grafana.env.
	grafana := readEnvFile(t, filepath.Join(conf, "grafana.env"))
	series := func(q string) string {
		body, err := in.Query("grafana", grafana["GRAFANA_INFLUX_PASSWORD"], q)
		if err != nil {
			return err.Error()
		}
		return string(body)
	}
	for _, m := range []string{"oasis_input", "oasis_node", "oasis_signing", "oasis_entity", "oasis_governance", "cpu", "mem", "disk", "diskio", "net", "system", "processes", "procstat"} {
		wait.Value(t, func() (bool, string) {
			got := series(`SELECT count(*) FROM "` + m + `" WHERE time > now() - 5m`)
			return strings.Contains(got, `"series"`), got
		}, 90*time.Second, time.Second, m+" points from the installed Telegraf (log: "+logPath+")")
	}
	// A clean install logs no errors.
	logged, err := os.ReadFile(logPath)
	require.NoError(t, err)
	for _, line := range strings.Split(string(logged), "\n") {
		require.NotContains(t, line, " E! ", "the installed Telegraf logged an error:\n%s", logged)
	}
	// Telegraf keeps its disk buffer where the check looks, as its user.
	buffers, err := os.ReadDir(bufferDir)
	require.NoError(t, err, "Telegraf's disk buffer")
	require.NotEmpty(t, buffers)
	requireOwned(t, filepath.Join(bufferDir, buffers[0].Name()), telegrafUser.Uid, os.ModeDir|0o750)
	prechecked = runAsWith(t, cred, environ, pre[0], pre[1:]...)
	require.Equal(t, 0, prechecked.code, "ExecStartPre at a restart:\n%s%s", prechecked.stdout, prechecked.stderr)
	require.Contains(t, prechecked.stderr, "intact")

	got := series(`SELECT last("up") FROM "oasis_node" GROUP BY "node_id"`)
	require.Contains(t, got, v.NodeID)
	require.Regexp(t, `"values":\[\["[^"]+",1\]\]`, got, "the node is up, read over the installed socket path")

	// Kapacitor's password from kapacitor.env: reads, can't write; the
	// subscription points at the installed KAPACITOR_URL.
	kap := readEnvFile(t, filepath.Join(conf, "kapacitor.env"))
	require.Equal(t, "kapacitor", kap["KAPACITOR_INFLUXDB_0_USERNAME"])
	require.Equal(t, in.URL, kap["KAPACITOR_INFLUXDB_0_URLS_0"])
	_, err = in.Query("kapacitor", kap["KAPACITOR_INFLUXDB_0_PASSWORD"], `SELECT count("up") FROM "oasis_node"`)
	require.NoError(t, err)
	_, err = in.Query("kapacitor", kap["KAPACITOR_INFLUXDB_0_PASSWORD"], `DROP MEASUREMENT "oasis_node"`)
	require.ErrorContains(t, err, "requires")
	subs, err := in.Query(nativestack.AdminUser, setup["INFLUXDB_ADMIN_PASSWORD"], "SHOW SUBSCRIPTIONS")
	require.NoError(t, err)
	require.Contains(t, string(subs), `"oasis_kapacitor","ANY",["`+kapacitor.URL+`"]`)
	// And it delivers: Telegraf's points reach Kapacitor's write endpoint
	// with the database and retention policy the stream tasks select.
	wait.Value(t, func() (bool, string) {
		_, ok := received.Load("/write?db=telegraf&rp=autogen oasis_node")
		var got []string
		received.Range(func(k, _ any) bool { got = append(got, k.(string)); return true })
		return ok, strings.Join(got, "; ")
	}, 30*time.Second, 200*time.Millisecond, "oasis_node points at Kapacitor's /write?db=telegraf&rp=autogen through the subscription")
	require.Equal(t, filepath.Join(conf, "kapacitor/load"), kap["KAPACITOR_LOAD_DIR"])
	// Kapacitor's API (no auth, .exec()) on the loopback address the
	// subscription uses, not on every interface.
	require.Equal(t, strings.TrimPrefix(kapacitor.URL, "http://"), kap["KAPACITOR_HTTP_BIND_ADDRESS"])
	require.FileExists(t, filepath.Join(conf, "kapacitor/load/tasks/oasis_node_down.yaml"))

	// kapacitor.env offers every Kapacitor setting the compose stack sets,
	// so docs/alerts.md's channels work the same natively.
	composeKeys := composeKapacitorKeys(t)
	for _, k := range composeKeys {
		_, ok := kap[k]
		require.True(t, ok, "the compose stack sets %s for Kapacitor; kapacitor.env does not offer it", k)
	}

	// The chat bot: its unit is installed, not enabled; its read-only
	// user reads and can't write; unconfigured, it says what is missing.
	botUnit := readDropIn(t, filepath.Join(systemd, "oasis-bot.service"))
	require.Equal(t, []string{filepath.Join(root, "usr/local/bin/oasis-bot")}, botUnit["ExecStart"])
	require.Equal(t, []string{filepath.Join(conf, "bot.env")}, botUnit["EnvironmentFile"])
	require.Equal(t, []string{"yes"}, botUnit["DynamicUser"])
	botEnv := readEnvFile(t, filepath.Join(conf, "bot.env"))
	require.Equal(t, setup["BOT_INFLUX_PASSWORD"], botEnv["BOT_INFLUX_PASSWORD"])
	require.Len(t, botEnv["BOT_INFLUX_PASSWORD"], 48)
	require.Equal(t, in.URL, botEnv["INFLUX_URL"])
	require.Equal(t, kapacitor.URL, botEnv["KAPACITOR_URL"])
	_, err = in.Query("bot", botEnv["BOT_INFLUX_PASSWORD"], `SELECT count("up") FROM "oasis_node"`)
	require.NoError(t, err)
	_, err = in.Query("bot", botEnv["BOT_INFLUX_PASSWORD"], `DROP MEASUREMENT "oasis_node"`)
	require.ErrorContains(t, err, "requires")
	botCmd := exec.Command(botUnit["ExecStart"][0])
	botCmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, val := range botEnv {
		botCmd.Env = append(botCmd.Env, k+"="+val)
	}
	botOut, err := botCmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(botOut), "TELEGRAM_BOT_TOKEN is empty", "the unconfigured bot says what it needs")

	// The other drop-ins point at files the install made.
	for unitName, key := range map[string]string{"kapacitor": "EnvironmentFile", "influxdb": "EnvironmentFile", "grafana-server": "EnvironmentFile"} {
		d := readDropIn(t, filepath.Join(systemd, unitName+".service.d/oasis-mission-control.conf"))
		require.FileExists(t, d[key][0], unitName)
	}
	ds, err := os.ReadFile(filepath.Join(conf, "grafana/provisioning/datasources/influxdb.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(ds), "url: "+in.URL)
	require.Equal(t, filepath.Join(conf, "grafana/provisioning"), grafana["GF_PATHS_PROVISIONING"])
	require.Len(t, grafana["GF_SECURITY_ADMIN_PASSWORD"], 48, "Grafana's admin gets a random password, not admin/admin")
	require.Equal(t, "127.0.0.1", grafana["GF_SERVER_HTTP_ADDR"])
	influxEnv := readEnvFile(t, filepath.Join(conf, "influxdb.env"))
	require.Equal(t, "true", influxEnv["INFLUXDB_HTTP_AUTH_ENABLED"])
	require.Equal(t, strings.TrimPrefix(in.URL, "http://"), influxEnv["INFLUXDB_HTTP_BIND_ADDRESS"])

	// A second make install keeps the env files (InfluxDB has their
	// passwords) and replaces the configuration. Settings a release adds
	// are appended to a kept file (here: as if telegraf.env came from a
	// release without the disk buffer).
	tgEnvPath := filepath.Join(conf, "telegraf.env")
	raw, err := os.ReadFile(tgEnvPath)
	require.NoError(t, err)
	var older []string
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "OASIS_BUFFER_") {
			older = append(older, line)
		}
	}
	require.NoError(t, os.WriteFile(tgEnvPath, []byte(strings.Join(older, "\n")), 0o600))
	out2 := install()
	require.Contains(t, out2, "kept "+filepath.Join(conf, "kapacitor.env")+"\n")
	require.Contains(t, out2, "kept "+tgEnvPath+", added OASIS_BUFFER_STRATEGY OASIS_BUFFER_DIR")
	upgraded := readEnvFile(t, tgEnvPath)
	require.Equal(t, bufferDir, upgraded["OASIS_BUFFER_DIR"])
	require.Equal(t, "disk", upgraded["OASIS_BUFFER_STRATEGY"])
	require.Equal(t, env["INFLUX_PASSWORD"], upgraded["INFLUX_PASSWORD"], "the kept password")
	require.Len(t, upgraded, len(env), "nothing else added")
	out3 := install()
	require.Contains(t, out3, "kept "+tgEnvPath+"\n", "added once")
	// An install from before the bot: the setup file gets the bot's
	// password, the same as the new bot.env's.
	setupPath := filepath.Join(conf, "influxdb-setup.env")
	raw, err = os.ReadFile(setupPath)
	require.NoError(t, err)
	var noBot []string
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "BOT_INFLUX_PASSWORD=") && !strings.Contains(line, "chat bot") {
			noBot = append(noBot, line)
		}
	}
	require.NoError(t, os.WriteFile(setupPath, []byte(strings.Join(noBot, "\n")), 0o600))
	require.NoError(t, os.Remove(filepath.Join(conf, "bot.env")))
	out4 := install()
	require.Contains(t, out4, "kept "+setupPath+", added BOT_INFLUX_PASSWORD")
	require.Equal(t, readEnvFile(t, setupPath)["BOT_INFLUX_PASSWORD"], readEnvFile(t, filepath.Join(conf, "bot.env"))["BOT_INFLUX_PASSWORD"])
	setup["BOT_INFLUX_PASSWORD"] = readEnvFile(t, setupPath)["BOT_INFLUX_PASSWORD"]
	requireOwned(t, tgEnvPath, 0, 0o600)
	require.Equal(t, setup, readEnvFile(t, filepath.Join(conf, "influxdb-setup.env")))
}

// readEnvFile reads a systemd EnvironmentFile of KEY=VALUE lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	env := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is not KEY=VALUE", path, line)
		env[k] = val
	}
	require.NoError(t, s.Err())
	return env
}

// readDropIn reads a systemd drop-in's [Service] settings: every value of
// each key, in order (an empty ExecStart= resets the vendor's).
func readDropIn(t *testing.T, path string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if section != "[Service]" && strings.HasSuffix(path, ".service") {
			continue // a whole unit (ours): its [Unit] and [Install] are not read here
		}
		require.Equal(t, "[Service]", section, "%s: %q outside [Service]", path, line)
		k, val, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		out[k] = append(out[k], val)
	}
	return out
}

// composeKapacitorKeys lists the KAPACITOR_* variables docker-compose.yml
// gives the kapacitor service.
func composeKapacitorKeys(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(devnettest.RepoRoot(), "docker-compose.yml"))
	require.NoError(t, err)
	var keys []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(KAPACITOR_[A-Z0-9_]+):`).FindAllStringSubmatch(string(raw), -1) {
		if !seen[m[1]] && m[1] != "KAPACITOR_HOSTNAME" && m[1] != "KAPACITOR_INFLUX_PASSWORD" && m[1] != "KAPACITOR_URL" {
			seen[m[1]] = true
			keys = append(keys, m[1])
		}
	}
	sort.Strings(keys)
	require.NotEmpty(t, keys)
	return keys
}
