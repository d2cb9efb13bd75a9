// Package oasis_runtime is a Telegraf input that reports the ParaTimes
// (runtimes) a node hosts or is registered for: the runtime's progress
// (rounds and their age, suspension), the node's place in the executor
// committee and its liveness this epoch as the roothash application
// counts it, the node's faults and suspension for the runtime, and, on the
// node itself, whether its runtime host is ready.
package oasis_runtime

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
	"github.com/oasisprotocol/oasis-core/go/roothash/api/block"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	commonWorker "github.com/oasisprotocol/oasis-core/go/worker/common/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/oasisid"
)

//go:embed sample.conf
var sampleConfig string

// Measurement holds one point per runtime per gather.
const Measurement = "oasis_runtime"

// knownNames are the public networks' ParaTimes, named without setup.
var knownNames = map[string]string{
	"000000000000000000000000000000000000000000000000f80306c9858e7279": "sapphire",
	"000000000000000000000000000000000000000000000000e2eaa99fc008f87f": "emerald",
	"000000000000000000000000000000000000000000000000e199119c992377cb": "cipher",
	"000000000000000000000000000000000000000000000000a6d1e3ebf60dff6c": "sapphire-testnet",
	"00000000000000000000000000000000000000000000000072c8215e60d5bca7": "emerald-testnet",
}

// OasisRuntime is the plugin and its configuration.
type OasisRuntime struct {
	nodeclient.Config
	// NodeID is the node whose committee place, liveness and faults are
	// reported; empty: the node at address (whose own runtime host status
	// is then reported too).
	NodeID string `toml:"node_id"`
	// RuntimeIDs (hex) to report; empty: those the node hosts (its status)
	// or is registered for (its registry descriptor).
	RuntimeIDs []string `toml:"runtime_ids"`
	// RuntimeNames names runtimes by ID (hex) for the runtime_name tag, in
	// addition to the public networks' ParaTimes.
	RuntimeNames map[string]string `toml:"runtime_names"`
	Log          telegraf.Logger   `toml:"-"`

	client     *nodeclient.Client
	nodeID     *signature.PublicKey
	runtimeIDs []common.Namespace
	names      map[common.Namespace]string
	now        func() time.Time
}

func (*OasisRuntime) SampleConfig() string { return sampleConfig }

