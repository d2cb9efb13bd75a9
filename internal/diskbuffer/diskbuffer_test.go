package diskbuffer

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/models"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC)

// writeBuffer fills an output's buffer under dir/id with n points through
// Telegraf's own disk buffer, as a running Telegraf does, and closes it.
func writeBuffer(t *testing.T, dir, id string, n int) []telegraf.Metric {
	t.Helper()
	// As Telegraf makes it (which registers the gob types).
	buf, err := models.NewBuffer("influxdb", id, "", 0, "disk_write_through", dir)
	require.NoError(t, err)
	var points []telegraf.Metric
	for i := range n {
		points = append(points, metric.New("mem",
			map[string]string{"host": "validator-1"},
			map[string]any{"used_percent": 41.5 + float64(i), "total": int64(8 << 30), "ok": true, "name": "x"},
			time.Unix(1_800_000_000+int64(i)*10, 0)))
	}
	require.Zero(t, buf.Add(points...), "points dropped")
	require.NoError(t, buf.Close())
	return points
}

// readBuffer reads the log back the way Telegraf does at start: it must open,
// and it returns every point it would send.
func readBuffer(t *testing.T, dir, id string) []telegraf.Metric {
	t.Helper()
	// As Telegraf makes it (which registers the gob types).
	buf, err := models.NewBuffer("influxdb", id, "", 0, "disk_write_through", dir)
	require.NoError(t, err)
	defer buf.Close()
	tx := buf.BeginTransaction(1 << 20)
	return tx.Batch
}

func lastSegment(t *testing.T, log string) string {
	t.Helper()
	segs, err := segments(log)
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	return filepath.Join(log, segs[len(segs)-1])
}

func TestMissingDirectoryIsNoBuffer(t *testing.T) {
	results, err := Check(filepath.Join(t.TempDir(), "buffer"), now)
	require.NoError(t, err)
	require.Empty(t, results)
}

func TestIntactBufferIsLeftAsItIs(t *testing.T) {
	dir := t.TempDir()
	want := writeBuffer(t, dir, "out1", 25)
	before, err := os.ReadFile(lastSegment(t, filepath.Join(dir, "out1")))
	require.NoError(t, err)

	results, err := Check(dir, now)
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, Intact, results[0].Outcome)
	require.Equal(t, 25, results[0].Points)
	require.Positive(t, results[0].Bytes)
	require.Contains(t, results[0].String(), "25 points held")

	after, err := os.ReadFile(lastSegment(t, filepath.Join(dir, "out1")))
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Len(t, readBuffer(t, dir, "out1"), len(want))
}

// A full disk stops a point's write part way: the segment ends in a torn
// entry, and Telegraf's buffer (tidwall/wal) refuses to open. Check cuts the
// torn end off and every point before it is sent.
func TestTornEndIsCutOffAndThePointsBeforeItKept(t *testing.T) {
	for _, tail := range map[string][]byte{
		"size only":          {0xc8, 0x03},
		"size and some data": {0xc8, 0x03, 0x41, 0xff, 0x81, 0x03, 0x01, 0x01},
		"a whole entry of garbage": append([]byte{0x08},
			[]byte("not gob!")...),
	} {
		dir := t.TempDir()
		want := writeBuffer(t, dir, "out1", 12)
		seg := lastSegment(t, filepath.Join(dir, "out1"))
		f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.Write(tail)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.True(t, telegrafRefuses(dir, "out1"), "Telegraf's buffer should fail on the torn log")

		results, err := Check(dir, now)
		require.NoError(t, err)
		require.Len(t, results, 1)
		r := results[0]
		require.Equal(t, Repaired, r.Outcome, r.String())
		require.Equal(t, 12, r.Points)
		require.Equal(t, int64(len(tail)), r.Cut)
		require.Contains(t, r.String(), "12 points before the damage kept")
		cutBytes, err := os.ReadFile(filepath.Join(r.MovedTo, filepath.Base(seg)+".cut"))
		require.NoError(t, err)
		require.Equal(t, tail, cutBytes, "the bytes cut off are kept aside")

		got := readBuffer(t, dir, "out1")
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, want[i].Fields(), got[i].Fields())
			require.Equal(t, want[i].Time().UnixNano(), got[i].Time().UnixNano())
		}
	}
}

