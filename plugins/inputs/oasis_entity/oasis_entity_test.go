package oasis_entity

import (
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/entity"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

var (
	ourEntity, ourNode, spareNode = key("entity"), key("node"), key("spare node")
	otherEntity, otherNode        = key("other entity"), key("other node")
	ourAddr                       = staking.NewAddress(ourEntity)
	now                           = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
)

func key(seed string) signature.PublicKey { return memorySigner.NewTestSigner(seed).Public() }

func q(s string) quantity.Quantity {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	var out quantity.Quantity
	if err := out.FromBigInt(n); err != nil {
		panic(err)
	}
	return out
}

// startNode is a node of our entity at height 1000, epoch 10.
func startNode(t *testing.T) *fakenode.Node {
	n := fakenode.Start(t)
	n.SetStatus(&control.Status{
		Identity:     control.IdentityStatus{Node: ourNode},
		Consensus:    &consensus.Status{LatestHeight: 1000, LatestEpoch: 10, LatestTime: now},
		Registration: &control.RegistrationStatus{Descriptor: &node.Node{Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity}},
	}, nil)
	n.SetValidators([]*scheduler.Validator{
		{ID: ourNode, EntityID: ourEntity, VotingPower: 30},
		{ID: otherNode, EntityID: otherEntity, VotingPower: 70},
	}, nil)
	for _, nd := range []struct{ id, entity signature.PublicKey }{{ourNode, ourEntity}, {otherNode, otherEntity}} {
		n.Chain.AddNode(&node.Node{
			Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion),
			ID:        nd.id, EntityID: nd.entity, Expiration: 12, Roles: node.RoleValidator,
		})
	}
	l := n.Ledger
	l.Lock()
	defer l.Unlock()
	l.StakeThresholds = map[staking.ThresholdKind]quantity.Quantity{
		staking.KindEntity: q("100"), staking.KindNodeValidator: q("100"),
	}
	l.NodeStatuses[otherNode] = &registry.NodeStatus{}
	l.Entities[otherEntity] = &entity.Entity{
		Versioned: cbor.NewVersioned(entity.LatestDescriptorVersion), ID: otherEntity, Nodes: []signature.PublicKey{otherNode},
	}
	l.Entities[ourEntity] = &entity.Entity{
		Versioned: cbor.NewVersioned(entity.LatestDescriptorVersion),
		ID:        ourEntity, Nodes: []signature.PublicKey{ourNode, spareNode},
	}
	l.NodeStatuses[ourNode] = &registry.NodeStatus{}
	// More than 2^64 base units in escrow.
	l.Accounts[ourAddr] = &staking.Account{
		General: staking.GeneralAccount{Balance: q("1500000000000")},
		Escrow: staking.EscrowAccount{
			Active:    staking.SharePool{Balance: q("123456789012345678901234"), TotalShares: q("100000000000000000000000")},
			Debonding: staking.SharePool{Balance: q("5000000000"), TotalShares: q("5000000000")},
			CommissionSchedule: staking.CommissionSchedule{Rates: []staking.CommissionRateStep{
				{Start: 5, Rate: q("10000")},  // 10 % since epoch 5
				{Start: 20, Rate: q("15000")}, // 15 % from epoch 20
			}},
			// The entity's and its validator node's claims: 200 base units.
			StakeAccumulator: staking.StakeAccumulator{Claims: map[staking.StakeClaim][]staking.StakeThreshold{
				"registry.entity":         {staking.GlobalStakeThreshold(staking.KindEntity)},
				"registry.node.validator": {staking.GlobalStakeThreshold(staking.KindNodeValidator)},
			}},
		},
	}
	l.Accounts[staking.NewAddress(otherEntity)] = &staking.Account{
		Escrow: staking.EscrowAccount{Active: staking.SharePool{Balance: q("1000"), TotalShares: q("1000")}},
	}
	l.Delegations[ourAddr] = map[staking.Address]*staking.Delegation{
		ourAddr:                          {Shares: q("50000000000000000000000")}, // half the pool
		staking.NewAddress(key("alice")): {Shares: q("30000000000000000000000")},
		staking.NewAddress(key("bob")):   {Shares: q("20000000000000000000000")},
	}
	return n
}

