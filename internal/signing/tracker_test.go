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
