package dashboards

import (
	"fmt"
	"strings"
	"time"
)

// A "now" tile (a stat panel of the last value) must not show a dead
// pipeline's last value as if it were current: hours after Telegraf
// stopped, last() over the dashboard's range still says UP and a fresh
// block age. So a stat tile reads only the last staleAfter of its
// measurement (a few of its gathers) instead of the dashboard's range,
// and with nothing there shows noData instead of a value.

// staleAfter is how old a measurement's newest point may be before its
// tiles show "no data": a minute for what is gathered every 10 s (the
// node, signing and system inputs: five gathers missed), three for the
// entity and governance inputs' 60 s (two missed). They assume the
// default intervals (TELEGRAF_INTERVAL 10s, OASIS_SLOW_INTERVAL 60s):
// docs/dashboards.md says so.
var staleAfter = map[string]time.Duration{
	"oasis_node": time.Minute, "oasis_signing": time.Minute, "oasis_signing_block": time.Minute, "oasis_input": time.Minute,
	"oasis_entity": 3 * time.Minute, "oasis_entity_node": 3 * time.Minute,
	"oasis_governance": 3 * time.Minute, "oasis_governance_proposal": 3 * time.Minute, "oasis_governance_upgrade": 3 * time.Minute,
	"cpu": time.Minute, "mem": time.Minute, "disk": time.Minute, "system": time.Minute,
}

// noData is what a stale tile shows.
func noData(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("no data for %dm", int(d.Minutes()))
	}
	return fmt.Sprintf("no data for %ds", int(d.Seconds()))
}

// withStaleTiles rewrites every stat panel's queries that read the
// dashboard's range to read the last staleAfter of their measurement, and
// sets the panel's NoValue.
func withStaleTiles(d Dashboard) Dashboard {
	panels := make([]Panel, len(d.Panels))
	for i, p := range d.Panels {
		panels[i] = p
		if p.Kind != Stat {
			continue
		}
		qs := make([]Query, len(p.Queries))
		for j, q := range p.Queries {
			qs[j] = q
			if q.FixedRange != "" || !strings.Contains(q.Text, "$timeFilter") {
				continue
			}
			window, ok := staleAfter[q.Measurement]
			if !ok {
				panic(fmt.Sprintf("%s / %s: no staleAfter for %s", d.File, p.Title, q.Measurement))
			}
			qs[j].Text = strings.ReplaceAll(q.Text, "$timeFilter", fmt.Sprintf("time > now() - %ds", int(window.Seconds())))
			qs[j].FixedRange = "a now tile: only a value from the last few gathers is current (" + noData(window) + " otherwise)"
			if panels[i].NoValue == "" || window > panels[i].staleWindow {
				panels[i].NoValue, panels[i].staleWindow = noData(window), window
			}
		}
		panels[i].Queries = qs
	}
	d.Panels = panels
	return d
}
