package fakenode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/pubsub"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
)

// Chain is a fake chain of CometBFT blocks built the way oasis-node stores
// them (CBOR meta holding the protobuf header and last commit), with a
// validator set per height and a block stream.
type Chain struct {
	mu        sync.Mutex
	blocks    map[int64]*consensus.Block
	sets      map[int64][]Address // validator set at each height, in CometBFT order
	latest    int64
	retained  int64
	nodes     map[signature.PublicKey]*node.Node
	watchers  map[chan *consensus.Block]struct{}
	genesisAt time.Time
	// failBlocks: heights whose GetBlock answers with an error;
	// failSets: heights whose validator set (GetValidators) does.
	failBlocks map[int64]error
	failSets   map[int64]error
	// streamStalled: new blocks are not sent to block watchers.
	streamStalled bool
	// context is the chain context GetChainContext answers.
	context string
	// wallClock: blocks are timed when they are made, not on the
	// synthetic 500 ms schedule from genesisAt.
	wallClock bool
}

// SetChainContext sets the chain's context (a new genesis has a new one).
func (c *Chain) SetChainContext(ctx string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.context = ctx
}

// StallStream makes the block stream stop (true) or resume (false)
// delivering new blocks, while every unary call keeps answering: a node
// whose stream is stuck.
func (c *Chain) StallStream(stalled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streamStalled = stalled
}

// Address is a CometBFT validator address.
type Address [20]byte

// AddressOf is the address of a consensus key (first 20 bytes of SHA-256).
func AddressOf(pk signature.PublicKey) Address {
	sum := sha256.Sum256(pk[:])
	var a Address
	copy(a[:], sum[:20])
	return a
}

func newChain() *Chain {
	return &Chain{
		blocks:    map[int64]*consensus.Block{},
		sets:      map[int64][]Address{},
		nodes:     map[signature.PublicKey]*node.Node{},
		watchers:  map[chan *consensus.Block]struct{}{},
		genesisAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Next describes the next block: the validator set at its height, its
// proposer, and which members of the previous height's set signed that
// height (carried in this block's last commit).
type Next struct {
	Set      []Address
	Proposer Address
	Signed   map[Address]bool
}

// FailBlock makes GetBlock at height answer err (nil: answer again), as a
// node that can't serve one height does (a too-large reply, a damaged
// block). The block stream still carries it.
func (c *Chain) FailBlock(height int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	setFailure(&c.failBlocks, height, err)
}

// FailValidators makes the consensus GetValidators at height answer err
// (nil: serve it again).
func (c *Chain) FailValidators(height int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	setFailure(&c.failSets, height, err)
}

// setFailure records err as the answer at height in *m (nil: removes it).
func setFailure(m *map[int64]error, height int64, err error) {
	if err == nil {
		delete(*m, height)
		return
	}
	if *m == nil {
		*m = map[int64]error{}
	}
	(*m)[height] = err
}

// AddBlock appends a block and sends it to block watchers.
func (c *Chain) AddBlock(n Next) *consensus.Block {
	c.mu.Lock()
	h := c.latest + 1
	blk := c.buildLocked(h, n)
	c.blocks[h] = blk
	c.sets[h] = append([]Address(nil), n.Set...)
	c.latest = h
	if c.retained == 0 {
		c.retained = h
	}
	watchers := make([]chan *consensus.Block, 0, len(c.watchers))
	for w := range c.watchers {
		if !c.streamStalled {
			watchers = append(watchers, w)
		}
	}
	c.mu.Unlock()
	for _, w := range watchers {
		select {
		case w <- blk:
		case <-time.After(time.Second): // a watcher that went away
		}
	}
	return blk
}

// Latest is the height of the latest block.
func (c *Chain) Latest() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// SetMeta replaces the meta of the block at height (to make it malformed).
func (c *Chain) SetMeta(height int64, meta []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks[height].Meta = meta
}

// Prune makes heights below retained unavailable, as a pruning node does.
func (c *Chain) Prune(retained int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retained = retained
}

// AddNode registers a node descriptor for the registry service.
func (c *Chain) AddNode(n *node.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[n.ID] = n
}

// UseWallClock times the blocks made from now on when they are made, as a
// real chain does (by default a block's time is a fixed schedule from
// 2026-01-01: reproducible, but always in the past).
func (c *Chain) UseWallClock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wallClock = true
}

// RemoveNode drops a node descriptor, as the registry does some time
// after the node's registration expired.
func (c *Chain) RemoveNode(id signature.PublicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, id)
}

func (c *Chain) buildLocked(h int64, n Next) *consensus.Block {
	t := c.genesisAt.Add(time.Duration(h) * 500 * time.Millisecond)
	if c.wallClock {
		t = time.Now()
	}
	hdr := cmtproto.Header{Height: h, Time: t, ProposerAddress: n.Proposer[:], ValidatorsHash: setHash(n.Set)}
	commit := cmtproto.Commit{}
	if prevSet, ok := c.sets[h-1]; ok {
		commit.Height = h - 1
		commit.BlockID = cmtproto.BlockID{Hash: make([]byte, 32)}
		for _, a := range prevSet {
			if n.Signed[a] {
				commit.Signatures = append(commit.Signatures, cmtproto.CommitSig{
					BlockIdFlag: cmtproto.BlockIDFlagCommit, ValidatorAddress: append([]byte(nil), a[:]...),
					Timestamp: t, Signature: make([]byte, 64),
				})
			} else {
				commit.Signatures = append(commit.Signatures, cmtproto.CommitSig{BlockIdFlag: cmtproto.BlockIDFlagAbsent})
			}
		}
	}
	hb, err := hdr.Marshal()
	if err != nil {
		panic(err)
	}
	cb, err := commit.Marshal()
	if err != nil {
		panic(err)
	}
	meta := cbor.Marshal(struct {
		Header     []byte `json:"header"`
		LastCommit []byte `json:"last_commit"`
	}{hb, cb})
	return &consensus.Block{Height: h, Time: t.Truncate(time.Second), Meta: meta}
}