func newPlugin(t *testing.T, n *fakenode.Node, ids ...string) *OasisEntity {
	p := &OasisEntity{
		Config:    nodeclient.Config{Address: "unix:" + n.Socket},
		EntityIDs: ids,
		Log:       testutil.Logger{},
		now:       func() time.Time { return now },
	}
	require.NoError(t, p.Init())
	t.Cleanup(p.Stop)
	return p
}

func TestEntityEveryField(t *testing.T) {
	n := startNode(t)
	acc := acctest.Gather(t, newPlugin(t, n))
	require.Empty(t, acc.Errors)

	e := acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, map[string]any{
		"up":                                  int64(1),
		"general_balance_base_units":          "1500000000000",
		"general_balance_tokens":              1500.0,
		"escrow_active_balance_base_units":    "123456789012345678901234",
		"escrow_active_balance_tokens":        123456789012345.678901234,
		"escrow_active_shares":                "100000000000000000000000",
		"escrow_active_share_price":           1.23456789012345678901234,
		"escrow_debonding_balance_base_units": "5000000000",
		"escrow_debonding_balance_tokens":     5.0,
		"commission_rate":                     0.10,
		"commission_next_rate":                0.15,
		"commission_next_epoch":               int64(20),
		"commission_next_epochs_left":         int64(10),
		"delegators":                          int64(3),
		"self_delegation_balance_base_units":  "61728394506172839450617",
		"self_delegation_balance_tokens":      61728394506172.839450617,
		"in_validator_set":                    int64(1),
		"voting_power":                        int64(30),
		"voting_power_share":                  0.3,
		"validators":                          int64(2),
		"escrow_rank":                         int64(1),
		"max_validators":                      int64(120),
		"nodes":                               int64(2),
		"stake_claims_base_units":             "200",
		"stake_claims_tokens":                 200e-9,
		// 120 seats for 2 candidates: only the stake claims can cost ours.
		"election_height":            int64(1000),
		"election_candidates":        int64(2),
		"validator_nodes_eligible":   int64(1),
		"election_candidate":         int64(1),
		"elected_next_epoch":         int64(1),
		"election_escrow_base_units": "123456789012345678901234",
		"election_escrow_tokens":     123456789012345.678901234,
		"cutoff_kind":                "stake_claims",
		"cutoff_escrow_base_units":   "200",
		"cutoff_escrow_tokens":       200e-9,
		"cutoff_margin_base_units":   "123456789012345678901034",
		"cutoff_margin_tokens":       123456789012345.678901034,
		"cutoff_margin_share":        1 - 200/123456789012345678901234.0,
	}, e)
	tags := acctest.ByTags(acc, EntityMeasurement, "entity_id")[ourEntity.String()].Tags
	require.Equal(t, map[string]string{"entity_id": ourEntity.String(), "entity_address": ourAddr.String(), "token": "ROSE"}, tags)
	require.Equal(t, map[string]any{"up": int64(1)}, acctest.Input(t, acc, "oasis_entity"))

	require.Equal(t, map[string]any{
		"registered":                    int64(1),
		"roles":                         "validator",
		"registration_expiration_epoch": int64(12),
		"registration_epochs_left":      int64(2),
		"expired":                       int64(0),
		"frozen":                        int64(0),
		"freeze_end_epoch":              int64(0),
		"validator_eligible_next_epoch": int64(1),
		"in_validator_set":              int64(1),
		"voting_power":                  int64(30),
	}, acctest.Point(t, acc, NodeMeasurement, "node_id", ourNode.String()))
	require.Equal(t, map[string]any{"registered": int64(0), "in_validator_set": int64(0), "voting_power": int64(0)},
		acctest.Point(t, acc, NodeMeasurement, "node_id", spareNode.String()), "listed by the entity, unknown to the registry")
}

func TestCallsPerGather(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, n)
	acctest.Gather(t, p)
	first := p.client.Calls()
	acctest.Gather(t, p)
	// Status, validators; per entity: account, delegations, entity; per
	// registered node: node, node status; GetNode for the unregistered one.
	require.Equal(t, uint64(8), p.client.Calls()-first, "steady state")
	// The first gather also reads the token (2 calls) and predicts the
	// election: scheduler and staking parameters, the registry's nodes, each
	// validator node's status (2) and each candidate's account (2).
	require.Equal(t, uint64(8+2+7), first)
}

