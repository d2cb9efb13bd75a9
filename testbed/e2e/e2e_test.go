// Package e2e runs the whole pipeline natively: a four-validator devnet,
// Telegraf with the repository's telegraf.conf (our execd plugins and the
// system inputs) and InfluxDB, read back with influxdb-client-go/v2.
package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

const bucket = `from(bucket: "telegraf/autogen")`

// Documented fields that appear only in situations this run does not
// make, by measurement and field ("measurement.*": the whole measurement).
var situational = map[string]string{
	"oasis_node.down_reason":                        "only with up=0; TestAlertsLive kills our node and reads it",
	"oasis_entity.down_reason":                      "only with up=0; TestAlertsLive kills our node and reads it",
	"oasis_governance.down_reason":                  "only with up=0; TestAlertsLive kills our node and reads it",
	"oasis_input.down_reason":                       "only with up=0; TestAlertsLive kills our node and reads it",
	"oasis_input.failed_reads":                      "only with up=0; TestAlertsLive kills our node and reads it",
	"oasis_runtime.down_reason":                     "only with up=0: the runtime input's own tests",
	"oasis_runtime.attested":                        "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_height":              "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_age_blocks":          "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_max_age_blocks":      "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_blocks_left":         "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_left_share":          "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_runtime.attestation_age_enforced":        "no TEE on the devnet's ParaTime: the input's TestAttestationAge",
	"oasis_entity.commission_next_rate":             "no commission schedule on the devnet",
	"oasis_entity.commission_next_epoch":            "no commission schedule on the devnet",
	"oasis_entity.commission_next_epochs_left":      "no commission schedule on the devnet",
	"oasis_governance.next_upgrade_epochs_left":     "the proposal does not pass during the test",
	"oasis_governance_upgrade.*":                    "no scheduled upgrade",
	"oasis_governance_proposal.cancels_proposal_id": "no cancel-upgrade proposal",
	"oasis_governance_proposal.parameters_module":   "no change-parameters proposal",
}

// fieldsIn returns measurement -> field -> last value, for oasis_* and the
// system measurements, over the last hour.
func fieldsIn(t *testing.T, in *stacktest.Influx) map[string]map[string]any {
	rows := in.Flux(t, bucket+` |> range(start: -1h) |> group(columns: ["_measurement", "_field"]) |> last()`)
	out := map[string]map[string]any{}
	for _, r := range rows {
		m := r["_measurement"].(string)
		if out[m] == nil {
			out[m] = map[string]any{}
		}
		out[m][r["_field"].(string)] = r["_value"]
	}
	return out
}

