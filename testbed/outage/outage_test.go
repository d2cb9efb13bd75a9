// Package outage tests what the shipped Telegraf configuration does while
// InfluxDB is down, on the native stack: the disk buffer holds every point
// through the outage and a SIGKILL of Telegraf in the middle of it, and a
// buffer a full disk tore does not keep Telegraf from starting.
package outage

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

const interval = time.Second

// writeFailures counts the flushes Telegraf could not write to InfluxDB.
func writeFailures(p *proc.Process) int {
	return strings.Count(p.Log(), "Error writing to outputs.influxdb")
}

// waitWriteFailures waits until Telegraf has failed n more flushes.
func waitWriteFailures(t *testing.T, p *proc.Process, n int) {
	t.Helper()
	from := writeFailures(p)
	wait.Until(t, func() bool { return writeFailures(p) >= from+n }, 90*time.Second, 200*time.Millisecond,
		"%d failed writes to InfluxDB", n)
}

// memSeconds is the set of timestamps (unix seconds) of the mem input's
// points in InfluxDB: one per interval while Telegraf runs.
func memSeconds(t *testing.T, in *stacktest.Influx) map[int64]bool {
	t.Helper()
	body, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword, "SELECT used_percent FROM mem")
	require.NoError(t, err)
	var res struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	got := map[int64]bool{}
	for _, r := range res.Results {
		for _, s := range r.Series {
			for _, v := range s.Values {
				ts, err := time.Parse(time.RFC3339Nano, v[0].(string))
				require.NoError(t, err)
				got[ts.Unix()] = true
			}
		}
	}
	return got
}

// missing lists the seconds in [from, to] with no mem point.
func missing(got map[int64]bool, from, to time.Time) []int64 {
	var out []int64
	for s := from.Unix(); s <= to.Unix(); s++ {
		if !got[s] {
			out = append(out, s)
		}
	}
	return out
}

func first(got map[int64]bool) time.Time {
	keys := make([]int64, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return time.Unix(keys[0], 0)
}

var heldRe = regexp.MustCompile(`(\d+) points held`)

// pointsHeld sums what oasis-telegraf -check-buffer says the buffers hold.
func pointsHeld(out string) int {
	n := 0
	for _, m := range heldRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// outage runs an InfluxDB outage with a SIGKILL of Telegraf in its middle:
// InfluxDB stops, Telegraf fails 8 flushes, is killed, is checked and
// started again as the unit does, fails 5 more, and InfluxDB comes back.
// It returns the windows in which Telegraf was gathering (its first point
// to just before the kill; from just after the restart to the end) and
// what -check-buffer said at the restart.
func outage(t *testing.T, strategy string) (got map[int64]bool, windows [][2]time.Time, check string) {
	bins := stacktest.Bins(t)
	in := stacktest.StartInflux(t)
	state := t.TempDir()
	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		// No node: the node's inputs write their up=0 points, the system
		// inputs theirs, every second.
		Socket: filepath.Join(t.TempDir(), "internal.sock"), Interval: interval, StateDir: state,
		Env: []string{"OASIS_BUFFER_STRATEGY=" + strategy},
	})
	wait.Until(t, func() bool { return len(memSeconds(t, in)) >= 3 }, 60*time.Second, 200*time.Millisecond, "mem points in InfluxDB")

	in.Stop()
	waitWriteFailures(t, tg, 8)
	killed := time.Now()
	tg.Kill()

	check, err := nativestack.CheckBuffer(bins, state)
	require.NoError(t, err)
	t.Logf("oasis-telegraf -check-buffer at the restart:\n%s", check)
	require.NoError(t, tg.Start())
	restarted := time.Now()
	waitWriteFailures(t, tg, 5)

	in.Start()
	up := time.Now()
	// The buffer goes out oldest first: once a point gathered after
	// InfluxDB came back is in, every point held before it was written.
	wait.Until(t, func() bool {
		got := memSeconds(t, in)
		return got[up.Add(2*interval).Unix()] || got[up.Add(3*interval).Unix()]
	}, 60*time.Second, 200*time.Millisecond, "a point gathered after InfluxDB came back")
	got = memSeconds(t, in)
	windows = [][2]time.Time{
		{first(got), killed.Add(-2 * interval)},
		{restarted.Add(3 * interval), up},
	}
	return got, windows, check
}

// The shipped configuration (buffer_strategy = "disk") loses nothing of an
// InfluxDB outage, Telegraf killed with SIGKILL in the middle of it.
func TestOutageWithTelegrafKilledLosesNothing(t *testing.T) {
	got, windows, check := outage(t, "disk")
	require.Contains(t, check, "intact")
	held := pointsHeld(check)
	require.Positive(t, held, "the buffer held the outage's points at the restart")
	for _, w := range windows {
		require.Empty(t, missing(got, w[0], w[1]), "seconds with no mem point between %s and %s", w[0], w[1])
	}
	t.Logf("held on disk at the SIGKILL: %d points; every second of the outage's mem points arrived (%d in all)", held, len(got))
}

