package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/network"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
)

// Validators started with `start` run detached; their PID is kept in
// <datadir>/node.pid so that later commands can stop them.

func pidFile(v network.Validator) string { return filepath.Join(v.DataDir, "node.pid") }

// runningPID returns the PID of validator v if it is running.
func runningPID(v network.Validator) (int, bool) {
	raw, err := os.ReadFile(pidFile(v))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return 0, false
	}
	return pid, true
}

// startValidator starts validator v in its own detached process and waits
// until its socket exists.
func startValidator(m *network.Manifest, v network.Validator) error {
	if pid, ok := runningPID(v); ok {
		return fmt.Errorf("validator %d is already running (pid %d)", v.Index, pid)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(v.DataDir, "node.out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(self, "node", "-dir", m.Dir, "-index", strconv.Itoa(v.Index))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(pidFile(v), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		return err
	}
	_ = cmd.Process.Release()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(v.Socket); err == nil {
			return nil
		}
		if _, ok := runningPID(v); !ok {
			return fmt.Errorf("validator %d exited at start; see %s", v.Index, out.Name())
		}
	}
	return fmt.Errorf("validator %d: no socket after 60 s; see %s", v.Index, out.Name())
}

// stopValidator stops validator v: SIGTERM to its process group, SIGKILL
// after proc.StopGrace. Stopping a validator that is not running is not an error.
func stopValidator(v network.Validator) error {
	pid, ok := runningPID(v)
	if !ok {
		_ = os.Remove(pidFile(v))
		return nil
	}
	if err := proc.StopGroup(pid, proc.StopGrace+10*time.Second); err != nil {
		return fmt.Errorf("validator %d: %w", v.Index, err)
	}
	return os.Remove(pidFile(v))
}

type listed struct {
	network.Validator
	Running bool `json:"running"`
	PID     int  `json:"pid,omitempty"`
}

func listValidators(m *network.Manifest) error {
	out := make([]listed, 0, len(m.Validators))
	for _, v := range m.Validators {
		pid, ok := runningPID(v)
		out = append(out, listed{Validator: v, Running: ok, PID: pid})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// selectValidators resolves -index (or all when index < 0).
func selectValidators(m *network.Manifest, index int) ([]network.Validator, error) {
	if index < 0 {
		return m.Validators, nil
	}
	if err := m.CheckValidator(index); err != nil {
		return nil, err
	}
	return []network.Validator{m.Validators[index]}, nil
}

func forEach(vs []network.Validator, fn func(network.Validator) error) error {
	var errs []error
	for _, v := range vs {
		if err := fn(v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
