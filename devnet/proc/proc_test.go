package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		port, err := FreePort()
		require.NoError(t, err)
		require.True(t, port >= 20000 && port < 32000, "port %d", port)
	}
}

func newSleeper(t *testing.T, script string) *Process {
	t.Helper()
	return New("sleeper", filepath.Join(t.TempDir(), "out.log"), []string{"GREETING=hello"}, "/bin/sh", "-c", script)
}

// A clean exit on SIGTERM is a clean shutdown; the environment and the log
// reach the child; a second Start restarts it.
func TestShutdownAndRestart(t *testing.T) {
	p := newSleeper(t, `trap 'exit 0' TERM; echo "$GREETING"; while :; do sleep 0.05; done`)
	require.NoError(t, p.Start())
	waitForLog(t, p, "hello", 1)
	require.Error(t, p.Start(), "already running")
	require.True(t, p.Running())
	require.NotZero(t, p.PID())
	require.NoError(t, p.Shutdown())
	require.False(t, p.Running())
	require.Zero(t, p.PID())
	require.NoError(t, p.Shutdown(), "shutting down a stopped process is not an error")
	require.NoError(t, p.Start())
	waitForLog(t, p, "hello", 2)
	require.NoError(t, p.Shutdown())
	require.Equal(t, 2, strings.Count(p.Log(), "hello"), "the environment reached both runs: %q", p.Log())
}

// A process that exits non-zero when asked to stop is reported.
func TestUncleanShutdownIsReported(t *testing.T) {
	p := newSleeper(t, `trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	require.NoError(t, p.Start())
	waitForLog(t, p, "ready", 1)
	err := p.Shutdown()
	require.ErrorContains(t, err, "did not shut down cleanly")
	require.ErrorContains(t, err, "exit status 3")
}

// Kill takes the whole process group: a grandchild dies with its parent.
func TestKillTakesTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	p := newSleeper(t, `sleep 300 & echo $! > `+pidFile+`; wait`)
	require.NoError(t, p.Start())
	var child int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, err := exec.Command("cat", pidFile).Output()
		require.NoError(c, err)
		_, err = fmt.Sscan(strings.TrimSpace(string(out)), &child)
		require.NoError(c, err)
	}, 5*time.Second, 10*time.Millisecond)
	exited := p.Exited()
	p.Kill()
	select {
	case <-exited:
	default:
		t.Fatal("Kill returned before the process ended")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, gone(child), "grandchild %d is gone", child)
	}, 5*time.Second, 10*time.Millisecond)
}

// StopGroup stops a detached process known only by its PID.
func TestStopGroup(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", `trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	require.NoError(t, StopGroup(cmd.Process.Pid, 10*time.Second))
	select {
	case <-done: // ended (by its trap or by the signal itself)
	case <-time.After(5 * time.Second):
		t.Fatal("the process did not end")
	}
}

// gone reports whether pid has ended: no such process, or a zombie that
// only waits for its (new) parent to reap it.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// waitForLog waits until the process has logged want n times (its traps
// are set by then), failing the test after 5 s.
func waitForLog(t *testing.T, p *Process, want string, n int) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, strings.Count(p.Log(), want), n, "log: %q", p.Log())
	}, 5*time.Second, 10*time.Millisecond)
}
