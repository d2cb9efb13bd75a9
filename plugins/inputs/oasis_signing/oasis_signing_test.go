package oasis_signing

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// Three validators; "us" is the one monitored.
var (
	usNode, usEntity, usKey = key("us node"), key("us entity"), key("us consensus")
	us                      = fakenode.AddressOf(usKey)
	b                       = fakenode.AddressOf(key("b consensus"))
	c                       = fakenode.AddressOf(key("c consensus"))
	all                     = []fakenode.Address{us, b, c}
)

func key(seed string) signature.PublicKey { return memorySigner.NewTestSigner(seed).Public() }

func signedBy(addrs ...fakenode.Address) map[fakenode.Address]bool {
	m := map[fakenode.Address]bool{}
	for _, a := range addrs {
		m[a] = true
	}
	return m
}

func usDescriptor() *node.Node {
	return &node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion),
		ID:        usNode, EntityID: usEntity,
		Consensus: node.ConsensusInfo{ID: usKey},
		Roles:     node.RoleValidator,
	}
}

func newChainNode(t *testing.T) *fakenode.Node {
	n := fakenode.Start(t)
	n.Chain.AddNode(usDescriptor())
	return n
}

// healthy adds k blocks in which everyone signs and b proposes.
func healthy(n *fakenode.Node, k int) {
	for range k {
		n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)})
	}
}

type running struct {
	p   *OasisSigning
	acc *testutil.Accumulator
}

func startFake(t *testing.T, n *fakenode.Node, state string, configure func(*OasisSigning)) *running {
	t.Helper()
	p := &OasisSigning{
		Config:     nodeclient.Config{Address: "unix:" + n.Socket},
		NodeIDs:    []string{usNode.String()},
		StateFile:  state,
		Log:        testutil.Logger{},
		retryDelay: 50 * time.Millisecond,
	}
	if configure != nil {
		configure(p)
	}
	require.NoError(t, p.Init())
	acc := &testutil.Accumulator{}
	require.NoError(t, p.Start(acc))
	r := &running{p, acc}
	t.Cleanup(r.stop)
	// Wait until the plugin has caught up with the chain as it is now, so
	// that blocks a test adds next are seen as new.
	r.waitHeight(t, n.Chain.Latest()-1)
	return r
}

func (r *running) stop() {
	if r.p.cancel != nil {
		r.p.Stop()
		r.p.cancel = nil
	}
}

func (r *running) waitHeight(t *testing.T, h int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		return r.p.tracker.LastHeight >= h
	}, 10*time.Second, 10*time.Millisecond, "accounted up to %d", h)
}

// summary gathers and returns our validator's summary fields. It takes a
// require.TestingT so an EventuallyWithT condition can call it with its
// CollectT (a failure there retries the condition instead of ending the
// test from another goroutine).
func (r *running) summary(t require.TestingT) map[string]any {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	var acc testutil.Accumulator
	require.NoError(t, r.p.Gather(&acc))
	for _, m := range acc.Metrics {
		if m.Measurement == SummaryMeasurement && m.Tags["consensus_address"] == hexAddr(us) {
			return m.Fields
		}
	}
	require.Failf(t, "no summary", "no summary for our validator in %v", acc.Metrics)
	return nil
}

// follower gathers and returns the input's own oasis_input point: the
// follower's state, one per gather whatever the validators.
func (r *running) follower(t require.TestingT) map[string]any {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	var acc testutil.Accumulator
	require.NoError(t, r.p.Gather(&acc))
	return inputPoint(t, &acc)
}

// inputPoint is the one oasis_input point of a gather.
func inputPoint(t require.TestingT, acc *testutil.Accumulator) map[string]any {
	var found []map[string]any
	for _, m := range acc.Metrics {
		if m.Measurement == inputstatus.Measurement {
			require.Equal(t, "oasis_signing", m.Tags["input"])
			require.True(t, strings.HasPrefix(m.Tags["address"], "unix:"), "tagged with the configured address: %v", m.Tags)
			require.Len(t, m.Tags, 2, "no validator's tags: %v", m.Tags)
			found = append(found, m.Fields)
		}
	}
	require.Len(t, found, 1, "one oasis_input point per gather")
	return found[0]
}

func hexAddr(a fakenode.Address) string { return fmt.Sprintf("%X", a[:]) }

// blockPoints are the per-height points so far (the plugin may be adding more).
func blockPoints(acc *testutil.Accumulator) map[int64]*testutil.Metric {
	acc.Lock()
	defer acc.Unlock()
	out := map[int64]*testutil.Metric{}
	for _, m := range acc.Metrics {
		if m.Measurement == BlockMeasurement {
			out[m.Fields["height"].(int64)] = m
		}
	}
	return out
}

// errorsSoFar are the errors the plugin reported so far.
func errorsSoFar(acc *testutil.Accumulator) []error {
	acc.Lock()
	defer acc.Unlock()
	return append([]error(nil), acc.Errors...)
}

// requireError fails the test unless the plugin reported an error
// containing text.
func requireError(t *testing.T, acc *testutil.Accumulator, text string) {
	t.Helper()
	for _, err := range errorsSoFar(acc) {
		if strings.Contains(err.Error(), text) {
			return
		}
	}
	require.Failf(t, "no such error", "no error contains %q; errors: %v", text, errorsSoFar(acc))
}

