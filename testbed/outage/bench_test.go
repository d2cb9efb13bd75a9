package outage

import (
	"fmt"
	"github.com/oasis-mission-control/oasis-mission-control/internal/diskbuffer"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// BenchmarkOutageBuffer measures what one validator's install holds on
// disk per hour of InfluxDB outage: the shipped Telegraf configuration at
// its shipped intervals (10 s, 60 s for the slow inputs) reads a devnet
// validator while InfluxDB is down for 3 minutes, then Telegraf is killed
// and its disk buffer decoded. Points per interval and per block are
// counted apart, so the figure can be put at mainnet's pace (a block every
// ~6 s) although the devnet makes one a second.
func BenchmarkOutageBuffer(b *testing.B) {
	net := devnettest.Start(b, devnettest.Options{Validators: 1, BlockInterval: time.Second, EpochBlocks: 50})
	in := stacktest.StartInflux(b)
	state := b.TempDir()
	const interval = 10 * time.Second
	tg := stacktest.StartTelegrafWith(b, in, nativestack.TelegrafOptions{
		Socket: net.Validators[0].Socket, Interval: interval, StateDir: state,
		Env: []string{"OASIS_SLOW_INTERVAL=60s", "OASIS_NODE_PROCESS=oasis-devnet"},
	})
	wait.Until(b, func() bool {
		body, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword, `SELECT count("signed") FROM "oasis_signing_block"`)
		return err == nil && len(body) > 0 && string(body) != `{"results":[{"statement_id":0}]}`
	}, 120*time.Second, time.Second, "the validator's blocks in InfluxDB")

	in.Stop()
	start := time.Now()
	from := writeFailures(tg)
	wait.Until(b, func() bool { return writeFailures(tg) >= from+18 }, 5*time.Minute, time.Second, "18 failed flushes")
	tg.Kill()
	held := time.Since(start)

	buffers, err := os.ReadDir(filepath.Join(state, "buffer"))
	require.NoError(b, err)
	count := map[string]int{}
	heights := map[any]bool{}
	var points int
	var bytes int64
	var first, last time.Time
	for _, d := range buffers {
		buf, err := models.NewBuffer("influxdb", d.Name(), "", 0, "disk_write_through", filepath.Join(state, "buffer"))
		require.NoError(b, err)
		for _, m := range buf.BeginTransaction(1 << 24).Batch {
			if m.Time().Before(start) {
				continue // gathered before the outage, not yet flushed
			}
			count[m.Name()]++
			points++
			if m.Name() == "oasis_signing_block" {
				h, _ := m.GetField("height")
				heights[h] = true
			}
			if first.IsZero() || m.Time().Before(first) {
				first = m.Time()
			}
			if m.Time().After(last) {
				last = m.Time()
			}
		}
		require.NoError(b, buf.Close())
		bytes += diskbuffer.DirSize(filepath.Join(state, "buffer", d.Name()))
	}
	require.Positive(b, points)
	perBlock := count["oasis_signing_block"]
	intervals := float64(last.Sub(first))/float64(interval) + 1
	perInterval := float64(points-perBlock) / intervals
	bytesPerPoint := float64(bytes) / float64(points)
	// Mainnet: 360 intervals and ~600 blocks an hour.
	perHour := (perInterval*360 + 600*float64(perBlock)/float64(max(len(heights), 1))) * bytesPerPoint
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	sort.Strings(names)
	var per []string
	for _, n := range names {
		per = append(per, fmt.Sprintf("%s %d", n, count[n]))
	}
	b.Logf("points by measurement: %s", strings.Join(per, ", "))
	b.Logf("outage of %s: %d points (%d per-block points for %d blocks), %d bytes; %.1f points per 10 s interval besides the blocks",
		held.Round(time.Second), points, perBlock, len(heights), bytes, perInterval)
	b.ReportMetric(perInterval, "points/interval")
	b.ReportMetric(bytesPerPoint, "bytes/point")
	b.ReportMetric(perHour/(1<<20), "MiB/hour@mainnet")
	b.ReportMetric(float64(1<<30)/perHour/24, "days/GiB@mainnet")
	b.ReportMetric(0, "ns/op")
}
