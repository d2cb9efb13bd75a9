package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/telegramfake"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigErrors(t *testing.T) {
	base := map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "BOT_INFLUX_PASSWORD": "p", "OASIS_BOT_CHAT_IDS": "123"}
	for _, c := range []struct{ key, value, want string }{
		{"TELEGRAM_BOT_TOKEN", "", "TELEGRAM_BOT_TOKEN is empty"},
		{"BOT_INFLUX_PASSWORD", "", "BOT_INFLUX_PASSWORD is empty"},
		{"OASIS_BOT_CHAT_IDS", "", "OASIS_BOT_CHAT_IDS (or TELEGRAM_CHAT_ID) is empty"},
		{"OASIS_BOT_CHAT_IDS", "@me", `OASIS_BOT_CHAT_IDS: "@me" is not a chat ID`},
		{"OASIS_BOT_DIGEST_CHAT_IDS", "1,x", `OASIS_BOT_DIGEST_CHAT_IDS: "x" is not a chat ID`},
		{"OASIS_BOT_DIGEST_TIMES", "8pm", `OASIS_BOT_DIGEST_TIMES: "8pm" is not a time of day`},
		{"OASIS_BOT_DIGEST_TZ", "Mars/Olympus", `OASIS_BOT_DIGEST_TZ "Mars/Olympus": not a time zone`},
		{"OASIS_BOT_RATE_LIMIT", "0", "OASIS_BOT_RATE_LIMIT: commands a chat may send a minute"},
		{"OASIS_SILENCE_REMIND", "1h30m", "OASIS_SILENCE_REMIND: a number and s, m or h"},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		env[c.key] = c.value
		_, err := loadConfig(envOf(env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: got %v, want %q", c.key, c.value, err, c.want)
		}
	}
	if _, err := loadConfig(envOf(map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "BOT_INFLUX_PASSWORD": "p", "TELEGRAM_CHAT_ID": "@alerts"})); err == nil || !strings.Contains(err.Error(), `TELEGRAM_CHAT_ID: "@alerts" is not a chat ID`) {
		t.Errorf("a bad TELEGRAM_CHAT_ID is named as such: %v", err)
	}
	// The alert chat is the default allowlist and digest chat.
	c, err := loadConfig(envOf(map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "BOT_INFLUX_PASSWORD": "p", "TELEGRAM_CHAT_ID": "-100200"}))
	if err != nil || !c.allowed[-100200] || len(c.digestChats) != 1 || c.schedule.String() != "08:00,20:00 UTC" {
		t.Errorf("defaults: %+v %v", c, err)
	}
	c, err = loadConfig(envOf(map[string]string{"TELEGRAM_BOT_TOKEN": "1:x", "BOT_INFLUX_PASSWORD": "p", "OASIS_BOT_CHAT_IDS": "5", "OASIS_BOT_DIGEST_TIMES": "off"}))
	if err != nil || c.schedule != nil {
		t.Errorf("digest off: %v %v", c.schedule, err)
	}
}

func TestSplitLongMessages(t *testing.T) {
	long := strings.Repeat("a line of an answer\n", 500)
	parts := split(long)
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	if strings.Join(parts, "\n") != strings.TrimSuffix(long, "") && len(strings.Join(parts, "")) < len(long)-len(parts) {
		t.Errorf("text lost")
	}
	for _, p := range parts {
		if len([]rune(p)) > maxMessage {
			t.Errorf("a part of %d characters", len([]rune(p)))
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTelegramRoundTrip runs the bot against a stand-in for Telegram's
// API: answers reach the allowed chat only, a stranger is logged and not
// answered, a flood is told once, the token is never logged. Commands
// that need InfluxDB are the end-to-end test's (testbed/e2e/bot_test.go).
func TestTelegramRoundTrip(t *testing.T) {
	const token = "777:secret-token"
	tele := telegramfake.Start(t, token)
	var log syncBuffer
	health := filepath.Join(t.TempDir(), "alive")
	if err := checkHealth(health, time.Now()); err == nil {
		t.Error("healthy before any poll")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, envOf(map[string]string{
			"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": tele.URL, "BOT_INFLUX_PASSWORD": "p",
			"OASIS_BOT_CHAT_IDS": "42", "OASIS_BOT_RATE_LIMIT": "3", "OASIS_BOT_DIGEST_TIMES": "off",
			"INFLUX_URL": "http://127.0.0.1:1", "KAPACITOR_URL": "http://127.0.0.1:1", "OASIS_BOT_HEALTH_FILE": health,
		}), &log)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if strings.Contains(log.String(), "secret-token") {
			t.Errorf("the token is in the log:\n%s", log.String())
		}
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	}()
	await := func(chat int64, from time.Time, n int) []telegramfake.Sent {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if got := tele.SentTo(chat, from); len(got) >= n {
				return got
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%d messages to chat %d, want %d: %v", len(tele.SentTo(chat, from)), chat, n, tele.SentTo(chat, from))
		return nil
	}
	start := time.Now()
	tele.Say(99, "stranger", "/help")
	tele.Say(42, "operator", "/help")
	if got := await(42, start, 1); !strings.Contains(got[0].Text, "/mute 2h [alert] [reason]") {
		t.Errorf("help: %q", got[0].Text)
	}
	tele.Say(42, "operator", "/nope@oasis_test_bot")
	if got := await(42, start, 2); got[1].Text != "Unknown command /nope. /help lists the commands." {
		t.Errorf("unknown: %q", got[1].Text)
	}
	// Another bot's command in a group: not ours, no answer, no token spent.
	tele.Say(42, "operator", "/status@other_bot")
	// Kapacitor unreachable: /mute says it failed and that the state is not known.
	tele.Say(42, "operator", "/mute 1h")
	if got := await(42, start, 3); !strings.HasPrefix(got[2].Text, "/mute failed: Kapacitor at http://127.0.0.1:1: no answer") ||
		!strings.Contains(got[2].Text, "What Kapacitor holds now is not known") {
		t.Errorf("/mute with Kapacitor down: %q", got[2].Text)
	}
	// The limit is 3 a minute: the next is told once, the one after gets nothing.
	tele.Say(42, "operator", "/help")
	tele.Say(42, "operator", "/help")
	got := await(42, start, 4)
	if !strings.Contains(got[3].Text, "Too many commands: at most 3 a minute") {
		t.Errorf("over the limit: %q", got[3].Text)
	}
	// A sync point: the handlers run one at a time, so once a later
	// stranger is logged, every command above has been handled.
	tele.Say(98, "another-stranger", "/status")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(log.String(), "chat=98") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "chat=98") {
		t.Fatal("the second stranger is not logged")
	}
	if n := len(tele.SentTo(42, start)); n != 4 {
		t.Errorf("%d answers, want 4 (help, unknown, mute failed, too many): %v", n, tele.SentTo(42, start))
	}
	if !strings.Contains(log.String(), "chat=99 from=stranger") {
		t.Errorf("the stranger is not logged")
	}
	if s := tele.SentTo(99, start); len(s) != 0 {
		t.Errorf("the stranger got answers: %v", s)
	}
	if tele.BadAuth() != 0 {
		t.Errorf("calls with another token")
	}
	// Telegram answered polls: healthy now, not 4 minutes on.
	if err := checkHealth(health, time.Now()); err != nil {
		t.Errorf("health: %v", err)
	}
	if err := checkHealth(health, time.Now().Add(4*time.Minute)); err == nil || !strings.Contains(err.Error(), "no answer from Telegram for 4m") {
		t.Errorf("health 4 min on: %v", err)
	}
}
