//go:build record

package fleet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// TestRecordInstall records what one validator's install writes in a
// minute, for the fleet benchmark: the shipped telegraf.conf and
// telegraf-native.conf at their shipped intervals (10 s, 60 s for the
// entity and governance) read a devnet validator and write to a stand-in
// InfluxDB that keeps every line. The minute from 20 s after the first
// point on (cpu reports from its second gather) goes to
// testdata/install.lp, with the devnet's identities written as the
// placeholders the benchmark gives each simulated install its own.
//
//	cd testbed && CI=true go test -tags record -count=1 -run TestRecordInstall -timeout 10m ./fleet/
func TestRecordInstall(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: time.Second, EpochBlocks: 50})
	var mu sync.Mutex
	var lines []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	v := net.Validators[0]
	p, err := nativestack.NewTelegraf(devnettest.RepoRoot(), stacktest.Bins(t), &nativestack.Influx{URL: srv.URL}, nativestack.TelegrafOptions{
		Socket: v.Socket, Interval: 10 * time.Second, StateDir: t.TempDir(),
		Env: []string{"OASIS_SLOW_INTERVAL=60s", "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + v.NodeID,
			"OASIS_NODE_NAME=validator-0", "OASIS_ENTITY_ID=" + v.EntityID, "OASIS_ENTITY_NAME=Our Entity", "OASIS_HOSTNAME=validator-host"},
	})
	require.NoError(t, err)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)

	stamp := func(l string) int64 {
		n, err := strconv.ParseInt(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
		require.NoError(t, err, l)
		return n
	}
	var first int64
	wait.Until(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(lines) == 0 {
			return false
		}
		if first == 0 {
			first = stamp(lines[0])
		}
		last := stamp(lines[len(lines)-1])
		return last >= first+int64(95*time.Second)
	}, 4*time.Minute, time.Second, "95 s of the install's points")
	p.Stop()

	from, to := first+int64(20*time.Second), first+int64(80*time.Second)
	mu.Lock()
	defer mu.Unlock()
	var kept []string
	for _, l := range lines {
		if ts := stamp(l); ts >= from && ts < to {
			// Placeholders for the identities, and the time as an offset
			// in the minute.
			l = strings.NewReplacer(
				escapeTag(v.NodeID), "{NODE_ID}", v.NodeID, "{NODE_ID}",
				escapeTag(v.EntityID), "{ENTITY_ID}", v.EntityID, "{ENTITY_ID}",
				v.ConsensusAddress, "{CONSENSUS_ADDRESS}",
				"host=validator-host", "host={HOST}", "source=validator-0", "source={SOURCE}",
			).Replace(l)
			l = l[:strings.LastIndexByte(l, ' ')+1] + strconv.FormatInt(ts-from, 10)
			kept = append(kept, l)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return stamp(kept[i]) < stamp(kept[j]) })
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	fmt.Fprintf(w, "# One validator's install for a minute (fleet benchmark): recorded by TestRecordInstall (record_test.go).\n")
	fmt.Fprintf(w, "# Times are nanoseconds into the minute; {NODE_ID}, {ENTITY_ID}, {CONSENSUS_ADDRESS}, {HOST}, {SOURCE} are each install's.\n")
	for _, l := range kept {
		fmt.Fprintln(w, l)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, os.WriteFile("testdata/install.lp", out.Bytes(), 0o644))
	t.Logf("recorded %d points", len(kept))
}

// escapeTag is how line protocol writes a tag value: "=" and "," escaped.
func escapeTag(s string) string {
	return strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `).Replace(s)
}
