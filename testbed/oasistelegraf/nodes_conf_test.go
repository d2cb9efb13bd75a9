package oasistelegraf

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/inputs/execd"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
)

// Telegraf's loader as the stack runs it (--strict-env-handling): an
// environment value is the contents of the TOML string it is in.
func init() { config.NonStrictEnvVarHandling = false }

// telegraf.conf plus a node file of telegraf/nodes, as Telegraf loads them:
// the install's own node is tagged with OASIS_NODE_NAME and
// OASIS_NODE_ROLE as given (quotes and backslashes stay text, never TOML),
// and its inputs get the role; the node file's inputs carry the name and
// role -new-node wrote; OASIS_READ_ENTITY reaches the entity inputs; the
// host tag is OASIS_HOSTNAME.
func TestTelegrafConfTagsNodesByNameAndRole(t *testing.T) {
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := devnettest.BuildCommand(t, "./cmd/oasis-telegraf")
	const name = `Bob's "main" \node`
	t.Setenv("OASIS_NODE_NAME", name)
	t.Setenv("OASIS_NODE_ROLE", "sentry")
	t.Setenv("OASIS_HOSTNAME", `host "a"`)
	t.Setenv("OASIS_READ_ENTITY", "false")
	t.Setenv("INFLUX_PASSWORD", `pass"word\`)

	nodes := t.TempDir()
	out, err := exec.Command(bin, "-new-node", "validator-1", "-role", "validator", "-address", "unix:/run/oasis-v1/internal.sock").Output()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(nodes, "validator-1.conf"), out, 0o644))

	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfig(filepath.Join(repo, "telegraf.conf")))
	files, err := config.WalkDirectory(nodes) // --config-directory
	require.NoError(t, err)
	require.NoError(t, cfg.LoadAll(files...))
	require.Equal(t, `host "a"`, cfg.Agent.Hostname)

	type execdInput struct {
		config  string
		command []string
		env     []string
		tags    map[string]string
	}
	var got []execdInput
	for _, in := range cfg.Inputs {
		e, ok := in.Input.(*execd.Execd)
		if !ok {
			continue
		}
		got = append(got, execdInput{filepath.Base(e.Command[2]), e.Command, e.Environment, tagsOf(in)})
	}
	require.Len(t, got, 8, "the own node's five inputs, and validator-1's three")
	for _, in := range got[:3] {
		require.Equal(t, map[string]string{"source": name, "role": "sentry"}, in.tags, in.config)
		require.Equal(t, []string{"-role", "sentry"}, in.command[3:], in.config)
	}
	for _, in := range got[3:5] {
		require.Empty(t, in.tags, "%s: the entity's, not a node's", in.config)
		require.Equal(t, []string{"-enabled=false"}, in.command[3:], in.config)
	}
	require.Equal(t, []string{"oasis_node.conf", "oasis_signing.conf", "oasis_runtime.conf"},
		[]string{got[5].config, got[6].config, got[7].config})
	for _, in := range got[5:] {
		require.Equal(t, map[string]string{"source": "validator-1", "role": "validator"}, in.tags, in.config)
		require.True(t, slices.Contains(in.env, "OASIS_NODE_SOCKET=unix:/run/oasis-v1/internal.sock"), "%v", in.env)
	}
}

func tagsOf(in *models.RunningInput) map[string]string {
	tags := map[string]string{}
	for k, v := range in.Config.Tags {
		tags[k] = v
	}
	return tags
}
