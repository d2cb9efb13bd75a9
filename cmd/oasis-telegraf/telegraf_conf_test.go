package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"

	// The plugins telegraf.conf uses, as a stock Telegraf has them.
	_ "github.com/influxdata/telegraf/plugins/inputs/execd"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb"

	"github.com/oasis-mission-control/oasis-mission-control/internal/devnettest"
)

// The repository's telegraf.conf, loaded by Telegraf's own config loader,
// runs this binary through inputs.execd against a real node: each gather
// signal yields an oasis_node point.
func TestTelegrafConfRunsThePluginThroughExecd(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10})
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	t.Setenv("OASIS_TELEGRAF_BIN", binary)
	t.Setenv("OASIS_CONFIG_DIR", filepath.Join(repo, "telegraf"))
	t.Setenv("OASIS_NODE_SOCKET", net.Address(0))
	t.Setenv("INFLUX_PASSWORD", "not-used-here")

	cfg := config.NewConfig()
	require.NoError(t, cfg.LoadConfig(filepath.Join(repo, "telegraf.conf")))
	require.Len(t, cfg.Outputs, 1)
	var execd []int
	for i, in := range cfg.Inputs {
		if in.Config.Name == "execd" {
			execd = append(execd, i)
		}
	}
	require.Len(t, execd, 1, "one execd block per plugin; issue 2 ships oasis_node")

	input := cfg.Inputs[execd[0]]
	require.NoError(t, input.Init())
	var acc testutil.Accumulator
	require.NoError(t, input.Start(&acc))
	defer input.Stop()

	require.NoError(t, input.Gather(&acc))
	require.Eventually(t, func() bool { return acc.NMetrics() >= 1 }, 20*time.Second, 100*time.Millisecond)
	m := acc.GetTelegrafMetrics()[0]
	require.Equal(t, "oasis_node", m.Name())
	up, _ := m.GetField("up")
	require.Equal(t, int64(1), up, "errors: %v", acc.Errors)
	nodeID, _ := m.GetTag("node_id")
	require.Equal(t, net.Validators[0].NodeID, nodeID)
}
