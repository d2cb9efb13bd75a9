package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	node "github.com/oasisprotocol/oasis-core/go/common/node"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
)

func checkWith(t *testing.T, config string, influx influxTarget) (int, string) {
	t.Helper()
	name, plugin, err := loadInput(writeConfig(t, config))
	require.NoError(t, err)
	var out bytes.Buffer
	code := runCheck(&out, name, plugin, influx, "")
	t.Logf("oasis-telegraf -check:\n%s", out.String())
	return code, out.String()
}

func checkNodeStatus(id signature.PublicKey, validator bool) *control.Status {
	return &control.Status{
		SoftwareVersion: "26.1",
		Identity:        control.IdentityStatus{Node: id},
		Consensus:       &consensus.Status{LatestHeight: 1000, IsValidator: validator},
	}
}

func TestCheckHealthySetup(t *testing.T) {
	var id signature.PublicKey
	require.NoError(t, id.UnmarshalText([]byte("GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=")))
	n := fakenode.Start(t)
	st := checkNodeStatus(id, true)
	var entity signature.PublicKey
	require.NoError(t, entity.UnmarshalText([]byte("ZXhhbXBsZS1lbnRpdHktaWQtMzItYnl0ZXMtbG9uZyE=")))
	st.Registration = &control.RegistrationStatus{Descriptor: &node.Node{Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: id, EntityID: entity}}
	n.SetStatus(st, nil)
	n.SetSynced(true, nil)
	var wrote string
	influx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		raw, _ := io.ReadAll(r.Body)
		body := string(raw)
		wrote = r.URL.Path + "?" + r.URL.RawQuery + " " + user + ":" + pass + " " + body
		w.WriteHeader(http.StatusNoContent)
	}))
	defer influx.Close()

	code, out := checkWith(t, "[[inputs.oasis_node]]\naddress = \"unix:"+n.Socket+"\"\nnode_id = \"GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=\"\n",
		influxTarget{url: influx.URL, database: "telegraf", user: "telegraf", password: "pw"})
	require.Equal(t, 0, code)
	for _, want := range []string{
		"ok    process    user ",
		"ok    socket     " + n.Socket + " accepts connections from this user",
		"ok    node       answers: oasis-node 26.1, node GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=",
		"ok    node_id    matches the configuration",
		"ok    entity     ZXhhbXBsZS1lbnRpdHktaWQtMzItYnl0ZXMtbG9uZyE= (for OASIS_ENTITY_ID, with OASIS_ENTITY_NAME your name for it)",
		"ok    validator  in the current validator set",
		"ok    synced     height 1000",
		"ok    influxdb   " + influx.URL + " takes writes to database telegraf as user telegraf",
		"all checks passed",
	} {
		require.Contains(t, out, want)
	}
	require.Contains(t, wrote, "/write?db=telegraf&precision=s telegraf:pw oasis_telegraf_check ok=1i ")
}

