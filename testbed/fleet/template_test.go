package fleet

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"
)

// A simulated install's minute is the recorded one: the same points, as
// valid line protocol, under the install's own identities (escaped in
// tags), its counters and heights going on from the minute before.
func TestInstallMinute(t *testing.T) {
	tpl, err := LoadTemplate("testdata/install.lp")
	require.NoError(t, err)
	// 161 recorded, 60 per-block points thinned to 10.
	require.Equal(t, 111, tpl.Points())

	in := NewInstall(7)
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	render := func(cycle int64, down bool) string {
		var buf []byte
		for slot := range 6 {
			buf = tpl.AppendSlot(buf, in, cycle, start.Add(time.Duration(cycle)*Cycle), slot, down)
		}
		return string(buf)
	}
	minute := render(0, false)
	require.NotContains(t, minute, "{")
	require.Contains(t, minute, "node_id="+strings.ReplaceAll(in.NodeID, "=", `\=`))
	require.Contains(t, minute, "host=fleet-host-0007")
	require.Equal(t, 111, strings.Count(minute, "\n"))

	p := &influx.Parser{}
	require.NoError(t, p.Init())
	parsed, err := p.Parse([]byte(minute))
	require.NoError(t, err)
	require.Len(t, parsed, 111)
	heights := func(text string) (min, max int64) {
		ms, err := p.Parse([]byte(text))
		require.NoError(t, err)
		for _, m := range ms {
			if m.Name() == "oasis_node" {
				h, ok := m.GetField("latest_height")
				require.True(t, ok)
				if min == 0 || h.(int64) < min {
					min = h.(int64)
				}
				if h.(int64) > max {
					max = h.(int64)
				}
				require.Equal(t, in.NodeID, m.Tags()["node_id"])
				require.Equal(t, start.Add(m.Time().Sub(start)).Before(start.Add(3*Cycle)), true)
			}
		}
		return min, max
	}
	_, last0 := heights(minute)
	first1, _ := heights(render(1, false))
	require.Greater(t, first1, last0, "the next minute's heights go on")

	down := render(2, true)
	require.Equal(t, 6, strings.Count(down, "oasis_node,"))
	require.Equal(t, 6, strings.Count(down, `up=0i,down_reason="no_socket"`))
	require.NotContains(t, down, "oasis_signing")
	require.Contains(t, down, "\nmem,")
}
