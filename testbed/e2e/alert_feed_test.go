package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// TestAlertsLiveDirectFeed runs the alerts with the direct feed
// (docs/architecture.md#alert-feed): telegraf.conf's kapacitor_direct
// block uncommented as the comment says, and InfluxDB set up again with
// OASIS_ALERT_FEED=direct, which drops the subscription an install made
// before. Points reach the alert tasks from Telegraf itself: with InfluxDB
// stopped, our node's SIGKILL still pages within its documented time, and
// the recovery follows.
func TestAlertsLiveDirectFeed(t *testing.T) {
	const interval = 10 * time.Second // telegraf.conf's default
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	in := stacktest.StartInflux(t)
	subscriptions := func() string {
		body, err := in.Query(nativestack.AdminUser, nativestack.AdminPassword, "SHOW SUBSCRIPTIONS")
		require.NoError(t, err)
		return string(body)
	}
	require.Contains(t, subscriptions(), `"oasis_kapacitor"`, "the default feed: InfluxDB's subscription")
	// Switching an install to the direct feed: setup again, as the docs say.
	require.NoError(t, in.Setup("OASIS_ALERT_FEED=direct"))
	require.NotContains(t, subscriptions(), `"oasis_kapacitor"`, "the direct feed drops the subscription")
	require.NoError(t, in.Setup("OASIS_ALERT_FEED=direct"), "setup runs again")
	require.ErrorContains(t, in.Setup("OASIS_ALERT_FEED=both"), "OASIS_ALERT_FEED")

	sink := newAlertSink(t)
	k := stacktest.StartKapacitor(t, in, "KAPACITOR_HTTPPOST_0_URL="+sink.URL, "KAPACITOR_HTTP_LOG_ENABLED=false")
	shipped, err := os.ReadFile("../../telegraf.conf")
	require.NoError(t, err)
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, []byte(stacktest.UncommentBlock(t, string(shipped), "kapacitor_direct")), 0o600))
	own := net.Validators[0]
	tg := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: own.Socket, Interval: interval, ConfigFile: conf,
		Env: []string{"KAPACITOR_WRITE_URL=" + k.URL, "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + own.NodeID,
			"OASIS_NODE_NAME=validator-0"},
	})
	defer func() {
		if t.Failed() {
			t.Logf("every alert:%s", summary(sink.since(time.Time{})))
			t.Logf("telegraf log:\n%s", tg.Log())
			t.Logf("oasis-kapacitord log (tail):\n%s", tail(k.Log(), 4000))
		}
	}()
	wait.Value(t, func() (bool, string) {
		n := alertsEvaluated(t, k, "oasis_node_down")
		return n > 0, fmt.Sprintf("%d node points evaluated", n)
	}, 2*time.Minute, 2*time.Second, "points reach the tasks from Telegraf")

	// The store goes away; alerting does not.
	in.Stop()
	killed := time.Now()
	net.KillValidator(0)
	// docs/alerts.md#detection-times, as in TestAlertsLive: 55 s.
	down := sink.await(t, killed, "oasis_node_down:"+own.NodeID, "CRITICAL", 55*time.Second)
	require.True(t, strings.HasPrefix(down.Message, "CRITICAL [validator-0] oasis_node_down: node "+own.NodeID), "%s", down.Message)
	restarted := time.Now()
	net.StartValidator(0)
	sink.await(t, restarted, "oasis_node_down:"+own.NodeID, "OK", 40*time.Second)
	require.Contains(t, tg.Log(), "Error writing to outputs.influxdb: ", "InfluxDB was down all along (not the kapacitor output, outputs.influxdb::kapacitor)")
	require.NotContains(t, tg.Log(), "Error writing to outputs.influxdb::kapacitor", "Kapacitor took every write")

	// InfluxDB back: what Telegraf held for it arrives, the outage's
	// failed gathers (up=0) among it.
	in.Start()
	wait.Value(t, func() (bool, string) {
		series := influxQL(t, in, fmt.Sprintf(`SELECT count("up") FROM "oasis_node" WHERE "up" = 0 AND time >= %d`, killed.UnixNano()))
		return len(series) > 0, fmt.Sprintf("%v", series)
	}, time.Minute, time.Second, "the outage's points in InfluxDB once it is back")
}
