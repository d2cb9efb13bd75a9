package alerting

import (
	"fmt"
	"testing"
	"time"
)

// TestDeadmen: Kapacitor's deadman counts points per interval on the wall
// clock, so this test feeds recorded points live (time stamped now, one
// per gather), with silent_for shortened to 3 s, for each deadman task:
// quiet while points flow, CRITICAL after they stop (a Telegraf that
// stopped, an input that crash-loops), OK when they come back. Each wait
// is for an alert event, with a deadline that fails the test.
func TestDeadmen(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	for _, c := range []struct {
		task, template string
		points         series
		id             string
	}{
		{"oasis_node_silent", "oasis_node_silent", healthyPhase(rec, ev).only("oasis_node").where("node_id", ev.OwnNodeID), "oasis_node_silent:" + ev.OwnNodeID + ":" + hostOf(rec)},
		{"oasis_input_silent_signing", "oasis_input_silent", inputOf(healthyPhase(rec, ev), "oasis_signing"), inputAlertID("oasis_input_silent", "oasis_signing", rec)},
		{"oasis_input_silent_entity", "oasis_input_silent", inputOf(healthyFor(rec, ev, 10*time.Minute), "oasis_entity"), inputAlertID("oasis_input_silent", "oasis_entity", rec)},
		{"oasis_input_silent_governance", "oasis_input_silent", inputOf(healthyFor(rec, ev, 10*time.Minute), "oasis_governance"), inputAlertID("oasis_input_silent", "oasis_governance", rec)},
	} {
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			deadman(t, c.task, c.template, c.points, c.id)
		})
	}
}

func deadman(t *testing.T, task, template string, own series, id string) {
	const (
		silentFor = 3 * time.Second
		gather    = 500 * time.Millisecond
	)
	k := startKapacitor(t, vars{task: {"silent_for": "'3s'"}}, nil, nil)
	if len(own) < 10 {
		t.Fatalf("only %d healthy points for %s", len(own), task)
	}
	i := 0
	gatherOnce := func() {
		p := own[i%len(own)]
		p.Time = time.Now()
		i++
		k.write(t, series{p}.lp(t))
	}
	events := func() []event { return k.eventsOf(template) }

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
	checkRendered(t, template, got[0])

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
	checkRendered(t, template, got[1])
	t.Logf("what the channels get (message; details):\n%s", showRendered(got))
}