// The control: the memory buffer, what the stack had before, loses the
// points gathered before the SIGKILL. So the gap check above can fail.
func TestOutageWithTelegrafKilledLosesTheMemoryBuffer(t *testing.T) {
	got, windows, _ := outage(t, "memory")
	lost := missing(got, windows[0][0], windows[0][1])
	require.GreaterOrEqual(t, len(lost), 5, "the memory buffer's points are lost with the process")
	require.Empty(t, missing(got, windows[1][0], windows[1][1]), "after the restart the memory buffer holds the rest of the outage")
}

// A full disk during an outage: Telegraf's buffer can't grow, points are
// dropped (and said to be), and a point can be torn part way, which
// Telegraf itself can't start on. -check-buffer before the start cuts it
// off: Telegraf starts, and the points held before the disk filled reach
// InfluxDB.
func TestFullDiskDuringAnOutage(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("a small filesystem for the buffer (tmpfs) needs root, as CI has")
		}
		t.Skip("a small filesystem for the buffer (tmpfs) needs root")
	}
	bins := stacktest.Bins(t)
	in := stacktest.StartInflux(t)
	state := t.TempDir()
	buffer := filepath.Join(state, "buffer")
	require.NoError(t, os.MkdirAll(buffer, 0o700))
	mount := func(args ...string) {
		out, err := exec.Command("mount", args...).CombinedOutput()
		require.NoError(t, err, "mount %v: %s", args, out)
	}
	// 256 KiB: a few hundred points.
	mount("-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", buffer)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", buffer).Run() })

	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: filepath.Join(t.TempDir(), "internal.sock"), Interval: interval, StateDir: state,
	})
	wait.Until(t, func() bool { return len(memSeconds(t, in)) >= 3 }, 60*time.Second, 200*time.Millisecond, "mem points in InfluxDB")
	in.Stop()
	wait.Until(t, func() bool { return strings.Contains(tg.Log(), "Metric buffer overflow") }, 120*time.Second, 200*time.Millisecond,
		"Telegraf dropping points on the full disk")
	filled := firstLogTime(t, tg.Log(), "Metric buffer overflow")
	t.Logf("Telegraf on the full disk:\n%s", lastLines(tg.Log(), 3))
	tg.Kill()

	// Room again (the operator freed the disk). Telegraf alone can't start
	// on what the full disk left.
	mount("-o", "remount,size=16m", buffer)
	require.NoError(t, tg.Start())
	select {
	case <-tg.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("Telegraf started on the torn buffer; the full disk tore no point this time?\n%s", lastLines(tg.Log(), 10))
	}
	require.Contains(t, tg.Log(), "log corrupt", "Telegraf's own failure on the torn buffer")
	tg.Kill()

	// The start as the unit and the compose command do it: the check first.
	check, err := nativestack.CheckBuffer(bins, state)
	require.NoError(t, err)
	t.Logf("oasis-telegraf -check-buffer after the full disk:\n%s", check)
	require.Contains(t, check, "repaired")
	require.NotContains(t, check, "unreadable")
	require.Positive(t, countKept(check))

	require.NoError(t, tg.Start())
	in.Start()
	wait.Until(t, func() bool { return memSeconds(t, in)[time.Now().Add(-3*interval).Unix()] }, 90*time.Second, 200*time.Millisecond,
		"Telegraf writing again")
	select {
	case <-tg.Exited():
		t.Fatalf("Telegraf stopped:\n%s", lastLines(tg.Log(), 20))
	default:
	}
	// Every second before the disk filled arrived.
	got := memSeconds(t, in)
	require.Empty(t, missing(got, first(got), filled.Add(-2*interval)), "seconds lost before the disk filled (at %s)", filled)
	t.Logf("the disk filled at %s, %s into the outage; every second before it arrived", filled, filled.Sub(first(got)))
}

// firstLogTime is the time of Telegraf's first log line that holds what.
func firstLogTime(t *testing.T, log, what string) time.Time {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, what) {
			ts, err := time.Parse(time.RFC3339, strings.Fields(line)[0])
			require.NoError(t, err, line)
			return ts
		}
	}
	t.Fatalf("no %q in Telegraf's log", what)
	return time.Time{}
}

var keptRe = regexp.MustCompile(`(\d+) points before the damage kept`)

func countKept(out string) int {
	n := 0
	for _, m := range keptRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
