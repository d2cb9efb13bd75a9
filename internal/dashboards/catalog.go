package dashboards

import (
	"fmt"
	"strings"
)

// Filters on the template variables.
const (
	byNode   = `"node_id" =~ /^$node$/`
	byEntity = `"entity_id" =~ /^$entity$/`
	// The signing input's own series (oasis_input): its follower's state.
	bySigningInput = `"input" = 'oasis_signing'`
)

func at(v float64) *float64 { return &v }

// steps builds thresholds: a base colour, then (value, colour) pairs.
func steps(base string, pairs ...any) []Step {
	s := []Step{{Color: base}}
	for i := 0; i+1 < len(pairs); i += 2 {
		s = append(s, Step{From: at(toFloat(pairs[i])), Color: pairs[i+1].(string)})
	}
	return s
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	panic(fmt.Sprintf("threshold %v", v))
}

// lastOf is a query for the last value of fields of a measurement.
func lastOf(measurement, where string, fields ...string) Query {
	var sel []string
	for _, f := range fields {
		sel = append(sel, fmt.Sprintf(`last(%q) AS %q`, f, f))
	}
	return Query{
		Measurement: measurement, Fields: fields,
		Text: fmt.Sprintf(`SELECT %s FROM %q WHERE %s`, strings.Join(sel, ", "), measurement, whereTime(where)),
	}
}

// perSigningInput is the last value of a field of the signing input's own
// series (oasis_input), one per install (host) and node address: the
// follower's state is not per validator, so the $node variable can't
// select it.
func perSigningInput(field string) Query {
	q := lastOf("oasis_input", bySigningInput, field)
	q.Text += ` GROUP BY "host", "address"`
	return q
}

// whereTime adds Grafana's time range to a condition ("": none).
func whereTime(where string) string {
	if where == "" {
		return "$timeFilter"
	}
	return where + " AND $timeFilter"
}

// meanOf is a time series of the mean of fields per interval.
func meanOf(measurement, where, groupBy string, fields ...string) Query {
	var sel []string
	for _, f := range fields {
		sel = append(sel, fmt.Sprintf(`mean(%q) AS %q`, f, f))
	}
	g := "time($__interval)"
	if groupBy != "" {
		g += ", " + groupBy
	}
	return Query{
		Measurement: measurement, Fields: fields,
		Text: fmt.Sprintf(`SELECT %s FROM %q WHERE %s GROUP BY %s fill(null)`, strings.Join(sel, ", "), measurement, whereTime(where), g),
	}
}

// Alert thresholds the panels colour by: the defaults in
// kapacitor/load/tasks (docs/alerts.md). TestThresholdsMatchAlerts checks
// them against the task files.
var alertDefaults = map[string]float64{
	"oasis_block_stale.warn_age_seconds":           60,
	"oasis_block_stale.crit_age_seconds":           180,
	"oasis_missed_consecutive.warn_missed":         3,
	"oasis_missed_consecutive.crit_missed":         10,
	"oasis_uptime_low.warn_uptime":                 0.95,
	"oasis_uptime_low.crit_uptime":                 0.9,
	"oasis_peers_low.warn_peers":                   3,
	"oasis_peers_low.crit_peers":                   1,
	"oasis_registration_expiring.warn_epochs_left": 1,
	"oasis_registration_expiring.crit_epochs_left": 0,
	"oasis_balance_low.warn_tokens":                10,
	"oasis_balance_low.crit_tokens":                1,
	"oasis_cpu_high.warn_percent":                  85,
	"oasis_cpu_high.crit_percent":                  95,
	"oasis_epoch_reward_at_risk.warn_margin":       0.1,
	"oasis_validator_set_cutoff.warn_share":        0.05,
	"oasis_runtime_round_stale.warn_age_seconds":   60,
	"oasis_runtime_round_stale.crit_age_seconds":   180,
	"oasis_mem_high.warn_percent":                  90,
	"oasis_mem_high.crit_percent":                  95,
	"oasis_disk_high.warn_percent":                 80,
	"oasis_disk_high.crit_percent":                 90,
}

// mainnetRewardThreshold is the signing reward threshold of mainnet's
// staking parameters (3/4); oasis_signing reports the chain's own as
// epoch_reward_threshold, and the alert reads that.
const mainnetRewardThreshold = 0.75

func a(key string) float64 {
	v, ok := alertDefaults[key]
	if !ok {
		panic("no alert default " + key)
	}
	return v
}

var upDown = map[string]string{"0": "DOWN", "1": "UP"}
var yesNo = map[string]string{"0": "no", "1": "yes"}

// All returns every dashboard, its stat tiles reading only current data
// (withStaleTiles).
func All() []Dashboard {
	var out []Dashboard
	for _, d := range []Dashboard{overview(), signingDashboard(), stakeGovernance(), system(), network(), setup(), history()} {
		out = append(out, withStaleTiles(d))
	}
	return out
}

