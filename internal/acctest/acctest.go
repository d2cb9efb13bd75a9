// Package acctest gathers from a Telegraf input into a testutil.Accumulator
// and picks points out of it, for the plugins' tests: their unit tests
// against the fake node here and their tests against real validators in
// testbed/. Test support, like internal/fakenode: it adds no dependency
// the plugins do not already have.
package acctest

import (
	"strings"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// Gather runs one gather of in and fails the test if Gather itself
// returns an error (errors the input adds with AddError stay in
// acc.Errors for the test to check).
func Gather(t testing.TB, in telegraf.Input) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, in.Gather(&acc))
	return &acc
}

// Point returns the fields of the first point of measurement whose tag has
// value, and fails the test when there is none.
func Point(t testing.TB, acc *testutil.Accumulator, measurement, tag, value string) map[string]any {
	t.Helper()
	for _, m := range acc.Metrics {
		if m.Measurement == measurement && m.Tags[tag] == value {
			return m.Fields
		}
	}
	t.Fatalf("no %s point with %s=%s in %v", measurement, tag, value, acc.Metrics)
	return nil
}

// Input returns the fields of the gather's one oasis_input point (the
// input's own status), and fails the test unless there is exactly one,
// tagged with input.
func Input(t testing.TB, acc *testutil.Accumulator, input string) map[string]any {
	t.Helper()
	var found []*testutil.Metric
	for _, m := range acc.Metrics {
		if m.Measurement == "oasis_input" {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "one oasis_input point per gather: %v", acc.Metrics)
	require.Equal(t, input, found[0].Tags["input"])
	require.NotEmpty(t, found[0].Tags["address"], "tagged with the configured address")
	return found[0].Fields
}

// ByTags indexes the points of measurement by the values of tags, joined
// with "/" (e.g. proposal_id and handler: "3/v27").
func ByTags(acc *testutil.Accumulator, measurement string, tags ...string) map[string]*testutil.Metric {
	out := map[string]*testutil.Metric{}
	for _, m := range acc.Metrics {
		if m.Measurement != measurement {
			continue
		}
		key := make([]string, len(tags))
		for i, tag := range tags {
			key[i] = m.Tags[tag]
		}
		out[strings.Join(key, "/")] = m
	}
	return out
}
