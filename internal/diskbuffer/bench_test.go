package diskbuffer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"
)

// recordedPoints are the points of the committed devnet recording: what
// the node's inputs and the system inputs wrote, 2,849 of them.
func recordedPoints(b *testing.B) []telegraf.Metric {
	raw, err := os.ReadFile("../../alerting/testdata/devnet/series.lp")
	require.NoError(b, err)
	p := &influx.Parser{}
	require.NoError(b, p.Init())
	points, err := p.Parse(raw)
	require.NoError(b, err)
	return points
}

// BenchmarkDiskBufferAdd writes the recording's points one at a time into
// Telegraf's own disk buffer, as a running Telegraf adds each point it
// gathers (one write and one fsync per point), on this machine's disk.
// It reports the buffer's bytes per point and the time per point.
func BenchmarkDiskBufferAdd(b *testing.B) {
	points := recordedPoints(b)
	var bytes int64
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		buf, err := models.NewBuffer("influxdb", "out", "", 0, "disk_write_through", dir)
		require.NoError(b, err)
		for _, m := range points {
			if buf.Add(m) != 0 {
				b.Fatal("point dropped")
			}
		}
		require.NoError(b, buf.Close())
		bytes = DirSize(filepath.Join(dir, "out"))
	}
	b.StopTimer()
	b.ReportMetric(float64(bytes)/float64(len(points)), "bytes/point")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(points)), "µs/point")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDiskBufferDrain fills Telegraf's disk buffer with 200,000 of the
// recording's points (about 30 hours of one install's outage) and drains
// it as the InfluxDB output does once InfluxDB is back: batches of
// metric_batch_size (1,000), each accepted and cut off the front of the
// log. Each cut rewrites the rest of the log's current 20 MB segment
// (tidwall/wal's TruncateFront), so draining costs more disk writes than
// filling did; this measures how fast it goes.
func BenchmarkDiskBufferDrain(b *testing.B) {
	const total = 200_000
	recorded := recordedPoints(b)
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		buf, err := models.NewBuffer("influxdb", "out", "", 0, "disk_write_through", dir)
		require.NoError(b, err)
		for i := range total {
			if buf.Add(recorded[i%len(recorded)]) != 0 {
				b.Fatal("point dropped")
			}
		}
		size := DirSize(filepath.Join(dir, "out"))
		b.StartTimer()
		start := time.Now()
		drained := 0
		for buf.Len() > 0 {
			tx := buf.BeginTransaction(1000)
			tx.AcceptAll()
			drained += len(tx.Batch)
			buf.EndTransaction(tx)
		}
		took := time.Since(start)
		require.Equal(b, total, drained)
		require.NoError(b, buf.Close())
		b.ReportMetric(float64(total)/took.Seconds(), "points/s")
		b.ReportMetric(float64(size)/(1<<20), "buffer_MiB")
	}
	b.ReportMetric(0, "ns/op")
}