func overview() Dashboard {
	// Red below the "more is better" thresholds, as the alerts fire.
	uptime := steps("red", a("oasis_uptime_low.crit_uptime"), "yellow", a("oasis_uptime_low.warn_uptime"), "green")
	return Dashboard{
		File: "oasis-overview.json", UID: "oasis-overview", Title: "Oasis: validator overview",
		Purpose: "Is my validator healthy right now? One tile per question, coloured at the alert thresholds.",
		Vars:    []string{"node", "entity"},
		Panels: []Panel{
			{Title: "Node", Kind: Stat, Unit: "none", Mappings: upDown, Thresholds: steps("red", 1, "green"),
				Description: "oasis_node up: the node answers its internal socket.",
				Queries:     []Query{lastOf("oasis_node", byNode, "up")}},
			{Title: "Synced", Kind: Stat, Unit: "none", Mappings: yesNo, Thresholds: steps("red", 1, "green"),
				Queries: []Query{lastOf("oasis_node", byNode, "synced")}},
			{Title: "Height", Kind: Stat, Unit: "none", Queries: []Query{lastOf("oasis_node", byNode, "latest_height")}},
			{Title: "Block age", Kind: Stat, Unit: "s",
				Thresholds: steps("green", a("oasis_block_stale.warn_age_seconds"), "yellow", a("oasis_block_stale.crit_age_seconds"), "red"),
				Queries:    []Query{lastOf("oasis_node", byNode, "latest_block_age_seconds")}},
			{Title: "In validator set", Kind: Stat, Unit: "none", Mappings: yesNo, Thresholds: steps("red", 1, "green"),
				Queries: []Query{lastOf("oasis_node", byNode, "is_validator")}},
			{Title: "Signing uptime (last 100 / 1,000 / 10,000 heights)", Kind: Stat, Unit: "percentunit", Width: 9, Thresholds: uptime,
				Description: "As the alert reads it: without the heights missed while our node or the monitor was down (that outage is oasis_node_down's). The exact windows, outages included: the Signing dashboard.",
				Queries:     []Query{lastOf("oasis_signing", byNode, "uptime_observed_100", "uptime_observed_1000", "uptime_observed_10000")}},
			{Title: "Missed in a row", Kind: Stat, Unit: "none", Width: 3,
				Description: "As the alert reads it: the run seen live (consecutive_missed_observed).",
				Thresholds:  steps("green", a("oasis_missed_consecutive.warn_missed"), "yellow", a("oasis_missed_consecutive.crit_missed"), "red"),
				Queries:     []Query{lastOf("oasis_signing", byNode, "consecutive_missed_observed")}},
			{Title: "This epoch's signing reward: best share", Kind: Stat, Unit: "percentunit", Width: 6,
				Description: "The share of this epoch's heights the validator reaches if it signs every one left. The epoch's signing reward needs 3/4 on mainnet (red below: lost this epoch); yellow within oasis_epoch_reward_at_risk's margin. Heights missed while the node was down count here; the alert leaves them to oasis_node_down.",
				Thresholds:  steps("red", mainnetRewardThreshold, "yellow", mainnetRewardThreshold+a("oasis_epoch_reward_at_risk.warn_margin"), "green"),
				Queries:     []Query{lastOf("oasis_signing", byNode, "epoch_best_signed_share")}},
			{Title: "Registration epochs left", Kind: Stat, Unit: "none",
				// crit at <= 0, warn at <= 1: red below 1, yellow below 2.
				Thresholds: steps("red", a("oasis_registration_expiring.crit_epochs_left")+1, "yellow", a("oasis_registration_expiring.warn_epochs_left")+1, "green"),
				Queries:    []Query{lastOf("oasis_node", byNode, "registration_epochs_left")}},
			{Title: "Frozen", Kind: Stat, Unit: "none", Mappings: yesNo, Thresholds: steps("green", 1, "red"),
				Queries: []Query{lastOf("oasis_node", byNode, "frozen")}},
			{Title: "Peers", Kind: Stat, Unit: "none",
				Thresholds: steps("red", a("oasis_peers_low.crit_peers"), "yellow", a("oasis_peers_low.warn_peers"), "green"),
				Queries:    []Query{lastOf("oasis_node", byNode, "consensus_peers")}},
			{Title: "oasis-node version", Kind: Stat, Unit: "string", Thresholds: steps("blue"),
				Queries: []Query{lastOf("oasis_node", byNode, "software_version")}},
			{Title: "Escrow (active)", Kind: Stat, Unit: "short", Thresholds: steps("blue"),
				Description: "The entity's active escrow in tokens (tag token: ROSE on mainnet).",
				Queries:     []Query{lastOf("oasis_entity", byEntity, "escrow_active_balance_tokens")}},
			{Title: "General balance", Kind: Stat, Unit: "short",
				Thresholds: steps("red", a("oasis_balance_low.crit_tokens"), "yellow", a("oasis_balance_low.warn_tokens"), "green"),
				Queries:    []Query{lastOf("oasis_entity", byEntity, "general_balance_tokens")}},
			{Title: "Open proposals not voted", Kind: Stat, Unit: "none", Thresholds: steps("green", 1, "yellow"),
				Queries: []Query{lastOf("oasis_governance", byEntity, "active_proposals_not_voted")}},
			{Title: "Height and block age", Kind: TimeSeries, Unit: "s", Width: 24, Height: 7,
				Thresholds: steps("green", a("oasis_block_stale.warn_age_seconds"), "yellow", a("oasis_block_stale.crit_age_seconds"), "red"),
				Queries:    []Query{meanOf("oasis_node", byNode, "", "latest_block_age_seconds")}},
			{Title: "Last data", Kind: Stat, Unit: "dateTimeFromNow", Width: 4, Height: 6, Thresholds: steps("blue"), TimeField: true,
				Description: "When the newest point of the monitor's inputs was written: a few seconds ago while the pipeline runs; growing when it stopped (the other tiles then show no data).",
				Queries: []Query{{Measurement: "oasis_input", Fields: []string{"up"},
					FixedRange: "the age of the newest point, however old",
					Text:       `SELECT last("up") AS "up" FROM "oasis_input" WHERE time > now() - 30d`}}},
			{Title: "Alerts firing now", Kind: Stat, Unit: "none", Width: 4, Height: 6, Thresholds: steps("green", 1, "red"),
				Description: "Alerts whose last event (of the last 30 days, whatever the time range) is not a recovery: WARNING, CRITICAL or INFO. From the alert history (docs/alert-history.md).",
				Queries: []Query{{Measurement: "oasis_alert", Fields: []string{"message"}, Alias: "firing",
					FixedRange: "an alert firing since before the dashboard's range still fires: its last event (a reminder at most remind_every ago, 24 h at most) is in the last 30 days",
					Text:       `SELECT count("message") AS "firing" FROM (SELECT last("message") AS "message", "level" FROM "oasis_alert" WHERE time > now() - 30d GROUP BY "id") WHERE "level" != 'OK'`}}},
			{Title: "Recent alerts", Kind: Table, Unit: "none", Width: 16, Height: 6,
				Description: "Every change of an alert's level in the time range, newest first, as the channels got it; the time is when the condition was observed. From the alert history (docs/alert-history.md).",
				Queries: []Query{{Measurement: "oasis_alert", Table: true, Fields: []string{"message", "previous_level"},
					Text: `SELECT "level", "message", "previous_level" AS "before" FROM "oasis_alert" WHERE $timeFilter ORDER BY time DESC LIMIT 50`}}},
			{Title: "Monitor inputs", Kind: Table, Unit: "none", Width: 24, Height: 6,
				Description: "Each of the monitor's inputs, per host: up=1 when its last gather read the node. An input missing here writes nothing (alert oasis_input_silent).",
				Queries: []Query{{Measurement: "oasis_input", Table: true, Fields: []string{"up", "down_reason"},
					Text: `SELECT last("up") AS "up", last("down_reason") AS "last down reason" FROM "oasis_input" WHERE $timeFilter GROUP BY "host", "input", "address"`}}},
		},
	}
}

