package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/readings"
	"github.com/oasis-mission-control/oasis-mission-control/internal/silence"
)

// fakeData answers Newest's queries by measurement.
type fakeData map[string][]readings.Point

func (f fakeData) Query(_ context.Context, q string) ([]readings.Point, error) {
	for m, pts := range f {
		if strings.Contains(q, `FROM "`+m+`"`) {
			return pts, nil
		}
	}
	if strings.Contains(q, "broken") {
		return nil, errors.New("boom")
	}
	return nil, nil
}

type fakeMute struct {
	cur  silence.Silence
	sets []string
}

func (f *fakeMute) Current(context.Context) (silence.Silence, error) { return f.cur, nil }
func (f *fakeMute) Set(_ context.Context, now time.Time, d time.Duration, reason, alert string) (silence.Silence, error) {
	if alert != "" && alert != "oasis_peers_low" {
		return silence.Silence{}, fmt.Errorf("no alert %q", alert)
	}
	f.cur = silence.Silence{Until: now.Add(d), Reason: reason, Alert: alert}
	f.sets = append(f.sets, fmt.Sprintf("%s %s %s", d, alert, reason))
	return f.cur, nil
}
func (f *fakeMute) Off(context.Context) error {
	f.cur = silence.Silence{Alert: f.cur.Alert}
	return nil
}

var now = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

func pt(age time.Duration, tags map[string]string, fields map[string]any) readings.Point {
	for k, v := range fields {
		switch v := v.(type) {
		case int:
			fields[k] = json.Number(fmt.Sprint(v))
		case float64:
			fields[k] = json.Number(fmt.Sprint(v))
		}
	}
	return readings.Point{Time: now.Add(-age), Tags: tags, Fields: fields}
}

func newBot(data fakeData) (*Bot, *fakeMute) {
	m := &fakeMute{}
	return &Bot{Data: data, Mute: m, Allowed: map[int64]bool{1: true}, Now: func() time.Time { return now }}, m
}

func ask(t *testing.T, b *Bot, text string) string {
	t.Helper()
	r, ok := b.Handle(context.Background(), 1, "op", text)
	if !ok {
		t.Fatalf("%s: no answer", text)
	}
	return r
}

func TestAnswersWording(t *testing.T) {
	b, _ := newBot(fakeData{
		"oasis_node": {
			pt(5*time.Second, map[string]string{"node_id": "AAAAAAAAAAAAAAAA="}, map[string]any{"host": "val-1", "node_name": "validator-0", "up": 1, "synced": 1, "latest_height": 24518237, "latest_block_age_seconds": 4.2, "consensus_peers": 31, "software_version": "25.3"}),
			pt(10*time.Minute, map[string]string{"node_id": "BBBBBBBBBBBBBBBBBB="}, map[string]any{"host": "val-2", "up": 0, "down_reason": "permission_denied"}),
		},
		"oasis_signing": {pt(5*time.Second, map[string]string{"consensus_address": "X"}, map[string]any{"node_name": "validator-0", "uptime_100": 1.0, "uptime_1000": 0.9996, "uptime_10000": 0.95, "consecutive_missed": 0, "in_validator_set": 1, "epoch": 41234, "epoch_signed": 412, "epoch_heights": 412, "epoch_best_signed_share": 1.0, "epoch_reward_threshold": 0.75, "epoch_reward_reachable": 1})},
		"oasis_entity":  {pt(30*time.Second, map[string]string{"entity_id": "E", "token": "ROSE"}, map[string]any{"entity_name": "Our Entity", "up": 1, "escrow_active_balance_tokens": 1234567.891, "general_balance_tokens": 12.5, "escrow_rank": 17, "max_validators": 120, "elected_next_epoch": 1, "cutoff_margin_tokens": 500000.0, "commission_rate": 0.05})},
	})
	status := ask(t, b, "/status")
	for _, want := range []string{
		"validator-0 @val-1: up, synced, height 24,518,237, block 4 s old, 31 peers, v25.3",
		"BBBBBBBB… @val-2: DOWN (permission_denied) [no data for 10 min: Telegraf or its input stopped?]",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("/status lacks %q:\n%s", want, status)
		}
	}
	signing := ask(t, b, "/signing")
	for _, want := range []string{"validator-0: signed 100.0% / 99.9% / 95.0% (last 100/1k/10k), 0 missed in a row", "epoch 41234: 412 of 412 signed, best case 100.0% vs 75.0% needed: reward reachable"} {
		if !strings.Contains(signing, want) {
			t.Errorf("/signing lacks %q:\n%s", want, signing)
		}
	}
	stake := ask(t, b, "/stake")
	if want := "Our Entity: escrow 1,234,568 ROSE, balance 12.50 ROSE, rank 17 of 120 seats (elected next epoch), margin to the cutoff 500,000 ROSE, commission 5.0%"; !strings.Contains(stake, want) {
		t.Errorf("/stake lacks %q:\n%s", want, stake)
	}
	if got := ask(t, b, "/gov"); !strings.Contains(got, "No governance reading in the last hour") {
		t.Errorf("/gov with no data: %s", got)
	}
	if got := ask(t, b, "/alerts"); !strings.Contains(got, "No alert in the history") {
		t.Errorf("/alerts with no history: %s", got)
	}
}

