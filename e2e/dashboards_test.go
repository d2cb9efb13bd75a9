package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/oasis-mission-control/oasis-mission-control/internal/dashboards"
	"github.com/oasis-mission-control/oasis-mission-control/internal/stacktest"
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

// checkDashboardQueries runs every panel's query of every dashboard against
// the pipeline's InfluxDB: each must parse and return at least one value.
func checkDashboardQueries(t *testing.T, in *stacktest.Influx, vars map[string]string) {
	t.Helper()
	n := 0
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				n++
				text := grafanaMacros(q.Text, vars)
				series := influxQL(t, in, text)
				if !hasValue(series) {
					t.Errorf("%s / %s returned no data:\n%s", d.File, p.Title, text)
				}
			}
		}
	}
	t.Logf("%d dashboard queries returned data", n)
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