func setHash(set []Address) []byte {
	sorted := append([]Address(nil), set...)
	sort.Slice(sorted, func(i, j int) bool { return string(sorted[i][:]) < string(sorted[j][:]) })
	h := sha256.New()
	for _, a := range sorted {
		h.Write(a[:])
	}
	return h.Sum(nil)
}

// fakeConsensus serves the chain's blocks, heights and validator sets.
type fakeConsensus struct {
	consensus.Backend
	n *Node
}

func (f *fakeConsensus) height(h int64) (int64, error) {
	c := f.n.Chain
	if h == consensus.HeightLatest {
		h = c.latest
	}
	if c.latest == 0 {
		return 0, consensus.ErrNoCommittedBlocks
	}
	if h < c.retained || h > c.latest {
		return 0, consensus.ErrVersionNotFound
	}
	return h, nil
}

func (f *fakeConsensus) GetBlock(_ context.Context, height int64) (*consensus.Block, error) {
	f.n.record("GetBlock")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	h, err := f.height(height)
	if err != nil {
		return nil, err
	}
	if err := c.failBlocks[h]; err != nil {
		return nil, err
	}
	b := *c.blocks[h]
	return &b, nil
}

func (f *fakeConsensus) GetChainContext(context.Context) (string, error) {
	f.n.record("GetChainContext")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.context == "" {
		return "fakenode-chain-context", nil
	}
	return c.context, nil
}

func (f *fakeConsensus) GetStatus(context.Context) (*consensus.Status, error) {
	f.n.record("Consensus.GetStatus")
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if f.n.consensusStatusErr != nil {
		return nil, f.n.consensusStatusErr
	}
	if f.n.consensusStatus == nil {
		return nil, fmt.Errorf("fakenode: no consensus status set")
	}
	st := *f.n.consensusStatus
	return &st, nil
}

func (f *fakeConsensus) GetLatestHeight(context.Context) (int64, error) {
	f.n.record("GetLatestHeight")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	return f.height(consensus.HeightLatest)
}

func (f *fakeConsensus) GetLastRetainedHeight(context.Context) (int64, error) {
	f.n.record("GetLastRetainedHeight")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.retained, nil
}

func (f *fakeConsensus) GetValidators(_ context.Context, height int64) (*consensus.Validators, error) {
	f.n.record("GetValidators(consensus)")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	h, err := f.height(height)
	if err != nil {
		return nil, err
	}
	if err := c.failSets[h]; err != nil {
		return nil, err
	}
	var vs cmtproto.ValidatorSet
	for _, a := range c.sets[h] {
		vs.Validators = append(vs.Validators, &cmtproto.Validator{Address: append([]byte(nil), a[:]...), VotingPower: 10})
	}
	meta, err := vs.Marshal()
	if err != nil {
		return nil, err
	}
	return &consensus.Validators{Height: h, Meta: meta}, nil
}

func (f *fakeConsensus) WatchBlocks(ctx context.Context) (<-chan *consensus.Block, pubsub.ClosableSubscription, error) {
	f.n.record("WatchBlocks")
	c := f.n.Chain
	ch := make(chan *consensus.Block)
	c.mu.Lock()
	c.watchers[ch] = struct{}{}
	c.mu.Unlock()
	ctx, sub := pubsub.NewContextSubscription(ctx)
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		delete(c.watchers, ch)
		c.mu.Unlock()
	}()
	return ch, sub, nil
}

// fakeServices routes the consensus service's calls to fakeConsensus.
type fakeServices struct {
	consensus.Services
	core *fakeConsensus
}

func (s *fakeServices) Core() consensus.Backend { return s.core }

// fakeRegistry serves node descriptors.
type fakeRegistry struct {
	registry.Backend
	n *Node
}

func (f *fakeRegistry) GetNode(_ context.Context, q *registry.IDQuery) (*node.Node, error) {
	f.n.record("GetNode")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nodes[q.ID]; ok {
		return n, nil
	}
	return nil, registry.ErrNoSuchNode
}

// GetNodes returns every registered node, sorted by ID (the registry's
// state order).
func (f *fakeRegistry) GetNodes(context.Context, int64) ([]*node.Node, error) {
	f.n.record("GetNodes")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*node.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out, nil
}

func (f *fakeRegistry) GetNodeByConsensusAddress(_ context.Context, q *registry.ConsensusAddressQuery) (*node.Node, error) {
	f.n.record("GetNodeByConsensusAddress")
	c := f.n.Chain
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if a := AddressOf(n.Consensus.ID); string(a[:]) == string(q.Address) {
			return n, nil
		}
	}
	return nil, registry.ErrNoSuchNode
}
