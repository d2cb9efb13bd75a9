package oasis_entity

import (
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion),
		ID:        ourNode, EntityID: ourEntity, Expiration: 12, Roles: node.RoleValidator,
	})
	l := n.Ledger
	l.Lock()
	defer l.Unlock()
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
	// The first gather also reads the token (2 calls) and, once an epoch,
	// the scheduler parameters and one account per ranked entity (3).
	require.Equal(t, uint64(8+2+3), first)
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
	require.Equal(t, int64(3), e["escrow_rank"], "ranked behind both validator entities")
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
