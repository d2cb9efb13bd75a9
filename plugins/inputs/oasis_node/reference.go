package oasis_node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// ReferenceMeasurement is the measurement of one reference node per gather.
const ReferenceMeasurement = "oasis_reference"

// reasonOtherChain: the reference answers, but for another chain (a
// testnet endpoint for a mainnet node): its height says nothing about ours.
const reasonOtherChain = "other_chain"

// Reference is another node ours is compared with: another of the
// operator's nodes, or a public gRPC endpoint over TLS. Only public calls
// are made to it (Consensus.GetStatus each gather, GetChainContext until
// it answers), so a public endpoint serves.
type Reference struct {
	// Name tells references apart in the tags and the alert messages.
	Name string `toml:"name"`
	nodeclient.Config

	client *nodeclient.Client
	// chainContext is the reference's, read once it answers.
	chainContext string
	// said is the state last logged ("" up, else the down reason), so a
	// reference that stays down is logged once, not at every gather.
	said string
}

// referenceResult is what one gather learned of one reference.
type referenceResult struct {
	ref    *Reference
	up     bool
	reason string // when !up
	err    error  // when !up: what the log says
	height int64
	epoch  int64
	time   time.Time
}

// initReferences validates the references' settings.
func (o *OasisNode) initReferences() error {
	seen := map[string]bool{}
	for i, r := range o.References {
		switch {
		case r.Name == "":
			return fmt.Errorf("reference %d: name is required (it tells references apart in alerts)", i+1)
		case seen[r.Name]:
			return fmt.Errorf("reference %d: name %q is used twice", i+1, r.Name)
		case r.Address == "":
			return fmt.Errorf("reference %q: address is required (another node's socket, or host:port of a gRPC endpoint)", r.Name)
		}
		seen[r.Name] = true
		client, err := nodeclient.New(r.Config)
		if err != nil {
			return fmt.Errorf("reference %q: %w", r.Name, err)
		}
		r.client = client
	}
	return nil
}

// queryReferences asks every reference for its status, side by side, and
// returns a function that waits for the answers: the references are
// asked while our own node is read, so a gather takes no longer than the
// slower of the two.
func (o *OasisNode) queryReferences(ctx context.Context) func() []referenceResult {
	results := make([]referenceResult, len(o.References))
	var wg sync.WaitGroup
	for i, r := range o.References {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = queryReference(ctx, r)
		}()
	}
	return func() []referenceResult {
		wg.Wait()
		return results
	}
}

func queryReference(ctx context.Context, r *Reference) referenceResult {
	res := referenceResult{ref: r}
	if r.chainContext == "" {
		cc, err := r.client.ChainContext(ctx)
		if err != nil {
			res.reason, res.err = nodeclient.Reason(err), err
			return res
		}
		r.chainContext = cc
	}
	st, err := r.client.ConsensusStatus(ctx)
	if err != nil {
		res.reason, res.err = nodeclient.Reason(err), err
		return res
	}
	res.up, res.height, res.epoch, res.time = true, st.LatestHeight, int64(st.LatestEpoch), st.LatestTime
	return res
}

// addReferences writes one oasis_reference point per reference and adds
// the comparison to our node's fields: references_total, references_up
// and, when our node's height is known, the largest lag behind a
// reference on our chain (reference_height_lag, reference_epoch_lag,
// reference_ahead: which reference). own is nil when our node could not
// be read; ownChain is our node's chain context ("" if unknown).
func (o *OasisNode) addReferences(acc telegraf.Accumulator, results []referenceResult, own map[string]any, ownChain string, tags map[string]string, now time.Time) {
	if len(results) == 0 {
		return
	}
	ownHeight, haveHeight := own["latest_height"].(int64)
	ownEpoch, haveEpoch := own["epoch"].(int64)
	up := int64(0)
	var best *referenceResult
	for i := range results {
		r := &results[i]
		if r.up && ownChain != "" && r.ref.chainContext != ownChain {
			r.up, r.reason = false, reasonOtherChain
			r.err = fmt.Errorf("it serves chain %s, our node %s: check its address", r.ref.chainContext, ownChain)
		}
		o.logReference(r)
		rtags := copyTags(tags)
		rtags["reference"] = r.ref.Name
		if !r.up {
			acc.AddFields(ReferenceMeasurement, map[string]any{"up": int64(0), "down_reason": r.reason}, rtags, now)
			continue
		}
		up++
		fields := map[string]any{"up": int64(1), "latest_height": r.height, "epoch": r.epoch}
		if !r.time.IsZero() {
			fields["latest_block_age_seconds"] = now.Sub(r.time).Seconds()
		}
		if haveHeight && ownChain != "" {
			fields["height_lag"] = r.height - ownHeight
			if best == nil || r.height > best.height {
				best = r
			}
		}
		if haveEpoch && ownChain != "" {
			fields["epoch_lag"] = r.epoch - ownEpoch
		}
		acc.AddFields(ReferenceMeasurement, fields, rtags, now)
	}
	own["references_total"] = int64(len(results))
	own["references_up"] = up
	if best != nil {
		own["reference_height_lag"] = best.height - ownHeight
		if haveEpoch {
			own["reference_epoch_lag"] = best.epoch - ownEpoch
		}
		own["reference_ahead"] = best.ref.Name
	}
}

// logReference says when a reference goes down, changes its reason or
// comes back; not at every gather (its point says it every gather).
func (o *OasisNode) logReference(r *referenceResult) {
	state := ""
	if !r.up {
		state = r.reason
	}
	if state == r.ref.said {
		return
	}
	r.ref.said = state
	if r.up {
		o.Log.Infof("reference %q (%s) answers again", r.ref.Name, r.ref.client.Target())
		return
	}
	o.Log.Warnf("reference %q (%s) is not usable [%s]: %v", r.ref.Name, r.ref.client.Target(), r.reason, r.err)
}

func (o *OasisNode) stopReferences() {
	for _, r := range o.References {
		if r.client != nil {
			_ = r.client.Close()
		}
	}
}
