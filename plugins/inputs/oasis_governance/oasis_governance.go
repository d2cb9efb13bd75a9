// Package oasis_governance is a Telegraf input that reports Oasis
// governance as an operator must act on it: open proposals and their
// deadlines, whether the operator's entity has voted and how, and the
// upgrades governance has scheduled.
package oasis_governance

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/oasisid"
	"github.com/oasis-mission-control/oasis-mission-control/internal/safetext"
)

//go:embed sample.conf
var sampleConfig string

const (
	// SummaryMeasurement holds one point per gather.
	SummaryMeasurement = "oasis_governance"
	// ProposalMeasurement holds one point per open or recently closed proposal.
	ProposalMeasurement = "oasis_governance_proposal"
	// UpgradeMeasurement holds one point per scheduled upgrade.
	UpgradeMeasurement = "oasis_governance_upgrade"

	defaultClosedEpochs = 24
)

// OasisGovernance is the plugin and its configuration.
type OasisGovernance struct {
	nodeclient.Config
	EntityID             string          `toml:"entity_id"`
	ClosedProposalEpochs *int64          `toml:"closed_proposal_epochs"`
	Log                  telegraf.Logger `toml:"-"`

	client   *nodeclient.Client
	entityID *signature.PublicKey
	now      func() time.Time
}

func (*OasisGovernance) SampleConfig() string { return sampleConfig }

// Init validates the settings; it does not contact the node.
func (g *OasisGovernance) Init() error {
	if g.EntityID != "" {
		id, err := oasisid.Parse("entity_id", g.EntityID)
		if err != nil {
			return err
		}
		g.entityID = &id
	}
	if g.ClosedProposalEpochs == nil {
		d := int64(defaultClosedEpochs)
		g.ClosedProposalEpochs = &d
	}
	if *g.ClosedProposalEpochs < 0 {
		return fmt.Errorf("closed_proposal_epochs %d: must be 0 or more, e.g. closed_proposal_epochs = %d", *g.ClosedProposalEpochs, defaultClosedEpochs)
	}
	client, err := nodeclient.New(g.Config)
	if err != nil {
		return err
	}
	g.client = client
	if g.now == nil {
		g.now = time.Now
	}
	return nil
}

// Stop closes the connection.
func (g *OasisGovernance) Stop() {
	if g.client != nil {
		_ = g.client.Close()
	}
}

