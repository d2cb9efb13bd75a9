// Package devnettest runs a local network of real oasis-node validators for
// integration tests. It builds and drives the oasis-devnet command from the
// repository's devnet/ module, which needs oasis-core's replace lines (and
// Debian's libseccomp-dev and pkg-config), and reads its manifest with that
// module's manifest package.
//
// A test that needs a real node calls Start. A missing prerequisite (Go
// toolchain, C library) fails the test: integration tests never skip.
package devnettest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// Validator is one validator of a running devnet, as the devnet's
// manifest (network.json) describes it.
type Validator = manifest.Validator

// Options shape the network a test starts.
type Options struct {
	Validators    int
	BlockInterval time.Duration
	EpochBlocks   int64
	// SocketDir puts the validators' sockets there (validator-N.sock)
	// instead of in their data directories.
	SocketDir string
	// RunAs runs the validators as this user, as on an operator's host:
	// their data and entity directories are given to it (the node wants
	// its data directory 0700 and its own). Needs root.
	RunAs *syscall.Credential
	// Umask is the validators' umask in octal (e.g. "0007": the socket
	// group-writable); empty: the test's own.
	Umask string
	// Metrics: each validator serves its Prometheus metrics
	// (Validator.MetricsPort).
	Metrics bool
	// Clients adds client-mode nodes after the validators (Validator.Client):
	// full nodes that validate nothing, as an operator's observer node.
	Clients int
	// MaxValidators below Validators leaves the validators with the least
	// escrow (the last) out of the set from epoch 1 on; 0: all elected.
	MaxValidators int
	// ComputeNodes makes validators 1 to ComputeNodes also compute nodes
	// of the devnet's ParaTime (Manifest.RuntimeID, Validator.Compute).
	ComputeNodes int
}

