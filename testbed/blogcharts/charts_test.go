// Package blogcharts draws the launch post's charts (docs/blog/*.png)
// from the devnet recording the alert tests replay
// (alerting/testdata/devnet): real oasis-node validators, a validator
// stopped for a while, our own node stopped and started. No Grafana runs
// here, so the charts are drawn with gonum/plot. TestCharts checks the
// committed images are what the recording gives; -update redraws them.
package blogcharts

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var update = flag.Bool("update", false, "redraw docs/blog/*.png from the recording")

const recording = "../../alerting/testdata/devnet"

type events struct {
	HealthyFrom          int64  `json:"healthy_from"`
	Validator3Stopped    int64  `json:"validator3_stopped"`
	Validator3Started    int64  `json:"validator3_started"`
	Validator0Stopped    int64  `json:"validator0_stopped"`
	Validator0Started    int64  `json:"validator0_started"`
	OwnNodeID            string `json:"own_node_id"`
	DownConsensusAddress string `json:"down_consensus_address"`
}

func load(t *testing.T) ([]telegraf.Metric, events) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(recording, "series.lp"))
	if err != nil {
		t.Fatal(err)
	}
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Time().Before(ms[j].Time()) })
	var ev events
	b, err := os.ReadFile(filepath.Join(recording, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ms, ev
}

func num(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// series is the field's values over time (seconds since start) for the
// points of measurement whose tag equals value.
func series(ms []telegraf.Metric, start int64, measurement, tag, value, field string) plotter.XYs {
	var out plotter.XYs
	for _, m := range ms {
		if m.Name() != measurement {
			continue
		}
		if v, _ := m.GetTag(tag); v != value {
			continue
		}
		f, ok := m.GetField(field)
		if !ok {
			continue
		}
		y, ok := num(f)
		if !ok {
			continue
		}
		out = append(out, plotter.XY{X: float64(m.Time().UnixNano()-start) / 1e9, Y: y})
	}
	return out
}

var (
	blue   = color.RGBA{R: 0x1f, G: 0x6f, B: 0xd0, A: 0xff}
	orange = color.RGBA{R: 0xe0, G: 0x7b, B: 0x00, A: 0xff}
	red    = color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	grey   = color.RGBA{R: 0x70, G: 0x70, B: 0x70, A: 0xff}
)

func line(t *testing.T, p *plot.Plot, xys plotter.XYs, c color.Color, dashed bool, name string) {
	t.Helper()
	l, err := plotter.NewLine(xys)
	if err != nil {
		t.Fatal(err)
	}
	l.Color = c
	l.Width = vg.Points(2)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
		l.Width = vg.Points(1)
	}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
}

// mark draws a dotted vertical line at x from y0 to y1, named in the legend.
func mark(t *testing.T, p *plot.Plot, x, y0, y1 float64, c color.Color, name string) {
	t.Helper()
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
	if err != nil {
		t.Fatal(err)
	}
	l.Color = c
	l.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
}

// segments splits a series where a gap longer than 5 s is (the node was
// not read), so the chart does not draw a line across the gap.
func segments(xys plotter.XYs) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i, xy := range xys {
		if i > 0 && xy.X-xys[i-1].X > 5 {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, xy)
	}
	return append(out, cur)
}

// everyFifty labels the time axis every 50 s.
type everyFifty struct{}

func (everyFifty) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for x := 0.0; x <= max; x += 25 {
		tk := plot.Tick{Value: x}
		if int(x)%50 == 0 {
			tk.Label = strconv.Itoa(int(x))
		}
		out = append(out, tk)
	}
	return out
}

func newPlot(title, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds into the recording (a real 4-validator devnet, 2 s gathers)"
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Tick.Marker = everyFifty{}
	p.Add(plotter.NewGrid())
	return p
}

func sec(ns, start int64) float64 { return float64(ns-start) / 1e9 }

func save(t *testing.T, p *plot.Plot, name string) {
	t.Helper()
	w, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "blog", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./blogcharts -update draws it)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("docs/blog/%s is not what the recording gives: go test ./blogcharts -update, and commit it", name)
	}
}