func TestCheckReportsEachProblem(t *testing.T) {
	var id, other signature.PublicKey
	require.NoError(t, id.UnmarshalText([]byte("GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=")))
	n := fakenode.Start(t)
	n.SetStatus(checkNodeStatus(other, false), nil)
	n.SetSynced(false, nil)
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"authorization failed"}`, http.StatusUnauthorized)
	}))
	defer refused.Close()

	code, out := checkWith(t, "[[inputs.oasis_node]]\naddress = \"unix:"+n.Socket+"\"\nnode_id = \""+id.String()+"\"\n",
		influxTarget{url: refused.URL, database: "telegraf", user: "telegraf"})
	require.Equal(t, 1, code)
	for _, want := range []string{
		"FAIL  node_id    the node at unix:" + n.Socket + " is " + other.String() + ", not the configured node_id " + id.String(),
		"skip  entity     the node has not registered yet: its entity is not known",
		"FAIL  validator  not in the current validator set at height 1000",
		"FAIL  synced     the node is still syncing (height 1000)",
		"FAIL  influxdb   writing to " + refused.URL + " database telegraf as telegraf: 401 Unauthorized",
		"4 check(s) failed",
	} {
		require.Contains(t, out, want)
	}

	// A sentry is not in the validator set, and is not failed for it.
	var sentryOut bytes.Buffer
	name, plugin, err := loadInput(writeConfig(t, "[[inputs.oasis_node]]\naddress = \"unix:"+n.Socket+"\"\n"))
	require.NoError(t, err)
	runCheck(&sentryOut, name, plugin, influxTarget{}, "sentry")
	require.Contains(t, sentryOut.String(), "skip  validator  not in the validator set, as a sentry is not")

	code, out = checkWith(t, "[[inputs.oasis_node]]\naddress = \"unix:/nonexistent/oasis/internal.sock\"\n", influxTarget{})
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAIL  socket     socket /nonexistent/oasis/internal.sock does not exist: the node is stopped, or the path (or its mount) is wrong [no_socket]")
	require.Contains(t, out, "skip  node       the socket must work first")
	require.Contains(t, out, "skip  influxdb   no -influxdb-url")

	// A stale socket: there, but nobody accepts.
	stale := filepath.Join(t.TempDir(), "internal.sock")
	l, err := net.Listen("unix", stale)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	code, out = checkWith(t, "[[inputs.oasis_node]]\naddress = \"unix:"+stale+"\"\n", influxTarget{})
	require.Equal(t, 1, code)
	require.Contains(t, out, "exists but nothing accepts on it: the node is stopped or still starting [not_answering]")
}

// As an unprivileged user who may not enter the node's 0700 data
// directory, -check says permission denied, names the user and points at
// the docs; the binary itself runs as that user (this test needs root to
// switch users, as CI has).
func TestCheckPermissionDenied(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to run oasis-telegraf as another user; CI runs as root")
		}
		t.Skip("needs root to run oasis-telegraf as another user")
	}
	// The binary, its config and the node's directories in a directory
	// nobody may enter, outside t.TempDir (whose parent is 0700).
	shared, err := os.MkdirTemp("", "oasis-check")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(shared) })
	require.NoError(t, os.Chmod(shared, 0o755))
	// A node's data directory: 0700, its own (root's here).
	dataDir := filepath.Join(shared, "node")
	require.NoError(t, os.Mkdir(dataDir, 0o700))
	socket := filepath.Join(dataDir, "internal.sock")
	l, err := net.Listen("unix", socket)
	require.NoError(t, err)
	defer l.Close()
	bin := filepath.Join(shared, "oasis-telegraf")
	raw, err := os.ReadFile(binary)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, raw, 0o755))
	cfg := filepath.Join(shared, "oasis_node.conf")
	require.NoError(t, os.WriteFile(cfg, []byte("[[inputs.oasis_node]]\naddress = \"unix:"+socket+"\"\n"), 0o644))

	// -check as nobody, with no environment but PATH.
	checkAsNobody := func() ([]byte, error) {
		cmd := exec.Command(bin, "-config", cfg, "-check")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		return cmd.CombinedOutput()
	}
	out, err := checkAsNobody()
	t.Logf("oasis-telegraf -check as uid 65534:\n%s", out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the check ran and failed")
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "FAIL  socket     socket "+socket+": directory "+dataDir+" (owner root, group root (0), mode drwx------) can't be entered by user ")
	require.Contains(t, string(out), "(uid 65534)")
	require.Contains(t, string(out), "see docs/install.md#socket-access")
	require.Contains(t, string(out), "[permission_denied]")
	require.True(t, strings.HasSuffix(strings.TrimSpace(string(out)), "(socket access: docs/install.md#socket-access)"))

	// The documented layout with the monitor outside the group: the socket
	// in a directory it may enter, but not group-writable for it.
	sockDir := filepath.Join(shared, "run-oasis")
	require.NoError(t, os.Mkdir(sockDir, 0o755))
	socket2 := filepath.Join(sockDir, "internal.sock")
	l2, err := net.Listen("unix", socket2)
	require.NoError(t, err)
	defer l2.Close()
	require.NoError(t, os.Chmod(socket2, 0o660))
	require.NoError(t, os.WriteFile(cfg, []byte("[[inputs.oasis_node]]\naddress = \"unix:"+socket2+"\"\n"), 0o644))
	out, _ = checkAsNobody()
	t.Logf("oasis-telegraf -check as uid 65534, socket 0660 root:root:\n%s", out)
	require.Contains(t, string(out), "FAIL  socket     socket "+socket2+" (owner root, group root (0), mode Srw-rw----): permission denied for user nobody (uid 65534)")
	require.Contains(t, string(out), "the socket must be group-writable by a group this process is in (see docs/install.md#socket-access) [permission_denied]")
}