// Init validates the settings; it does not contact the node.
func (o *OasisRuntime) Init() error {
	if o.NodeID != "" {
		id, err := oasisid.Parse("node_id", o.NodeID)
		if err != nil {
			return err
		}
		o.nodeID = &id
	}
	parse := func(setting, hex string) (common.Namespace, error) {
		var ns common.Namespace
		if err := ns.UnmarshalHex(hex); err != nil {
			return ns, fmt.Errorf("%s %q: not a runtime ID (64 hex digits, e.g. %s): %w",
				setting, hex, "000000000000000000000000000000000000000000000000f80306c9858e7279", err)
		}
		return ns, nil
	}
	for _, hex := range o.RuntimeIDs {
		ns, err := parse("runtime_ids", hex)
		if err != nil {
			return err
		}
		o.runtimeIDs = append(o.runtimeIDs, ns)
	}
	o.names = map[common.Namespace]string{}
	for hex, name := range knownNames {
		ns, _ := parse("", hex)
		o.names[ns] = name
	}
	for hex, name := range o.RuntimeNames {
		ns, err := parse("runtime_names", hex)
		if err != nil {
			return err
		}
		if name = strings.TrimSpace(name); name == "" || len(name) > 63 || strings.ContainsAny(name, "\"\\\n\r\t") {
			return fmt.Errorf("runtime_names %q: a name of 1 to 63 characters, without quotes, backslashes or line breaks", hex)
		}
		o.names[ns] = name
	}
	client, err := nodeclient.New(o.Config)
	if err != nil {
		return err
	}
	o.client = client
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

// Stop closes the connection.
func (o *OasisRuntime) Stop() {
	if o.client != nil {
		_ = o.client.Close()
	}
}

// Gather reads every runtime at one height.
func (o *OasisRuntime) Gather(acc telegraf.Accumulator) error {
	ctx := context.Background()
	now := o.now()
	status := inputstatus.Begin("oasis_runtime", o.Address)
	defer func() { status.Add(acc, nil, now) }()
	st, err := o.client.NodeStatus(ctx)
	if err != nil || st.Consensus == nil || st.Consensus.LatestHeight == 0 {
		if err == nil {
			err = errors.New("the node has no committed block yet")
		}
		acc.AddError(fmt.Errorf("reading node status: %w", err))
		reason := nodeclient.Reason(status.Fail(err))
		for _, id := range o.runtimeIDs {
			acc.AddFields(Measurement, map[string]any{"up": int64(0), "down_reason": reason}, o.tags(id, nil), now)
		}
		return nil
	}
	height, epoch := st.Consensus.LatestHeight, st.Consensus.LatestEpoch
	nodeID := st.Identity.Node
	if o.nodeID != nil {
		nodeID = *o.nodeID
	}
	own := nodeID.Equal(st.Identity.Node)

	// The node's descriptor: the runtimes it registered for.
	registered := map[common.Namespace]bool{}
	desc, err := o.client.Node(ctx, nodeID, height)
	switch {
	case errors.Is(err, registry.ErrNoSuchNode):
	case err != nil:
		acc.AddError(fmt.Errorf("reading node %s from the registry: %w", nodeID, status.Fail(err)))
	default:
		for _, rt := range desc.Runtimes {
			registered[rt.ID] = true
		}
	}
	var nodeStatus *registry.NodeStatus
	if desc != nil {
		if nodeStatus, err = o.client.RegistryNodeStatus(ctx, nodeID, height); err != nil {
			acc.AddError(fmt.Errorf("reading the registry status of node %s: %w", nodeID, status.Fail(err)))
		}
	}

	ids := o.runtimeIDs
	if len(ids) == 0 {
		seen := map[common.Namespace]bool{}
		if own {
			for id := range st.Runtimes {
				seen[id] = true
			}
		}
		for id := range registered {
			seen[id] = true
		}
		for id := range seen {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	}
	// The registry's parameters (its TEE features), read once a gather and
	// only for a TEE runtime.
	var regParams *registry.ConsensusParameters
	params := func() (*registry.ConsensusParameters, error) {
		if regParams == nil {
			p, err := o.client.RegistryParameters(ctx, height)
			if err != nil {
				return nil, fmt.Errorf("reading the registry parameters: %w", err)
			}
			regParams = p
		}
		return regParams, nil
	}
	configured := len(o.runtimeIDs) > 0
	for _, id := range ids {
		fields := map[string]any{"up": int64(1), "node_registered": boolInt(registered[id])}
		rs, err := o.gatherRuntime(ctx, fields, id, nodeID, height, now)
		switch {
		case err != nil && !configured && errors.Is(err, roothash.ErrInvalidRuntime):
			// Found in the node's status or descriptor but not a compute
			// runtime the roothash follows (a key manager): nothing to
			// report, and not an error every gather.
			continue
		case err != nil:
			acc.AddError(fmt.Errorf("reading runtime %s: %w", id, status.Fail(err)))
			fields = map[string]any{"up": int64(0), "down_reason": nodeclient.Reason(err)}
		default:
			// An attestation that can't be read costs its own fields only.
			if err := addAttestation(fields, desc, registryRuntime{id: id, runtime: rs.Runtime, epoch: epoch}, height, params); err != nil {
				acc.AddError(fmt.Errorf("reading the TEE attestation of node %s for runtime %s: %w", nodeID, id, status.Fail(err)))
			}
		}
		addFaults(fields, nodeStatus, id, epoch)
		if own {
			addHostStatus(fields, st, id)
		}
		acc.AddFields(Measurement, fields, o.tags(id, &nodeID), now)
	}
	return nil
}

func (o *OasisRuntime) tags(id common.Namespace, nodeID *signature.PublicKey) map[string]string {
	tags := map[string]string{"runtime_id": id.String()}
	if name, ok := o.names[id]; ok {
		tags["runtime_name"] = name
	}
	if nodeID != nil {
		tags["node_id"] = nodeID.String()
	} else if o.nodeID != nil {
		tags["node_id"] = o.nodeID.String()
	}
	return tags
}

// gatherRuntime adds the chain's view of runtime id: its rounds, its
// executor committee and our node's liveness in it this epoch.
func (o *OasisRuntime) gatherRuntime(ctx context.Context, fields map[string]any, id common.Namespace, nodeID signature.PublicKey,
	height int64, now time.Time) (*roothash.RuntimeState, error) {
	rs, err := o.client.RuntimeState(ctx, id, height)
	if err != nil {
		return nil, err
	}
	fields["runtime_suspended"] = boolInt(rs.Suspended)
	if rs.Runtime != nil {
		fields["tee_hardware"] = rs.Runtime.TEEHardware.String()
		fields["min_live_rounds_share"] = float64(rs.Runtime.Executor.MinLiveRoundsPercent) / 100
		fields["max_liveness_failures"] = int64(rs.Runtime.Executor.MaxLivenessFailures)
	}
	if rs.LastBlock != nil {
		fields["round"] = int64(rs.LastBlock.Header.Round)
		fields["last_block_kind"] = headerKind(rs.LastBlock.Header.HeaderType)
	}
	fields["last_normal_round"] = int64(rs.LastNormalRound)
	// The age of the last round that did work: epoch transition and
	// suspension blocks advance the round without the executors.
	if rs.LastNormalHeight > 0 {
		b, err := o.client.Block(ctx, rs.LastNormalHeight)
		if err != nil {
			return nil, fmt.Errorf("reading the block of the last normal round (height %d): %w", rs.LastNormalHeight, err)
		}
		fields["last_normal_round_age_seconds"] = now.Sub(b.Time).Seconds()
	}
	addCommittee(fields, rs, nodeID)
	return rs, nil
}

// addCommittee adds the node's place in the executor committee and its
// liveness this epoch, judged as the roothash application judges it at
// the epoch's end (consensus/cometbft/apps/roothash/liveness.go).
func addCommittee(fields map[string]any, rs *roothash.RuntimeState, nodeID signature.PublicKey) {
	fields["in_committee"] = int64(0)
	if rs.Committee == nil {
		return
	}
	fields["committee_size"] = int64(len(rs.Committee.Members))
	idx := -1
	for i, m := range rs.Committee.Members {
		if m.PublicKey.Equal(nodeID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return
	}
	member := rs.Committee.Members[idx]
	fields["in_committee"] = int64(1)
	fields["committee_role"] = member.Role.String()
	stats := rs.LivenessStatistics
	// Only workers are judged (they are listed before backup workers,
	// whose statistics are not kept the same way).
	if member.Role != scheduler.RoleWorker || stats == nil || idx >= len(stats.LiveRounds) || rs.Runtime == nil {
		return
	}
	total, live := stats.TotalRounds, stats.LiveRounds[idx]
	var finalized, missed uint64
	if idx < len(stats.FinalizedProposals) {
		finalized = stats.FinalizedProposals[idx]
	}
	if idx < len(stats.MissedProposals) {
		missed = stats.MissedProposals[idx]
	}
	ex := rs.Runtime.Executor
	minLive := total * uint64(ex.MinLiveRoundsPercent) / 100
	fields["total_rounds"] = int64(total)
	fields["live_rounds"] = int64(live)
	fields["live_rounds_min"] = int64(minLive)
	fields["finalized_proposals"] = int64(finalized)
	fields["missed_proposals"] = int64(missed)
	if total > 0 {
		fields["live_rounds_share"] = float64(live) / float64(total)
	}
	evaluated := total > 0 && total >= ex.MinLiveRoundsForEvaluation
	fields["liveness_evaluated"] = boolInt(evaluated)
	ok := live >= minLive
	if ex.MaxMissedProposalsPercent > 0 {
		ok = ok && missed <= (missed+finalized)*uint64(ex.MaxMissedProposalsPercent)/100
	}
	// Not judged (too few rounds) counts as live: the chain records no
	// failure then.
	fields["liveness_ok"] = boolInt(ok || !evaluated)
}

// addFaults adds the node's liveness faults and suspension for runtime id.
func addFaults(fields map[string]any, ns *registry.NodeStatus, id common.Namespace, epoch beacon.EpochTime) {
	if ns == nil {
		return
	}
	fields["node_suspended"] = boolInt(ns.IsSuspended(id, epoch))
	var failures uint8
	var until beacon.EpochTime
	if f, ok := ns.Faults[id]; ok && f != nil {
		failures, until = f.Failures, f.SuspendedUntil
	}
	fields["liveness_failures"] = int64(failures)
	fields["suspended_until_epoch"] = int64(until)
}

// addHostStatus adds what only the node itself knows: whether it hosts the
// runtime and its runtime host is ready, the round it has seen, its peers.
func addHostStatus(fields map[string]any, st *control.Status, id common.Namespace) {
	rt, ok := st.Runtimes[id]
	fields["hosted"] = boolInt(ok)
	if !ok {
		return
	}
	fields["node_latest_round"] = int64(rt.LatestRound)
	if round, ok := fields["round"].(int64); ok {
		fields["round_lag"] = round - int64(rt.LatestRound)
	}
	if rt.Provisioner != "" {
		fields["provisioner"] = rt.Provisioner
	}
	c := rt.Committee
	if c == nil {
		fields["ready"] = int64(0)
		fields["host_status"] = "no committee worker"
		return
	}
	fields["ready"] = boolInt(c.Status == commonWorker.StatusStateReady)
	fields["host_status"] = c.Status.String()
	fields["peers"] = int64(len(c.Peers))
	if c.ActiveVersion != nil {
		fields["active_version"] = c.ActiveVersion.String()
	}
}

func headerKind(t block.HeaderType) string {
	switch t {
	case block.Normal:
		return "normal"
	case block.RoundFailed:
		return "round_failed"
	case block.EpochTransition:
		return "epoch_transition"
	case block.Suspended:
		return "suspended"
	default:
		return "invalid"
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func init() {
	inputs.Add("oasis_runtime", func() telegraf.Input { return &OasisRuntime{} })
}
