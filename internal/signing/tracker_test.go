package signing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
)

var (
	us    = blockmeta.Address{1}
	other = blockmeta.Address{2}
)

func height(h int64, inSet, signed bool, proposer blockmeta.Address) Height {
	set := map[blockmeta.Address]struct{}{other: {}}
	if inSet {
		set[us] = struct{}{}
	}
	return Height{
		Height:   h,
		Set:      set,
		Signers:  func(a blockmeta.Address) bool { return a == other || (a == us && signed) },
		Proposer: proposer,
	}
}

func TestAccounting(t *testing.T) {
	tr := NewTracker()
	tr.Track(us)
	steps := []Height{
		height(10, true, true, us),      // signed, proposed
		height(11, true, false, other),  // missed
		height(12, true, false, other),  // missed
		height(13, false, false, other), // not in set: neither
		height(14, true, true, other),   // signed
		height(15, true, false, us),     // missed but proposed
	}
	for _, h := range steps {
		_, err := tr.Apply(h, false)
		require.NoError(t, err)
	}
	a := tr.Accounts[us]
	require.Equal(t, uint64(2), a.SignedTotal)
	require.Equal(t, uint64(3), a.MissedTotal)
	require.Equal(t, uint64(2), a.ProposedTotal)
	require.Equal(t, uint64(1), a.ConsecutiveMissed)
	require.Equal(t, int64(14), a.LastSignedHeight)
	require.True(t, a.InValidatorSet)
	share, n, ok := a.Uptime(100)
	require.True(t, ok)
	require.Equal(t, 5, n, "the height out of the set does not count")
	require.InDelta(t, 0.4, share, 1e-9)
	share, n, ok = a.Uptime(2) // heights 14 and 15
	require.True(t, ok)
	require.Equal(t, 2, n)
	require.InDelta(t, 0.5, share, 1e-9)
	require.NotContains(t, tr.Accounts, other, "only tracked validators are accounted")

	_, err := tr.Apply(height(17, true, true, us), false)
	require.ErrorContains(t, err, "height 17 applied after 15")
	_, err = tr.Apply(height(15, true, true, us), false)
	require.Error(t, err, "a height is never applied twice")
}

func TestUnobservedMissesCountButAreSetApart(t *testing.T) {
	tr := NewTracker()
	tr.Track(us)
	apply := func(h Height, unobserved bool) {
		h.Unobserved = unobserved
		_, err := tr.Apply(h, false)
		require.NoError(t, err)
	}
	apply(height(1, true, true, other), false)
	apply(height(2, true, false, other), false) // missed, seen live
	apply(height(3, true, false, other), true)  // missed while nothing followed
	apply(height(4, true, true, other), true)   // signed while nothing followed
	apply(height(5, true, false, other), true)
	apply(height(6, true, false, other), false)
	a := tr.Accounts[us]
	require.Equal(t, uint64(4), a.MissedTotal, "unobserved misses are misses")
	require.Equal(t, uint64(2), a.MissedUnobservedTotal)
	require.Equal(t, uint64(2), a.ConsecutiveMissed, "5 and 6")
	require.Equal(t, uint64(1), a.ConsecutiveMissedObserved, "6 only")
	share, n, ok := a.Uptime(100)
	require.True(t, ok)
	require.Equal(t, 6, n)
	require.InDelta(t, 2.0/6, share, 1e-9)
	share, n, ok = a.UptimeObserved(100)
	require.True(t, ok)
	require.Equal(t, 4, n, "heights 1, 2, 4, 6")
	require.InDelta(t, 2.0/4, share, 1e-9)

	// Persisted and resumed, the history keeps the difference.
	b, err := json.Marshal(tr)
	require.NoError(t, err)
	var back Tracker
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	share, _, _ = back.Accounts[us].UptimeObserved(100)
	require.InDelta(t, 2.0/4, share, 1e-9)
	back.Accounts[us].MissedUnobservedTotal = 9
	require.ErrorContains(t, back.Validate(), "observed counts exceed")
}

