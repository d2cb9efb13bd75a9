package alerting

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestWatchdog: the heartbeat to a dead-man service outside the host
// (oasis_watchdog, WATCHDOG_URL set in .env as an operator does) beats
// while points of our inputs arrive, and stops when they stop: then the
// outside service, here a fake, is what pages. Fed live (the window closes
// on the next point's arrival), with the period shortened to 1 s.
func TestWatchdog(t *testing.T) {
	skipReplays(t)
	t.Parallel() // waits on the wall clock, beside the replays
	rec, ev := recording(t)
	points := inputOf(healthyPhase(rec, ev), "oasis_node")
	if len(points) < 10 {
		t.Fatalf("only %d oasis_input points of oasis_node recorded", len(points))
	}
	var mu sync.Mutex
	var beats []time.Time
	var bodies []string
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		beats = append(beats, time.Now())
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	t.Cleanup(service.Close)
	beatCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(beats)
	}
	k := startKapacitor(t, vars{"oasis_watchdog": {"every": "'1s'"}},
		map[string]string{"WATCHDOG_URL": service.URL + "/ping/0f1e2d3c"}, nil)

	// Points arrive, one every 200 ms: a beat a second.
	i := 0
	flowing := time.Now()
	for beatCount() < 3 {
		if time.Since(flowing) > 15*time.Second {
			t.Fatalf("%d beats in 15 s of points, with every = 1s", beatCount())
		}
		p := points[i%len(points)]
		p.Time = time.Now()
		i++
		k.write(t, series{p}.lp(t))
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	t.Logf("a beat: %s", bodies[0])
	if got := bodies[0][:len("POST /ping/0f1e2d3c")]; got != "POST /ping/0f1e2d3c" {
		t.Errorf("the beat went to %q, not WATCHDOG_URL", got)
	}
	mu.Unlock()

	// The points stop (Telegraf, InfluxDB or the subscription is down, or
	// the host is): no more beats, so the outside service pages. A beat
	// in flight when they stopped may still land.
	stopped, n := time.Now(), beatCount()
	time.Sleep(4 * time.Second)
	if extra := beatCount() - n; extra > 1 {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d beats in the 4 s after the points stopped (at %s): %v", extra, stopped.Format(time.TimeOnly), beats)
	}
}
