package oasis_node_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_node"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// TestRealNode gathers twice from a real oasis-node validator (one-validator
// devnet) and checks what only a live chain can show.
func TestRealNode(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10})
	v := net.Validators[0]

	p := &oasis_node.OasisNode{Config: nodeclient.Config{Address: net.Address(0)}, NodeID: v.NodeID, Log: testutil.Logger{}}
	require.NoError(t, p.Init())
	defer p.Stop()

	// A fresh validator registers at its first epoch: until then the node
	// answers but reports registered=0. Wait for the registration with a
	// deadline (epochs of 10 blocks at 0.5 s), then for a higher block.
	var first, second *testutil.Metric
	wait.Until(t, func() bool {
		first = gatherOne(t, p)
		return first.Fields["registered"] == int64(1)
	}, 60*time.Second, 250*time.Millisecond, "the validator registers (registered = 1)")
	wait.Until(t, func() bool {
		second = gatherOne(t, p)
		return second.Fields["latest_height"].(int64) > first.Fields["latest_height"].(int64)
	}, 30*time.Second, 250*time.Millisecond, "a new block after height %d", first.Fields["latest_height"])

	for _, m := range []map[string]any{first.Fields, second.Fields} {
		require.Equal(t, int64(1), m["up"])
		require.Equal(t, int64(1), m["synced"])
		require.Equal(t, int64(1), m["is_validator"])
		require.Equal(t, "ready", m["consensus_status"])
		require.Equal(t, "validator", m["mode"])
		require.Equal(t, int64(1), m["registered"])
		require.GreaterOrEqual(t, m["registration_expiration_epoch"].(int64), m["epoch"].(int64))
		require.Positive(t, m["voting_power"].(int64))
		require.Equal(t, int64(0), m["frozen"])
	}
	require.Equal(t, v.NodeID, second.Tags["node_id"])
	require.Equal(t, v.EntityID, second.Tags["entity_id"])
	require.Equal(t, net.ChainContext, second.Tags["chain_context"])
}

func gatherOne(t *testing.T, p *oasis_node.OasisNode) *testutil.Metric {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.Len(t, acc.Metrics, 2, "the node's point and the input's own oasis_input")
	require.Equal(t, "oasis_input", acc.Metrics[1].Measurement)
	require.Equal(t, int64(1), acc.Metrics[1].Fields["up"])
	return acc.Metrics[0]
}

// TestRealReference compares a real validator with another real node of
// the network as its reference: level with it, then the reference
// stopped (down, with the reason, and our node still up), then back.
func TestRealReference(t *testing.T) {
	// Four validators: one stopped leaves 3/4 of the votes, the chain goes on.
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	p := &oasis_node.OasisNode{
		Config: nodeclient.Config{Address: net.Address(0)}, NodeID: net.Validators[0].NodeID, Log: testutil.Logger{},
		References: []*oasis_node.Reference{{Name: "validator-1", Config: nodeclient.Config{Address: net.Address(1)}}},
	}
	require.NoError(t, p.Init())
	defer p.Stop()

	gather := func() (node, ref *testutil.Metric) {
		var acc testutil.Accumulator
		require.NoError(t, p.Gather(&acc))
		for _, m := range acc.Metrics {
			switch m.Measurement {
			case oasis_node.Measurement:
				node = m
			case oasis_node.ReferenceMeasurement:
				ref = m
			}
		}
		require.NotNil(t, node)
		require.NotNil(t, ref)
		return node, ref
	}

	// Level: the two nodes of one chain, read at the same moment, are a
	// block or two apart at most (0.5 s blocks).
	var node, ref *testutil.Metric
	wait.Until(t, func() bool {
		node, ref = gather()
		return ref.Fields["up"] == int64(1) && node.Fields["up"] == int64(1) && node.Fields["reference_height_lag"] != nil
	}, 60*time.Second, 500*time.Millisecond, "the reference answers")
	lag := node.Fields["reference_height_lag"].(int64)
	require.LessOrEqual(t, lag, int64(3))
	require.GreaterOrEqual(t, lag, int64(-3))
	require.Equal(t, int64(1), node.Fields["references_up"])
	require.Equal(t, "validator-1", node.Fields["reference_ahead"])
	require.Equal(t, "validator-1", ref.Tags["reference"])
	require.Equal(t, net.Validators[0].NodeID, ref.Tags["node_id"])
	require.Equal(t, lag, ref.Fields["height_lag"])
	require.Equal(t, node.Fields["epoch"].(int64)+ref.Fields["epoch_lag"].(int64), ref.Fields["epoch"])

	// The reference stopped: its point says why; our node is still up and
	// no lag is reported.
	net.StopValidator(1)
	wait.Until(t, func() bool {
		node, ref = gather()
		return ref.Fields["up"] == int64(0)
	}, 30*time.Second, 500*time.Millisecond, "the stopped reference reads down")
	require.Contains(t, []any{nodeclient.ReasonNoSocket, nodeclient.ReasonNotAnswering}, ref.Fields["down_reason"])
	require.Equal(t, int64(1), node.Fields["up"])
	require.Equal(t, int64(0), node.Fields["references_up"])
	require.Nil(t, node.Fields["reference_height_lag"])

	// Back: compared again.
	net.StartValidator(1)
	wait.Until(t, func() bool {
		node, ref = gather()
		return ref.Fields["up"] == int64(1) && node.Fields["references_up"] == int64(1)
	}, 60*time.Second, 500*time.Millisecond, "the restarted reference answers again")
}