func TestAllValidatorsAndLeavingTheSet(t *testing.T) {
	tr := NewTracker()
	_, err := tr.Apply(height(1, true, true, other), true)
	require.NoError(t, err)
	require.Contains(t, tr.Accounts, us)
	require.Contains(t, tr.Accounts, other)
	_, err = tr.Apply(height(2, false, false, other), true)
	require.NoError(t, err)
	require.False(t, tr.Accounts[us].InValidatorSet)
	_, err = tr.Apply(height(3, true, true, other), true)
	require.NoError(t, err)
	require.True(t, tr.Accounts[us].InValidatorSet)
	require.Equal(t, uint64(2), tr.Accounts[us].SignedTotal)
	require.Equal(t, uint64(0), tr.Accounts[us].MissedTotal)
}

func TestWindowWrapsAndSurvivesJSON(t *testing.T) {
	tr := NewTracker()
	tr.Track(us)
	for h := int64(1); h <= 12_000; h++ {
		_, err := tr.Apply(height(h, true, h > 11_000, other), false) // the last 1,000 signed
		require.NoError(t, err)
	}
	raw, err := json.Marshal(tr)
	require.NoError(t, err)
	var back Tracker
	require.NoError(t, json.Unmarshal(raw, &back))
	a := back.Accounts[us]
	for _, c := range []struct {
		window int
		want   float64
	}{{100, 1}, {1_000, 1}, {10_000, 0.1}} {
		share, n, ok := a.Uptime(c.window)
		require.True(t, ok)
		require.Equal(t, c.window, n)
		require.InDelta(t, c.want, share, 1e-9, "window %d", c.window)
	}
	require.Equal(t, int64(12_000), back.LastHeight)
	require.Equal(t, uint64(11_000), a.MissedTotal)
}

func TestSkip(t *testing.T) {
	tr := NewTracker()
	tr.Skip(100) // a fresh tracker starts here: nothing skipped
	require.Equal(t, uint64(0), tr.SkippedHeights)
	tr.Skip(150)
	require.Equal(t, uint64(50), tr.SkippedHeights)
	require.Equal(t, int64(150), tr.LastHeight)
}

