package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// loadCompose loads docker-compose.yml as `docker compose` would, with env
// as the operator's .env.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	return loadComposeFiles(t, env, "docker-compose.yml")
}

// loadComposeFiles is `docker compose -f FILE -f ...`.
func loadComposeFiles(t *testing.T, env map[string]string, files ...string) (*types.Project, error) {
	t.Helper()
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, "../../"+f)
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory("../.."),
		cli.WithEnv(pairs),
		// COMPOSE_PROFILES from .env, as docker compose reads it.
		cli.WithDefaultProfiles(),
		cli.WithName("oasis-mission-control"),
	)
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

// operatorEnv is a filled-in .env: every key of .env.example, read by
// compose-go's own .env parser (what docker compose uses), with a value
// for each one the example leaves empty.
func operatorEnv(t *testing.T) map[string]string {
	env, err := dotenv.Read("../../.env.example")
	require.NoError(t, err)
	require.NotEmpty(t, env)
	for k, v := range env {
		if v == "" {
			env[k] = "x-" + strings.ToLower(k)
		}
	}
	env["OASIS_NODE_GID"] = "1000"
	env["OASIS_NODE_VOLUME_DIR"] = "/srv/oasis/monitor-disk"
	return env
}

func TestComposeStack(t *testing.T) {
	p, err := loadCompose(t, operatorEnv(t))
	require.NoError(t, err)

	require.ElementsMatch(t, []string{"influxdb", "telegraf", "kapacitor", "grafana"}, p.ServiceNames())
	for name, s := range p.Services {
		// Pinned images: a tag that is a version, never latest.
		repo, tag, ok := strings.Cut(s.Image, ":")
		require.True(t, ok && tag != "" && tag != "latest" && strings.ContainsAny(tag, "0123456789"), "%s: image %q is not pinned", name, s.Image)
		require.NotEmpty(t, repo)
		require.NotNil(t, s.HealthCheck, "%s has a healthcheck", name)
		require.NotEmpty(t, s.HealthCheck.Test, "%s has a healthcheck", name)
		require.Equal(t, "unless-stopped", s.Restart, name)
		// Nothing published on all interfaces; only Grafana published at all.
		for _, port := range s.Ports {
			require.Equal(t, "grafana", name, "only Grafana publishes a port")
			require.Equal(t, "127.0.0.1", port.HostIP, "%s publishes %s on all interfaces", name, port.Published)
		}
		// Data lives in named volumes.
		for _, v := range s.Volumes {
			if strings.HasPrefix(v.Target, "/var/lib/") {
				require.Equal(t, types.VolumeTypeVolume, v.Type, "%s keeps %s in a named volume", name, v.Target)
			}
		}
	}
	require.Equal(t, "influxdb:1.8.10", p.Services["influxdb"].Image, "the version the tests run")
	require.Equal(t, "kapacitor:1.7.5", p.Services["kapacitor"].Image, "the version the alert tests run")
	require.Equal(t, "true", *p.Services["influxdb"].Environment["INFLUXDB_HTTP_AUTH_ENABLED"], "InfluxDB auth on")

	// Telegraf gets the node's socket directory, read-only, at the path
	// the docs give, and a keyless directory on the node's data
	// filesystem for the disk input: nothing else of the host. No host
	// filesystem, no host PID namespace, no host network.
	tg := p.Services["telegraf"]
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range tg.Volumes {
		mounts[v.Target] = v
		require.NotEqual(t, "/", v.Source, "the host's / is not mounted")
		require.NotEqual(t, "/proc", v.Source, "the host's /proc is not mounted")
		require.NotContains(t, v.Target, "hostfs")
	}
	require.Equal(t, "/run/oasis", mounts["/run/oasis"].Source, "OASIS_SOCKET_DIR")
	require.True(t, mounts["/run/oasis"].ReadOnly, "the socket directory is read-only")
	require.Equal(t, "/srv/oasis/monitor-disk", mounts["/node/volume"].Source, "OASIS_NODE_VOLUME_DIR")
	require.True(t, mounts["/node/volume"].ReadOnly, "the node's volume is read-only")
	for _, target := range []string{"/run/oasis", "/node/volume"} {
		require.NotNil(t, mounts[target].Bind, target)
		require.False(t, bool(mounts[target].Bind.CreateHostPath), "%s: a missing host path is an error, not a new empty directory", target)
	}
	require.Empty(t, tg.Pid, "no host PID namespace")
	require.Empty(t, tg.NetworkMode, "no host network")
	for k := range tg.Environment {
		require.False(t, strings.HasPrefix(k, "HOST_"), "%s: Telegraf reads no host filesystem", k)
	}
	require.Equal(t, []string{"1000"}, tg.GroupAdd)
	require.Equal(t, "unix:/run/oasis/internal.sock", *tg.Environment["OASIS_NODE_SOCKET"])
	require.GreaterOrEqual(t, len(tg.Command), 4)
	require.Equal(t, types.ShellCommand{"telegraf", "--strict-env-handling", "--config", "/etc/telegraf/telegraf.conf", "--config", "/etc/telegraf/telegraf-compose.conf",
		"--config-directory", "/etc/telegraf/oasis/nodes"}, tg.Command[4:],
		"telegraf.conf plus the compose stack's host inputs, not the native ones, and the more nodes of telegraf/nodes")
	// The disk buffer lives in the state volume and is checked before
	// every start.
	require.Equal(t, "/var/lib/telegraf/buffer", *tg.Environment["OASIS_BUFFER_DIR"])
	require.Equal(t, "disk", *tg.Environment["OASIS_BUFFER_STRATEGY"])
	require.Equal(t, types.VolumeTypeVolume, mounts["/var/lib/telegraf"].Type, "the buffer survives a recreate")
	checkThenTelegraf(t, tg.Command)

	// A stable host tag: the operator's name, not the container ID.
	require.Equal(t, operatorEnv(t)["OASIS_HOSTNAME"], tg.Hostname)

	// The plugin configs and telegraf.conf are mounted, so an edit needs a
	// restart, not a rebuild.
	for target, source := range map[string]string{"/etc/telegraf/telegraf.conf": "telegraf.conf", "/etc/telegraf/telegraf-compose.conf": "telegraf-compose.conf", "/etc/telegraf/oasis": "telegraf"} {
		m, ok := mounts[target]
		require.True(t, ok, "%s is mounted", target)
		require.True(t, m.ReadOnly, "%s is read-only", target)
		require.True(t, strings.HasSuffix(m.Source, "/"+source), "%s comes from %s, not %s", target, source, m.Source)
	}

	// InfluxDB is on every network, Telegraf on Kapacitor's too (it takes
	// the alert history from Kapacitor: docs/alert-history.md): Grafana
	// can't reach Kapacitor's API (auth off, config overrides on) nor
	// Telegraf.
	nets := func(name string) []string {
		var out []string
		for n := range p.Services[name].Networks {
			out = append(out, n)
		}
		return out
	}
	require.ElementsMatch(t, []string{"ingest", "alerting", "dashboards"}, nets("influxdb"))
	require.ElementsMatch(t, []string{"ingest", "alerting"}, nets("telegraf"))
	require.ElementsMatch(t, []string{"alerting"}, nets("kapacitor"))
	require.ElementsMatch(t, []string{"dashboards"}, nets("grafana"))
}

