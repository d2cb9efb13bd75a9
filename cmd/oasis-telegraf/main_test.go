package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) {
	// A fuzzing worker runs only the fuzz target (in-process): no binary.
	flag.Parse()
	if w := flag.Lookup("test.fuzzworker"); w != nil && w.Value.String() == "true" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "oasis-telegraf-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "oasis-telegraf")
	// As make build does: the checkout's commit, explicitly (GOFLAGS may
	// turn Go's own VCS stamping off, as on the CI machines).
	args := []string{"build", "-o", binary}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		args = append(args, "-ldflags=-X "+commitVar+"="+strings.TrimSpace(string(head)))
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		panic("building oasis-telegraf: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	exitCode       int
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin.conf")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestBadConfigStopsStartUp(t *testing.T) {
	cases := []struct {
		name   string
		config string
		want   []string
	}{
		{
			"malformed socket path",
			"[[inputs.oasis_node]]\naddress = \"unix:node/internal.sock\"\n",
			[]string{`address "unix:node/internal.sock"`, `e.g. address = "unix:/run/oasis/internal.sock"`},
		},
		{
			"unknown key",
			"[[inputs.oasis_node]]\naddress = \"unix:/run/oasis/internal.sock\"\nadress_timeout = \"3s\"\n",
			[]string{`unknown setting "adress_timeout"`, `address = "unix:/run/oasis/internal.sock"`, "[[inputs.oasis_node]]"},
		},
		{
			"malformed node id",
			"[[inputs.oasis_node]]\naddress = \"unix:/run/oasis/internal.sock\"\nnode_id = \"my-validator\"\n",
			[]string{`node_id "my-validator"`, `e.g. node_id = "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg="`},
		},
		{
			"unknown plugin",
			"[[inputs.oasis_nodes]]\naddress = \"unix:/run/oasis/internal.sock\"\n",
			[]string{"unknown plugin [[inputs.oasis_nodes]]", "oasis_node"},
		},
		{
			"two plugins",
			"[[inputs.oasis_node]]\naddress = \"/a/internal.sock\"\n[[inputs.oasis_node]]\naddress = \"/b/internal.sock\"\n",
			[]string{"appears 2 times"},
		},
		{
			"not toml",
			"[[inputs.oasis_node]\n",
			[]string{"plugin.conf"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "-config", writeConfig(t, tc.config))
			require.NotEqual(t, 0, r.exitCode)
			for _, w := range tc.want {
				require.Contains(t, r.stderr, w)
			}
			// Every line is one execd maps to a level (an error).
			for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				require.True(t, strings.HasPrefix(line, "E! "), "line %q", line)
			}
		})
	}
}

func TestMissingConfigFlag(t *testing.T) {
	r := run(t)
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stderr, "-config FILE is required")
}

func TestSampleConfig(t *testing.T) {
	r := run(t, "-sample-config", "oasis_node")
	require.Equal(t, 0, r.exitCode)
	require.Contains(t, r.stdout, "[[inputs.oasis_node]]")

	// The printed sample is itself a valid config.
	path := writeConfig(t, strings.Replace(r.stdout, "unix:/run/oasis/internal.sock", "unix:/nonexistent/internal.sock", 1))
	r = run(t, "-config", path, "-once")
	require.Equal(t, 1, r.exitCode, "the node is absent, so the gather reports an error")
	// Field order in line protocol is not fixed.
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	require.Equal(t, "oasis_node", strings.Fields(lines[0])[0])
	require.ElementsMatch(t, []string{"up=0i", `down_reason="no_socket"`}, strings.Split(strings.Fields(lines[0])[1], ","))
	require.Equal(t, "oasis_input,address=unix:/nonexistent/internal.sock,input=oasis_node", strings.Fields(lines[1])[0])
	require.Contains(t, r.stderr, "E! ")
	require.Contains(t, r.stderr, "/nonexistent/internal.sock")

	r = run(t, "-sample-config", "nope")
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stderr, "unknown plugin")
}

func TestEnvironmentExpansion(t *testing.T) {
	t.Setenv("OASIS_NODE_SOCKET", "unix:relative.sock")
	r := run(t, "-config", writeConfig(t, "[[inputs.oasis_node]]\naddress = \"${OASIS_NODE_SOCKET}\"\n"))
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stderr, `address "unix:relative.sock"`)
}