func signingDashboard() Dashboard {
	return Dashboard{
		File: "oasis-signing.json", UID: "oasis-signing", Title: "Oasis: signing",
		Purpose: "When did my validator miss blocks, how is its uptime trending, what did it propose.",
		Vars:    []string{"node"},
		Panels: []Panel{
			{Title: "Missed heights", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Description: "Heights in the validator set without our signature, per interval (from the per-height points).",
				Queries: []Query{{Measurement: "oasis_signing_block", Fields: []string{"in_validator_set", "signed"}, Alias: "missed",
					Text: `SELECT sum("in_validator_set") - sum("signed") AS "missed" FROM "oasis_signing_block" WHERE ` + byNode + ` AND $timeFilter GROUP BY time($__interval) fill(0)`}}},
			{Title: "Proposed heights", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Queries: []Query{{Measurement: "oasis_signing_block", Fields: []string{"proposed"}, Alias: "proposed",
					Text: `SELECT sum("proposed") AS "proposed" FROM "oasis_signing_block" WHERE ` + byNode + ` AND $timeFilter GROUP BY time($__interval) fill(0)`}}},
			{Title: "Uptime windows", Kind: TimeSeries, Unit: "percentunit", Width: 24, Height: 8,
				Thresholds: steps("red", a("oasis_uptime_low.crit_uptime"), "yellow", a("oasis_uptime_low.warn_uptime"), "green"),
				Queries:    []Query{meanOf("oasis_signing", byNode, "", "uptime_100", "uptime_1000", "uptime_10000")}},
			{Title: "Signed", Kind: Stat, Unit: "none", Thresholds: steps("green"), Queries: []Query{lastOf("oasis_signing", byNode, "signed_total")}},
			{Title: "Missed", Kind: Stat, Unit: "none", Thresholds: steps("green", 1, "yellow"), Queries: []Query{lastOf("oasis_signing", byNode, "missed_total")}},
			{Title: "Proposed", Kind: Stat, Unit: "none", Thresholds: steps("blue"), Queries: []Query{lastOf("oasis_signing", byNode, "proposed_total")}},
			{Title: "Last signed height", Kind: Stat, Unit: "none", Thresholds: steps("blue"), Queries: []Query{lastOf("oasis_signing", byNode, "last_signed_height")}},
			{Title: "Follower lag", Kind: Stat, Unit: "none", Description: "Blocks between the node's tip and the last height accounted; 1 when current.",
				Thresholds: steps("green", 3, "yellow", 10, "red"), Queries: []Query{perSigningInput("lag_blocks")}},
			{Title: "Heights never accounted", Kind: Stat, Unit: "none", Thresholds: steps("green", 1, "yellow"),
				Queries: []Query{perSigningInput("skipped_heights_total")}},
		},
	}
}

