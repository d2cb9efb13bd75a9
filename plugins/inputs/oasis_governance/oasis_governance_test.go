package oasis_governance

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"
	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/version"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	upgrade "github.com/oasisprotocol/oasis-core/go/upgrade/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

var (
	ourEntity, ourNode = key("entity"), key("node")
	ourAddr            = staking.NewAddress(ourEntity)
	otherAddr          = staking.NewAddress(key("other"))
	now                = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
)

func key(seed string) signature.PublicKey { return memorySigner.NewTestSigner(seed).Public() }

func upgradeDescriptor(handler string, epoch uint64) upgrade.Descriptor {
	return upgrade.Descriptor{
		Versioned: cbor.NewVersioned(upgrade.LatestDescriptorVersion),
		Handler:   upgrade.HandlerName(handler),
		Target:    version.ProtocolVersions{ConsensusProtocol: version.Version{Major: 7}, RuntimeHostProtocol: version.Version{Major: 5}},
		Epoch:     beacon.EpochTime(epoch),
	}
}

// At epoch 100: proposal 1 (upgrade, open, we voted yes), 2 (parameters,
// open, we did not vote), 3 (closed 5 epochs ago, passed), 4 (closed 50
// epochs ago: no longer reported); one upgrade scheduled at epoch 130.
func startNode(t *testing.T) *fakenode.Node {
	n := fakenode.Start(t)
	n.SetStatus(&control.Status{
		Identity:     control.IdentityStatus{Node: ourNode},
		Consensus:    &consensus.Status{LatestHeight: 5000, LatestEpoch: 100, LatestTime: now},
		Registration: &control.RegistrationStatus{},
	}, nil)
	n.Chain.AddNode(&node.Node{Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion), ID: ourNode, EntityID: ourEntity})
	up := upgradeDescriptor("v27", 130)
	l := n.Ledger
	l.Lock()
	defer l.Unlock()
	l.Proposals = []*governance.Proposal{
		{ID: 1, Submitter: otherAddr, State: governance.StateActive, CreatedAt: 98, ClosesAt: 104,
			Content: governance.ProposalContent{Metadata: &governance.ProposalMetadata{Title: "Upgrade to 27"}, Upgrade: &governance.UpgradeProposal{Descriptor: up}}},
		{ID: 2, Submitter: ourAddr, State: governance.StateActive, CreatedAt: 99, ClosesAt: 101,
			Content: governance.ProposalContent{ChangeParameters: &governance.ChangeParametersProposal{Module: "staking", Changes: cbor.Marshal(map[string]int{})}}},
		{ID: 3, Submitter: otherAddr, State: governance.StatePassed, CreatedAt: 85, ClosesAt: 95,
			Content: governance.ProposalContent{CancelUpgrade: &governance.CancelUpgradeProposal{ProposalID: 0}}},
		{ID: 4, Submitter: otherAddr, State: governance.StateRejected, CreatedAt: 40, ClosesAt: 50,
			Content: governance.ProposalContent{ChangeParameters: &governance.ChangeParametersProposal{Module: "scheduler"}}},
	}
	l.Votes[1] = []*governance.VoteEntry{{Voter: otherAddr, Vote: governance.VoteNo}, {Voter: ourAddr, Vote: governance.VoteYes}}
	l.Votes[2] = []*governance.VoteEntry{{Voter: otherAddr, Vote: governance.VoteAbstain}}
	l.Votes[3] = []*governance.VoteEntry{{Voter: ourAddr, Vote: governance.VoteNo}}
	l.Upgrades = []*upgrade.Descriptor{&up}
	return n
}

// A proposal's title and upgrade handler are chosen by whoever submits it:
// they reach the operator's channels inert (no ping, no hidden link, no
// forged line), and bounded.
func TestUntrustedProposalTextIsInert(t *testing.T) {
	n := startNode(t)
	up := upgradeDescriptor("<!channel>", 130)
	n.Ledger.Lock()
	n.Ledger.Proposals[0].Content.Metadata.Title = "@everyone [Read first](https://evil.example)\nCRITICAL oasis_node_down: " + strings.Repeat("x", 200)
	n.Ledger.Proposals[0].Content.Upgrade.Descriptor = up
	n.Ledger.Upgrades = []*upgrade.Descriptor{&up}
	n.Ledger.Unlock()
	acc := acctest.Gather(t, newPlugin(t, n))
	p := acctest.ByTags(acc, ProposalMeasurement, "proposal_id")["1"]
	title := p.Fields["title"].(string)
	require.True(t, strings.HasPrefix(title, "＠everyone ［Read first］(https[:]//evil.example) CRITICAL oasis＿node＿down: xxx"), title)
	require.Equal(t, 120, utf8.RuneCountInString(title))
	require.Equal(t, "‹!channel›", p.Fields["upgrade_handler"])
	require.Contains(t, acctest.ByTags(acc, UpgradeMeasurement, "handler"), "‹!channel›")
}