func TestEntityWithNoAccount(t *testing.T) {
	n := startNode(t)
	lonely := key("lonely entity")
	n.Ledger.Lock()
	n.Ledger.Entities[lonely] = &entity.Entity{Versioned: cbor.NewVersioned(entity.LatestDescriptorVersion), ID: lonely}
	n.Ledger.Unlock()
	acc := acctest.Gather(t, newPlugin(t, n, lonely.String()))
	require.Empty(t, acc.Errors)
	e := acctest.Point(t, acc, EntityMeasurement, "entity_id", lonely.String())
	require.Equal(t, "0", e["general_balance_base_units"])
	require.Equal(t, "0", e["escrow_active_balance_base_units"])
	require.Equal(t, int64(0), e["delegators"])
	require.Equal(t, 0.0, e["commission_rate"], "no schedule is no commission")
	require.NotContains(t, e, "commission_next_rate")
	require.Equal(t, int64(0), e["in_validator_set"])
	require.NotContains(t, e, "escrow_rank", "no validator node: not in the election")
	require.Equal(t, int64(0), e["election_candidate"])
	require.Equal(t, int64(0), e["elected_next_epoch"])
	require.Equal(t, int64(0), e["validator_nodes_eligible"])
	require.NotContains(t, e, "cutoff_margin_share", "no margin without a node to seat")
	require.Equal(t, "0", e["self_delegation_balance_base_units"])
}

func TestFrozenNode(t *testing.T) {
	n := startNode(t)
	n.Ledger.Lock()
	n.Ledger.NodeStatuses[ourNode] = &registry.NodeStatus{FreezeEndTime: 15}
	n.Ledger.Unlock()
	acc := acctest.Gather(t, newPlugin(t, n))
	f := acctest.Point(t, acc, NodeMeasurement, "node_id", ourNode.String())
	require.Equal(t, int64(1), f["frozen"])
	require.Equal(t, int64(15), f["freeze_end_epoch"])
	require.Equal(t, int64(0), f["validator_eligible_next_epoch"])
}

func TestUnknownEntityIsAnError(t *testing.T) {
	n := startNode(t)
	ghost := key("ghost")
	acc := acctest.Gather(t, newPlugin(t, n, ghost.String()))
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "reading the registry entry of entity "+ghost.String())
	require.Equal(t, int64(0), acctest.Point(t, acc, EntityMeasurement, "entity_id", ghost.String())["up"])
}

func TestNodeDown(t *testing.T) {
	p := &OasisEntity{Config: nodeclient.Config{Address: "unix:/nonexistent/internal.sock"}, EntityIDs: []string{ourEntity.String()}, Log: testutil.Logger{}, now: func() time.Time { return now }}
	require.NoError(t, p.Init())
	acc := acctest.Gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket"}, acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String()))
}

func TestInitRejectsBadSettings(t *testing.T) {
	require.ErrorContains(t, (&OasisEntity{Config: nodeclient.Config{Address: "/n/internal.sock"}, EntityIDs: []string{"nope"}}).Init(), `entity_ids "nope"`)
	require.ErrorContains(t, (&OasisEntity{Config: nodeclient.Config{Address: "n.sock"}}).Init(), `address "n.sock"`)
}

func TestReadmeListsEveryField(t *testing.T) {
	documented, err := docfields.Read("README.md")
	require.NoError(t, err)
	acc := acctest.Gather(t, newPlugin(t, startNode(t)))
	var emitted []docfields.Field
	for k := range acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String()) {
		emitted = append(emitted, docfields.Field{Measurement: EntityMeasurement, Name: k})
	}
	for k := range acctest.Point(t, acc, NodeMeasurement, "node_id", ourNode.String()) {
		emitted = append(emitted, docfields.Field{Measurement: NodeMeasurement, Name: k})
	}
	// A node that can't be read adds the reason to up=0.
	down := &OasisEntity{Config: nodeclient.Config{Address: "unix:/nonexistent/internal.sock"}, Log: testutil.Logger{}}
	require.NoError(t, down.Init())
	emitted = append(emitted, docfields.Field{Measurement: EntityMeasurement, Name: "down_reason"})
	downAcc := acctest.Gather(t, down)
	require.Contains(t, downAcc.Metrics[0].Fields, "down_reason")
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket", "failed_reads": int64(1)}, acctest.Input(t, downAcc, "oasis_entity"))
	for _, f := range inputstatus.Fields {
		emitted = append(emitted, docfields.Field{Measurement: inputstatus.Measurement, Name: f})
	}
	require.ElementsMatch(t, emitted, documented)
}

