package alerting

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReminders: an alert that stays unresolved is sent again every
// remind_every (on the points' time), at its level and saying for how long
// it has fired; the recovery is sent once, and nothing is re-sent after it.
// Our node down for 7 minutes of its healthy points (derived), remind_every
// shortened to 2 minutes.
func TestReminders(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	s := healthyFor(rec, ev, 12*time.Minute).only("oasis_node").where("node_id", ev.OwnNodeID)
	from := s.first().Add(time.Minute)
	to := from.Add(7 * time.Minute)
	s = s.edit(func(_ int, p *point) {
		if !p.Time.Before(from) && p.Time.Before(to) {
			p.Fields = map[string]any{"up": int64(0), "down_reason": "no_socket"}
		}
	})
	k := startKapacitor(t, vars{"oasis_node_down": {"remind_every": "'2m'"}}, nil, nil)
	k.feed(t, s.lp(t))
	got := k.eventsOf("oasis_node_down")
	t.Logf("events:\n%s", show(got))

	// CRITICAL after 25 s (at the first point past it: 2 s gathers, the
	// first failed one 0 to 2 s after from), reminders 2, 4 and 6 minutes
	// after it (each at the first point 2 minutes after the last sent, so
	// up to a gather later each time), then OK.
	crit := from.Add(25 * time.Second)
	steps := []step{
		within("CRITICAL", crit, 5*time.Second),
		within("CRITICAL", crit.Add(2*time.Minute), 7*time.Second),
		within("CRITICAL", crit.Add(4*time.Minute), 9*time.Second),
		within("CRITICAL", crit.Add(6*time.Minute), 11*time.Second),
		within("OK", to, 3*time.Second),
	}
	if err := matchSteps(got, steps); err != nil {
		t.Fatalf("%v\nwant:\n%s", err, showSteps(steps))
	}
	if strings.Contains(got[0].Message, "(firing for") {
		t.Errorf("the first message is not a reminder: %s", got[0].Message)
	}
	for i, r := range got[1:4] {
		// Rounded to the second: 2m0s, or 2m2s with the gathers' jitter.
		want := fmt.Sprintf("(firing for %dm", 2*(i+1))
		if !strings.Contains(r.Message, want) {
			t.Errorf("reminder %d does not say %q: %s", i+1, want, r.Message)
		}
		checkRendered(t, "oasis_node_down", r)
	}
	if strings.Contains(got[4].Message, "(firing for") {
		t.Errorf("the recovery is not a reminder: %s", got[4].Message)
	}
}
