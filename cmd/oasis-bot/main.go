// Command oasis-bot answers an operator's Telegram commands (/status,
// /signing, /stake, /gov, /system, /alerts, /mute, /unmute, /help) from
// the numbers the stack keeps in InfluxDB, and sends a digest at set times.
// Configured from the environment (secrets never on the command line):
// docs/bot.md. Off unless configured: the compose stack runs it only with
// the bot profile, the native install only when its unit is enabled.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // OASIS_BOT_DIGEST_TZ without the host's zoneinfo (a slim image)

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/oasis-mission-control/oasis-mission-control/internal/bot"
	"github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo"
	"github.com/oasis-mission-control/oasis-mission-control/internal/readings"
	"github.com/oasis-mission-control/oasis-mission-control/internal/silence"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version, the commit it was built from and the Go version, and exit")
	health := flag.Bool("health", false, "exit 0 if the running bot heard from Telegram in the last 3 minutes (the container's health check), else 1")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: oasis-bot [-version]\nConfigured from the environment: docs/bot.md")
	}
	flag.Parse()
	if *showVersion {
		fmt.Println(buildinfo.String("oasis-bot"))
		return
	}
	if *health {
		if err := checkHealth(healthFile(os.Getenv), time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "oasis-bot:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oasis-bot:", err)
		// A setting that is wrong stays wrong: systemd does not restart
		// the bot for it (RestartPreventExitStatus=2).
		var bad badSetting
		if errors.As(err, &bad) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// config is the environment, read and checked.
type config struct {
	token       string
	apiURL      string
	allowed     map[int64]bool
	digestChats []int64
	schedule    *bot.Schedule
	limit       int
	influxURL   string
	influxDB    string
	influxUser  string
	influxPass  string
	kapacitor   string
	remind      time.Duration
}

func chatIDs(name, v string) ([]int64, error) {
	var ids []int64
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%s: %q is not a chat ID (a number such as 123456789, or -100123456789 for a group; docs/bot.md#chat-id)", name, f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func loadConfig(env func(string) string) (config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(env(k)); v != "" {
			return v
		}
		return def
	}
	c := config{
		token:      strings.TrimSpace(env("TELEGRAM_BOT_TOKEN")),
		apiURL:     get("TELEGRAM_API_URL", "https://api.telegram.org"),
		influxURL:  get("INFLUX_URL", "http://127.0.0.1:8086"),
		influxDB:   get("INFLUX_DB", "telegraf"),
		influxUser: get("OASIS_BOT_INFLUX_USER", "bot"),
		influxPass: env("BOT_INFLUX_PASSWORD"),
		kapacitor:  get("KAPACITOR_URL", "http://127.0.0.1:9092"),
	}
	if c.token == "" {
		return c, errors.New("TELEGRAM_BOT_TOKEN is empty: the token BotFather gave (docs/bot.md#create-the-bot)")
	}
	if c.influxPass == "" {
		return c, errors.New("BOT_INFLUX_PASSWORD is empty: the password of the bot's read-only InfluxDB user (docs/bot.md)")
	}
	idsFrom := "OASIS_BOT_CHAT_IDS"
	if strings.TrimSpace(env(idsFrom)) == "" {
		idsFrom = "TELEGRAM_CHAT_ID"
	}
	ids, err := chatIDs(idsFrom, env(idsFrom))
	if err != nil {
		return c, err
	}
	if len(ids) == 0 {
		return c, errors.New("OASIS_BOT_CHAT_IDS (or TELEGRAM_CHAT_ID) is empty: the bot answers only chats on it (docs/bot.md#chat-id)")
	}
	c.allowed = map[int64]bool{}
	for _, id := range ids {
		c.allowed[id] = true
	}
	c.digestChats = ids
	if v := env("OASIS_BOT_DIGEST_CHAT_IDS"); strings.TrimSpace(v) != "" {
		if c.digestChats, err = chatIDs("OASIS_BOT_DIGEST_CHAT_IDS", v); err != nil {
			return c, err
		}
	}
	if c.schedule, err = bot.ParseSchedule(get("OASIS_BOT_DIGEST_TIMES", "08:00,20:00"), get("OASIS_BOT_DIGEST_TZ", "UTC")); err != nil {
		return c, err
	}
	c.limit, err = strconv.Atoi(get("OASIS_BOT_RATE_LIMIT", strconv.Itoa(bot.DefaultLimit)))
	if err != nil || c.limit < 1 || c.limit > 600 {
		return c, fmt.Errorf("OASIS_BOT_RATE_LIMIT: commands a chat may send a minute, 1 to 600 (default %d)", bot.DefaultLimit)
	}
	c.remind = silence.DefaultRemind
	if v := env("OASIS_SILENCE_REMIND"); v != "" {
		// As oasis-silence.sh takes it: a number and s, m or h.
		if !regexp.MustCompile(`^[0-9]+[smh]$`).MatchString(v) {
			return c, errors.New("OASIS_SILENCE_REMIND: a number and s, m or h, e.g. 1h")
		}
		if c.remind, err = time.ParseDuration(v); err != nil || c.remind <= 0 {
			return c, errors.New("OASIS_SILENCE_REMIND: a number and s, m or h, e.g. 1h")
		}
	}
	return c, nil
}

// maxMessage is Telegram's limit on a message's length, in characters.
const maxMessage = 4096

