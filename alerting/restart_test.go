package alerting

import (
	"fmt"
	"testing"
	"time"
)

// TestRestartMidIncident: Kapacitor restarted while an alert fires, the
// fault still there. It restores the alert's level but counts the
// condition's duration from 0 again; before the resets in the templates
// (critReset/warnReset), that sent a false RECOVERED (resolving the
// PagerDuty incident) and paged again once the threshold had passed
// anew. Now: one CRITICAL, then nothing until the fault is gone, then one
// RECOVERED. For each alert built on a duration of the fault
// (stateDuration), on our node down for 5 minutes of its healthy points
// (derived), restarted 2 minutes into the outage.
func TestRestartMidIncident(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	for _, c := range []struct {
		task, template, input string
		id                    string
		// down_reason of the fault: the node gone for oasis_node_down, the
		// node refusing the input's reads for oasis_plugin_errors.
		reason string
		// Short thresholds, so CRITICAL fires well before the restart.
		vars map[string]string
	}{
		{"oasis_node_down", "oasis_node_down", "", "oasis_node_down:" + ev.OwnNodeID, "no_socket",
			map[string]string{"crit_seconds": "30"}},
		{"oasis_plugin_errors_signing", "oasis_plugin_errors", "oasis_signing", inputAlertID("oasis_plugin_errors", "oasis_signing", rec), "query_failed",
			map[string]string{"warn_seconds": "10", "crit_seconds": "30"}},
	} {
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			var s series
			if c.input == "" {
				s = healthyFor(rec, ev, 9*time.Minute).only("oasis_node").where("node_id", ev.OwnNodeID)
			} else {
				s = inputOf(healthyFor(rec, ev, 9*time.Minute), c.input)
			}
			from := s.first().Add(time.Minute)
			restartAt, to := from.Add(2*time.Minute), from.Add(5*time.Minute)
			s = s.edit(func(_ int, p *point) {
				if !p.Time.Before(from) && p.Time.Before(to) {
					p.Fields = map[string]any{"up": int64(0), "down_reason": c.reason}
				}
			})
			k := startKapacitor(t, vars{c.task: c.vars}, nil, nil)
			events := func() []event {
				var out []event
				for _, e := range k.eventsOf(c.template) {
					if e.ID == c.id {
						out = append(out, e)
					}
				}
				return out
			}
			k.write(t, s.between(s.first(), restartAt).lp(t))
			waitUntil(t, 30*time.Second, func() error {
				for _, e := range events() {
					if e.Level == "CRITICAL" {
						return nil
					}
				}
				return fmt.Errorf("no CRITICAL before the restart: %s", show(events()))
			})
			k.restart(t)
			k.feed(t, s.between(restartAt, s.last().Add(time.Second)).lp(t))
			got := events()
			steps := []step{
				{level: "WARNING", from: from, to: restartAt, optional: true},
				within("CRITICAL", from.Add(30*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
			if err := matchSteps(got, steps); err != nil {
				t.Fatalf("%v\nwant:\n%s\ngot:\n%s", err, showSteps(steps), show(got))
			}
		})
	}
}
