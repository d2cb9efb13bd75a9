// Package bot answers an operator's chat commands (/status, /signing,
// /stake, /gov, /system, /alerts, /mute, /unmute, /help) from the
// numbers the stack keeps in InfluxDB, and writes the scheduled digest.
// It knows nothing of Telegram: cmd/oasis-bot carries its messages. Only
// chats on the allowlist get an answer; every command is rate-limited;
// /mute and /unmute go through Kapacitor's silence (package silence).
package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/readings"
	"github.com/oasis-mission-control/oasis-mission-control/internal/silence"
)

// Muter is the silence: *silence.Client.
type Muter interface {
	Current(ctx context.Context) (silence.Silence, error)
	Set(ctx context.Context, now time.Time, d time.Duration, reason, alert string) (silence.Silence, error)
	Off(ctx context.Context) error
}

// Bot answers commands. Set its fields, then call Handle from one or
// more goroutines.
type Bot struct {
	Data readings.Querier
	Mute Muter
	// Allowed are the chat IDs that get answers.
	Allowed map[int64]bool
	// Limit is how many commands a chat may send per minute (a burst of
	// that many, then one every 60/Limit s); 0 means DefaultLimit.
	Limit int
	Log   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Username is the bot's own (getMe): a command addressed to another
	// bot (/status@other_bot) is ignored.
	Username string

	mu       sync.Mutex
	buckets  map[int64]*bucket
	unknown  map[int64]time.Time // when a stranger's message was last logged
	strayLog time.Time           // when the "more strangers" line was last logged
}

// DefaultLimit is the commands per minute a chat may send.
const DefaultLimit = 10

// A token bucket per chat.
type bucket struct {
	tokens float64
	at     time.Time
	warned bool
}

func (b *Bot) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bot) log() *slog.Logger {
	if b.Log != nil {
		return b.Log
	}
	return slog.Default()
}

// allow takes a token from the chat's bucket. It returns false when none
// is left; warn is true once per exhaustion, to say so once.
func (b *Bot) allow(chat int64) (ok, warn bool) {
	limit := b.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buckets == nil {
		b.buckets = map[int64]*bucket{}
	}
	k := b.buckets[chat]
	if k == nil {
		k = &bucket{tokens: float64(limit), at: now}
		b.buckets[chat] = k
	}
	k.tokens += now.Sub(k.at).Minutes() * float64(limit)
	if k.tokens > float64(limit) {
		k.tokens = float64(limit)
	}
	k.at = now
	if k.tokens < 1 {
		warn = !k.warned
		k.warned = true
		return false, warn
	}
	k.tokens--
	k.warned = false
	return true, false
}

// stranger logs a message from a chat not on the allowlist: once a
// minute per chat, and for at most 10 chats a minute (the rest in one
// line), so a flood can't fill the log.
func (b *Bot) stranger(chat int64, from string) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unknown == nil {
		b.unknown = map[int64]time.Time{}
	}
	for id, at := range b.unknown {
		if now.Sub(at) >= time.Minute {
			delete(b.unknown, id)
		}
	}
	if _, seen := b.unknown[chat]; seen {
		return
	}
	if len(b.unknown) >= 10 {
		if now.Sub(b.strayLog) >= time.Minute {
			b.strayLog = now
			b.log().Warn("messages from more chats not on the allowlist; not answered, not logged each (one a minute each is)")
		}
		return
	}
	b.unknown[chat] = now
	b.log().Warn("message from a chat not on the allowlist, not answered (add its ID to OASIS_BOT_CHAT_IDS if it is yours)",
		"chat", chat, "from", from)
}

// Handle answers one message. send is false when nothing must be sent:
// a chat not on the allowlist (logged), not a command, or a chat over its
// rate limit (told once).
func (b *Bot) Handle(ctx context.Context, chat int64, from, text string) (reply string, send bool) {
	if !b.Allowed[chat] {
		b.stranger(chat, from)
		return "", false
	}
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", false
	}
	args := strings.Fields(text)
	cmd := strings.ToLower(args[0])
	// In a group, Telegram appends the bot's name: /status@my_bot. A
	// command for another bot in the same group is not ours.
	if i := strings.IndexByte(cmd, '@'); i > 0 {
		if b.Username != "" && !strings.EqualFold(cmd[i+1:], b.Username) {
			return "", false
		}
		cmd = cmd[:i]
	}
	args = args[1:]
	if ok, warn := b.allow(chat); !ok {
		if warn {
			b.log().Warn("chat over its rate limit: commands ignored for now", "chat", chat, "from", from)
			return fmt.Sprintf("Too many commands: at most %d a minute. Try again shortly.", b.limit()), true
		}
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var err error
	switch cmd {
	case "/status":
		reply, err = b.status(ctx)
	case "/signing":
		reply, err = b.signing(ctx)
	case "/stake":
		reply, err = b.stake(ctx)
	case "/gov":
		reply, err = b.gov(ctx)
	case "/system":
		reply, err = b.system(ctx)
	case "/alerts":
		reply, err = b.alerts(ctx)
	case "/mute":
		reply = b.mute(ctx, chat, from, args)
	case "/unmute":
		reply = b.unmute(ctx, chat, from)
	case "/help", "/start":
		reply = Help
	default:
		reply = fmt.Sprintf("Unknown command %s. /help lists the commands.", safe(cmd, 32))
	}
	if err != nil {
		b.log().Error("command failed", "command", cmd, "chat", chat, "error", err)
		reply = fmt.Sprintf("%s: could not read the numbers (%s). Is InfluxDB up? The bot's log has more.", cmd, short(err))
	}
	return reply, true
}

