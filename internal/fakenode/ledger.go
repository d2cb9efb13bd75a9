package fakenode

import (
	"context"
	"sync"

	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	"github.com/oasisprotocol/oasis-core/go/common/entity"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	upgrade "github.com/oasisprotocol/oasis-core/go/upgrade/api"
)

// Ledger is the staking, registry and governance state the fake node
// serves. Tests fill its maps directly (under Lock) or with the setters.
type Ledger struct {
	sync.Mutex
	TokenSymbol    string
	TokenExponent  uint8
	Accounts       map[staking.Address]*staking.Account
	Delegations    map[staking.Address]map[staking.Address]*staking.Delegation // to -> from -> delegation
	Entities       map[signature.PublicKey]*entity.Entity
	NodeStatuses   map[signature.PublicKey]*registry.NodeStatus
	SchedulerParam scheduler.ConsensusParameters
	// StakeThresholds are the staking parameters' thresholds (what each
	// kind of stake claim requires).
	StakeThresholds map[staking.ThresholdKind]quantity.Quantity
	Proposals       []*governance.Proposal
	Votes           map[uint64][]*governance.VoteEntry
	Upgrades        []*upgrade.Descriptor
	// RegistryParams are the registry's consensus parameters.
	RegistryParams registry.ConsensusParameters
	// RuntimeStates are the runtimes' roothash states, by runtime ID.
	RuntimeStates runtimeStates
}

func newLedger() *Ledger {
	return &Ledger{
		TokenSymbol:    "ROSE",
		TokenExponent:  9,
		Accounts:       map[staking.Address]*staking.Account{},
		Delegations:    map[staking.Address]map[staking.Address]*staking.Delegation{},
		Entities:       map[signature.PublicKey]*entity.Entity{},
		NodeStatuses:   map[signature.PublicKey]*registry.NodeStatus{},
		SchedulerParam: scheduler.ConsensusParameters{MaxValidators: 120, MaxValidatorsPerEntity: 1},
		Votes:          map[uint64][]*governance.VoteEntry{},
		RuntimeStates:  runtimeStates{},
	}
}

type fakeStaking struct {
	staking.Backend
	n *Node
}

func (f *fakeStaking) TokenSymbol(context.Context, int64) (string, error) {
	f.n.record("TokenSymbol")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.TokenSymbol, nil
}

func (f *fakeStaking) TokenValueExponent(context.Context, int64) (uint8, error) {
	f.n.record("TokenValueExponent")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.TokenExponent, nil
}

// Account returns an empty account for an unknown address, as the chain does.
func (f *fakeStaking) Account(_ context.Context, q *staking.OwnerQuery) (*staking.Account, error) {
	f.n.record("Account")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	if a, ok := l.Accounts[q.Owner]; ok {
		return a, nil
	}
	return &staking.Account{}, nil
}

func (f *fakeStaking) DelegationsTo(_ context.Context, q *staking.OwnerQuery) (map[staking.Address]*staking.Delegation, error) {
	f.n.record("DelegationsTo")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.Delegations[q.Owner], nil
}

type fakeGovernance struct {
	governance.Backend
	n *Node
}

func (f *fakeGovernance) Proposals(context.Context, int64) ([]*governance.Proposal, error) {
	f.n.record("Proposals")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.Proposals, nil
}

func (f *fakeGovernance) Votes(_ context.Context, q *governance.ProposalQuery) ([]*governance.VoteEntry, error) {
	f.n.record("Votes")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.Votes[q.ProposalID], nil
}

func (f *fakeGovernance) PendingUpgrades(context.Context, int64) ([]*upgrade.Descriptor, error) {
	f.n.record("PendingUpgrades")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return l.Upgrades, nil
}

func (f *fakeRegistry) GetEntity(_ context.Context, q *registry.IDQuery) (*entity.Entity, error) {
	f.n.record("GetEntity")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	if e, ok := l.Entities[q.ID]; ok {
		return e, nil
	}
	return nil, registry.ErrNoSuchEntity
}

func (f *fakeRegistry) GetNodeStatus(_ context.Context, q *registry.IDQuery) (*registry.NodeStatus, error) {
	f.n.record("GetNodeStatus")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	if s, ok := l.NodeStatuses[q.ID]; ok {
		return s, nil
	}
	return nil, registry.ErrNoSuchNode
}

func (f *fakeRegistry) ConsensusParameters(context.Context, int64) (*registry.ConsensusParameters, error) {
	f.n.record("Registry.ConsensusParameters")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	p := l.RegistryParams
	return &p, nil
}

func (f *fakeScheduler) ConsensusParameters(context.Context, int64) (*scheduler.ConsensusParameters, error) {
	f.n.record("Scheduler.ConsensusParameters")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	p := l.SchedulerParam
	return &p, nil
}