// Every setting telegraf.conf and telegraf/*.conf read from the
// environment reaches Telegraf from .env: each ${VAR} they use is set in
// the Telegraf service (a value from .env, or fixed by the stack), and a
// value in .env arrives as given.
func TestComposeTelegrafSettingsFromEnv(t *testing.T) {
	files, err := filepath.Glob("../../telegraf/*.conf")
	require.NoError(t, err)
	// What the compose stack loads; telegraf-native.conf is not.
	files = append(files, "../../telegraf.conf", "../../telegraf-compose.conf")
	used := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(line, -1) {
				used[m[1]] = true
			}
		}
	}
	require.NotEmpty(t, used)
	env := operatorEnv(t)
	env["TELEGRAF_INTERVAL"] = "17s"
	env["OASIS_SIGNING_ALL_VALIDATORS"] = "true"
	env["OASIS_NODE_ID"] = "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg="
	p, err := loadCompose(t, env)
	require.NoError(t, err)
	tg := p.Services["telegraf"]
	// Set by the image or Telegraf's own run, not by the operator.
	// OASIS_TELEGRAF_BIN, OASIS_CONFIG_DIR: the image's paths are the
	// defaults; TELEGRAF_HEALTH_ADDRESS: the health check probes the
	// default.
	// OASIS_SIGNING_STATE_NAME: set for each more node by its file in
	// telegraf/nodes (oasis-telegraf -new-node).
	notFromEnv := map[string]bool{"OASIS_TELEGRAF_BIN": true, "OASIS_CONFIG_DIR": true, "TELEGRAF_HEALTH_ADDRESS": true, "OASIS_SIGNING_STATE_NAME": true}
	for v := range used {
		if notFromEnv[v] {
			continue
		}
		_, ok := tg.Environment[v]
		require.True(t, ok, "telegraf configs read ${%s}, which the telegraf service does not set", v)
	}
	require.Equal(t, "17s", *tg.Environment["TELEGRAF_INTERVAL"])
	require.Equal(t, "true", *tg.Environment["OASIS_SIGNING_ALL_VALIDATORS"])
	require.Equal(t, "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=", *tg.Environment["OASIS_NODE_ID"])
}

