package oasis_signing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/signing"
)

// fetchBatch is how many blocks backfill asks for at once.
const fetchBatch = 32

// maxBlockTries is how many times in a row following may fail on one
// height's block, the node answering with an error each time while it
// serves other blocks, before that height is given up: skipped and
// reported, so that following goes on.
const maxBlockTries = 5

// blockFailures are the failed attempts at one height's block (or its
// validator set).
type blockFailures struct {
	// tries counts the failures with evidence that the node was serving
	// otherwise: the first, and each after which it served another block
	// (or set) before failing again. Failures of a node that serves
	// nothing (down, starting) don't count.
	tries int
	last  time.Time // of the last failed attempt
}

// blockError is a failed call for one height's block, or (set) for its
// validator set.
type blockError struct {
	height int64
	set    bool
	err    error
}

func (e *blockError) Error() string { return fmt.Sprintf("block %d: %v", e.height, e.err) }
func (e *blockError) Unwrap() error { return e.err }

// countFailure notes a failed attempt to follow. A block the node keeps
// failing to serve (an error from the node, not a lost connection) is
// given up after maxBlockTries: the next attempt skips it as it skips an
// undecodable block. Only failures between which the node served other
// blocks (for a validator set: other sets) count: a node that fails every
// block (starting up, its store unavailable) is down, not bad at one
// height, and giving heights up then would lose them; it is retried, with
// up=0, until it serves again. Called with s.mu held.
func (s *OasisSigning) countFailure(acc telegraf.Accumulator, err error) {
	var be *blockError
	if !errors.As(err, &be) || nodeclient.Reason(err) != nodeclient.ReasonQueryFailed {
		return
	}
	if s.blockFails == nil {
		s.blockFails, s.badBlocks = map[int64]*blockFailures{}, map[int64]error{}
	}
	for h := range s.badBlocks {
		if h <= s.tracker.LastHeight {
			delete(s.badBlocks, h) // passed: no longer needed
		}
	}
	for h := range s.blockFails {
		if h <= s.tracker.LastHeight {
			delete(s.blockFails, h)
		}
	}
	f := s.blockFails[be.height]
	if f == nil {
		f = &blockFailures{}
		s.blockFails[be.height] = f
	}
	served := s.blockServed
	if be.set {
		served = s.setServed
	}
	if f.last.IsZero() || served.After(f.last) {
		f.tries++
	}
	f.last = time.Now()
	if f.tries >= maxBlockTries {
		s.badBlocks[be.height] = be.err
		delete(s.blockFails, be.height)
		acc.AddError(fmt.Errorf("block %d: the node failed to serve it %d times (%v); giving it up, its heights are not counted", be.height, maxBlockTries, be.err))
	}
}

// follower is one connected run: from (re)connect to stream failure.
type follower struct {
	s   *OasisSigning
	acc telegraf.Accumulator
	// prev is the block after the last accounted height: accounting height
	// H needs block H (proposer, validator set) and block H+1 (commit).
	prev *blockmeta.Block
	// sets caches validator sets by the header's validators hash, so the
	// set is fetched once per change rather than once per height.
	sets map[string]map[blockmeta.Address]struct{}
	// setHash is the validator set hash of the last height accounted: a
	// change (an epoch's new set) looks the monitored validators up again.
	setHash string
	// observedFrom is when this follower first found the node synced
	// (zero until then): a height whose commit block is older was signed
	// (or missed) while nothing followed a node able to take part (our
	// node or the monitor was down, the connection lost, or the node, just
	// restarted, was still syncing the blocks made meanwhile), and is
	// accounted as unobserved (signing.Height.Unobserved). Block time, not
	// the tip at connect: a node that restarts answers, and serves a tip
	// far behind the network's, long before it can vote again.
	observedFrom time.Time
	// syncChecked is when IsSynced was last asked, while observedFrom is
	// zero (at most once a second, however fast blocks arrive).
	syncChecked time.Time
	// epoch is the epoch of the last height accounted, as the node said
	// (its number, first height and length): asked again only for a
	// height outside it, once an epoch. epochFailed: the last lookup
	// failed (said once until one works again).
	epoch       signing.EpochInfo
	epochFailed bool
}