// split cuts a long text at line ends into messages Telegram takes.
func split(text string) []string {
	var out []string
	for len([]rune(text)) > maxMessage {
		r := []rune(text)[:maxMessage]
		cut := strings.LastIndexByte(string(r), '\n')
		if cut <= 0 {
			cut = len(string(r))
		}
		out = append(out, text[:cut])
		text = strings.TrimLeft(text[cut:], "\n")
	}
	return append(out, text)
}

// badSetting is a setting the bot can't run with.
type badSetting struct{ error }

func (b badSetting) Unwrap() error { return b.error }

func run(ctx context.Context, env func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := loadConfig(env)
	if err != nil {
		return badSetting{err}
	}
	data, err := readings.New(c.influxURL, c.influxUser, c.influxPass, c.influxDB)
	if err != nil {
		return err
	}
	b := &bot.Bot{
		Data:    data,
		Mute:    &silence.Client{URL: c.kapacitor, Remind: c.remind},
		Allowed: c.allowed,
		Limit:   c.limit,
		Log:     log,
	}
	mask := func(s string) string { return strings.ReplaceAll(s, c.token, "***") }
	alive := &aliveClient{client: &http.Client{Timeout: pollTimeout + 10*time.Second}, file: healthFile(env), log: log}
	var api *tg.Bot
	api, err = tg.New(c.token,
		tg.WithServerURL(c.apiURL),
		tg.WithHTTPClient(pollTimeout, alive),
		// One command at a time, in the order sent (the library otherwise
		// runs each update's handler in a goroutine of its own): the rate
		// limit, the answers' order and two mutes sent together follow the chat.
		tg.WithWorkers(1),
		tg.WithNotAsyncHandlers(),
		tg.WithErrorsHandler(func(err error) { log.Error("Telegram", "error", mask(err.Error())) }),
		tg.WithDefaultHandler(func(ctx context.Context, _ *tg.Bot, u *models.Update) {
			m := u.Message
			if m == nil {
				return
			}
			from := ""
			if m.From != nil {
				from = m.From.Username
				if from == "" {
					from = strconv.FormatInt(m.From.ID, 10)
				}
			}
			reply, send := b.Handle(ctx, m.Chat.ID, from, m.Text)
			if !send {
				return
			}
			for _, part := range split(reply) {
				if _, err := api.SendMessage(ctx, &tg.SendMessageParams{ChatID: m.Chat.ID, Text: part}); err != nil {
					log.Error("sending an answer", "chat", m.Chat.ID, "error", mask(err.Error()))
				}
			}
		}),
	)
	if err != nil {
		return fmt.Errorf("Telegram at %s did not take the token (getMe): %s", c.apiURL, mask(err.Error()))
	}
	if me, err := api.GetMe(ctx); err == nil {
		b.Username = me.Username
	}
	log.Info("oasis-bot started", "version", buildinfo.String("oasis-bot"), "chats", len(c.allowed),
		"influxdb", c.influxURL, "kapacitor", c.kapacitor, "digest", scheduleText(c.schedule))
	if c.schedule != nil {
		go digests(ctx, b, api, c, log, mask)
	}
	api.Start(ctx)
	log.Info("oasis-bot stopped")
	return nil
}

func scheduleText(s *bot.Schedule) string {
	if s == nil {
		return "off"
	}
	return s.String()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// digests sends the digest to the digest chats at each scheduled time.
func digests(ctx context.Context, b *bot.Bot, api *tg.Bot, c config, log *slog.Logger, mask func(string) string) {
	var last time.Time
	for {
		// Never before the last time: a wall clock stepped back would
		// send the same digest twice.
		next := c.schedule.Next(maxTime(time.Now(), last))
		log.Info("next digest", "at", next.Format(time.RFC3339))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		last = next
		text := b.Digest(ctx)
		for _, chat := range c.digestChats {
			for _, part := range split(text) {
				if _, err := api.SendMessage(ctx, &tg.SendMessageParams{ChatID: chat, Text: part}); err != nil {
					log.Error("sending the digest", "chat", chat, "error", mask(err.Error()))
				}
			}
		}
		log.Info("digest sent", "chats", len(c.digestChats))
	}
}

// pollTimeout is how long a getUpdates call waits for a message.
const pollTimeout = time.Minute

// healthFile is touched at each answer from Telegram's getUpdates.
func healthFile(env func(string) string) string {
	if f := env("OASIS_BOT_HEALTH_FILE"); f != "" {
		return f
	}
	return filepath.Join(os.TempDir(), "oasis-bot.alive")
}

// aliveClient is the bot's HTTP client: it touches the health file each
// time Telegram answers a poll, so the health check knows the bot is
// still hearing from Telegram (a long poll returns at least every minute).
type aliveClient struct {
	client *http.Client
	file   string
	log    *slog.Logger
	warned bool
}

func (a *aliveClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := a.client.Do(req)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasSuffix(req.URL.Path, "/getUpdates") {
		now := time.Now()
		if err := os.Chtimes(a.file, now, now); err != nil {
			if f, cerr := os.Create(a.file); cerr == nil {
				f.Close()
			} else if !a.warned {
				a.warned = true
				a.log.Warn("the health file can't be written; the health check will fail", "file", a.file, "error", cerr)
			}
		}
	}
	return resp, err
}

// checkHealth fails when Telegram has not answered a poll for 3 minutes.
func checkHealth(file string, now time.Time) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("no answer from Telegram yet (%s: %v)", file, err)
	}
	if age := now.Sub(st.ModTime()); age > 3*pollTimeout {
		return fmt.Errorf("no answer from Telegram for %s (its log says why)", age.Round(time.Second))
	}
	return nil
}