// The registry drops an expired descriptor; the node then still shows as
// expired, with the expiration epoch last seen.
func TestExpiredNodeDroppedByTheRegistry(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, n)
	acctest.Gather(t, p)
	n.Chain.RemoveNode(ourNode)
	n.SetStatus(&control.Status{
		Identity:  control.IdentityStatus{Node: ourNode},
		Consensus: &consensus.Status{LatestHeight: 1300, LatestEpoch: 13, LatestTime: now},
		Registration: &control.RegistrationStatus{Descriptor: &node.Node{
			Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity,
		}},
	}, nil)
	acc := acctest.Gather(t, p)
	require.Equal(t, map[string]any{
		"registered": int64(0), "registration_expiration_epoch": int64(12), "registration_epochs_left": int64(-1),
		"expired": int64(1), "in_validator_set": int64(1), "voting_power": int64(30),
	}, acctest.Point(t, acc, NodeMeasurement, "node_id", ourNode.String()))
}

// setEscrow sets an entity's active escrow (base units).
func setEscrow(n *fakenode.Node, id signature.PublicKey, escrow string) {
	n.Ledger.Lock()
	defer n.Ledger.Unlock()
	a := n.Ledger.Accounts[staking.NewAddress(id)]
	a.Escrow.Active = staking.SharePool{Balance: q(escrow), TotalShares: q(escrow)}
}

// One seat, two candidates: the seat goes to the larger escrow, and each
// entity's margin is measured against the other's.
func TestElectionCutoff(t *testing.T) {
	n := startNode(t)
	n.Ledger.Lock()
	n.Ledger.SchedulerParam.MaxValidators = 1
	n.Ledger.Unlock()
	setEscrow(n, ourEntity, "800000")
	setEscrow(n, otherEntity, "1000000")
	clock := now
	p := newPlugin(t, n, ourEntity.String(), otherEntity.String())
	p.now = func() time.Time { return clock }

	acc := acctest.Gather(t, p)
	require.Empty(t, acc.Errors)
	ours := acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, int64(0), ours["elected_next_epoch"], "out: the other entity has more escrow")
	require.Equal(t, int64(1), ours["election_candidate"])
	require.Equal(t, int64(2), ours["escrow_rank"])
	require.Equal(t, "seats", ours["cutoff_kind"])
	require.Equal(t, "1000000", ours["cutoff_escrow_base_units"], "the last seat's escrow")
	require.Equal(t, "-200000", ours["cutoff_margin_base_units"])
	require.InDelta(t, -0.0002, ours["cutoff_margin_tokens"], 1e-12)
	require.InDelta(t, -0.25, ours["cutoff_margin_share"], 1e-12)
	theirs := acctest.Point(t, acc, EntityMeasurement, "entity_id", otherEntity.String())
	require.Equal(t, int64(1), theirs["elected_next_epoch"])
	require.Equal(t, "800000", theirs["cutoff_escrow_base_units"], "the best escrow left out")
	require.Equal(t, "200000", theirs["cutoff_margin_base_units"])
	require.InDelta(t, 0.2, theirs["cutoff_margin_share"], 1e-12)

	// A delegation to us within the epoch is seen at the next prediction,
	// election_interval (10m) after the last, not before.
	setEscrow(n, ourEntity, "1200000")
	clock = clock.Add(9 * time.Minute)
	acc = acctest.Gather(t, p)
	require.Equal(t, int64(0), acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())["elected_next_epoch"])
	clock = clock.Add(time.Minute)
	acc = acctest.Gather(t, p)
	ours = acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, int64(1), ours["elected_next_epoch"])
	require.Equal(t, "200000", ours["cutoff_margin_base_units"])
	require.InDelta(t, 1.0/6, ours["cutoff_margin_share"], 1e-12)

	// The other entity's node frozen: it is out of the election, and our
	// seat is bounded by our own stake claims (200) alone.
	n.Ledger.Lock()
	n.Ledger.NodeStatuses[otherNode] = &registry.NodeStatus{FreezeEndTime: 20}
	n.Ledger.Unlock()
	n.SetStatus(&control.Status{
		Identity:  control.IdentityStatus{Node: ourNode},
		Consensus: &consensus.Status{LatestHeight: 1100, LatestEpoch: 11, LatestTime: now},
	}, nil)
	acc = acctest.Gather(t, p)
	require.Empty(t, acc.Errors)
	ours = acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, int64(1100), ours["election_height"], "a new epoch: predicted again")
	require.Equal(t, int64(1), ours["election_candidates"])
	require.Equal(t, "stake_claims", ours["cutoff_kind"])
	require.Equal(t, "1199800", ours["cutoff_margin_base_units"])
	theirs = acctest.Point(t, acc, EntityMeasurement, "entity_id", otherEntity.String())
	require.Equal(t, int64(0), theirs["validator_nodes_eligible"])
	require.Equal(t, int64(0), theirs["elected_next_epoch"])
	require.NotContains(t, theirs, "escrow_rank")
	require.NotContains(t, theirs, "cutoff_margin_share")
}

