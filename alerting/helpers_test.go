package alerting

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// hostOf is the host tag of the recording's system inputs.
func hostOf(rec series) string {
	for _, p := range rec {
		if p.Name == "cpu" {
			return p.Tags["host"]
		}
	}
	return ""
}

// ownAddress is our validator's (validator 0's) consensus address, from its
// recorded oasis_signing summaries.
func ownAddress(rec series, ev events) string {
	s := rec.only("oasis_signing").where("node_id", ev.OwnNodeID)
	if len(s) == 0 {
		return "no oasis_signing summary of our node recorded"
	}
	return s[0].Tags["consensus_address"]
}

// notOursDown is the recording's signing summaries from the healthy phase
// until our own node was stopped: validator 3, tracked only because of
// all_validators (monitored=0), is stopped and misses heights throughout;
// our validator signs every height.
func notOursDown(t *testing.T, rec series, ev events) series {
	s := rec.between(at(ev.HealthyFrom), at(ev.Validator0Stopped)).only("oasis_signing")
	var missed bool
	for _, p := range s.where("consensus_address", ev.DownConsensusAddr) {
		if p.Fields["monitored"] != int64(0) {
			t.Fatalf("validator 3 is monitored in the recording: %v", p)
		}
		if n, _ := p.Fields["consecutive_missed"].(int64); n >= 10 {
			missed = true
		}
	}
	if !missed {
		t.Fatal("validator 3 missed fewer than 10 heights in a row in the recording: this test could not fail")
	}
	return s
}

// monitoredDown is validator 3's recorded signing summaries, from the
// healthy phase to the end, as if this install monitored it (monitored=1,
// derived): it was stopped while our node followed the chain, so every
// height it missed was seen live.
func monitoredDown(rec series, ev events) series {
	s := rec.between(at(ev.HealthyFrom), at(ev.End)).only("oasis_signing").where("consensus_address", ev.DownConsensusAddr)
	return s.edit(func(_ int, p *point) { p.Fields["monitored"] = int64(1) })
}

// ownOutage is our validator's recorded signing summaries from the moment
// its node was stopped to the end of the recording: the heights it
// missed while its node was down are counted (consecutive_missed) but
// unobserved (consecutive_missed_observed stays below the alert's lowest
// threshold). It fails the test if the recording does not show both.
func ownOutage(t *testing.T, rec series, ev events) series {
	s := rec.between(at(ev.Validator0Stopped), at(ev.End)).only("oasis_signing").where("consensus_address", ownAddress(rec, ev))
	var missed, unobserved bool
	for _, p := range s {
		if n, _ := p.Fields["consecutive_missed"].(int64); n >= 10 {
			missed = true
		}
		if n, _ := p.Fields["missed_unobserved_total"].(int64); n >= 10 {
			unobserved = true
		}
	}
	if !missed || !unobserved {
		t.Fatalf("our validator's outage in the recording shows no run of 10 missed heights (%v) or no unobserved ones (%v): this test could not fail", missed, unobserved)
	}
	return s
}

// inputOf is the recorded oasis_input series of one of our inputs (its
// own status, one point per gather).
func inputOf(rec series, input string) series {
	return rec.only("oasis_input").where("input", input)
}

// inputKey is how alerts about one of our inputs tell its processes
// apart: "<host>:<address>" of its recorded oasis_input points.
func inputKey(rec series, input string) string {
	s := inputOf(rec, input)
	if len(s) == 0 {
		return "no oasis_input point of " + input + " recorded"
	}
	return s[0].Tags["host"] + ":" + s[0].Tags["address"]
}

// inputAlertID is the ID of an alert about one of our inputs:
// "<alert>:<input>:<host>:<address>".
func inputAlertID(alert, input string, rec series) string {
	return alert + ":" + input + ":" + inputKey(rec, input)
}