func newPlugin(t *testing.T, n *fakenode.Node) *OasisGovernance {
	p := &OasisGovernance{Config: nodeclient.Config{Address: "unix:" + n.Socket}, Log: testutil.Logger{}, now: func() time.Time { return now }}
	require.NoError(t, p.Init())
	t.Cleanup(p.Stop)
	return p
}

func TestProposalsVotesAndUpgrades(t *testing.T) {
	p := newPlugin(t, startNode(t))
	acc := acctest.Gather(t, p)
	require.Empty(t, acc.Errors)

	props := acctest.ByTags(acc, ProposalMeasurement, "proposal_id")
	require.Len(t, props, 3, "proposal 4 closed 50 epochs ago is past closed_proposal_epochs")
	require.Equal(t, map[string]string{"proposal_id": "1", "kind": "upgrade", "entity_id": ourEntity.String()}, props["1"].Tags)
	require.Equal(t, map[string]any{
		"state": "active", "submitter": otherAddr.String(), "created_epoch": int64(98), "closes_epoch": int64(104),
		"epochs_left": int64(4), "title": "Upgrade to 27", "upgrade_handler": "v27", "upgrade_epoch": int64(130),
		"voted": int64(1), "vote": "yes", "votes_yes": int64(1), "votes_no": int64(1), "votes_abstain": int64(0),
	}, props["1"].Fields)
	require.Equal(t, "change_parameters", props["2"].Tags["kind"])
	require.Equal(t, int64(0), props["2"].Fields["voted"])
	require.Equal(t, "", props["2"].Fields["vote"])
	require.Equal(t, int64(1), props["2"].Fields["epochs_left"])
	require.Equal(t, "staking", props["2"].Fields["parameters_module"])
	require.Equal(t, "cancel_upgrade", props["3"].Tags["kind"])
	require.Equal(t, "passed", props["3"].Fields["state"])
	require.Equal(t, int64(-5), props["3"].Fields["epochs_left"], "closed")
	require.Equal(t, "no", props["3"].Fields["vote"])

	ups := acctest.ByTags(acc, UpgradeMeasurement, "handler")
	require.Equal(t, map[string]any{"epoch": int64(130), "epochs_left": int64(30), "target_consensus_version": "7.0.0", "target_runtime_host_version": "5.0.0"}, ups["v27"].Fields)

	sum := acctest.ByTags(acc, SummaryMeasurement)[""]
	require.Equal(t, map[string]any{
		"up": int64(1), "active_proposals": int64(2), "active_proposals_not_voted": int64(1),
		"pending_upgrades": int64(1), "next_upgrade_epochs_left": int64(30),
	}, sum.Fields)
	require.Equal(t, map[string]string{"entity_id": ourEntity.String()}, sum.Tags)
}

func TestCallsPerGather(t *testing.T) {
	p := newPlugin(t, startNode(t))
	acctest.Gather(t, p)
	// Status, own entity, proposals, votes for each of 3 reported, upgrades.
	require.Equal(t, uint64(7), p.client.Calls())
}

func TestNodeDown(t *testing.T) {
	p := &OasisGovernance{Config: nodeclient.Config{Address: "unix:/nonexistent/internal.sock"}, EntityID: ourEntity.String(), Log: testutil.Logger{}, now: func() time.Time { return now }}
	require.NoError(t, p.Init())
	acc := acctest.Gather(t, p)
	require.Len(t, acc.Errors, 1)
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket"}, acctest.ByTags(acc, SummaryMeasurement)[""].Fields)
	require.Equal(t, map[string]any{"up": int64(0), "down_reason": "no_socket", "failed_reads": int64(1)}, acctest.Input(t, acc, "oasis_governance"))
}

func TestInitRejectsBadSettings(t *testing.T) {
	neg := int64(-1)
	require.ErrorContains(t, (&OasisGovernance{Config: nodeclient.Config{Address: "/n/internal.sock"}, EntityID: "x"}).Init(), `entity_id "x"`)
	require.ErrorContains(t, (&OasisGovernance{Config: nodeclient.Config{Address: "/n/internal.sock"}, ClosedProposalEpochs: &neg}).Init(), `closed_proposal_epochs -1`)
}

func TestReadmeListsEveryField(t *testing.T) {
	documented, err := docfields.Read("README.md")
	require.NoError(t, err)
	acc := acctest.Gather(t, newPlugin(t, startNode(t)))
	seen := map[docfields.Field]bool{}
	for _, m := range acc.Metrics {
		for k := range m.Fields {
			seen[docfields.Field{Measurement: m.Measurement, Name: k}] = true
		}
	}
	// A node that can't be read adds the reason to up=0.
	down := &OasisGovernance{Config: nodeclient.Config{Address: "unix:/nonexistent/internal.sock"}, Log: testutil.Logger{}}
	require.NoError(t, down.Init())
	for _, m := range acctest.Gather(t, down).Metrics {
		for k := range m.Fields {
			seen[docfields.Field{Measurement: m.Measurement, Name: k}] = true
		}
	}
	var emitted []docfields.Field
	for f := range seen {
		emitted = append(emitted, f)
	}
	require.ElementsMatch(t, emitted, documented)
}
