// Package dashboards defines the Grafana dashboards as Go values and builds
// them with the Grafana Foundation SDK. The spec is small on purpose: a
// panel is a kind, a unit, thresholds and InfluxQL queries that say which
// measurement and fields they read, so tests can run every query against
// InfluxDB and check every field is documented.
package dashboards

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Dashboard is one dashboard file under grafana/dashboards.
type Dashboard struct {
	File, UID, Title string
	// Purpose is what the dashboard is for (docs/dashboards.md shows it).
	Purpose string
	// Vars are the template variables it uses: "node", "entity".
	Vars   []string
	Panels []Panel
	// From is the time range it opens with (Grafana's "now-6h" if empty).
	From string
}

// Kind is a panel's visualization.
type Kind string

const (
	Stat       Kind = "stat"
	TimeSeries Kind = "timeseries"
	Table      Kind = "table"
)

// Panel is one panel.
type Panel struct {
	Title, Description string
	Kind               Kind
	// Unit is Grafana's unit id ("s", "percentunit", "bytes", "none", ...).
	Unit string
	// Thresholds are the colour steps, lowest first; the first applies
	// from minus infinity.
	Thresholds []Step
	// Mappings turn values into words (0 -> "DOWN").
	Mappings map[string]string
	Width    uint32
	Height   uint32
	Queries  []Query
	// HighlightRowsBy (tables): a 0/1 column; rows where it is 1 are
	// coloured, the column shows "ours".
	HighlightRowsBy string
	// NoValue is what the panel shows without data (stat tiles: "no data
	// for 1m", see withStaleTiles); staleWindow is the window behind it.
	NoValue     string
	staleWindow time.Duration
	// TimeField (stat): show the newest point's time, as an age ("20
	// seconds ago"), instead of its value.
	TimeField bool
}

// Step is one threshold step.
type Step struct {
	From  *float64
	Color string
}

// Query is one InfluxQL target.
type Query struct {
	// Measurement and Fields are what it reads, for the documentation
	// check; Text is the InfluxQL with Grafana's macros ($timeFilter,
	// $__interval) and variables ($node, $entity).
	Measurement string
	Fields      []string
	Text        string
	Alias       string
	// Table: the result is a table (one row per series), not time series.
	Table bool
	// FixedRange, when set, says why the query reads a window of its own
	// instead of the dashboard's time range ($timeFilter).
	FixedRange string
	// RP is the retention policy it reads when not the default (autogen):
	// "hourly", the hourly aggregates of influxdb/oasis-setup.sh, whose
	// fields are the raw ones prefixed last_, mean_, min_ or max_. Fields
	// still names the raw fields (the query aliases each aggregate back).
	RP string
}

// Build returns the dashboard's JSON model as Grafana provisions it.
func (d Dashboard) Build() ([]byte, error) {
	b := dashboard.NewDashboardBuilder(d.Title).
		Uid(d.UID).
		Description(d.Purpose).
		Tags([]string{"oasis", "oasis-mission-control"}).
		Time(cmp.Or(d.From, "now-6h"), "now").
		Refresh("30s").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly()
	for _, v := range d.Vars {
		vb, err := variable(v)
		if err != nil {
			return nil, err
		}
		b = b.WithVariable(vb)
	}
	var x, y, rowH uint32
	for i, p := range d.Panels {
		w, h := p.Width, p.Height
		if w == 0 {
			w = 6
		}
		if h == 0 {
			h = 4
		}
		if x+w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		pos := dashboard.GridPos{X: x, Y: y, W: w, H: h}
		x += w
		if h > rowH {
			rowH = h
		}
		pb, err := p.builder(pos, i+1)
		if err != nil {
			return nil, fmt.Errorf("%s: panel %q: %w", d.File, p.Title, err)
		}
		b = b.WithPanel(pb)
	}
	dash, err := b.Build()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(dash, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// variable is a template variable over a tag of our measurements.
func variable(name string) (cog.Builder[dashboard.VariableModel], error) {
	var q, label string
	switch name {
	case "node":
		q, label = `SHOW TAG VALUES FROM "oasis_node" WITH KEY = "node_id"`, "Node"
	case "entity":
		q, label = `SHOW TAG VALUES FROM "oasis_entity" WITH KEY = "entity_id"`, "Entity"
	default:
		return nil, fmt.Errorf("unknown variable %q", name)
	}
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: &q}).
		Definition(q).
		Datasource(datasource()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc), nil
}

