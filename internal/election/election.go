// Package election predicts the next validator election as oasis-core's
// scheduler runs it at each epoch transition
// (consensus/cometbft/apps/scheduler: elect, electValidators), from the
// registry and staking state a monitor can read now.
//
// The scheduler takes every registered node with the validator role that is
// not frozen and not expired in the new epoch, keeps the entities whose
// escrow covers their stake claims, sorts those entities by active escrow
// (descending; ties broken at random from the beacon), and walks down the
// list giving each entity up to max_validators_per_entity seats until
// max_validators seats are filled. Voting power then follows escrow.
//
// The prediction holds if nothing changes before the transition: a
// delegation, an undelegation, a slash or a registration in between
// changes it, which is why a monitor repeats it during the epoch.
package election

import (
	"bytes"
	"math/big"
	"sort"

	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
)

// Candidate is one entity running validator-role nodes.
type Candidate struct {
	Address staking.Address
	// Escrow is the entity's active escrow balance, in base units.
	Escrow *big.Int
	// EligibleNodes are its validator-role nodes registered through the
	// next epoch and not frozen: the nodes the scheduler may seat.
	EligibleNodes int
	// Claims is the total its stake claims require (the entity's and each
	// registered node's threshold), in base units: the scheduler skips an
	// entity whose escrow is below it, whatever the seats.
	Claims *big.Int
}

// claimsMet is the staking application's CheckStakeClaims: escrow at
// least the claims.
func (c Candidate) claimsMet() bool { return c.Claims == nil || c.Escrow.Cmp(c.Claims) >= 0 }

// Params are the scheduler's consensus parameters the election uses.
type Params struct {
	MaxValidators          int
	MaxValidatorsPerEntity int
}

// What decides an entity's seat.
const (
	// CutoffSeats: the seats are contested; the cutoff is another
	// entity's escrow.
	CutoffSeats = "seats"
	// CutoffStakeClaims: the entity's own stake claims bind (seats are
	// free, or the claims are above the competition).
	CutoffStakeClaims = "stake_claims"
)

// Standing is one entity's place in the predicted election.
type Standing struct {
	// EligibleNodes is the entity's Candidate.EligibleNodes: with none,
	// the entity is not in the election and the rest is zero.
	EligibleNodes int
	// Candidate: the scheduler would consider it (eligible nodes and its
	// stake claims met).
	Candidate bool
	// Rank among the candidates by escrow, 1 = most. An entity tied with
	// others is ranked after them: the chain breaks ties at random, so the
	// worse place is the one to plan for. 0 when not a candidate.
	Rank int
	// Elected: the election would seat at least one of its nodes.
	Elected bool
	// Seats: how many of its nodes it would seat.
	Seats int
	// CutoffEscrow is what the entity's escrow is measured against, in
	// base units, and CutoffKind says whose it is:
	//   - elected: the best escrow among the candidates left out
	//     (CutoffSeats), or its own stake claims if they are higher or no
	//     candidate is left out (CutoffStakeClaims);
	//   - a candidate left out: the last seated entity's escrow (CutoffSeats);
	//   - stake claims unmet: the claims (CutoffStakeClaims).
	CutoffEscrow *big.Int
	CutoffKind   string
	// Margin is the entity's escrow minus CutoffEscrow, in base units:
	// negative when it would not be elected. At a CutoffSeats cutoff, 0 is
	// a tie: the chain's coin toss, counted as not elected.
	Margin *big.Int
}

// Result is the predicted election.
type Result struct {
	// Candidates is the number of candidate entities.
	Candidates int
	// ElectedEntities and Seats: how many entities and nodes it seats.
	ElectedEntities int
	Seats           int
	standings       map[staking.Address]Standing
}

// Of returns an entity's standing; an entity that runs no eligible
// validator node is not a candidate.
func (r *Result) Of(addr staking.Address) Standing {
	return r.standings[addr]
}

// Predict runs the election on the given candidates. Entities without
// eligible nodes or with unmet stake claims are not candidates.
func Predict(all []Candidate, p Params) *Result {
	var cands []Candidate
	for _, c := range all {
		if c.EligibleNodes > 0 && c.claimsMet() {
			cands = append(cands, c)
		}
	}
	// Descending escrow. Ties are the chain's coin toss; ordering them by
	// address here only makes the result deterministic, and tiedAfter below
	// gives every tied entity the worse place.
	sort.Slice(cands, func(i, j int) bool {
		if c := cands[i].Escrow.Cmp(cands[j].Escrow); c != 0 {
			return c > 0
		}
		return bytes.Compare(cands[i].Address[:], cands[j].Address[:]) < 0
	})
	perEntity := p.MaxValidatorsPerEntity
	if perEntity < 1 {
		perEntity = 1
	}
	res := &Result{Candidates: len(cands), standings: map[staking.Address]Standing{}}
	seats := make([]int, len(cands))
	for i, c := range cands {
		if res.Seats >= p.MaxValidators {
			break
		}
		n := min(c.EligibleNodes, perEntity, p.MaxValidators-res.Seats)
		seats[i] = n
		res.Seats += n
		res.ElectedEntities++
	}
	elected := res.ElectedEntities
	for i, c := range cands {
		st := Standing{EligibleNodes: c.EligibleNodes, Candidate: true, Rank: tiedAfter(cands, i), Seats: seats[i]}
		// A tie across the cutoff is a coin toss: the tied entity inside
		// counts as out.
		st.Elected = st.Rank <= elected && seats[i] > 0
		switch {
		case !st.Elected:
			st.CutoffEscrow, st.CutoffKind = cands[elected-1].Escrow, CutoffSeats
		case elected < len(cands) && (c.Claims == nil || cands[elected].Escrow.Cmp(c.Claims) > 0):
			st.CutoffEscrow, st.CutoffKind = cands[elected].Escrow, CutoffSeats
		default:
			st.CutoffEscrow, st.CutoffKind = claimsOrZero(c), CutoffStakeClaims
		}
		st.Margin = new(big.Int).Sub(c.Escrow, st.CutoffEscrow)
		res.standings[c.Address] = st
	}
	for _, c := range all {
		if _, ok := res.standings[c.Address]; ok || c.EligibleNodes == 0 {
			continue
		}
		// Eligible nodes, stake claims unmet: out until the escrow covers them.
		res.standings[c.Address] = Standing{
			EligibleNodes: c.EligibleNodes, CutoffEscrow: claimsOrZero(c), CutoffKind: CutoffStakeClaims,
			Margin: new(big.Int).Sub(c.Escrow, claimsOrZero(c)),
		}
	}
	return res
}

func claimsOrZero(c Candidate) *big.Int {
	if c.Claims == nil {
		return new(big.Int)
	}
	return c.Claims
}

// tiedAfter is the 1-based rank of cands[i] placed after every candidate
// with the same escrow.
func tiedAfter(cands []Candidate, i int) int {
	j := i
	for j+1 < len(cands) && cands[j+1].Escrow.Cmp(cands[i].Escrow) == 0 {
		j++
	}
	return j + 1
}
