// Package hostaccess runs the operator's host layout for real: a validator
// as its own non-root user with a 0700 data directory and its socket in a
// directory of its own (docs/install.md#socket-access), and the monitor as
// other non-root users. Its test needs root to create the users (CI runs
// as root).
package hostaccess

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
)

// needRoot fails the test in CI and skips it elsewhere when this process
// can't create users or run processes as them.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the host-access test creates users and runs processes as them: it needs root, as CI has")
	}
	t.Skip("needs root to create users and run processes as them")
}

// group makes (once) a system group and returns its ID.
func group(t *testing.T, name string) uint32 {
	t.Helper()
	if g, err := user.LookupGroup(name); err == nil {
		return parseID(t, g.Gid)
	}
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	return parseID(t, g.Gid)
}

// account makes (once) a system user with a group of its own and returns
// the credential to run as it with the given supplementary groups.
func account(t *testing.T, name string, groups ...uint32) *syscall.Credential {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v\n%s", name, err, out)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: parseID(t, u.Uid), Gid: parseID(t, u.Gid), Groups: groups}
}

func parseID(t *testing.T, s string) uint32 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(fmt.Errorf("id %q: %w", s, err))
	}
	return uint32(id)
}

// operatorsLayout makes the documented socket layout
// (docs/install.md#socket-access) and starts a validator in it: a
// directory every test user may enter (t.TempDir's parent is 0700), for
// the socket directory, binaries, configs and state; in it the socket's
// own directory, /run/oasis-like: the node user's, group monitoring,
// setgid so the socket inherits the group, nobody else; and one validator
// running as nodeUser with its socket there, under umask 0007.
func operatorsLayout(t *testing.T, nodeUser *syscall.Credential, monitorGID uint32) (shared, runDir string, net *devnettest.Net) {
	t.Helper()
	shared, err := os.MkdirTemp("", "omc-host")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	runDir = filepath.Join(shared, "run-oasis")
	for _, step := range []error{
		os.Chmod(shared, 0o755),
		os.Mkdir(runDir, 0o750),
		os.Chown(runDir, int(nodeUser.Uid), int(monitorGID)),
		os.Chmod(runDir, 0o750|os.ModeSetgid),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	net = devnettest.Start(t, devnettest.Options{
		Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10,
		SocketDir: runDir, RunAs: nodeUser, Umask: "0007",
	})
	return shared, runDir, net
}