func stakeGovernance() Dashboard {
	return Dashboard{
		File: "oasis-stake-governance.json", UID: "oasis-stake-governance", Title: "Oasis: stake and governance",
		Purpose: "The entity's money and standing (balances, escrow, delegators, commission, rank) and what governance needs from it.",
		Vars:    []string{"entity"},
		Panels: []Panel{
			{Title: "Balances", Kind: TimeSeries, Unit: "short", Width: 12, Height: 8,
				Description: "Tokens (tag token). Escrow active counts for election and can be slashed; debonding is on its way out.",
				Queries:     []Query{meanOf("oasis_entity", byEntity, "", "general_balance_tokens", "escrow_active_balance_tokens", "escrow_debonding_balance_tokens", "self_delegation_balance_tokens")}},
			{Title: "Delegators", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Queries: []Query{meanOf("oasis_entity", byEntity, "", "delegators")}},
			{Title: "Commission now and next", Kind: Stat, Unit: "percentunit", Width: 8, Thresholds: steps("blue"),
				Description: "The rate in force, and the next scheduled one (absent when none is scheduled) with the epochs until it applies.",
				Queries:     []Query{lastOf("oasis_entity", byEntity, "commission_rate", "commission_next_rate")}},
			{Title: "Next commission in (epochs)", Kind: Stat, Unit: "none", Width: 4, Thresholds: steps("blue"),
				Queries: []Query{lastOf("oasis_entity", byEntity, "commission_rate", "commission_next_epochs_left")}},
			{Title: "Escrow rank / max validators", Kind: Stat, Unit: "none", Width: 6, Thresholds: steps("blue"),
				Queries: []Query{lastOf("oasis_entity", byEntity, "escrow_rank", "max_validators", "validators")}},
			{Title: "Voting power share", Kind: Stat, Unit: "percentunit", Width: 6, Thresholds: steps("blue"),
				Queries: []Query{lastOf("oasis_entity", byEntity, "voting_power_share")}},
			{Title: "Elected at the next epoch", Kind: Stat, Unit: "none", Width: 6, Mappings: yesNo, Thresholds: steps("red", 1, "green"),
				Description: "As things stand: the next election, predicted as the scheduler holds it (candidates by escrow, max_validators seats). " +
					"A delegation, undelegation or slash before the epoch ends changes it.",
				Queries: []Query{lastOf("oasis_entity", byEntity, "elected_next_epoch")}},
			{Title: "Margin to the validator-set cutoff", Kind: Stat, Unit: "percentunit", Width: 6,
				Thresholds: steps("red", 0, "yellow", a("oasis_validator_set_cutoff.warn_share"), "green"),
				Description: "The share of the entity's escrow it could lose (or a rival gain) before the seat changes hands; negative: short by that much. " +
					"The cutoff is the best escrow left out (elected) or the last seat's (not), or the entity's own stake claims when seats are free.",
				Queries: []Query{lastOf("oasis_entity", byEntity, "cutoff_margin_share")}},
			{Title: "Escrow and the cutoff", Kind: TimeSeries, Unit: "short", Width: 12, Height: 7,
				Description: "Active escrow against the escrow that decides the seat (tokens).",
				Queries:     []Query{meanOf("oasis_entity", byEntity, "", "escrow_active_balance_tokens", "cutoff_escrow_tokens")}},
			{Title: "Escrow share price", Kind: TimeSeries, Unit: "none", Width: 12, Height: 7,
				Description: "Base units per share of the active escrow: rewards raise it, only a slash lowers it.",
				Queries:     []Query{meanOf("oasis_entity", byEntity, "", "escrow_active_share_price")}},
			{Title: "Nodes' registration", Kind: Table, Unit: "none", Width: 12, Height: 7,
				Queries: []Query{{Measurement: "oasis_entity_node", Table: true,
					Fields: []string{"registered", "registration_epochs_left", "expired", "frozen", "in_validator_set", "validator_eligible_next_epoch"},
					Text:   `SELECT last("registered") AS "registered", last("registration_epochs_left") AS "epochs left", last("expired") AS "expired", last("frozen") AS "frozen", last("in_validator_set") AS "in set", last("validator_eligible_next_epoch") AS "eligible next epoch" FROM "oasis_entity_node" WHERE ` + byEntity + ` AND $timeFilter GROUP BY "node_id"`}}},
			{Title: "Proposals and our votes", Kind: Table, Unit: "none", Width: 16, Height: 8,
				Queries: []Query{{Measurement: "oasis_governance_proposal", Table: true,
					Fields: []string{"state", "title", "created_epoch", "closes_epoch", "epochs_left", "voted", "vote", "votes_yes", "votes_no", "votes_abstain"},
					Text:   `SELECT last("state") AS "state", last("title") AS "title", last("created_epoch") AS "created", last("closes_epoch") AS "closes", last("epochs_left") AS "epochs left", last("voted") AS "voted", last("vote") AS "our vote", last("votes_yes") AS "yes", last("votes_no") AS "no", last("votes_abstain") AS "abstain" FROM "oasis_governance_proposal" WHERE ` + byEntity + ` AND $timeFilter GROUP BY "proposal_id", "kind"`}}},
			{Title: "Governance", Kind: Stat, Unit: "none", Width: 8, Height: 8, Thresholds: steps("blue"),
				Description: "Open proposals, those without our vote, upgrades governance scheduled and epochs to the nearest (absent when none).",
				Queries:     []Query{lastOf("oasis_governance", byEntity, "active_proposals", "active_proposals_not_voted", "pending_upgrades", "next_upgrade_epochs_left")}},
		},
	}
}

