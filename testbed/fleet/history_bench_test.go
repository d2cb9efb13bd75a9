package fleet

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"github.com/oasis-mission-control/oasis-mission-control/internal/diskbuffer"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/dashboards"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// backfill writes days of the template for installs [from, to) into
// InfluxDB, ending now: time-compressed, in batches of about 5,000 points,
// with float readings varied as a real host's are (AppendNoisySlot).
func backfill(b *testing.B, in *stacktest.Influx, tpl *Template, from, to int, days int) int {
	end := time.Now().Truncate(Cycle)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	type batch struct{ body []byte }
	batches := make(chan batch, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range batches {
				if err := write(in.URL, bt.body); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
				}
			}
		}()
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	points := 0
	var buf []byte
	for c := start; c.Before(end); c = c.Add(Cycle) {
		for i := from; i < to; i++ {
			in := NewInstall(i)
			for slot := range 6 {
				buf = tpl.AppendNoisySlot(buf, in, c.Unix()/60, c, slot, rnd.Float64)
			}
		}
		if len(buf) > 1<<20 {
			points += bytes.Count(buf, []byte{'\n'})
			batches <- batch{buf}
			buf = nil
		}
	}
	points += bytes.Count(buf, []byte{'\n'})
	batches <- batch{buf}
	close(batches)
	wg.Wait()
	require.NoError(b, failure)
	return points
}

func write(url string, body []byte) error {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/write?db=telegraf&rp=autogen&precision=ns", &z)
	req.Header.Set("Content-Encoding", "gzip")
	req.SetBasicAuth(nativestack.WriterUser, nativestack.WriterPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("write: %s: %s", resp.Status, msg)
	}
	return nil
}

// compacted waits until InfluxDB has written its WAL out to compressed
// files (the benchmark's InfluxDB does so after 1 s without writes) and
// returns the retention policy's size on disk.
func compacted(b *testing.B, dataDir, walDir, rp string) int64 {
	wait.Until(b, func() bool { return diskbuffer.DirSize(walDir) < 1<<20 }, 10*time.Minute, 2*time.Second, "the WAL written out")
	var last int64 = -1
	size := int64(0)
	// Full compactions follow the snapshots; the size settles.
	wait.Until(b, func() bool {
		size = diskbuffer.DirSize(filepath.Join(dataDir, "telegraf", rp))
		settled := size == last
		last = size
		return settled
	}, 10*time.Minute, 10*time.Second, "the %s shards compacted", rp)
	return size
}

// aggregate runs the continuous queries' statements (as oasis-setup.sh
// makes them, with the hourly interval) over the days written.
func aggregate(b *testing.B, in *stacktest.Influx, days int) {
	for _, q := range []string{
		`SELECT last(*) INTO "telegraf"."hourly".:MEASUREMENT FROM "telegraf"."autogen"."oasis_node", "telegraf"."autogen"."oasis_signing", "telegraf"."autogen"."oasis_entity", "telegraf"."autogen"."oasis_entity_node", "telegraf"."autogen"."oasis_governance", "telegraf"."autogen"."oasis_runtime", "telegraf"."autogen"."diskio", "telegraf"."autogen"."net" WHERE time > now() - %dd GROUP BY time(1h), *`,
		`SELECT mean(*), min(*), max(*) INTO "telegraf"."hourly".:MEASUREMENT FROM "telegraf"."autogen"."cpu", "telegraf"."autogen"."mem", "telegraf"."autogen"."disk", "telegraf"."autogen"."system" WHERE time > now() - %dd GROUP BY time(1h), *`,
	} {
		_, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword, fmt.Sprintf(q, days+1))
		require.NoError(b, err)
	}
}

var macroInterval = regexp.MustCompile(`\$__interval`)

// queryTimes runs every dashboard query over the last `rng` with Grafana's
// interval for that range (1m for a day, 30m for 30 days at ~1,000 points
// across) for install 0's node and entity; the median of 3 runs of each.
func queryTimes(b *testing.B, in *stacktest.Influx, rng, interval string) map[string][]time.Duration {
	out := map[string][]time.Duration{}
	node, entity := NewInstall(0).NodeID, NewInstall(0).EntityID
	esc := func(s string) string { return strings.ReplaceAll(regexp.QuoteMeta(s), "/", `\/`) }
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				text := strings.ReplaceAll(q.Text, "$timeFilter", "time >= now() - "+rng)
				text = macroInterval.ReplaceAllString(text, interval)
				text = strings.ReplaceAll(strings.ReplaceAll(text, "$node", esc(node)), "$entity", esc(entity))
				var runs []time.Duration
				for range 3 {
					start := time.Now()
					_, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword, text)
					require.NoError(b, err, "%s / %s", d.Title, p.Title)
					runs = append(runs, time.Since(start))
				}
				sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
				out[d.Title] = append(out[d.Title], runs[1])
			}
		}
	}
	return out
}

