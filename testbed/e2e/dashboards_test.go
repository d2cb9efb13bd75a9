package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/dashboards"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// grafanaMacros expands what Grafana's InfluxDB data source expands before
// it sends a query: the time range, the interval, and the template
// variables (regex-escaped, as Grafana formats a variable used in a regex).
func grafanaMacros(q string, vars map[string]string) string {
	r := strings.NewReplacer("$timeFilter", "time >= now() - 1h", "$__interval", "10s")
	q = r.Replace(q)
	for name, value := range vars {
		escaped := strings.ReplaceAll(regexp.QuoteMeta(value), "/", `\/`)
		q = strings.ReplaceAll(q, "$"+name, escaped)
	}
	return q
}

// checkDashboardQueries runs every panel's query of every dashboard that
// reads one of the measurements `of` accepts against the pipeline's
// InfluxDB: each must parse and return at least one value. Rates
// (derivatives, differences) need two 10 s intervals of data, so a query
// without data yet is asked again, for up to 90 s.
func checkDashboardQueries(t *testing.T, in *stacktest.Influx, vars map[string]string, of func(measurement string) bool) {
	t.Helper()
	type panelQuery struct{ where, text string }
	var pending []panelQuery
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				if !of(q.Measurement) {
					continue
				}
				pending = append(pending, panelQuery{d.File + " / " + p.Title, grafanaMacros(q.Text, vars)})
			}
		}
	}
	total := len(pending)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var still []panelQuery
		for _, q := range pending {
			if !hasValue(influxQL(t, in, q.text)) { // influxQL fails the test on a parse error
				still = append(still, q)
			}
		}
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	for _, q := range pending {
		t.Errorf("%s returned no data:\n%s", q.where, q.text)
	}
	if total == 0 {
		t.Error("no dashboard query reads these measurements: this check could not fail")
	}
	t.Logf("%d of %d dashboard queries returned data", total-len(pending), total)
}

// checkValidatorNames: the network dashboard's validators table names our
// validator (the names processor's fields, from .env) and leaves the
// others' names empty (no alias, no registry).
func checkValidatorNames(t *testing.T, in *stacktest.Influx, ours string) {
	t.Helper()
	var text string
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			if d.UID == "oasis-network" && p.Title == "Validators" {
				text = grafanaMacros(p.Queries[0].Text, nil)
			}
		}
	}
	require.NotEmpty(t, text, "the network dashboard's validators table")
	rows := 0
	for _, s := range influxQL(t, in, text) {
		col := map[string]int{}
		for i, c := range s.Columns {
			col[c] = i
		}
		require.Contains(t, col, "node")
		require.Contains(t, col, "entity")
		row := s.Values[0]
		if s.Tags["consensus_address"] == ours {
			require.Equal(t, "validator-0", row[col["node"]], "our node's name")
			require.Equal(t, "Our Entity", row[col["entity"]], "our entity's name")
		} else {
			require.Nil(t, row[col["node"]], "validator %s has no name", s.Tags["consensus_address"])
		}
		rows++
	}
	require.Equal(t, 4, rows, "one row per devnet validator")
}

func hasValue(series []influxSeries) bool {
	for _, s := range series {
		for _, row := range s.Values {
			for i, v := range row {
				if s.Columns[i] != "time" && v != nil {
					return true
				}
			}
		}
	}
	return false
}

// checkTilesGoStale: with the pipeline stopped, every "now" tile (a stat
// panel reading only its measurement's last minutes, see
// internal/dashboards withStaleTiles) stops returning a value, so Grafana
// shows its "no data for ..." instead of the last value as if current.
func checkTilesGoStale(t *testing.T, in *stacktest.Influx, vars map[string]string) {
	t.Helper()
	type tile struct{ where, text string }
	var tiles []tile
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			if p.Kind != dashboards.Stat || p.NoValue == "" {
				continue
			}
			for _, q := range p.Queries {
				if strings.HasPrefix(q.FixedRange, "a now tile") {
					tiles = append(tiles, tile{d.File + " / " + p.Title, grafanaMacros(q.Text, vars)})
				}
			}
		}
	}
	if len(tiles) == 0 {
		t.Fatal("no now tile: this check could not fail")
	}
	wait.Value(t, func() (bool, string) {
		var current []string
		for _, q := range tiles {
			if hasValue(influxQL(t, in, q.text)) {
				current = append(current, q.where)
			}
		}
		return len(current) == 0, fmt.Sprintf("%d of %d tiles still show a value: %v", len(current), len(tiles), current)
	}, 4*time.Minute, 5*time.Second, "every now tile goes stale once Telegraf is stopped")
	t.Logf("all %d now tiles show no data", len(tiles))
}
