// Package oasis_node is a Telegraf input that reports one oasis-node's
// health: up, height and block age, sync, peers, validator status, epoch,
// registration and pending upgrades.
package oasis_node

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	control "github.com/oasisprotocol/oasis-core/go/control/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/oasisid"
)

//go:embed sample.conf
var sampleConfig string

// Measurement is the name of the measurement this plugin writes.
const Measurement = "oasis_node"

// OasisNode is the plugin and its configuration.
type OasisNode struct {
	nodeclient.Config
	NodeID string `toml:"node_id"`
	// References are other nodes to compare ours with (reference.go).
	References []*Reference    `toml:"reference"`
	Log        telegraf.Logger `toml:"-"`

	client     *nodeclient.Client
	expectedID *signature.PublicKey
	// tags of the last successful gather, so that up=0 points land in the
	// same series as the node's data and a deadman/threshold alert sees them.
	lastTags map[string]string
	now      func() time.Time
}

func (*OasisNode) SampleConfig() string { return sampleConfig }

// Init validates the settings; it does not contact the node.
func (o *OasisNode) Init() error {
	if o.NodeID != "" {
		id, err := oasisid.Parse("node_id", o.NodeID)
		if err != nil {
			return err
		}
		o.expectedID = &id
	}
	client, err := nodeclient.New(o.Config)
	if err != nil {
		return err
	}
	o.client = client
	if err := o.initReferences(); err != nil {
		return err
	}
	if o.now == nil {
		o.now = time.Now
	}
	o.lastTags = map[string]string{}
	if o.expectedID != nil {
		o.lastTags["node_id"] = o.expectedID.String()
	}
	return nil
}

// Stop closes the connection (Telegraf calls it on shutdown).
func (o *OasisNode) Stop() {
	if o.client != nil {
		_ = o.client.Close()
	}
	o.stopReferences()
}

// Gather reads the node once: its status, whether it is synced and the
// validator set at the latest height (three read-only calls).
func (o *OasisNode) Gather(acc telegraf.Accumulator) error {
	ctx := context.Background()
	now := o.now()
	// The input's own point, as every input of ours writes one.
	status := inputstatus.Begin("oasis_node", o.Address)
	defer func() { status.Add(acc, nil, now) }()
	// The references are asked while our node is read; a reference that
	// can't be read is its own point's down_reason, not this input's error.
	references := o.queryReferences(ctx)

	st, err := o.client.NodeStatus(ctx)
	if err != nil {
		acc.AddError(fmt.Errorf("reading node status: %w", status.Fail(err)))
		o.addDown(acc, now, nodeclient.Reason(err), references())
		return nil
	}
	if o.expectedID != nil && !st.Identity.Node.Equal(*o.expectedID) {
		acc.AddError(fmt.Errorf("node_id: the node at %s is %s, not the configured %s",
			o.client.Target(), st.Identity.Node, o.expectedID))
		status.FailWith(nodeclient.ReasonWrongNode)
		o.addDown(acc, now, nodeclient.ReasonWrongNode, references())
		return nil
	}
	if st.Consensus == nil {
		acc.AddError(fmt.Errorf("node status from %s has no consensus section (mode %q)", o.client.Target(), st.Mode))
		status.FailWith(nodeclient.ReasonQueryFailed)
		o.addDown(acc, now, nodeclient.ReasonQueryFailed, references())
		return nil
	}

	tags := o.tags(st)
	fields := statusFields(st, now)
	up := int64(1)

	synced, err := o.client.IsSynced(ctx)
	if err != nil {
		acc.AddError(fmt.Errorf("reading sync state: %w", status.Fail(err)))
		up = 0
	} else {
		fields["synced"] = boolInt(synced)
	}

	// A node that has not committed its first block yet (just started, or
	// state-syncing) has no block or validator set to report: those fields
	// are left out rather than reported as height 0 and an age of 292 years.
	if !hasBlock(st) {
		o.Log.Warnf("node at %s has no committed block yet; block and voting power fields left out", o.client.Target())
	} else if validators, err := o.client.Validators(ctx, st.Consensus.LatestHeight); err != nil {
		acc.AddError(fmt.Errorf("reading validator set at height %d: %w", st.Consensus.LatestHeight, status.Fail(err)))
		up = 0
	} else {
		var power int64 // not in the set: no voting power
		for _, v := range validators {
			if v.ID.Equal(st.Identity.Node) {
				power = v.VotingPower
				break
			}
		}
		fields["voting_power"] = power
	}

	fields["up"] = up
	o.addReferences(acc, references(), fields, st.Consensus.ChainContext, tags, now)
	acc.AddFields(Measurement, fields, tags, now)
	return nil
}