func system() Dashboard {
	return Dashboard{
		File: "oasis-system.json", UID: "oasis-system", Title: "Oasis: system",
		Purpose: "The host under the node: CPU, memory, disks (the node's data dir among them), disk I/O, network, and the oasis-node process.",
		Panels: []Panel{
			{Title: "CPU busy", Kind: TimeSeries, Unit: "percent", Width: 12, Height: 8,
				Thresholds: steps("green", a("oasis_cpu_high.warn_percent"), "yellow", a("oasis_cpu_high.crit_percent"), "red"),
				Queries: []Query{{Measurement: "cpu", Fields: []string{"usage_idle"}, Alias: "$tag_host",
					Text: `SELECT 100 - mean("usage_idle") AS "busy" FROM "cpu" WHERE "cpu" = 'cpu-total' AND $timeFilter GROUP BY time($__interval), "host" fill(null)`}}},
			{Title: "Memory used", Kind: TimeSeries, Unit: "percent", Width: 12, Height: 8,
				Thresholds: steps("green", a("oasis_mem_high.warn_percent"), "yellow", a("oasis_mem_high.crit_percent"), "red"),
				Queries:    []Query{withAlias(meanOf("mem", "", `"host"`, "used_percent"), "$tag_host")}},
			{Title: "Disk used", Kind: TimeSeries, Unit: "percent", Width: 12, Height: 8,
				Description: "Natively every real filesystem; in the compose stack the filesystem of the node's data (path /node/volume).",
				Thresholds:  steps("green", a("oasis_disk_high.warn_percent"), "yellow", a("oasis_disk_high.crit_percent"), "red"),
				Queries:     []Query{withAlias(meanOf("disk", "", `"path"`, "used_percent"), "$tag_path")}},
			{Title: "Disk free", Kind: TimeSeries, Unit: "bytes", Width: 12, Height: 8,
				Queries: []Query{withAlias(meanOf("disk", "", `"path"`, "free"), "$tag_path")}},
			{Title: "Disk I/O", Kind: TimeSeries, Unit: "Bps", Width: 12, Height: 8,
				Queries: []Query{{Measurement: "diskio", Fields: []string{"read_bytes", "write_bytes"}, Alias: "$tag_name $col",
					Text: `SELECT non_negative_derivative(last("read_bytes"), 1s) AS "read", non_negative_derivative(last("write_bytes"), 1s) AS "write" FROM "diskio" WHERE $timeFilter GROUP BY time($__interval), "name" fill(null)`}}},
			{Title: "Network", Kind: TimeSeries, Unit: "Bps", Width: 12, Height: 8,
				Description: "Bytes per second per interface. Native install only: in a container Telegraf sees only its own interfaces.",
				Queries: []Query{{Measurement: "net", Fields: []string{"bytes_recv", "bytes_sent"}, Alias: "$tag_interface $col",
					Text: `SELECT non_negative_derivative(last("bytes_recv"), 1s) AS "received", non_negative_derivative(last("bytes_sent"), 1s) AS "sent" FROM "net" WHERE $timeFilter GROUP BY time($__interval), "interface" fill(null)`}}},
			{Title: "oasis-node CPU", Kind: TimeSeries, Unit: "percent", Width: 8, Height: 8,
				Description: "The oasis-node process (procstat), in percent of one core. Native install only: Telegraf's container does not see the host's processes.",
				Queries:     []Query{meanOf("procstat", "", "", "cpu_usage")}},
			{Title: "oasis-node memory", Kind: TimeSeries, Unit: "bytes", Width: 8, Height: 8,
				Description: "The oasis-node process's resident memory (procstat). Native install only.",
				Queries:     []Query{meanOf("procstat", "", "", "memory_rss")}},
			{Title: "Load", Kind: TimeSeries, Unit: "none", Width: 8, Height: 8,
				Queries: []Query{meanOf("system", "", "", "load1", "load5", "load15")}},
			{Title: "oasis-node's own view: state and memory", Kind: TimeSeries, Unit: "bytes", Width: 12, Height: 8,
				Description: "From the node's own metrics, both installs: its ABCI state database, its data directory and its heap (anonymous resident memory). Empty until they are turned on (docs/node-metrics.md).",
				Queries:     []Query{meanOf("oasis_node_metrics", "", "", "oasis_abci_db_size", "oasis_node_disk_usage_bytes", "oasis_node_mem_rss_anon_bytes")}},
			{Title: "oasis-node's own view: consensus", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Description: "CometBFT as the node sees it: rounds per height above 0 mean slow or absent proposers; validators missing from the last commit; peers. Empty until the node's metrics are turned on (docs/node-metrics.md).",
				Queries:     []Query{meanOf("oasis_node_metrics", "", "", "cometbft_consensus_rounds", "cometbft_consensus_missing_validators", "cometbft_p2p_peers")}},
		},
	}
}

