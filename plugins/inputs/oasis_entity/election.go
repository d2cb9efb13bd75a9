package oasis_entity

import (
	"context"
	"fmt"
	"math/big"
	"time"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/amount"
	"github.com/oasis-mission-control/oasis-mission-control/internal/election"
)

// defaultElectionInterval: on mainnet (about an hour an epoch) six
// predictions an epoch, the last at most ten minutes before the transition.
const defaultElectionInterval = 10 * time.Minute

// electionView is the last prediction of the next epoch's validator
// election and what it was made from.
type electionView struct {
	result        *election.Result
	thresholds    map[staking.ThresholdKind]quantity.Quantity
	maxValidators int
	height        int64
	epoch         beacon.EpochTime
	at            time.Time
}

// loadElection predicts the next election again at a new epoch, or when
// the last prediction is election_interval old.
func (o *OasisEntity) loadElection(ctx context.Context, height int64, epoch beacon.EpochTime, now time.Time) error {
	if v := o.election; v != nil && v.epoch == epoch && now.Sub(v.at) < time.Duration(o.ElectionInterval) {
		return nil
	}
	v, err := o.predictElection(ctx, height, epoch)
	if err != nil {
		// A prediction from an earlier epoch would be about an election
		// that has happened: drop it rather than report it.
		if o.election != nil && o.election.epoch != epoch {
			o.election = nil
		}
		return err
	}
	v.at = now
	o.election = v
	return nil
}

// predictElection reads what the scheduler reads at the transition to
// epoch+1 (see package election) at height.
func (o *OasisEntity) predictElection(ctx context.Context, height int64, epoch beacon.EpochTime) (*electionView, error) {
	sched, err := o.client.SchedulerParameters(ctx, height)
	if err != nil {
		return nil, err
	}
	stake, err := o.client.StakingParameters(ctx, height)
	if err != nil {
		return nil, err
	}
	nodes, err := o.client.Nodes(ctx, height)
	if err != nil {
		return nil, err
	}
	eligible := map[staking.Address]int{}
	for _, n := range nodes {
		// The scheduler drops frozen nodes and nodes expired in the new
		// epoch, then keeps the validator-role ones.
		if !n.HasRoles(node.RoleValidator) || n.IsExpired(epoch+1) {
			continue
		}
		st, err := o.client.RegistryNodeStatus(ctx, n.ID, height)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.ID, err)
		}
		if st.IsFrozen() {
			continue
		}
		eligible[staking.NewAddress(n.EntityID)]++
	}
	cands := make([]election.Candidate, 0, len(eligible))
	for addr, count := range eligible {
		acct, err := o.client.Account(ctx, addr, height)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", addr, err)
		}
		claims, err := acct.Escrow.StakeAccumulator.TotalClaims(stake.Thresholds, nil)
		if err != nil {
			return nil, fmt.Errorf("stake claims of %s: %w", addr, err)
		}
		cands = append(cands, election.Candidate{
			Address: addr, Escrow: acct.Escrow.Active.Balance.ToBigInt(), EligibleNodes: count, Claims: claims.ToBigInt(),
		})
	}
	return &electionView{
		result: election.Predict(cands, election.Params{
			MaxValidators: sched.MaxValidators, MaxValidatorsPerEntity: sched.MaxValidatorsPerEntity,
		}),
		thresholds:    stake.Thresholds,
		maxValidators: sched.MaxValidators,
		height:        height,
		epoch:         epoch,
	}, nil
}

// addElectionFields adds the entity's standing in the predicted election.
func (o *OasisEntity) addElectionFields(fields map[string]any, addr staking.Address) {
	v := o.election
	if v == nil {
		return
	}
	st := v.result.Of(addr)
	fields["max_validators"] = int64(v.maxValidators)
	fields["election_height"] = v.height
	fields["election_candidates"] = int64(v.result.Candidates)
	fields["validator_nodes_eligible"] = int64(st.EligibleNodes)
	fields["election_candidate"] = boolInt(st.Candidate)
	fields["elected_next_epoch"] = boolInt(st.Elected)
	if st.Candidate {
		fields["escrow_rank"] = int64(st.Rank)
	}
	if st.EligibleNodes == 0 {
		// Not in the election at all: no node to seat. The registration
		// alerts say why; a margin would mean nothing.
		return
	}
	// The escrow the prediction used: the margin is against it, not the
	// (newer) escrow_active_balance of this gather.
	escrow := new(big.Int).Add(st.CutoffEscrow, st.Margin)
	fields["election_escrow_base_units"] = escrow.String()
	fields["election_escrow_tokens"] = amount.Tokens(escrow, o.exponent)
	fields["cutoff_kind"] = st.CutoffKind
	fields["cutoff_escrow_base_units"] = st.CutoffEscrow.String()
	fields["cutoff_escrow_tokens"] = amount.Tokens(st.CutoffEscrow, o.exponent)
	fields["cutoff_margin_base_units"] = st.Margin.String()
	fields["cutoff_margin_tokens"] = amount.Tokens(st.Margin, o.exponent)
	fields["cutoff_margin_share"] = marginShare(st.Margin, st.CutoffEscrow)
}

// marginShare is the margin over the entity's own escrow: the share of its
// stake that could leave (or, negative, that it lacks) before the seat
// changes hands. With no escrow at all: 0 at the cutoff, -1 below it.
func marginShare(margin, cutoff *big.Int) float64 {
	escrow := new(big.Int).Add(margin, cutoff)
	if escrow.Sign() == 0 {
		if margin.Sign() < 0 {
			return -1
		}
		return 0
	}
	f, _ := new(big.Rat).SetFrac(margin, escrow).Float64()
	return f
}
