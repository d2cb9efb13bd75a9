package oasis_node

import (
	"errors"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// startReference is a reference node at height, on our chain.
func startReference(t *testing.T, height int64, epoch int64) *fakenode.Node {
	t.Helper()
	r := fakenode.Start(t)
	r.SetConsensusStatus(&consensus.Status{LatestHeight: height, LatestEpoch: beacon.EpochTime(epoch),
		LatestTime: now.Add(-2 * time.Second), ChainContext: chainContext}, nil)
	return r
}

func withReferences(t *testing.T, address string, refs ...*Reference) *OasisNode {
	t.Helper()
	p := &OasisNode{
		Config:     nodeclient.Config{Address: address, Timeout: config.Duration(2 * time.Second)},
		References: refs,
		Log:        testutil.Logger{},
		now:        func() time.Time { return now },
	}
	require.NoError(t, p.Init())
	t.Cleanup(p.Stop)
	return p
}

func ref(name, address string) *Reference {
	return &Reference{Name: name, Config: nodeclient.Config{Address: address, Timeout: config.Duration(time.Second)}}
}

// split returns a gather's oasis_node point and its oasis_reference points
// by reference name.
func split(t *testing.T, acc *testutil.Accumulator) (telegraf.Metric, map[string]telegraf.Metric) {
	t.Helper()
	var node telegraf.Metric
	refs := map[string]telegraf.Metric{}
	for _, m := range acc.GetTelegrafMetrics() {
		switch m.Name() {
		case Measurement:
			require.Nil(t, node, "one oasis_node point")
			node = m
		case ReferenceMeasurement:
			name, _ := m.GetTag("reference")
			refs[name] = m
			// A reference's point carries our node's tags beside its name.
			id, _ := m.GetTag("node_id")
			require.Equal(t, nodeID.String(), id)
		}
	}
	require.NotNil(t, node)
	return node, refs
}

func field(m telegraf.Metric, name string) any {
	v, _ := m.GetField(name)
	return v
}

func TestReferencesLag(t *testing.T) {
	n := startNode(t) // ours: height 1000, epoch 10
	ahead := startReference(t, 1012, 11)
	behind := startReference(t, 995, 10)
	p := withReferences(t, "unix:"+n.Socket, ref("public", "unix:"+ahead.Socket), ref("sentry", "unix:"+behind.Socket))

	node, refs := split(t, gather(t, p))
	require.Equal(t, int64(1), field(node, "up"))
	require.Equal(t, int64(2), field(node, "references_total"))
	require.Equal(t, int64(2), field(node, "references_up"))
	// The largest lag: behind the reference furthest ahead.
	require.Equal(t, int64(12), field(node, "reference_height_lag"))
	require.Equal(t, int64(1), field(node, "reference_epoch_lag"))
	require.Equal(t, "public", field(node, "reference_ahead"))

	require.Equal(t, map[string]any{"up": int64(1), "latest_height": int64(1012), "epoch": int64(11),
		"latest_block_age_seconds": 2.0, "height_lag": int64(12), "epoch_lag": int64(1)}, refs["public"].Fields())
	require.Equal(t, int64(-5), field(refs["sentry"], "height_lag"), "ahead of a reference: a negative lag")
	// One public call per gather, the chain context with it.
	gather(t, p)
	require.Equal(t, 2, ahead.Calls("Consensus.GetStatus"))
	require.Zero(t, ahead.Calls("GetChainContext"))
	require.Zero(t, ahead.Calls("GetStatus"), "nothing of the node controller")
}

func TestReferenceDownAndBack(t *testing.T) {
	n := startNode(t)
	r1 := startReference(t, 1001, 10)
	r2 := startReference(t, 1003, 10)
	log := &testutil.CaptureLogger{}
	p := withReferences(t, "unix:"+n.Socket, ref("one", "unix:"+r1.Socket), ref("two", "unix:"+r2.Socket))
	p.Log = log

	// One down: the other still gives the lag.
	r2.Stop()
	node, refs := split(t, gather(t, p))
	require.Equal(t, int64(1), field(node, "references_up"))
	require.Equal(t, int64(1), field(node, "reference_height_lag"))
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": nodeclient.ReasonNoSocket}, refs["two"].Fields())
	// Every one down: no lag, references_up 0; our node is still up.
	r1.SetConsensusStatus(nil, errors.New("overloaded"))
	node, refs = split(t, gather(t, p))
	require.Equal(t, int64(1), field(node, "up"))
	require.Equal(t, int64(0), field(node, "references_up"))
	require.Equal(t, int64(2), field(node, "references_total"))
	require.Nil(t, field(node, "reference_height_lag"))
	require.Equal(t, nodeclient.ReasonQueryFailed, field(refs["one"], "down_reason"))
	// Said once per change, not at every gather.
	gather(t, p)
	warnings := 0
	for _, e := range log.Messages() {
		if e.Level == testutil.LevelWarn {
			warnings++
		}
	}
	require.Equal(t, 2, warnings, "%v", log.Messages())

	r1.SetConsensusStatus(&consensus.Status{LatestHeight: 1002, LatestEpoch: 10, LatestTime: now, ChainContext: chainContext}, nil)
	node, _ = split(t, gather(t, p))
	require.Equal(t, int64(1), field(node, "references_up"))
	require.Equal(t, int64(2), field(node, "reference_height_lag"))
}

// A reference on another chain (a testnet endpoint for a mainnet node) is
// no reference: down, other_chain, and no lag from it; also while our node
// is down (the chain it was last seen on). After a network upgrade both
// answer for the new chain, and it counts again.
func TestReferenceOnAnotherChain(t *testing.T) {
	n := startNode(t)
	r := startReference(t, 5_000_000, 30000)
	testnet := "0b91b8e4e44b2003a7c5e23ddadb5e14ef5345c0ebcb3ddcae07fa2f244cab76"
	r.SetConsensusStatus(&consensus.Status{LatestHeight: 5_000_000, LatestEpoch: 30000, LatestTime: now, ChainContext: testnet}, nil)
	p := withReferences(t, "unix:"+n.Socket, ref("testnet", "unix:"+r.Socket))
	node, refs := split(t, gather(t, p))
	require.Equal(t, int64(0), field(node, "references_up"))
	require.Nil(t, field(node, "reference_height_lag"))
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "other_chain"}, refs["testnet"].Fields())

	n.SetStatus(nil, errors.New("restarting"))
	node, refs = split(t, gather(t, p))
	require.Equal(t, int64(0), field(node, "up"))
	require.Equal(t, int64(0), field(node, "references_up"), "still another chain while ours is down")
	require.Equal(t, "other_chain", field(refs["testnet"], "down_reason"))

	// Both on a new chain (the upgrade's genesis): compared again.
	st := validatorStatus()
	st.Consensus.ChainContext = testnet
	st.Consensus.LatestHeight = 4_999_990
	n.SetStatus(st, nil)
	node, _ = split(t, gather(t, p))
	require.Equal(t, int64(1), field(node, "references_up"))
	require.Equal(t, int64(10), field(node, "reference_height_lag"))
}

