package oasis_node

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/version"
	nodeconfig "github.com/oasisprotocol/oasis-core/go/config"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	p2p "github.com/oasisprotocol/oasis-core/go/p2p/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	upgrade "github.com/oasisprotocol/oasis-core/go/upgrade/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

var (
	nodeID   = key("node")
	entityID = key("entity")
	otherID  = key("other node")
	now      = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
)

const chainContext = "bb3d748def55bdfb797a2ac53ee6ee141e54cd2ab2dc2375f4a0703a178e6e55"

func key(seed string) signature.PublicKey {
	return memorySigner.NewTestSigner(seed).Public()
}

// validatorStatus is a healthy registered validator at height 1000, epoch 10.
func validatorStatus() *control.Status {
	return &control.Status{
		SoftwareVersion: "26.1",
		Mode:            nodeconfig.ModeValidator,
		Identity:        control.IdentityStatus{Node: nodeID},
		Consensus: &consensus.Status{
			Status:       consensus.StatusStateReady,
			Version:      version.Version{Major: 7},
			LatestHeight: 1000,
			LatestTime:   now.Add(-4 * time.Second),
			LatestEpoch:  10,
			ChainContext: chainContext,
			IsValidator:  true,
			P2P:          &consensus.P2PStatus{Peers: []string{"a@127.0.0.1:1", "b@127.0.0.1:2", "c@127.0.0.1:3"}},
		},
		Registration: &control.RegistrationStatus{
			LastAttemptSuccessful: true,
			LastAttempt:           now.Add(-30 * time.Second),
			LastRegistration:      now.Add(-30 * time.Second),
			Descriptor: &node.Node{
				Versioned:  cbor.NewVersioned(node.LatestNodeDescriptorVersion),
				ID:         nodeID,
				EntityID:   entityID,
				Expiration: 12,
				Roles:      node.RoleValidator,
			},
			NodeStatus: &registry.NodeStatus{},
		},
		PendingUpgrades: []*upgrade.PendingUpgrade{{
			Versioned:  cbor.NewVersioned(upgrade.LatestPendingUpgradeVersion),
			Descriptor: &upgrade.Descriptor{Versioned: cbor.NewVersioned(upgrade.LatestDescriptorVersion), Handler: "v27", Epoch: 40},
		}},
		P2P: p2pStatus(5),
	}
}

// p2pStatus is the node's P2P status with numPeers peers. (The peer ID's
// type is libp2p's: deriving it here keeps libp2p out of this module's
// direct requirements.)
func p2pStatus(numPeers int) *p2p.Status {
	id, err := p2p.PublicKeyToPeerID(key("p2p"))
	if err != nil {
		panic(err)
	}
	return &p2p.Status{PeerID: id, NumPeers: numPeers}
}

func startNode(t *testing.T) *fakenode.Node {
	n := fakenode.Start(t)
	n.SetStatus(validatorStatus(), nil)
	n.SetSynced(true, nil)
	n.SetValidators([]*scheduler.Validator{
		{ID: otherID, EntityID: key("other entity"), VotingPower: 50},
		{ID: nodeID, EntityID: entityID, VotingPower: 42},
	}, nil)
	return n
}

func newPlugin(t *testing.T, address string) *OasisNode {
	p := &OasisNode{
		Config: nodeclient.Config{Address: address, Timeout: config.Duration(2 * time.Second)},
		Log:    testutil.Logger{},
		now:    func() time.Time { return now },
	}
	require.NoError(t, p.Init())
	t.Cleanup(p.Stop)
	return p
}

func healthyTags() map[string]string {
	return map[string]string{
		"node_id":       nodeID.String(),
		"entity_id":     entityID.String(),
		"chain_context": chainContext,
	}
}