func TestCountsEveryHeight(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 5) // heights 1..5 exist before the plugin starts: not counted
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 4)

	// Height h's signatures arrive in block h+1. From height 5 on:
	// 5 signed, 6 and 7 missed, 8 signed and proposed by us, 9 missed.
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)}) // 6; carries 5
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(b, c)})   // 7; carries 6
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: us, Signed: signedBy(b, c)})  // 8; carries 7
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: c, Signed: signedBy(all...)}) // 9; carries 8
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(b, c)})   // 10; carries 9
	r.waitHeight(t, 9)

	f := r.summary(t)
	require.Equal(t, uint64(2), f["signed_total"])
	require.Equal(t, uint64(3), f["missed_total"])
	require.Equal(t, uint64(1), f["proposed_total"])
	require.Equal(t, uint64(1), f["consecutive_missed"])
	require.Equal(t, int64(8), f["last_signed_height"])
	require.Equal(t, int64(1), f["in_validator_set"])
	require.InDelta(t, 0.4, f["uptime_100"], 1e-9)
	// Epoch 0 is heights 1..10 (fakenode.EpochInterval, from genesis
	// height 1): 5..9 accounted, 2 signed; 1..4 before the monitor, 10
	// still to come. At best 7 of 10, short of 3/4: the reward is out of
	// reach.
	require.Equal(t, uint64(0), f["epoch"])
	require.Equal(t, int64(10), f["epoch_length"])
	require.Equal(t, int64(5), f["epoch_heights"])
	require.Equal(t, int64(2), f["epoch_signed"])
	require.Equal(t, int64(3), f["epoch_not_signed"])
	require.Equal(t, int64(4), f["epoch_heights_unknown"])
	require.Equal(t, int64(1), f["epoch_heights_left"])
	require.InDelta(t, 0.7, f["epoch_best_signed_share"], 1e-9)
	require.InDelta(t, 0.75, f["epoch_reward_threshold"], 1e-9)
	require.Equal(t, int64(0), f["epoch_reward_reachable"])
	st := r.follower(t)
	require.Equal(t, int64(9), st["last_height"])
	require.Equal(t, int64(1), st["up"])
	require.Equal(t, int64(1), st["validators_monitored"])

	points := blockPoints(r.acc)
	require.Len(t, points, 5)
	for h, want := range map[int64][2]int64{5: {1, 0}, 6: {0, 0}, 7: {0, 0}, 8: {1, 1}, 9: {0, 0}} {
		require.Equal(t, want[0], points[h].Fields["signed"], "height %d signed", h)
		require.Equal(t, want[1], points[h].Fields["proposed"], "height %d proposed", h)
		require.Equal(t, usNode.String(), points[h].Tags["node_id"])
		require.Equal(t, usEntity.String(), points[h].Tags["entity_id"])
	}
}

// The epoch's count resumes from the state file after a restart, with the
// heights made meanwhile accounted in the catch-up, and starts afresh with
// the next epoch; each figure equals a count over the chain's commits.
func TestEpochCountAcrossARestartAndAnEpoch(t *testing.T) {
	n := newChainNode(t)
	state := filepath.Join(t.TempDir(), "state.json")
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)}) // 1
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)}) // 2
	// A new monitor starts at the tip: height 1 is before it.
	r := startFake(t, n, state, nil)
	// Heights 2..12: we miss 3, 4 and 11 (their commits in 4, 5 and 12).
	missed := map[int64]bool{3: true, 4: true, 11: true}
	add := func(h int64) { // block h, carrying height h-1's commit
		signers := signedBy(all...)
		if missed[h-1] {
			signers = signedBy(b, c)
		}
		n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signers})
	}
	for h := int64(3); h <= 6; h++ {
		add(h)
	}
	r.waitHeight(t, 5)
	r.stop()
	for h := int64(7); h <= 9; h++ { // made while the monitor is down
		add(h)
	}
	r = startFake(t, n, state, nil)
	r.waitHeight(t, 8)
	f := r.summary(t)
	// Epoch 0 (heights 1..10): 2..8 accounted, 3 and 4 missed; 1 unknown.
	require.Equal(t, uint64(0), f["epoch"])
	require.Equal(t, int64(7), f["epoch_heights"])
	require.Equal(t, int64(5), f["epoch_signed"])
	require.Equal(t, int64(1), f["epoch_heights_unknown"])
	require.Equal(t, int64(2), f["epoch_heights_left"])
	require.Equal(t, int64(1), f["epoch_reward_reachable"], "8 of 10 at best")

	for h := int64(10); h <= 13; h++ {
		add(h)
	}
	r.waitHeight(t, 12)
	f = r.summary(t)
	// Epoch 1 (heights 11..20): 11 missed, 12 signed.
	require.Equal(t, uint64(1), f["epoch"])
	require.Equal(t, int64(10), f["epoch_length"])
	require.Equal(t, int64(2), f["epoch_heights"])
	require.Equal(t, int64(1), f["epoch_signed"])
	require.Equal(t, int64(8), f["epoch_heights_left"])
	require.InDelta(t, 0.9, f["epoch_best_signed_share"], 1e-9)
	require.Equal(t, int64(1), f["epoch_reward_reachable"])
}

