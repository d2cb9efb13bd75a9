package oasistelegraf

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// TestNodeMetricsThroughTelegraf: a devnet validator serves its own
// Prometheus metrics (metrics.mode pull, as the doc turns them on);
// telegraf.conf's node-metrics block, turned on, brings every field
// docs/node-metrics.md lists into InfluxDB.
func TestNodeMetricsThroughTelegraf(t *testing.T) {
	// Two validators: CometBFT exports its peers gauge once a peer came.
	net := devnettest.Start(t, devnettest.Options{Validators: 2, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10, Metrics: true})
	v := net.Validators[0]
	require.NotZero(t, v.MetricsPort, "the devnet serves metrics")
	in := stacktest.StartInflux(t)

	shipped, err := os.ReadFile("../../telegraf.conf")
	require.NoError(t, err)
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, []byte(stacktest.UncommentBlock(t, string(shipped), "oasis_node_metrics")), 0o600))
	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: v.Socket, Interval: 2 * time.Second, ConfigFile: conf,
		Env: []string{"OASIS_NODE_PROCESS=oasis-devnet", fmt.Sprintf("OASIS_NODE_METRICS_URL=http://127.0.0.1:%d/metrics", v.MetricsPort)},
	})
	defer func() {
		if t.Failed() {
			t.Logf("telegraf log:\n%s", tg.Log())
		}
	}()

	documented, err := docfields.Fields("../../docs/node-metrics.md", "oasis_node_metrics")
	require.NoError(t, err)
	require.NotEmpty(t, documented)
	var got []string
	wait.Value(t, func() (bool, string) {
		rows := in.Flux(t, `from(bucket: "telegraf/autogen") |> range(start: -1h)
			|> filter(fn: (r) => r._measurement == "oasis_node_metrics")
			|> keep(columns: ["_field"]) |> distinct(column: "_field")`)
		got = got[:0]
		for _, r := range rows {
			got = append(got, r["_value"].(string))
		}
		sort.Strings(got)
		var missing []string
		for _, f := range documented {
			if !contains(got, f) {
				missing = append(missing, f)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v; got %v", missing, got)
	}, 90*time.Second, 2*time.Second, "every documented node metric reaches InfluxDB")
	// Only the documented ones: the node serves hundreds.
	require.ElementsMatch(t, documented, got)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
