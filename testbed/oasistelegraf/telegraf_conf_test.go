package oasistelegraf

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/testutil"

	// The plugins telegraf.conf uses, as a stock Telegraf has them.
	_ "github.com/influxdata/telegraf/plugins/inputs/cpu"
	_ "github.com/influxdata/telegraf/plugins/inputs/disk"
	_ "github.com/influxdata/telegraf/plugins/inputs/diskio"
	_ "github.com/influxdata/telegraf/plugins/inputs/execd"
	_ "github.com/influxdata/telegraf/plugins/inputs/http_listener_v2"
	_ "github.com/influxdata/telegraf/plugins/inputs/mem"
	_ "github.com/influxdata/telegraf/plugins/inputs/net"
	_ "github.com/influxdata/telegraf/plugins/inputs/processes"
	_ "github.com/influxdata/telegraf/plugins/inputs/procstat"
	_ "github.com/influxdata/telegraf/plugins/inputs/system"
	_ "github.com/influxdata/telegraf/plugins/outputs/health"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb"
	_ "github.com/influxdata/telegraf/plugins/parsers/json_v2"
	_ "github.com/influxdata/telegraf/plugins/processors/execd"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
)

// inputs.internal (Telegraf's own statistics, for the health check) lives
// in an internal package of Telegraf's module, which this module can't
// import: a stand-in with its settings lets the config load. The test
// runs only the execd inputs; the real internal input runs in the e2e
// test, whose Telegraf is built with it (scripts/stack-bins.sh).
type internalStandIn struct {
	CollectMemstats bool `toml:"collect_memstats"`
	CollectGostats  bool `toml:"collect_gostats"`
}

func (*internalStandIn) SampleConfig() string              { return "" }
func (*internalStandIn) Gather(telegraf.Accumulator) error { return nil }

func init() {
	inputs.Add("internal", func() telegraf.Input { return &internalStandIn{} })
}

// The repository's telegraf.conf, loaded by Telegraf's own config loader,
// runs this binary through inputs.execd against a real node, one process per
// plugin: each gather signal yields the plugin's points.
func TestTelegrafConfRunsThePluginThroughExecd(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10})
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	t.Setenv("OASIS_TELEGRAF_BIN", devnettest.BuildCommand(t, "./cmd/oasis-telegraf"))
	t.Setenv("OASIS_CONFIG_DIR", filepath.Join(repo, "telegraf"))
	t.Setenv("OASIS_NODE_SOCKET", net.Address(0))
	t.Setenv("INFLUX_PASSWORD", "not-used-here")
	t.Setenv("OASIS_STATE_DIR", t.TempDir())
	t.Setenv("OASIS_NODE_ID", net.Validators[0].NodeID)
	t.Setenv("OASIS_NODE_NAME", "validator-0")
	t.Setenv("OASIS_ENTITY_ID", net.Validators[0].EntityID)
	t.Setenv("OASIS_ENTITY_NAME", "Our Entity")

	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfig(filepath.Join(repo, "telegraf.conf")))
	require.Len(t, cfg.Outputs, 2, "influxdb and health")
	// oasis_runtime runs too, for a validator: this one hosts no ParaTime, so
	// it writes only its own point (checked below; TestPipeline reads a
	// ParaTime through it).
	want := []string{"oasis_node", "oasis_signing", "oasis_entity", "oasis_governance"}
	seen := map[string]bool{}
	gathered := map[string]telegraf.Metric{}
	for _, in := range cfg.Inputs {
		if in.Config.Name != "execd" {
			continue
		}
		t.Run(in.Config.Name, func(t *testing.T) {
			require.NoError(t, in.Init())
			var acc testutil.Accumulator
			require.NoError(t, in.Start(&acc))
			defer in.Stop()
			// A gather that read the node: the plugin's own oasis_input
			// point says up=1, beside the plugin's points about the node.
			var got telegraf.Metric
			var input string
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				require.NoError(c, in.Gather(&acc))
				got, input = nil, ""
				metrics := acc.GetTelegrafMetrics()
				for _, m := range metrics {
					if up, _ := m.GetField("up"); m.Name() == "oasis_input" && up == int64(1) {
						input, _ = m.GetTag("input")
					}
				}
				for _, m := range metrics {
					if input != "" && m.Name() == input { // the plugin's main measurement
						got = m
					}
				}
				assert.NotEmpty(c, input, "no oasis_input point with up=1 yet; errors: %v", acc.Errors)
				if input != "oasis_runtime" {
					assert.NotNil(c, got, "no %s point about the node yet", input)
				}
			}, 30*time.Second, 500*time.Millisecond)
			if input == "oasis_runtime" {
				require.Nil(t, got, "a node hosting no ParaTime: no oasis_runtime point")
				require.Empty(t, acc.Errors)
				seen[input] = true
				return
			}
			seen[got.Name()] = true
			gathered[got.Name()] = got
			// Each plugin reports on the node (or its entity) at the socket.
			if id, ok := got.GetTag("node_id"); ok {
				require.Equal(t, net.Validators[0].NodeID, id)
			} else {
				id, _ := got.GetTag("entity_id")
				require.Equal(t, net.Validators[0].EntityID, id)
			}
		})
	}
	for _, name := range append(want, "oasis_runtime") {
		require.True(t, seen[name], "telegraf.conf runs %s", name)
	}
	require.Len(t, seen, len(want)+1)

	// The names processor, run by processors.execd as configured, names
	// the node and entity of each plugin's point; per-height points do
	// not pass through it (namepass).
	require.Len(t, cfg.Processors, 1)
	proc := cfg.Processors[0]
	require.Equal(t, "execd", proc.Config.Name)
	require.NoError(t, proc.Init())
	var named testutil.Accumulator
	require.NoError(t, proc.Start(&named))
	defer proc.Stop()
	selected := func(m telegraf.Metric) bool {
		ok, err := proc.Config.Filter.Select(m)
		require.NoError(t, err)
		return ok
	}
	for _, name := range want {
		require.True(t, selected(gathered[name]), "%s passes through the processor", name)
		require.NoError(t, proc.Add(gathered[name].Copy(), &named))
	}
	require.False(t, selected(metric.New("oasis_signing_block", nil, map[string]any{"signed": 1}, time.Now())))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Len(c, named.GetTelegrafMetrics(), len(want), "errors: %v", named.Errors)
	}, 20*time.Second, 100*time.Millisecond)
	for _, m := range named.GetTelegrafMetrics() {
		if _, ok := m.GetTag("node_id"); ok {
			name, _ := m.GetField("node_name")
			require.Equal(t, "validator-0", name, "%s", m)
		}
		if _, ok := m.GetTag("entity_id"); ok {
			name, _ := m.GetField("entity_name")
			require.Equal(t, "Our Entity", name, "%s", m)
		}
	}
}
