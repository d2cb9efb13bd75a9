package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// liveAlert is what Kapacitor's post handler sends (alert.Data, the
// webhook channel's JSON), with the moment it arrived.
type liveAlert struct {
	ID            string    `json:"id"`
	Message       string    `json:"message"`
	Level         string    `json:"level"`
	PreviousLevel string    `json:"previousLevel"`
	Time          time.Time `json:"time"`
	Arrived       time.Time `json:"-"`
}

// alertSink plays the operator's webhook: it keeps every alert posted to it.
type alertSink struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []liveAlert
}

func newAlertSink(t *testing.T) *alertSink {
	s := &alertSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a liveAlert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("webhook: an alert that is not Kapacitor's JSON: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.Arrived = time.Now()
		s.mu.Lock()
		s.alerts = append(s.alerts, a)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// since returns the alerts that arrived at or after from.
func (s *alertSink) since(from time.Time) []liveAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []liveAlert
	for _, a := range s.alerts {
		if !a.Arrived.Before(from) {
			out = append(out, a)
		}
	}
	return out
}

// await waits until an alert of that ID prefix and level arrives after from,
// at the latest `within` after from (the deadline fails the test), and
// returns it.
func (s *alertSink) await(t *testing.T, from time.Time, idPrefix, level string, within time.Duration) liveAlert {
	t.Helper()
	var got liveAlert
	within -= time.Since(from)
	wait.Value(t, func() (bool, string) {
		seen := s.since(from)
		for _, a := range seen {
			if strings.HasPrefix(a.ID, idPrefix) && a.Level == level {
				got = a
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d alerts since: %s", len(seen), summary(seen))
	}, within, 500*time.Millisecond, fmt.Sprintf("%s %s", level, idPrefix))
	t.Logf("%s after %s: %s", level, got.Arrived.Sub(from).Round(100*time.Millisecond), got.Message)
	return got
}

func summary(alerts []liveAlert) string {
	var b strings.Builder
	for _, a := range alerts {
		fmt.Fprintf(&b, "\n  %s %s %s", a.Arrived.Format("15:04:05.0"), a.Level, a.ID)
	}
	return b.String()
}

// TestAlertsLive runs the alerts the way the stack does, on the default
// intervals: devnet -> Telegraf -> InfluxDB -> InfluxDB's subscription ->
// the alerting engine's HTTP write endpoint (oasis-kapacitord) -> the
// webhook channel. Real faults: a monitored validator stops and starts
// again; our own node is killed with SIGKILL and restarted. Each alert
// comes within the detection time docs/alerts.md gives, each recovers, and
// the node outage pages once.
func TestAlertsLive(t *testing.T) {
	const interval = 10 * time.Second // telegraf.conf's default
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	in := stacktest.StartInflux(t)
	sink := newAlertSink(t)
	// The alert history: Kapacitor posts every event to Telegraf's
	// listener, which writes oasis_alert.
	historyPort, err := proc.FreePort()
	require.NoError(t, err)
	history := fmt.Sprintf("127.0.0.1:%d", historyPort)
	k := stacktest.StartKapacitor(t, in, "KAPACITOR_HTTPPOST_0_URL="+sink.URL, "KAPACITOR_HTTP_LOG_ENABLED=false",
		"KAPACITOR_HTTPPOST_2_URL=http://"+history+"/oasis/alerts")

	// Our operator runs validator 0 and, on another host, validator 1:
	// oasis_signing monitors both through validator 0's node.
	own, other := net.Validators[0], net.Validators[1]
	confDir := t.TempDir()
	for _, p := range []string{"oasis_node", "oasis_signing", "oasis_entity", "oasis_governance", "oasis_names"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "telegraf", p+".conf"))
		require.NoError(t, err)
		if p == "oasis_signing" {
			b = append(b, fmt.Sprintf("  node_ids = [%q, %q]\n", own.NodeID, other.NodeID)...)
		}
		if p == "oasis_names" {
			// The other host's validator, named in the file; our own
			// node and entity are named in the environment (.env).
			b = append(b, fmt.Sprintf("  [[processors.oasis_names.alias]]\n    id = %q\n    name = \"validator-1\"\n", other.NodeID)...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(confDir, p+".conf"), b, 0o644))
	}
	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: own.Socket, Interval: interval,
		Env: []string{"OASIS_CONFIG_DIR=" + confDir, "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + own.NodeID,
			"OASIS_NODE_NAME=validator-0", "OASIS_ENTITY_ID=" + own.EntityID, "OASIS_ENTITY_NAME=Our Entity",
			"OASIS_ALERT_HISTORY_ADDRESS=" + history},
	})
	defer func() {
		if t.Failed() {
			t.Logf("every alert:%s", summary(sink.since(time.Time{})))
			t.Logf("telegraf log:\n%s", tg.Log())
			t.Logf("oasis-kapacitord log (tail):\n%s", tail(k.Log(), 4000))
		}
	}()

	// Points reach the engine through the subscription: the node's input
	// has been evaluated by its alert task.
	wait.Value(t, func() (bool, string) {
		n := alertsEvaluated(t, k, "oasis_missed_consecutive")
		return alertsEvaluated(t, k, "oasis_node_down") > 0 && n > 0, fmt.Sprintf("%d signing points evaluated", n)
	}, 2*time.Minute, 2*time.Second, "points reach the tasks through InfluxDB's subscription")

	// A monitored validator stops: missed in a row, WARNING then CRITICAL.
	stopped := time.Now()
	net.StopValidator(1)
	// docs/alerts.md#detection-times: the summary after the 3rd / 10th
	// missed height, plus a gather and a flush (20 s). The devnet's 0.5 s
	// heights slow to 2 to 3 s while one of its four proposers is gone
	// (its rounds time out): 10 heights take up to 30 s.
	missed := sink.await(t, stopped, "oasis_missed_consecutive:"+other.ConsensusAddress, "WARNING", 40*time.Second)
	// Each message leads with the name the operator gave; the ID follows.
	require.True(t, strings.HasPrefix(missed.Message, "WARNING [validator-1] oasis_missed_consecutive: validator "+other.ConsensusAddress),
		"%s", missed.Message)
	sink.await(t, stopped, "oasis_missed_consecutive:"+other.ConsensusAddress, "CRITICAL", 60*time.Second)
	// More than a quarter of a 20-height epoch missed, seen live: that
	// epoch's signing reward is lost, said within the epoch.
	lost := sink.await(t, stopped, "oasis_epoch_reward_at_risk:"+other.ConsensusAddress, "CRITICAL", 60*time.Second)
	require.True(t, strings.HasPrefix(lost.Message, "CRITICAL [validator-1] oasis_epoch_reward_at_risk: "), "%s", lost.Message)
	require.Contains(t, lost.Message, "validator "+other.ConsensusAddress+" has lost the signing reward of epoch ")
	require.NotContains(t, lost.Message, " 0 of 20 left", "said within the epoch, not at its end")
	started := time.Now()
	net.StartValidator(1)
	sink.await(t, started, "oasis_missed_consecutive:"+other.ConsensusAddress, "OK", time.Minute+2*interval)
	// Signing again, the next epoch's reward is within reach.
	sink.await(t, started, "oasis_epoch_reward_at_risk:"+other.ConsensusAddress, "OK", 2*time.Minute)

	// Our node dies (SIGKILL): one page, oasis_node_down, within its
	// documented time; RECOVERED once it answers again; nothing pages
	// after the recovery.
	killed := time.Now()
	net.KillValidator(0)
	// docs/alerts.md#detection-times: the 4th failed gather (30 to 40 s
	// after the kill) and its flush (up to 10 s more): 50 s, and 5 s for
	// a failing gather's own time (it waits for the socket briefly).
	down := sink.await(t, killed, "oasis_node_down:"+own.NodeID, "CRITICAL", 55*time.Second)
	require.True(t, strings.HasPrefix(down.Message, "CRITICAL [validator-0] oasis_node_down: node "+own.NodeID), "%s", down.Message)
	// What the operator reads beside the page: each input says why it
	// can't read the node, on its own series (TestPipeline's situational
	// fields: no_socket, or not_answering while the socket lingers).
	for _, q := range []string{
		`SELECT last("down_reason") FROM "oasis_node" WHERE time > now() - 5m`,
		`SELECT last("down_reason"), last("failed_reads") FROM "oasis_input" WHERE time > now() - 5m GROUP BY "input"`,
		`SELECT last("down_reason") FROM "oasis_entity" WHERE time > now() - 5m`,
		`SELECT last("down_reason") FROM "oasis_governance" WHERE time > now() - 5m`,
	} {
		series := influxQL(t, in, q)
		require.NotEmpty(t, series, q)
		for _, s := range series {
			require.Contains(t, []any{"no_socket", "not_answering"}, s.Values[0][1], "%s %v", q, s.Tags)
		}
	}
	restarted := time.Now()
	net.StartValidator(0)
	// The first good gather and its flush (20 s), after the devnet node's
	// own start-up (its socket answers some seconds after the start).
	sink.await(t, restarted, "oasis_node_down:"+own.NodeID, "OK", 20*time.Second+20*time.Second)
	// Whatever else the outage set off shows within a few gathers of the
	// recovery (the signing follower accounts the heights it missed).
	quietUntil := time.Now().Add(4 * interval)
	time.Sleep(time.Until(quietUntil))
	var more []liveAlert
	for _, a := range sink.since(killed) {
		if (a.Level == "CRITICAL" || a.Level == "WARNING") && !strings.HasPrefix(a.ID, "oasis_node_down:") {
			more = append(more, a)
		}
	}
	require.Empty(t, more, "one alert for the node outage, not more:%s", summary(more))

	// The alert history: every event the webhook got is in InfluxDB, with
	// its level, at the time its condition was observed; the overview's
	// history panels read it.
	sent := sink.since(time.Time{})
	wait.Value(t, func() (bool, string) {
		got := historyIn(t, in)
		var missing []string
		for _, a := range sent {
			if got[historyKey{a.ID, a.Level, a.Time.UnixNano()}] == "" {
				missing = append(missing, a.Level+" "+a.ID)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d events missing: %v", len(missing), len(sent), missing)
	}, time.Minute, 2*time.Second, "every alert event is in oasis_alert")
	for key, message := range historyIn(t, in) {
		for _, a := range sent {
			if a.ID == key.id && a.Time.UnixNano() == key.time && a.Level == key.level {
				require.Equal(t, a.Message, message, "the history keeps the message as sent")
			}
		}
	}
	checkDashboardQueries(t, in, nil, func(m string) bool { return m == "oasis_alert" })

	// The chat bot, on what this test made (bot_test.go).
	checkBot(t, net, in, k, sink, own)
}

type historyKey struct {
	id, level string
	time      int64
}

// historyIn is the oasis_alert points in InfluxDB: their message by ID,
// level and time.
func historyIn(t *testing.T, in *stacktest.Influx) map[historyKey]string {
	out := map[historyKey]string{}
	for _, s := range influxQL(t, in, `SELECT "message" FROM "oasis_alert" GROUP BY "id", "level"`) {
		for _, row := range s.Values {
			ns, err := row[0].(json.Number).Int64() // epoch=ns
			require.NoError(t, err)
			out[historyKey{s.Tags["id"], s.Tags["level"], ns}] = row[1].(string)
		}
	}
	return out
}

// alertsEvaluated is how many points a task's alert node has evaluated, from
// the engine's task API (GET /kapacitor/v1/tasks/:id, node statistics).
func alertsEvaluated(t *testing.T, k *nativestack.Kapacitor, task string) int64 {
	t.Helper()
	return alertNodeStat(t, k, task, "collected")
}

// alertNodeStat sums one statistic of a task's alert nodes.
func alertNodeStat(t *testing.T, k *nativestack.Kapacitor, task, stat string) int64 {
	t.Helper()
	resp, err := http.Get(k.URL + "/kapacitor/v1/tasks/" + task)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "task %s", task)
	var info struct {
		Stats struct {
			NodeStats map[string]map[string]any `json:"node-stats"`
		} `json:"stats"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	var n int64
	for node, stats := range info.Stats.NodeStats {
		if strings.HasPrefix(node, "alert") {
			c, _ := stats[stat].(float64)
			n += int64(c)
		}
	}
	return n
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