func TestGapLargerThanBackfillWindow(t *testing.T) {
	n := newChainNode(t)
	state := filepath.Join(t.TempDir(), "state.json")
	healthy(n, 5)
	r := startFake(t, n, state, func(p *OasisSigning) { p.BackfillLimit = 10 })
	healthy(n, 3)
	r.waitHeight(t, 7)
	r.stop() // saves: accounted up to 7

	healthy(n, 30) // tip 38: 30 heights behind, window 10
	r = startFake(t, n, state, func(p *OasisSigning) { p.BackfillLimit = 10 })
	r.waitHeight(t, 37)

	errs := errorsSoFar(r.acc)
	require.NotEmpty(t, errs)
	require.ErrorContains(t, errs[0], "heights 8 to 28 not counted: more than backfill_limit (10) behind")
	require.Equal(t, uint64(21), r.follower(t)["skipped_heights_total"])
	f := r.summary(t)
	require.Equal(t, uint64(3+9), f["signed_total"], "5..7 before, 29..37 after the gap")
	require.Equal(t, uint64(0), f["missed_total"])
}

func TestNodeRestartsMidStream(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	healthy(n, 4)
	r.waitHeight(t, 6)

	n.Stop()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, int64(0), r.follower(c)["up"])
	}, 5*time.Second, 20*time.Millisecond)
	for range 5 { // made while the plugin can't see the node
		n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: us, Signed: signedBy(b, c)})
	}
	require.NoError(t, n.Restart())
	healthy(n, 1)
	r.waitHeight(t, 12)

	st := r.follower(t)
	require.Equal(t, int64(1), st["up"])
	require.Equal(t, uint64(0), st["skipped_heights_total"])
	f := r.summary(t)
	require.Equal(t, uint64(5), f["signed_total"], "heights 3..6 and 12")
	require.Equal(t, uint64(5), f["missed_total"], "heights 7..11, from the backfill")
	require.Equal(t, uint64(5), f["proposed_total"])
	require.Len(t, blockPoints(r.acc), 10, "heights 3..12")
	require.NotEmpty(t, errorsSoFar(r.acc), "the outage was reported")
}

// Heights made while nothing followed a synced node are counted exactly,
// and marked unobserved: the signing alerts read the observed figures, so
// a node outage does not page a second time for its own missed heights.
// A restarted node answers before it has synced (and can vote): heights
// stay unobserved until it says it is synced.
func TestHeightsMissedWhileTheNodeWasDownAreUnobserved(t *testing.T) {
	n := newChainNode(t)
	n.Chain.UseWallClock()
	n.SetSynced(true, nil)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	healthy(n, 4)
	r.waitHeight(t, 6)

	n.Stop()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, int64(0), r.follower(c)["up"])
	}, 5*time.Second, 20*time.Millisecond)
	missed := fakenode.Next{Set: all, Proposer: b, Signed: signedBy(b, c)}
	for range 5 { // blocks 8..12, made while the plugin can't see the node: heights 7..11 missed
		n.Chain.AddBlock(missed)
	}
	n.SetSynced(false, nil) // restarted, it syncs first
	require.NoError(t, n.Restart())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, int64(1), r.follower(c)["up"])
	}, 5*time.Second, 20*time.Millisecond)
	n.Chain.AddBlock(missed) // 13, carries 12: the node answers, but is not synced
	r.waitHeight(t, 12)
	n.SetSynced(true, nil)
	// Synced: from the next check on, what the node sees is observed. Our
	// validator still misses heights; the first observed one ends this.
	var firstObserved int64
	require.Eventually(t, func() bool {
		n.Chain.AddBlock(missed)
		for h, p := range blockPoints(r.acc) {
			if p.Fields["observed"] == int64(1) && h > 6 && (firstObserved == 0 || h < firstObserved) {
				firstObserved = h
			}
		}
		return firstObserved != 0
	}, 10*time.Second, 100*time.Millisecond, "a height followed live once the node is synced")
	n.Chain.AddBlock(missed) // one more observed miss
	last := n.Chain.Latest()
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(all...)}) // height last: signed
	r.waitHeight(t, last)

	points := blockPoints(r.acc)
	var unobserved, observed uint64
	for h := int64(7); h < last; h++ {
		p := points[h]
		require.Equal(t, int64(0), p.Fields["signed"], "height %d", h)
		if h < firstObserved {
			require.Equal(t, int64(0), p.Fields["observed"], "height %d: made while the node was down or syncing", h)
			unobserved++
		} else {
			require.Equal(t, int64(1), p.Fields["observed"], "height %d: followed live, the node synced", h)
			observed++
		}
	}
	require.GreaterOrEqual(t, unobserved, uint64(6), "7..12 at least")
	require.Positive(t, observed)
	f := r.summary(t)
	require.Equal(t, unobserved+observed, f["missed_total"], "every missed height counts")
	require.Equal(t, unobserved, f["missed_unobserved_total"])
	require.Equal(t, uint64(0), f["consecutive_missed"], "signed at the last height")
	require.Equal(t, uint64(0), f["consecutive_missed_observed"])
	signed := 4 + 1 // 3..6 and the last
	require.InDelta(t, float64(signed)/float64(signed+int(unobserved+observed)), f["uptime_100"], 1e-9)
	require.InDelta(t, float64(signed)/float64(signed+int(observed)), f["uptime_observed_100"], 1e-9, "without the unobserved")
}