func TestMuteCommands(t *testing.T) {
	b, m := newBot(fakeData{})
	if got := ask(t, b, "/mute"); !strings.HasPrefix(got, "No silence: every alert is sent.") {
		t.Errorf("/mute alone: %s", got)
	}
	if got := ask(t, b, "/mute 2h"); !strings.HasPrefix(got, "Every alert is muted until 2026-11-28 10:00 UTC (2h0m0s left): muted from chat by op.") {
		t.Errorf("/mute 2h: %s", got)
	}
	if got := ask(t, b, "/mute 30m oasis_peers_low noisy peers"); !strings.HasPrefix(got, "oasis_peers_low is muted (every other alert is sent) until 2026-11-28 08:30 UTC") {
		t.Errorf("/mute one alert: %s", got)
	}
	for cmd, want := range map[string]string{
		"/mute 8d":                 "between 1s and 7d",
		"/mute soon":               "want a number and s, m, h or d",
		"/mute 1h oasis_nothing":   "/mute failed: no alert \"oasis_nothing\"\nKapacitor holds now: oasis_peers_low is muted",
		"/mute 1h peers_low":       "/mute failed: no alert \"peers_low\"",
		"/mute 1h Oasis_Peers_Low": "/mute failed: no alert \"Oasis_Peers_Low\"",
		"/mute 1h drop table; --x": "reason: at most 100 letters",
	} {
		if got := ask(t, b, cmd); !strings.Contains(got, want) {
			t.Errorf("%s: %s", cmd, got)
		}
	}
	if len(m.sets) != 2 {
		t.Errorf("silences set: %v", m.sets)
	}
	if got := ask(t, b, "/unmute"); got != "No silence: every alert is sent." || m.cur.Active(now) {
		t.Errorf("/unmute: %s %+v", got, m.cur)
	}
}

func TestStrangersAndRateLimit(t *testing.T) {
	b, _ := newBot(fakeData{})
	b.Limit = 2
	if _, ok := b.Handle(context.Background(), 7, "x", "/status"); ok {
		t.Error("a stranger got an answer")
	}
	if _, ok := b.Handle(context.Background(), 1, "op", "hello"); ok {
		t.Error("not a command, answered")
	}
	// A command for another bot in the group: not ours, and it costs nothing.
	b.Username = "oasis_test_bot"
	for range 5 {
		if _, ok := b.Handle(context.Background(), 1, "op", "/status@other_bot"); ok {
			t.Error("another bot's command answered")
		}
	}
	ask(t, b, "/help")
	ask(t, b, "/help")
	if got := ask(t, b, "/help"); !strings.HasPrefix(got, "Too many commands") {
		t.Errorf("third command: %s", got)
	}
	if _, ok := b.Handle(context.Background(), 1, "op", "/help"); ok {
		t.Error("told more than once")
	}
	// A minute refills the bucket.
	later := now.Add(time.Minute)
	b.Now = func() time.Time { return later }
	if got := ask(t, b, "/help"); !strings.HasPrefix(got, "Oasis Mission Control") {
		t.Errorf("after a minute: %s", got)
	}
}

func TestSchedule(t *testing.T) {
	s, err := ParseSchedule("20:00, 08:00,08:00", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "08:00,20:00 Europe/Berlin" {
		t.Errorf("%s", s)
	}
	// 08:00 UTC is 09:00 in Berlin in November: next is 20:00 Berlin, 19:00 UTC.
	if got := s.Next(now); !got.Equal(time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)) {
		t.Errorf("next after %s: %s", now, got.UTC())
	}
	// After the last time of the day: tomorrow's first.
	if got := s.Next(time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("next after 20:00 Berlin: %s", got.UTC())
	}
	// The day clocks go forward (Berlin, 2027-03-28): 08:00 stays 08:00 local.
	if got := s.Next(time.Date(2027, 3, 27, 20, 0, 0, 0, time.UTC)); got.In(s.Loc).Hour() != 8 {
		t.Errorf("across DST: %s", got)
	}
	for _, bad := range []string{"8pm", "25:00", "08:00,x"} {
		if _, err := ParseSchedule(bad, "UTC"); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
	if s, err := ParseSchedule("off", "UTC"); s != nil || err != nil {
		t.Errorf("off: %v %v", s, err)
	}
}
