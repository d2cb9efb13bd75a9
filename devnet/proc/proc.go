// Package proc supervises the child processes of the test bed and the
// devnet (validators, influxd, Telegraf, Kapacitor) and picks their ports:
// the one place that starts, stops and kills them. It imports nothing
// outside the standard library, so every module of the repository that
// runs processes can use it.
package proc

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long a process gets between SIGTERM and SIGKILL.
const StopGrace = 15 * time.Second

// FreePort is a loopback TCP port nobody listens on now, below Linux's
// default ephemeral range (32768-60999). The kernel hands ports from that
// range to port-0 listeners and outgoing connections, so a port chosen
// there can be taken before the server (re)binds it, as happened to a
// devnet validator in CI; below the range only another explicit choice
// can collide.
func FreePort() (int, error) {
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken; try another
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port in 20000-31999")
}

// Process is a child process in its own process group, so nothing it
// starts outlives it, and killed with its parent if the parent dies first.
type Process struct {
	Name string
	args []string
	env  []string
	log  string
	cred *syscall.Credential
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, set before done closes
}

// New prepares bin with args and extra environment, logging to logFile.
func New(name, logFile string, env []string, bin string, args ...string) *Process {
	return &Process{Name: name, args: append([]string{bin}, args...), env: env, log: logFile}
}

// RunAs makes the process run as another user (uid, gid and
// supplementary groups), as a node or a monitor does on an operator's
// host. Starting it then needs root.
func (p *Process) RunAs(cred *syscall.Credential) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cred = cred
}

// Start starts the process (again, after Stop).
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.Name)
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { p.err = cmd.Wait(); close(done) }(p.done)
	return nil
}

// Running reports whether the process was started and not stopped.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Exited is closed when the running process ends (nil when not started).
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// PID is the process's ID, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Shutdown stops the process and its children (SIGTERM, SIGKILL after
// StopGrace) and reports an unclean end: a non-zero exit, or having to be
// killed. Shutting down a process that is not running is not an error.
func (p *Process) Shutdown() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
		if p.err != nil {
			return fmt.Errorf("%s did not shut down cleanly: %w; see %s", p.Name, p.err, p.log)
		}
		return nil
	case <-time.After(StopGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s ignored SIGTERM for %s and was killed; see %s", p.Name, StopGrace, p.log)
	}
}

// Kill ends the process and its group with SIGKILL at once, as a crash or
// the OOM killer would, and waits until it is gone.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Stop is Shutdown for callers that only need the process gone.
func (p *Process) Stop() { _ = p.Shutdown() }

// Log is what the process has written so far.
func (p *Process) Log() string {
	raw, _ := os.ReadFile(p.log)
	return string(raw)
}

// StopGroup stops a process started elsewhere (a detached validator known
// by its PID file): SIGTERM to its process group, SIGKILL after StopGrace,
// and returns when the process is gone or the deadline passes.
func StopGroup(pid int, deadline time.Duration) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	kill := time.Now().Add(StopGrace)
	giveUp := time.Now().Add(deadline)
	for syscall.Kill(pid, 0) == nil {
		now := time.Now()
		if now.After(giveUp) {
			return fmt.Errorf("process %d still running after %s", pid, deadline)
		}
		if now.After(kill) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			kill = giveUp
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