func TestValidatorLeavesAndRejoinsTheSet(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	others := []fakenode.Address{b, c}
	for range 4 { // heights 4..7 without us in the set
		n.Chain.AddBlock(fakenode.Next{Set: others, Proposer: b, Signed: signedBy(all...)})
	}
	n.Chain.AddBlock(fakenode.Next{Set: all, Proposer: b, Signed: signedBy(b, c)}) // 8
	r.waitHeight(t, 7)
	f := r.summary(t)
	require.Equal(t, int64(0), f["in_validator_set"])
	require.Equal(t, uint64(0), f["missed_total"], "out of the set is not missed")
	require.Equal(t, uint64(0), f["consecutive_missed"])

	healthy(n, 3) // back in the set from height 8
	r.waitHeight(t, 10)
	f = r.summary(t)
	require.Equal(t, int64(1), f["in_validator_set"])
	require.Equal(t, uint64(1+3), f["signed_total"], "heights 3 and 8..10")
	points := blockPoints(r.acc)
	for h := int64(4); h <= 7; h++ {
		require.Equal(t, int64(0), points[h].Fields["in_validator_set"], "height %d", h)
		require.Equal(t, int64(0), points[h].Fields["signed"])
	}
}

func TestMalformedMetaIsReportedNotCounted(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	n.Stop() // so the bad block is met in backfill, as from a node's store
	healthy(n, 4)
	n.Chain.SetMeta(5, cbor.Marshal(42))
	require.NoError(t, n.Restart())
	healthy(n, 2)
	r.waitHeight(t, 8)

	requireError(t, r.acc, "heights 4 to 5 not counted: block 5: decoding meta")
	require.Equal(t, uint64(2), r.follower(t)["skipped_heights_total"])
	f := r.summary(t)
	require.Equal(t, uint64(1+3), f["signed_total"], "3 and 6..8; not 4 or 5")
	require.Equal(t, uint64(0), f["missed_total"])
	points := blockPoints(r.acc)
	require.NotContains(t, points, int64(4))
	require.NotContains(t, points, int64(5))
}

// A height whose block the node can't serve (GetBlock answers an error
// there, every time) used to stop the follower for good: it retried that
// height forever while the summary said up=1. Now it is given up after
// maxBlockTries: reported, its two heights (the block's own and the one
// whose commit it carries) counted in skipped_heights_total, and every
// other height accounted exactly.
func TestBlockTheNodeCannotServe(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	n.Stop() // so the bad block is met in backfill, fetched by GetBlock
	healthy(n, 4)
	n.Chain.FailBlock(5, errors.New("grpc: received message larger than max"))
	require.NoError(t, n.Restart())
	healthy(n, 2)
	r.waitHeight(t, 8)

	requireError(t, r.acc, "block 5: the node failed to serve it 5 times")
	st := r.follower(t)
	require.Equal(t, int64(1), st["up"])
	require.Equal(t, uint64(2), st["skipped_heights_total"])
	f := r.summary(t)
	require.Equal(t, uint64(1+3), f["signed_total"], "3 and 6..8; not 4 or 5")
	require.Equal(t, uint64(0), f["missed_total"])
	points := blockPoints(r.acc)
	require.NotContains(t, points, int64(4))
	require.NotContains(t, points, int64(5))
	require.GreaterOrEqual(t, n.Calls("GetBlock"), maxBlockTries, "tried before giving up")
}

// A height whose validator set the node can't serve is given up like a
// block it can't serve: that height only (the one before it is accounted
// from its own set and this block's commit), reported, and following goes
// on.
func TestValidatorSetTheNodeCannotServe(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	n.Stop()
	healthy(n, 1)                                                                                          // 4
	n.Chain.AddBlock(fakenode.Next{Set: []fakenode.Address{us, b}, Proposer: b, Signed: signedBy(all...)}) // 5: a new set
	healthy(n, 4)                                                                                          // 6..9
	n.Chain.FailValidators(5, errors.New("state not available"))
	require.NoError(t, n.Restart())
	r.waitHeight(t, 8)

	requireError(t, r.acc, "block 5: the node failed to serve it 5 times (its validator set: Consensus.GetValidators")
	requireError(t, r.acc, "height 5 not counted: ")
	require.Equal(t, uint64(1), r.follower(t)["skipped_heights_total"])
	require.Equal(t, uint64(5), r.summary(t)["signed_total"], "3, 4 and 6..8; not 5")
	require.NotContains(t, blockPoints(r.acc), int64(5))
}

// A node that fails every block it is asked for (starting up, its store
// unavailable) is down, not bad at one height: nothing is given up however
// often it fails, and once it serves again every height is accounted.
func TestNodeFailingEveryBlockLosesNoHeight(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	n.Stop()
	healthy(n, 4) // heights 4..7, all of them failing
	for h := int64(3); h <= 7; h++ {
		n.Chain.FailBlock(h, errors.New("storage unavailable"))
	}
	n.Chain.StallStream(true) // nor does the stream deliver one
	require.NoError(t, n.Restart())
	require.Eventually(t, func() bool {
		return n.Calls("GetBlock") >= 5*(maxBlockTries+2)
	}, 20*time.Second, 20*time.Millisecond, "more failed attempts than maxBlockTries at each height")
	for _, err := range errorsSoFar(r.acc) {
		require.NotContains(t, err.Error(), "giving it up", "a node failing every block gives no height up")
	}
	require.Equal(t, int64(0), r.follower(t)["up"], "and says it can't follow")

	for h := int64(3); h <= 7; h++ {
		n.Chain.FailBlock(h, nil)
	}
	n.Chain.StallStream(false)
	healthy(n, 1)
	r.waitHeight(t, 7)
	st := r.follower(t)
	require.Equal(t, int64(1), st["up"])
	require.Equal(t, uint64(0), st["skipped_heights_total"])
	require.Equal(t, uint64(5), r.summary(t)["signed_total"], "heights 3..7, none lost")
}