func healthyFields() map[string]any {
	return map[string]any{
		"up":                              int64(1),
		"software_version":                "26.1",
		"mode":                            "validator",
		"latest_height":                   int64(1000),
		"latest_block_time":               now.Add(-4 * time.Second).Unix(),
		"latest_block_age_seconds":        4.0,
		"synced":                          int64(1),
		"consensus_status":                "ready",
		"consensus_peers":                 int64(3),
		"p2p_peers":                       int64(5),
		"is_validator":                    int64(1),
		"voting_power":                    int64(42),
		"epoch":                           int64(10),
		"registered":                      int64(1),
		"registration_expiration_epoch":   int64(12),
		"registration_epochs_left":        int64(2),
		"registration_last_attempt_ok":    int64(1),
		"registration_last_attempt_error": "",
		"registration_last_attempt_time":  now.Add(-30 * time.Second).Unix(),
		"registration_last_success_time":  now.Add(-30 * time.Second).Unix(),
		"frozen":                          int64(0),
		"freeze_end_epoch":                int64(0),
		"pending_upgrades":                int64(1),
	}
}

func gather(t *testing.T, p *OasisNode) *testutil.Accumulator {
	var acc testutil.Accumulator
	require.NoError(t, p.Gather(&acc))
	return &acc
}

// nodePoints are a gather's oasis_node points, after checking the input's
// own oasis_input point: one per gather, up as the node's point says it,
// and the same down_reason.
func nodePoints(t *testing.T, acc *testutil.Accumulator) []telegraf.Metric {
	t.Helper()
	var node []telegraf.Metric
	var input []*testutil.Metric
	for i, m := range acc.GetTelegrafMetrics() {
		if m.Name() == inputstatus.Measurement {
			input = append(input, acc.Metrics[i])
		} else {
			node = append(node, m)
		}
	}
	require.Len(t, input, 1, "one oasis_input point per gather")
	require.Equal(t, "oasis_node", input[0].Tags["input"])
	require.NotEmpty(t, input[0].Tags["address"], "the configured address")
	for _, m := range node {
		up, _ := m.GetField("up")
		require.Equal(t, up, input[0].Fields["up"], "oasis_input up follows the gather")
		if reason, ok := m.GetField("down_reason"); ok {
			require.Equal(t, reason, input[0].Fields["down_reason"])
		}
	}
	return node
}

func TestGatherEveryField(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)

	require.Empty(t, acc.Errors)
	expected := []telegraf.Metric{metric.New(Measurement, healthyTags(), healthyFields(), now)}
	testutil.RequireMetricsEqual(t, expected, nodePoints(t, acc))
}

func TestThreeCallsPerGather(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, n.Socket) // a bare absolute path is accepted too
	gather(t, p)
	gather(t, p)
	require.Equal(t, uint64(6), p.client.Calls())
	require.Equal(t, 2, n.Calls("GetStatus"))
	require.Equal(t, 2, n.Calls("IsSynced"))
	require.Equal(t, 2, n.Calls("GetValidators"))
}

func TestNoSocket(t *testing.T) {
	p := newPlugin(t, "unix:/nonexistent/oasis/internal.sock")
	acc := gather(t, p)

	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "reading node status")
	require.ErrorContains(t, acc.Errors[0], "socket /nonexistent/oasis/internal.sock does not exist: the node is stopped, or the path (or its mount) is wrong")
	// Only the heartbeat: no field that could be mistaken for data.
	expected := []telegraf.Metric{metric.New(Measurement, map[string]string{}, map[string]any{"up": int64(0), "down_reason": "no_socket"}, now)}
	testutil.RequireMetricsEqual(t, expected, nodePoints(t, acc))
}

func TestStatusError(t *testing.T) {
	n := startNode(t)
	n.SetStatus(nil, consensus.ErrNoCommittedBlocks)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)

	require.Len(t, acc.Errors, 1)
	require.True(t, errors.Is(acc.Errors[0], consensus.ErrNoCommittedBlocks), "registered oasis errors survive the wire: %v", acc.Errors[0])
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{metric.New(Measurement, map[string]string{}, map[string]any{"up": int64(0), "down_reason": "query_failed"}, now)},
		nodePoints(t, acc))
}

