package oasis_runtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"
	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/version"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
	"github.com/oasisprotocol/oasis-core/go/roothash/api/block"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	commonWorker "github.com/oasisprotocol/oasis-core/go/worker/common/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

var (
	ourNode, otherNode = key("compute node"), key("other compute node")
	ourEntity          = key("entity")
	sapphire           = ns("000000000000000000000000000000000000000000000000f80306c9858e7279")
	devRuntime         = ns("0000000000000000000000000000000000000000000000006f6d636465767274")
)

func key(seed string) signature.PublicKey { return memorySigner.NewTestSigner(seed).Public() }

func ns(hex string) common.Namespace {
	var n common.Namespace
	if err := n.UnmarshalHex(hex); err != nil {
		panic(err)
	}
	return n
}

// world is a compute node hosting Sapphire at height 10, epoch 4: second
// of two workers, 8 of 10 rounds live this epoch (the runtime needs 90 %),
// the last normal round at height 8.
type world struct {
	n          *fakenode.Node
	normalTime time.Time
	now        time.Time
}

func start(t *testing.T) *world {
	n := fakenode.Start(t)
	w := &world{n: n}
	for h := int64(1); h <= 10; h++ {
		b := n.Chain.AddBlock(fakenode.Next{})
		if h == 8 {
			w.normalTime = b.Time
		}
	}
	w.now = w.normalTime.Add(12 * time.Second)
	v := version.Version{Major: 1, Minor: 2, Patch: 3}
	n.SetStatus(&control.Status{
		Identity:  control.IdentityStatus{Node: ourNode},
		Consensus: &consensus.Status{LatestHeight: 10, LatestEpoch: 4},
		Runtimes: map[common.Namespace]control.RuntimeStatus{sapphire: {
			LatestRound: 41,
			Provisioner: "sandbox",
			Committee: &commonWorker.Status{
				Status: commonWorker.StatusStateReady, ActiveVersion: &v, LatestRound: 41, Peers: []string{"a", "b", "c"},
			},
		}},
	}, nil)
	n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity, Expiration: 6,
		Roles: node.RoleComputeWorker, Runtimes: []*node.Runtime{{ID: sapphire}},
	})
	l := n.Ledger
	l.Lock()
	defer l.Unlock()
	l.NodeStatuses[ourNode] = &registry.NodeStatus{}
	l.RuntimeStates[sapphire] = &roothash.RuntimeState{
		Runtime: &registry.Runtime{ID: sapphire, Executor: registry.ExecutorParameters{
			MinLiveRoundsPercent: 90, MinLiveRoundsForEvaluation: 5, MaxLivenessFailures: 3,
		}},
		LastBlock:        &block.Block{Header: block.Header{Round: 42, HeaderType: block.Normal}},
		LastNormalRound:  42,
		LastNormalHeight: 8,
		Committee: &scheduler.Committee{Kind: scheduler.KindComputeExecutor, Members: []*scheduler.CommitteeNode{
			{Role: scheduler.RoleWorker, PublicKey: otherNode},
			{Role: scheduler.RoleWorker, PublicKey: ourNode},
		}},
		LivenessStatistics: &roothash.LivenessStatistics{
			TotalRounds: 10, LiveRounds: []uint64{10, 8}, FinalizedProposals: []uint64{5, 4}, MissedProposals: []uint64{0, 1},
		},
	}
	return w
}

func (w *world) plugin(t *testing.T, set func(*OasisRuntime)) *OasisRuntime {
	p := &OasisRuntime{Config: nodeclient.Config{Address: "unix:" + w.n.Socket}, Log: testutil.Logger{}, now: func() time.Time { return w.now }}
	if set != nil {
		set(p)
	}
	require.NoError(t, p.Init())
	t.Cleanup(p.Stop)
	return p
}

