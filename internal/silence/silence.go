// Package silence sets, reads and ends the stack's one silence: the vars
// of Kapacitor's oasis_silence task (kapacitor/load/templates/oasis_silence.tick),
// through Kapacitor's HTTP API, as scripts/oasis-silence.sh does. It is
// how the bot's /mute and /unmute hold alerts back: never by editing files.
package silence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Task is the silence's Kapacitor task.
const Task = "oasis_silence"

// MaxDuration is the longest silence: a longer one is a monitor switched off.
const MaxDuration = 7 * 24 * time.Hour

// DefaultRemind is how often the notice repeats while a silence lasts.
const DefaultRemind = time.Hour

// Silence is what the task holds: until zero means none.
type Silence struct {
	Until  time.Time
	Reason string
	// Alert is the one alert held back ('' for every alert).
	Alert string
}

// Active reports whether the silence holds alerts back at now.
func (s Silence) Active(now time.Time) bool { return !s.Until.IsZero() && now.Before(s.Until) }

// Client talks to Kapacitor's API. Its changes are made one at a time.
type Client struct {
	mu sync.Mutex

	// URL is Kapacitor's API, e.g. http://127.0.0.1:9092.
	URL  string
	HTTP *http.Client
	// Remind is how often the notice repeats (DefaultRemind when zero).
	Remind time.Duration
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// ParseDuration reads a silence's length as the script does: a number
// and s, m, h or d (e.g. 2h, 30m, 1d), between 1 s and MaxDuration.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: want a number and s, m, h or d, e.g. 2h", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
	if unit == 0 || err != nil {
		return 0, fmt.Errorf("duration %q: want a number and s, m, h or d, e.g. 2h", s)
	}
	if n > uint64(MaxDuration/unit) {
		return 0, fmt.Errorf("duration %s: between 1s and 7d (a longer silence is a monitor switched off)", s)
	}
	d := time.Duration(n) * unit
	if d <= 0 || d > MaxDuration {
		return 0, fmt.Errorf("duration %s: between 1s and 7d (a longer silence is a monitor switched off)", s)
	}
	return d, nil
}

var reasonOK = regexp.MustCompile(`^[A-Za-z0-9 .,:_/()-]*$`)

// CheckReason refuses a reason the alert messages should not carry (the
// script's rule: letters, digits, spaces and . , : _ / ( ) - only).
func CheckReason(r string) error {
	if !reasonOK.MatchString(r) || len(r) > 100 {
		return fmt.Errorf("reason: at most 100 letters, digits, spaces and . , : _ / ( ) - only")
	}
	return nil
}

type tickVar struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type task struct {
	ID         string             `json:"id"`
	TemplateID string             `json:"template-id"`
	Status     string             `json:"status"`
	Vars       map[string]tickVar `json:"vars"`
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("Kapacitor at %s: no answer: %w", c.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Kapacitor at %s answered %d to %s %s: %s", c.URL, resp.StatusCode, method, path, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("Kapacitor at %s: %s %s: %w", c.URL, method, path, err)
		}
	}
	return nil
}

// Current reads the silence the task holds now.
func (c *Client) Current(ctx context.Context) (Silence, error) {
	var t task
	if err := c.do(ctx, http.MethodGet, "/kapacitor/v1/tasks/"+Task, nil, &t); err != nil {
		return Silence{}, err
	}
	var s Silence
	if v, ok := t.Vars["until"].Value.(float64); ok && v > 0 {
		s.Until = time.Unix(int64(v), 0).UTC()
	}
	s.Reason, _ = t.Vars["reason"].Value.(string)
	s.Alert, _ = t.Vars["alert_name"].Value.(string)
	if t.Status != "enabled" {
		// Disabled, the task holds nothing back.
		s.Until = time.Time{}
	}
	return s, nil
}

// Alerts lists the names of the alerts Kapacitor runs (the names a
// silence of one alert takes): each task's template, or the task itself
// when it has none, but the silence and the watchdog's heartbeat.
func (c *Client) Alerts(ctx context.Context) ([]string, error) {
	var list struct {
		Tasks []task `json:"tasks"`
	}
	if err := c.do(ctx, http.MethodGet, "/kapacitor/v1/tasks?fields=template-id&limit=1000", nil, &list); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range list.Tasks {
		name := t.TemplateID
		if name == "" {
			name = t.ID
		}
		if name == Task || name == "oasis_watchdog" || !strings.HasPrefix(name, "oasis_") {
			continue
		}
		seen[name] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Set starts a silence until now+d of every alert (alert ”) or of one,
// replacing any other. The alert's name is checked against the alerts
// Kapacitor runs: a mistyped name would silence nothing.
func (c *Client) Set(ctx context.Context, now time.Time, d time.Duration, reason, alert string) (Silence, error) {
	if d <= 0 || d > MaxDuration {
		return Silence{}, fmt.Errorf("duration %s: between 1s and 7d", d)
	}
	if err := CheckReason(reason); err != nil {
		return Silence{}, err
	}
	if alert != "" {
		names, err := c.Alerts(ctx)
		if err != nil {
			return Silence{}, err
		}
		i := sort.SearchStrings(names, alert)
		if i == len(names) || names[i] != alert {
			return Silence{}, fmt.Errorf("no alert %q (/alerts lists them; names like oasis_peers_low)", alert)
		}
	}
	until := now.Add(d).Truncate(time.Second).Add(time.Second).UTC()
	if err := c.apply(ctx, Silence{Until: until, Reason: reason, Alert: alert}); err != nil {
		return Silence{}, err
	}
	// What Kapacitor holds now, which another change made at the same
	// moment may have replaced.
	return c.Current(ctx)
}

// Off ends the silence now. The muted alert's name is kept, so that the
// notice's state carries over the task's restart and its RECOVERED is sent.
func (c *Client) Off(ctx context.Context) error {
	cur, err := c.Current(ctx)
	if err != nil {
		return err
	}
	return c.apply(ctx, Silence{Alert: cur.Alert})
}

// apply sets the task's vars. Kapacitor applies new vars to a running
// task only when it is started again: disable it (which lifts any
// silence), then enable it with them.
func (c *Client) apply(ctx context.Context, s Silence) error {
	remind := c.Remind
	if remind <= 0 {
		remind = DefaultRemind
	}
	var until int64
	text := ""
	if !s.Until.IsZero() {
		until = s.Until.Unix()
		text = s.Until.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The vars go with the disable, never to a running task: Kapacitor
	// stores new vars of an enabled task without restarting it, so two
	// changes that overlapped (two chats, the bot and the script) could
	// leave one silence running and another stored. Disabled, the task
	// holds nothing back: if enabling fails, alerts are sent.
	if err := c.do(ctx, http.MethodPatch, "/kapacitor/v1/tasks/"+Task, map[string]any{
		"status": "disabled",
		"vars": map[string]tickVar{
			"until":        {Type: "int", Value: until},
			"until_text":   {Type: "string", Value: text},
			"reason":       {Type: "string", Value: s.Reason},
			"alert_name":   {Type: "string", Value: s.Alert},
			"remind_every": {Type: "duration", Value: fmt.Sprintf("%ds", int64(remind/time.Second))},
		},
	}, nil); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPatch, "/kapacitor/v1/tasks/"+Task, map[string]any{"status": "enabled"}, nil)
}
