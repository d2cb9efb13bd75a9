package devnettest

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

var ctx = context.Background()

func latestHeight(t *testing.T, c *nodeclient.Client) int64 {
	t.Helper()
	st, err := c.NodeStatus(ctx)
	require.NoError(t, err)
	return st.Consensus.LatestHeight
}

func decodeBlock(t *testing.T, c *nodeclient.Client, height int64) *blockmeta.Block {
	t.Helper()
	b, err := c.Block(ctx, height)
	require.NoError(t, err)
	d, err := blockmeta.Decode(b)
	require.NoError(t, err)
	return d
}

func consensusAddress(t *testing.T, v Validator) blockmeta.Address {
	t.Helper()
	var pk signature.PublicKey
	require.NoError(t, pk.UnmarshalText([]byte(v.ConsensusKey)))
	a := blockmeta.AddressOf(pk)
	require.Equal(t, v.ConsensusAddress, a.String(), "our address derivation matches the chain's")
	return a
}

// Four validators make blocks at the configured pace; with validator 3
// stopped the chain goes on without its signature, and once restarted it
// signs again. Nothing is left behind.
func TestFourValidatorsStopAndRestart(t *testing.T) {
	const interval = time.Second
	net := Start(t, Options{Validators: 4, BlockInterval: interval, EpochBlocks: 30})
	c := net.Client(0)
	addr3 := consensusAddress(t, net.Validators[3])

	// Pace: about one block per interval (CometBFT adds a little per round).
	h0, t0 := latestHeight(t, c), time.Now()
	h1 := net.WaitForHeight(0, h0+10, 30*interval)
	t1 := time.Now()
	perBlock := t1.Sub(t0) / time.Duration(h1-h0)
	t.Logf("%d blocks in %s: %s per block", h1-h0, t1.Sub(t0).Round(time.Millisecond), perBlock.Round(time.Millisecond))
	require.InDelta(t, interval.Seconds(), perBlock.Seconds(), 0.5*interval.Seconds())

	// Every validator signed a recent block.
	b := decodeBlock(t, c, h1)
	require.Equal(t, 4, b.Signers())
	require.True(t, b.Signed(addr3))

	pids := net.pids()
	net.StopValidator(3)
	stoppedAt := latestHeight(t, c)
	after := net.WaitForHeight(0, stoppedAt+5, 30*time.Second)
	// Heights whose last commit was made after the stop lack validator 3.
	for h := stoppedAt + 2; h <= after; h++ {
		b := decodeBlock(t, c, h)
		require.False(t, b.Signed(addr3), "height %d: validator 3 is stopped but signed height %d", h, b.LastCommitHeight)
		require.Equal(t, 3, b.Signers(), "height %d", h)
	}

	net.StartValidator(3)
	restartedAt := latestHeight(t, c)
	wait.Until(t, func() bool {
		h := latestHeight(t, c)
		return h > restartedAt && decodeBlock(t, c, h).Signed(addr3)
	}, 60*time.Second, 500*time.Millisecond, "validator 3 signs again after restart")

	net.StopAll()
	for _, pid := range pids {
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "validator process %d is gone", pid)
	}
	for _, v := range net.Validators {
		_, err := os.Stat(v.Socket)
		require.True(t, os.IsNotExist(err), "socket %s removed by a clean shutdown", v.Socket)
	}
}

// Delegation changes escrow by exactly the delegated amount; a proposal
// becomes active and records our vote.
func TestDelegationAndGovernanceScenarios(t *testing.T) {
	net := Start(t, Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	c := net.Client(0)
	var entity1 staking.Address
	require.NoError(t, entity1.UnmarshalText([]byte(net.Validators[1].EntityAddress)))

	before, err := c.Account(ctx, entity1, consensus.HeightLatest)
	require.NoError(t, err)
	net.Delegate("delegator", 1, "1234.5")
	after, err := c.Account(ctx, entity1, consensus.HeightLatest)
	require.NoError(t, err)
	delta := after.Escrow.Active.Balance.Clone()
	require.NoError(t, delta.Sub(&before.Escrow.Active.Balance))
	require.Equal(t, quantity.NewFromUint64(1_234_500_000_000), delta, "escrow grew by 1234.5 TEST in base units")

	net.Undelegate("delegator", 1)
	undelegated, err := c.Account(ctx, entity1, consensus.HeightLatest)
	require.NoError(t, err)
	require.Equal(t, before.Escrow.Active.Balance, undelegated.Escrow.Active.Balance, "undelegating all shares returns escrow")
	require.True(t, undelegated.Escrow.Debonding.Balance.Cmp(&before.Escrow.Debonding.Balance) > 0, "the stake is debonding")

	var entity2 staking.Address
	require.NoError(t, entity2.UnmarshalText([]byte(net.Validators[2].EntityAddress)))
	before2, err := c.Account(ctx, entity2, consensus.HeightLatest)
	require.NoError(t, err)
	net.Transfer("delegator", "entity-2", "5")
	after2, err := c.Account(ctx, entity2, consensus.HeightLatest)
	require.NoError(t, err)
	gained := after2.General.Balance.Clone()
	require.NoError(t, gained.Sub(&before2.General.Balance))
	require.Equal(t, quantity.NewFromUint64(5_000_000_000), gained, "transfer of 5 TEST arrived")

	id := net.ProposeUpgrade(0)
	active, err := c.ActiveProposals(ctx, consensus.HeightLatest)
	require.NoError(t, err)
	var found *governance.Proposal
	for _, p := range active {
		if p.ID == id {
			found = p
		}
	}
	require.NotNil(t, found, "proposal %d is active", id)
	require.Equal(t, governance.StateActive, found.State)
	require.NotNil(t, found.Content.Upgrade)

	net.Vote(2, id, "no")
	votes, err := c.Votes(ctx, id, consensus.HeightLatest)
	require.NoError(t, err)
	require.Len(t, votes, 1)
	require.True(t, votes[0].Voter.Equal(entity2))
	require.Equal(t, governance.VoteNo, votes[0].Vote)
}

// A validator kept offline loses its registration: the epoch passes the
// expiration of the descriptor it registered last.
func TestLapseRegistration(t *testing.T) {
	net := Start(t, Options{Validators: 4, BlockInterval: 200 * time.Millisecond, EpochBlocks: 10})
	expiration := net.LapseRegistration(3, 3*time.Minute)
	st, err := net.Client(0).NodeStatus(ctx)
	require.NoError(t, err)
	require.Greater(t, uint64(st.Consensus.LatestEpoch), expiration)
}
