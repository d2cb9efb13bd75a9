package alerting

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb/models"
)

// point is one recorded point, editable.
type point struct {
	Name   string
	Tags   map[string]string
	Fields map[string]any
	Time   time.Time
}

type series []point

// events are the moments of the recording. testbed/e2e/record_test.go
// writes them (its Events type, in another module); the committed
// events.json is the contract: both types decode it strictly
// (TestEventsFile here, TestCommittedEventsFile there), so neither can
// gain or lose a field alone.
type events struct {
	Interval          string `json:"interval"`
	HealthyFrom       int64  `json:"healthy_from"`
	HealthyTo         int64  `json:"healthy_to"`
	Validator3Stopped int64  `json:"validator3_stopped"`
	ProposalSubmitted int64  `json:"proposal_submitted"`
	Validator3Started int64  `json:"validator3_started"`
	Validator0Stopped int64  `json:"validator0_stopped"`
	Validator0Started int64  `json:"validator0_started"`
	End               int64  `json:"end"`
	OwnNodeID         string `json:"own_node_id"`
	OwnEntityID       string `json:"own_entity_id"`
	DownEntityID      string `json:"down_entity_id"`
	DownNodeID        string `json:"down_node_id"`
	DownConsensusAddr string `json:"down_consensus_address"`
	ProposalID        uint64 `json:"proposal_id"`
	// Indexes of devnet validators: 0 is a valid value.
	ProposalSubmitter  int `json:"proposal_submitter_validator"`
	MonitoredValidator int `json:"monitored_validator"`
}

func at(ns int64) time.Time { return time.Unix(0, ns).UTC() }

var recordingDir = filepath.Join("testdata", "devnet")

// recording returns the devnet recording and its events.
func recording(t *testing.T) (series, events) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recordingDir, "series.lp"))
	if err != nil {
		t.Fatal(err)
	}
	pts, err := models.ParsePointsWithPrecision(b, time.Now(), "n")
	if err != nil {
		t.Fatal(err)
	}
	var s series
	for _, p := range pts {
		fields, err := p.Fields()
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, point{Name: string(p.Name()), Tags: p.Tags().Map(), Fields: fields, Time: p.Time()})
	}
	var ev events
	eb, err := os.ReadFile(filepath.Join(recordingDir, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(eb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s/events.json: %v", recordingDir, err)
	}
	return s, ev
}

// between keeps the points in [from, to).
func (s series) between(from, to time.Time) series {
	var out series
	for _, p := range s {
		if !p.Time.Before(from) && p.Time.Before(to) {
			out = append(out, p)
		}
	}
	return out
}

// only keeps the points of these measurements.
func (s series) only(names ...string) series {
	var out series
	for _, p := range s {
		for _, n := range names {
			if p.Name == n {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// where keeps the points with tag k = v.
func (s series) where(k, v string) series {
	var out series
	for _, p := range s {
		if p.Tags[k] == v {
			out = append(out, p)
		}
	}
	return out
}

// edit returns a deep copy with f applied to every point.
func (s series) edit(f func(i int, p *point)) series {
	out := make(series, len(s))
	for i, p := range s {
		q := point{Name: p.Name, Time: p.Time, Tags: map[string]string{}, Fields: map[string]any{}}
		for k, v := range p.Tags {
			q.Tags[k] = v
		}
		for k, v := range p.Fields {
			q.Fields[k] = v
		}
		f(i, &q)
		out[i] = q
	}
	return out
}

// namedMeasurements are the measurements Telegraf's oasis_names
// processor sees (telegraf.conf's [[processors.execd]] namepass).
var namedMeasurements = map[string]bool{
	"oasis_node": true, "oasis_signing": true, "oasis_entity": true, "oasis_entity_node": true,
	"oasis_governance": true, "oasis_governance_proposal": true, "oasis_governance_upgrade": true,
	"oasis_runtime": true,
}

// nameOf is the name the tests give an ID: "node 5O9tWU", "entity s8yrSJ".
func nameOf(kind, id string) string { return kind + " " + id[:6] }

// named returns s as the oasis_names processor would pass it on with a
// name for every node and entity ID.
func (s series) named() series {
	return s.edit(func(_ int, p *point) {
		if !namedMeasurements[p.Name] {
			return
		}
		if id := p.Tags["node_id"]; id != "" {
			p.Fields["node_name"] = nameOf("node", id)
		}
		if id := p.Tags["entity_id"]; id != "" {
			p.Fields["entity_name"] = nameOf("entity", id)
		}
	})
}

// shift moves every point by d.
func (s series) shift(d time.Duration) series {
	return s.edit(func(_ int, p *point) { p.Time = p.Time.Add(d) })
}

// repeat appends copies of s after itself, each shifted by its span, to
// make a longer healthy series.
func (s series) repeat(n int, span time.Duration) series {
	out := append(series(nil), s...)
	for i := 1; i < n; i++ {
		out = append(out, s.shift(time.Duration(i)*span)...)
	}
	return out
}

func (s series) lp(t *testing.T) []byte {
	t.Helper()
	sorted := append(series(nil), s...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	var b strings.Builder
	for _, p := range sorted {
		mp, err := models.NewPoint(p.Name, models.NewTags(p.Tags), p.Fields, p.Time)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(mp.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func (s series) first() time.Time { return s[0].Time }
func (s series) last() time.Time  { return s[len(s)-1].Time }

// TestEventsFile: the committed events.json has exactly this type's
// fields, each set (a validator index may be 0).
func TestEventsFile(t *testing.T) {
	_, ev := recording(t)
	v := reflect.ValueOf(ev)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "ProposalSubmitter" || name == "MonitoredValidator" {
			continue
		}
		if v.Field(i).IsZero() {
			t.Errorf("events.json does not set %s", name)
		}
	}
}
