package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/readings"
	"github.com/oasis-mission-control/oasis-mission-control/internal/telegramfake"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// lockedBuffer is a process's log, written and read from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const (
	botToken    = "4242:test-token-never-logged"
	ourChat     = int64(1001)
	digestChat  = int64(-1002)
	strangeChat = int64(666)
)

// checkBot runs oasis-bot, the binary, against a fake Telegram and the
// InfluxDB and alerting engine TestAlertsLive filled from the devnet: each
// command's answer agrees with InfluxDB; a stranger's chat gets nothing;
// /mute holds our node's outage back in the engine, /unmute and the end
// of a short mute send their notices; the digest comes at its time.
func checkBot(t *testing.T, net *devnettest.Net, in *stacktest.Influx, k *nativestack.Kapacitor, sink *alertSink, own devnettest.Validator) {
	tele := telegramfake.Start(t, botToken)
	digestAt := time.Now().UTC().Add(40 * time.Second).Truncate(time.Second) // the schedule is in whole seconds
	var log lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(stacktest.Bins(t), "oasis-bot"))
	cmd.Env = []string{
		"TELEGRAM_BOT_TOKEN=" + botToken, "TELEGRAM_API_URL=" + tele.URL,
		"OASIS_BOT_CHAT_IDS=" + strconv.FormatInt(ourChat, 10),
		"OASIS_BOT_DIGEST_CHAT_IDS=" + strconv.FormatInt(digestChat, 10),
		"OASIS_BOT_DIGEST_TIMES=" + digestAt.Format("15:04:05"), "OASIS_BOT_DIGEST_TZ=UTC",
		"INFLUX_URL=" + in.URL, "BOT_INFLUX_PASSWORD=" + nativestack.BotPassword,
		"KAPACITOR_URL=" + k.URL,
		// This test asks more than the default 10 a minute (the limit
		// itself is cmd/oasis-bot's TestTelegramRoundTrip's).
		"OASIS_BOT_RATE_LIMIT=60",
	}
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	defer func() {
		if t.Failed() {
			t.Logf("oasis-bot log:\n%s", log.String())
		}
	}()

	ask := func(text string) string {
		t.Helper()
		from := time.Now()
		tele.Say(ourChat, "operator", text)
		var got string
		wait.Value(t, func() (bool, string) {
			if m := tele.SentTo(ourChat, from); len(m) > 0 {
				got = m[0].Text
				return true, ""
			}
			return false, "no answer"
		}, 30*time.Second, 200*time.Millisecond, "the bot's answer to "+text)
		t.Logf("%s ->\n%s", text, got)
		return got
	}
	data, err := readings.New(in.URL, nativestack.AdminUser, nativestack.AdminPassword, nativestack.Database)
	require.NoError(t, err)
	newest := func(measurement, where, field string) float64 {
		t.Helper()
		pts, err := readings.Newest(context.Background(), data, measurement, time.Hour, where)
		require.NoError(t, err)
		require.NotEmpty(t, pts, "%s %s", measurement, where)
		v, ok := pts[0].Float(field)
		require.True(t, ok, "%s.%s", measurement, field)
		return v
	}
	number := func(answer, pattern string) float64 {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(answer)
		require.NotNil(t, m, "%q in %q", pattern, answer)
		f, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		require.NoError(t, err)
		return f
	}
	ownNode := fmt.Sprintf(`"node_id" = '%s'`, own.NodeID)

	// /status: our node by name, its height between InfluxDB's newest
	// before and after the question.
	before := newest("oasis_node", ownNode, "latest_height")
	status := ask("/status")
	after := newest("oasis_node", ownNode, "latest_height")
	require.Contains(t, status, "validator-0 @")
	require.Contains(t, status, ": up, synced, height ")
	require.NotContains(t, status, "[no data for", "the node's newest point is current")
	require.NotContains(t, status, "(ID not read yet)", "the outage's points without an ID are older than the node's")
	h := number(status, `validator-0 @[^:]*: up, synced, height ([\d,]+)`)
	require.True(t, before <= h && h <= after, "height %v not between %v and %v", h, before, after)

	// /signing: both validators monitored, our own one's 100-height share
	// as InfluxDB has it.
	signing := ask("/signing")
	require.Contains(t, signing, "validator-0: signed ")
	require.Contains(t, signing, "validator-1: signed ")
	require.Regexp(t, `epoch \d+: [\d,]+ of [\d,]+ signed, best case [\d.]+% vs 75\.0% needed: reward `, signing)

	// /stake: the entity by its name, its escrow as InfluxDB has it.
	stake := ask("/stake")
	require.Contains(t, stake, "Our Entity: escrow ")
	escrow := number(stake, `Our Entity: escrow ([\d,.]+) `)
	require.InDelta(t, newest("oasis_entity", "", "escrow_active_balance_tokens"), escrow, 0.01)
	require.Regexp(t, `rank \d+ of \d+ seats`, stake)
	require.NotContains(t, stake, "(ID not read yet)")

	// /gov: the open proposals count as InfluxDB has it.
	gov := ask("/gov")
	open := number(gov, `Governance: (\d+) open proposals`)
	require.Equal(t, newest("oasis_governance", "", "active_proposals"), open)

	system := ask("/system")
	require.Regexp(t, `CPU \d+% busy`, system)
	require.Regexp(t, `memory \d+% used \([\d.]+ GiB free\)`, system)

	// /alerts: what is firing is what the webhook got last for each alert
	// (TestAlertsLive checked the history holds every event it got).
	last := map[string]liveAlert{}
	for _, a := range sink.since(time.Time{}) {
		last[a.ID] = a
	}
	var firing []string
	for _, a := range last {
		if a.Level != "OK" && !strings.HasPrefix(a.ID, "oasis_silence") {
			firing = append(firing, a.ID)
		}
	}
	alerts := ask("/alerts")
	require.Contains(t, alerts, fmt.Sprintf("Firing (as last sent): %d\n", len(firing)))
	for _, id := range firing {
		require.Contains(t, alerts, last[id].Level+" (last sent ")
		require.Contains(t, alerts, strings.SplitN(last[id].Message, ". (observed", 2)[0])
	}
	require.Contains(t, alerts, "RECOVERED [validator-0] oasis_node_down")
	require.NotContains(t, alerts, "Jan 1 00:00", "events at their times")

	require.Contains(t, ask("/frobnicate"), "Unknown command /frobnicate")
	require.Contains(t, ask("/help"), "/mute 2h [alert] [reason]")
	require.Contains(t, ask("/mute 9d"), "between 1s and 7d")
	require.Contains(t, ask("/mute 1h oasis_no_such_alert"), `no alert "oasis_no_such_alert"`)

	// A stranger's chat: logged, never answered (checked again at the end).
	strangerAt := time.Now()
	tele.Say(strangeChat, "stranger", "/status")
	wait.Value(t, func() (bool, string) {
		return strings.Contains(log.String(), "chat=666"), "no log line"
	}, 20*time.Second, 200*time.Millisecond, "the stranger's message is logged")

	// /mute 1h: our node's outage is held back in the engine.
	muted := time.Now()
	answer := ask("/mute 1h upgrade drill")
	require.Contains(t, answer, "Every alert is muted until ")
	require.Contains(t, answer, "upgrade drill")
	sink.await(t, muted, "oasis_silence", "INFO", 25*time.Second)
	require.Contains(t, log.String(), `msg=muted chat=1001 from=operator`, "the mute is logged")
	// A monitored validator stops: oasis_missed_consecutive is held back
	// in the engine (its inhibited count grows) and never reaches the
	// webhook.
	inhibitedBefore := alertNodeStat(t, k, "oasis_missed_consecutive", "alerts_inhibited")
	stopped := time.Now()
	net.StopValidator(1)
	wait.Value(t, func() (bool, string) {
		n := alertNodeStat(t, k, "oasis_missed_consecutive", "alerts_inhibited")
		return n > inhibitedBefore, fmt.Sprintf("%d inhibited", n)
	}, 60*time.Second, time.Second, "the engine holds oasis_missed_consecutive back")
	for _, a := range sink.since(stopped) {
		require.False(t, strings.HasPrefix(a.ID, "oasis_missed_consecutive:"), "paged while muted: %s", a.Message)
	}
	require.Contains(t, ask("/mute"), "Every alert is muted until ")
	unmuted := time.Now()
	require.Contains(t, ask("/unmute"), "No silence")
	sink.await(t, unmuted, "oasis_silence", "OK", 25*time.Second)

	// A short mute of one alert ends on its own, with its notice.
	short := time.Now()
	require.Contains(t, ask("/mute 15s oasis_peers_low"), "oasis_peers_low is muted (every other alert is sent)")
	sink.await(t, short, "oasis_silence:oasis_peers_low", "INFO", 25*time.Second)
	sink.await(t, short, "oasis_silence:oasis_peers_low", "OK", 45*time.Second)

	// The digest, at its time, with the numbers InfluxDB has then.
	var digest telegramfake.Sent
	wait.Value(t, func() (bool, string) {
		if m := tele.SentTo(digestChat, time.Time{}); len(m) > 0 {
			digest = m[0]
			return true, ""
		}
		return false, "no digest"
	}, time.Until(digestAt)+30*time.Second, time.Second, "the digest at "+digestAt.Format("15:04:05"))
	t.Logf("digest, %s after its time:\n%s", digest.At.Sub(digestAt).Round(time.Millisecond), digest.Text)
	require.WithinRange(t, digest.At, digestAt, digestAt.Add(10*time.Second), "sent at its time")
	require.Contains(t, digest.Text, "Oasis Mission Control digest, "+digestAt.Format("2006-01-02 15:04"))
	for _, part := range []string{"Nodes\nvalidator-0 @", "Signing\nvalidator-", "Stake\n", "\nOur Entity: escrow ", "Governance: ", "System\n", "Firing (as last sent): "} {
		require.Contains(t, digest.Text, part)
	}
	require.Len(t, tele.SentTo(digestChat, time.Time{}), 1, "one digest a time")
	require.InDelta(t, newest("oasis_entity", "", "escrow_active_balance_tokens"), number(digest.Text, `Our Entity: escrow ([\d,.]+) `), 0.01)

	// Nothing ever went to the stranger.
	require.Empty(t, tele.SentTo(strangeChat, strangerAt), "a chat not on the list got an answer")
	require.Zero(t, tele.BadAuth())
	require.NotContains(t, log.String(), "test-token-never-logged", "the token is in the log")
}