func TestEveryField(t *testing.T) {
	w := start(t)
	acc := acctest.Gather(t, w.plugin(t, nil))
	require.Empty(t, acc.Errors)
	require.Equal(t, map[string]any{
		"up": int64(1), "node_registered": int64(1),
		"runtime_suspended": int64(0), "tee_hardware": "invalid",
		"min_live_rounds_share": 0.9, "max_liveness_failures": int64(3),
		"round": int64(42), "last_block_kind": "normal", "last_normal_round": int64(42),
		"last_normal_round_age_seconds": 12.0,
		"in_committee":                  int64(1), "committee_size": int64(2), "committee_role": "worker",
		"total_rounds": int64(10), "live_rounds": int64(8), "live_rounds_min": int64(9), "live_rounds_share": 0.8,
		"finalized_proposals": int64(4), "missed_proposals": int64(1),
		"liveness_evaluated": int64(1), "liveness_ok": int64(0),
		"node_suspended": int64(0), "liveness_failures": int64(0), "suspended_until_epoch": int64(0),
		"hosted": int64(1), "node_latest_round": int64(41), "round_lag": int64(1), "provisioner": "sandbox",
		"ready": int64(1), "host_status": "ready", "peers": int64(3), "active_version": "1.2.3",
	}, acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String()))
	tags := acctest.ByTags(acc, Measurement, "runtime_id")[sapphire.String()].Tags
	require.Equal(t, map[string]string{"runtime_id": sapphire.String(), "runtime_name": "sapphire", "node_id": ourNode.String()}, tags)
	require.Equal(t, map[string]any{"up": int64(1)}, acctest.Input(t, acc, "oasis_runtime"))
}

// The chain's view of another node, read through ours: its liveness and
// faults, not our host's status; a suspended node after failed epochs.
func TestAnotherNodeSuspended(t *testing.T) {
	w := start(t)
	w.n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: otherNode, EntityID: ourEntity, Expiration: 6,
		Roles: node.RoleComputeWorker, Runtimes: []*node.Runtime{{ID: sapphire}},
	})
	w.n.Ledger.Lock()
	w.n.Ledger.NodeStatuses[otherNode] = &registry.NodeStatus{Faults: map[common.Namespace]*registry.Fault{
		sapphire: {Failures: 2, SuspendedUntil: 6},
	}}
	w.n.Ledger.Unlock()
	acc := acctest.Gather(t, w.plugin(t, func(p *OasisRuntime) { p.NodeID = otherNode.String() }))
	require.Empty(t, acc.Errors)
	f := acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String())
	require.Equal(t, int64(1), f["node_suspended"], "suspended until epoch 6, now 4")
	require.Equal(t, int64(2), f["liveness_failures"])
	require.Equal(t, int64(6), f["suspended_until_epoch"])
	require.Equal(t, int64(10), f["live_rounds"], "index 0 in the committee")
	require.Equal(t, int64(1), f["liveness_ok"])
	require.NotContains(t, f, "hosted", "not the node at address: its host status is not ours to read")
	require.Equal(t, otherNode.String(), acctest.ByTags(acc, Measurement, "runtime_id")[sapphire.String()].Tags["node_id"])
}

// A runtime configured by ID that the node does not host, out of the
// committee, before any normal round; named by the runtime_names setting.
func TestConfiguredRuntime(t *testing.T) {
	w := start(t)
	w.n.Ledger.Lock()
	w.n.Ledger.RuntimeStates[devRuntime] = &roothash.RuntimeState{
		Runtime:   &registry.Runtime{ID: devRuntime, TEEHardware: node.TEEHardwareIntelSGX},
		LastBlock: &block.Block{Header: block.Header{Round: 3, HeaderType: block.EpochTransition}},
		Suspended: true,
	}
	w.n.Ledger.Unlock()
	acc := acctest.Gather(t, w.plugin(t, func(p *OasisRuntime) {
		p.RuntimeIDs = []string{devRuntime.String()}
		p.RuntimeNames = map[string]string{devRuntime.String(): "devnet"}
	}))
	require.Empty(t, acc.Errors)
	require.Len(t, acc.Metrics, 2, "the configured runtime only, and the input's point")
	f := acctest.Point(t, acc, Measurement, "runtime_id", devRuntime.String())
	require.Equal(t, map[string]any{
		"up": int64(1), "node_registered": int64(0), "runtime_suspended": int64(1), "tee_hardware": "intel-sgx",
		"min_live_rounds_share": 0.0, "max_liveness_failures": int64(0),
		"round": int64(3), "last_block_kind": "epoch_transition", "last_normal_round": int64(0), "in_committee": int64(0),
		"node_suspended": int64(0), "liveness_failures": int64(0), "suspended_until_epoch": int64(0), "hosted": int64(0),
		"attested": int64(0),
	}, f)
	require.Equal(t, "devnet", acctest.ByTags(acc, Measurement, "runtime_id")[devRuntime.String()].Tags["runtime_name"])
}