func network() Dashboard {
	return Dashboard{
		File: "oasis-network.json", UID: "oasis-network", Title: "Oasis: network",
		Purpose: "Every validator the signing input follows (all_validators = true): its names (yours, or the entity's own from the metadata registry), uptime and missed blocks side by side, sortable by any column, ours highlighted.",
		Vars:    []string{"node"},
		Panels: []Panel{
			{Title: "Our validator", Kind: Stat, Unit: "percentunit", Width: 24, Height: 4,
				Thresholds: steps("red", a("oasis_uptime_low.crit_uptime"), "yellow", a("oasis_uptime_low.warn_uptime"), "green"),
				Queries:    []Query{lastOf("oasis_signing", byNode, "uptime_100", "uptime_1000", "uptime_10000")}},
			{Title: "Validators", Kind: Table, Unit: "none", Width: 24, Height: 12, HighlightRowsBy: "ours",
				Description: "Click a column header to sort. Our validator's row is coloured.",
				Thresholds:  steps("red", a("oasis_uptime_low.crit_uptime"), "yellow", a("oasis_uptime_low.warn_uptime"), "green"),
				Queries: []Query{{Measurement: "oasis_signing", Table: true,
					Fields: []string{"node_name", "entity_name", "monitored", "uptime_100", "uptime_1000", "uptime_10000", "missed_total", "signed_total", "proposed_total", "consecutive_missed", "in_validator_set"},
					Text:   `SELECT last("node_name") AS "node", last("entity_name") AS "entity", last("monitored") AS "ours", last("uptime_100") AS "uptime 100", last("uptime_1000") AS "uptime 1,000", last("uptime_10000") AS "uptime 10,000", last("missed_total") AS "missed", last("signed_total") AS "signed", last("proposed_total") AS "proposed", last("consecutive_missed") AS "missed in a row", last("in_validator_set") AS "in set" FROM "oasis_signing" WHERE $timeFilter GROUP BY "consensus_address", "entity_id", "node_id"`}}},
			{Title: "Missed heights per validator", Kind: TimeSeries, Unit: "none", Width: 24, Height: 8,
				Queries: []Query{{Measurement: "oasis_signing", Fields: []string{"missed_total"}, Alias: "$tag_consensus_address",
					Text: `SELECT non_negative_difference(last("missed_total")) AS "missed" FROM "oasis_signing" WHERE $timeFilter GROUP BY time($__interval), "consensus_address" fill(null)`}}},
		},
	}
}

