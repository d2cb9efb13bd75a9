// Package oasis_entity is a Telegraf input that reports what an Oasis
// validator operator loses money over besides signing: the entity's
// balances and escrow, delegators, commission schedule, standing in the
// validator set, and each of its nodes' registration and freeze status.
package oasis_entity

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"
	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/amount"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/oasisid"
)

//go:embed sample.conf
var sampleConfig string

const (
	// EntityMeasurement holds one point per entity.
	EntityMeasurement = "oasis_entity"
	// NodeMeasurement holds one point per node of each entity.
	NodeMeasurement = "oasis_entity_node"
)

// OasisEntity is the plugin and its configuration.
type OasisEntity struct {
	nodeclient.Config
	EntityIDs []string `toml:"entity_ids"`
	// ElectionInterval: how often the next validator election is predicted
	// again within an epoch (it is at each new epoch too). Escrow moves
	// with every delegation, so once an epoch is not enough to warn in
	// time; each prediction reads every validator node's status and each
	// candidate entity's account (about 250 calls on mainnet).
	ElectionInterval config.Duration `toml:"election_interval"`
	Log              telegraf.Logger `toml:"-"`

	client    *nodeclient.Client
	entityIDs []signature.PublicKey

	// Cached: the token never changes.
	symbol    string
	exponent  uint8
	haveToken bool
	// The last predicted election and when it was made.
	election *electionView
	// lastExpiration is each node's expiration epoch as last seen in the
	// registry, for nodes whose expired descriptor the registry dropped.
	lastExpiration map[signature.PublicKey]beacon.EpochTime
	now            func() time.Time
}

func (*OasisEntity) SampleConfig() string { return sampleConfig }

