package election

import (
	"math/big"
	"testing"

	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	"github.com/stretchr/testify/require"
)

func addr(i byte) staking.Address {
	var pk signature.PublicKey
	pk[0] = i
	return staking.NewAddress(pk)
}

func cand(i byte, escrow int64) Candidate {
	return Candidate{Address: addr(i), Escrow: big.NewInt(escrow), EligibleNodes: 1, Claims: big.NewInt(20)}
}

func one(p int) Params { return Params{MaxValidators: p, MaxValidatorsPerEntity: 1} }

// The devnet's staked genesis with three seats: 100, 90, 80, 70.
func TestPredictCutoff(t *testing.T) {
	r := Predict([]Candidate{cand(4, 70), cand(2, 90), cand(1, 100), cand(3, 80)}, one(3))
	require.Equal(t, 4, r.Candidates)
	require.Equal(t, 3, r.ElectedEntities)
	require.Equal(t, 3, r.Seats)

	require.Equal(t, Standing{EligibleNodes: 1, Candidate: true, Rank: 1, Elected: true, Seats: 1,
		CutoffEscrow: big.NewInt(70), CutoffKind: CutoffSeats, Margin: big.NewInt(30)}, r.Of(addr(1)))
	last := r.Of(addr(3))
	require.True(t, last.Elected)
	require.Equal(t, 3, last.Rank)
	require.Equal(t, int64(70), last.CutoffEscrow.Int64(), "the best escrow left out")
	require.Equal(t, int64(10), last.Margin.Int64())
	out := r.Of(addr(4))
	require.False(t, out.Elected)
	require.True(t, out.Candidate)
	require.Equal(t, 4, out.Rank)
	require.Equal(t, 0, out.Seats)
	require.Equal(t, int64(80), out.CutoffEscrow.Int64(), "the last seat's escrow")
	require.Equal(t, CutoffSeats, out.CutoffKind)
	require.Equal(t, int64(-10), out.Margin.Int64())
}

// Free seats: the entity's own stake claims are its cutoff.
func TestPredictFreeSeats(t *testing.T) {
	r := Predict([]Candidate{cand(1, 100), cand(2, 90)}, Params{MaxValidators: 100, MaxValidatorsPerEntity: 1})
	s := r.Of(addr(2))
	require.True(t, s.Elected)
	require.Equal(t, 2, s.Rank)
	require.Equal(t, CutoffStakeClaims, s.CutoffKind)
	require.Equal(t, int64(20), s.CutoffEscrow.Int64())
	require.Equal(t, int64(70), s.Margin.Int64())
}

// Claims above the best entity left out bind instead of the seats.
func TestPredictClaimsAboveCompetition(t *testing.T) {
	high := cand(1, 100)
	high.Claims = big.NewInt(95)
	r := Predict([]Candidate{high, cand(2, 30)}, one(1))
	s := r.Of(addr(1))
	require.True(t, s.Elected)
	require.Equal(t, CutoffStakeClaims, s.CutoffKind)
	require.Equal(t, int64(5), s.Margin.Int64())
}

// Entities the scheduler skips: no eligible node, or stake claims unmet
// (whatever the escrow). They take no seat from the others.
func TestPredictNotCandidates(t *testing.T) {
	noNode := cand(1, 1000)
	noNode.EligibleNodes = 0
	claims := cand(2, 500)
	claims.Claims = big.NewInt(600)
	r := Predict([]Candidate{noNode, claims, cand(3, 30), cand(4, 25)}, one(2))
	require.Equal(t, Standing{}, r.Of(addr(1)))
	require.Equal(t, Standing{}, r.Of(addr(9)), "an entity it was not told of")
	require.Equal(t, Standing{EligibleNodes: 1, CutoffEscrow: big.NewInt(600), CutoffKind: CutoffStakeClaims, Margin: big.NewInt(-100)},
		r.Of(addr(2)), "claims unmet: out, short by the difference")
	require.Equal(t, 2, r.Candidates)
	require.True(t, r.Of(addr(4)).Elected)
	require.Equal(t, int64(5), r.Of(addr(4)).Margin.Int64(), "above its claims, the seats free")
}

// A tie across the cutoff is the chain's coin toss: both tied entities are
// ranked in the worse place, so neither is promised the seat.
func TestPredictTieAtCutoff(t *testing.T) {
	r := Predict([]Candidate{cand(1, 100), cand(2, 80), cand(3, 80)}, one(2))
	for _, a := range []staking.Address{addr(2), addr(3)} {
		s := r.Of(a)
		require.Equal(t, 3, s.Rank)
		require.False(t, s.Elected)
		require.Equal(t, int64(0), s.Margin.Int64())
	}
	require.True(t, r.Of(addr(1)).Elected)
	// A tie above the cutoff changes nothing.
	r = Predict([]Candidate{cand(1, 100), cand(2, 100), cand(3, 80)}, one(2))
	require.True(t, r.Of(addr(1)).Elected)
	require.True(t, r.Of(addr(2)).Elected)
	require.Equal(t, 2, r.Of(addr(1)).Rank)
	require.Equal(t, int64(20), r.Of(addr(1)).Margin.Int64())
}

// With several seats per entity (test networks), an entity fills up to
// max_validators_per_entity seats from its eligible nodes, and the seats
// run out part way through an entity.
func TestPredictSeveralSeatsPerEntity(t *testing.T) {
	big3 := cand(1, 100)
	big3.EligibleNodes = 3
	two := cand(2, 90)
	two.EligibleNodes = 2
	r := Predict([]Candidate{big3, two, cand(3, 80)}, Params{MaxValidators: 3, MaxValidatorsPerEntity: 2})
	require.Equal(t, 2, r.Of(addr(1)).Seats)
	require.Equal(t, 1, r.Of(addr(2)).Seats, "the last seat")
	require.True(t, r.Of(addr(2)).Elected)
	require.False(t, r.Of(addr(3)).Elected)
	require.Equal(t, 3, r.Seats)
	require.Equal(t, 2, r.ElectedEntities)
	require.Equal(t, int64(10), r.Of(addr(2)).Margin.Int64())
}