// withReferenceLag is our node's oasis_node points as the input writes them
// with two references configured and answering, the one furthest ahead by
// ahead(t) blocks (derived: the devnet recording has no references).
func withReferenceLag(own series, ahead func(time.Time) int64) series {
	return own.edit(func(_ int, p *point) {
		p.Fields["references_total"] = int64(2)
		p.Fields["references_up"] = int64(2)
		if _, ok := p.Fields["latest_height"].(int64); ok {
			p.Fields["reference_height_lag"] = ahead(p.Time)
			p.Fields["reference_epoch_lag"] = int64(0)
			p.Fields["reference_ahead"] = "public"
		}
	})
}

// inputQueryFailing is 6 minutes of an input's healthy oasis_input points
// in which, for 2 minutes from the first, the node answers every read of
// the input with an error (up=0, down_reason query_failed: a wrong entity
// ID, a query the node refuses), as the input writes them then (derived:
// the devnet answers every query).
func inputQueryFailing(input string, warnSeconds, critSeconds int) func(t *testing.T, rec series, ev events) (series, []step) {
	return func(t *testing.T, rec series, ev events) (series, []step) {
		s := inputOf(healthyFor(rec, ev, 6*time.Minute), input)
		from := s.first().Add(time.Minute)
		to := from.Add(2 * time.Minute)
		s = s.edit(func(_ int, p *point) {
			if !p.Time.Before(from) && p.Time.Before(to) {
				p.Fields["up"] = int64(0)
				p.Fields["down_reason"] = "query_failed"
				p.Fields["failed_reads"] = int64(1)
			}
		})
		// Thresholds half a gather short of whole gathers (2 s here): the
		// first failed point comes 0 to 2 s after from, the threshold is
		// crossed 1 s after it is due.
		w, c := time.Duration(warnSeconds)*time.Second, time.Duration(critSeconds)*time.Second
		return s, []step{
			within("WARNING", from.Add(w), 5*time.Second),
			within("CRITICAL", from.Add(c), 5*time.Second),
			within("OK", to, 3*time.Second),
		}
	}
}

// nodeOutage is an input's recorded oasis_input points around our node's
// outage (45 s of up=0, no_socket): the node itself is down, which is
// oasis_node_down's page, not one more per input.
func nodeOutage(input string) func(t *testing.T, rec series, ev events) series {
	return func(t *testing.T, rec series, ev events) series {
		s := inputOf(rec.between(at(ev.Validator0Stopped).Add(-30*time.Second), at(ev.Validator0Started).Add(time.Minute)), input)
		down := 0
		for _, p := range s {
			if p.Fields["up"] == int64(0) {
				down++
			}
		}
		if down < 5 {
			t.Fatalf("only %d up=0 points of %s in the recorded outage: this test could not fail", down, input)
		}
		return s
	}
}

// hostFault sets a system field to warnValue for 8 minutes, then to
// critValue for 8 minutes, then back, on 30 minutes of healthy points: the
// alerts average over a 5-minute window checked every minute.
func hostFault(measurement, field string, warnValue, critValue float64, keep func(*point) bool) func(t *testing.T, rec series, ev events) (series, []step) {
	return func(t *testing.T, rec series, ev events) (series, []step) {
		s := healthyFor(rec, ev, 30*time.Minute).only(measurement)
		if keep != nil {
			var kept series
			for _, p := range s {
				if keep(&p) {
					kept = append(kept, p)
				}
			}
			s = kept
		}
		t0 := s.first()
		warnFrom, critFrom, healthyFrom := t0.Add(2*time.Minute), t0.Add(10*time.Minute), t0.Add(18*time.Minute)
		s = s.edit(func(_ int, p *point) {
			switch {
			case p.Time.Before(warnFrom) || !p.Time.Before(healthyFrom):
			case p.Time.Before(critFrom):
				p.Fields[field] = warnValue
			default:
				p.Fields[field] = critValue
			}
		})
		return s, []step{
			{level: "WARNING", from: warnFrom.Add(3 * time.Minute), to: warnFrom.Add(6 * time.Minute)},
			{level: "CRITICAL", from: critFrom.Add(2 * time.Minute), to: critFrom.Add(6 * time.Minute)},
			{level: "WARNING", from: healthyFrom, to: healthyFrom.Add(2 * time.Minute), optional: true},
			{level: "OK", from: healthyFrom, to: healthyFrom.Add(3 * time.Minute)},
		}
	}
}