func TestPipeline(t *testing.T) {
	// Validator 1 hosts the devnet's ParaTime (its executor committee of
	// one), read by the shipped oasis_runtime input pointed at its socket.
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20, Metrics: true,
		ComputeNodes: 1})
	in := stacktest.StartInflux(t)
	// The hourly aggregates every 10 s, so the history dashboard has data
	// within the run (influxdb/oasis-setup.sh: run again, as an operator
	// who changes a setting does).
	require.NoError(t, in.Setup("OASIS_AGGREGATE_INTERVAL=10s"))
	// telegraf.conf as shipped, but its health check trips at 50 waiting
	// points instead of 1,000, so a one-minute outage shows.
	shipped, err := os.ReadFile("../../telegraf.conf")
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(shipped), "lt = 1000.0"), "telegraf.conf's health threshold")
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	// The node's own metrics turned on, as docs/node-metrics.md says: the
	// system dashboard's panels read them.
	edited := stacktest.UncommentBlock(t, strings.Replace(string(shipped), "lt = 1000.0", "lt = 50.0", 1), "oasis_node_metrics")
	require.NoError(t, os.WriteFile(conf, []byte(edited), 0o600))
	healthPort, err := proc.FreePort()
	require.NoError(t, err)
	health := fmt.Sprintf("http://127.0.0.1:%d/", healthPort)
	// The shipped plugin configs, with two reference nodes turned on as
	// the comments there say: validator 1 (answers) and a node whose
	// socket is gone (down, no_socket).
	confDir := t.TempDir()
	shippedConfs, err := filepath.Glob("../../telegraf/*.conf")
	require.NoError(t, err)
	for _, f := range shippedConfs {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		if filepath.Base(f) == "oasis_runtime.conf" {
			b = []byte(strings.Replace(string(b), `"${OASIS_NODE_SOCKET:-unix:/run/oasis/internal.sock}"`, strconv.Quote(net.Address(1)), 1))
		}
		if filepath.Base(f) == "oasis_node.conf" {
			b = append(b, fmt.Sprintf("  [[inputs.oasis_node.reference]]\n    name = \"validator-1\"\n    address = %q\n"+
				"  [[inputs.oasis_node.reference]]\n    name = \"gone\"\n    address = \"unix:/nonexistent/oasis/internal.sock\"\n",
				net.Address(1))...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(confDir, filepath.Base(f)), b, 0o644))
	}
	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: net.Validators[0].Socket, Interval: 2 * time.Second, ConfigFile: conf, HealthPort: healthPort,
		Env: []string{"OASIS_SIGNING_ALL_VALIDATORS=true", "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_CONFIG_DIR=" + confDir,
			fmt.Sprintf("OASIS_NODE_METRICS_URL=http://127.0.0.1:%d/metrics", net.Validators[0].MetricsPort),
			// Names (docs/install.md#names), for the network dashboard's columns.
			"OASIS_NODE_ID=" + net.Validators[0].NodeID, "OASIS_NODE_NAME=validator-0",
			"OASIS_ENTITY_ID=" + net.Validators[0].EntityID, "OASIS_ENTITY_NAME=Our Entity"},
	})
	defer func() {
		if t.Failed() {
			t.Logf("telegraf log:\n%s", tg.Log())
		}
	}()
	// A proposal our entity (validator 0's) voted on, so the proposal
	// measurement has something to show.
	id := net.ProposeUpgrade(1)
	net.Vote(0, id, "yes")

	// Every documented field of every plugin arrives in InfluxDB, under
	// its own measurement.
	var documented []docfields.Field
	for _, p := range []string{"oasis_node", "oasis_signing", "oasis_entity", "oasis_governance", "oasis_runtime"} {
		f, err := docfields.Read("../../plugins/inputs/" + p + "/README.md")
		require.NoError(t, err)
		documented = append(documented, f...)
	}
	var got map[string]map[string]any
	missing := func() []string {
		got = fieldsIn(t, in)
		var miss []string
		for _, f := range documented {
			_, field := situational[f.String()]
			_, measurement := situational[f.Measurement+".*"]
			if _, ok := got[f.Measurement][f.Name]; !ok && !field && !measurement {
				miss = append(miss, f.String())
			}
		}
		sort.Strings(miss)
		return miss
	}
	wait.Value(t, func() (bool, string) {
		miss := missing()
		return len(miss) == 0, fmt.Sprint("missing ", miss)
	}, 2*time.Minute, 2*time.Second, "every documented field reaches InfluxDB")

	// Plausible values.
	node := got["oasis_node"]
	require.Equal(t, int64(1), node["up"])
	require.Equal(t, int64(1), node["is_validator"])
	require.Equal(t, int64(1), node["synced"])
	require.Positive(t, node["latest_height"].(int64))
	require.Less(t, node["latest_block_age_seconds"].(float64), 30.0)
	require.Equal(t, "validator", node["mode"])
	// Each input says it is alive, in its own series.
	for _, input := range []string{"oasis_node", "oasis_signing", "oasis_entity", "oasis_governance"} {
		require.Equal(t, int64(1), inputUp(t, in, input), "oasis_input up of %s", input)
	}
	require.Equal(t, int64(1), got["oasis_entity"]["up"])
	require.Equal(t, "TEST", entityToken(t, in))
	require.Equal(t, int64(1), got["oasis_governance"]["up"])
	require.Contains(t, got["oasis_node"], "epoch")
	require.Contains(t, got["oasis_governance_proposal"], "epochs_left")
	// The vote lands in the gather after the vote's transaction (a gather
	// may have seen the proposal before it: vote "").
	wait.Until(t, func() bool {
		return fieldsIn(t, in)["oasis_governance_proposal"]["vote"] == "yes"
	}, 30*time.Second, time.Second, "our vote reaches InfluxDB")
	// System inputs: cpu reports from its second gather on.
	systemInputs := []string{"cpu", "mem", "disk", "diskio", "net", "system", "processes", "procstat"}
	wait.Until(t, func() bool {
		got := fieldsIn(t, in)
		for _, m := range systemInputs {
			if len(got[m]) == 0 {
				return false
			}
		}
		return true
	}, time.Minute, 2*time.Second, "every system input writes to InfluxDB")

	// Every dashboard panel's query returns data from this pipeline; the
	// alert history's (oasis_alert) needs Kapacitor: TestAlertsLive.
	checkDashboardQueries(t, in, map[string]string{
		"node":   net.Validators[0].NodeID,
		"entity": net.Validators[0].EntityID,
	}, func(m string) bool { return m != "oasis_alert" })
	checkValidatorNames(t, in, net.Validators[0].ConsensusAddress)
	checkAggregates(t, in)

	// A stopped validator shows up as missed heights in InfluxDB.
	net.StopValidator(3)
	addr3 := net.Validators[3].ConsensusAddress
	wait.Until(t, func() bool {
		rows := in.Flux(t, bucket+` |> range(start: -1h)
			|> filter(fn: (r) => r._measurement == "oasis_signing" and r._field == "missed_total" and r.consensus_address == "`+addr3+`")
			|> last()`)
		return len(rows) == 1 && rows[0]["_value"].(int64) >= 3
	}, time.Minute, time.Second, "validator 3's missed heights reach InfluxDB")
	net.StartValidator(3)

	// InfluxDB down for 30 s (15 gathers; the outage package holds longer
	// ones, through a SIGKILL and a full disk) loses no point: Telegraf buffers and sends
	// them when it is back. Every height of our validator has its point.
	// Telegraf's health check says so while it can't write: 503 once 50
	// points wait (the shipped threshold is 1,000), 200 again after.
	// Healthy first: the checks above (the setup run again, a validator
	// stopped) can leave more than 50 points waiting for a flush or two.
	wait.Until(t, func() bool { return healthStatus(t, health) == http.StatusOK },
		30*time.Second, time.Second, "healthy while InfluxDB is up")
	before := lastBlockHeight(t, in)
	stopped := time.Now()
	in.Stop()
	wait.Until(t, func() bool { return healthStatus(t, health) == http.StatusServiceUnavailable },
		time.Minute, time.Second, "Telegraf's health check fails while InfluxDB is down")
	time.Sleep(time.Until(stopped.Add(30 * time.Second))) // the outage lasts 30 s
	in.Start()
	wait.Until(t, func() bool { return healthStatus(t, health) == http.StatusOK },
		time.Minute, time.Second, "Telegraf's health check recovers once the buffer is written")
	var after int64
	wait.Until(t, func() bool {
		after = lastBlockHeight(t, in)
		return after > before+20 // ~30 s of 0.5 s blocks, plus the flush
	}, 2*time.Minute, 2*time.Second)
	heights := blockHeights(t, in, before, after)
	for h := before; h <= after; h++ {
		require.True(t, heights[h], "height %d's point was lost during the outage (have %d of %d..%d)", h, len(heights), before, after)
	}

	// A dead pipeline looks dead: Telegraf stopped, every now tile of the
	// dashboards shows "no data" within its window instead of the last
	// value (the "Last data" tile shows its age, read over 30 days).
	tg.Stop()
	checkTilesGoStale(t, in, map[string]string{
		"node":   net.Validators[0].NodeID,
		"entity": net.Validators[0].EntityID,
	})
}