// The per-epoch count is the staking application's: every height of the
// epoch counts, signed or not, in the set or not; a new epoch starts a new
// count; the outlook tells whether the threshold share can still be
// reached, counting heights not accounted as possibly signed; and it all
// survives the state file.
func TestEpochCountsAndOutlook(t *testing.T) {
	epoch := func(n uint64, start int64) EpochInfo { return EpochInfo{Epoch: n, Start: start, Length: 8} }
	tr := NewTracker()
	tr.Track(us)
	withEpoch := func(h Height, e EpochInfo) Height { h.Epoch = e; return h }

	// The monitor starts at height 12 of epoch 3 (heights 10..17).
	_, ok := tr.Outlook(tr.Accounts[us], 3, 4)
	require.False(t, ok, "no epoch known yet")
	steps := []struct {
		h      int64
		inSet  bool
		signed bool
	}{{12, true, true}, {13, true, false}, {14, false, false}, {15, true, true}}
	for _, s := range steps {
		_, err := tr.Apply(withEpoch(height(s.h, s.inSet, s.signed, other), epoch(3, 10)), false)
		require.NoError(t, err)
	}
	o, ok := tr.Outlook(tr.Accounts[us], 3, 4)
	require.True(t, ok)
	// Heights 12..15 accounted (2 signed), 10..11 unknown, 16..17 left.
	require.Equal(t, EpochOutlook{Epoch: 3, Length: 8, Heights: 4, Signed: 2, Unknown: 2, Left: 2, BestSigned: 6,
		Reachable: true, BestShare: 0.75, NotInSet: 1, ReachableObserved: true, BestShareObserved: 0.875, ThresholdNum: 3, ThresholdDen: 4}, o)

	// One more miss: 5 of 8 at best, below 3/4 (6 of 8).
	_, err := tr.Apply(withEpoch(height(16, true, false, other), epoch(3, 10)), false)
	require.NoError(t, err)
	o, _ = tr.Outlook(tr.Accounts[us], 3, 4)
	require.False(t, o.Reachable)
	require.Equal(t, int64(5), o.BestSigned)
	require.True(t, func() bool { o, _ := tr.Outlook(tr.Accounts[us], 1, 2); return o.Reachable }(), "5 of 8 reaches 1/2")

	// The state file keeps it.
	raw, err := json.Marshal(tr)
	require.NoError(t, err)
	var again Tracker
	require.NoError(t, json.Unmarshal(raw, &again))
	require.NoError(t, again.Validate())
	resumed, _ := again.Outlook(again.Accounts[us], 3, 4)
	require.Equal(t, o, resumed)

	// Epoch 4 starts afresh at its first height.
	_, err = again.Apply(withEpoch(height(17, true, true, other), epoch(3, 10)), false)
	require.NoError(t, err)
	_, err = again.Apply(withEpoch(height(18, true, true, other), epoch(4, 18)), false)
	require.NoError(t, err)
	o, _ = again.Outlook(again.Accounts[us], 3, 4)
	require.Equal(t, EpochOutlook{Epoch: 4, Length: 8, Heights: 1, Signed: 1, Left: 7, BestSigned: 8,
		Reachable: true, BestShare: 1, ReachableObserved: true, BestShareObserved: 1, ThresholdNum: 3, ThresholdDen: 4}, o)

	// A height whose epoch is not known is not counted: it is unknown.
	_, err = again.Apply(height(19, true, true, other), false)
	require.NoError(t, err)
	o, _ = again.Outlook(again.Accounts[us], 3, 4)
	require.Equal(t, int64(1), o.Heights)
	require.Equal(t, int64(1), o.Unknown)
	require.Equal(t, int64(6), o.Left)

	// Misses while nothing followed the node count as not signed, and the
	// observed outlook leaves them out.
	for h := int64(20); h <= 22; h++ {
		step := height(h, true, false, other)
		step.Unobserved = true
		_, err = again.Apply(withEpoch(step, epoch(4, 18)), false)
		require.NoError(t, err)
	}
	o, _ = again.Outlook(again.Accounts[us], 3, 4)
	require.Equal(t, int64(5), o.BestSigned, "18 signed, 19 unknown, 23..25 left")
	require.False(t, o.Reachable)
	require.Equal(t, int64(3), o.Unobserved)
	require.True(t, o.ReachableObserved)
	require.InDelta(t, 1.0, o.BestShareObserved, 1e-9)

	// Past the epoch's end with the next epoch's bounds unknown: an epoch
	// of unknown heights, never a lost reward kept on.
	for h := int64(23); h <= 27; h++ {
		_, err = again.Apply(height(h, true, false, other), false)
		require.NoError(t, err)
	}
	o, ok = again.Outlook(again.Accounts[us], 3, 4)
	require.True(t, ok)
	require.Equal(t, uint64(5), o.Epoch)
	require.Equal(t, int64(2), o.Unknown, "26 and 27")
	require.True(t, o.Reachable)
	require.True(t, o.ReachableObserved)

	// A count that can't be (more signed than heights) is refused on resume.
	again.Accounts[us].Epoch.Signed = 5 // of 4 heights, 3 of them unobserved misses
	require.ErrorContains(t, again.Validate(), "more than the epoch holds")
}

// A nil vote is a miss for the uptime accounts but a vote for the epoch's
// signing reward count (the staking application counts every vote that is
// not absent).
func TestNilVoteCountsForTheEpochReward(t *testing.T) {
	tr := NewTracker()
	tr.Track(us)
	h := height(10, true, false, other)
	h.Voters = func(a blockmeta.Address) bool { return true } // our vote was nil
	h.Epoch = EpochInfo{Epoch: 1, Start: 10, Length: 10}
	_, err := tr.Apply(h, false)
	require.NoError(t, err)
	require.Equal(t, uint64(1), tr.Accounts[us].MissedTotal, "not signed for the uptime")
	require.Equal(t, uint64(1), tr.Accounts[us].Epoch.Signed, "a vote for the reward")
}