func TestPartialFailureIsUpZeroWithoutTheMissingField(t *testing.T) {
	n := startNode(t)
	n.SetSynced(false, errors.New("sync state unavailable"))
	n.SetValidators(nil, consensus.ErrVersionNotFound)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)

	require.Len(t, acc.Errors, 2)
	require.ErrorContains(t, acc.Errors[0], "reading sync state")
	require.ErrorContains(t, acc.Errors[1], "reading validator set at height 1000")
	fields := healthyFields()
	fields["up"] = int64(0)
	delete(fields, "synced")
	delete(fields, "voting_power")
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{metric.New(Measurement, healthyTags(), fields, now)},
		nodePoints(t, acc))
}

func TestNodeRestartsBetweenGathers(t *testing.T) {
	n := startNode(t)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)
	require.Empty(t, acc.Errors)

	n.Stop()
	acc = gather(t, p)
	require.Len(t, acc.Errors, 1)
	// Down, in the same series as the node's data.
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{metric.New(Measurement, healthyTags(), map[string]any{"up": int64(0), "down_reason": "no_socket"}, now)},
		nodePoints(t, acc))

	require.NoError(t, n.Restart())
	acc = gather(t, p)
	require.Empty(t, acc.Errors, "the client reconnects without a restart of the plugin")
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{metric.New(Measurement, healthyTags(), healthyFields(), now)},
		nodePoints(t, acc))
}

func TestNotRegisteredNode(t *testing.T) {
	n := startNode(t)
	st := validatorStatus()
	st.Registration = &control.RegistrationStatus{
		LastAttempt:             now.Add(-5 * time.Second),
		LastAttemptErrorMessage: "registration: insufficient stake",
	}
	st.Consensus.IsValidator = false
	n.SetStatus(st, nil)
	n.SetValidators([]*scheduler.Validator{{ID: otherID, VotingPower: 50}}, nil)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)
	require.Empty(t, acc.Errors)

	fields := healthyFields()
	for _, k := range []string{"registration_expiration_epoch", "registration_epochs_left", "registration_last_success_time", "frozen", "freeze_end_epoch"} {
		delete(fields, k)
	}
	fields["registered"] = int64(0)
	fields["is_validator"] = int64(0)
	fields["voting_power"] = int64(0)
	fields["registration_last_attempt_ok"] = int64(0)
	fields["registration_last_attempt_error"] = "registration: insufficient stake"
	fields["registration_last_attempt_time"] = now.Add(-5 * time.Second).Unix()
	tags := healthyTags()
	delete(tags, "entity_id")
	testutil.RequireMetricsEqual(t, []telegraf.Metric{metric.New(Measurement, tags, fields, now)}, nodePoints(t, acc))
}

func TestFrozenAndExpiredNode(t *testing.T) {
	n := startNode(t)
	st := validatorStatus()
	st.Registration.NodeStatus = &registry.NodeStatus{FreezeEndTime: 15}
	st.Consensus.LatestEpoch = 13 // descriptor expired at the end of epoch 12
	n.SetStatus(st, nil)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)
	require.Empty(t, acc.Errors)

	fields := healthyFields()
	fields["frozen"] = int64(1)
	fields["freeze_end_epoch"] = int64(15)
	fields["epoch"] = int64(13)
	fields["registration_epochs_left"] = int64(-1)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{metric.New(Measurement, healthyTags(), fields, now)}, nodePoints(t, acc))
}

func TestWrongNodeBehindSocket(t *testing.T) {
	n := startNode(t)
	p := &OasisNode{
		Config: nodeclient.Config{Address: "unix:" + n.Socket},
		NodeID: otherID.String(),
		Log:    testutil.Logger{},
		now:    func() time.Time { return now },
	}
	require.NoError(t, p.Init())
	defer p.Stop()
	acc := gather(t, p)

	require.Len(t, acc.Errors, 1)
	require.ErrorContains(t, acc.Errors[0], "not the configured "+otherID.String())
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{metric.New(Measurement, map[string]string{"node_id": otherID.String()}, map[string]any{"up": int64(0), "down_reason": "wrong_node"}, now)},
		nodePoints(t, acc))
}