// setup is the install at a glance: every node it reads, by name and
// role (docs/install.md#several-nodes), as hosts' agents write them into
// one InfluxDB.
func setup() Dashboard {
	return Dashboard{
		File: "oasis-setup.json", UID: "oasis-setup", Title: "Oasis: setup overview",
		Purpose: "Every node this stack reads, one row each, on every host: name, role, up, synced, height, block age, peers, version; and the ParaTimes they host.",
		Panels: []Panel{
			{Title: "Nodes", Kind: Table, Unit: "none", Width: 24, Height: 12,
				Description: "One row per node read in the last minute (host, source: the name it is read under, role, node ID); a node no longer read, or whose host's agent stopped, leaves the table (oasis_node_silent pages for it). up and synced are 0/1; a node that does not answer shows up 0 and, after a minute, no other values. Click a column header to sort.",
				Queries: []Query{{Measurement: "oasis_node", Table: true,
					Fields:     []string{"node_name", "up", "synced", "latest_height", "latest_block_age_seconds", "consensus_peers", "software_version"},
					FixedRange: "a now table: a node is listed while it is read (the last minute, six gathers), not for the hours after it was renamed or removed",
					Text:       `SELECT last("node_name") AS "name", last("up") AS "up", last("synced") AS "synced", last("latest_height") AS "height", last("latest_block_age_seconds") AS "block age (s)", last("consensus_peers") AS "peers", last("software_version") AS "version" FROM "oasis_node" WHERE time > now() - 60s GROUP BY "host", "source", "role", "node_id"`}}},
			{Title: "Height per node", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Description: "Nodes of one chain climb together; one that flattens has stopped following.",
				Queries: []Query{{Measurement: "oasis_node", Fields: []string{"latest_height"}, Alias: "$tag_host $tag_source $tag_role",
					Text: `SELECT last("latest_height") AS "height" FROM "oasis_node" WHERE $timeFilter GROUP BY time($__interval), "host", "source", "role" fill(null)`}}},
			{Title: "Up per node", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Description: "1 while the node answers, 0 while it does not.",
				Queries: []Query{{Measurement: "oasis_node", Fields: []string{"up"}, Alias: "$tag_host $tag_source $tag_role",
					Text: `SELECT min("up") AS "up" FROM "oasis_node" WHERE $timeFilter GROUP BY time($__interval), "host", "source", "role" fill(null)`}}},
			{Title: "ParaTimes", Kind: Table, Unit: "none", Width: 24, Height: 8,
				Description: "One row per ParaTime and node read in the last minute (oasis_runtime: compute nodes, and validators hosting one). " +
					"ready: the node's runtime worker; last round age: since the last computed round; live share: this epoch, " +
					"against the runtime's minimum; node suspended: from the runtime's committees after a failed epoch.",
				Queries: []Query{{Measurement: "oasis_runtime", Table: true,
					Fields:     []string{"node_name", "ready", "round", "last_normal_round_age_seconds", "in_committee", "live_rounds_share", "min_live_rounds_share", "node_suspended", "runtime_suspended"},
					FixedRange: "a now table: the ParaTimes read in the last minute",
					Text:       `SELECT last("node_name") AS "node", last("ready") AS "ready", last("round") AS "round", last("last_normal_round_age_seconds") AS "last round age (s)", last("in_committee") AS "in committee", last("live_rounds_share") AS "live share", last("min_live_rounds_share") AS "minimum", last("node_suspended") AS "node suspended", last("runtime_suspended") AS "runtime suspended" FROM "oasis_runtime" WHERE time > now() - 60s GROUP BY "host", "source", "runtime_name", "runtime_id", "node_id"`}}},
			{Title: "ParaTime: time since the last computed round", Kind: TimeSeries, Unit: "s", Width: 12, Height: 8,
				Thresholds:  steps("green", a("oasis_runtime_round_stale.warn_age_seconds"), "yellow", a("oasis_runtime_round_stale.crit_age_seconds"), "red"),
				Description: "Per ParaTime, as each node reads the chain (oasis_runtime_round_stale).",
				Queries: []Query{{Measurement: "oasis_runtime", Fields: []string{"last_normal_round_age_seconds"}, Alias: "$tag_runtime_name $tag_runtime_id $tag_source",
					Text: `SELECT max("last_normal_round_age_seconds") AS "age" FROM "oasis_runtime" WHERE $timeFilter GROUP BY time($__interval), "runtime_name", "runtime_id", "source" fill(null)`}}},
			{Title: "ParaTime: live share this epoch", Kind: TimeSeries, Unit: "percentunit", Width: 12, Height: 8,
				Description: "Rounds the node was live in, over the epoch's rounds so far; below the runtime's minimum (90 % on most) at the epoch's end, it is suspended (oasis_runtime_liveness_low).",
				Queries: []Query{{Measurement: "oasis_runtime", Fields: []string{"live_rounds_share"}, Alias: "$tag_runtime_name $tag_runtime_id $tag_source",
					Text: `SELECT last("live_rounds_share") AS "live" FROM "oasis_runtime" WHERE $timeFilter GROUP BY time($__interval), "runtime_name", "runtime_id", "source" fill(null)`}}},
		},
	}
}

func withAlias(q Query, alias string) Query {
	q.Alias = alias
	return q
}