// A block stream that stops delivering while the node's unary calls
// answer used to look healthy: up=1, lag 0, totals frozen. Now each gather
// also reads the node's height; a stream stallBlocks or more behind at two
// gathers in a row is ended and reported, and following starts again,
// catching up by GetBlock: every height accounted exactly once.
func TestStalledStreamIsRestarted(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	healthy(n, 2)
	r.waitHeight(t, 4)
	require.Empty(t, errorsSoFar(r.acc))
	base := r.summary(t)["signed_total"].(uint64) // up to height 4

	n.Chain.StallStream(true)
	healthy(n, 5) // heights 6..10 exist; the stream delivers none of them
	// Gathers into the plugin's own accumulator, as Telegraf's one is.
	require.NoError(t, r.p.Gather(r.acc))
	first := inputPoint(t, r.acc)
	require.Equal(t, int64(1), first["up"])
	require.Equal(t, int64(6), first["lag_blocks"], "the tip comes from a unary call too: 10 - 4")
	require.Empty(t, errorsSoFar(r.acc), "one gather behind is not a stall yet")
	require.NoError(t, r.p.Gather(r.acc)) // the second gather in a row: stalled

	requireError(t, r.acc, "block stream stalled: its last block is height 5 while the node is at 10; following again")
	r.waitHeight(t, 9) // caught up by GetBlock, with the stream still stalled
	for _, err := range errorsSoFar(r.acc) {
		require.NotContains(t, err.Error(), "following blocks", "the restart is reported once, as a stall")
	}
	n.Chain.StallStream(false)
	healthy(n, 1)
	r.waitHeight(t, 10)
	require.Equal(t, base+6, r.summary(t)["signed_total"], "heights 5..10, each once")
	require.Equal(t, uint64(0), r.follower(t)["skipped_heights_total"])
	points := blockPoints(r.acc)
	for h := int64(5); h <= 10; h++ {
		require.Contains(t, points, h)
	}
}

// A follower busy with slow calls (a validator set the node takes 1.5 s
// to serve, at each of four set changes) while the stream delivers on
// time is not a stalled stream: the stall check measures what the stream
// delivered, not how far the follower got, so nothing is restarted.
func TestBusyFollowerIsNotAStall(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	r.waitHeight(t, 2)
	n.Delay("GetValidators(consensus)", 1500*time.Millisecond)
	for _, set := range [][]fakenode.Address{{us, b}, {us, c}, {us}, {us, b, c}} {
		n.Chain.AddBlock(fakenode.Next{Set: set, Proposer: us, Signed: signedBy(all...)}) // 4..7, a new set each
	}
	healthy(n, 3) // 8..10
	for range 3 {
		time.Sleep(time.Second) // the follower is still at the first set changes
		require.NoError(t, r.p.Gather(r.acc))
	}
	r.p.mu.Lock()
	behind := r.p.tracker.LastHeight < 7
	r.p.mu.Unlock()
	require.True(t, behind, "the test gathered while the follower was busy")
	n.Delay("GetValidators(consensus)", 0)
	r.waitHeight(t, 9)
	for _, err := range errorsSoFar(r.acc) {
		require.NotContains(t, err.Error(), "stalled", "a busy follower is not a stalled stream")
	}
	require.Equal(t, uint64(0), r.follower(t)["skipped_heights_total"])
	require.Equal(t, uint64(7), r.summary(t)["signed_total"], "heights 3..9, each once")
}

// A new chain (a network upgrade's dump-and-restore, a reset: new genesis,
// new chain context, heights from a new initial height) used to freeze the
// accounts: heights at or below the saved one were dropped as already
// accounted while the summary said up=1. Now the state records its chain;
// on another one a new account period starts at its latest height, says
// so in the log and in chain_resets_total, and counts on, exactly.
func TestNewChainStartsANewAccountPeriod(t *testing.T) {
	a := newChainNode(t)
	a.Chain.SetChainContext("chain-A")
	healthy(a, 3)
	state := filepath.Join(t.TempDir(), "state.json")
	r := startFake(t, a, state, nil)
	healthy(a, 5)
	r.waitHeight(t, 7)
	before := r.summary(t)
	beforeSt := r.follower(t)
	require.Equal(t, uint64(0), beforeSt["chain_resets_total"])
	require.Equal(t, "chain-A", beforeSt["chain_context"])
	r.stop()
	a.Stop()

	b := newChainNode(t) // its heights start again at 1
	b.Chain.SetChainContext("chain-B")
	healthy(b, 3)
	log := &testutil.CaptureLogger{}
	r = startFake(t, b, state, func(p *OasisSigning) { p.Log = log })
	// startFake's wait is met by chain A's saved height: wait for the new
	// period to start at chain B's tip (height 3, so 2 is the last counted).
	require.Eventually(t, func() bool {
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		return r.p.tracker.ChainResets == 1 && r.p.tracker.LastHeight == 2
	}, 10*time.Second, 10*time.Millisecond, "a new account period on chain B")
	healthy(b, 3)
	r.waitHeight(t, 5)
	st := r.follower(t)
	require.Equal(t, int64(1), st["up"])
	require.Equal(t, uint64(1), st["chain_resets_total"])
	require.Equal(t, "chain-B", st["chain_context"])
	require.Equal(t, int64(5), st["last_height"], "heights of chain B")
	require.Equal(t, beforeSt["skipped_heights_total"], st["skipped_heights_total"], "chain B's low heights are not pruning")
	require.Equal(t, before["signed_total"].(uint64)+3, r.summary(t)["signed_total"], "totals go on: chain B's heights 3..5 added")
	require.Empty(t, errorsSoFar(r.acc))
	require.Contains(t, strings.Join(log.Warnings(), "\n"),
		"the node is on another chain (context chain-B; the accounts were for chain-A up to height 7)")
	points := blockPoints(r.acc)
	for h := int64(3); h <= 5; h++ {
		require.Contains(t, points, h, "chain B's height %d accounted", h)
	}

	// Back on the same chain after a restart: nothing resets.
	r.stop()
	r = startFake(t, b, state, nil)
	require.Equal(t, uint64(1), r.follower(t)["chain_resets_total"])
}

