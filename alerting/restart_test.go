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
// RECOVERED. For alerts built on a duration of the fault (stateDuration),
// on 5 minutes of a fault in healthy points (derived), restarted 2 minutes
// into it.
func TestRestartMidIncident(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	ownNode := func(d time.Duration) series {
		return healthyFor(rec, ev, d).only("oasis_node").where("node_id", ev.OwnNodeID)
	}
	for _, c := range []struct {
		task, template string
		id             string
		points         func(time.Duration) series
		// fault turns a healthy point into one of the fault.
		fault func(p *point)
		// Short thresholds, so CRITICAL fires well before the restart.
		vars map[string]string
		// level is the alert's level during the fault: CRITICAL if empty
		// (oasis_references_down only warns).
		level string
	}{
		{"oasis_node_down", "oasis_node_down", "oasis_node_down:" + ev.OwnNodeID, ownNode,
			func(p *point) { p.Fields = map[string]any{"up": int64(0), "down_reason": "no_socket"} },
			map[string]string{"crit_seconds": "30"}, ""},
		{"oasis_plugin_errors_signing", "oasis_plugin_errors", inputAlertID("oasis_plugin_errors", "oasis_signing", rec),
			func(d time.Duration) series { return inputOf(healthyFor(rec, ev, d), "oasis_signing") },
			func(p *point) {
				p.Fields = map[string]any{"up": int64(0), "down_reason": "query_failed", "failed_reads": int64(1)}
			},
			map[string]string{"warn_seconds": "10", "crit_seconds": "30"}, ""},
		{"oasis_not_synced", "oasis_not_synced", "oasis_not_synced:" + ev.OwnNodeID, ownNode,
			func(p *point) { p.Fields["synced"] = int64(0); p.Fields["consensus_status"] = "syncing" },
			map[string]string{"warn_seconds": "10", "crit_seconds": "30"}, ""},
		{"oasis_signing_state_unsaved", "oasis_signing_state_unsaved", "oasis_signing_state_unsaved:" + inputKey(rec, "oasis_signing"),
			func(d time.Duration) series { return inputOf(healthyFor(rec, ev, d), "oasis_signing") },
			func(p *point) { p.Fields["state_saved"] = int64(0) },
			map[string]string{"crit_seconds": "30"}, ""},
		{task: "oasis_references_down", template: "oasis_references_down", id: "oasis_references_down:" + ev.OwnNodeID,
			points: func(d time.Duration) series {
				return withReferenceLag(ownNode(d), func(time.Time) int64 { return 1 })
			},
			fault: func(p *point) {
				p.Fields["references_up"] = int64(0)
				delete(p.Fields, "reference_height_lag")
				delete(p.Fields, "reference_epoch_lag")
				delete(p.Fields, "reference_ahead")
			},
			vars:  map[string]string{"down_for_seconds": "30"},
			level: "WARNING"},
	} {
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			s := c.points(9 * time.Minute)
			from := s.first().Add(time.Minute)
			restartAt, to := from.Add(2*time.Minute), from.Add(5*time.Minute)
			s = s.edit(func(_ int, p *point) {
				if !p.Time.Before(from) && p.Time.Before(to) {
					c.fault(p)
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
			level := c.level
			if level == "" {
				level = "CRITICAL"
			}
			waitUntil(t, 30*time.Second, func() error {
				for _, e := range events() {
					if e.Level == level {
						return nil
					}
				}
				return fmt.Errorf("no %s before the restart: %s", level, show(events()))
			})
			k.restart(t)
			k.feed(t, s.between(restartAt, s.last().Add(time.Second)).lp(t))
			got := events()
			steps := []step{
				{level: "WARNING", from: from, to: restartAt, optional: true},
				within(level, from.Add(30*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
			if level == "WARNING" {
				steps = steps[1:]
			}
			if err := matchSteps(got, steps); err != nil {
				t.Fatalf("%v\nwant:\n%s\ngot:\n%s", err, showSteps(steps), show(got))
			}
		})
	}
}