// Net is a running devnet.
type Net struct {
	manifest.Manifest
	opts  Options
	bin   string
	t     testing.TB
	mu    sync.Mutex
	procs map[int]*proc.Process
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds oasis-devnet (once per test binary; Go's build cache makes
// a rebuild of unchanged sources quick) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	SkipIfShort(t)
	buildOnce.Do(func() {
		root := RepoRoot()
		binPath = filepath.Join(root, "bin", "oasis-devnet")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/oasis-devnet")
		cmd.Dir = filepath.Join(root, "devnet")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building oasis-devnet (needs Debian's libseccomp-dev and pkg-config; `make deps` installs them): %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Start creates and starts a devnet, waits until every validator's socket
// answers and the chain has made a few blocks, and tears it down (no
// processes, no files left) when the test ends.
func Start(t testing.TB, opts Options) *Net {
	t.Helper()
	bin := Binary(t)
	if opts.Validators == 0 {
		opts.Validators = 1
	}
	if opts.BlockInterval == 0 {
		opts.BlockInterval = time.Second
	}
	if opts.EpochBlocks == 0 {
		opts.EpochBlocks = 30
	}
	// Socket paths are limited to 107 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "devnet")
	if err != nil {
		t.Fatal(err)
	}
	n := &Net{opts: opts, bin: bin, t: t, procs: map[int]*proc.Process{}}
	t.Cleanup(func() {
		n.StopAll()
		if t.Failed() {
			t.Logf("devnet directory kept for inspection: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})

	args := []string{"init", "-dir", dir,
		"-validators", strconv.Itoa(opts.Validators),
		"-block-interval", opts.BlockInterval.String(),
		"-epoch-blocks", strconv.FormatInt(opts.EpochBlocks, 10)}
	if opts.Metrics {
		args = append(args, "-metrics")
	}
	if opts.Clients > 0 {
		args = append(args, "-clients", strconv.Itoa(opts.Clients))
	}
	if opts.ComputeNodes > 0 {
		args = append(args, "-compute", strconv.Itoa(opts.ComputeNodes))
	}
	if opts.MaxValidators > 0 {
		args = append(args, "-max-validators", strconv.Itoa(opts.MaxValidators))
	}
	if opts.SocketDir != "" {
		args = append(args, "-socket-dir", opts.SocketDir)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("oasis-devnet init: %v %s", err, stderrOf(err))
	}
	m, err := manifest.Decode(out)
	if err != nil {
		t.Fatalf("decoding oasis-devnet init output: %v\n%s", err, out)
	}
	n.Manifest = *m
	if opts.RunAs != nil {
		if err := n.handTo(*opts.RunAs); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n.Validators {
		n.StartValidator(i)
	}
	for i := range n.Validators {
		n.WaitForHeight(i, 3, 60*time.Second)
	}
	return n
}

// StartValidator starts validator i in its own process.
func (n *Net) StartValidator(i int) {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.procs[i]
	if !ok {
		args := []string{"node", "-dir", n.Dir, "-index", strconv.Itoa(i)}
		if n.opts.Umask != "" {
			args = append(args, "-umask", n.opts.Umask)
		}
		p = proc.New(fmt.Sprintf("validator %d", i),
			filepath.Join(n.Dir, fmt.Sprintf("validator-%d.out", i)), nil, n.bin, args...)
		p.RunAs(n.opts.RunAs)
		n.procs[i] = p
	}
	if err := p.Start(); err != nil {
		n.t.Fatal(err)
	}
}

// StopValidator stops validator i. A validator that does not shut down
// cleanly (a non-zero exit, e.g. a panic while stopping) fails the test.
func (n *Net) StopValidator(i int) {
	n.mu.Lock()
	p, ok := n.procs[i]
	n.mu.Unlock()
	if !ok {
		return
	}
	if err := p.Shutdown(); err != nil {
		if knownShutdownRace(p.Log()) {
			// CometBFT's consensus reactor can read the block store after
			// the node closed it (queryMaj23Routine, "panic: DB Closed"):
			// an upstream race in stopping, not a fault of the node's
			// service or of what the tests check. Logged, not failed.
			n.t.Logf("%v (CometBFT's known shutdown race: panic: DB Closed in the consensus reactor)", err)
			return
		}
		n.t.Error(err)
	}
}

// KillValidator ends validator i with SIGKILL, as a crash or the OOM
// killer would; StartValidator starts it again.
func (n *Net) KillValidator(i int) {
	n.mu.Lock()
	p, ok := n.procs[i]
	n.mu.Unlock()
	if ok {
		p.Kill()
	}
}

// knownShutdownRace reports whether a validator's log ends in CometBFT's
// block-store-closed panic during shutdown, and nothing else.
func knownShutdownRace(log string) bool {
	i := strings.LastIndex(log, "panic: ")
	if i < 0 {
		return false
	}
	tail := log[i:]
	return strings.HasPrefix(tail, "panic: DB Closed") && strings.Contains(tail, "consensus.(*Reactor).queryMaj23Routine")
}

// StopAll stops every running validator.
func (n *Net) StopAll() {
	n.mu.Lock()
	var idx []int
	for i, p := range n.procs {
		if p.Running() {
			idx = append(idx, i)
		}
	}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() { defer wg.Done(); n.StopValidator(i) }()
	}
	wg.Wait()
}

// Address is the plugin address of validator i's socket.
func (n *Net) Address(i int) string { return "unix:" + n.Validators[i].Socket }

// Client returns a node client for validator i, closed when the test ends.
func (n *Net) Client(i int) *nodeclient.Client {
	n.t.Helper()
	c, err := nodeclient.New(nodeclient.Config{Address: n.Address(i)})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// WaitForHeight waits until validator i reports at least height.
func (n *Net) WaitForHeight(i int, height int64, timeout time.Duration) int64 {
	n.t.Helper()
	c := n.Client(i)
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := c.NodeStatus(context.Background())
		if err == nil && st.Consensus != nil && st.Consensus.LatestHeight >= height {
			return st.Consensus.LatestHeight
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	n.t.Fatalf("validator %d did not reach height %d within %s (last error: %v); logs in %s",
		i, height, timeout, lastErr, n.Validators[i].DataDir)
	return 0
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// pids are the process IDs of the running validators.
func (n *Net) pids() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var pids []int
	for _, p := range n.procs {
		if pid := p.PID(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// BuildCommand builds a command of the product module (e.g. "./cmd/oasis-telegraf")
// into the test's temporary directory (quick: Go's build cache holds the
// work) and returns the binary's path.
func BuildCommand(t testing.TB, pkg string) string {
	t.Helper()
	SkipIfShort(t)
	path := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return path
}

// SkipIfShort skips an integration test under -short, Telegraf's
// convention for its fast loop (make test-unit). It is the only skip an
// integration test has: make test and CI never pass -short, and there a
// missing prerequisite fails the test.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real devnet or stack): skipped under -short; make test runs it")
	}
}

// handTo gives the network to the user validators run as: the network
// directory may be traversed (not listed), the manifest and genesis read,
// and each validator's data and entity directories are the user's. The
// data directories stay 0700, as oasis-node requires.
func (n *Net) handTo(cred syscall.Credential) error {
	if err := os.Chmod(n.Dir, 0o711); err != nil {
		return err
	}
	for _, f := range []string{filepath.Join(n.Dir, manifest.Name), n.GenesisFile} {
		if err := os.Chmod(f, 0o644); err != nil {
			return err
		}
	}
	for _, v := range n.Validators {
		for _, d := range []string{v.DataDir, v.EntityDir} {
			err := filepath.WalkDir(d, func(path string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(path, int(cred.Uid), int(cred.Gid))
			})
			if err != nil {
				return fmt.Errorf("handing %s to uid %d: %w", d, cred.Uid, err)
			}
		}
	}
	return nil
}