func TestRuntimeUnknownToTheChain(t *testing.T) {
	w := start(t)
	acc := acctest.Gather(t, w.plugin(t, func(p *OasisRuntime) { p.RuntimeIDs = []string{devRuntime.String()} }))
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "reading runtime "+devRuntime.String())
	f := acctest.Point(t, acc, Measurement, "runtime_id", devRuntime.String())
	require.Equal(t, int64(0), f["up"])
	require.Equal(t, "query_failed", f["down_reason"])
}

func TestNodeDown(t *testing.T) {
	p := &OasisRuntime{Config: nodeclient.Config{Address: "unix:/nonexistent/internal.sock"}, RuntimeIDs: []string{sapphire.String()}, Log: testutil.Logger{}}
	require.NoError(t, p.Init())
	acc := acctest.Gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket"}, acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String()))
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket", "failed_reads": int64(1)}, acctest.Input(t, acc, "oasis_runtime"))
}

func TestInitRejectsBadSettings(t *testing.T) {
	for _, c := range []struct {
		p    OasisRuntime
		want string
	}{
		{OasisRuntime{RuntimeIDs: []string{"sapphire"}}, `runtime_ids "sapphire": not a runtime ID`},
		{OasisRuntime{NodeID: "nope"}, `node_id "nope"`},
		{OasisRuntime{RuntimeNames: map[string]string{"xyz": "a"}}, `runtime_names "xyz": not a runtime ID`},
		{OasisRuntime{RuntimeNames: map[string]string{sapphire.String(): `bad"name`}}, `runtime_names "` + sapphire.String() + `": a name of 1 to 63`},
	} {
		c.p.Config = nodeclient.Config{Address: "unix:/n/internal.sock"}
		require.ErrorContains(t, c.p.Init(), c.want)
	}
}

func TestCallsPerGather(t *testing.T) {
	w := start(t)
	p := w.plugin(t, nil)
	acctest.Gather(t, p)
	first := p.client.Calls()
	acctest.Gather(t, p)
	// Status, the node's descriptor and registry status; per runtime its
	// roothash state and the block of its last normal round.
	require.Equal(t, uint64(5), p.client.Calls()-first)
}

func TestReadmeListsEveryField(t *testing.T) {
	documented, err := docfields.Read("README.md")
	require.NoError(t, err)
	acc := acctest.Gather(t, start(t).plugin(t, nil))
	var emitted []docfields.Field
	for k := range acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String()) {
		emitted = append(emitted, docfields.Field{Measurement: Measurement, Name: k})
	}
	emitted = append(emitted, docfields.Field{Measurement: Measurement, Name: "down_reason"})
	for _, f := range []string{"attested", "attestation_height", "attestation_age_blocks", "attestation_max_age_blocks", "attestation_blocks_left",
		"attestation_left_share", "attestation_age_enforced"} {
		emitted = append(emitted, docfields.Field{Measurement: Measurement, Name: f}) // TestAttestationAge
	}
	for _, f := range inputstatus.Fields {
		emitted = append(emitted, docfields.Field{Measurement: inputstatus.Measurement, Name: f})
	}
	require.ElementsMatch(t, emitted, documented)
}

