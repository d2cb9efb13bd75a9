package e2e

import (
	"context"
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