// hourlyOf is a time series of an aggregate of the hourly aggregates
// (influxdb/oasis-setup.sh's continuous queries): agg over each interval of
// the stored aggregate kind_field, aliased back to the raw field's name.
func hourlyOf(measurement, where, groupBy, agg, kind string, fields ...string) Query {
	var sel []string
	for _, f := range fields {
		sel = append(sel, fmt.Sprintf(`%s(%q) AS %q`, agg, kind+"_"+f, f))
	}
	g := "time($__interval)"
	if groupBy != "" {
		g += ", " + groupBy
	}
	return Query{
		Measurement: measurement, Fields: fields, RP: "hourly",
		Text: fmt.Sprintf(`SELECT %s FROM "hourly".%q WHERE %s GROUP BY %s fill(null)`, strings.Join(sel, ", "), measurement, whereTime(where), g),
	}
}

// history reads only the hourly aggregates, kept for years after the raw
// points are gone (docs/install.md#retention).
func history() Dashboard {
	return Dashboard{
		File: "oasis-history.json", UID: "oasis-history", Title: "Oasis: history",
		Purpose: "Months and years at a glance, from the hourly aggregates kept after the raw points expire: uptime, missed blocks, escrow and rank, the host's load.",
		Vars:    []string{"node", "entity"},
		From:    "now-1y",
		Panels: []Panel{
			{Title: "Uptime windows (hourly)", Kind: TimeSeries, Unit: "percentunit", Width: 12, Height: 8,
				Thresholds: steps("red", a("oasis_uptime_low.crit_uptime"), "yellow", a("oasis_uptime_low.warn_uptime"), "green"),
				Queries:    []Query{hourlyOf("oasis_signing", byNode, "", "min", "last", "uptime_1000", "uptime_10000")}},
			{Title: "Missed heights per interval (hourly)", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Description: "The growth of the exact missed counter between the hourly aggregates.",
				Queries: []Query{{Measurement: "oasis_signing", Fields: []string{"missed_total"}, RP: "hourly", Alias: "missed",
					Text: `SELECT non_negative_difference(last("last_missed_total")) AS "missed_total" FROM "hourly"."oasis_signing" WHERE ` + byNode + ` AND $timeFilter GROUP BY time($__interval) fill(null)`}}},
			{Title: "Escrow and balance (hourly)", Kind: TimeSeries, Unit: "short", Width: 12, Height: 8,
				Description: "Tokens: the active escrow against the cutoff that decides the seat, and the general balance that pays fees.",
				Queries:     []Query{hourlyOf("oasis_entity", byEntity, "", "last", "last", "escrow_active_balance_tokens", "cutoff_escrow_tokens", "general_balance_tokens")}},
			{Title: "Escrow rank and seats (hourly)", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Queries: []Query{hourlyOf("oasis_entity", byEntity, "", "max", "last", "escrow_rank", "max_validators")}},
			{Title: "CPU busy (hourly mean and peak)", Kind: TimeSeries, Unit: "percent", Width: 8, Height: 8,
				Thresholds: steps("green", a("oasis_cpu_high.warn_percent"), "yellow", a("oasis_cpu_high.crit_percent"), "red"),
				Queries: []Query{{Measurement: "cpu", Fields: []string{"usage_idle"}, RP: "hourly", Alias: "$tag_host $col",
					Text: `SELECT 100 - mean("mean_usage_idle") AS "mean", 100 - min("min_usage_idle") AS "peak" FROM "hourly"."cpu" WHERE "cpu" = 'cpu-total' AND $timeFilter GROUP BY time($__interval), "host" fill(null)`}}},
			{Title: "Memory used (hourly max)", Kind: TimeSeries, Unit: "percent", Width: 8, Height: 8,
				Thresholds: steps("green", a("oasis_mem_high.warn_percent"), "yellow", a("oasis_mem_high.crit_percent"), "red"),
				Queries:    []Query{withAlias(hourlyOf("mem", "", `"host"`, "max", "max", "used_percent"), "$tag_host")}},
			{Title: "Disk used (hourly max)", Kind: TimeSeries, Unit: "percent", Width: 8, Height: 8,
				Thresholds: steps("green", a("oasis_disk_high.warn_percent"), "yellow", a("oasis_disk_high.crit_percent"), "red"),
				Queries:    []Query{withAlias(hourlyOf("disk", "", `"host", "path"`, "max", "max", "used_percent"), "$tag_host $tag_path")}},
			{Title: "Peers (hourly)", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Thresholds: steps("red", a("oasis_peers_low.crit_peers"), "yellow", a("oasis_peers_low.warn_peers"), "green"),
				Queries:    []Query{hourlyOf("oasis_node", byNode, "", "min", "last", "consensus_peers")}},
			{Title: "Height (hourly)", Kind: TimeSeries, Unit: "none", Width: 12, Height: 8,
				Queries: []Query{hourlyOf("oasis_node", byNode, "", "max", "last", "latest_height")}},
		},
	}
}
