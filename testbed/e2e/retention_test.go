package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// checkAggregates: the retention policies influxdb/oasis-setup.sh makes,
// and its continuous queries' aggregates on the pipeline's real points:
// for every series and 10 s interval that has passed the queries' window
// (they run every 10 s here, over the last 60 s), the aggregate equals
// what the same aggregate over the raw points gives.
func checkAggregates(t *testing.T, in *stacktest.Influx) {
	t.Helper()
	rps := map[string]string{}
	for _, s := range influxQL(t, in, `SHOW RETENTION POLICIES ON "telegraf"`) {
		for _, row := range s.Values {
			rps[row[0].(string)] = row[1].(string)
		}
	}
	require.Equal(t, map[string]string{"autogen": "2160h0m0s", "hourly": "0s"}, rps, "raw points 90 days, aggregates for ever")

	// Intervals past the queries' 60 s window (and the flush after it),
	// once the pipeline has run that long.
	var window string
	wait.Until(t, func() bool {
		end := time.Now().Add(-75 * time.Second).Truncate(10 * time.Second)
		window = fmt.Sprintf(`time >= %d AND time < %d`, end.Add(-2*time.Minute).UnixNano(), end.UnixNano())
		heights := valuesBySeries(t, influxQL(t, in, `SELECT last("latest_height") FROM "oasis_node" WHERE `+window+` GROUP BY time(10s)`))
		cpu := influxQL(t, in, `SELECT mean("usage_idle") FROM "cpu" WHERE `+window)
		return len(heights) >= 3 && hasValue(cpu)
	}, 3*time.Minute, 5*time.Second, "three intervals of the pipeline's points older than the continuous queries' window")
	for _, c := range []struct{ measurement, raw, stored, where string }{
		{"oasis_signing", `last("signed_total")`, `last_signed_total`, ""},
		{"oasis_node", `last("latest_height")`, `last_latest_height`, ""},
		{"oasis_entity", `last("escrow_active_balance_tokens")`, `last_escrow_active_balance_tokens`, ""},
		{"cpu", `mean("usage_idle")`, `mean_usage_idle`, `"cpu" = 'cpu-total' AND `},
		{"mem", `max("used_percent")`, `max_used_percent`, ""},
	} {
		rawQ := fmt.Sprintf(`SELECT %s FROM %q WHERE %s%s GROUP BY time(10s), *`, c.raw, c.measurement, c.where, window)
		aggQ := fmt.Sprintf(`SELECT %q FROM "hourly".%q WHERE %s%s GROUP BY *`, c.stored, c.measurement, c.where, window)
		raw, agg := valuesBySeries(t, influxQL(t, in, rawQ)), valuesBySeries(t, influxQL(t, in, aggQ))
		require.NotEmpty(t, raw, rawQ)
		require.Equal(t, keys(raw), keys(agg), "%s: the aggregates' series and intervals\nraw: %s\naggregates: %s", c.measurement, rawQ, aggQ)
		for k, v := range raw {
			require.InDelta(t, v, agg[k], 1e-9*math.Max(1, math.Abs(v)), "%s %s", c.measurement, k)
		}
		t.Logf("%s: %d aggregates equal the raw points' %s", c.measurement, len(raw), c.raw)
	}
}

// valuesBySeries maps "tags@time" to the value of each non-null row.
func valuesBySeries(t *testing.T, series []influxSeries) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range series {
		var tags []string
		for k, v := range s.Tags {
			tags = append(tags, k+"="+v)
		}
		sort.Strings(tags)
		for _, row := range s.Values {
			if row[1] == nil {
				continue
			}
			v, err := row[1].(json.Number).Float64()
			require.NoError(t, err)
			out[strings.Join(tags, ",")+"@"+row[0].(json.Number).String()] = v
		}
	}
	return out
}

func keys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