// hostHealthy is 30 minutes of the recording's healthy system points, as
// long as hostFault's series: its 5-minute windows are checked every minute
// (the 90 s healthy phase would close one window at most).
func hostHealthy(measurement string) func(t *testing.T, rec series, ev events) series {
	return func(t *testing.T, rec series, ev events) series {
		return healthyFor(rec, ev, 30*time.Minute).only(measurement)
	}
}

// matchSteps checks got against the steps in order; optional steps may be
// missing.
func matchSteps(got []event, steps []step) error {
	j := 0
	for i, s := range steps {
		if j < len(got) && s.matches(got[j]) {
			j++
			continue
		}
		if s.optional {
			continue
		}
		if j < len(got) {
			return fmt.Errorf("step %d: want %s, got %s at %s: %s", i, s, got[j].Level, got[j].Time.Format("15:04:05.000"), got[j].Message)
		}
		return fmt.Errorf("step %d: want %s, no more events", i, s)
	}
	if j < len(got) {
		return fmt.Errorf("unexpected event %s at %s: %s", got[j].Level, got[j].Time.Format("15:04:05.000"), got[j].Message)
	}
	return nil
}

func (s step) matches(e event) bool {
	return e.Level == s.level && !e.Time.Before(s.from) && !e.Time.After(s.to)
}

func (s step) String() string {
	opt := ""
	if s.optional {
		opt = " (optional)"
	}
	return fmt.Sprintf("%s between %s and %s%s", s.level, s.from.Format("15:04:05.000"), s.to.Format("15:04:05.000"), opt)
}

// permissionDenied is 6 minutes of our node's healthy points in which, for
// two minutes from the second, the monitor may not use the socket: only
// up=0 with down_reason=permission_denied, as oasis_node writes then.
func permissionDenied(rec series, ev events) (s series, from, to time.Time) {
	s = healthyFor(rec, ev, 6*time.Minute).only("oasis_node")
	from = s.first().Add(time.Minute)
	to = from.Add(2 * time.Minute)
	s = s.edit(func(_ int, p *point) {
		if !p.Time.Before(from) && p.Time.Before(to) {
			p.Fields = map[string]any{"up": int64(0), "down_reason": "permission_denied"}
		}
	})
	return s, from, to
}

// epochLostThenBack finds, in a validator's summaries, the first one that
// shows an epoch's signing reward lost to its live misses, and the first,
// after it came back, that shows it voting in an epoch it can reach with
// the alert's margin to spare. It fails the test if the series shows
// neither.
func epochLostThenBack(t *testing.T, s series, ev events) (lostAt, backAt time.Time) {
	t.Helper()
	for _, p := range s {
		if lostAt.IsZero() && p.Time.After(at(ev.Validator3Stopped)) && p.Fields["epoch_reward_reachable_observed"] == int64(0) {
			lostAt = p.Time
		}
		best, _ := p.Fields["epoch_best_signed_share_observed"].(float64)
		threshold, _ := p.Fields["epoch_reward_threshold"].(float64)
		signed, _ := p.Fields["epoch_signed"].(int64)
		if backAt.IsZero() && p.Time.After(at(ev.Validator3Started)) && threshold > 0 && best >= threshold+0.1 && signed > 0 {
			backAt = p.Time
		}
	}
	if lostAt.IsZero() || backAt.IsZero() {
		t.Fatalf("the recording shows no epoch lost by validator 3 (%v) or none it votes in and can reach after it is back (%v): this test could not fail", lostAt, backAt)
	}
	return lostAt, backAt
}

// devRuntimeID is a ParaTime's ID in the derived runtime series (the
// devnet's: oasis-devnet init -compute).
const devRuntimeID = "0000000000000000000000000000000000000000000000006f6d636465767274"