// Kapacitor reads InfluxDB as its own read-only user, never the admin:
// InfluxDB's first-start init runs influxdb/oasis-setup.sh, which makes
// that user and the subscription to Kapacitor's write endpoint (what the
// native tests run against a real influxd), and Kapacitor does not manage
// subscriptions itself.
func TestComposeKapacitorLeastPrivilege(t *testing.T) {
	env := operatorEnv(t)
	p, err := loadCompose(t, env)
	require.NoError(t, err)
	kap, influx := p.Services["kapacitor"], p.Services["influxdb"]
	require.Equal(t, "kapacitor", *kap.Environment["KAPACITOR_INFLUXDB_0_USERNAME"])
	require.Equal(t, env["KAPACITOR_INFLUX_PASSWORD"], *kap.Environment["KAPACITOR_INFLUXDB_0_PASSWORD"])
	require.NotEqual(t, env["INFLUXDB_ADMIN_PASSWORD"], *kap.Environment["KAPACITOR_INFLUXDB_0_PASSWORD"])
	for k, v := range kap.Environment {
		require.NotEqual(t, env["INFLUXDB_ADMIN_PASSWORD"], *v, "Kapacitor gets the admin password in %s", k)
	}
	var initScript *types.ServiceVolumeConfig
	for i, v := range influx.Volumes {
		if v.Target == "/docker-entrypoint-initdb.d/oasis-setup.sh" {
			initScript = &influx.Volumes[i]
		}
	}
	require.NotNil(t, initScript, "influxdb/oasis-setup.sh runs at InfluxDB's first start")
	require.True(t, strings.HasSuffix(initScript.Source, "/influxdb/oasis-setup.sh"))
	// The subscription's destination is Kapacitor's service name and the
	// port kapacitor.conf binds.
	require.Equal(t, "http://kapacitor:9092", *influx.Environment["KAPACITOR_URL"])
	require.Equal(t, env["KAPACITOR_INFLUX_PASSWORD"], *influx.Environment["KAPACITOR_INFLUX_PASSWORD"])
	raw, err := os.ReadFile("../../kapacitor/kapacitor.conf")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\s*bind-address = ":9092"`, string(raw))
	require.Regexp(t, `(?m)^\s*disable-subscriptions = true`, string(raw))
	// No image-made users left to drift from the script's.
	for _, k := range []string{"INFLUXDB_WRITE_USER", "INFLUXDB_READ_USER", "INFLUXDB_USER"} {
		_, ok := influx.Environment[k]
		require.False(t, ok, "%s: users come from influxdb/oasis-setup.sh", k)
	}
}

// Every setting in .env.example is used by docker-compose.yml and listed
// in docs/install.md's settings table, and every setting the table lists
// is in .env.example: nothing documented that does nothing, nothing
// settable that is undocumented.
func TestEnvExampleDocumentedAndUsed(t *testing.T) {
	env, err := dotenv.Read("../../.env.example")
	require.NoError(t, err)
	var compose []byte
	for _, f := range []string{"docker-compose.yml", "docker-compose.agent.yml", "docker-compose.central.yml"} {
		raw, err := os.ReadFile("../../" + f)
		require.NoError(t, err)
		compose = append(compose, raw...)
	}
	doc, err := os.ReadFile("../../docs/install.md")
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_0-9]+)`(?:, `([A-Z_0-9]+)`)? \\|").FindAllStringSubmatch(string(doc), -1) {
		for _, k := range m[1:] {
			if k != "" {
				documented[k] = true
			}
		}
	}
	require.NotEmpty(t, documented)
	channels := regexp.MustCompile(`^(TELEGRAM|SLACK|DISCORD|SMTP|PAGERDUTY|OPSGENIE|WEBHOOK)_`)
	for k := range env {
		require.Contains(t, string(compose), "${"+k, ".env.example sets %s, which no docker-compose*.yml uses", k)
		if !channels.MatchString(k) { // the channels have their own table in docs/alerts.md
			require.True(t, documented[k], ".env.example sets %s, which docs/install.md's settings table does not list", k)
		}
	}
	for k := range documented {
		_, ok := env[k]
		require.True(t, ok, "docs/install.md lists %s, which .env.example does not have", k)
	}
}