// addDown emits the heartbeat that says the node could not be read, so
// "down" is a value alerts can see rather than an absence, with the reason
// (nodeclient.Reason*), so an alert can tell a stopped node from a monitor
// that may not use the socket.
// The references are still reported (references_up), without a lag.
func (o *OasisNode) addDown(acc telegraf.Accumulator, now time.Time, reason string, references []referenceResult) {
	fields := map[string]any{"up": int64(0), "down_reason": reason}
	// Compared on the chain our node was last seen on.
	o.addReferences(acc, references, fields, o.lastTags["chain_context"], copyTags(o.lastTags), now)
	acc.AddFields(Measurement, fields, copyTags(o.lastTags), now)
}

func (o *OasisNode) tags(st *control.Status) map[string]string {
	tags := map[string]string{
		"node_id":       st.Identity.Node.String(),
		"chain_context": st.Consensus.ChainContext,
	}
	if reg := st.Registration; reg != nil && reg.Descriptor != nil {
		tags["entity_id"] = reg.Descriptor.EntityID.String()
	} else if id, ok := o.lastTags["entity_id"]; ok {
		// A node that has not (re-)registered since start keeps the entity
		// it was last seen with, so its series does not split.
		tags["entity_id"] = id
	}
	o.lastTags = tags
	return copyTags(tags)
}

// statusFields turns the node's status report into fields. Only values the
// report actually holds are set: a missing section is a missing field, never
// a zero that looks like data.
func statusFields(st *control.Status, now time.Time) map[string]any {
	cs := st.Consensus
	f := map[string]any{
		"software_version": st.SoftwareVersion,
		"mode":             string(st.Mode),
		"consensus_status": cs.Status.String(),
		"is_validator":     boolInt(cs.IsValidator),
		"epoch":            int64(cs.LatestEpoch),
		"pending_upgrades": int64(len(st.PendingUpgrades)),
	}
	if hasBlock(st) {
		f["latest_height"] = cs.LatestHeight
		f["latest_block_time"] = cs.LatestTime.Unix()
		f["latest_block_age_seconds"] = now.Sub(cs.LatestTime).Seconds()
	}
	if cs.P2P != nil {
		f["consensus_peers"] = int64(len(cs.P2P.Peers))
	}
	if st.P2P != nil {
		f["p2p_peers"] = int64(st.P2P.NumPeers)
	}

	reg := st.Registration
	if reg == nil {
		return f
	}
	f["registered"] = boolInt(reg.Descriptor != nil)
	if reg.Descriptor != nil {
		f["registration_expiration_epoch"] = int64(reg.Descriptor.Expiration)
		// 0 means this is the last epoch the descriptor is valid in;
		// negative means it has expired.
		f["registration_epochs_left"] = int64(reg.Descriptor.Expiration) - int64(cs.LatestEpoch)
	}
	if !reg.LastAttempt.IsZero() {
		f["registration_last_attempt_time"] = reg.LastAttempt.Unix()
		f["registration_last_attempt_ok"] = boolInt(reg.LastAttemptSuccessful)
		f["registration_last_attempt_error"] = reg.LastAttemptErrorMessage
	}
	if !reg.LastRegistration.IsZero() {
		f["registration_last_success_time"] = reg.LastRegistration.Unix()
	}
	if ns := reg.NodeStatus; ns != nil {
		f["frozen"] = boolInt(ns.IsFrozen())
		f["freeze_end_epoch"] = int64(ns.FreezeEndTime)
	}
	return f
}

// hasBlock reports whether the node has committed a block yet.
func hasBlock(st *control.Status) bool {
	return st.Consensus.LatestHeight > 0 && !st.Consensus.LatestTime.IsZero()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func copyTags(t map[string]string) map[string]string {
	c := make(map[string]string, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

func init() {
	inputs.Add("oasis_node", func() telegraf.Input { return &OasisNode{} })
}