// runtimeSeries derives oasis_runtime points for our node from its
// recorded oasis_node points in the healthy phase (one per gather, its
// host and names kept): a compute node hosting one ParaTime, ready, in the
// executor committee and live, a round every few seconds. change edits the
// fields d after the first point.
func runtimeSeries(rec series, ev events, change func(d time.Duration, f map[string]any)) (series, time.Time) {
	s := healthyPhase(rec, ev).only("oasis_node").where("node_id", ev.OwnNodeID)
	t0 := s.first()
	var out series
	for i, p := range s {
		if p.Fields["up"] != int64(1) {
			continue
		}
		tags := map[string]string{"runtime_id": devRuntimeID, "node_id": ev.OwnNodeID}
		if h, ok := p.Tags["host"]; ok {
			tags["host"] = h
		}
		round := int64(100 + i)
		f := map[string]any{
			"up": int64(1), "node_registered": int64(1), "runtime_suspended": int64(0), "tee_hardware": "invalid",
			"min_live_rounds_share": 0.9, "max_liveness_failures": int64(2),
			"round": round, "last_block_kind": "normal", "last_normal_round": round, "last_normal_round_age_seconds": 1.5,
			"in_committee": int64(1), "committee_size": int64(2), "committee_role": "worker",
			"total_rounds": int64(20 + i), "live_rounds": int64(20 + i), "live_rounds_min": int64((20 + i) * 9 / 10),
			"live_rounds_share": 1.0, "finalized_proposals": int64(10), "missed_proposals": int64(0),
			"liveness_evaluated": int64(1), "liveness_ok": int64(1),
			"node_suspended": int64(0), "liveness_failures": int64(0), "suspended_until_epoch": int64(0),
			"hosted": int64(1), "node_latest_round": round, "round_lag": int64(0), "provisioner": "sandboxed",
			"ready": int64(1), "host_status": "ready", "peers": int64(4),
		}
		for _, name := range []string{"node_name", "entity_name"} {
			if v, ok := p.Fields[name]; ok {
				f[name] = v
			}
		}
		change(p.Time.Sub(t0), f)
		out = append(out, point{Name: "oasis_runtime", Tags: tags, Fields: f, Time: p.Time})
	}
	return out, t0
}

// runtimeHealthy is the derived runtime series unchanged: a node hosting
// a ParaTime, ready, live, rounds every few seconds.
func runtimeHealthy(t *testing.T, rec series, ev events) series {
	s, _ := runtimeSeries(rec, ev, func(time.Duration, map[string]any) {})
	return s
}

// runtimeAlertID is a runtime alert's ID for our node.
func runtimeAlertID(task string) func(rec series, ev events) string {
	return func(rec series, ev events) string { return task + ":" + devRuntimeID + ":" + ev.OwnNodeID }
}

// suspend makes a runtime point the chain's view of a node judged not live
// at an epoch's end: suspended, out of the executor committee (no
// liveness fields).
func suspend(f map[string]any) {
	f["node_suspended"], f["liveness_failures"], f["suspended_until_epoch"] = int64(1), int64(1), int64(7)
	f["in_committee"] = int64(0)
	for _, k := range []string{"committee_role", "total_rounds", "live_rounds", "live_rounds_min", "live_rounds_share",
		"finalized_proposals", "missed_proposals", "liveness_evaluated", "liveness_ok"} {
		delete(f, k)
	}
}

// attested makes a runtime point an SGX runtime's, the node's attestation
// left blocks from the maximum age of 1,200, the age enforced.
func attested(f map[string]any, left int64) {
	f["tee_hardware"], f["attested"], f["attestation_age_enforced"] = "intel-sgx", int64(1), int64(1)
	f["attestation_max_age_blocks"], f["attestation_blocks_left"] = int64(1200), left
	f["attestation_left_share"] = float64(left) / 1200
	f["attestation_age_blocks"], f["attestation_height"] = 1200-left, int64(5000)
}