// Init validates the settings; it does not contact the node.
func (o *OasisEntity) Init() error {
	for _, id := range o.EntityIDs {
		pk, err := oasisid.Parse("entity_ids", id)
		if err != nil {
			return err
		}
		o.entityIDs = append(o.entityIDs, pk)
	}
	client, err := nodeclient.New(o.Config)
	if err != nil {
		return err
	}
	o.client = client
	o.lastExpiration = map[signature.PublicKey]beacon.EpochTime{}
	switch {
	case o.ElectionInterval == 0:
		o.ElectionInterval = config.Duration(defaultElectionInterval)
	case o.ElectionInterval < config.Duration(time.Minute):
		return fmt.Errorf("election_interval %s: at least 1m, e.g. election_interval = \"10m\" (each prediction reads every validator node and candidate account)",
			time.Duration(o.ElectionInterval))
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

// Stop closes the connection.
func (o *OasisEntity) Stop() {
	if o.client != nil {
		_ = o.client.Close()
	}
}

// Gather reads every configured entity at one height.
func (o *OasisEntity) Gather(acc telegraf.Accumulator) error {
	ctx := context.Background()
	now := o.now()
	// The input's own point, as every input of ours writes one.
	status := inputstatus.Begin("oasis_entity", o.Address)
	defer func() { status.Add(acc, nil, now) }()
	st, err := o.client.NodeStatus(ctx)
	if err != nil || st.Consensus == nil || st.Consensus.LatestHeight == 0 {
		if err == nil {
			err = errors.New("the node has no committed block yet")
		}
		acc.AddError(fmt.Errorf("reading node status: %w", err))
		o.addDown(acc, now, nodeclient.Reason(status.Fail(err)))
		return nil
	}
	height, epoch := st.Consensus.LatestHeight, st.Consensus.LatestEpoch

	ids := o.entityIDs
	if len(ids) == 0 {
		id, err := o.client.OwnEntity(ctx, st)
		if err != nil {
			acc.AddError(fmt.Errorf("finding the node's entity: %w", err))
			o.addDown(acc, now, nodeclient.Reason(status.Fail(err)))
			return nil
		}
		ids = []signature.PublicKey{id}
	}
	if err := o.loadToken(ctx); err != nil {
		acc.AddError(fmt.Errorf("reading the token: %w", err))
		o.addDown(acc, now, nodeclient.Reason(status.Fail(err)))
		return nil
	}
	vals, err := o.client.Validators(ctx, height)
	if err != nil {
		acc.AddError(fmt.Errorf("reading the validator set at height %d: %w", height, err))
		o.addDown(acc, now, nodeclient.Reason(status.Fail(err)))
		return nil
	}
	if err := o.loadElection(ctx, height, epoch, now); err != nil {
		acc.AddError(fmt.Errorf("predicting the next validator election: %w", status.Fail(err)))
	}
	for _, id := range ids {
		o.gatherEntity(ctx, acc, status, id, vals, height, epoch, now)
	}
	return nil
}

func (o *OasisEntity) addDown(acc telegraf.Accumulator, now time.Time, reason string) {
	for _, id := range o.entityIDs {
		acc.AddFields(EntityMeasurement, map[string]any{"up": int64(0), "down_reason": reason}, map[string]string{"entity_id": id.String()}, now)
	}
	if len(o.entityIDs) == 0 {
		acc.AddFields(EntityMeasurement, map[string]any{"up": int64(0), "down_reason": reason}, map[string]string{}, now)
	}
}

func (o *OasisEntity) loadToken(ctx context.Context) error {
	if o.haveToken {
		return nil
	}
	symbol, exponent, err := o.client.Token(ctx)
	if err != nil {
		return err
	}
	o.symbol, o.exponent, o.haveToken = symbol, exponent, true
	return nil
}

func (o *OasisEntity) gatherEntity(ctx context.Context, acc telegraf.Accumulator, status *inputstatus.Gather, id signature.PublicKey, vals []*scheduler.Validator, height int64, epoch beacon.EpochTime, now time.Time) {
	addr := staking.NewAddress(id)
	tags := map[string]string{"entity_id": id.String(), "entity_address": addr.String(), "token": o.symbol}
	fields := map[string]any{"up": int64(1)}
	fail := func(what string, err error) {
		acc.AddError(fmt.Errorf("%s of entity %s: %w", what, id, status.Fail(err)))
		fields["up"] = int64(0)
	}

	if acct, err := o.client.Account(ctx, addr, height); err != nil {
		fail("reading the account", err)
	} else {
		esc := &acct.Escrow
		amount.AddFields(fields, "general_balance", &acct.General.Balance, o.exponent)
		amount.AddFields(fields, "escrow_active_balance", &esc.Active.Balance, o.exponent)
		if o.election != nil {
			if claims, err := esc.StakeAccumulator.TotalClaims(o.election.thresholds, nil); err != nil {
				fail("adding up the stake claims", err)
			} else {
				amount.AddFields(fields, "stake_claims", claims, o.exponent)
			}
		}
		fields["escrow_active_shares"] = esc.Active.TotalShares.String()
		if price, ok := sharePrice(&esc.Active.Balance, &esc.Active.TotalShares); ok {
			fields["escrow_active_share_price"] = price
		}
		amount.AddFields(fields, "escrow_debonding_balance", &esc.Debonding.Balance, o.exponent)
		fields["commission_rate"] = rate(esc.CommissionSchedule.CurrentRate(epoch))
		if next := nextRate(&esc.CommissionSchedule, epoch); next != nil {
			fields["commission_next_rate"] = rate(&next.Rate)
			fields["commission_next_epoch"] = int64(next.Start)
			fields["commission_next_epochs_left"] = int64(next.Start) - int64(epoch)
		}
		if dels, err := o.client.DelegationsTo(ctx, addr, height); err != nil {
			fail("reading delegations", err)
		} else {
			fields["delegators"] = int64(len(dels))
			self := quantity.NewQuantity()
			if d, ok := dels[addr]; ok {
				if self, err = esc.Active.StakeForShares(&d.Shares); err != nil {
					fail("valuing the self-delegation", err)
					self = nil
				}
			}
			if self != nil {
				amount.AddFields(fields, "self_delegation_balance", self, o.exponent)
			}
		}
	}

	var total, ours int64
	powerOf := map[signature.PublicKey]int64{}
	for _, v := range vals {
		total += v.VotingPower
		if v.EntityID.Equal(id) {
			ours += v.VotingPower
			powerOf[v.ID] = v.VotingPower
		}
	}
	fields["in_validator_set"] = boolInt(len(powerOf) > 0)
	fields["voting_power"] = ours
	if total > 0 {
		fields["voting_power_share"] = float64(ours) / float64(total)
	}
	fields["validators"] = int64(len(vals))
	o.addElectionFields(fields, addr)

	ent, err := o.client.Entity(ctx, id, height)
	if err != nil {
		fail("reading the registry entry", err)
	} else {
		fields["nodes"] = int64(len(ent.Nodes))
		for _, nid := range ent.Nodes {
			if err := o.gatherNode(ctx, acc, id, nid, powerOf, height, epoch, now); err != nil {
				fail("reading node "+nid.String(), err)
			}
		}
	}
	acc.AddFields(EntityMeasurement, fields, tags, now)
}

func (o *OasisEntity) gatherNode(ctx context.Context, acc telegraf.Accumulator, entityID, id signature.PublicKey, powerOf map[signature.PublicKey]int64, height int64, epoch beacon.EpochTime, now time.Time) error {
	tags := map[string]string{"entity_id": entityID.String(), "node_id": id.String()}
	power, inSet := powerOf[id]
	fields := map[string]any{"in_validator_set": boolInt(inSet), "voting_power": power}
	n, err := o.client.Node(ctx, id, height)
	switch {
	case errors.Is(err, registry.ErrNoSuchNode):
		// Listed by the entity but not (or no longer) in the registry. The
		// registry drops a descriptor once it has expired: if this process
		// saw it, keep saying when it expired.
		fields["registered"] = int64(0)
		if exp, ok := o.lastExpiration[id]; ok {
			fields["registration_expiration_epoch"] = int64(exp)
			fields["registration_epochs_left"] = int64(exp) - int64(epoch)
			fields["expired"] = boolInt(exp < epoch)
		}
		acc.AddFields(NodeMeasurement, fields, tags, now)
		return nil
	case err != nil:
		return err
	}
	ns, err := o.client.RegistryNodeStatus(ctx, id, height)
	if err != nil {
		return err
	}
	o.lastExpiration[id] = n.Expiration
	fields["registered"] = int64(1)
	fields["roles"] = n.Roles.String()
	fields["registration_expiration_epoch"] = int64(n.Expiration)
	fields["registration_epochs_left"] = int64(n.Expiration) - int64(epoch)
	fields["expired"] = boolInt(n.IsExpired(epoch))
	fields["frozen"] = boolInt(ns.IsFrozen())
	fields["freeze_end_epoch"] = int64(ns.FreezeEndTime)
	// The validator set for the next epoch is elected from validator-role
	// nodes that are registered through it and not frozen (then by escrow
	// rank). The registry's ElectionEligibleAfter is for runtime committees.
	fields["validator_eligible_next_epoch"] = boolInt(n.HasRoles(node.RoleValidator) && !n.IsExpired(epoch+1) && !ns.IsFrozen())
	acc.AddFields(NodeMeasurement, fields, tags, now)
	return nil
}

// rate is a commission rate as a share (0 to 1); no schedule is 0.
func rate(q *quantity.Quantity) float64 {
	if q == nil {
		return 0
	}
	f, _ := new(big.Rat).SetFrac(q.ToBigInt(), staking.CommissionRateDenominator.ToBigInt()).Float64()
	return f
}

// nextRate is the first scheduled rate step after epoch, if any.
func nextRate(cs *staking.CommissionSchedule, epoch beacon.EpochTime) *staking.CommissionRateStep {
	for i := range cs.Rates {
		if cs.Rates[i].Start > epoch {
			return &cs.Rates[i]
		}
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func init() {
	inputs.Add("oasis_entity", func() telegraf.Input { return &OasisEntity{} })
}

// sharePrice is the active pool's balance per share. Rewards raise it; a
// slash is the only thing that lowers it (delegations and undelegations
// move balance and shares together), so a drop is the slash signal that an
// undelegation can't imitate. Not defined for an empty pool.
func sharePrice(balance, shares *quantity.Quantity) (float64, bool) {
	if shares.IsZero() {
		return 0, false
	}
	b := new(big.Float).SetInt(balance.ToBigInt())
	price, _ := b.Quo(b, new(big.Float).SetInt(shares.ToBigInt())).Float64()
	return price, true
}
