package alerting

import (
	"testing"
	"time"
)

// TestNodeSilentDeadman: Kapacitor's deadman counts points per interval on
// the wall clock, so this test feeds our node's recorded points live (time
// stamped now), with silent_for shortened to 3 s: quiet while points flow,
// CRITICAL after they stop, OK when they come back.
func TestNodeSilentDeadman(t *testing.T) {
	rec, ev := recording(t)
	const silentFor = 3 * time.Second
	k := startKapacitor(t, vars{"oasis_node_silent": {"silent_for": "'3s'"}}, nil, nil)
	own := healthyPhase(rec, ev).only("oasis_node").where("node_id", ev.OwnNodeID)
	if len(own) < 10 {
		t.Fatalf("only %d healthy oasis_node points", len(own))
	}
	i := 0
	send := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			p := own[i%len(own)]
			p.Time = time.Now()
			i++
			if err := k.WriteLineProtocol(series{p}.lp(t)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	send(4 * silentFor) // healthy: points keep coming
	id := "oasis_node_silent:" + ev.OwnNodeID
	for _, e := range k.eventsOf("oasis_node_silent") {
		t.Errorf("fired while points arrive: %s %s", e.Level, e.Message)
	}

	stopped := time.Now()
	time.Sleep(3 * silentFor) // Telegraf stops
	k.settle()
	got := k.eventsOf("oasis_node_silent")
	if len(got) != 1 || got[0].ID != id || got[0].Level != "CRITICAL" {
		t.Fatalf("want one CRITICAL for %s after the points stopped, got:\n%s", id, show(got))
	}
	if d := got[0].Time.Sub(stopped); d < silentFor/2 || d > 3*silentFor {
		t.Errorf("CRITICAL %s after the last point; silent_for is %s", d, silentFor)
	}
	send(2 * silentFor) // back
	k.settle()
	got = k.eventsOf("oasis_node_silent")
	if len(got) != 2 || got[1].Level != "OK" {
		t.Fatalf("want CRITICAL then OK, got:\n%s", show(got))
	}
	t.Logf("\n%s", show(got))
}