// Escrow below the stake claims: not a candidate whatever the seats, short
// by the difference. A node expiring before the next epoch is not eligible.
func TestElectionStakeClaimsAndExpiry(t *testing.T) {
	n := startNode(t)
	setEscrow(n, ourEntity, "150")
	acc := acctest.Gather(t, newPlugin(t, n))
	require.Empty(t, acc.Errors)
	ours := acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, int64(1), ours["validator_nodes_eligible"])
	require.Equal(t, int64(0), ours["election_candidate"])
	require.Equal(t, int64(0), ours["elected_next_epoch"])
	require.Equal(t, "stake_claims", ours["cutoff_kind"])
	require.Equal(t, "200", ours["stake_claims_base_units"])
	require.Equal(t, "-50", ours["cutoff_margin_base_units"])
	require.InDelta(t, -1.0/3, ours["cutoff_margin_share"], 1e-12)

	// Registered through epoch 10 only: expired at the next one.
	n2 := startNode(t)
	n2.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion),
		ID:        ourNode, EntityID: ourEntity, Expiration: 10, Roles: node.RoleValidator,
	})
	acc = acctest.Gather(t, newPlugin(t, n2))
	ours = acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.Equal(t, int64(0), ours["validator_nodes_eligible"])
	require.Equal(t, int64(0), ours["elected_next_epoch"])
}

// A prediction that fails is an error and its fields are absent from a new
// epoch on: the last one was about an election that has happened.
func TestElectionUnreadable(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, n)
	acc := acctest.Gather(t, p)
	require.Contains(t, acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String()), "elected_next_epoch")
	n.Ledger.Lock()
	n.Ledger.Accounts[ourAddr].Escrow.StakeAccumulator.Claims["broken"] = []staking.StakeThreshold{{}} // neither kind nor amount
	n.Ledger.Unlock()
	n.SetStatus(&control.Status{
		Identity:  control.IdentityStatus{Node: ourNode},
		Consensus: &consensus.Status{LatestHeight: 1100, LatestEpoch: 11, LatestTime: now},
	}, nil)
	acc = acctest.Gather(t, p)
	require.NotEmpty(t, acc.Errors)
	require.ErrorContains(t, acc.Errors[0], "predicting the next validator election: stake claims of "+ourAddr.String())
	e := acctest.Point(t, acc, EntityMeasurement, "entity_id", ourEntity.String())
	require.NotContains(t, e, "elected_next_epoch")
	require.NotContains(t, e, "cutoff_margin_share")
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "query_failed", "failed_reads": int64(1)}, acctest.Input(t, acc, "oasis_entity"))
}

func TestElectionIntervalTooShort(t *testing.T) {
	p := &OasisEntity{Config: nodeclient.Config{Address: "unix:/n/internal.sock"}, ElectionInterval: config.Duration(30 * time.Second)}
	require.ErrorContains(t, p.Init(), "election_interval 30s: at least 1m")
}