// A reference that answers but no longer follows the chain is stale:
// down, and no lag from it (it would hide ours falling behind).
func TestStaleReference(t *testing.T) {
	n := startNode(t)
	r := startReference(t, 990, 10)
	r.SetConsensusStatus(&consensus.Status{LatestHeight: 990, LatestEpoch: 10, LatestTime: now.Add(-3 * time.Minute), ChainContext: chainContext}, nil)
	p := withReferences(t, "unix:"+n.Socket, ref("stalled", "unix:"+r.Socket))
	node, refs := split(t, gather(t, p))
	require.Equal(t, int64(0), field(node, "references_up"))
	require.Nil(t, field(node, "reference_height_lag"))
	require.Equal(t, "stale", field(refs["stalled"], "down_reason"))

	// max_block_age is per reference.
	lenient := ref("stalled", "unix:"+r.Socket)
	lenient.MaxBlockAge = config.Duration(5 * time.Minute)
	node, _ = split(t, gather(t, withReferences(t, "unix:"+n.Socket, lenient)))
	require.Equal(t, int64(1), field(node, "references_up"))
	require.Equal(t, int64(-10), field(node, "reference_height_lag"))
}

// Our node down: its up=0 point still says how many references answer,
// with no lag (ours has no height).
func TestReferencesWhileOurNodeIsDown(t *testing.T) {
	r := startReference(t, 1001, 10)
	p := withReferences(t, "unix:/nonexistent/oasis/internal.sock", ref("one", "unix:"+r.Socket))
	p.lastTags["node_id"] = nodeID.String() // as with node_id set
	node, refs := split(t, gather(t, p))
	require.Equal(t, int64(0), field(node, "up"))
	require.Equal(t, int64(1), field(node, "references_up"))
	require.Nil(t, field(node, "reference_height_lag"))
	require.Nil(t, field(refs["one"], "height_lag"))
	require.Equal(t, int64(1001), field(refs["one"], "latest_height"))
}

func TestInitRejectsBadReferences(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refs    []*Reference
		message string
	}{
		{"no name", []*Reference{{Config: nodeclient.Config{Address: "grpc.oasis.io:443"}}}, "reference 1: name is required"},
		{"no address", []*Reference{{Name: "a"}}, `reference "a": address is required`},
		{"twice", []*Reference{ref("a", "grpc.oasis.io:443"), ref("a", "unix:/r/internal.sock")}, `reference 2: name "a" is used twice`},
		{"bad address", []*Reference{ref("a", "http://grpc.oasis.io")}, `reference "a": `},
		{"markup in the name", []*Reference{ref("<b>", "grpc.oasis.io:443")}, `name "<b>": letters, digits`},
		{"negative age", []*Reference{{Name: "a", MaxBlockAge: config.Duration(-time.Second), Config: nodeclient.Config{Address: "grpc.oasis.io:443"}}}, "max_block_age must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &OasisNode{Config: nodeclient.Config{Address: "unix:/n/internal.sock"}, References: tc.refs}
			require.ErrorContains(t, p.Init(), tc.message)
		})
	}
}

// The README documents every field of oasis_reference and the reference
// fields of oasis_node.
func TestReadmeListsReferenceFields(t *testing.T) {
	n := startNode(t)
	r := startReference(t, 1001, 10)
	p := withReferences(t, "unix:"+n.Socket, ref("one", "unix:"+r.Socket), ref("gone", "unix:/nonexistent/r/internal.sock"))
	node, refs := split(t, gather(t, p))
	documented, err := docfields.Fields("README.md", Measurement)
	require.NoError(t, err)
	for name := range node.Fields() {
		require.Contains(t, documented, name)
	}
	documented, err = docfields.Fields("README.md", ReferenceMeasurement)
	require.NoError(t, err)
	var emitted []string
	for _, m := range refs {
		for name := range m.Fields() {
			emitted = append(emitted, name)
		}
	}
	require.ElementsMatch(t, documented, uniq(emitted))
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