// Damage early in the last segment: a point written after a torn one
// starts at the wrong offset, so nothing after the damage is trusted. The
// points before it are kept, the rest set aside, and the set-aside bytes
// are named at every start until deleted.
func TestDamageCutsTheSegmentAtTheFirstBadPoint(t *testing.T) {
	dir := t.TempDir()
	writeBuffer(t, dir, "out1", 5)
	log := filepath.Join(dir, "out1")
	seg := lastSegment(t, log)
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	// The third point's size says more than the file holds.
	off := 0
	for range 2 {
		size, n := binary.Uvarint(data[off:])
		off += n + int(size)
	}
	data[off], data[off+1] = 0xff, 0x7f
	require.NoError(t, os.WriteFile(seg, data, 0o640))
	// A second log, intact, is not touched.
	writeBuffer(t, dir, "out2", 3)
	require.True(t, telegrafRefuses(dir, "out1"), "Telegraf's buffer should fail on the damaged log")

	results, err := Check(dir, now)
	require.NoError(t, err)
	require.Len(t, results, 2)
	byPath := map[string]Result{}
	for _, r := range results {
		byPath[r.Path] = r
	}
	r := byPath[log]
	require.Equal(t, Repaired, r.Outcome, r.String())
	require.Equal(t, 2, r.Points)
	require.Equal(t, int64(len(data)-off), r.Cut)
	require.Equal(t, Intact, byPath[filepath.Join(dir, "out2")].Outcome)
	require.Len(t, readBuffer(t, dir, "out1"), 2)

	results, err = Check(dir, now.Add(time.Minute))
	require.NoError(t, err)
	var aside []string
	for _, r := range results {
		if r.Outcome == SetAside {
			aside = append(aside, r.String())
		}
	}
	require.Len(t, aside, 1)
	require.Contains(t, aside[0], "the damaged end cut from a buffer repaired at an earlier start", "the cut bytes are not called an unreadable buffer")
}

// A log Check can't cut (here: caught between two truncations, which
// tidwall/wal calls corrupt) is moved aside whole, and Telegraf starts
// with an empty buffer.
func TestUncuttableLogIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	writeBuffer(t, dir, "out1", 5)
	log := filepath.Join(dir, "out1")
	for _, name := range []string{"00000000000000000003.START", "00000000000000000004.END"} {
		require.NoError(t, os.WriteFile(filepath.Join(log, name), nil, 0o640))
	}

	results, err := Check(dir, now)
	require.NoError(t, err)
	require.Len(t, results, 1)
	bad := results[0]
	require.Equal(t, Quarantined, bad.Outcome, bad.String())
	require.Equal(t, log+".corrupt-20261127T233000Z", bad.MovedTo)
	require.DirExists(t, bad.MovedTo)
	require.NoDirExists(t, log)
	require.Contains(t, bad.String(), "will not reach InfluxDB")
	require.Empty(t, readBuffer(t, dir, "out1"))
}

func TestUnreadableDirectoryIsAnError(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "buffer")
	require.NoError(t, os.WriteFile(notADir, nil, 0o640))
	_, err := Check(notADir, now)
	require.ErrorContains(t, err, "buffer directory")
}

// telegrafRefuses reports whether Telegraf's own buffer fails on the log:
// an error at open or a panic reading it (what Telegraf does at start).
func telegrafRefuses(dir, id string) (refused bool) {
	defer func() {
		if recover() != nil {
			refused = true
		}
	}()
	// As Telegraf makes it (which registers the gob types).
	buf, err := models.NewBuffer("influxdb", id, "", 0, "disk_write_through", dir)
	if err != nil {
		return true
	}
	defer buf.Close()
	buf.BeginTransaction(1 << 20)
	return false
}

// A torn end and damage in an earlier segment: the cut does not make the
// log readable, so the whole log is moved aside too, to a name of its own
// (the cut bytes already have theirs), and Telegraf starts.
func TestTornEndAndEarlierDamageMovesTheLogAside(t *testing.T) {
	dir := t.TempDir()
	writeBuffer(t, dir, "out1", 5)
	log := filepath.Join(dir, "out1")
	first := lastSegment(t, log)
	data, err := os.ReadFile(first)
	require.NoError(t, err)
	// A second segment holding five more points, then a torn end on it.
	second := filepath.Join(log, "00000000000000000006")
	require.NoError(t, os.WriteFile(second, append(append([]byte{}, data...), 0xc8, 0x03), 0o640))
	// And the first segment's third point says more than the file holds.
	off := 0
	for range 2 {
		size, n := binary.Uvarint(data[off:])
		off += n + int(size)
	}
	data[off], data[off+1] = 0xff, 0x7f
	require.NoError(t, os.WriteFile(first, data, 0o640))

	results, err := Check(dir, now)
	require.NoError(t, err)
	require.Len(t, results, 1)
	r := results[0]
	require.Equal(t, Quarantined, r.Outcome, r.String())
	require.DirExists(t, r.MovedTo)
	require.DirExists(t, r.MovedTo+"-cut", "the torn end's bytes")
	require.Empty(t, readBuffer(t, dir, "out1"), "Telegraf starts with an empty buffer")

	results, err = Check(dir, now.Add(time.Minute))
	require.NoError(t, err)
	aside := 0
	for _, r := range results {
		if r.Outcome == SetAside {
			aside++
		}
	}
	require.Equal(t, 2, aside, "both are named at the next start")
}