func TestAllValidators(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), func(p *OasisSigning) { p.AllValidators = true })
	healthy(n, 3)
	r.waitHeight(t, 5)
	var acc testutil.Accumulator
	require.NoError(t, r.p.Gather(&acc))
	require.Len(t, acc.Metrics, 1+3, "the input's point and a summary per validator in the set")
	require.Equal(t, int64(3), inputPoint(t, &acc)["validators_tracked"])
	// Ours is marked, so a dashboard can tell it from the rest.
	ours := 0
	for _, m := range acc.Metrics {
		if m.Measurement != SummaryMeasurement {
			continue
		}
		if m.Fields["monitored"] == int64(1) {
			ours++
			require.Equal(t, usNode.String(), m.Tags["node_id"], "monitored=1 is the monitored validator")
		} else {
			require.Equal(t, int64(0), m.Fields["monitored"])
		}
	}
	require.Equal(t, 1, ours)
	for _, m := range blockPoints(r.acc) {
		require.Equal(t, usNode.String(), m.Tags["node_id"], "per-height points only for the monitored validator")
	}
}

func TestInitRejectsBadSettings(t *testing.T) {
	for name, tc := range map[string]struct {
		p    *OasisSigning
		want string
	}{
		"no state file":     {&OasisSigning{Config: nodeclient.Config{Address: "/n/internal.sock"}}, `state_file is required`},
		"relative state":    {&OasisSigning{Config: nodeclient.Config{Address: "/n/internal.sock"}, StateFile: "state.json"}, `must be an absolute path`},
		"bad node id":       {&OasisSigning{Config: nodeclient.Config{Address: "/n/internal.sock"}, StateFile: "/s.json", NodeIDs: []string{"x"}}, `node_ids "x"`},
		"bad entity id":     {&OasisSigning{Config: nodeclient.Config{Address: "/n/internal.sock"}, StateFile: "/s.json", EntityIDs: []string{"y"}}, `entity_ids "y"`},
		"negative backfill": {&OasisSigning{Config: nodeclient.Config{Address: "/n/internal.sock"}, StateFile: "/s.json", BackfillLimit: -1}, `backfill_limit -1`},
		"bad address":       {&OasisSigning{Config: nodeclient.Config{Address: "sock"}, StateFile: "/s.json"}, `address "sock"`},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorContains(t, tc.p.Init(), tc.want)
		})
	}
}

func TestReadmeListsEveryField(t *testing.T) {
	documented, err := docfields.Read("README.md")
	require.NoError(t, err)
	n := newChainNode(t)
	healthy(n, 3)
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), nil)
	healthy(n, 2)
	r.waitHeight(t, 3)
	var emitted []docfields.Field
	for k := range r.summary(t) {
		emitted = append(emitted, docfields.Field{Measurement: SummaryMeasurement, Name: k})
	}
	for k := range blockPoints(r.acc)[3].Fields {
		emitted = append(emitted, docfields.Field{Measurement: BlockMeasurement, Name: k})
	}
	for k := range r.follower(t) {
		emitted = append(emitted, docfields.Field{Measurement: inputstatus.Measurement, Name: k})
	}
	// down_reason and failed_reads come only with up=0 (TestDownReason).
	emitted = append(emitted, docfields.Field{Measurement: inputstatus.Measurement, Name: "down_reason"},
		docfields.Field{Measurement: inputstatus.Measurement, Name: "failed_reads"})
	require.ElementsMatch(t, emitted, documented)
}

