package oasis_signing_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/signing"
	"github.com/oasis-mission-control/oasis-mission-control/internal/statefile"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
)

// BenchmarkFollowDevnet runs oasis-telegraf with oasis_signing against a
// four-validator devnet at a 100 ms block interval (its full rate here), as
// Telegraf runs it, and reports: backfill speed from a real node, the lag
// behind the chain tip while following (sampled every 500 ms for 60 s), and
// the process's CPU time and peak RSS.
//
//	cd testbed && go test -run '^$' -bench FollowDevnet -benchtime 1x -timeout 30m ./plugins/oasis_signing/
func BenchmarkFollowDevnet(b *testing.B) {
	for _, all := range []bool{false, true} {
		b.Run(fmt.Sprintf("all_validators=%v", all), func(b *testing.B) {
			for range b.N {
				followDevnet(b, all)
			}
		})
	}
}

func followDevnet(b *testing.B, allValidators bool) {
	net := devnettest.Start(b, devnettest.Options{Validators: 4, BlockInterval: 100 * time.Millisecond, EpochBlocks: 50})
	bin := devnettest.BuildCommand(b, "./cmd/oasis-telegraf")
	c := net.Client(0)
	tip := net.WaitForHeight(0, 500, 5*time.Minute)
	// The node's own limit, side by side: the same heights fetched with
	// as many calls in flight as the plugin makes (fetchBatch, 32), before
	// and after the plugin's backfill (the second run finds the node's
	// caches warm, as the plugin did).
	nodeBefore := nodeBlockRate(b, c, tip)

	dir := b.TempDir()
	state := filepath.Join(dir, "state.json")
	tr := signing.NewTracker()
	tr.LastHeight = 1 // backfill the whole chain so far
	if err := statefile.Save(state, tr); err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "signing.conf")
	body := fmt.Sprintf("[[inputs.oasis_signing]]\naddress = %q\nstate_file = %q\nall_validators = %v\n",
		net.Address(0), state, allValidators)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	started := time.Now()
	p := startPluginProcess(b, bin, config)
	var caughtUp time.Duration
	for caughtUp == 0 {
		if s := p.latestStatus(); s != nil && s.Fields()["last_height"].(int64) >= tip-1 {
			caughtUp = time.Since(started)
		}
		if time.Since(started) > 2*time.Minute {
			b.Fatal("did not catch up within 2 minutes")
		}
		_, _ = p.stdin.Write([]byte("\n"))
		time.Sleep(20 * time.Millisecond)
	}
	backfill := float64(tip-2) / caughtUp.Seconds()
	b.StopTimer()
	nodeAfter := nodeBlockRate(b, c, tip)
	b.StartTimer()
	b.ReportMetric(backfill, "backfill_blocks/s")
	b.ReportMetric(nodeBefore, "node_32_in_flight_before_blocks/s")
	b.ReportMetric(nodeAfter, "node_32_in_flight_after_blocks/s")
	b.ReportMetric(backfill/((nodeBefore+nodeAfter)/2), "backfill/node")

	cpuStart := cpuSeconds(b, p.cmd.Process.Pid)
	var maxLag, sumLag, samples int64
	followStart := time.Now()
	heightStart, _ := c.LatestHeight(b.Context())
	for time.Since(followStart) < 60*time.Second {
		time.Sleep(500 * time.Millisecond)
		// Ask for a summary and read the tip as soon as it arrives, so the
		// lag is the plugin's, not the sampling's.
		before := p.gathers()
		_, _ = p.stdin.Write([]byte("\n"))
		for asked := time.Now(); p.gathers() == before; time.Sleep(2 * time.Millisecond) {
			if time.Since(asked) > 10*time.Second {
				b.Fatal("no summary within 10 s of asking for one")
			}
		}
		tipNow, err := c.LatestHeight(b.Context())
		if err != nil {
			continue
		}
		// Height H is accounted when block H+1 arrives: 1 is current.
		lag := tipNow - p.latestStatus().Fields()["last_height"].(int64)
		maxLag = max(maxLag, lag)
		sumLag += lag
		samples++
	}
	heightEnd, _ := c.LatestHeight(b.Context())
	elapsed := time.Since(followStart)
	b.ReportMetric(float64(heightEnd-heightStart)/elapsed.Seconds(), "chain_blocks/s")
	b.ReportMetric(float64(maxLag), "max_lag_blocks")
	b.ReportMetric(float64(sumLag)/float64(samples), "mean_lag_blocks")
	b.ReportMetric((cpuSeconds(b, p.cmd.Process.Pid)-cpuStart)/elapsed.Seconds()*100, "cpu_%")
	b.ReportMetric(peakRSSMiB(b, p.cmd.Process.Pid), "peak_rss_MiB")
}

// nodeBlockRate fetches heights 2 to tip from the node as the plugin's
// backfill does, 32 calls in flight at a time (oasis_signing's fetchBatch),
// and returns the blocks per second: the node's own limit.
func nodeBlockRate(b *testing.B, c *nodeclient.Client, tip int64) float64 {
	const inFlight = 32
	start := time.Now()
	for from := int64(2); from <= tip; from += inFlight {
		var wg sync.WaitGroup
		errs := make([]error, inFlight)
		for i := range int64(inFlight) {
			if from+i > tip {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.Block(b.Context(), from+i)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
	}
	return float64(tip-1) / time.Since(start).Seconds()
}

// cpuSeconds is the user+system CPU time of process pid.
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after ")".
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ = 100)
}

// peakRSSMiB is the process's peak resident set size (VmHWM).
func peakRSSMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
