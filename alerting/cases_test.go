package alerting

import (
	"testing"
	"time"
)

// The catalog: one entry per task in kapacitor/load/tasks.
//
// Recorded faults come from the devnet recording (testbed/e2e/record_test.go):
// validator 3 stopped until its registration expired and its entity left
// the set, then started again; a proposal our entity (validator 0's) did
// not vote on; our own node (validator 0) stopped for a while. Faults the
// devnet can't make (a slash, a full disk, a stuck chain, ...) are derived
// from the recording's healthy phase by changing the fields the alert
// reads, and say so.
var catalog = []alertCase{
	// --- the node ------------------------------------------------------
	{
		task: "oasis_node_down", template: "oasis_node_down", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_node_down:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			stop, start := at(ev.Validator0Stopped), at(ev.Validator0Started)
			return rec, []step{
				// The first failed gather comes within one interval (2 s); the
				// 13th in a row (24 s later) crosses crit_seconds (25).
				within("CRITICAL", stop.Add(25*time.Second), 10*time.Second),
				// A gather that began just before the restart can succeed: the
				// client waits up to 1 s for the socket.
				within("OK", start.Add(-2*time.Second), 30*time.Second),
			}
		},
	},
	{
		task: "oasis_monitor_no_access", template: "oasis_monitor_no_access",
		alertID: func(rec series, ev events) string { return "oasis_monitor_no_access:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			s, from, to := permissionDenied(rec, ev)
			return s, []step{
				within("CRITICAL", from.Add(25*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
		},
	},
	{
		task: "oasis_node_silent", template: "oasis_node_silent", recorded: true, live: true,
		alertID: func(rec series, ev events) string { return "oasis_node_silent:" + ev.OwnNodeID + ":" + hostOf(rec) },
	},
	{
		task: "oasis_input_silent_signing", template: "oasis_input_silent", live: true,
		alertID: func(rec series, ev events) string { return inputAlertID("oasis_input_silent", "oasis_signing", rec) },
	},
	{
		task: "oasis_input_silent_entity", template: "oasis_input_silent", live: true,
		alertID: func(rec series, ev events) string { return inputAlertID("oasis_input_silent", "oasis_entity", rec) },
	},
	{
		task: "oasis_input_silent_governance", template: "oasis_input_silent", live: true,
		alertID: func(rec series, ev events) string { return inputAlertID("oasis_input_silent", "oasis_governance", rec) },
	},
	{
		// Not an alert: the heartbeat outward (TestWatchdog).
		task: "oasis_watchdog", template: "oasis_watchdog", live: true, heartbeat: true,
	},
	{
		// The notice of a silence, on the wall clock (TestSilence).
		task: "oasis_silence", template: "oasis_silence", live: true, silence: true,
	},
	{
		task: "oasis_plugin_errors_signing", template: "oasis_plugin_errors",
		vars: map[string]string{"warn_seconds": "9", "crit_seconds": "19"},
		alertID: func(rec series, ev events) string {
			return inputAlertID("oasis_plugin_errors", "oasis_signing", rec)
		},
		fault:   inputQueryFailing("oasis_signing", 9, 19),
		healthy: nodeOutage("oasis_signing"),
	},
	{
		task: "oasis_plugin_errors_entity", template: "oasis_plugin_errors",
		vars: map[string]string{"warn_seconds": "9", "crit_seconds": "19"},
		alertID: func(rec series, ev events) string {
			return inputAlertID("oasis_plugin_errors", "oasis_entity", rec)
		},
		fault:   inputQueryFailing("oasis_entity", 9, 19),
		healthy: nodeOutage("oasis_entity"),
	},
	{
		task: "oasis_plugin_errors_governance", template: "oasis_plugin_errors",
		vars: map[string]string{"warn_seconds": "9", "crit_seconds": "19"},
		alertID: func(rec series, ev events) string {
			return inputAlertID("oasis_plugin_errors", "oasis_governance", rec)
		},
		fault:   inputQueryFailing("oasis_governance", 9, 19),
		healthy: nodeOutage("oasis_governance"),
	},
	{
		task: "oasis_signing_state_unsaved", template: "oasis_signing_state_unsaved",
		alertID: func(rec series, ev events) string {
			return "oasis_signing_state_unsaved:" + inputKey(rec, "oasis_signing")
		},
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The state volume fills up for 2 minutes: every save fails.
			s := inputOf(healthyFor(rec, ev, 5*time.Minute), "oasis_signing")
			from := s.first().Add(time.Minute)
			to := from.Add(2 * time.Minute)
			s = s.edit(func(_ int, p *point) {
				if !p.Time.Before(from) && p.Time.Before(to) {
					p.Fields["state_saved"] = int64(0)
				}
			})
			return s, []step{
				within("CRITICAL", from.Add(55*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
		},
	},
	{
		task: "oasis_signing_state_reset", template: "oasis_signing_state_reset",
		alertID: func(rec series, ev events) string {
			return "oasis_signing_state_reset:" + inputKey(rec, "oasis_signing")
		},
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// 30 s in, the plugin restarts on a state file it can't resume.
			s := inputOf(healthyPhase(rec, ev), "oasis_signing")
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				if p.Time.Sub(t0) >= 30*time.Second {
					p.Fields["state_resets_total"] = int64(1) // as InfluxDB 1.8 stores it
				}
			})
			return s, []step{
				within("WARNING", t0.Add(30*time.Second), 3*time.Second),
				within("OK", t0.Add(30*time.Second), 6*time.Second),
			}
		},
	},
	{
		task: "oasis_not_synced", template: "oasis_not_synced",
		alertID: func(rec series, ev events) string { return "oasis_not_synced:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			s := healthyFor(rec, ev, 15*time.Minute).only("oasis_node")
			from := s.first().Add(time.Minute)
			to := from.Add(11 * time.Minute)
			s = s.edit(func(_ int, p *point) {
				if !p.Time.Before(from) && p.Time.Before(to) {
					p.Fields["synced"] = int64(0)
					p.Fields["consensus_status"] = "syncing"
				}
			})
			return s, []step{
				within("WARNING", from.Add(115*time.Second), 5*time.Second),
				within("CRITICAL", from.Add(595*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
		},
		// As long as the fault: a wrong condition would have time to
		// reach the thresholds (the 90 s healthy phase is shorter than
		// warn_seconds).
		healthy: func(t *testing.T, rec series, ev events) series {
			return healthyFor(rec, ev, 15*time.Minute).only("oasis_node")
		},
	},
	{
		task: "oasis_block_stale", template: "oasis_block_stale",
		alertID: func(rec series, ev events) string { return "oasis_block_stale:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The chain halts for 200 s: height and block time freeze while
			// the age grows.
			s := healthyFor(rec, ev, 6*time.Minute).only("oasis_node")
			from := s.first().Add(time.Minute)
			to := from.Add(200 * time.Second)
			var height any
			s = s.edit(func(_ int, p *point) {
				if p.Time.Before(from) {
					height = p.Fields["latest_height"]
				} else if p.Time.Before(to) {
					p.Fields["latest_height"] = height
					p.Fields["latest_block_age_seconds"] = p.Time.Sub(from).Seconds()
				}
			})
			return s, []step{
				within("WARNING", from.Add(60*time.Second), 5*time.Second),
				within("CRITICAL", from.Add(180*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
		},
	},
	{
		task: "oasis_height_behind", template: "oasis_height_behind",
		alertID: func(rec series, ev events) string { return "oasis_height_behind:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The reference furthest ahead is 20 blocks ahead of ours from
			// 20 s, 60 from 40 s, then ours catches up at 60 s (derived:
			// the oasis_node input's reference fields, as it writes them).
			own := healthyPhase(rec, ev).only("oasis_node")
			t0 := own.first()
			s := withReferenceLag(own, func(tm time.Time) int64 {
				switch d := tm.Sub(t0); {
				case d >= 20*time.Second && d < 40*time.Second:
					return 20
				case d >= 40*time.Second && d < 60*time.Second:
					return 60
				}
				return 1
			})
			return s, []step{
				within("WARNING", t0.Add(20*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			return withReferenceLag(healthyPhase(rec, ev).only("oasis_node"), func(time.Time) int64 { return 1 })
		},
	},
	{
		task: "oasis_references_down", template: "oasis_references_down",
		alertID: func(rec series, ev events) string { return "oasis_references_down:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Both references stop answering 30 s in, for 2 minutes.
			s := withReferenceLag(healthyFor(rec, ev, 4*time.Minute).only("oasis_node"), func(time.Time) int64 { return 1 })
			t0 := s.first()
			from, to := t0.Add(30*time.Second), t0.Add(150*time.Second)
			s = s.edit(func(_ int, p *point) {
				if !p.Time.Before(from) && p.Time.Before(to) {
					p.Fields["references_up"] = int64(0)
					delete(p.Fields, "reference_height_lag")
					delete(p.Fields, "reference_epoch_lag")
					delete(p.Fields, "reference_ahead")
				}
			})
			return s, []step{
				within("WARNING", from.Add(55*time.Second), 5*time.Second),
				within("OK", to, 3*time.Second),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			// One of the two down all along is no alert: the other compares.
			s := withReferenceLag(healthyFor(rec, ev, 4*time.Minute).only("oasis_node"), func(time.Time) int64 { return 1 })
			return s.edit(func(_ int, p *point) { p.Fields["references_up"] = int64(1) })
		},
	},
	{
		task: "oasis_peers_low", template: "oasis_peers_low",
		alertID: func(rec series, ev events) string { return "oasis_peers_low:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Peers drop to 2 for 2 minutes, then to 0 for 90 s, then come
			// back (the devnet has 3).
			s := healthyFor(rec, ev, 5*time.Minute).only("oasis_node")
			t0 := s.first()
			low, none, back := t0.Add(30*time.Second), t0.Add(150*time.Second), t0.Add(240*time.Second)
			s = s.edit(func(_ int, p *point) {
				if p.Fields["up"] != int64(1) {
					return
				}
				switch {
				case !p.Time.Before(low) && p.Time.Before(none):
					p.Fields["consensus_peers"] = int64(2)
				case !p.Time.Before(none) && p.Time.Before(back):
					p.Fields["consensus_peers"] = int64(0)
				}
			})
			return s, []step{
				within("WARNING", low.Add(55*time.Second), 5*time.Second),
				within("CRITICAL", none, 3*time.Second),
				within("OK", back, 3*time.Second),
			}
		},
	},
	{
		task: "oasis_version_changed", template: "oasis_version_changed",
		alertID: func(rec series, ev events) string { return "oasis_version_changed:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The operator upgrades oasis-node 40 s in.
			s := healthyPhase(rec, ev).only("oasis_node")
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				if p.Time.Sub(t0) >= 40*time.Second && p.Fields["up"] == int64(1) {
					p.Fields["software_version"] = "99.0.0"
				}
			})
			return s, []step{
				within("INFO", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(40*time.Second), 6*time.Second),
			}
		},
	},
	{
		task: "oasis_registration_failing", template: "oasis_registration_failing",
		alertID: func(rec series, ev events) string { return "oasis_registration_failing:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Registration attempts fail for 31 minutes (e.g. no funds for
			// the fee), then succeed.
			s := healthyFor(rec, ev, 35*time.Minute).only("oasis_node")
			from := s.first().Add(time.Minute)
			to := from.Add(31 * time.Minute)
			s = s.edit(func(_ int, p *point) {
				if p.Fields["up"] == int64(1) && !p.Time.Before(from) && p.Time.Before(to) {
					p.Fields["registration_last_attempt_ok"] = int64(0)
					p.Fields["registration_last_attempt_error"] = "registration: failed to register node: staking: insufficient balance"
				}
			})
			return s, []step{
				within("WARNING", from, 3*time.Second),
				within("CRITICAL", from.Add(1795*time.Second), 5*time.Second),
				within("OK", to, 5*time.Second),
			}
		},
	},
	// --- signing -------------------------------------------------------
	{
		task: "oasis_missed_consecutive", template: "oasis_missed_consecutive", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_missed_consecutive:" + ev.DownConsensusAddr },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Validator 3 was stopped for minutes while our node followed
			// the chain: it missed every height, seen live. In the
			// recording it is tracked only because of all_validators
			// (monitored=0); here it is one we monitor (derived: monitored=1).
			s := monitoredDown(rec, ev)
			stop, start := at(ev.Validator3Stopped), at(ev.Validator3Started)
			return s, []step{
				// Its own shutdown, and the slower rounds of a chain whose
				// proposer is gone, stretch 10 heights to ~20 s.
				{level: "WARNING", from: stop, to: stop.Add(40 * time.Second), optional: true},
				within("CRITICAL", stop, 40*time.Second),
				{level: "OK", from: start, to: start.Add(3 * time.Minute)},
			}
		},
		// Validator 3 as recorded (not ours), and our own validator
		// through its node's outage: the heights it missed while the node
		// was down are unobserved, oasis_node_down's page. No page.
		healthy: func(t *testing.T, rec series, ev events) series {
			return append(notOursDown(t, rec, ev), ownOutage(t, rec, ev)...)
		},
	},
	{
		task: "oasis_uptime_low", template: "oasis_uptime_low", recorded: true,
		// The recording is minutes long: the 100-height window instead of
		// the 1,000-height one.
		vars:    map[string]string{"uptime": `'"uptime_observed_100"'`},
		alertID: func(rec series, ev events) string { return "oasis_uptime_low:" + ev.DownConsensusAddr },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Validator 3, monitored (derived), missed every height for
			// minutes, seen live; back, its last 100 heights are whole
			// again before the recording ends.
			s := monitoredDown(rec, ev)
			stop, start := at(ev.Validator3Stopped), at(ev.Validator3Started)
			return s, []step{
				{level: "WARNING", from: stop, to: stop.Add(20 * time.Second), optional: true},
				within("CRITICAL", stop, 30*time.Second),
				{level: "WARNING", from: start, to: at(ev.End), optional: true},
				{level: "OK", from: start, to: at(ev.End)},
			}
		},
		// Validator 3 as recorded (not ours) fell to ~0 % of its last 100
		// heights; our validator missed ~90 heights during its node's
		// outage, unobserved: no page for either.
		healthy: func(t *testing.T, rec series, ev events) series {
			return append(notOursDown(t, rec, ev), ownOutage(t, rec, ev)...)
		},
	},
	{
		task: "oasis_epoch_reward_at_risk", template: "oasis_epoch_reward_at_risk", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_epoch_reward_at_risk:" + ev.DownConsensusAddr },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Validator 3, monitored (derived), missed every height from its
			// stop, seen live: a quarter of a devnet epoch (20 heights) later
			// that epoch's reward is out of reach. Devnet epochs last
			// seconds: while it is down each new one begins without its
			// vote, and the alert holds CRITICAL until it votes again, once
			// it is back, in an epoch it can reach.
			s := monitoredDown(rec, ev)
			lostAt, backAt := epochLostThenBack(t, s, ev)
			stop := at(ev.Validator3Stopped)
			return s, []step{
				{level: "WARNING", from: stop, to: lostAt, optional: true},
				{level: "CRITICAL", from: stop, to: lostAt},
				{level: "WARNING", from: at(ev.Validator3Started), to: backAt, optional: true},
				{level: "OK", from: at(ev.Validator3Started), to: backAt},
			}
		},
		// Validator 3 as recorded (not ours), and our own validator
		// through its node's outage: its epochs' misses were unobserved,
		// oasis_node_down's page. No page.
		healthy: func(t *testing.T, rec series, ev events) series {
			return append(notOursDown(t, rec, ev), ownOutage(t, rec, ev)...)
		},
	},
	// --- registration and stake ----------------------------------------
	{
		task: "oasis_not_in_validator_set", template: "oasis_not_in_validator_set", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_not_in_validator_set:" + ev.DownEntityID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			stop, start := at(ev.Validator3Stopped), at(ev.Validator3Started)
			return rec, []step{
				// Its registration runs out after 2 epochs (~30 s each).
				{level: "CRITICAL", from: stop.Add(20 * time.Second), to: start},
				within("OK", start, 3*time.Minute),
			}
		},
	},
	{
		task: "oasis_registration_expiring", template: "oasis_registration_expiring", recorded: true,
		// Devnet epochs last ~30 s, not an hour: a 10 s grace instead of 5 min.
		vars:    map[string]string{"grace_seconds": "10"},
		alertID: func(rec series, ev events) string { return "oasis_registration_expiring:" + ev.DownNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			stop, start := at(ev.Validator3Stopped), at(ev.Validator3Started)
			return rec, []step{
				{level: "WARNING", from: stop, to: start},
				{level: "CRITICAL", from: stop, to: start},
				within("OK", start, 2*time.Minute),
			}
		},
	},
	{
		task: "oasis_node_frozen", template: "oasis_node_frozen",
		alertID: func(rec series, ev events) string { return "oasis_node_frozen:" + ev.OwnNodeID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The registry freezes our node 30 s in; it is unfrozen 30 s later.
			s := healthyPhase(rec, ev).only("oasis_entity_node").where("node_id", ev.OwnNodeID)
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				if d := p.Time.Sub(t0); d >= 30*time.Second && d < 60*time.Second {
					p.Fields["frozen"] = int64(1)
					p.Fields["freeze_end_epoch"] = int64(1000)
					p.Fields["validator_eligible_next_epoch"] = int64(0)
				}
			})
			return s, []step{
				within("CRITICAL", t0.Add(30*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
	},
	{
		task: "oasis_escrow_slashed", template: "oasis_escrow_slashed",
		alertID: func(rec series, ev events) string { return "oasis_escrow_slashed:" + ev.OwnEntityID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// A slash of 0.5 % of the pool 30 s in: the share price drops once.
			s := healthyPhase(rec, ev).only("oasis_entity").where("entity_id", ev.OwnEntityID)
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				if p.Time.Sub(t0) >= 30*time.Second {
					if price, ok := p.Fields["escrow_active_share_price"].(float64); ok {
						p.Fields["escrow_active_share_price"] = price * 0.995
					}
				}
			})
			return s, []step{
				within("CRITICAL", t0.Add(30*time.Second), 3*time.Second),
				within("OK", t0.Add(30*time.Second), 6*time.Second),
			}
		},
	},
	{
		task: "oasis_balance_low", template: "oasis_balance_low",
		alertID: func(rec series, ev events) string { return "oasis_balance_low:" + ev.OwnEntityID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Fees drain the general balance to 5, then 0.5 tokens; a top-up
			// at 60 s.
			s := healthyPhase(rec, ev).only("oasis_entity").where("entity_id", ev.OwnEntityID)
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				switch d := p.Time.Sub(t0); {
				case d >= 20*time.Second && d < 40*time.Second:
					p.Fields["general_balance_tokens"] = 5.0
				case d >= 40*time.Second && d < 60*time.Second:
					p.Fields["general_balance_tokens"] = 0.5
				}
			})
			return s, []step{
				within("WARNING", t0.Add(20*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
	},
	{
		task: "oasis_validator_set_cutoff", template: "oasis_validator_set_cutoff",
		alertID: func(rec series, ev events) string { return "oasis_validator_set_cutoff:" + ev.OwnEntityID },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The devnet's recording has free seats (max_validators 100): the
			// cutoff is derived. Our entity holds the last of 3 seats with 20 %
			// to spare; rivals gain escrow until it is 3 % above the best one
			// left out (20 s in), then 2 % below it, out of the next set
			// (40 s); a delegation puts it back at 60 s.
			s := healthyPhase(rec, ev).only("oasis_entity").where("entity_id", ev.OwnEntityID)
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				escrow, _ := p.Fields["escrow_active_balance_tokens"].(float64)
				share, elected, rank := 0.2, int64(1), int64(3)
				switch d := p.Time.Sub(t0); {
				case d >= 20*time.Second && d < 40*time.Second:
					share = 0.03
				case d >= 40*time.Second && d < 60*time.Second:
					share, elected, rank = -0.02, 0, 4
				}
				margin := escrow * share
				p.Fields["max_validators"] = int64(3)
				p.Fields["election_height"] = int64(1000)
				p.Fields["election_candidates"] = int64(4)
				p.Fields["validator_nodes_eligible"] = int64(1)
				p.Fields["election_candidate"] = int64(1)
				p.Fields["elected_next_epoch"] = elected
				p.Fields["escrow_rank"] = rank
				p.Fields["election_escrow_tokens"] = escrow
				p.Fields["cutoff_kind"] = "seats"
				p.Fields["cutoff_escrow_tokens"] = escrow - margin
				p.Fields["cutoff_margin_tokens"] = margin
				p.Fields["cutoff_margin_share"] = share
			})
			return s, []step{
				within("WARNING", t0.Add(20*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		// Every recorded entity: free seats (the stake claims bind, far
		// below), and validator 3's while its node expired (no node in the
		// election, no margin): quiet.
		healthy: func(t *testing.T, rec series, ev events) series { return rec },
	},
	// --- ParaTimes ------------------------------------------------------
	// The recording's devnet hosts no ParaTime: the runtime series are
	// derived, one point per recorded gather of our node. The input and
	// these faults run for real on the devnet's ParaTime in
	// testbed/plugins/oasis_runtime (TestDevnetParaTime).
	{
		task: "oasis_runtime_not_ready", template: "oasis_runtime_not_ready",
		// 20 s and 40 s instead of 175 s and 595 s: the healthy phase is 90 s.
		vars:    map[string]string{"warn_seconds": "20", "crit_seconds": "40"},
		alertID: runtimeAlertID("oasis_runtime_not_ready"),
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// The runtime host restarts 15 s in and is ready again at 75 s.
			s, t0 := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				if d >= 15*time.Second && d < 75*time.Second {
					f["ready"], f["host_status"] = int64(0), "waiting for hosted runtime provision"
				}
			})
			return s, []step{
				within("WARNING", t0.Add(35*time.Second), 4*time.Second),
				within("CRITICAL", t0.Add(55*time.Second), 4*time.Second),
				within("OK", t0.Add(75*time.Second), 3*time.Second),
			}
		},
		healthy: runtimeHealthy,
	},
	{
		task: "oasis_runtime_round_stale", template: "oasis_runtime_round_stale",
		// 10 s and 25 s instead of 60 s and 180 s: the healthy phase is 90 s.
		vars:    map[string]string{"warn_age_seconds": "10.0", "crit_age_seconds": "25.0"},
		alertID: runtimeAlertID("oasis_runtime_round_stale"),
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// No round computed from 20 s to 60 s: the runtime is suspended.
			s, t0 := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				if d >= 20*time.Second && d < 60*time.Second {
					f["last_normal_round"] = int64(100)
					f["last_normal_round_age_seconds"] = (d - 20*time.Second).Seconds() + 1.5
					f["runtime_suspended"], f["last_block_kind"] = int64(1), "suspended"
				}
			})
			return s, []step{
				within("WARNING", t0.Add(29*time.Second), 4*time.Second),
				within("CRITICAL", t0.Add(44*time.Second), 4*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		healthy: runtimeHealthy,
	},
	{
		task: "oasis_runtime_liveness_low", template: "oasis_runtime_liveness_low",
		alertID: runtimeAlertID("oasis_runtime_liveness_low"),
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Live in 92 % of the epoch's rounds from 20 s (the minimum is
			// 90 %), 80 % from 40 s; at 60 s the epoch ends, the node is
			// judged not live and suspended: out of the committee, the
			// alert ends (oasis_runtime_node_suspended's turn).
			s, t0 := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				total := f["total_rounds"].(int64)
				switch {
				case d >= 20*time.Second && d < 40*time.Second:
					f["live_rounds"] = total * 92 / 100
					f["live_rounds_share"] = float64(total*92/100) / float64(total)
				case d >= 40*time.Second && d < 60*time.Second:
					f["live_rounds"], f["live_rounds_share"], f["liveness_ok"] = total*8/10, float64(total*8/10)/float64(total), int64(0)
				case d >= 60*time.Second:
					suspend(f)
				}
			})
			return s, []step{
				within("WARNING", t0.Add(20*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			// Quiet too for a backup worker (not judged: no liveness
			// fields) and early in an epoch (a missed round of 10).
			s, _ := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				switch {
				case d >= 20*time.Second && d < 40*time.Second:
					f["committee_role"] = "backup-worker"
					for _, k := range []string{"total_rounds", "live_rounds", "live_rounds_min", "live_rounds_share",
						"finalized_proposals", "missed_proposals", "liveness_evaluated", "liveness_ok"} {
						delete(f, k)
					}
				case d >= 40*time.Second && d < 60*time.Second:
					f["total_rounds"], f["live_rounds"], f["live_rounds_min"] = int64(10), int64(9), int64(9)
					f["live_rounds_share"], f["liveness_ok"] = 0.9, int64(1)
				case d >= 60*time.Second && d < 70*time.Second:
					f["total_rounds"], f["live_rounds"], f["live_rounds_min"] = int64(10), int64(8), int64(9)
					f["live_rounds_share"], f["liveness_ok"] = 0.8, int64(0)
				}
			})
			return s
		},
	},
	{
		task: "oasis_runtime_node_suspended", template: "oasis_runtime_node_suspended",
		alertID: runtimeAlertID("oasis_runtime_node_suspended"),
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// Judged not live at an epoch's end 30 s in: suspended until
			// the next epoch's end, 30 s later.
			s, t0 := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				if d >= 30*time.Second && d < 60*time.Second {
					suspend(f)
				}
			})
			return s, []step{
				within("CRITICAL", t0.Add(30*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		healthy: runtimeHealthy,
	},
	{
		task: "oasis_runtime_attestation_expiring", template: "oasis_runtime_attestation_expiring",
		alertID: runtimeAlertID("oasis_runtime_attestation_expiring"),
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// An SGX runtime (maximum attestation age 1,200 blocks): 900
			// blocks left, then the node fails to re-attest: 50 left (4 %)
			// at 30 s, 10 (0.8 %) at 50 s; a new attestation at 70 s.
			s, t0 := runtimeSeries(rec, ev, func(d time.Duration, f map[string]any) {
				left := int64(900)
				switch {
				case d >= 30*time.Second && d < 50*time.Second:
					left = 50
				case d >= 50*time.Second && d < 70*time.Second:
					left = 10
				}
				attested(f, left)
			})
			return s, []step{
				within("WARNING", t0.Add(30*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(50*time.Second), 3*time.Second),
				within("OK", t0.Add(70*time.Second), 3*time.Second),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			s, _ := runtimeSeries(rec, ev, func(_ time.Duration, f map[string]any) {
				// 130 blocks left (10.8 %): as low as a healthy node gets
				// before it re-attests (at 50 to 90 % of the maximum age).
				attested(f, 130)
			})
			return s
		},
	},
	// --- governance ----------------------------------------------------
	{
		task: "oasis_governance_new_proposal", template: "oasis_governance_new_proposal", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_governance_new_proposal:" + itoa(ev.ProposalID) },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			sub := at(ev.ProposalSubmitted)
			return rec, []step{
				within("INFO", sub, 10*time.Second),
				// Voting closes 5 epochs later.
				{level: "OK", from: sub.Add(time.Minute), to: at(ev.Validator0Stopped)},
			}
		},
		// The healthy phase has no proposal at all: the recorded proposal
		// once voting has closed, so nothing is open.
		healthy: func(t *testing.T, rec series, ev events) series {
			var closed series
			for _, p := range rec.only("oasis_governance_proposal") {
				if p.Fields["state"] != "active" {
					closed = append(closed, p)
				}
			}
			return closed
		},
	},
	{
		task: "oasis_governance_vote_missing", template: "oasis_governance_vote_missing", recorded: true,
		alertID: func(rec series, ev events) string { return "oasis_governance_vote_missing:" + itoa(ev.ProposalID) },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			sub := at(ev.ProposalSubmitted)
			// The devnet's voting period is 5 epochs: within the 24-epoch
			// warning at once, within the 3-epoch critical 2 epochs later.
			return rec, []step{
				within("WARNING", sub, 10*time.Second),
				{level: "CRITICAL", from: sub.Add(20 * time.Second), to: at(ev.Validator0Stopped)},
				{level: "OK", from: sub.Add(time.Minute), to: at(ev.Validator0Stopped)},
			}
		},
		// The healthy phase has no proposal at all: the recorded proposal
		// with our entity's vote cast from the start.
		healthy: func(t *testing.T, rec series, ev events) series {
			return rec.only("oasis_governance_proposal").edit(func(_ int, p *point) {
				p.Fields["voted"] = int64(1)
				p.Fields["vote"] = "yes"
			})
		},
	},
	{
		task: "oasis_upgrade_approaching", template: "oasis_upgrade_approaching",
		alertID: func(rec series, ev events) string { return "oasis_upgrade_approaching" },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// An upgrade scheduled 200 epochs ahead, one epoch passing every
			// 2 s gather, until it has happened.
			s := healthyFor(rec, ev, 8*time.Minute).only("oasis_governance").where("entity_id", ev.OwnEntityID)
			t0 := s.first()
			var info, warn, crit, done time.Time
			n := int64(0)
			s = s.edit(func(_ int, p *point) {
				if p.Fields["up"] != int64(1) {
					return
				}
				left := 200 - n
				n++
				if left < 0 {
					if done.IsZero() {
						done = p.Time
					}
					return
				}
				p.Fields["pending_upgrades"] = int64(1)
				p.Fields["next_upgrade_epochs_left"] = left
				switch left {
				case 168:
					info = p.Time
				case 24:
					warn = p.Time
				case 3:
					crit = p.Time
				}
			})
			if done.IsZero() {
				t.Fatalf("series from %s too short", t0)
			}
			return s, []step{
				within("INFO", info, 0), within("WARNING", warn, 0), within("CRITICAL", crit, 0), within("OK", done, 0),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			// An upgrade far away stays quiet.
			return healthyPhase(rec, ev).only("oasis_governance").edit(func(_ int, p *point) {
				if p.Fields["up"] == int64(1) {
					p.Fields["pending_upgrades"] = int64(1)
					p.Fields["next_upgrade_epochs_left"] = int64(500)
				}
			})
		},
	},
	// --- the host --------------------------------------------------------
	{
		task: "oasis_cpu_high", template: "oasis_cpu_high",
		alertID: func(rec series, ev events) string { return "oasis_cpu_high:" + hostOf(rec) },
		fault:   hostFault("cpu", "usage_idle", 10, 2, func(p *point) bool { return p.Tags["cpu"] == "cpu-total" }),
		healthy: hostHealthy("cpu"),
	},
	{
		task: "oasis_mem_high", template: "oasis_mem_high",
		alertID: func(rec series, ev events) string { return "oasis_mem_high:" + hostOf(rec) },
		fault:   hostFault("mem", "used_percent", 92, 97, nil),
		healthy: hostHealthy("mem"),
	},
	{
		task: "oasis_disk_high", template: "oasis_disk_high",
		alertID: func(rec series, ev events) string { return "oasis_disk_high:" + hostOf(rec) + ":/" },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			s := healthyPhase(rec, ev).only("disk").where("path", "/")
			t0 := s.first()
			s = s.edit(func(_ int, p *point) {
				switch d := p.Time.Sub(t0); {
				case d >= 20*time.Second && d < 40*time.Second:
					p.Fields["used_percent"] = 85.0
				case d >= 40*time.Second && d < 60*time.Second:
					p.Fields["used_percent"] = 95.0
				case d >= 60*time.Second:
					p.Fields["used_percent"] = 50.0
				}
			})
			return s, []step{
				within("WARNING", t0.Add(20*time.Second), 3*time.Second),
				within("CRITICAL", t0.Add(40*time.Second), 3*time.Second),
				within("OK", t0.Add(60*time.Second), 3*time.Second),
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			// The build machine's disks may be fuller than 80 %: the healthy
			// series says 50 %.
			return healthyPhase(rec, ev).only("disk").edit(func(_ int, p *point) { p.Fields["used_percent"] = 50.0 })
		},
	},
	{
		task: "oasis_disk_fill_predicted", template: "oasis_disk_fill_predicted",
		// A 10-minute rate window checked every minute (default 1 h / 5 m).
		vars:    map[string]string{"period": "'10m'", "every": "'1m'"},
		alertID: func(rec series, ev events) string { return "oasis_disk_fill_predicted:" + hostOf(rec) + ":/" },
		fault: func(t *testing.T, rec series, ev events) (series, []step) {
			// 1 TB free; steady for 20 min, then filling at 100 GB/h
			// (10 h left) for 20 min, then 300 GB/h (~3 h), then steady.
			s := healthyFor(rec, ev, 80*time.Minute).only("disk").where("path", "/")
			t0 := s.first()
			const gb = 1e9
			var used float64
			var prev time.Time
			s = s.edit(func(i int, p *point) {
				d := p.Time.Sub(t0)
				if i > 0 {
					h := p.Time.Sub(prev).Hours()
					switch {
					case d >= 20*time.Minute && d < 40*time.Minute:
						used += 100 * gb * h
					case d >= 40*time.Minute && d < 60*time.Minute:
						used += 300 * gb * h
					}
				}
				prev = p.Time
				p.Fields["used"] = int64(used)
				p.Fields["free"] = int64(1000*gb - used)
				p.Fields["used_percent"] = 100 * used / (1000 * gb)
			})
			return s, []step{
				{level: "WARNING", from: t0.Add(20 * time.Minute), to: t0.Add(32 * time.Minute)},
				{level: "CRITICAL", from: t0.Add(40 * time.Minute), to: t0.Add(52 * time.Minute)},
				// The window still holds some fast filling for a while.
				{level: "WARNING", from: t0.Add(60 * time.Minute), to: t0.Add(72 * time.Minute), optional: true},
				{level: "OK", from: t0.Add(60 * time.Minute), to: t0.Add(72 * time.Minute)},
			}
		},
		healthy: func(t *testing.T, rec series, ev events) series {
			return healthyFor(rec, ev, 30*time.Minute).only("disk")
		},
	},
}
