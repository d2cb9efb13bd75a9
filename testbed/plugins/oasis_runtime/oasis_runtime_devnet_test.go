package oasis_runtime_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_runtime"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// A real ParaTime on the devnet: validators 1 and 2 host it (oasis-core's
// mock runtime, no binary) as its executor committee. Rounds progress and
// both nodes are live; validator 2 stopped is no longer live this epoch,
// is faulted and suspended at the epoch's end, and the runtime (which
// needs both) is suspended with it; validator 2 back, the runtime resumes.
func TestDevnetParaTime(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 300 * time.Millisecond, EpochBlocks: 30, ComputeNodes: 2})
	require.NotEmpty(t, net.RuntimeID)
	v1, v2 := net.Validators[1], net.Validators[2]
	require.True(t, v1.Compute && v2.Compute && !net.Validators[0].Compute)
	newPlugin := func(nodeID string) *oasis_runtime.OasisRuntime {
		p := &oasis_runtime.OasisRuntime{Config: nodeclient.Config{Address: net.Address(1)}, NodeID: nodeID, Log: testutil.Logger{}}
		require.NoError(t, p.Init())
		t.Cleanup(p.Stop)
		return p
	}
	own, other := newPlugin(""), newPlugin(v2.NodeID)
	read := func(p *oasis_runtime.OasisRuntime) map[string]any {
		t.Helper()
		acc := acctest.Gather(t, p)
		pt, ok := acctest.ByTags(acc, oasis_runtime.Measurement, "runtime_id")[net.RuntimeID]
		if !ok {
			return map[string]any{}
		}
		return pt.Fields
	}

	// Both compute nodes register for the runtime, are elected, and rounds
	// are computed.
	var f map[string]any
	wait.Value(t, func() (bool, string) {
		f = read(own)
		return f["ready"] == int64(1) && f["in_committee"] == int64(1) && f["last_normal_round"] != nil &&
			f["last_normal_round"].(int64) >= 3 && f["live_rounds"] != nil && f["live_rounds"].(int64) > 0, fmt.Sprint(f)
	}, 3*time.Minute, time.Second, "validator 1 hosts the runtime, is in its committee and live")
	require.Equal(t, int64(1), f["hosted"])
	require.Equal(t, int64(1), f["node_registered"])
	require.Equal(t, "worker", f["committee_role"])
	require.Equal(t, int64(2), f["committee_size"])
	require.Equal(t, int64(0), f["runtime_suspended"])
	require.Equal(t, int64(1), f["liveness_ok"])
	require.Less(t, f["last_normal_round_age_seconds"].(float64), 30.0)
	require.LessOrEqual(t, f["round_lag"].(int64), int64(2), "the node's worker follows the chain's rounds")
	t.Logf("validator 1: %v", f)

	// Validator 2 stopped: its live rounds stop while the epoch's go on.
	net.StopValidator(2)
	wait.Value(t, func() (bool, string) {
		f = read(other)
		return f["liveness_ok"] == int64(0) || f["node_suspended"] == int64(1), fmt.Sprint(f)
	}, 3*time.Minute, time.Second, "validator 2 falls below the live rounds it needs")
	t.Logf("validator 2 stopped: %v", f)
	wait.Value(t, func() (bool, string) {
		f = read(other)
		return f["node_suspended"] == int64(1) && f["liveness_failures"] != nil && f["liveness_failures"].(int64) >= 1, fmt.Sprint(f)
	}, 3*time.Minute, time.Second, "at the epoch's end validator 2 is faulted and suspended")
	t.Logf("validator 2 suspended: %v", f)
	wait.Value(t, func() (bool, string) {
		f = read(own)
		return f["runtime_suspended"] == int64(1), fmt.Sprint(f)
	}, 3*time.Minute, time.Second, "the runtime, short of a committee, is suspended")
	t.Logf("runtime suspended: %v", f)

	net.StartValidator(2)
	wait.Value(t, func() (bool, string) {
		f = read(own)
		return f["runtime_suspended"] == int64(0) && f["last_normal_round_age_seconds"] != nil &&
			f["last_normal_round_age_seconds"].(float64) < 10, fmt.Sprint(f)
	}, 4*time.Minute, time.Second, "validator 2 back, the runtime resumes")
	t.Logf("resumed: %v", f)
}
