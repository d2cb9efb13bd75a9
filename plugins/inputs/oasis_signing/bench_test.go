package oasis_signing

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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
// cmd/oasis-telegraf) through a backfill of 10,000 and 100,000 heights from
// the fake node and reports its speed and its peak resident memory (the
// kernel's maxrss of the child): memory that does not grow with the
// heights backfilled is what a node returning after a long outage needs.
//
//	go test -run '^$' -bench BackfillProcess -benchtime 1x -timeout 30m ./plugins/inputs/oasis_signing/
func BenchmarkBackfillProcess(bb *testing.B) {
	bin := filepath.Join(bb.TempDir(), "oasis-telegraf")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/oasis-telegraf").CombinedOutput(); err != nil {
		bb.Fatalf("go build: %v\n%s", err, out)
	}
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
				body := fmt.Sprintf("[[inputs.oasis_signing]]\naddress = %q\nnode_ids = [%q]\nstate_file = %q\n", "unix:"+n.Socket, usNode.String(), state)
				if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
					bb.Fatal(err)
				}
				cmd := exec.Command(bin, "-config", config, "-once", "-once-wait", "20m")
				start := time.Now()
				out, err := cmd.CombinedOutput()
				took := time.Since(start)
				if err != nil {
					bb.Fatalf("oasis-telegraf -once: %v\n%s", err, out)
				}
				saved := signing.NewTracker()
				if found, err := statefile.Load(state, saved); err != nil || !found {
					bb.Fatalf("state after the backfill: found %v, %v", found, err)
				}
				if saved.LastHeight < int64(heights) {
					bb.Fatalf("backfilled to %d of %d", saved.LastHeight, heights)
				}
				bb.ReportMetric(float64(heights)/took.Seconds(), "blocks/s")
				bb.ReportMetric(float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024, "peak_rss_MiB")
			}
		})
	}
}