// run follows the node until ctx ends, starting again after any failure.
func (s *OasisSigning) run(ctx context.Context, acc telegraf.Accumulator) {
	for ctx.Err() == nil {
		f := &follower{s: s, acc: acc, sets: map[string]map[blockmeta.Address]struct{}{}}
		err := f.follow(ctx)
		s.mu.Lock()
		s.connected = false
		if ctx.Err() == nil {
			s.downReason = nodeclient.Reason(err)
			s.countFailure(acc, err)
		}
		s.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStreamStalled) {
			continue // reported by checkStream; follow again at once
		}
		acc.AddError(fmt.Errorf("following blocks: %w (retrying in %s)", err, s.retryDelay))
		select {
		case <-ctx.Done():
		case <-time.After(s.retryDelay):
		}
	}
}

func (f *follower) follow(ctx context.Context) error {
	if err := f.s.resolveMonitored(ctx); err != nil {
		return err
	}
	if err := f.s.checkChain(ctx); err != nil {
		return err
	}
	// Subscribe first, then catch up: a block made in between arrives on
	// the stream and is recognised as already accounted (or as a gap).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.s.mu.Lock()
	f.s.restartStream, f.s.stalledGathers = cancel, 0
	f.s.mu.Unlock()
	blocks, closeSub, err := f.s.client.WatchBlocks(sctx)
	if err != nil {
		return err
	}
	defer closeSub()

	tip, err := f.s.client.LatestHeight(ctx)
	if err != nil {
		return err
	}
	// Not up yet: a node that answers but serves no block is not followed.
	f.s.setTip(tip, false)
	f.s.mu.Lock()
	f.s.streamHeight = tip // the stream starts here
	f.s.mu.Unlock()
	relayDone := make(chan struct{})
	delivered := f.relay(sctx, blocks, relayDone)
	// The relay ends when the stream does: end it, and wait, so that it
	// never writes to the plugin after this follower.
	defer func() { cancel(); <-relayDone }()
	f.checkSynced(ctx)
	if err := f.catchUp(ctx, tip); err != nil {
		return err
	}
	f.s.mu.Lock()
	f.s.connected = true
	f.s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sctx.Done():
			return errStreamStalled
		case blk, ok := <-delivered:
			if !ok {
				switch {
				case ctx.Err() != nil:
					return nil
				case sctx.Err() != nil:
					// Ended by checkStream: the client closes the
					// channel when its context is cancelled.
					return errStreamStalled
				}
				// The node ended the stream: it is stopping, or gone.
				return &nodeclient.ReachError{Reason: nodeclient.ReasonNotAnswering, Err: errors.New("block stream closed by the node")}
			}
			f.s.setTip(blk.Height, true)
			f.checkSynced(ctx)
			if blk.Height < f.nextNeeded() {
				continue // already accounted
			}
			if err := f.catchUp(ctx, blk.Height-1); err != nil {
				return err
			}
			b, err := blockmeta.Decode(blk)
			if err := f.handle(ctx, blk.Height, b, err); err != nil {
				return err
			}
		}
	}
}

// streamBuffer is how many delivered blocks the relay holds for a busy
// follower (an hour of mainnet blocks is 600); a follower further behind
// than that makes the stream look stalled, and is caught up by GetBlock.
const streamBuffer = 1024

