package oasis_entity_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_entity"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

func baseUnits(t *testing.T, f map[string]any, name string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(f[name+"_base_units"].(string), 10)
	require.True(t, ok, name)
	return n
}

// On a real devnet, with real transactions: a delegation raises escrow and
// the delegator count by exactly the amount; undelegating moves it to
// debonding; a stopped validator's registration runs out and expires.
func TestDevnetStakeAndRegistration(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 300 * time.Millisecond, EpochBlocks: 10})
	p := &oasis_entity.OasisEntity{
		Config:    nodeclient.Config{Address: net.Address(0)},
		EntityIDs: []string{net.Validators[1].EntityID, net.Validators[3].EntityID},
		Log:       testutil.Logger{},
	}
	require.NoError(t, p.Init())
	defer p.Stop()
	read := func(measurement, tag, value string) map[string]any {
		t.Helper()
		acc := acctest.Gather(t, p)
		require.Empty(t, acc.Errors)
		return acctest.Point(t, acc, measurement, tag, value)
	}
	entity1 := net.Validators[1].EntityID

	before := read(oasis_entity.EntityMeasurement, "entity_id", entity1)
	net.Delegate("delegator", 1, "1000")
	after := read(oasis_entity.EntityMeasurement, "entity_id", entity1)
	grew := new(big.Int).Sub(baseUnits(t, after, "escrow_active_balance"), baseUnits(t, before, "escrow_active_balance"))
	require.Equal(t, "1000000000000", grew.String(), "escrow grew by 1000 TEST")
	require.Equal(t, before["delegators"].(int64)+1, after["delegators"])
	require.Equal(t, before["escrow_active_balance_tokens"].(float64)+1000, after["escrow_active_balance_tokens"])

	net.Undelegate("delegator", 1)
	undone := read(oasis_entity.EntityMeasurement, "entity_id", entity1)
	require.Equal(t, before["escrow_active_balance_base_units"], undone["escrow_active_balance_base_units"])
	require.Equal(t, before["delegators"], undone["delegators"])
	debonding := new(big.Int).Sub(baseUnits(t, undone, "escrow_debonding_balance"), baseUnits(t, before, "escrow_debonding_balance"))
	require.Equal(t, "1000000000000", debonding.String(), "the undelegated stake is debonding")

	// Validator 3 registers at its first epoch; then stop it and watch its
	// registration run out through validator 0.
	node3 := net.Validators[3].NodeID
	wait.Until(t, func() bool {
		f := read(oasis_entity.NodeMeasurement, "node_id", node3)
		return f["registration_epochs_left"] == int64(2)
	}, time.Minute, 300*time.Millisecond, "validator 3 re-registers every epoch (max_node_expiration 2)")
	net.StopValidator(3)
	seen := map[int64]bool{}
	wait.Until(t, func() bool {
		f := read(oasis_entity.NodeMeasurement, "node_id", node3)
		left, ok := f["registration_epochs_left"].(int64)
		require.True(t, ok, "the expiration stays known: %v", f)
		seen[left] = true
		return f["expired"] == int64(1) && left < 0
	}, 2*time.Minute, 300*time.Millisecond)
	require.True(t, seen[1] && seen[0], "epochs left counted down through 1 and 0: %v", seen)
}