// TestCharts draws the post's three charts.
func TestCharts(t *testing.T) {
	ms, ev := load(t)
	start := ev.HealthyFrom

	// 1. A validator stops: every missed height counted, in a row and in all.
	p := newPlot("A monitored validator stops for 77 s, then signs again", "heights")
	inRow := series(ms, start, "oasis_signing", "consensus_address", ev.DownConsensusAddress, "consecutive_missed")
	total := series(ms, start, "oasis_signing", "consensus_address", ev.DownConsensusAddress, "missed_total")
	if len(inRow) < 50 || len(total) < 50 {
		t.Fatalf("the recording has %d, %d signing points of the stopped validator", len(inRow), len(total))
	}
	line(t, p, inRow, orange, false, "consecutive_missed (pages at 10: oasis_missed_consecutive)")
	line(t, p, total, blue, false, "missed_total (since monitoring began; equal while it is stopped)")
	top := 0.0
	for _, xy := range total {
		top = max(top, xy.Y)
	}
	line(t, p, plotter.XYs{{X: 0, Y: 10}, {X: total[len(total)-1].X, Y: 10}}, red, true, "")
	mark(t, p, sec(ev.Validator3Stopped, start), 0, top, grey, "validator stopped / started")
	mark(t, p, sec(ev.Validator3Started, start), 0, top, grey, "")
	p.Y.Min, p.Y.Max = 0, top*1.5
	save(t, p, "missed-heights.png")

	// 2. The epoch's signing reward, projected at every height.
	p = newPlot("The signing reward of each epoch, projected as the epoch goes", "share of the epoch's heights")
	best := series(ms, start, "oasis_signing", "consensus_address", ev.DownConsensusAddress, "epoch_best_signed_share")
	if len(best) < 50 {
		t.Fatalf("%d epoch points", len(best))
	}
	line(t, p, best, blue, false, "best share still reachable this epoch")
	line(t, p, plotter.XYs{{X: 0, Y: 0.75}, {X: best[len(best)-1].X, Y: 0.75}}, red, true, "the reward's threshold (3/4)")
	mark(t, p, sec(ev.Validator3Stopped, start), 0, 1.05, grey, "validator stopped / started")
	mark(t, p, sec(ev.Validator3Started, start), 0, 1.05, grey, "")
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "25%"}, {Value: 0.5, Label: "50%"}, {Value: 0.75, Label: "75%"}, {Value: 1, Label: "100%"}})
	p.Y.Min, p.Y.Max = 0, 1.5
	save(t, p, "epoch-reward.png")

	// 3. Our node killed and started: its height, and the gathers that
	// could not read it (up=0, the page's evidence).
	p = newPlot("Our own node stopped for 50 s: what the monitor sees", "block height")
	height := series(ms, start, "oasis_node", "node_id", ev.OwnNodeID, "latest_height")
	up := series(ms, start, "oasis_node", "node_id", ev.OwnNodeID, "up")
	if len(height) < 50 || len(up) < 50 {
		t.Fatalf("%d height, %d up points of our node", len(height), len(up))
	}
	for i, seg := range segments(height) {
		name := ""
		if i == 0 {
			name = "latest_height (not read while it is down)"
		}
		line(t, p, seg, blue, false, name)
	}
	var down plotter.XYs
	for i, xy := range up {
		if xy.Y == 0 {
			// At the last height read before it went away.
			h := 0.0
			for _, hx := range height {
				if hx.X <= up[i].X {
					h = hx.Y
				}
			}
			down = append(down, plotter.XY{X: xy.X, Y: h})
		}
	}
	if len(down) == 0 {
		t.Fatal("no up=0 point of our node in the recording")
	}
	s, err := plotter.NewScatter(down)
	if err != nil {
		t.Fatal(err)
	}
	s.Color = red
	s.Shape = draw.CrossGlyph{}
	p.Add(s)
	p.Legend.Add("a gather that could not read it (up=0)", s)
	mark(t, p, sec(ev.Validator0Stopped, start), height[0].Y, height[len(height)-1].Y, grey, "node stopped / started")
	mark(t, p, sec(ev.Validator0Started, start), height[0].Y, height[len(height)-1].Y, grey, "")
	p.Y.Max = height[len(height)-1].Y * 1.35
	save(t, p, "node-outage.png")
	t.Logf("recording %s long", time.Duration(ms[len(ms)-1].Time().UnixNano()-start).Round(time.Second))
}
