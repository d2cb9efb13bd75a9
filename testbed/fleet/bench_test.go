package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// sink plays the operator's webhook: every alert Kapacitor posts.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []postedAlert
}

type postedAlert struct {
	ID, Level string
	Arrived   time.Time
}

func newSink(b *testing.B) *sink {
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct{ ID, Level string }
		if err := json.NewDecoder(r.Body).Decode(&a); err == nil {
			s.mu.Lock()
			s.alerts = append(s.alerts, postedAlert{a.ID, a.Level, time.Now()})
			s.mu.Unlock()
		}
	}))
	b.Cleanup(s.Close)
	return s
}

func (s *sink) since(t time.Time) []postedAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []postedAlert
	for _, a := range s.alerts {
		if !a.Arrived.Before(t) {
			out = append(out, a)
		}
	}
	return out
}

func (s *sink) await(b *testing.B, from time.Time, id, level string, within time.Duration) time.Time {
	var at time.Time
	wait.Until(b, func() bool {
		for _, a := range s.since(from) {
			if a.ID == id && a.Level == level {
				at = a.Arrived
				return true
			}
		}
		return false
	}, within, 200*time.Millisecond, "%s %s", level, id)
	return at
}

// logf prints a line of a benchmark's report: b.Logf keeps only the first
// ten lines of a benchmark's output.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func steps() []int {
	if v := os.Getenv("OASIS_FLEET_STEPS"); v != "" {
		var out []int
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	return []int{100, 300, 600, 1000, 1500, 2000, 3000}
}

// BenchmarkFleet: N simulated installs (testdata/install.lp, one
// validator's install at the shipped intervals and mainnet's block pace)
// write to one InfluxDB 1.8, whose subscription feeds the alerting engine
// running every shipped task (oasis-kapacitord), on this machine. For each
// N, over at least 90 s: the writes (errors, latency), whether InfluxDB
// holds every point sent, the CPU and memory of influxd and the engine,
// and one install's node going down: how long after its first failed
// gather oasis_node_down arrives at the webhook (the alert itself waits
// 25 s, to the 4th failed gather: 30 s at 10 s intervals). A step that
// loses a write, lets a write take a whole interval, or pages later than
// the 55 s docs/alerts.md promises ends the run.
//
//	cd testbed && CI=true go test -run '^$' -bench Fleet -benchtime 1x -timeout 60m ./fleet/
//	(OASIS_FLEET_STEPS=100,300 for other steps)
func BenchmarkFleet(b *testing.B) {
	tpl, err := LoadTemplate("testdata/install.lp")
	require.NoError(b, err)
	in := stacktest.StartInflux(b)
	alerts := newSink(b)
	k := stacktest.StartKapacitor(b, in, "KAPACITOR_HTTPPOST_0_URL="+alerts.URL, "KAPACITOR_HTTP_LOG_ENABLED=false")
	r := NewReplayer(tpl, in.URL, nativestack.WriterUser, nativestack.WriterPassword)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })

	logf("template: %d points a minute per install (%.1f a second)", tpl.Points(), float64(tpl.Points())/60)
	logf("%6s %9s %8s %8s %6s %7s %8s %10s %10s %9s %9s %9s %9s", "N", "points/s", "p50", "p99", "errors", "stored",
		"page", "influxd", "engine", "replayer", "influxRSS", "engineRSS", "others")
	for _, n := range steps() {
		r.SetInstalls(n)
		// Every install has sent twice.
		r.Reset()
		wait.Until(b, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.stats.Writes >= 2*n
		}, 3*time.Minute, time.Second, "%d installs writing", n)
		r.Reset()
		start := time.Now()
		ticks := func() (int64, int64, int64) {
			a, err1 := CPUTicks(in.PID())
			c, err2 := CPUTicks(k.PID())
			s, err3 := CPUTicks(os.Getpid())
			require.NoError(b, err1)
			require.NoError(b, err2)
			require.NoError(b, err3)
			return a, c, s
		}
		i0, k0, s0 := ticks()
		node0 := r.Install(0).NodeID
		r.SetDown(0, true)
		crit := alerts.await(b, start, "oasis_node_down:"+node0, "CRITICAL", 3*time.Minute)
		page := crit.Sub(r.FirstDownPoint(0))
		r.SetDown(0, false)
		alerts.await(b, crit, "oasis_node_down:"+node0, "OK", 2*time.Minute)
		sleepUntil(context.Background(), start.Add(90*time.Second))
		i1, k1, s1 := ticks()
		elapsed := time.Since(start).Seconds()
		st, mem := r.Reset()

		// Every mem point sent in the step is stored (the writes are
		// acknowledged, so this waits only for the count to be queryable).
		var lo, hi int64
		for _, ts := range mem {
			if lo == 0 || ts < lo {
				lo = ts
			}
			hi = max(hi, ts)
		}
		stored := 0
		wait.Until(b, func() bool {
			body, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword,
				fmt.Sprintf(`SELECT count("used_percent") FROM "mem" WHERE time >= %d AND time <= %d`, lo, hi))
			require.NoError(b, err)
			var res struct {
				Results []struct {
					Series []struct{ Values [][]any }
				}
			}
			require.NoError(b, json.Unmarshal(body, &res))
			if len(res.Results) > 0 && len(res.Results[0].Series) > 0 {
				c, _ := res.Results[0].Series[0].Values[0][1].(float64)
				stored = int(c)
			}
			return stored >= len(mem)
		}, time.Minute, time.Second, "the step's mem points stored")

		var others []string
		for _, a := range alerts.since(start) {
			if !strings.HasPrefix(a.ID, "oasis_node_down:"+node0) {
				others = append(others, a.Level+" "+a.ID)
			}
		}
		iRSS, _, err := Memory(in.PID())
		require.NoError(b, err)
		kRSS, _, err := Memory(k.PID())
		require.NoError(b, err)
		cores := func(d int64) float64 { return float64(d) / 100 / elapsed }
		logf("%6d %9.0f %8s %8s %6d %7s %8s %5.2f/%4.1fm %5.2f/%4.1fm %9.2f %8.0fM %8.0fM %9d",
			n, float64(st.Points)/elapsed, st.Percentile(50).Round(100*time.Microsecond), st.Percentile(99).Round(100*time.Microsecond),
			st.Errors, fmt.Sprintf("%d/%d", stored, len(mem)), page.Round(100*time.Millisecond),
			cores(i1-i0), 1000*cores(i1-i0)/float64(n), cores(k1-k0), 1000*cores(k1-k0)/float64(n), cores(s1-s0),
			float64(iRSS)/(1<<20), float64(kRSS)/(1<<20), len(others))
		if len(others) > 0 {
			logf("  other alerts in the step: %v", others)
		}
		// The load generator shares the machine: once it can't send the
		// installs' full rate, the step measures less than N installs.
		offered := float64(st.Points) / elapsed / (float64(n) * float64(tpl.Points()) / Cycle.Seconds())
		if offered < 0.95 {
			logf("  the load generator sent %.0f %% of %d installs' points: the machine is saturated", 100*offered, n)
			break
		}
		if st.Errors > 0 || st.Percentile(99) >= Slot || page > 55*time.Second || stored < len(mem) {
			logf("  not sustained at %d installs (last error: %s)", n, st.LastError)
			break
		}
	}
	b.ReportMetric(0, "ns/op")
}