func (b *Bot) limit() int {
	if b.Limit <= 0 {
		return DefaultLimit
	}
	return b.Limit
}

// Help is /help's answer.
const Help = `Oasis Mission Control
/status - each node: up, synced, height, block age, peers
/signing - signed share (100/1,000/10,000 heights), misses in a row, this epoch vs the reward threshold
/stake - escrow, balance, rank vs seats, commission
/gov - open proposals, your vote, deadlines, upgrades
/system - CPU, memory, disk left
/alerts - firing now, and the last ones
/mute 2h [alert] [reason] - hold back every alert (or one, e.g. oasis_peers_low) for up to 7d
/unmute - end the silence now
Docs: docs/bot.md`

func (b *Bot) mute(ctx context.Context, chat int64, from string, args []string) string {
	if len(args) == 0 {
		cur, err := b.Mute.Current(ctx)
		if err != nil {
			b.log().Error("reading the silence", "error", err)
			return "Could not read the silence from Kapacitor (" + short(err) + ")."
		}
		return describe(cur, b.now()) + "\nUsage: /mute 2h [alert] [reason], e.g. /mute 30m oasis_peers_low noisy peers"
	}
	d, err := silence.ParseDuration(args[0])
	if err != nil {
		return "/mute: " + err.Error() + ". Usage: /mute 2h [alert] [reason]"
	}
	alert := ""
	rest := args[1:]
	// A word that looks like an alert's name is one (an unknown one is
	// refused): a misspelt name taken as the reason would mute every alert.
	if len(rest) > 0 && (strings.Contains(rest[0], "_") || strings.HasPrefix(strings.ToLower(rest[0]), "oasis")) {
		alert, rest = rest[0], rest[1:]
	}
	reason := strings.Join(rest, " ")
	if reason == "" {
		// Who muted, in the notice every channel gets (a username is
		// letters, digits and _; else the chat alone).
		reason = "muted from chat"
		if from != "" && silence.CheckReason(from) == nil {
			reason = "muted from chat by " + from
		}
	}
	if err := silence.CheckReason(reason); err != nil {
		return "/mute: " + err.Error()
	}
	s, err := b.Mute.Set(ctx, b.now(), d, reason, alert)
	if err != nil {
		b.log().Error("mute failed", "chat", chat, "from", from, "duration", args[0], "alert", alert, "error", err)
		return "/mute failed: " + short(err) + "\n" + b.holds(ctx)
	}
	b.log().Warn("muted", "chat", chat, "from", from, "until", s.Until.Format(time.RFC3339), "alert", orAll(alert), "reason", reason)
	return describe(s, b.now()) + "\n/unmute ends it sooner."
}

func (b *Bot) unmute(ctx context.Context, chat int64, from string) string {
	if err := b.Mute.Off(ctx); err != nil {
		b.log().Error("unmute failed", "chat", chat, "from", from, "error", err)
		return "/unmute failed: " + short(err) + "\n" + b.holds(ctx)
	}
	b.log().Warn("unmuted", "chat", chat, "from", from)
	// What Kapacitor holds now (a change made at the same moment wins).
	cur, err := b.Mute.Current(ctx)
	if err != nil {
		return "Unmuted; Kapacitor could not be asked since (" + short(err) + ")."
	}
	return describe(cur, b.now())
}

// holds says what Kapacitor holds after a change failed part way: the
// change may have been made, or half made.
func (b *Bot) holds(ctx context.Context) string {
	cur, err := b.Mute.Current(context.WithoutCancel(ctx))
	if err != nil {
		return "What Kapacitor holds now is not known (" + short(err) + "): ask again with /mute."
	}
	return "Kapacitor holds now: " + describe(cur, b.now())
}

func orAll(alert string) string {
	if alert == "" {
		return "every alert"
	}
	return alert
}

// describe says what a silence holds back.
func describe(s silence.Silence, now time.Time) string {
	if !s.Active(now) {
		return "No silence: every alert is sent."
	}
	left := s.Until.Sub(now).Round(time.Minute)
	if left < time.Minute {
		left = s.Until.Sub(now).Round(time.Second)
	}
	what := "Every alert is muted"
	if s.Alert != "" {
		what = s.Alert + " is muted (every other alert is sent)"
	}
	return fmt.Sprintf("%s until %s (%s left): %s.", what, s.Until.UTC().Format("2006-01-02 15:04 UTC"), left, s.Reason)
}

// short is an error for a chat: one line, not too long.
func short(err error) string { return safe(err.Error(), 200) }

// safe cuts s to n bytes on one line.
func safe(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}
