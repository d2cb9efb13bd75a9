// Package diskbuffer checks Telegraf's disk-backed output buffers (agent
// buffer_strategy = "disk") before Telegraf starts, and repairs what it can.
//
// Telegraf 1.37 keeps each output's buffer as a write-ahead log
// (github.com/tidwall/wal) in buffer_directory/<output id>/, one entry per
// point, each a gob-encoded metric. It panics at start on a log it can't
// read, so one bad file would keep the monitor down for good: Telegraf
// restarts, panics again, and no point reaches InfluxDB. The log does go
// bad on a full disk: a point's write can stop part way (a short write),
// leaving a torn entry at the end of the last segment.
//
// Check, run before each start (oasis-telegraf -check-buffer):
//   - a log that reads to the end is left as it is;
//   - a log whose damage is in its last segment (where a full disk tears
//     a write) is cut back to the last whole point before the damage:
//     every point before it is kept, and the bytes cut off are kept aside
//     in <id>.corrupt-<time>/ (a point written after a torn one starts at
//     the wrong offset, so nothing after the damage can be trusted);
//   - any other damage moves the whole log aside (<id>.corrupt-<time>), so
//     Telegraf starts with an empty buffer. Its points are lost to
//     InfluxDB.
//
// What is set aside is reported at every start until it is deleted.
package diskbuffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/tidwall/wal"
)

// Outcome is what Check did with one log.
type Outcome string

const (
	Intact      Outcome = "intact"      // read to the end, left as it is
	Repaired    Outcome = "repaired"    // a torn end cut off; the points before it kept
	Quarantined Outcome = "quarantined" // unreadable, moved aside now
	SetAside    Outcome = "set aside"   // moved aside at an earlier start, still there
)

// QuarantineMark is in the name of a log moved aside: <id>.corrupt-<UTC time>.
const QuarantineMark = ".corrupt-"

// Result is one log's check.
type Result struct {
	Path    string  // the log's directory (buffer_directory/<output id>)
	Outcome Outcome // what was done
	Points  int     // points it holds now (Intact, Repaired)
	Bytes   int64   // its size on disk now
	Cut     int64   // Repaired: bytes cut off the end of the last segment
	Problem string  // Repaired, Quarantined: what was wrong
	MovedTo string  // Quarantined: where the log is now; Repaired: where the cut bytes are
}

// String is the one line an operator reads in Telegraf's log.
func (r Result) String() string {
	switch r.Outcome {
	case Intact:
		return fmt.Sprintf("buffer %s: %d points held (%s), intact", r.Path, r.Points, size(r.Bytes))
	case Repaired:
		return fmt.Sprintf("buffer %s: repaired: %s; %d points before the damage kept (%s); the %d bytes from the damage on (a point cut short, e.g. by a full disk, and any after it) are set aside in %s",
			r.Path, r.Problem, r.Points, size(r.Bytes), r.Cut, r.MovedTo)
	case Quarantined:
		return fmt.Sprintf("buffer %s: unreadable (%s): moved to %s; Telegraf starts with an empty buffer and the points in it will not reach InfluxDB; delete it once you have looked at it",
			r.Path, r.Problem, r.MovedTo)
	case SetAside:
		if strings.HasSuffix(r.Path, "-cut") {
			return fmt.Sprintf("buffer %s: the damaged end cut from a buffer repaired at an earlier start (%s; the buffer itself was kept); delete it once you have looked at it", r.Path, size(r.Bytes))
		}
		return fmt.Sprintf("buffer %s: an unreadable buffer moved aside at an earlier start (%s); delete it once you have looked at it", r.Path, size(r.Bytes))
	}
	return fmt.Sprintf("buffer %s: %s", r.Path, r.Outcome)
}

func size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// Check checks every log under dir (Telegraf's buffer_directory), repairs
// or moves aside the bad ones, and returns one Result per log. A missing
// dir is no log at all (Telegraf makes it at its first start). An error is
// a directory it can't read or a log it can't move: Telegraf could not use
// it either.
func Check(dir string, now time.Time) ([]Result, error) {
	// Gob needs the field value types registered before it decodes a point,
	// as Telegraf's own buffer does.
	metric.Init()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("buffer directory: %w", err)
	}
	var results []Result
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if strings.Contains(e.Name(), QuarantineMark) {
			results = append(results, Result{Path: path, Outcome: SetAside, Bytes: DirSize(path)})
			continue
		}
		r, err := checkLog(path, now)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

