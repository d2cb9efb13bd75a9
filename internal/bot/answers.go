package bot

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/readings"
)

// How far back an answer looks for a series' newest point, and after how
// long without a new one the answer says it is old (the inputs gather
// every 10 s, the slow ones every 60 s, by default).
const (
	lookBack = time.Hour
	staleAge = 3 * time.Minute
)

// name is a node's or entity's name for a person: the names processor's
// field, else the ID's first characters.
func name(p readings.Point, nameField, idTag string) string {
	if n, ok := p.Str(nameField); ok && n != "" {
		return safe(n, 40)
	}
	id := p.Tag(idTag)
	if id == "" {
		// The input never read the node, so it has no ID to tag with.
		return "(ID not read yet)"
	}
	if len(id) > 8 {
		id = id[:8] + "…"
	}
	return id
}

// age says how old a point is when it is older than staleAge.
func (b *Bot) age(p readings.Point) string {
	d := b.now().Sub(p.Time)
	if d < staleAge {
		return ""
	}
	return fmt.Sprintf(" [no data for %s: Telegraf or its input stopped?]", ago(d))
}

func ago(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}

// thousands writes n with thin separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func pct(f float64) string {
	if f >= 0.9995 && f < 1 {
		return "99.9%"
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

func tokens(f float64) string {
	if math.Abs(f) >= 1000 {
		return thousands(int64(math.Round(f)))
	}
	return fmt.Sprintf("%.2f", f)
}

// unread says why an input's point has up=0: the node's down_reason, or
// a query that failed while the node answered.
func unread(p readings.Point) string {
	if why, _ := p.Str("down_reason"); why != "" {
		return "could not be read (" + why + ")"
	}
	return "not fully read (a query failed: Telegraf's log says which)"
}

func (b *Bot) status(ctx context.Context) (string, error) {
	nodes, err := readings.Newest(ctx, b.Data, "oasis_node", lookBack, "", "host", "node_id")
	if err != nil {
		return "", err
	}
	nodes = readings.Identified(nodes, "node_id", "host")
	if len(nodes) == 0 {
		return "No node reported in the last hour. Is Telegraf running, and the node input configured?", nil
	}
	var out []string
	for _, p := range nodes {
		line := name(p, "node_name", "node_id")
		if h := p.Tag("host"); h != "" {
			line += " @" + h
		}
		up, _ := p.Int("up")
		if up != 1 {
			if why, _ := p.Str("down_reason"); why != "" {
				line += ": DOWN (" + why + ")"
			} else {
				// It answered, but a query of the gather failed.
				line += ": NOT FULLY READ (a query failed: Telegraf's log says which)"
			}
		} else {
			parts := []string{"up"}
			if s, ok := p.Int("synced"); ok {
				parts = append(parts, map[bool]string{true: "synced", false: "NOT SYNCED"}[s == 1])
			}
			if h, ok := p.Int("latest_height"); ok {
				parts = append(parts, "height "+thousands(h))
			}
			if a, ok := p.Float("latest_block_age_seconds"); ok {
				parts = append(parts, fmt.Sprintf("block %s old", ago(time.Duration(a*float64(time.Second)))))
			}
			if n, ok := p.Int("consensus_peers"); ok {
				parts = append(parts, fmt.Sprintf("%d peers", n))
			}
			if v, ok := p.Str("software_version"); ok && v != "" {
				parts = append(parts, "v"+safe(v, 20))
			}
			line += ": " + strings.Join(parts, ", ")
		}
		out = append(out, line+b.age(p))
	}
	return "Nodes\n" + strings.Join(out, "\n"), nil
}

func (b *Bot) signing(ctx context.Context) (string, error) {
	vals, err := readings.Newest(ctx, b.Data, "oasis_signing", lookBack, `"monitored" = 1`, "consensus_address")
	if err != nil {
		return "", err
	}
	if len(vals) == 0 {
		return "No signing account in the last hour. Is the oasis_signing input running (validators only)?", nil
	}
	var out []string
	for _, p := range vals {
		line := name(p, "node_name", "node_id")
		var win []string
		for _, w := range []string{"100", "1000", "10000"} {
			if u, ok := p.Float("uptime_" + w); ok {
				win = append(win, pct(u))
			} else {
				win = append(win, "-")
			}
		}
		line += ": signed " + strings.Join(win, " / ") + " (last 100/1k/10k)"
		if c, ok := p.Int("consecutive_missed"); ok {
			line += fmt.Sprintf(", %d missed in a row", c)
		}
		if in, ok := p.Int("in_validator_set"); ok && in != 1 {
			line += ", NOT IN THE VALIDATOR SET"
		}
		if best, ok := p.Float("epoch_best_signed_share"); ok {
			e, _ := p.Int("epoch")
			signed, _ := p.Int("epoch_signed")
			heights, _ := p.Int("epoch_heights")
			line += fmt.Sprintf("\n  epoch %d: %s of %s signed", e, thousands(signed), thousands(heights))
			if th, ok := p.Float("epoch_reward_threshold"); ok {
				verdict := "reward reachable"
				if r, ok := p.Int("epoch_reward_reachable"); ok && r != 1 {
					verdict = "REWARD LOST this epoch"
				}
				line += fmt.Sprintf(", best case %s vs %s needed: %s", pct(best), pct(th), verdict)
			}
		}
		out = append(out, line+b.age(p))
	}
	return "Signing\n" + strings.Join(out, "\n"), nil
}

func (b *Bot) stake(ctx context.Context) (string, error) {
	ents, err := readings.Newest(ctx, b.Data, "oasis_entity", lookBack, "", "host", "entity_id")
	if err != nil {
		return "", err
	}
	ents = readings.Identified(ents, "entity_id", "host")
	if len(ents) == 0 {
		return "No entity in the last hour. Is the oasis_entity input running (OASIS_ENTITY_ID)?", nil
	}
	var out []string
	for _, p := range ents {
		tok := p.Tag("token")
		line := name(p, "entity_name", "entity_id")
		if up, ok := p.Int("up"); ok && up != 1 {
			out = append(out, line+": "+unread(p)+b.age(p))
			continue
		}
		var parts []string
		if e, ok := p.Float("escrow_active_balance_tokens"); ok {
			parts = append(parts, "escrow "+tokens(e)+" "+tok)
		}
		if g, ok := p.Float("general_balance_tokens"); ok {
			parts = append(parts, "balance "+tokens(g)+" "+tok)
		}
		if r, ok := p.Int("escrow_rank"); ok {
			seats, _ := p.Int("max_validators")
			s := fmt.Sprintf("rank %d of %d seats", r, seats)
			if e, ok := p.Int("elected_next_epoch"); ok {
				s += map[bool]string{true: " (elected next epoch)", false: " (NOT ELECTED next epoch)"}[e == 1]
			}
			parts = append(parts, s)
		}
		if m, ok := p.Float("cutoff_margin_tokens"); ok {
			parts = append(parts, "margin to the cutoff "+tokens(m)+" "+tok)
		}
		if c, ok := p.Float("commission_rate"); ok {
			s := "commission " + pct(c)
			if n, ok := p.Float("commission_next_rate"); ok {
				left, _ := p.Int("commission_next_epochs_left")
				s += fmt.Sprintf(" (%s in %d epochs)", pct(n), left)
			}
			parts = append(parts, s)
		}
		out = append(out, line+": "+strings.Join(parts, ", ")+b.age(p))
	}
	return "Stake\n" + strings.Join(out, "\n"), nil
}

func (b *Bot) gov(ctx context.Context) (string, error) {
	// One reading: the newest, whatever entity it was made for.
	govs, err := readings.Newest(ctx, b.Data, "oasis_governance", lookBack, "")
	if err != nil {
		return "", err
	}
	if len(govs) == 0 {
		return "No governance reading in the last hour. Is the oasis_governance input running?", nil
	}
	g := govs[0]
	if up, ok := g.Int("up"); ok && up != 1 {
		return "Governance: " + unread(g) + b.age(g), nil
	}
	var out []string
	open, _ := g.Int("active_proposals")
	notVoted, _ := g.Int("active_proposals_not_voted")
	line := fmt.Sprintf("Governance: %d open proposals", open)
	if notVoted > 0 {
		line += fmt.Sprintf(", %d NOT VOTED by you", notVoted)
	}
	out = append(out, line+b.age(g))
	// The proposals of the newest gather only (a closed one stays for a few epochs).
	// The newest point of each proposal (a closed one stays for a few
	// epochs with its final state), for the entity the summary is about.
	props, err := readings.Newest(ctx, b.Data, "oasis_governance_proposal", 10*time.Minute, "", "proposal_id", "entity_id")
	if err != nil {
		return "", err
	}
	for _, p := range props {
		if st, _ := p.Str("state"); st != "active" || (g.Tag("entity_id") != "" && p.Tag("entity_id") != g.Tag("entity_id")) {
			continue
		}
		title, _ := p.Str("title")
		if title == "" {
			title = p.Tag("kind")
		}
		left, _ := p.Int("epochs_left")
		vote, _ := p.Str("vote")
		if vote == "" {
			vote = "NOT VOTED"
		} else {
			vote = "you voted " + vote
		}
		out = append(out, fmt.Sprintf("#%s %s: closes in %d epochs, %s", p.Tag("proposal_id"), safe(title, 60), left, vote))
	}
	ups, err := readings.Newest(ctx, b.Data, "oasis_governance_upgrade", 10*time.Minute, "", "handler")
	if err != nil {
		return "", err
	}
	for _, p := range ups {
		ep, _ := p.Int("epoch")
		left, _ := p.Int("epochs_left")
		v, _ := p.Str("target_consensus_version")
		out = append(out, fmt.Sprintf("Upgrade %s at epoch %d (in %d epochs), consensus %s: run the new version before then", safe(p.Tag("handler"), 40), ep, left, safe(v, 20)))
	}
	if len(ups) == 0 {
		out = append(out, "No upgrade scheduled.")
	}
	return strings.Join(out, "\n"), nil
}

func (b *Bot) system(ctx context.Context) (string, error) {
	cpus, err := readings.Newest(ctx, b.Data, "cpu", lookBack, `"cpu" = 'cpu-total'`, "host")
	if err != nil {
		return "", err
	}
	mems, err := readings.Newest(ctx, b.Data, "mem", lookBack, "", "host")
	if err != nil {
		return "", err
	}
	disks, err := readings.Newest(ctx, b.Data, "disk", lookBack, "", "host", "path")
	if err != nil {
		return "", err
	}
	hosts := map[string][]string{}
	var order []string
	add := func(h, s string) {
		if _, ok := hosts[h]; !ok {
			order = append(order, h)
		}
		hosts[h] = append(hosts[h], s)
	}
	for _, p := range cpus {
		if idle, ok := p.Float("usage_idle"); ok {
			add(p.Tag("host"), fmt.Sprintf("CPU %.0f%% busy%s", 100-idle, b.age(p)))
		}
	}
	for _, p := range mems {
		if u, ok := p.Float("used_percent"); ok {
			s := fmt.Sprintf("memory %.0f%% used", u)
			if a, ok := p.Float("available"); ok {
				s += fmt.Sprintf(" (%.1f GiB free)", a/(1<<30))
			}
			add(p.Tag("host"), s+b.age(p))
		}
	}
	for _, p := range disks {
		if u, ok := p.Float("used_percent"); ok {
			free, _ := p.Float("free")
			add(p.Tag("host"), fmt.Sprintf("disk %s %.0f%% used, %.1f GiB left%s", safe(p.Tag("path"), 40), u, free/(1<<30), b.age(p)))
		}
	}
	if len(order) == 0 {
		return "No system reading in the last hour. Is Telegraf running?", nil
	}
	var out []string
	for _, h := range order {
		out = append(out, h+": "+strings.Join(hosts[h], ", "))
	}
	return "System\n" + strings.Join(out, "\n"), nil
}

func (b *Bot) alerts(ctx context.Context) (string, error) {
	// Each alert's newest event over the last 30 days: firing unless OK.
	last, err := readings.Newest(ctx, b.Data, "oasis_alert", 30*24*time.Hour, "", "id")
	if err != nil {
		return "", err
	}
	if len(last) == 0 {
		return "No alert in the history (InfluxDB's oasis_alert) in the last 30 days. docs/alert-history.md says how it is kept.", nil
	}
	var firing []string
	for _, p := range last {
		// The silence is asked of Kapacitor (below): a one-alert silence
		// replaced by another never sends its end to the history.
		if strings.HasPrefix(p.Tag("id"), "oasis_silence") {
			continue
		}
		if lvl := p.Tag("level"); lvl != "OK" {
			msg, _ := p.Str("message")
			firing = append(firing, fmt.Sprintf("%s (last sent %s ago): %s", lvl, ago(b.now().Sub(p.Time)), safe(msg, 200)))
		}
	}
	// As last sent: an alert that recovered while a silence held it back
	// shows here until its next message.
	out := []string{fmt.Sprintf("Firing (as last sent): %d", len(firing))}
	out = append(out, firing...)
	if s, err := b.Mute.Current(ctx); err == nil && s.Active(b.now()) {
		out = append(out, describe(s, b.now()))
	}
	recent, err := b.Data.Query(ctx, `SELECT "message" FROM "oasis_alert" WHERE time > now() - 30d GROUP BY "level" ORDER BY time DESC LIMIT 5`)
	if err != nil {
		return "", err
	}
	// Newest 5 over every level.
	sortNewest(recent)
	if len(recent) > 5 {
		recent = recent[:5]
	}
	out = append(out, "Last events:")
	for _, p := range recent {
		msg, _ := p.Str("message")
		out = append(out, fmt.Sprintf("%s %s", p.Time.UTC().Format("Jan 2 15:04"), safe(msg, 200)))
	}
	return strings.Join(out, "\n"), nil
}

func sortNewest(ps []readings.Point) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Time.After(ps[j-1].Time); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// Digest is the scheduled summary: every answer but the alerts' history,
// in one message. A part that can't be read says so; the rest is sent.
func (b *Bot) Digest(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out := []string{"Oasis Mission Control digest, " + b.now().UTC().Format("2006-01-02 15:04 UTC")}
	for _, part := range []struct {
		name string
		fn   func(context.Context) (string, error)
	}{{"/status", b.status}, {"/signing", b.signing}, {"/stake", b.stake}, {"/gov", b.gov}, {"/system", b.system}, {"/alerts", b.firing}} {
		s, err := part.fn(ctx)
		if err != nil {
			b.log().Error("digest part failed", "part", part.name, "error", err)
			s = part.name + ": could not read the numbers (" + short(err) + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n\n")
}

// firing is /alerts without the last events, for the digest.
func (b *Bot) firing(ctx context.Context) (string, error) {
	s, err := b.alerts(ctx)
	if i := strings.Index(s, "\nLast events:"); i >= 0 {
		s = s[:i]
	}
	return s, err
}
