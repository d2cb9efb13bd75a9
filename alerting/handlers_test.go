package alerting

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is one call a channel's API received.
type request struct {
	Path string
	Body map[string]any
}

// fakeAPIs stands in for Telegram, Slack, Discord, PagerDuty and Opsgenie:
// it records each request and answers as the real API does on success.
type fakeAPIs struct {
	*httptest.Server
	mu    sync.Mutex
	byAPI map[string][]request
}

func newFakeAPIs(t *testing.T) *fakeAPIs {
	f := &fakeAPIs{byAPI: map[string][]request{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s: body is not JSON: %q", r.URL.Path, b)
		}
		api := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		f.mu.Lock()
		f.byAPI[api] = append(f.byAPI[api], request{Path: r.URL.Path, Body: body})
		f.mu.Unlock()
		switch api {
		case "telegram":
			_, _ = w.Write([]byte(`{"ok":true,"result":{}}`))
		case "pagerduty", "opsgenie":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"success","message":"Event processed"}`))
		case "discord":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPIs) requests(api string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.byAPI[api]...)
}

// TestChannels runs the devnet recording through the shipped handlers with
// every channel switched on in .env, as an operator would, and each API
// faked: the payloads carry the alert, and severities are routed as
// documented (INFO to chat and the webhook only, CRITICAL to paging).
func TestChannels(t *testing.T) {
	rec, ev := recording(t)
	apis := newFakeAPIs(t)
	dotenv := map[string]string{
		"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": "123456:test-token", "TELEGRAM_CHAT_ID": "-1001234",
		"SLACK_ENABLED": "true", "SLACK_WEBHOOK_URL": apis.URL + "/slack/T000/B000/XXX", "SLACK_CHANNEL": "#validator",
		"DISCORD_ENABLED": "true", "DISCORD_WEBHOOK_URL": apis.URL + "/discord/webhooks/1/abc",
		"PAGERDUTY_ENABLED": "true", "PAGERDUTY_ROUTING_KEY": "routing-key-0123",
		"OPSGENIE_ENABLED": "true", "OPSGENIE_API_KEY": "opsgenie-key",
	}
	// The API endpoints themselves are fixed in kapacitord's defaults; the
	// fakes take their place.
	kapacitorEnv := map[string]string{
		"KAPACITOR_TELEGRAM_URL":   apis.URL + "/telegram/bot",
		"KAPACITOR_PAGERDUTY2_URL": apis.URL + "/pagerduty/v2/enqueue",
		"KAPACITOR_OPSGENIE2_URL":  apis.URL + "/opsgenie/v2/alerts",
	}
	k := startKapacitor(t, nil, dotenv, kapacitorEnv)
	k.feed(t, rec.lp(t))

	all := k.all()
	levels := map[string]int{}
	for _, e := range all {
		levels[e.Level]++
	}
	if levels["INFO"] == 0 || levels["WARNING"] == 0 || levels["CRITICAL"] == 0 || levels["OK"] == 0 {
		t.Fatalf("the recording should raise every level, got %v", levels)
	}

	// Handlers run one after another per event; the webhook (what feed
	// waits on) may be ahead of the others by a moment.
	wantPages := 0
	for _, e := range all {
		if e.Level == "CRITICAL" || e.Level == "OK" {
			wantPages++
		}
	}
	waitFor(func() bool {
		return len(apis.requests("telegram")) >= len(all) && len(apis.requests("slack")) >= len(all) &&
			len(apis.requests("discord")) >= len(all) && len(apis.requests("pagerduty")) >= wantPages &&
			len(apis.requests("opsgenie")) >= wantPages
	})

	// Telegram: every event, to the configured chat, through the bot token.
	tg := apis.requests("telegram")
	if len(tg) != len(all) {
		t.Errorf("telegram got %d messages for %d alerts", len(tg), len(all))
	}
	var texts []string
	for _, r := range tg {
		if r.Path != "/telegram/bot123456:test-token/sendMessage" {
			t.Errorf("telegram path %s", r.Path)
		}
		if r.Body["chat_id"] != "-1001234" {
			t.Errorf("telegram chat_id %v", r.Body["chat_id"])
		}
		texts = append(texts, r.Body["text"].(string))
	}
	wantText := "CRITICAL oasis_missed_consecutive: validator " + ev.DownConsensusAddr
	if !containsPrefix(texts, wantText) {
		t.Errorf("no telegram message starts %q:\n%s", wantText, strings.Join(texts, "\n"))
	}
	if !containsPrefix(texts, "INFO oasis_governance_new_proposal: proposal "+itoa(ev.ProposalID)) {
		t.Errorf("INFO did not reach telegram")
	}

	// Slack: every event, one attachment coloured by level.
	sl := apis.requests("slack")
	if len(sl) != len(all) {
		t.Errorf("slack got %d messages for %d alerts", len(sl), len(all))
	}
	colors := map[string]bool{}
	for _, r := range sl {
		if r.Path != "/slack/T000/B000/XXX" || r.Body["channel"] != "#validator" {
			t.Errorf("slack request to %s channel %v", r.Path, r.Body["channel"])
		}
		att := r.Body["attachments"].([]any)[0].(map[string]any)
		colors[att["color"].(string)] = true
		if !strings.Contains(att["text"].(string), "Runbook: docs/alerts.md#") {
			t.Errorf("slack text without runbook: %v", att["text"])
		}
	}
	for _, c := range []string{"danger", "warning", "good"} {
		if !colors[c] {
			t.Errorf("no slack attachment coloured %s (got %v)", c, colors)
		}
	}

	// Discord: chat, every event.
	if n := len(apis.requests("discord")); n != len(all) {
		t.Errorf("discord got %d messages for %d alerts", n, len(all))
	}

	// Paging: CRITICAL (trigger) and OK (resolve) only, never INFO or WARNING.
	pd := apis.requests("pagerduty")
	if len(pd) != wantPages {
		t.Errorf("pagerduty got %d events, want %d (CRITICAL and OK of %v)", len(pd), wantPages, levels)
	}
	actions := map[string]int{}
	for _, r := range pd {
		actions[r.Body["event_action"].(string)]++
		if r.Body["routing_key"] != "routing-key-0123" {
			t.Errorf("pagerduty routing_key %v", r.Body["routing_key"])
		}
		if sev := r.Body["payload"].(map[string]any)["severity"]; sev != "critical" && sev != "info" {
			t.Errorf("pagerduty severity %v", sev)
		}
	}
	if actions["trigger"] != levels["CRITICAL"] || actions["resolve"] == 0 {
		t.Errorf("pagerduty actions %v for levels %v", actions, levels)
	}
	t.Logf("alerts %v; telegram %d, slack %d, discord %d, pagerduty %d %v, opsgenie %d",
		levels, len(tg), len(sl), len(apis.requests("discord")), len(pd), actions, len(apis.requests("opsgenie")))
	og := apis.requests("opsgenie")
	if len(og) != wantPages {
		t.Errorf("opsgenie got %d events, want %d", len(og), wantPages)
	}
}

func containsPrefix(texts []string, prefix string) bool {
	for _, s := range texts {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// waitFor polls cond for up to 10 s.
func waitFor(cond func() bool) {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !cond(); {
		time.Sleep(100 * time.Millisecond)
	}
}