// An SGX runtime: the node's attestation, made at height 4, is 6 blocks old
// at height 10; the runtime allows 1,000 (its deployment's constraint),
// else the registry's default applies.
func TestAttestationAge(t *testing.T) {
	w := start(t)
	att := cbor.Marshal(map[string]any{"v": 1, "quote": map[string]any{"pcs": []byte{1, 2, 3}}, "height": uint64(4), "signature": make([]byte, 64)})
	w.n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity, Expiration: 6,
		Roles: node.RoleComputeWorker, Runtimes: []*node.Runtime{{ID: sapphire, Capabilities: node.Capabilities{
			TEE: &node.CapabilityTEE{Hardware: node.TEEHardwareIntelSGX, Attestation: att},
		}}},
	})
	constraints := cbor.Marshal(node.SGXConstraints{Versioned: cbor.NewVersioned(node.LatestSGXConstraintsVersion), MaxAttestationAge: 1000})
	w.n.Ledger.Lock()
	rt := w.n.Ledger.RuntimeStates[sapphire].Runtime
	rt.TEEHardware = node.TEEHardwareIntelSGX
	rt.Deployments = []*registry.VersionInfo{{ValidFrom: 0, TEE: constraints}}
	w.n.Ledger.RegistryParams.TEEFeatures = &node.TEEFeatures{SGX: node.TEEFeaturesSGX{PCS: true, SignedAttestations: true, DefaultMaxAttestationAge: 1200}}
	w.n.Ledger.Unlock()
	p := w.plugin(t, nil)
	acc := acctest.Gather(t, p)
	require.Empty(t, acc.Errors)
	f := acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String())
	require.Equal(t, "intel-sgx", f["tee_hardware"])
	require.Equal(t, int64(1), f["attested"])
	require.Equal(t, int64(4), f["attestation_height"])
	require.Equal(t, int64(6), f["attestation_age_blocks"])
	require.Equal(t, int64(1000), f["attestation_max_age_blocks"])
	require.Equal(t, int64(994), f["attestation_blocks_left"])
	require.Equal(t, 0.994, f["attestation_left_share"])
	require.Equal(t, int64(1), f["attestation_age_enforced"])

	// No constraint of its own: the registry's default.
	w.n.Ledger.Lock()
	rt.Deployments = []*registry.VersionInfo{{ValidFrom: 0}}
	w.n.Ledger.Unlock()
	acc = acctest.Gather(t, p)
	f = acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String())
	require.Equal(t, int64(1200), f["attestation_max_age_blocks"])
	require.Equal(t, int64(1194), f["attestation_blocks_left"])

	// Constraints that can't be decoded: an error, and the runtime's other
	// fields still reported.
	w.n.Ledger.Lock()
	rt.Deployments = []*registry.VersionInfo{{ValidFrom: 0, TEE: []byte{0xff, 0x00}}}
	w.n.Ledger.Unlock()
	acc = acctest.Gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "reading the TEE attestation of node "+ourNode.String())
	f = acctest.Point(t, acc, Measurement, "runtime_id", sapphire.String())
	require.Equal(t, int64(1), f["up"])
	require.Equal(t, int64(42), f["round"])
	require.Equal(t, int64(1), f["ready"])
	require.NotContains(t, f, "attestation_blocks_left")
}

// A runtime the node lists that the roothash does not follow (a key
// manager) is skipped when found, not an error every gather; configured by
// ID it is an error (TestRuntimeUnknownToTheChain).
func TestKeyManagerRuntimeSkipped(t *testing.T) {
	w := start(t)
	w.n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity, Expiration: 6,
		Roles: node.RoleComputeWorker, Runtimes: []*node.Runtime{{ID: sapphire}, {ID: devRuntime}},
	})
	acc := acctest.Gather(t, w.plugin(t, nil))
	require.Empty(t, acc.Errors)
	require.Contains(t, acctest.ByTags(acc, Measurement, "runtime_id"), sapphire.String())
	require.NotContains(t, acctest.ByTags(acc, Measurement, "runtime_id"), devRuntime.String())
}