// A node that can't be read is up=0 with down_reason saying why, as
// oasis_node says it (no_socket here), so alerts can tell a stopped node
// from a monitor that may not use the socket.
func TestDownReason(t *testing.T) {
	p := &OasisSigning{
		Config:     nodeclient.Config{Address: "unix:" + filepath.Join(t.TempDir(), "internal.sock")},
		StateFile:  filepath.Join(t.TempDir(), "state.json"),
		Log:        testutil.Logger{},
		retryDelay: 50 * time.Millisecond,
	}
	require.NoError(t, p.Init())
	require.NoError(t, p.Start(&testutil.Accumulator{}))
	defer p.Stop()
	var last map[string]any
	require.Eventually(t, func() bool {
		var acc testutil.Accumulator
		if p.Gather(&acc) != nil || len(acc.Metrics) != 1 || acc.Metrics[0].Measurement != inputstatus.Measurement {
			return false
		}
		last = acc.Metrics[0].Fields
		return last["down_reason"] != nil
	}, 10*time.Second, 20*time.Millisecond, "a down_reason once the first attempt failed")
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket", "failed_reads": int64(1),
		"state_saved": int64(1), "state_resets_total": uint64(0), "chain_resets_total": uint64(0), "skipped_heights_total": uint64(0),
		"validators_monitored": int64(0), "validators_tracked": int64(0)}, last,
		"before the node was ever read: the input's point alone, with no validator's tags")
}

// A validator no longer configured stops being reported, even though the
// state file still holds its account.
func TestDropsValidatorsNoLongerMonitored(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	state := filepath.Join(t.TempDir(), "state.json")
	r := startFake(t, n, state, func(p *OasisSigning) { p.AllValidators = true })
	healthy(n, 2)
	r.waitHeight(t, 3)
	r.stop()

	r = startFake(t, n, state, nil) // now only node_ids = [us]
	healthy(n, 1)
	// Block 6 makes height 5 accountable: wait for it, not for 4, or the
	// count below races the follower.
	r.waitHeight(t, 5)
	// Until the plugin has reached the node and resolved what it monitors,
	// it reports the saved accounts as they are (with up=0).
	var summaries []*testutil.Metric
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		acc := testutil.Accumulator{}
		require.NoError(c, r.p.Gather(&acc))
		assert.Equal(c, int64(1), inputPoint(c, &acc)["up"])
		summaries = nil
		for _, m := range acc.Metrics {
			if m.Measurement == SummaryMeasurement {
				summaries = append(summaries, m)
			}
		}
		require.Len(c, summaries, 1)
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, hexAddr(us), summaries[0].Tags["consensus_address"])
	require.Equal(t, uint64(3), summaries[0].Fields["signed_total"], "our counts are kept: heights 3..5")
}

