package alerting

import (
	"fmt"
	"testing"
	"time"
)

// TestNodeSilentDeadman: Kapacitor's deadman counts points per interval on
// the wall clock, so this test feeds our node's recorded points live (time
// stamped now, one per gather), with silent_for shortened to 3 s: quiet
// while points flow, CRITICAL after they stop, OK when they come back.
// Each wait is for an alert event, with a deadline that fails the test.
func TestNodeSilentDeadman(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	const (
		silentFor = 3 * time.Second
		gather    = 500 * time.Millisecond
	)
	k := startKapacitor(t, vars{"oasis_node_silent": {"silent_for": "'3s'"}}, nil, nil)
	own := healthyPhase(rec, ev).only("oasis_node").where("node_id", ev.OwnNodeID)
	if len(own) < 10 {
		t.Fatalf("only %d healthy oasis_node points", len(own))
	}
	i := 0
	gatherOnce := func() {
		p := own[i%len(own)]
		p.Time = time.Now()
		i++
		k.write(t, series{p}.lp(t))
	}
	events := func() []event { return k.eventsOf("oasis_node_silent") }
	id := "oasis_node_silent:" + ev.OwnNodeID

	// Healthy: points keep coming for four deadman intervals; the deadman
	// checks once per interval, so it would have fired by now if broken.
	for end := time.Now().Add(4 * silentFor); time.Now().Before(end); time.Sleep(gather) {
		gatherOnce()
	}
	if got := events(); len(got) != 0 {
		t.Fatalf("fired while points arrive:\n%s", show(got))
	}

	// Telegraf stops: CRITICAL once a whole interval has passed without a
	// point, so between one and two intervals after the last one.
	stopped := time.Now()
	waitUntil(t, 3*silentFor+5*time.Second, func() error {
		if len(events()) == 0 {
			return fmt.Errorf("no alert %s since the points stopped %s ago", id, time.Since(stopped).Round(time.Millisecond))
		}
		return nil
	})
	got := events()
	if len(got) != 1 || got[0].ID != id || got[0].Level != "CRITICAL" {
		t.Fatalf("want one CRITICAL for %s after the points stopped, got:\n%s", id, show(got))
	}
	if d := got[0].Time.Sub(stopped); d < silentFor/2 || d > 3*silentFor {
		t.Errorf("CRITICAL %s after the last point; silent_for is %s", d, silentFor)
	}
	checkRendered(t, "oasis_node_silent", got[0])

	// Telegraf is back: points again, until the OK arrives or the deadline.
	back := time.Now()
	for deadline := back.Add(3*silentFor + 5*time.Second); len(events()) < 2; time.Sleep(gather) {
		if time.Now().After(deadline) {
			t.Fatalf("no OK %s after points came back:\n%s", time.Since(back).Round(time.Millisecond), show(events()))
		}
		gatherOnce()
	}
	got = events()
	if len(got) != 2 || got[1].ID != id || got[1].Level != "OK" {
		t.Fatalf("want CRITICAL then OK, got:\n%s", show(got))
	}
	checkRendered(t, "oasis_node_silent", got[1])
	t.Logf("what the channels get (message; details):\n%s", showRendered(got))
}
