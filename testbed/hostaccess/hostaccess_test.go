package hostaccess

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// ran is one run of oasis-telegraf as some user.
type ran struct {
	code           int
	stdout, stderr string
}

// runAs runs bin with args as cred, with no environment but PATH.
func runAs(t *testing.T, cred *syscall.Credential, bin string, args ...string) ran {
	t.Helper()
	return runAsWith(t, cred, []string{"PATH=/usr/bin:/bin"}, bin, args...)
}

// runAsWith runs bin with args as cred, with exactly env.
func runAsWith(t *testing.T, cred *syscall.Credential, env []string, bin string, args ...string) ran {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := ran{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

// The documented layout on real processes: the validator runs as its own
// user with a 0700 data directory and its socket in /run/oasis-like
// directory of the monitoring group, under umask 0007. A monitor user in
// that group reads the node with every input, before and after the node
// restarts (which recreates the socket); a user outside the group gets
// permission_denied naming the socket, its group and the user, never
// "node down"; and the monitor can't read the node's keys.
func TestSocketAccessOnTheOperatorsLayout(t *testing.T) {
	needRoot(t)
	monitorGID := group(t, "omc-test-monitor")
	nodeUser := account(t, "omc-test-node")
	monitor := account(t, "omc-test-telegraf", monitorGID)
	outsider := account(t, "omc-test-outsider")

	shared, runDir, net := operatorsLayout(t, nodeUser, monitorGID)
	v := net.Validators[0]
	require.Equal(t, filepath.Join(runDir, "validator-0.sock"), v.Socket)

	// What oasis-node made: its data directory 0700 and its own; the
	// socket in the shared directory, group monitoring, group-writable.
	requireOwned(t, v.DataDir, nodeUser.Uid, 0o700|os.ModeDir)
	st := stat(t, v.Socket)
	require.Equal(t, nodeUser.Uid, st.Uid, "socket owner")
	require.Equal(t, monitorGID, st.Gid, "socket group (setgid directory)")
	require.Equal(t, "Srwxrwx---", fileMode(t, v.Socket), "socket mode under umask 0007")

	bin := filepath.Join(shared, "oasis-telegraf")
	copyFile(t, devnettest.BuildCommand(t, "./cmd/oasis-telegraf"), bin, 0o755)
	stateDir := filepath.Join(shared, "state")
	require.NoError(t, os.Mkdir(stateDir, 0o700))
	require.NoError(t, os.Chown(stateDir, int(monitor.Uid), int(monitor.Gid)))
	configs := map[string]string{
		"oasis_node":       fmt.Sprintf("[[inputs.oasis_node]]\naddress = %q\nnode_id = %q\n", "unix:"+v.Socket, v.NodeID),
		"oasis_entity":     fmt.Sprintf("[[inputs.oasis_entity]]\naddress = %q\n", "unix:"+v.Socket),
		"oasis_governance": fmt.Sprintf("[[inputs.oasis_governance]]\naddress = %q\n", "unix:"+v.Socket),
		"oasis_signing":    fmt.Sprintf("[[inputs.oasis_signing]]\naddress = %q\nstate_file = %q\n", "unix:"+v.Socket, filepath.Join(stateDir, "signing.json")),
	}
	for name, body := range configs {
		require.NoError(t, os.WriteFile(filepath.Join(shared, name+".conf"), []byte(body), 0o644))
	}
	once := func(cred *syscall.Credential, plugin string) ran {
		return runAs(t, cred, bin, "-config", filepath.Join(shared, plugin+".conf"), "-once")
	}

	// (a) In the monitoring group: every input reads the node.
	for plugin := range configs {
		r := once(monitor, plugin)
		require.Equal(t, 0, r.code, "%s as the monitor:\n%s", plugin, r.stderr)
		require.Contains(t, r.stdout, "up=1i", "%s as the monitor", plugin)
	}
	r := runAs(t, monitor, bin, "-config", filepath.Join(shared, "oasis_node.conf"), "-check")
	require.Equal(t, 0, r.code, "-check as the monitor:\n%s", r.stdout)
	require.Contains(t, r.stdout, "ok    socket     "+v.Socket+" accepts connections from this user")
	require.Contains(t, r.stdout, "ok    node_id    matches the configuration")

	// The monitor can't read the node's keys or list its data directory.
	for _, secret := range []string{filepath.Join(v.DataDir, "identity.pem"), filepath.Join(v.DataDir, "consensus.pem")} {
		r := runAs(t, monitor, "/bin/cat", secret)
		require.NotEqual(t, 0, r.code, "the monitor read %s", secret)
		require.Contains(t, r.stderr, "Permission denied")
	}

	// (b) Outside the group: permission denied, named, and not "node down".
	r = once(outsider, "oasis_node")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, `down_reason="permission_denied"`)
	require.Contains(t, r.stderr, "socket "+v.Socket+": directory "+runDir+" (owner omc-test-node, group omc-test-monitor (")
	require.Contains(t, r.stderr, "mode dgrwxr-x---) can't be entered by user omc-test-outsider")
	require.Contains(t, r.stderr, "join the directory's group")
	require.Contains(t, r.stderr, "docs/install.md#socket-access")

	// (c) The node restarts and recreates its socket: access still works.
	net.StopValidator(0)
	r = once(monitor, "oasis_node")
	require.Equal(t, 1, r.code)
	require.Regexp(t, `down_reason="(no_socket|not_answering)"`, r.stdout, "a stopped node is no_socket, not permission_denied")
	net.StartValidator(0)
	var last ran
	wait.Until(t, func() bool {
		last = once(monitor, "oasis_node")
		return last.code == 0
	}, 60*time.Second, 500*time.Millisecond, "the monitor reads the restarted node")
	require.Contains(t, last.stdout, "up=1i")
	require.Equal(t, "Srwxrwx---", fileMode(t, v.Socket), "the recreated socket keeps the mode")
	require.Equal(t, monitorGID, stat(t, v.Socket).Gid, "and the group")
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t)
}

func fileMode(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().String()
}

func requireOwned(t *testing.T, path string, uid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, mode.String(), fi.Mode().String(), "%s mode", path)
	require.Equal(t, uid, fi.Sys().(*syscall.Stat_t).Uid, "%s owner", path)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	raw, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, raw, mode))
	require.True(t, strings.HasPrefix(to, os.TempDir()))
}
