package e2e

import (
	"context"
	"os"
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
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"},
		cli.WithWorkingDirectory("../.."),
		cli.WithEnv(pairs),
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

	// The node's data dir (with internal.sock) is mounted read-only, and
	// Telegraf joins the socket's group.
	tg := p.Services["telegraf"]
	var nodeMount *types.ServiceVolumeConfig
	for i, v := range tg.Volumes {
		if v.Target == "/node/data" {
			nodeMount = &tg.Volumes[i]
		}
	}
	require.NotNil(t, nodeMount, "the node's data dir is mounted")
	require.True(t, nodeMount.ReadOnly, "the node's data dir is read-only")
	require.Equal(t, "/node/data", nodeMount.Source)
	require.Equal(t, []string{"1000"}, tg.GroupAdd)
	for _, v := range tg.Volumes {
		if v.Target == "/hostfs" {
			require.True(t, v.ReadOnly, "the host filesystem is read-only")
		}
	}
	require.Equal(t, "unix:/node/data/internal.sock", *tg.Environment["OASIS_NODE_SOCKET"])

	// A stable host tag: the operator's name, not the container ID.
	require.Equal(t, operatorEnv(t)["OASIS_HOSTNAME"], tg.Hostname)

	// The plugin configs and telegraf.conf are mounted, so an edit needs a
	// restart, not a rebuild.
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range tg.Volumes {
		mounts[v.Target] = v
	}
	for target, source := range map[string]string{"/etc/telegraf/telegraf.conf": "telegraf.conf", "/etc/telegraf/oasis": "telegraf"} {
		m, ok := mounts[target]
		require.True(t, ok, "%s is mounted", target)
		require.True(t, m.ReadOnly, "%s is read-only", target)
		require.True(t, strings.HasSuffix(m.Source, "/"+source), "%s comes from %s, not %s", target, source, m.Source)
	}

	// Only InfluxDB is on more than one network: Grafana can't reach
	// Kapacitor's API (auth off, config overrides on) nor Telegraf.
	nets := func(name string) []string {
		var out []string
		for n := range p.Services[name].Networks {
			out = append(out, n)
		}
		return out
	}
	require.ElementsMatch(t, []string{"ingest", "alerting", "dashboards"}, nets("influxdb"))
	require.ElementsMatch(t, []string{"ingest"}, nets("telegraf"))
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
	files = append(files, "../../telegraf.conf")
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
	notFromEnv := map[string]bool{"OASIS_TELEGRAF_BIN": true, "OASIS_CONFIG_DIR": true, "TELEGRAF_HEALTH_ADDRESS": true}
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
	for _, key := range []string{"INFLUXDB_ADMIN_PASSWORD", "INFLUX_PASSWORD", "GRAFANA_INFLUX_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "OASIS_NODE_DATADIR", "OASIS_NODE_GID"} {
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
