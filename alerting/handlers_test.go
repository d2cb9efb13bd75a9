package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
// faked: the payloads carry the alert and its runbook entry, and severities
// are routed as documented (INFO to chat and the webhook only, CRITICAL to
// paging).
func TestChannels(t *testing.T) {
	skipReplays(t)
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
		// The alert history's endpoint (Telegraf's listener in the stack).
		"KAPACITOR_HTTPPOST_2_URL": apis.URL + "/history/oasis/alerts",
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

	// feed returned once every handler had delivered every event: the
	// counts are final.
	wantPages := 0
	for _, e := range all {
		if e.Level == "CRITICAL" || e.Level == "OK" {
			wantPages++
		}
	}
	runbook := "Runbook: docs/alerts.md#"

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
		text, _ := r.Body["text"].(string)
		texts = append(texts, text)
		if !strings.Contains(text, runbook) {
			t.Errorf("telegram text without runbook: %q", text)
		}
	}
	t.Logf("telegram (as Slack and Discord, and PagerDuty's summary and Opsgenie's message):\n  %s", strings.Join(texts, "\n  "))
	wantText := "CRITICAL [" + hostOf(rec) + "] oasis_node_down: node " + ev.OwnNodeID + " not answering for "
	if !containsPrefix(texts, wantText) {
		t.Errorf("no telegram message starts %q:\n%s", wantText, strings.Join(texts, "\n"))
	}
	if !containsPrefix(texts, "INFO ["+hostOf(rec)+"] oasis_governance_new_proposal: proposal "+itoa(ev.ProposalID)) {
		t.Errorf("INFO did not reach telegram")
	}

	// The alert history: every event, as Kapacitor's alert JSON with the
	// fields Telegraf's listener reads (telegraf.conf: id, level, message,
	// previousLevel, duration, time).
	hist := apis.requests("history")
	if len(hist) != len(all) {
		t.Errorf("the alert history got %d events for %d alerts", len(hist), len(all))
	}
	for _, r := range hist {
		for _, key := range []string{"id", "level", "message", "previousLevel", "duration", "time"} {
			if _, ok := r.Body[key]; !ok {
				t.Errorf("history event without %s: %v", key, r.Body)
			}
		}
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
		if !strings.Contains(att["text"].(string), runbook) {
			t.Errorf("slack text without runbook: %v", att["text"])
		}
	}
	for _, c := range []string{"danger", "warning", "good"} {
		if !colors[c] {
			t.Errorf("no slack attachment coloured %s (got %v)", c, colors)
		}
	}

	// Discord: chat, every event, the message in an embed.
	dc := apis.requests("discord")
	if len(dc) != len(all) {
		t.Errorf("discord got %d messages for %d alerts", len(dc), len(all))
	}
	for _, r := range dc {
		embeds, _ := r.Body["embeds"].([]any)
		if len(embeds) != 1 || !strings.Contains(fmt.Sprint(embeds[0].(map[string]any)["description"]), runbook) {
			t.Errorf("discord embeds without runbook: %v", r.Body["embeds"])
		}
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
		payload := r.Body["payload"].(map[string]any)
		if sev := payload["severity"]; sev != "critical" && sev != "info" {
			t.Errorf("pagerduty severity %v", sev)
		}
		// The summary is the message; the alert's data (the values, and
		// the thresholds where it has some) are its custom details.
		if summary, _ := payload["summary"].(string); !strings.Contains(summary, runbook) {
			t.Errorf("pagerduty summary without runbook: %q", summary)
		}
		if result := fmt.Sprint(payload["custom_details"]); !strings.Contains(result, "values:") {
			t.Errorf("pagerduty custom_details without the alert's data: %s", result)
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
	// Opsgenie: a new alert carries the message and, as its description,
	// the details (kapacitor.conf: [opsgenie2] details = true); a recovery
	// closes it with the message as its note.
	for _, r := range og {
		msg, _ := r.Body["message"].(string)
		note, _ := r.Body["note"].(string)
		desc, _ := r.Body["description"].(string)
		switch {
		case msg != "":
			if !strings.Contains(msg, runbook) || !strings.Contains(desc, runbook) || strings.HasPrefix(desc, "{") {
				t.Errorf("opsgenie alert: message %q, description %q: want the runbook in both, the details as description", msg, desc)
			}
		case !strings.Contains(note, runbook):
			t.Errorf("opsgenie %s: no message, note %q", r.Path, note)
		}
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
