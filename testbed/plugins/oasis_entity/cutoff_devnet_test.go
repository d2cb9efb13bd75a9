package oasis_entity_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_entity"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// On a devnet of four validators with three seats and distinct escrows
// (100k, 90k, 80k, 70k TEST): the plugin's prediction of the next election
// (rank, elected, cutoff, margin) is checked against the staking accounts
// and against the election the chain then holds; a delegation that lifts
// validator 3 over validator 2 flips both, and the chain's next validator
// set follows.
func TestDevnetValidatorSetCutoff(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 300 * time.Millisecond, EpochBlocks: 10, MaxValidators: 3})
	v2, v3 := net.Validators[2], net.Validators[3]
	p := &oasis_entity.OasisEntity{
		Config:           nodeclient.Config{Address: net.Address(0)},
		EntityIDs:        []string{v2.EntityID, v3.EntityID},
		ElectionInterval: config.Duration(time.Minute),
		Log:              testutil.Logger{},
	}
	require.NoError(t, p.Init())
	defer p.Stop()
	chain := net.Client(0)
	ctx := context.Background()
	read := func() (f2, f3 map[string]any) {
		t.Helper()
		acc := acctest.Gather(t, p)
		require.Empty(t, acc.Errors)
		return acctest.Point(t, acc, oasis_entity.EntityMeasurement, "entity_id", v2.EntityID),
			acctest.Point(t, acc, oasis_entity.EntityMeasurement, "entity_id", v3.EntityID)
	}
	escrow := func(entityID string, height int64) *big.Int {
		t.Helper()
		var id signature.PublicKey
		require.NoError(t, id.UnmarshalText([]byte(entityID)))
		acct, err := chain.Account(ctx, staking.NewAddress(id), height)
		require.NoError(t, err)
		return acct.Escrow.Active.Balance.ToBigInt()
	}
	// The entities the chain seats at the start of epoch: its validator set
	// there, after the election at the transition.
	seated := func(epoch beacon.EpochTime) map[string]bool {
		t.Helper()
		var start int64
		wait.Value(t, func() (bool, string) {
			h, err := chain.EpochStart(ctx, epoch)
			start = h
			return err == nil && h > 0, fmt.Sprintf("epoch %d has begun", epoch)
		}, time.Minute, 300*time.Millisecond, "the next epoch begins")
		vals, err := chain.Validators(ctx, start)
		require.NoError(t, err)
		out := map[string]bool{}
		for _, v := range vals {
			out[v.EntityID.String()] = true
		}
		return out
	}
	predictedAt := func(f map[string]any) (int64, beacon.EpochTime) {
		t.Helper()
		h := f["election_height"].(int64)
		e, err := chain.Epoch(ctx, h)
		require.NoError(t, err)
		return h, e
	}

	// From epoch 1 on, after the first election, validator 3 is out.
	var f2, f3 map[string]any
	wait.Value(t, func() (bool, string) {
		f2, f3 = read()
		h, e := predictedAt(f2)
		return e >= 1, fmt.Sprintf("prediction at height %d", h)
	}, time.Minute, 300*time.Millisecond, "a prediction after the first election")
	h, epoch := predictedAt(f2)
	esc2, esc3 := escrow(v2.EntityID, h), escrow(v3.EntityID, h)
	require.Equal(t, "80000000000000", esc2.String(), "the staked genesis: 80k TEST")
	require.Equal(t, "70000000000000", esc3.String(), "the staked genesis: 70k TEST")
	for name, want := range map[string]any{
		"max_validators": int64(3), "election_candidates": int64(4), "validator_nodes_eligible": int64(1),
		"election_candidate": int64(1), "elected_next_epoch": int64(1), "escrow_rank": int64(3),
		"cutoff_kind": "seats", "cutoff_escrow_base_units": esc3.String(),
		"cutoff_margin_base_units": new(big.Int).Sub(esc2, esc3).String(), "cutoff_margin_tokens": 10000.0,
		"cutoff_margin_share": 0.125,
	} {
		require.Equal(t, want, f2[name], "validator 2's entity, the last seat: %s", name)
	}
	for name, want := range map[string]any{
		"election_candidate": int64(1), "elected_next_epoch": int64(0), "escrow_rank": int64(4),
		"cutoff_kind": "seats", "cutoff_escrow_base_units": esc2.String(),
		"cutoff_margin_base_units": new(big.Int).Sub(esc3, esc2).String(), "cutoff_margin_tokens": -10000.0,
	} {
		require.Equal(t, want, f3[name], "validator 3's entity, left out: %s", name)
	}
	require.InDelta(t, -1.0/7, f3["cutoff_margin_share"], 1e-12)
	require.Equal(t, int64(0), f3["in_validator_set"])
	next := seated(epoch + 1)
	require.True(t, next[v2.EntityID] && !next[v3.EntityID], "the chain elects as predicted: %v", next)
	require.Len(t, next, 3)

	// 15k TEST delegated to validator 3's entity: 85k against 80k.
	net.Delegate("delegator", 3, "15000")
	wait.Value(t, func() (bool, string) {
		f2, f3 = read()
		return f3["elected_next_epoch"] == int64(1), "validator 3's entity predicted in"
	}, time.Minute, 300*time.Millisecond, "the next prediction (a new epoch) sees the delegation")
	h, epoch = predictedAt(f3)
	esc2, esc3 = escrow(v2.EntityID, h), escrow(v3.EntityID, h)
	require.Equal(t, "85000000000000", esc3.String())
	require.Equal(t, int64(0), f2["elected_next_epoch"], "validator 2's entity predicted out")
	require.Equal(t, new(big.Int).Sub(esc2, esc3).String(), f2["cutoff_margin_base_units"])
	require.Equal(t, -5000.0, f2["cutoff_margin_tokens"])
	require.Equal(t, int64(4), f2["escrow_rank"])
	require.Equal(t, 5000.0, f3["cutoff_margin_tokens"])
	require.Equal(t, int64(3), f3["escrow_rank"])
	next = seated(epoch + 1)
	require.True(t, !next[v2.EntityID] && next[v3.EntityID], "the chain elects as predicted: %v", next)
}