// Gather reads proposals, our votes and scheduled upgrades at one height.
func (g *OasisGovernance) Gather(acc telegraf.Accumulator) error {
	ctx := context.Background()
	now := g.now()
	// The input's own point, as every input of ours writes one.
	status := inputstatus.Begin("oasis_governance", g.Address)
	defer func() { status.Add(acc, nil, now) }()
	summaryTags := map[string]string{}
	if g.entityID != nil {
		summaryTags["entity_id"] = g.entityID.String()
	}
	down := func(what string, err error) error {
		acc.AddError(fmt.Errorf("%s: %w", what, status.Fail(err)))
		acc.AddFields(SummaryMeasurement, map[string]any{"up": int64(0), "down_reason": nodeclient.Reason(err)}, summaryTags, now)
		return nil
	}

	st, err := g.client.NodeStatus(ctx)
	if err != nil {
		return down("reading node status", err)
	}
	if st.Consensus == nil || st.Consensus.LatestHeight == 0 {
		return down("reading node status", fmt.Errorf("the node has no committed block yet"))
	}
	height, epoch := st.Consensus.LatestHeight, int64(st.Consensus.LatestEpoch)
	entity := g.entityID
	if entity == nil {
		id, err := g.client.OwnEntity(ctx, st)
		if err != nil {
			return down("finding the node's entity", err)
		}
		entity = &id
		summaryTags["entity_id"] = id.String()
	}
	voter := staking.NewAddress(*entity)

	props, err := g.client.Proposals(ctx, height)
	if err != nil {
		return down("reading proposals", err)
	}
	summary := map[string]any{"up": int64(1)}
	var active, notVoted int64
	for _, p := range props {
		closed := p.State != governance.StateActive
		if closed && epoch-int64(p.ClosesAt) > *g.ClosedProposalEpochs {
			continue
		}
		fields := proposalFields(p, epoch)
		votes, err := g.client.Votes(ctx, p.ID, height)
		if err != nil {
			acc.AddError(fmt.Errorf("reading votes on proposal %d: %w", p.ID, status.Fail(err)))
			summary["up"] = int64(0)
		} else {
			counts := map[governance.Vote]int64{}
			fields["voted"] = int64(0)
			fields["vote"] = ""
			for _, v := range votes {
				counts[v.Vote]++
				if v.Voter.Equal(voter) {
					fields["voted"] = int64(1)
					fields["vote"] = v.Vote.String()
				}
			}
			fields["votes_yes"] = counts[governance.VoteYes]
			fields["votes_no"] = counts[governance.VoteNo]
			fields["votes_abstain"] = counts[governance.VoteAbstain]
			if !closed && fields["voted"] == int64(0) {
				notVoted++
			}
		}
		if !closed {
			active++
		}
		acc.AddFields(ProposalMeasurement, fields, map[string]string{
			"proposal_id": strconv.FormatUint(p.ID, 10),
			"kind":        kind(&p.Content),
			"entity_id":   entity.String(),
		}, now)
	}
	summary["active_proposals"] = active
	summary["active_proposals_not_voted"] = notVoted

	upgrades, err := g.client.PendingUpgrades(ctx, height)
	if err != nil {
		acc.AddError(fmt.Errorf("reading pending upgrades: %w", status.Fail(err)))
		summary["up"] = int64(0)
	} else {
		summary["pending_upgrades"] = int64(len(upgrades))
		for _, u := range upgrades {
			left := int64(u.Epoch) - epoch
			acc.AddFields(UpgradeMeasurement, map[string]any{
				"epoch":                       int64(u.Epoch),
				"epochs_left":                 left,
				"target_consensus_version":    u.Target.ConsensusProtocol.String(),
				"target_runtime_host_version": u.Target.RuntimeHostProtocol.String(),
			}, map[string]string{"handler": safetext.Clean(string(u.Handler), maxName)}, now)
			if cur, ok := summary["next_upgrade_epochs_left"].(int64); !ok || left < cur {
				summary["next_upgrade_epochs_left"] = left
			}
		}
	}
	acc.AddFields(SummaryMeasurement, summary, summaryTags, now)
	return nil
}

// Longest title and name kept, in characters: a title fits a phone's
// notification line with the rest of the message.
const (
	maxTitle = 120
	maxName  = 64
)

func proposalFields(p *governance.Proposal, epoch int64) map[string]any {
	f := map[string]any{
		"state":         p.State.String(),
		"submitter":     p.Submitter.String(),
		"created_epoch": int64(p.CreatedAt),
		"closes_epoch":  int64(p.ClosesAt),
		"epochs_left":   int64(p.ClosesAt) - epoch,
	}
	// Text the proposal's submitter chose is made inert for the alert
	// channels (safetext) where it enters.
	if m := p.Content.Metadata; m != nil {
		f["title"] = safetext.Clean(m.Title, maxTitle)
	}
	if u := p.Content.Upgrade; u != nil {
		f["upgrade_handler"] = safetext.Clean(string(u.Handler), maxName)
		f["upgrade_epoch"] = int64(u.Epoch)
	}
	if c := p.Content.CancelUpgrade; c != nil {
		f["cancels_proposal_id"] = int64(c.ProposalID)
	}
	if c := p.Content.ChangeParameters; c != nil {
		f["parameters_module"] = safetext.Clean(c.Module, maxName)
	}
	return f
}

// kind names what a proposal would do.
func kind(c *governance.ProposalContent) string {
	switch {
	case c.Upgrade != nil:
		return "upgrade"
	case c.CancelUpgrade != nil:
		return "cancel_upgrade"
	case c.ChangeParameters != nil:
		return "change_parameters"
	default:
		return "other"
	}
}

func init() {
	inputs.Add("oasis_governance", func() telegraf.Input { return &OasisGovernance{} })
}
