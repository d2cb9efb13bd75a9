//go:build record

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

func TestRecordAlertSeries(t *testing.T) {
	const interval = 2 * time.Second
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	in := stacktest.StartInflux(t)

	// Our operator runs validator 0. oasis_entity also follows validator
	// 3's entity, the one whose node is stopped below: the registry's view
	// of a node that is down is what the alerts on it read.
	confDir := t.TempDir()
	for _, p := range []string{"oasis_node", "oasis_signing", "oasis_entity", "oasis_governance", "oasis_names"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "telegraf", p+".conf"))
		require.NoError(t, err)
		if p == "oasis_entity" {
			b = append(b, fmt.Sprintf("  entity_ids = [%q, %q]\n", net.Validators[0].EntityID, net.Validators[3].EntityID)...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(confDir, p+".conf"), b, 0o644))
	}
	tg := stacktest.StartTelegraf(t, in, net.Validators[0].Socket, interval,
		"OASIS_SIGNING_ALL_VALIDATORS=true",
		"OASIS_NODE_PROCESS=oasis-devnet",
		"OASIS_CONFIG_DIR="+confDir,
	)
	defer func() {
		if t.Failed() {
			t.Logf("telegraf log:\n%s", tg.Log())
		}
	}()
	ev := Events{
		Interval:           interval.String(),
		OwnNodeID:          net.Validators[0].NodeID,
		OwnEntityID:        net.Validators[0].EntityID,
		DownEntityID:       net.Validators[3].EntityID,
		DownNodeID:         net.Validators[3].NodeID,
		DownConsensusAddr:  net.Validators[3].ConsensusAddress,
		MonitoredValidator: 0,
		ProposalSubmitter:  1,
	}
	last := func(measurement, field, tag, value string) any {
		rows := in.Flux(t, bucket+` |> range(start: -1h)
			|> filter(fn: (r) => r._measurement == "`+measurement+`" and r._field == "`+field+`" and r.`+tag+` == "`+value+`")
			|> last()`)
		if len(rows) == 0 {
			return nil
		}
		return rows[0]["_value"]
	}

	// Healthy: every plugin up, all four validators signing and registered.
	wait.Until(t, func() bool {
		return last("oasis_entity_node", "registration_epochs_left", "node_id", ev.DownNodeID) != nil &&
			last("oasis_signing", "signed_total", "consensus_address", ev.DownConsensusAddr) != nil &&
			last("oasis_governance", "up", "entity_id", ev.OwnEntityID) == int64(1)
	}, 2*time.Minute, time.Second, "the pipeline reports every plugin")
	ev.HealthyFrom = time.Now().UnixNano()
	time.Sleep(90 * time.Second)
	ev.HealthyTo = time.Now().UnixNano()

	// Validator 3 down: it misses every height, its registration runs out
	// and it leaves the validator set. Meanwhile validator 1's entity
	// submits a proposal our entity does not vote on.
	// Each event is stamped when it is asked for: a validator stops
	// answering as soon as its shutdown begins.
	ev.Validator3Stopped = time.Now().UnixNano()
	net.StopValidator(3)
	ev.ProposalSubmitted = time.Now().UnixNano()
	ev.ProposalID = net.ProposeUpgrade(ev.ProposalSubmitter)
	wait.Until(t, func() bool {
		return last("oasis_entity_node", "expired", "node_id", ev.DownNodeID) == int64(1) &&
			last("oasis_entity", "in_validator_set", "entity_id", ev.DownEntityID) == int64(0)
	}, 4*time.Minute, time.Second, "validator 3's registration expires and its entity leaves the set")
	// Back: it registers again and is elected at the next epoch.
	ev.Validator3Started = time.Now().UnixNano()
	net.StartValidator(3)
	wait.Until(t, func() bool {
		return last("oasis_entity", "in_validator_set", "entity_id", ev.DownEntityID) == int64(1) &&
			last("oasis_signing", "consecutive_missed", "consensus_address", ev.DownConsensusAddr) == int64(0)
	}, 4*time.Minute, time.Second, "validator 3 is back in the set and signing")
	// The proposal closes (voting period: 5 epochs).
	wait.Until(t, func() bool {
		rows := in.Flux(t, bucket+` |> range(start: -1h)
			|> filter(fn: (r) => r._measurement == "oasis_governance_proposal" and r._field == "state")
			|> last()`)
		return len(rows) == 1 && rows[0]["_value"] != "active"
	}, 4*time.Minute, time.Second, "the proposal closes")

	// Our own node down for 45 s: the plugins report up=0 with the last
	// good tags, then recover. Validators 1-3 keep the chain going.
	ev.Validator0Stopped = time.Now().UnixNano()
	net.StopValidator(0)
	time.Sleep(45 * time.Second)
	require.Equal(t, int64(0), last("oasis_node", "up", "node_id", ev.OwnNodeID), "node down shows as up=0")
	require.Contains(t, []any{"no_socket", "not_answering"}, last("oasis_node", "down_reason", "node_id", ev.OwnNodeID),
		"a stopped node is no_socket (or not_answering while it shuts down), never permission_denied")
	for _, input := range []string{"oasis_signing", "oasis_entity", "oasis_governance"} {
		require.Equal(t, int64(0), last("oasis_input", "up", "input", input), "%s says it can't read the node", input)
		require.Contains(t, []any{"no_socket", "not_answering"}, last("oasis_input", "down_reason", "input", input),
			"%s says why, on its own series", input)
	}
	ev.Validator0Started = time.Now().UnixNano()
	net.StartValidator(0)
	wait.Until(t, func() bool {
		return last("oasis_node", "up", "node_id", ev.OwnNodeID) == int64(1) &&
			last("oasis_node", "synced", "node_id", ev.OwnNodeID) == int64(1)
	}, 2*time.Minute, time.Second, "our node is back and synced")
	// Validator 3's uptime over its last 100 heights is whole again.
	wait.Until(t, func() bool {
		return last("oasis_signing", "uptime_100", "consensus_address", ev.DownConsensusAddr) == 1.0
	}, 3*time.Minute, time.Second, "validator 3's uptime_100 recovers")
	time.Sleep(10 * time.Second)
	ev.End = time.Now().UnixNano()

	lp, schema := export(t, in, ev.HealthyFrom-int64(30*time.Second), ev.End)
	dir := os.Getenv("OASIS_RECORD_DIR")
	if dir == "" {
		// Not recording: the committed recording must still match what the
		// pipeline writes (no field it reads has been renamed or dropped).
		committed, err := os.ReadFile(filepath.Join(recordingDir, "series.lp"))
		require.NoError(t, err)
		for key := range lineSchema(t, committed) {
			require.True(t, schema[key], "the committed recording has %s, which the pipeline no longer writes: record again (OASIS_RECORD_DIR)", key)
		}
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "series.lp"), lp, 0o644))
	b, err := json.MarshalIndent(ev, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.json"), append(b, '\n'), 0o644))
	t.Logf("recorded %d bytes to %s", len(lp), dir)
}