// Kapacitor logs to stderr (docker compose logs shows it) and sends no
// usage reports.
func TestKapacitorConfLogsAndReporting(t *testing.T) {
	raw, err := os.ReadFile("../../kapacitor/kapacitor.conf")
	require.NoError(t, err)
	section := func(name string) string {
		s := string(raw)
		i := strings.Index(s, "\n["+name+"]")
		require.GreaterOrEqual(t, i, 0, name)
		s = s[i+1:]
		if j := strings.Index(s[1:], "\n["); j >= 0 {
			s = s[:j+1]
		}
		return s
	}
	require.Regexp(t, `(?m)^\s*file = "STDERR"`, section("logging"))
	require.Regexp(t, `(?m)^\s*enabled = false`, section("reporting"))
}

// Secrets have no defaults: a missing password stops the stack.
func TestComposeNeedsEverySecret(t *testing.T) {
	for _, key := range []string{"INFLUXDB_ADMIN_PASSWORD", "INFLUX_PASSWORD", "GRAFANA_INFLUX_PASSWORD", "KAPACITOR_INFLUX_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "OASIS_SOCKET_DIR", "OASIS_NODE_VOLUME_DIR", "OASIS_NODE_GID", "OASIS_HOSTNAME"} {
		t.Run(key, func(t *testing.T) {
			env := operatorEnv(t)
			delete(env, key)
			_, err := loadCompose(t, env)
			require.ErrorContains(t, err, key)
		})
	}
}

// Grafana published on all interfaces only when the operator asks.
func TestComposeGrafanaBind(t *testing.T) {
	env := operatorEnv(t)
	env["GRAFANA_BIND"] = "0.0.0.0"
	p, err := loadCompose(t, env)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", p.Services["grafana"].Ports[0].HostIP)
}

// The agent of a host in a central setup is the stack's Telegraf, but for
// its InfluxDB (the central one's URL), its network (no network of the
// central stack) and its start order (no InfluxDB here to wait for): the
// same image, mounts, groups, host tag and settings. It needs only the
// agent's settings, not the central stack's passwords.
func TestComposeAgentIsTheStacksTelegraf(t *testing.T) {
	env := operatorEnv(t)
	env["OASIS_CENTRAL_INFLUX_URL"] = "http://10.8.0.1:8086"
	stack, err := loadCompose(t, env)
	require.NoError(t, err)
	for _, k := range []string{"INFLUXDB_ADMIN_PASSWORD", "GRAFANA_INFLUX_PASSWORD", "KAPACITOR_INFLUX_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} {
		delete(env, k)
	}
	agent, err := loadComposeFiles(t, env, "docker-compose.agent.yml")
	require.NoError(t, err)
	require.Equal(t, []string{"telegraf"}, agent.ServiceNames())

	got, want := agent.Services["telegraf"], stack.Services["telegraf"]
	require.Equal(t, "http://10.8.0.1:8086", *got.Environment["INFLUX_URL"])
	require.Empty(t, got.DependsOn)
	want.Environment["INFLUX_URL"] = got.Environment["INFLUX_URL"]
	want.DependsOn, want.Networks = got.DependsOn, got.Networks
	require.Equal(t, want, got)

	delete(env, "OASIS_CENTRAL_INFLUX_URL")
	_, err = loadComposeFiles(t, env, "docker-compose.agent.yml")
	require.ErrorContains(t, err, "OASIS_CENTRAL_INFLUX_URL")
}

// The central host's override publishes InfluxDB for the agents on the
// address the operator gives, and nothing else; without the address it
// does not start.
func TestComposeCentralPublishesInfluxDB(t *testing.T) {
	env := operatorEnv(t)
	env["OASIS_CENTRAL_BIND"] = "10.8.0.1"
	stack, err := loadCompose(t, env)
	require.NoError(t, err)
	central, err := loadComposeFiles(t, env, "docker-compose.yml", "docker-compose.central.yml")
	require.NoError(t, err)
	ports := central.Services["influxdb"].Ports
	require.Len(t, ports, 1)
	require.Equal(t, "10.8.0.1", ports[0].HostIP)
	require.Equal(t, "8086", ports[0].Published)
	require.Equal(t, uint32(8086), ports[0].Target)
	influx := central.Services["influxdb"]
	influx.Ports = nil
	require.Equal(t, stack.Services["influxdb"], influx, "only the port differs")
	for _, name := range []string{"telegraf", "kapacitor", "grafana"} {
		require.Equal(t, stack.Services[name], central.Services[name], name)
	}

	delete(env, "OASIS_CENTRAL_BIND")
	_, err = loadComposeFiles(t, env, "docker-compose.yml", "docker-compose.central.yml")
	require.ErrorContains(t, err, "OASIS_CENTRAL_BIND")
}