// As Telegraf's [[processors.execd]] runs it: the shipped names config
// with the .env settings, line protocol in and out.
func TestNamesProcessorUnderExecd(t *testing.T) {
	const nodeID = `GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=`
	cmd := exec.Command(binary, "-config", "../../telegraf/oasis_names.conf")
	cmd.Env = append(os.Environ(), "OASIS_NODE_ID="+nodeID, "OASIS_NODE_NAME=validator-1")
	cmd.Stdin = strings.NewReader(
		"oasis_node,node_id=GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg\\= up=1i 1700000000000000000\n" +
			"oasis_input,input=oasis_node up=1i 1700000000000000000\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Empty(t, stderr.String())
	require.ElementsMatch(t, []string{
		"oasis_node,node_id=GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg\\= up=1i,node_name=\"validator-1\" 1700000000000000000",
		"oasis_input,input=oasis_node up=1i 1700000000000000000",
	}, strings.Split(strings.TrimSpace(stdout.String()), "\n"))

	// A name without its ID is skipped and said; -check fails on it.
	bad := writeConfig(t, "[[processors.oasis_names]]\n[[processors.oasis_names.alias]]\nname = \"validator-1\"\n")
	r := run(t, "-config", bad, "-check")
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stdout, `FAIL  alias      alias 1: name "validator-1" has no id: set the ID it names (OASIS_NODE_ID or OASIS_ENTITY_ID in .env for your own); skipped`)
	// A registry checkout that isn't there fails -check too.
	r = run(t, "-config", writeConfig(t, "[[processors.oasis_names]]\nregistry_dir = \"/nonexistent/metadata-registry\"\n"), "-check")
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stdout, "FAIL  registry   metadata registry /nonexistent/metadata-registry: reading /nonexistent/metadata-registry/registry/entity")
	r = run(t, "-config", "../../telegraf/oasis_names.conf", "-check")
	require.Equal(t, 0, r.exitCode, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "all checks passed")
	// -once runs inputs only.
	r = run(t, "-config", writeConfig(t, "[[processors.oasis_names]]\n"), "-once")
	require.Equal(t, 1, r.exitCode)
	require.Contains(t, r.stderr, "-once runs inputs; [[processors.oasis_names]] is a processor")
}

// Under [[processors.execd]] (telegraf.conf runs it with -pass-on-error),
// a config that can't be used must not stop the points the processor
// carries: they pass unchanged and the error is logged.
func TestNamesProcessorPassesPointsOnABadConfig(t *testing.T) {
	in := "oasis_node,node_id=GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg\\= up=1i 1700000000000000000\n"
	for name, conf := range map[string]string{
		"not TOML":        "[[processors.oasis_names]\n",
		"unknown setting": "[[processors.oasis_names]]\nregistry = \"/x\"\n",
		"refused setting": "[[processors.oasis_names]]\nregistry_reload = \"1s\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(binary, "-config", writeConfig(t, conf), "-pass-on-error")
			cmd.Stdin = strings.NewReader(in)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), stderr.String())
			require.Equal(t, in, stdout.String())
			require.True(t, strings.HasPrefix(stderr.String(), "E! "), stderr.String())
			require.Contains(t, stderr.String(), "E! passing every point on unchanged until this is fixed (then restart Telegraf)")
		})
	}
	// A skipped alias does not stop it either: the others still name.
	cmd := exec.Command(binary, "-config", writeConfig(t, "[[processors.oasis_names]]\n"+
		"[[processors.oasis_names.alias]]\nname = \"orphan\"\n"+
		"[[processors.oasis_names.alias]]\nid = \"GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=\"\nname = \"validator-1\"\n"), "-pass-on-error")
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Contains(t, stdout.String(), `node_name="validator-1"`)
	require.Contains(t, stderr.String(), `E! [processors.oasis_names] alias 1: name "orphan" has no id`)
}

// commitVar is the release build's -X setting for the commit.
const commitVar = "github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo.Commit"

// -version names the release and the commit the binary was built from
// (set by TestMain as make build sets it).
func TestVersion(t *testing.T) {
	r := run(t, "-version")
	require.Equal(t, 0, r.exitCode, r.stderr)
	require.Regexp(t, `^oasis-telegraf \d+\.\d+\.\d+(-dev)? \(commit ([0-9a-f]{12}(\+modified)?|unknown), go1\.\d+`, r.stdout)
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && len(head) >= 12 {
		require.Contains(t, r.stdout, "commit "+string(head[:12]), "the checkout's commit")
	}
}