// A state file that can't be resumed never stops monitoring: it is moved
// aside (kept, named), the accounts start afresh, state_resets_total says
// so and the log says which file, why and where it went. Before, each of
// these crash-looped the plugin (invalid JSON) or panicked (the others).
func TestBadStateFileIsMovedAside(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":      `{"accounts":{`,
		"null account":  `{"last_height":5,"accounts":{"` + hexAddr(us) + `":null}}`,
		"short history": `{"last_height":5,"accounts":{"` + hexAddr(us) + `":{"history":"AAAA","history_len":3}}}`,
		"bad address":   `{"last_height":5,"accounts":{"zz":{}}}`,
		"negative":      `{"last_height":-3,"accounts":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state.json")
			require.NoError(t, os.WriteFile(state, []byte(content), 0o600))
			n := newChainNode(t)
			healthy(n, 3)
			log := &testutil.CaptureLogger{}
			r := startFake(t, n, state, func(p *OasisSigning) { p.Log = log })
			healthy(n, 2)
			r.waitHeight(t, 4)

			st := r.follower(t)
			require.Equal(t, int64(1), st["up"])
			require.Equal(t, uint64(1), st["state_resets_total"])
			require.Equal(t, int64(1), st["state_saved"])
			require.LessOrEqual(t, r.summary(t)["signed_total"], uint64(3), "fresh accounts, from the node's latest height")

			aside, err := filepath.Glob(state + ".bad-*")
			require.NoError(t, err)
			require.Len(t, aside, 1, "the bad state is kept")
			kept, err := os.ReadFile(aside[0])
			require.NoError(t, err)
			require.Equal(t, content, string(kept))
			errs := strings.Join(log.Errors(), "\n")
			require.Contains(t, errs, "state file "+state)
			require.Contains(t, errs, "moved it aside to "+aside[0]+" and started the accounts afresh (state_resets_total 1)")

			// The fresh state is saved and resumes on the next start.
			r.stop()
			r = startFake(t, n, state, nil)
			require.Equal(t, uint64(1), r.follower(t)["state_resets_total"], "the count survives restarts")
		})
	}
}

// A state directory the plugin can't write to is reported at start and on
// every summary (state_saved=0), not only logged; the plugin keeps going.
func TestUnwritableStateDir(t *testing.T) {
	dir := t.TempDir()
	if os.Getuid() == 0 {
		// Root writes through any mode: a read-only mount stops it.
		out, err := exec.Command("mount", "--bind", "-o", "ro", dir, dir).CombinedOutput()
		require.NoError(t, err, "mount: %s", out)
		t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	} else {
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	n := newChainNode(t)
	healthy(n, 3)
	log := &testutil.CaptureLogger{}
	r := startFake(t, n, filepath.Join(dir, "state.json"), func(p *OasisSigning) { p.Log = log })
	require.Contains(t, strings.Join(log.Errors(), "\n"), "make "+dir+" writable by user ")
	var acc testutil.Accumulator
	require.NoError(t, r.p.Gather(&acc))
	require.NotEmpty(t, acc.Errors, "the failed save is a gather error")
	require.Equal(t, int64(0), inputPoint(t, &acc)["state_saved"])
}

// Which validators are monitored used to be decided once per process: an
// entity of entity_ids with no node in the set at start stopped the
// follower, and a node that joined later was never picked up. Now the
// entity is logged and the follower goes on; when the validator set
// changes, the configured validators are looked up again and a new one is
// monitored from the height it joined, exactly.
func TestEntityNodeJoinsTheSetLater(t *testing.T) {
	n := newChainNode(t)
	others := []fakenode.Address{b, c}
	for range 3 {
		n.Chain.AddBlock(fakenode.Next{Set: others, Proposer: b, Signed: signedBy(others...)})
	}
	n.SetValidators(nil, nil) // the entity has no node in the set yet
	log := &testutil.CaptureLogger{}
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), func(p *OasisSigning) {
		p.NodeIDs, p.EntityIDs, p.Log = nil, []string{usEntity.String()}, log
	})
	require.Contains(t, strings.Join(log.Warnings(), "\n"), "entity_ids: entity "+usEntity.String()+" has no node in the validator set yet")
	for range 2 {
		n.Chain.AddBlock(fakenode.Next{Set: others, Proposer: b, Signed: signedBy(others...)})
	}
	r.waitHeight(t, 4)

	// An epoch later our node is in the set (heights 6 on).
	n.SetValidators([]*scheduler.Validator{{ID: usNode, EntityID: usEntity, VotingPower: 1}}, nil)
	healthy(n, 4) // heights 6..9, all signing
	r.waitHeight(t, 8)
	var infos []string
	for _, m := range log.Messages() {
		if m.Level == testutil.LevelInfo {
			infos = append(infos, m.Text)
		}
	}
	require.Contains(t, strings.Join(infos, "\n"), "now monitoring validator "+hexAddr(us))
	f := r.summary(t)
	require.Equal(t, uint64(3), f["signed_total"], "heights 6..8, from the height it joined")
	require.Equal(t, uint64(0), f["missed_total"])
	require.Equal(t, int64(1), f["monitored"])
	points := blockPoints(r.acc)
	for h := int64(6); h <= 8; h++ {
		require.Equal(t, int64(1), points[h].Fields["signed"], "height %d", h)
	}
	require.NotContains(t, points, int64(5), "before it joined, no per-height point")
}

// A node that comes back with a new consensus key (an identity swap at an
// upgrade) is picked up at the reconnect, not only at the next validator
// set change: its heights from then on are accounted under its new
// address.
func TestNewConsensusKeyAfterANodeRestart(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	log := &testutil.CaptureLogger{}
	r := startFake(t, n, filepath.Join(t.TempDir(), "state.json"), func(p *OasisSigning) { p.Log = log })
	r.waitHeight(t, 2)
	newKey := key("us consensus, after the upgrade")
	us2 := fakenode.AddressOf(newKey)
	set := []fakenode.Address{us2, b, c}
	// Block 4 is in the new set and carries height 3's commit, by the old
	// one; the plugin accounts 3 and then loses the node.
	n.Chain.AddBlock(fakenode.Next{Set: set, Proposer: b, Signed: signedBy(all...)})
	r.waitHeight(t, 3)
	n.Stop()
	d := usDescriptor()
	d.Consensus.ID = newKey
	n.Chain.AddNode(d)
	for range 3 { // heights 5..7
		n.Chain.AddBlock(fakenode.Next{Set: set, Proposer: b, Signed: signedBy(set...)})
	}
	require.NoError(t, n.Restart())
	for range 3 { // 8..10: the first height accounted after the restart (4)
		// is already in the new set, so no set change is seen from here on
		n.Chain.AddBlock(fakenode.Next{Set: set, Proposer: b, Signed: signedBy(set...)})
	}
	r.waitHeight(t, 9)
	require.Contains(t, strings.Join(func() []string {
		var out []string
		for _, m := range log.Messages() {
			out = append(out, m.Text)
		}
		return out
	}(), "\n"), "now monitoring validator "+hexAddr(us2))
	var acc testutil.Accumulator
	require.NoError(t, r.p.Gather(&acc))
	var signed any
	for _, m := range acc.Metrics {
		if m.Measurement == SummaryMeasurement && m.Tags["consensus_address"] == hexAddr(us2) {
			signed = m.Fields["signed_total"]
			require.Equal(t, usNode.String(), m.Tags["node_id"])
		}
	}
	require.Equal(t, uint64(6), signed, "heights 4..9 under the new key")
}

// A restart while the entity's node is out of the validator set (not
// elected for an epoch) keeps its saved accounts: they are the ones it
// resumes when it is back.
func TestEntityOutOfTheSetKeepsItsAccounts(t *testing.T) {
	n := newChainNode(t)
	healthy(n, 3)
	n.SetValidators([]*scheduler.Validator{{ID: usNode, EntityID: usEntity, VotingPower: 1}}, nil)
	state := filepath.Join(t.TempDir(), "state.json")
	byEntity := func(p *OasisSigning) { p.NodeIDs, p.EntityIDs = nil, []string{usEntity.String()} }
	r := startFake(t, n, state, byEntity)
	healthy(n, 3)
	r.waitHeight(t, 5)
	before := r.summary(t)["signed_total"]
	r.stop()

	n.SetValidators(nil, nil)
	r = startFake(t, n, state, byEntity)
	require.Equal(t, before, r.summary(t)["signed_total"], "the saved account is kept, not dropped")
}