func TestInitRejectsBadSettings(t *testing.T) {
	cases := []struct {
		name    string
		plugin  OasisNode
		message string
	}{
		{"relative socket", OasisNode{Config: nodeclient.Config{Address: "unix:data/internal.sock"}}, `the socket path must be absolute, e.g. address = "unix:/run/oasis/internal.sock"`},
		{"empty address", OasisNode{}, "address is empty"},
		{"directory", OasisNode{Config: nodeclient.Config{Address: "/run/oasis/"}}, "names a directory"},
		{"http scheme", OasisNode{Config: nodeclient.Config{Address: "http://node:80"}}, "unsupported scheme"},
		{"garbage", OasisNode{Config: nodeclient.Config{Address: "node data"}}, "neither an absolute socket path nor host:port"},
		{"negative timeout", OasisNode{Config: nodeclient.Config{Address: "/n/internal.sock", Timeout: config.Duration(-time.Second)}}, `timeout = "5s"`},
		{"malformed node id", OasisNode{Config: nodeclient.Config{Address: "/n/internal.sock"}, NodeID: "not-a-key"}, `node_id "not-a-key": not a node/entity ID`},
		{"short node id", OasisNode{Config: nodeclient.Config{Address: "/n/internal.sock"}, NodeID: "AAAA"}, `e.g. node_id = "`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.plugin.Init()
			require.Error(t, err)
			require.ErrorContains(t, err, tc.message)
		})
	}
}

func TestSampleConfigIsEmbedded(t *testing.T) {
	require.Contains(t, (&OasisNode{}).SampleConfig(), "[[inputs.oasis_node]]")
}

// The README's field table lists exactly the fields a full gather emits.
func TestReadmeListsEveryField(t *testing.T) {
	documented, err := docfields.Fields("README.md", "oasis_node")
	require.NoError(t, err)
	var emitted []string
	for name := range healthyFields() {
		emitted = append(emitted, name)
	}
	// A node that can't be read adds the reason to up=0.
	down := gather(t, newPlugin(t, "unix:/nonexistent/oasis/internal.sock"))
	for name := range nodePoints(t, down)[0].Fields() {
		if name != "up" {
			emitted = append(emitted, name)
		}
	}
	// With a reference configured, the comparison (reference_test.go).
	n, r := startNode(t), startReference(t, 1001, 10)
	compared, _ := split(t, gather(t, withReferences(t, "unix:"+n.Socket, ref("one", "unix:"+r.Socket))))
	for name := range compared.Fields() {
		if _, ok := healthyFields()[name]; !ok {
			emitted = append(emitted, name)
		}
	}
	require.ElementsMatch(t, emitted, documented)

	input, err := docfields.Fields("README.md", inputstatus.Measurement)
	require.NoError(t, err)
	require.ElementsMatch(t, inputstatus.Fields, input)
}

// A node that has not committed its first block reports no block fields and
// does not ask for a validator set it cannot have; no zero height, no
// 292-year block age.
func TestNodeWithoutBlocks(t *testing.T) {
	n := startNode(t)
	st := validatorStatus()
	st.Consensus.LatestHeight = 0
	st.Consensus.LatestTime = time.Time{}
	n.SetStatus(st, nil)
	n.SetSynced(false, nil)
	p := newPlugin(t, "unix:"+n.Socket)
	acc := gather(t, p)
	require.Empty(t, acc.Errors)
	require.Equal(t, 0, n.Calls("GetValidators"))

	fields := healthyFields()
	for _, k := range []string{"latest_height", "latest_block_time", "latest_block_age_seconds", "voting_power"} {
		delete(fields, k)
	}
	fields["synced"] = int64(0)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{metric.New(Measurement, healthyTags(), fields, now)}, nodePoints(t, acc))
}
