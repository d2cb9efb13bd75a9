package network

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	fileSigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/file"
	cmnGrpc "github.com/oasisprotocol/oasis-core/go/common/grpc"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	"github.com/oasisprotocol/oasis-core/go/common/version"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	"github.com/oasisprotocol/oasis-core/go/consensus/api/transaction"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	upgrade "github.com/oasisprotocol/oasis-core/go/upgrade/api"
)

// DelegatorName is the funded account, owned by no validator, that the
// delegation and transfer scenarios use by default.
const DelegatorName = "delegator"

// Client submits the devnet's scenario transactions through one validator's
// socket, signed with the devnet's own test keys.
type Client struct {
	m         *Manifest
	conn      *grpc.ClientConn
	consensus *consensus.Client
	staking   *staking.Client
	gov       *governance.Client
}

var chainContextOnce sync.Once

// Dial connects to validator via's socket.
func (m *Manifest) Dial(via int) (*Client, error) {
	if via < 0 || via >= len(m.Validators) {
		return nil, fmt.Errorf("no validator %d", via)
	}
	// Transactions are signed for one chain (domain separation).
	chainContextOnce.Do(func() { signature.SetChainContext(m.ChainContext) })
	conn, err := cmnGrpc.Dial("unix:"+m.Validators[via].Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Client{
		m:         m,
		conn:      conn,
		consensus: consensus.NewClient(conn),
		staking:   staking.NewClient(conn),
		gov:       governance.NewClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Account names an account of the devnet: "delegator" or "entity-N".
func (m *Manifest) signer(name string) (signature.Signer, error) {
	var dir string
	switch {
	case name == DelegatorName:
		dir = filepath.Join(m.Dir, DelegatorName)
	case strings.HasPrefix(name, "entity-"):
		i, err := strconv.Atoi(strings.TrimPrefix(name, "entity-"))
		if err != nil || i < 0 || i >= len(m.Validators) {
			return nil, fmt.Errorf("account %q: the network has entity-0 to entity-%d", name, len(m.Validators)-1)
		}
		dir = m.Validators[i].EntityDir
	default:
		return nil, fmt.Errorf("account %q: use %q or entity-N", name, DelegatorName)
	}
	factory, err := fileSigner.NewFactory(dir, signature.SignerEntity)
	if err != nil {
		return nil, err
	}
	return factory.Load(signature.SignerEntity)
}

// AccountAddress is the staking address of a named account.
func (m *Manifest) AccountAddress(name string) (staking.Address, error) {
	s, err := m.signer(name)
	if err != nil {
		return staking.Address{}, err
	}
	return staking.NewAddress(s.Public()), nil
}

// ParseTokens turns an amount in whole or fractional TEST into base units.
func ParseTokens(amount string) (quantity.Quantity, error) {
	var q quantity.Quantity
	r, ok := new(big.Rat).SetString(amount)
	if !ok || r.Sign() <= 0 {
		return q, fmt.Errorf("amount %q: want a positive number of %s, e.g. 1000 or 0.5", amount, TokenSymbol)
	}
	r.Mul(r, new(big.Rat).SetInt(oneToken))
	if !r.IsInt() {
		return q, fmt.Errorf("amount %q: more than %d decimals", amount, TokenExponent)
	}
	return q, q.FromBigInt(r.Num())
}

// submit fills in nonce and fee, signs tx as from and waits until it is in a block.
func (c *Client) submit(ctx context.Context, from string, tx *transaction.Transaction) error {
	signer, err := c.m.signer(from)
	if err != nil {
		return err
	}
	acct, err := c.staking.Account(ctx, &staking.OwnerQuery{Height: consensus.HeightLatest, Owner: staking.NewAddress(signer.Public())})
	if err != nil {
		return fmt.Errorf("reading %s's nonce: %w", from, err)
	}
	tx.Nonce = acct.General.Nonce
	tx.Fee = &transaction.Fee{}
	gas, err := c.consensus.EstimateGas(ctx, &consensus.EstimateGasRequest{Signer: signer.Public(), Transaction: tx})
	if err != nil {
		return fmt.Errorf("estimating gas: %w", err)
	}
	tx.Fee.Gas = gas // the devnet's minimum gas price is 0
	signed, err := transaction.Sign(signer, tx)
	if err != nil {
		return err
	}
	if err := c.consensus.SubmitTx(ctx, signed); err != nil {
		return fmt.Errorf("%s from %s: %w", tx.Method, from, err)
	}
	return nil
}

// Delegate escrows amount from account from to validator to's entity.
func (c *Client) Delegate(ctx context.Context, from string, to int, amount quantity.Quantity) error {
	return c.submit(ctx, from, staking.NewAddEscrowTx(0, nil, &staking.Escrow{
		Account: c.entityAddress(to), Amount: amount,
	}))
}

// Undelegate reclaims shares (all of from's shares when shares is nil) from
// validator to's entity; the stake then debonds.
func (c *Client) Undelegate(ctx context.Context, from string, to int, shares *quantity.Quantity) error {
	if shares == nil {
		owner, err := c.m.AccountAddress(from)
		if err != nil {
			return err
		}
		dels, err := c.staking.DelegationsFor(ctx, &staking.OwnerQuery{Height: consensus.HeightLatest, Owner: owner})
		if err != nil {
			return err
		}
		d, ok := dels[c.entityAddress(to)]
		if !ok {
			return fmt.Errorf("%s has no delegation to entity-%d", from, to)
		}
		shares = &d.Shares
	}
	return c.submit(ctx, from, staking.NewReclaimEscrowTx(0, nil, &staking.ReclaimEscrow{
		Account: c.entityAddress(to), Shares: *shares,
	}))
}

// Transfer moves amount from account from to the staking address to.
func (c *Client) Transfer(ctx context.Context, from string, to staking.Address, amount quantity.Quantity) error {
	return c.submit(ctx, from, staking.NewTransferTx(0, nil, &staking.Transfer{To: to, Amount: amount}))
}

// ProposeUpgrade submits an upgrade proposal from validator from's entity
// for an upgrade far enough ahead (epochsAhead) that the devnet will not
// halt for it during a test, and returns the proposal's ID.
func (c *Client) ProposeUpgrade(ctx context.Context, from int, handler string, epochsAhead uint64) (uint64, error) {
	st, err := c.consensus.GetStatus(ctx)
	if err != nil {
		return 0, err
	}
	content := &governance.ProposalContent{
		Metadata: &governance.ProposalMetadata{
			Title:       "Devnet upgrade " + handler,
			Description: "Submitted by oasis-devnet for tests; scheduled far ahead so the devnet does not halt for it.",
		},
		Upgrade: &governance.UpgradeProposal{Descriptor: upgrade.Descriptor{
			Versioned: cbor.NewVersioned(upgrade.LatestDescriptorVersion),
			Handler:   upgrade.HandlerName(handler),
			Target:    version.Versions,
			Epoch:     st.LatestEpoch + beacon.EpochTime(epochsAhead),
		}}}
	name := fmt.Sprintf("entity-%d", from)
	if err := c.submit(ctx, name, governance.NewSubmitProposalTx(0, nil, content)); err != nil {
		return 0, err
	}
	// The newest proposal from this entity is the one just submitted.
	props, err := c.gov.Proposals(ctx, consensus.HeightLatest)
	if err != nil {
		return 0, err
	}
	submitter := c.entityAddress(from)
	var id uint64
	found := false
	for _, p := range props {
		if p.Submitter.Equal(submitter) && (!found || p.ID > id) {
			id, found = p.ID, true
		}
	}
	if !found {
		return 0, fmt.Errorf("proposal from entity-%d not found after submission", from)
	}
	return id, nil
}

// Vote casts validator from's entity's vote ("yes", "no", "abstain").
func (c *Client) Vote(ctx context.Context, from int, proposal uint64, vote string) error {
	var v governance.Vote
	if err := v.UnmarshalText([]byte(vote)); err != nil {
		return fmt.Errorf("vote %q: want yes, no or abstain", vote)
	}
	return c.submit(ctx, fmt.Sprintf("entity-%d", from), governance.NewCastVoteTx(0, nil, &governance.ProposalVote{ID: proposal, Vote: v}))
}

// CheckValidator reports whether i names a validator of the network.
func (m *Manifest) CheckValidator(i int) error {
	if i < 0 || i >= len(m.Validators) {
		return fmt.Errorf("validator %d: the network has validators 0 to %d", i, len(m.Validators)-1)
	}
	return nil
}

func (c *Client) entityAddress(i int) staking.Address {
	var a staking.Address
	_ = a.UnmarshalText([]byte(c.m.Validators[i].EntityAddress))
	return a
}
