package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
)

// An input its node's role does not run stays idle under execd: it says so
// once, answers Telegraf's gathers with nothing and ends when stdin closes
// (an exit would be restarted every restart_delay). A role it runs for, or
// no role, runs it.
func TestRoleKeepsAnInputIdle(t *testing.T) {
	conf := writeConfig(t, "[[inputs.oasis_signing]]\naddress = \"unix:/nonexistent/internal.sock\"\nstate_file = \"/nonexistent/state.json\"\n")
	cmd := exec.Command(binary, "-config", conf, "-role", "sentry")
	cmd.Stdin = strings.NewReader("\n\n\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Empty(t, stdout.String(), "no points")
	require.Equal(t, "I! oasis_signing is not run for a node of role sentry (it runs for: validator); this process stays idle\n", stderr.String())

	// -enabled=false keeps any input idle (OASIS_READ_ENTITY=false for the
	// entity and governance inputs of all agents but one).
	entity := writeConfig(t, "[[inputs.oasis_entity]]\naddress = \"unix:/nonexistent/internal.sock\"\n")
	cmd = exec.Command(binary, "-config", entity, "-enabled=false")
	cmd.Stdin = strings.NewReader("\n")
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Empty(t, stdout.String(), "no points")
	require.Equal(t, "I! oasis_entity is turned off for this install (-enabled=false); this process stays idle\n", stderr.String())
	r := run(t, "-config", entity, "-enabled=maybe")
	require.NotEqual(t, 0, r.exitCode, "a value that is not a boolean stops start-up")
	require.Contains(t, r.stderr, `invalid boolean value "maybe" for -enabled`)

	// A typo in the role stops start-up with the valid roles.
	r = run(t, "-config", conf, "-role", "validater")
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stderr, `-role "validater": unknown role; one of compute, observer, sentry, validator`)

	// oasis_node runs for every role: a sentry's node is read (and fails
	// here on the socket that is not there, as without a role).
	node := writeConfig(t, "[[inputs.oasis_node]]\naddress = \"unix:/nonexistent/internal.sock\"\n")
	r = run(t, "-config", node, "-role", "sentry", "-once")
	require.Contains(t, r.stdout, "oasis_node up=0i,down_reason=\"no_socket\"")
}

// -new-node writes one [[inputs.execd]] per input of the role, each tagged
// with the node's name and role and given its address and ID; the
// install's own settings can't leak in (an empty node ID is set empty).
func TestNewNodeWritesTheRolesInputs(t *testing.T) {
	type execd struct {
		Command     []string          `toml:"command"`
		Environment []string          `toml:"environment"`
		Signal      string            `toml:"signal"`
		Restart     string            `toml:"restart_delay"`
		DataFormat  string            `toml:"data_format"`
		Tags        map[string]string `toml:"tags"`
	}
	parse := func(out string) []execd {
		var file struct {
			Inputs struct {
				Execd []execd `toml:"execd"`
			} `toml:"inputs"`
		}
		md, err := toml.Decode(out, &file)
		require.NoError(t, err, out)
		require.Empty(t, md.Undecoded(), "no setting but these")
		return file.Inputs.Execd
	}
	const id = "ZXhhbXBsZS1ub2RlLWlkLTMyLWJ5dGVzLWxvbmctISE="

	r := run(t, "-new-node", "validator-2", "-role", "validator", "-address", "unix:/run/oasis-v2/internal.sock", "-node-id", id)
	require.Equal(t, 0, r.exitCode, r.stderr)
	got := parse(r.stdout)
	require.Len(t, got, 3)
	for i, input := range []string{"oasis_node", "oasis_signing", "oasis_runtime"} {
		require.Equal(t, []string{"${OASIS_TELEGRAF_BIN:-/usr/local/bin/oasis-telegraf}", "-config",
			"${OASIS_CONFIG_DIR:-/etc/telegraf/oasis}/" + input + ".conf", "-role", "validator"}, got[i].Command)
		require.Equal(t, map[string]string{"source": "validator-2", "role": "validator"}, got[i].Tags)
		require.Equal(t, "STDIN", got[i].Signal)
		require.Equal(t, "influx", got[i].DataFormat)
		require.Contains(t, got[i].Environment, "OASIS_NODE_SOCKET=unix:/run/oasis-v2/internal.sock")
		require.Contains(t, got[i].Environment, "OASIS_NODE_ID="+id)
	}
	require.Contains(t, got[1].Environment, "OASIS_SIGNING_STATE_NAME=oasis_signing-validator-2", "a state file of its own")
	require.Contains(t, got[1].Environment, "OASIS_SIGNING_ALL_VALIDATORS=false")

	r = run(t, "-new-node", "sentry-1", "-role", "sentry", "-address", "sentry-1.example.org:9443")
	require.Equal(t, 0, r.exitCode, r.stderr)
	got = parse(r.stdout)
	require.Len(t, got, 1, "a sentry signs nothing: oasis_node only")
	require.Contains(t, got[0].Command[2], "oasis_node.conf")
	require.Contains(t, got[0].Environment, "OASIS_NODE_ID=", "the install's own node ID is not inherited")

	r = run(t, "-new-node", "compute-1", "-role", "compute", "-address", "unix:/run/oasis-c1/internal.sock")
	require.Equal(t, 0, r.exitCode, r.stderr)
	got = parse(r.stdout)
	require.Len(t, got, 2, "a compute node: oasis_node and its ParaTimes")
	require.Contains(t, got[1].Command[2], "oasis_runtime.conf")

	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-new-node", "sentry 1", "-role", "sentry", "-address", "unix:/run/s/internal.sock"}, `-new-node "sentry 1": a node's name is 1 to 63 letters`},
		{[]string{"-new-node", "s1", "-address", "unix:/run/s/internal.sock"}, `-role "": unknown role; one of compute, observer, sentry, validator`},
		{[]string{"-new-node", "s1", "-role", "sentry"}, "-address is required"},
		{[]string{"-new-node", "s1", "-role", "sentry", "-address", "run/s/internal.sock"}, "neither an absolute socket path nor host:port"},
		{[]string{"-new-node", "s1", "-role", "sentry", "-address", `unix:/run/"s"/internal.sock`}, "quotes, backslashes, $ and control characters are not accepted"},
		{[]string{"-new-node", "s1", "-role", "sentry", "-address", "unix:/run/s/internal.sock", "-node-id", "abc"}, `-node-id "abc": not a node ID`},
	} {
		r := run(t, c.args...)
		require.Equal(t, 1, r.exitCode, "%v", c.args)
		require.Contains(t, r.stderr, c.err, "%v", c.args)
		require.Empty(t, r.stdout, "%v: nothing to redirect into a file", c.args)
	}
}
