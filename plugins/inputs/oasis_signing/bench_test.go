package oasis_signing

import (
	"fmt"
	"path/filepath"
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
