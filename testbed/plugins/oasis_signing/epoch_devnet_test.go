package oasis_signing_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/beacon/api"
)

// On a devnet of 20-height epochs, validator 3 stops (killed) early in an epoch
// the plugin followed from its first height: before that epoch ends, the
// plugin says its signing reward can no longer be reached (3/4 of the
// epoch: more than 5 heights missed), counting the misses seen live; and
// the epoch's figures then equal a count from every block's commit.
func TestEpochRewardLostWithinTheEpoch(t *testing.T) {
	net, bin, config := validator3Monitored(t)
	c := net.Client(0)
	target := net.Validators[3]
	p := startPluginProcess(t, bin, config)

	// An epoch the plugin follows from its first height, caught early.
	startEpoch := int64(-1)
	deadline := time.Now().Add(time.Minute)
	for startEpoch < 0 {
		require.True(t, time.Now().Before(deadline), "no summary with an epoch")
		_, first := p.summary(t, 1, target.ConsensusAddress)
		if e, ok := first.Fields()["epoch"].(int64); ok {
			startEpoch = e
		}
	}
	var epoch int64
	deadline = time.Now().Add(2 * time.Minute)
	for {
		require.True(t, time.Now().Before(deadline), "no early look at an epoch after %d", startEpoch)
		st, s := p.summary(t, 1, target.ConsensusAddress)
		f := s.Fields()
		if e, _ := f["epoch"].(int64); e > startEpoch && f["epoch_heights"].(int64) <= 4 {
			require.Equal(t, int64(0), f["epoch_heights_unknown"], "followed from its first height")
			require.Equal(t, int64(20), f["epoch_length"])
			require.InDelta(t, 0.75, f["epoch_reward_threshold"], 1e-9, "the devnet's staking parameters")
			epoch = e
			t.Logf("epoch %d, height %d: stopping validator 3", epoch, st.Fields()["last_height"])
			break
		}
	}
	net.KillValidator(3) // as a crash would

	// Lost before the epoch ends: a summary of that epoch with heights
	// still to come and the reward out of reach.
	var lost map[string]any
	var lastHeight int64
	deadline = time.Now().Add(2 * time.Minute)
	for lost == nil {
		require.True(t, time.Now().Before(deadline), "epoch %d's reward never shown lost", epoch)
		st, s := p.summary(t, 1, target.ConsensusAddress)
		f := s.Fields()
		require.LessOrEqual(t, f["epoch"].(int64), epoch, "epoch %d ended before its reward was shown lost", epoch)
		if f["epoch_reward_reachable_observed"] == int64(0) {
			require.Positive(t, f["epoch_heights_left"].(int64), "shown lost within the epoch, not at its end")
			require.Equal(t, int64(0), f["epoch_reward_reachable"])
			lost, lastHeight = f, st.Fields()["last_height"].(int64)
		}
	}
	t.Logf("epoch %d lost at height %d: %d signed of %d, %d left, best %.2f", epoch, lastHeight,
		lost["epoch_signed"], lost["epoch_heights"], lost["epoch_heights_left"], lost["epoch_best_signed_share"])

	// The figures equal a count from every block's commit, from the
	// epoch's first height (the node's beacon) to the last one accounted.
	start, err := c.EpochStart(context.Background(), api.EpochTime(epoch))
	require.NoError(t, err)
	want := groundTruth(t, c, addrBytes(t, target.ConsensusAddress), start, lastHeight)
	require.Equal(t, lastHeight-start+1, lost["epoch_heights"], "epoch_heights")
	require.Equal(t, want.voted, lost["epoch_signed"], "epoch_signed: its votes, for the block or nil")
	require.Equal(t, lastHeight-start+1-want.voted, lost["epoch_not_signed"], "epoch_not_signed")
	require.Equal(t, int64(0), lost["epoch_not_in_set"], "in the set throughout")
	require.Equal(t, start+20-1-lastHeight, lost["epoch_heights_left"], "epoch_heights_left")
	require.Less(t, (want.voted+lost["epoch_heights_left"].(int64))*4, int64(20*3), "the count itself says the threshold is out of reach")
}