func logQueryTimes(label string, times map[string][]time.Duration) {
	var titles []string
	for t := range times {
		titles = append(titles, t)
	}
	sort.Strings(titles)
	for _, t := range titles {
		var sum, slowest time.Duration
		for _, d := range times[t] {
			sum += d
			slowest = max(slowest, d)
		}
		logf("%-34s %-26s %3d queries, slowest %8s, all %8s", label, t, len(times[t]), slowest.Round(100*time.Microsecond), sum.Round(100*time.Microsecond))
	}
}

// BenchmarkFleetHistory: what the data costs over time. 30 days of one
// install (the recorded minute, floats varied ±1 %) are written into
// InfluxDB 1.8 and aggregated as the continuous queries do; then the disk
// per node per day of the raw points and of the hourly aggregates, and
// every dashboard query's time over 1 and 30 days; then the same queries
// with OASIS_FLEET_HISTORY_NODES installs (default 10) holding 30 days.
//
//	cd testbed && CI=true go test -run '^$' -bench FleetHistory -benchtime 1x -timeout 90m ./fleet/
func BenchmarkFleetHistory(b *testing.B) {
	tpl, err := LoadTemplate("testdata/install.lp")
	require.NoError(b, err)
	const days = 30
	nodes := 10
	if v := os.Getenv("OASIS_FLEET_HISTORY_NODES"); v != "" {
		_, err := fmt.Sscan(v, &nodes)
		require.NoError(b, err)
	}
	in := stacktest.StartInflux(b,
		"INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION=1s", "INFLUXDB_DATA_COMPACT_FULL_WRITE_COLD_DURATION=5s")
	dataDir, walDir := filepath.Join(in.Dir, "data"), filepath.Join(in.Dir, "wal")
	// No Kapacitor here: without the subscription InfluxDB does not try
	// to send every point on.
	require.NoError(b, in.Setup("OASIS_ALERT_FEED=direct"))

	start := time.Now()
	points := backfill(b, in, tpl, 0, 1, days)
	wrote := time.Since(start)
	aggregate(b, in, days)
	raw := compacted(b, dataDir, walDir, "autogen")
	hourly := compacted(b, dataDir, walDir, "hourly")
	logf("one install, %d days: %d points written in %s (%.0f points/s); raw %.1f MiB = %.2f MiB per node per day (%.0f bytes/point); hourly %.2f MiB = %.1f MiB per node per year",
		days, points, wrote.Round(time.Second), float64(points)/wrote.Seconds(), float64(raw)/(1<<20), float64(raw)/(1<<20)/days,
		float64(raw)/float64(points), float64(hourly)/(1<<20), float64(hourly)/(1<<20)/days*365)
	b.ReportMetric(float64(raw)/(1<<20)/days, "MiB/node/day")
	b.ReportMetric(float64(hourly)/(1<<20)/days*365, "hourlyMiB/node/year")
	logQueryTimes("1 node, 1 day:", queryTimes(b, in, "1d", "1m"))
	logQueryTimes("1 node, 30 days:", queryTimes(b, in, "30d", "30m"))

	start = time.Now()
	points = backfill(b, in, tpl, 1, nodes, days)
	logf("%d more installs, %d days: %d points in %s (%.0f points/s)", nodes-1, days, points, time.Since(start).Round(time.Second),
		float64(points)/time.Since(start).Seconds())
	aggregate(b, in, days)
	compacted(b, dataDir, walDir, "autogen")
	logQueryTimes(fmt.Sprintf("%d nodes, 1 day:", nodes), queryTimes(b, in, "1d", "1m"))
	logQueryTimes(fmt.Sprintf("%d nodes, 30 days:", nodes), queryTimes(b, in, "30d", "30m"))
	b.ReportMetric(0, "ns/op")
}
