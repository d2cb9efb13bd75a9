package oasis_node

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// ReferenceMeasurement is the measurement of one reference node per gather.
const ReferenceMeasurement = "oasis_reference"

// reasonOtherChain: the reference answers, but for another chain (a
// testnet endpoint for a mainnet node): its height says nothing about ours.
const reasonOtherChain = "other_chain"

// reasonStale: the reference answers, but its latest block is older than
// max_block_age: a stalled node is no measure of the network.
const reasonStale = "stale"

// defaultMaxBlockAge: Oasis blocks come every ~6 s; a reference whose
// latest block is 2 minutes old has stopped following the chain.
const defaultMaxBlockAge = 2 * time.Minute

// referenceName: a reference's name goes into tags and alert messages (and
// Kapacitor HTML-escapes the details): plain characters only.
var referenceName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Reference is another node ours is compared with: another of the
// operator's nodes, or a public gRPC endpoint over TLS. One public call is
// made to it per gather (Consensus.GetStatus), so a public endpoint serves.
type Reference struct {
	// Name tells references apart in the tags and the alert messages.
	Name string `toml:"name"`
	// MaxBlockAge: a reference whose latest block is older is stale (down).
	MaxBlockAge config.Duration `toml:"max_block_age"`
	nodeclient.Config

	client *nodeclient.Client
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
	chain  string // the chain context it answered for
}

// initReferences validates the references' settings.
func (o *OasisNode) initReferences() error {
	seen := map[string]bool{}
	for i, r := range o.References {
		switch {
		case r.Name == "":
			return fmt.Errorf("reference %d: name is required (it tells references apart in alerts)", i+1)
		case !referenceName.MatchString(r.Name):
			return fmt.Errorf("reference %d: name %q: letters, digits, '.', '_' and '-' only, at most 64", i+1, r.Name)
		case r.MaxBlockAge < 0:
			return fmt.Errorf("reference %q: max_block_age must not be negative", r.Name)
		case seen[r.Name]:
			return fmt.Errorf("reference %d: name %q is used twice", i+1, r.Name)
		case r.Address == "":
			return fmt.Errorf("reference %q: address is required (another node's socket, or host:port of a gRPC endpoint)", r.Name)
		}
		seen[r.Name] = true
		if r.MaxBlockAge == 0 {
			r.MaxBlockAge = config.Duration(defaultMaxBlockAge)
		}
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
	// The chain context comes with the status at every gather: a network
	// upgrade's new genesis changes it on both sides.
	st, err := r.client.ConsensusStatus(ctx)
	if err != nil {
		res.reason, res.err = nodeclient.Reason(err), err
		return res
	}
	res.up, res.height, res.epoch, res.time, res.chain = true, st.LatestHeight, int64(st.LatestEpoch), st.LatestTime, st.ChainContext
	return res
}

// addReferences writes one oasis_reference point per reference and adds
// the comparison to our node's fields: references_total, references_up
// and, when our node's height is known, the largest lag behind a
// reference (reference_height_lag, reference_epoch_lag, reference_ahead:
// which reference). A reference counts only on our node's chain (ownChain,
// the last one seen while our node is down; "" before it was ever read)
// and with a fresh block: blocks need 2/3 of the votes, so no honest node
// of our chain is ahead of the network, and the largest height is the
// network's.
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
		switch {
		case !r.up:
		case ownChain != "" && r.chain != ownChain:
			r.up, r.reason = false, reasonOtherChain
			r.err = fmt.Errorf("it serves chain %s, our node %s: check that its address is of the same network", r.chain, ownChain)
		case !r.time.IsZero() && now.Sub(r.time) > time.Duration(r.ref.MaxBlockAge):
			r.up, r.reason = false, reasonStale
			r.err = fmt.Errorf("its latest block (height %d) is %s old, over max_block_age %s", r.height,
				now.Sub(r.time).Round(time.Second), time.Duration(r.ref.MaxBlockAge))
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
		if haveHeight && haveEpoch && ownChain != "" {
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
