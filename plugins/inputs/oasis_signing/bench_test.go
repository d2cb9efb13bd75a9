package oasis_signing

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/signing"
	"github.com/oasis-mission-control/oasis-mission-control/internal/statefile"
)

// BenchmarkBackfill measures catching up 5,000 heights from a node on a
// local UNIX socket (the fake node: oasis-core's gRPC services and codec
// serving prebuilt blocks, so the figure is the plugin's, not the node's).
//
//	go test -run '^$' -bench Backfill ./plugins/inputs/oasis_signing/
func BenchmarkBackfill(bb *testing.B) {
	const heights = 5_000
	n := fakenode.Start(bb)
	n.Chain.AddNode(usDescriptor())
	for range heights + 1 {
		n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)})
	}
	dir := bb.TempDir()
	bb.ResetTimer()
	start := time.Now()
	// A backfill that stalls fails the benchmark rather than spinning.
	const stallLimit = 2 * time.Minute
	for i := range bb.N {
		state := filepath.Join(dir, fmt.Sprintf("state-%d.json", i))
		// A saved state at height 1: the plugin has 5,000 heights to catch up.
		tr := signing.NewTracker()
		tr.LastHeight = 1
		tr.Track(blockmeta.Address(us))
		if err := statefile.Save(state, tr); err != nil {
			bb.Fatal(err)
		}
		p := &OasisSigning{
			Config:    nodeclient.Config{Address: "unix:" + n.Socket},
			NodeIDs:   []string{usNode.String()},
			StateFile: state,
			Log:       testutil.Logger{},
		}
		if err := p.Init(); err != nil {
			bb.Fatal(err)
		}
		acc := &testutil.Accumulator{}
		if err := p.Start(acc); err != nil {
			bb.Fatal(err)
		}
		for deadline := time.Now().Add(stallLimit); ; time.Sleep(time.Millisecond) {
			p.mu.Lock()
			last := p.tracker.LastHeight
			p.mu.Unlock()
			if last >= heights {
				break
			}
			if time.Now().After(deadline) {
				bb.Fatalf("backfill stalled at height %d of %d after %s; errors: %v", last, heights, stallLimit, acc.Errors)
			}
		}
		p.Stop()
	}
	bb.ReportMetric(float64(heights*bb.N)/time.Since(start).Seconds(), "blocks/s")
}

// BenchmarkBackfillProcess runs a whole oasis-telegraf process (built from
// cmd/oasis-telegraf) as Telegraf's execd runs it (a newline on stdin asks
// for a gather, line protocol comes out on stdout and is read as it comes)
// through a backfill of 10,000 and 100,000 heights from the fake node, and
// reports its speed and its peak resident memory (VmHWM) once caught up:
// memory that does not grow with the heights backfilled is what a node
// coming back after a long outage needs.
//
//	go test -run '^$' -bench BackfillProcess -benchtime 1x -timeout 30m ./plugins/inputs/oasis_signing/
func BenchmarkBackfillProcess(bb *testing.B) {
	bin := filepath.Join(bb.TempDir(), "oasis-telegraf")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/oasis-telegraf").CombinedOutput(); err != nil {
		bb.Fatalf("go build: %v\n%s", err, out)
	}
	lastHeight := regexp.MustCompile(`^oasis_input,.* .*last_height=(\d+)i`)
	for _, heights := range []int{10_000, 100_000} {
		bb.Run(fmt.Sprintf("heights=%d", heights), func(bb *testing.B) {
			n := fakenode.Start(bb)
			n.Chain.AddNode(usDescriptor())
			for range heights + 1 {
				n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)})
			}
			for range bb.N {
				dir := bb.TempDir()
				state := filepath.Join(dir, "state.json")
				tr := signing.NewTracker()
				tr.LastHeight = 1
				tr.Track(blockmeta.Address(us))
				if err := statefile.Save(state, tr); err != nil {
					bb.Fatal(err)
				}
				config := filepath.Join(dir, "signing.conf")
				// backfill_limit raised past the heights: by default a node more
				// than 20,000 heights ahead is skipped, not backfilled.
				body := fmt.Sprintf("[[inputs.oasis_signing]]\naddress = %q\nnode_ids = [%q]\nstate_file = %q\nbackfill_limit = %d\n",
					"unix:"+n.Socket, usNode.String(), state, 2*heights)
				if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
					bb.Fatal(err)
				}
				cmd := exec.Command(bin, "-config", config)
				stdin, err := cmd.StdinPipe()
				if err != nil {
					bb.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					bb.Fatal(err)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				start := time.Now()
				if err := cmd.Start(); err != nil {
					bb.Fatal(err)
				}
				var last atomic.Int64
				go func() {
					sc := bufio.NewScanner(stdout)
					sc.Buffer(make([]byte, 1<<20), 1<<20)
					for sc.Scan() {
						if m := lastHeight.FindStringSubmatch(sc.Text()); m != nil {
							h, _ := strconv.ParseInt(m[1], 10, 64)
							last.Store(h)
						}
					}
				}()
				for deadline := start.Add(10 * time.Minute); last.Load() < int64(heights); time.Sleep(100 * time.Millisecond) {
					if time.Now().After(deadline) {
						_ = cmd.Process.Kill()
						bb.Fatalf("backfilled to %d of %d in 10 minutes:\n%s", last.Load(), heights, stderr.String())
					}
					_, _ = stdin.Write([]byte("\n"))
				}
				took := time.Since(start)
				status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
				if err != nil {
					bb.Fatal(err)
				}
				_ = stdin.Close()
				_ = cmd.Wait()
				var hwm float64
				for _, line := range strings.Split(string(status), "\n") {
					if strings.HasPrefix(line, "VmHWM:") {
						kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
						hwm = kb / 1024
					}
				}
				bb.ReportMetric(float64(heights)/took.Seconds(), "blocks/s")
				bb.ReportMetric(hwm, "peak_rss_MiB")
			}
		})
	}
}
