package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// The Foundation SDK has no InfluxDB query type, so InfluxQL targets are
// this type, written as Grafana's InfluxDB data source stores a raw query.
type influxQLTarget struct {
	RefID        string               `json:"refId"`
	Datasource   common.DataSourceRef `json:"datasource"`
	Query        string               `json:"query"`
	RawQuery     bool                 `json:"rawQuery"`
	ResultFormat string               `json:"resultFormat"`
	Alias        string               `json:"alias,omitempty"`
}

func (influxQLTarget) ImplementsDataqueryVariant() {}
func (influxQLTarget) DataqueryType() string       { return "influxdb" }
func (influxQLTarget) Validate() error             { return nil }
func (t influxQLTarget) Equals(other variants.Dataquery) bool {
	o, ok := other.(influxQLTarget)
	return ok && o.RefID == t.RefID && o.Query == t.Query && o.ResultFormat == t.ResultFormat && o.Alias == t.Alias
}

// targetBuilder makes an influxQLTarget usable where the SDK takes a
// cog.Builder[variants.Dataquery].
type targetBuilder struct{ t influxQLTarget }

func (b targetBuilder) Build() (variants.Dataquery, error) { return b.t, nil }

var _ cog.Builder[variants.Dataquery] = targetBuilder{}

// DatasourceUID is the InfluxDB data source's uid that
// grafana/provisioning/datasources provisions.
const DatasourceUID = "oasis-influxdb"

func datasource() common.DataSourceRef {
	typ, uid := "influxdb", DatasourceUID
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}