// export reads the recorded measurements back from InfluxDB with InfluxQL
// and writes them as line protocol, field types kept (SHOW FIELD KEYS). It
// also returns the measurement/field pairs seen.
func export(t *testing.T, in *stacktest.Influx, from, to int64) ([]byte, map[string]bool) {
	types := map[string]map[string]string{}
	for _, s := range influxQL(t, in, "SHOW FIELD KEYS") {
		types[s.Name] = map[string]string{}
		for _, v := range s.Values {
			types[s.Name][v[0].(string)] = v[1].(string)
		}
	}
	type line struct {
		ts   int64
		text string
	}
	var lines []line
	schema := map[string]bool{}
	for _, m := range recordedMeasurements {
		q := fmt.Sprintf(`SELECT * FROM %q WHERE time >= %d AND time <= %d GROUP BY *`, m, from, to)
		for _, s := range influxQL(t, in, q) {
			var tags []string
			for k, v := range s.Tags {
				if v != "" {
					tags = append(tags, escape(k)+"="+escape(v))
				}
			}
			sort.Strings(tags)
			series := escape(s.Name)
			if len(tags) > 0 {
				series += "," + strings.Join(tags, ",")
			}
			for _, row := range s.Values {
				var fields []string
				var ts int64
				for i, col := range s.Columns {
					v := row[i]
					if col == "time" {
						n, err := v.(json.Number).Int64()
						require.NoError(t, err)
						ts = n
						continue
					}
					typ, isField := types[s.Name][col]
					if v == nil || !isField {
						continue
					}
					schema[s.Name+"."+col] = true
					fields = append(fields, escape(col)+"="+fieldValue(t, typ, v))
				}
				if len(fields) == 0 {
					continue
				}
				sort.Strings(fields)
				lines = append(lines, line{ts, series + " " + strings.Join(fields, ",") + " " + strconv.FormatInt(ts, 10)})
			}
		}
	}
	require.NotEmpty(t, lines)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].ts < lines[j].ts })
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return []byte(b.String()), schema
}

func fieldValue(t *testing.T, typ string, v any) string {
	switch typ {
	case "integer":
		return v.(json.Number).String() + "i"
	case "float":
		return v.(json.Number).String()
	case "boolean":
		return strconv.FormatBool(v.(bool))
	default:
		return strconv.Quote(v.(string))
	}
}

var escaper = strings.NewReplacer(",", `\,`, " ", `\ `, "=", `\=`)

func escape(s string) string { return escaper.Replace(s) }