func (p Panel) targets() []cog.Builder[variants.Dataquery] {
	var ts []cog.Builder[variants.Dataquery]
	for i, q := range p.Queries {
		format := "time_series"
		if q.Table {
			format = "table"
		}
		ts = append(ts, targetBuilder{influxQLTarget{
			RefID: string(rune('A' + i)), Datasource: datasource(), Query: q.Text,
			RawQuery: true, ResultFormat: format, Alias: q.Alias,
		}})
	}
	return ts
}

func (p Panel) thresholds() cog.Builder[dashboard.ThresholdsConfig] {
	steps := []dashboard.Threshold{}
	for _, s := range p.Thresholds {
		steps = append(steps, dashboard.Threshold{Value: s.From, Color: s.Color})
	}
	if len(steps) == 0 {
		steps = []dashboard.Threshold{{Color: "green"}}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func (p Panel) mappings() []dashboard.ValueMapping {
	if len(p.Mappings) == 0 {
		return nil
	}
	opts := map[string]dashboard.ValueMappingResult{}
	for v, text := range p.Mappings {
		t := text
		opts[v] = dashboard.ValueMappingResult{Text: &t}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

func (p Panel) builder(pos dashboard.GridPos, id int) (cog.Builder[dashboard.Panel], error) {
	if p.Unit == "" {
		return nil, fmt.Errorf("no unit")
	}
	if len(p.Queries) == 0 {
		return nil, fmt.Errorf("no query")
	}
	switch p.Kind {
	case Stat:
		fields := "/.*/"
		if p.TimeField {
			fields = "/^Time$/" // Grafana's name for InfluxQL's time column
		}
		sb := stat.NewPanelBuilder().Id(uint32(id)).Title(p.Title).Description(p.Description).
			Datasource(datasource()).GridPos(pos).Targets(p.targets()).
			Unit(p.Unit).Thresholds(p.thresholds()).Mappings(p.mappings()).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields(fields))
		if p.NoValue != "" {
			sb = sb.NoValue(p.NoValue)
		}
		return sb, nil
	case TimeSeries:
		tb := timeseries.NewPanelBuilder().Id(uint32(id)).Title(p.Title).Description(p.Description).
			Datasource(datasource()).GridPos(pos).Targets(p.targets()).
			Unit(p.Unit).Thresholds(p.thresholds()).Mappings(p.mappings()).
			Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom))
		if len(p.Thresholds) > 1 {
			tb = tb.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
		}
		return tb, nil
	case Table:
		tb := table.NewPanelBuilder().Id(uint32(id)).Title(p.Title).Description(p.Description).
			Datasource(datasource()).GridPos(pos).Targets(p.targets()).
			Unit(p.Unit).Thresholds(p.thresholds()).Mappings(p.mappings())
		if p.HighlightRowsBy != "" {
			tb = tb.OverrideByName(p.HighlightRowsBy, highlightRow())
		}
		return tb, nil
	}
	return nil, fmt.Errorf("unknown kind %q", p.Kind)
}

// highlightRow colours a table's whole row where the column is 1, and
// shows the 1 as "ours".
func highlightRow() []dashboard.DynamicConfigValue {
	one := 1.0
	return []dashboard.DynamicConfigValue{
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic", "applyToRow": true}},
		{Id: "thresholds", Value: dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: []dashboard.Threshold{
			{Color: "transparent"}, {Value: &one, Color: "blue"},
		}}},
		{Id: "mappings", Value: []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText,
			Options: map[string]dashboard.ValueMappingResult{"0": {Text: ptr("")}, "1": {Text: ptr("ours")}}}}}},
	}
}

func ptr(s string) *string { return &s }