func entityToken(t *testing.T, in *stacktest.Influx) string {
	rows := in.Flux(t, bucket+` |> range(start: -1h) |> filter(fn: (r) => r._measurement == "oasis_entity") |> last() |> limit(n: 1)`)
	require.NotEmpty(t, rows)
	return rows[0]["token"].(string)
}

// inputUp is the last up of one of our inputs' oasis_input series.
func inputUp(t *testing.T, in *stacktest.Influx, input string) any {
	rows := in.Flux(t, bucket+` |> range(start: -1h)
		|> filter(fn: (r) => r._measurement == "oasis_input" and r._field == "up" and r.input == "`+input+`")
		|> last()`)
	require.Len(t, rows, 1, "one oasis_input series for %s", input)
	return rows[0]["_value"]
}

// lastBlockHeight is the newest height with an oasis_signing_block point.
func lastBlockHeight(t *testing.T, in *stacktest.Influx) int64 {
	rows := in.Flux(t, bucket+` |> range(start: -1h)
		|> filter(fn: (r) => r._measurement == "oasis_signing_block" and r._field == "height")
		|> group() |> max()`)
	if len(rows) == 0 {
		return 0
	}
	return rows[0]["_value"].(int64)
}

// blockHeights are the heights from..to that have an oasis_signing_block point.
func blockHeights(t *testing.T, in *stacktest.Influx, from, to int64) map[int64]bool {
	rows := in.Flux(t, bucket+fmt.Sprintf(` |> range(start: -1h)
		|> filter(fn: (r) => r._measurement == "oasis_signing_block" and r._field == "height" and r._value >= %d and r._value <= %d)
		|> group()`, from, to))
	out := map[int64]bool{}
	for _, r := range rows {
		out[r["_value"].(int64)] = true
	}
	return out
}

// healthStatus is the status code of Telegraf's health endpoint.
func healthStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