// checkThenTelegraf runs the compose command's shell line as the container
// would, with stand-ins on PATH: oasis-telegraf -check-buffer runs first
// on the buffer directory, Telegraf then gets its arguments untouched, and
// a failed check does not start Telegraf (its error is in the log instead
// of Telegraf's panic).
func checkThenTelegraf(t *testing.T, command types.ShellCommand) {
	t.Helper()
	require.Equal(t, []string{"sh", "-c"}, []string(command[:2]))
	require.Equal(t, "--", command[3])
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	stub := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name),
			[]byte("#!/bin/sh\nprintf '%s' \""+name+"\" >> "+calls+"\nfor a in \"$@\"; do printf ' [%s]' \"$a\" >> "+calls+"; done\necho >> "+calls+"\n"+body), 0o755))
	}
	run := func() (string, error) {
		_ = os.Remove(calls)
		cmd := exec.Command(command[0], command[1:]...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		got, _ := os.ReadFile(calls)
		return string(got), errors.Join(err, errors.New(string(out)))
	}
	stub("telegraf", "exit 0\n")
	stub("oasis-telegraf", "exit 0\n")
	got, err := run()
	want := "oasis-telegraf [-check-buffer] [/var/lib/telegraf/buffer]\ntelegraf"
	for _, a := range command[5:] {
		want += " [" + a + "]"
	}
	require.Equal(t, want+"\n", got, "%v", err)

	stub("oasis-telegraf", "exit 1\n")
	got, _ = run()
	require.Equal(t, "oasis-telegraf [-check-buffer] [/var/lib/telegraf/buffer]\n", got, "a failed check does not start Telegraf")
}

// TestComposeBot: the chat bot is off unless COMPOSE_PROFILES=bot; on, it
// runs the stack's own image (which holds oasis-bot) on the alerting
// network only, with a health check, and gets its settings from .env.
func TestComposeBot(t *testing.T) {
	env := operatorEnv(t)
	p, err := loadCompose(t, env)
	require.NoError(t, err)
	require.NotContains(t, p.ServiceNames(), "bot", "off by default")
	env["COMPOSE_PROFILES"] = "bot"
	p, err = loadCompose(t, env)
	require.NoError(t, err)
	require.Contains(t, p.ServiceNames(), "bot")
	b := p.Services["bot"]
	require.Equal(t, p.Services["telegraf"].Image, b.Image, "the image the Dockerfile builds, with oasis-bot in it")
	require.Equal(t, []string{"oasis-bot"}, []string(b.Command))
	require.Equal(t, []string{"CMD", "oasis-bot", "-health"}, []string(b.HealthCheck.Test))
	require.Equal(t, "unless-stopped", b.Restart)
	require.Empty(t, b.Ports)
	// Not root, no capability, nothing to write but /tmp (its health file).
	require.Equal(t, "telegraf", b.User)
	require.Equal(t, []string{"ALL"}, b.CapDrop)
	require.Contains(t, b.SecurityOpt, "no-new-privileges:true")
	require.True(t, b.ReadOnly)
	require.Equal(t, []string{"/tmp"}, []string(b.Tmpfs))
	var nets []string
	for n := range b.Networks {
		nets = append(nets, n)
	}
	require.Equal(t, []string{"alerting"}, nets, "it reaches InfluxDB and Kapacitor there")
	for k, want := range map[string]string{
		"TELEGRAM_BOT_TOKEN": env["TELEGRAM_BOT_TOKEN"], "OASIS_BOT_CHAT_IDS": env["OASIS_BOT_CHAT_IDS"],
		"BOT_INFLUX_PASSWORD": env["BOT_INFLUX_PASSWORD"], "INFLUX_URL": "http://influxdb:8086", "KAPACITOR_URL": "http://kapacitor:9092",
		"OASIS_BOT_DIGEST_TIMES": "08:00,20:00",
	} {
		require.NotNil(t, b.Environment[k], k)
		require.Equal(t, want, *b.Environment[k], k)
	}
	require.Equal(t, env["BOT_INFLUX_PASSWORD"], *p.Services["influxdb"].Environment["BOT_INFLUX_PASSWORD"], "the setup makes the bot's user")
	df, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	require.Contains(t, string(df), "./cmd/oasis-bot")
}
