// Package inputstatus writes the point by which each of our inputs says,
// once per gather, that it is alive and whether it can read the node: the
// oasis_input measurement, one series per input process (tags input and
// address, plus Telegraf's host).
//
// Alerts about the monitor itself key on this series, not on what an input
// reports about validators, entities or proposals: those series exist only
// once the node has been read, there can be many of them (one per
// validator), and a point that carries no validator's tags lands in
// another series than the ones an alert groups by. A deadman on oasis_input
// fires when an input's process stops writing (a crash loop, a hang); an
// up=0 point says it runs but can't read the node, and why.
package inputstatus

import (
	"time"

	"github.com/influxdata/telegraf"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// Measurement is the name of the one series per input process.
const Measurement = "oasis_input"

// Fields are every field Add writes besides an input's extra ones, for the
// plugins' README tests.
var Fields = []string{"up", "down_reason", "failed_reads"}

// Gather collects one gather's outcome: every read that failed. The zero
// value is not usable; start one with Begin.
type Gather struct {
	input, address string
	failures       int
	reason         string
}

// Begin starts the status of one gather of input (its plugin name) reading
// the node at address (its `address` setting, as configured).
func Begin(input, address string) *Gather {
	return &Gather{input: input, address: address}
}

// Fail records a read of this gather that failed; the first failure's
// nodeclient.Reason is the point's down_reason. It returns err, so that a
// caller can write acc.AddError(g.Fail(err)).
func (g *Gather) Fail(err error) error {
	if err == nil {
		return nil
	}
	if g.failures == 0 {
		g.reason = nodeclient.Reason(err)
	}
	g.failures++
	return err
}

// FailWith records a failure whose reason the caller knows (an input that
// keeps its own connection state, like oasis_signing's block follower); ""
// when it has no reason yet (not tried): the point then has no down_reason.
func (g *Gather) FailWith(reason string) {
	if g.failures == 0 {
		g.reason = reason
	}
	g.failures++
}

// Up reports whether every read of this gather so far succeeded.
func (g *Gather) Up() bool { return g.failures == 0 }

// Add writes the point: up (1 when every read of the gather succeeded),
// failed_reads and down_reason with up=0, and the input's own extra fields
// (may be nil).
func (g *Gather) Add(acc telegraf.Accumulator, extra map[string]any, now time.Time) {
	fields := make(map[string]any, len(extra)+3)
	for k, v := range extra {
		fields[k] = v
	}
	fields["up"] = int64(1)
	if g.failures > 0 {
		fields["up"] = int64(0)
		if g.reason != "" {
			fields["down_reason"] = g.reason
		}
		fields["failed_reads"] = int64(g.failures)
	}
	acc.AddFields(Measurement, fields, map[string]string{"input": g.input, "address": g.address}, now)
}