func checkLog(path string, now time.Time) (Result, error) {
	n, err := readAll(path)
	if err == nil {
		return Result{Path: path, Outcome: Intact, Points: n, Bytes: DirSize(path)}, nil
	}
	problem := err.Error()
	moved := path + QuarantineMark + now.UTC().Format("20060102T150405Z")
	// The cut bytes and a log moved whole get names of their own: a log
	// still unreadable after the cut is moved too.
	aside := moved + "-cut"
	if cut, seg, ok := cutTornEnd(path, aside); ok {
		if n, err := readAll(path); err == nil {
			return Result{Path: path, Outcome: Repaired, Points: n, Bytes: DirSize(path), Cut: cut, MovedTo: aside,
				Problem: fmt.Sprintf("%s: segment %s holds a damaged point", problem, seg)}, nil
		}
	}
	if err := os.Rename(path, moved); err != nil {
		return Result{}, fmt.Errorf("buffer %s is unreadable (%s) and could not be moved aside: %w", path, problem, err)
	}
	return Result{Path: path, Outcome: Quarantined, Problem: problem, MovedTo: moved}, nil
}

// readAll opens the log as Telegraf does and decodes every point in it,
// returning how many it holds.
func readAll(path string) (int, error) {
	l, err := wal.Open(path, &wal.Options{AllowEmpty: true})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	first, err := l.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := l.LastIndex()
	if err != nil {
		return 0, err
	}
	n := 0
	for i := first; i != 0 && i <= last; i++ {
		data, err := l.Read(i)
		if err != nil {
			return n, fmt.Errorf("point %d: %w", i, err)
		}
		// A tracking point of an earlier run (ErrSkipTracking) is one Telegraf
		// skips itself; only an undecodable point is damage.
		if _, err := metric.FromBytes(data); err != nil && !errors.Is(err, metric.ErrSkipTracking) {
			return n, fmt.Errorf("point %d: %w", i, err)
		}
		n++
	}
	return n, nil
}

// cutTornEnd cuts the last segment back to the end of its last whole,
// decodable point, if the damage is there, after copying the bytes it cuts
// into the directory aside. It reports the bytes cut and the segment's
// name; ok is false if there was nothing it could cut.
func cutTornEnd(path, aside string) (cut int64, segment string, ok bool) {
	segs, err := segments(path)
	if err != nil || len(segs) == 0 {
		return 0, "", false
	}
	last := filepath.Join(path, segs[len(segs)-1])
	data, err := os.ReadFile(last)
	if err != nil {
		return 0, "", false
	}
	good := 0
	for good < len(data) {
		size, n := binary.Uvarint(data[good:])
		if n <= 0 || uint64(len(data)-good-n) < size {
			break
		}
		if _, err := metric.FromBytes(data[good+n : good+n+int(size)]); err != nil && !errors.Is(err, metric.ErrSkipTracking) {
			break
		}
		good += n + int(size)
	}
	if good == len(data) {
		return 0, "", false
	}
	if err := os.MkdirAll(aside, 0o750); err != nil {
		return 0, "", false
	}
	if err := os.WriteFile(filepath.Join(aside, segs[len(segs)-1]+".cut"), data[good:], 0o640); err != nil {
		return 0, "", false
	}
	if err := os.Truncate(last, int64(good)); err != nil {
		return 0, "", false
	}
	return int64(len(data) - good), segs[len(segs)-1], true
}

// segments lists the log's segment files (20-digit first indexes) in order;
// a log mid-truncation (a .START or .END file) is left to wal.Open's own
// recovery.
func segments(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".START") || strings.HasSuffix(name, ".END") {
			return nil, errors.New("log mid-truncation")
		}
		if len(name) != 20 {
			continue
		}
		if _, err := strconv.ParseUint(name, 10, 64); err == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// DirSize is the bytes of the files under path (a buffer, a database).
func DirSize(path string) int64 {
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