// relay reads the block stream on its own, noting each block's arrival
// (streamHeight, for checkStream) before handing it on: the stall check
// then measures what the node delivered, not how far a follower busy with
// slow calls got. The returned channel closes when the stream does, and
// done when the relay has stopped.
func (f *follower) relay(ctx context.Context, blocks <-chan *consensus.Block, done chan<- struct{}) <-chan *consensus.Block {
	out := make(chan *consensus.Block, streamBuffer)
	go func() {
		defer close(done)
		defer close(out)
		for blk := range blocks {
			f.s.mu.Lock()
			if ctx.Err() != nil {
				f.s.mu.Unlock()
				return
			}
			f.s.streamHeight, f.s.blockServed = blk.Height, time.Now()
			f.s.mu.Unlock()
			select {
			case out <- blk:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// catchUp accounts every height up to to-1 (it needs block `to` for the
// commit of to-1), fetching blocks it has not seen.
func (f *follower) catchUp(ctx context.Context, to int64) error {
	s := f.s
	s.mu.Lock()
	last := s.tracker.LastHeight
	s.catchingUp = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.catchingUp = false
		s.mu.Unlock()
	}()

	if last == 0 {
		// First run: start at the tip rather than replaying history.
		s.mu.Lock()
		s.tracker.Skip(to - 1)
		s.mu.Unlock()
		last = to - 1
	}
	if f.prev == nil || f.prev.Height != last+1 {
		f.prev = nil
	}
	// Next height to account is last+1, which needs blocks last+1 and last+2.
	if gap := to - (last + 1); gap > s.BackfillLimit {
		skipTo := to - s.BackfillLimit
		f.reportSkip(last, skipTo, fmt.Sprintf("more than backfill_limit (%d) behind", s.BackfillLimit))
		last, f.prev = skipTo, nil
	}
	if retained, err := s.client.LastRetainedHeight(ctx); err != nil {
		return err
	} else if last+1 < retained {
		f.reportSkip(last, retained-1, fmt.Sprintf("pruned by the node (it keeps heights from %d)", retained))
		last, f.prev = retained-1, nil
	}

	from := last + 1
	if f.prev != nil {
		from = f.prev.Height + 1
	}
	for h := from; h <= to; h += fetchBatch {
		batch, decodeErrs, err := f.fetch(ctx, h, min(h+fetchBatch-1, to))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.connected = true // catching up is following: the node serves blocks
		s.mu.Unlock()
		for i, b := range batch {
			if err := f.handle(ctx, h+int64(i), b, decodeErrs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextNeeded is the height of the next block the follower needs.
func (f *follower) nextNeeded() int64 {
	if f.prev != nil {
		return f.prev.Height + 1
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.s.tracker.LastHeight + 1
}

// reportSkip records heights from+1..to as not counted, and says so.
func (f *follower) reportSkip(from, to int64, why string) {
	f.s.mu.Lock()
	f.s.tracker.Skip(to)
	f.s.mu.Unlock()
	if from+1 == to {
		f.acc.AddError(fmt.Errorf("height %d not counted: %s", to, why))
		return
	}
	f.acc.AddError(fmt.Errorf("heights %d to %d not counted: %s", from+1, to, why))
}

// fetch gets and decodes blocks from..to concurrently, in height order. A
// failed call is an error; a block that fails to decode is reported in
// decodeErrs at its index.
func (f *follower) fetch(ctx context.Context, from, to int64) (blocks []*blockmeta.Block, decodeErrs []error, err error) {
	blocks = make([]*blockmeta.Block, to-from+1)
	decodeErrs = make([]error, len(blocks))
	callErrs := make([]error, len(blocks))
	var wg sync.WaitGroup
	f.s.mu.Lock()
	bad := map[int64]error{}
	for h, err := range f.s.badBlocks {
		if h >= from && h <= to {
			bad[h] = err
		}
	}
	f.s.mu.Unlock()
	for i := range blocks {
		h := from + int64(i)
		if err, ok := bad[h]; ok {
			decodeErrs[i] = fmt.Errorf("block %d: the node failed to serve it %d times: %w", h, maxBlockTries, err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			blk, err := f.s.client.Block(ctx, h)
			if err != nil {
				callErrs[i] = &blockError{height: h, err: err}
				return
			}
			f.s.mu.Lock()
			f.s.blockServed = time.Now()
			f.s.mu.Unlock()
			blocks[i], decodeErrs[i] = blockmeta.Decode(blk)
		}()
	}
	wg.Wait()
	return blocks, decodeErrs, errors.Join(callErrs...)
}

// handle takes the next block, at height h, in order. A block that can't be
// decoded leaves two heights unknowable (h-1, whose commit it carries, and h,
// whose proposer and set it carries): they are reported and skipped, never
// counted as signed or missed.
func (f *follower) handle(ctx context.Context, h int64, b *blockmeta.Block, decodeErr error) error {
	if decodeErr != nil {
		f.s.mu.Lock()
		last := f.s.tracker.LastHeight
		f.s.mu.Unlock()
		f.reportSkip(last, h, decodeErr.Error())
		f.prev = nil
		return nil
	}
	if f.prev == nil {
		f.prev = b
		return nil
	}
	return f.account(ctx, b)
}

// unobserved reports whether the height whose commit block b carries was
// signed (or not) before this follower found the node synced: the votes
// for height H are cast before block H+1, so b's time is when they were
// made.
func (f *follower) unobserved(b *blockmeta.Block) bool {
	return f.observedFrom.IsZero() || b.Time.Before(f.observedFrom)
}

// checkSynced sets observedFrom once the node says it is synced. An error
// is not reported here (the node's state is oasis_node's to report): the
// heights stay unobserved, and it is asked again a second later.
func (f *follower) checkSynced(ctx context.Context) {
	if !f.observedFrom.IsZero() || time.Since(f.syncChecked) < time.Second {
		return
	}
	f.syncChecked = time.Now()
	if synced, err := f.s.client.IsSynced(ctx); err == nil && synced {
		f.observedFrom = time.Now()
	}
}

// account accounts height b.Height-1: its block is f.prev, its commit is in b.
func (f *follower) account(ctx context.Context, b *blockmeta.Block) error {
	prev := f.prev
	if prev == nil || b.Height != prev.Height+1 {
		return fmt.Errorf("internal: block %d does not follow %v", b.Height, prev)
	}
	set, err := f.validatorSet(ctx, prev)
	if err != nil {
		return err
	}
	epoch := f.epochOf(ctx, prev.Height)
	s := f.s
	s.mu.Lock()
	outcomes, err := s.tracker.Apply(signing.Height{
		Height:     prev.Height,
		Set:        set,
		Signers:    b.Signed,
		Voters:     b.Voted,
		Proposer:   prev.Proposer,
		Unobserved: f.unobserved(b),
		Epoch:      epoch,
	}, s.AllValidators)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		id, ok := s.monitored[o.Address]
		if !ok {
			continue
		}
		tags := map[string]string{"consensus_address": o.Address.String(), "node_id": id.NodeID}
		if id.EntityID != "" {
			tags["entity_id"] = id.EntityID
		}
		f.acc.AddFields(BlockMeasurement, map[string]any{
			"height":           prev.Height,
			"signed":           boolInt(o.Status == signing.Signed),
			"proposed":         boolInt(o.Proposed),
			"in_validator_set": boolInt(o.Status != signing.NotInSet),
			"observed":         boolInt(!f.unobserved(b)),
		}, tags, prev.Time)
	}
	f.prev = b
	return nil
}

// epochOf is height h's epoch: the last one known if h is in it, else
// asked from the node. A node that can't say leaves it unknown (zero): the
// height is still accounted, only not in the per-epoch count, whose
// outlook then takes it as possibly signed. A new epoch also reads the
// reward threshold again (a governance change applies at an epoch).
func (f *follower) epochOf(ctx context.Context, h int64) signing.EpochInfo {
	if f.epoch.Contains(h) {
		return f.epoch
	}
	e, err := f.lookupEpoch(ctx, h)
	if err != nil {
		if !f.epochFailed {
			f.s.Log.Warnf("the epoch of height %d: %v; the heights are accounted without their epoch's count until the node says", h, err)
		}
		f.epochFailed = true
		return signing.EpochInfo{}
	}
	f.epochFailed = false
	f.epoch = e
	if p, err := f.s.client.StakingParameters(ctx, h); err == nil {
		f.s.mu.Lock()
		f.s.rewardNum, f.s.rewardDen = p.SigningRewardThresholdNumerator, p.SigningRewardThresholdDenominator
		f.s.mu.Unlock()
	} else {
		f.s.Log.Warnf("the signing reward threshold at height %d: %v", h, err)
	}
	return e
}

func (f *follower) lookupEpoch(ctx context.Context, h int64) (signing.EpochInfo, error) {
	epoch, err := f.s.client.Epoch(ctx, h)
	if err != nil {
		return signing.EpochInfo{}, err
	}
	start, err := f.s.client.EpochStart(ctx, epoch)
	if err != nil {
		return signing.EpochInfo{}, err
	}
	// The epoch ends where the next begins: known once it has begun (a
	// past epoch, in a catch-up), else where it is scheduled. Transitions
	// are not at fixed multiples: the VRF beacon (mainnet) schedules the
	// next one an interval after the current one began, from the
	// genesis's height, and may delay it; the insecure one (the devnet)
	// at the multiples of the interval, so its first epoch is shorter.
	// Without either, the height's epoch is unknown: never miscounted.
	end, err := f.s.client.EpochStart(ctx, epoch+1)
	if err != nil || end <= start {
		next, at, ok, ferr := f.s.client.NextEpoch(ctx)
		switch {
		case ferr != nil:
			return signing.EpochInfo{}, fmt.Errorf("the end of epoch %d: %w", epoch, ferr)
		case !ok || next != epoch+1 || at <= start:
			return signing.EpochInfo{}, fmt.Errorf("the end of epoch %d: the node schedules no next epoch after it", epoch)
		}
		end = at
	}
	e := signing.EpochInfo{Epoch: uint64(epoch), Start: start, Length: end - start}
	if !e.Contains(h) {
		return signing.EpochInfo{}, fmt.Errorf("epoch %d holds heights %d to %d, not height %d", epoch, start, end-1, h)
	}
	return e, nil
}

// validatorSet is the set at b.Height, fetched when its hash is new.
func (f *follower) validatorSet(ctx context.Context, b *blockmeta.Block) (map[blockmeta.Address]struct{}, error) {
	if f.setHash != "" && b.ValidatorsHash != f.setHash {
		if err := f.s.refreshMonitored(ctx); err != nil {
			return nil, err
		}
	}
	f.setHash = b.ValidatorsHash
	if set, ok := f.sets[b.ValidatorsHash]; ok {
		return set, nil
	}
	// A set the node can't serve is that height's failure, like its
	// block's: given up after maxBlockTries (countFailure) if the node
	// serves other sets meanwhile; the latest one is asked for as that
	// evidence (a node failing every set is down, not bad at one height).
	v, err := f.s.client.ConsensusValidators(ctx, b.Height)
	if err != nil {
		if _, probe := f.s.client.ConsensusValidators(ctx, consensus.HeightLatest); probe == nil {
			f.s.mu.Lock()
			f.s.setServed = time.Now()
			f.s.mu.Unlock()
		}
		return nil, &blockError{height: b.Height, set: true, err: fmt.Errorf("its validator set: %w", err)}
	}
	set, err := blockmeta.ValidatorSet(v)
	if err != nil {
		return nil, &blockError{height: b.Height, set: true, err: fmt.Errorf("its validator set: %w", err)}
	}
	f.s.mu.Lock()
	f.s.setServed = time.Now()
	f.s.mu.Unlock()
	f.sets[b.ValidatorsHash] = set
	if f.s.AllValidators {
		f.s.nameValidators(ctx, set, b.Height)
	}
	return set, nil
}

func (s *OasisSigning) setTip(h int64, connected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h > s.tipHeight {
		s.tipHeight = h
	}
	s.connected = connected
}

// checkChain ties the accounts to the node's chain. A state without a
// chain context (saved before it was recorded) takes the node's. On another
// chain (a network upgrade's dump-and-restore, a testnet reset: new
// genesis, new context, heights from a new initial height) a new account
// period starts (Tracker.NewChain), and the log says so: heights of two
// chains are never mixed, nor the new chain's taken for pruning.
func (s *OasisSigning) checkChain(ctx context.Context) error {
	cc, err := s.client.ChainContext(ctx)
	if err != nil {
		if nodeclient.Reason(err) != nodeclient.ReasonQueryFailed {
			return err // the node is not there: following waits for it
		}
		// The node answers, but not this (a proxy that filters it, an
		// older node): follow without the check rather than not at all.
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.chainUnchecked {
			s.chainUnchecked = true
			s.Log.Warnf("reading the chain context: %v; following without telling chains apart (a network upgrade's new chain is not detected)", err)
		}
		return nil
	}
	tip, err := s.client.LatestHeight(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	saved := s.tracker.ChainContext
	if saved == "" && s.tracker.LastHeight > tip {
		// A state from before the context was recorded, ahead of this
		// chain's tip: not this chain.
		saved = "(not recorded)"
	}
	switch saved {
	case cc:
	case "":
		s.tracker.ChainContext = cc
	default:
		old, last := saved, s.tracker.LastHeight
		s.tracker.NewChain(cc)
		s.tipHeight, s.streamHeight = 0, 0
		s.blockFails, s.badBlocks = nil, nil
		s.Log.Warnf("the node is on another chain (context %s; the accounts were for %s up to height %d): a network upgrade or a reset. "+
			"Accounting starts again at the new chain's latest height; totals and uptime windows go on (chain_resets_total %d)",
			cc, old, last, s.tracker.ChainResets)
	}
	return nil
}

// stallBlocks is how far the node's latest height may run ahead of the
// last block the stream delivered, at two gathers in a row, before the
// stream counts as stalled. Blocks come every ~6 s on mainnet and a gather
// every 10 s: a healthy stream is at most a block or two behind.
const stallBlocks = 3

// errStreamStalled ends a follower whose block stream stopped delivering:
// for down_reason, the stream does not answer.
var errStreamStalled = &nodeclient.ReachError{Reason: nodeclient.ReasonNotAnswering, Err: errors.New("block stream stalled")}

// checkStream reads the node's latest height with a unary call, so the tip
// does not come only from the stream: a stream that delivers nothing while
// the node's height advances (stallBlocks or more, two gathers in a row)
// is ended, reported, and following starts again (catching up by
// GetBlock). The call's error is left to the follower to report.
func (s *OasisSigning) checkStream(acc telegraf.Accumulator) {
	s.mu.Lock()
	live := s.connected && !s.catchingUp
	if !live {
		s.stalledGathers = 0
	}
	s.mu.Unlock()
	if !live {
		return // a long catch-up does not read the stream meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeclient.DefaultTimeout)
	tip, err := s.client.LatestHeight(ctx)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	var why string
	switch {
	case err != nil:
		// A node that hangs answers nothing, the stream included.
		why = fmt.Sprintf("the node does not answer GetLatestHeight (%v)", err)
	case tip-s.streamHeight >= stallBlocks:
		why = fmt.Sprintf("its last block is height %d while the node is at %d", s.streamHeight, tip)
	}
	if err == nil && tip > s.tipHeight {
		s.tipHeight = tip
	}
	if why == "" {
		s.stalledGathers = 0
		return
	}
	s.stalledGathers++
	if s.stalledGathers < 2 || s.restartStream == nil {
		return
	}
	acc.AddError(fmt.Errorf("%w: %s; following again", errStreamStalled, why))
	s.stalledGathers = 0
	s.restartStream()
	s.restartStream = nil
}
