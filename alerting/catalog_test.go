package alerting

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// step is one expected alert event: its level and the span its time must
// fall in (the point that caused it carries the time).
type step struct {
	level    string
	from, to time.Time
	optional bool // a level the value may pass through on its way
}

// alertCase is one alert of the catalog, i.e. one task in
// kapacitor/load/tasks, and how it is proven.
type alertCase struct {
	// task is the task file's name, template the TICKscript it uses.
	task, template string
	// vars shortens windows where the recording is shorter than the
	// default (kept the same for the firing and the healthy series).
	vars map[string]string
	// alertID is the full ID of the alert the fault raises.
	alertID func(rec series, ev events) string
	// fault builds the series that makes it fire, and steps says what must
	// happen: the levels in order, each in its time span, recovery last.
	fault func(t *testing.T, rec series, ev events) (series, []step)
	// healthy is a series on which it must stay quiet; nil: the
	// recording's healthy phase. It must reach the alert (the test checks)
	// and last long enough for a wrong threshold or condition to fire.
	healthy func(t *testing.T, rec series, ev events) series
	// recorded tells whether the fault was made on the devnet (true) or
	// derived from the recording's healthy phase (false), for the docs.
	recorded bool
	// live: the alert runs on the wall clock (Kapacitor's deadman counts
	// points per interval of real time), so a replay, which lasts under a
	// second, can neither make it fire nor show that it stays quiet; its
	// test feeds points live (TestDeadmen) and checks both.
	live bool
	// heartbeat: not an alert but the beat to an outside dead-man service
	// (oasis_watchdog; TestWatchdog): no level, no message, no reminders.
	heartbeat bool
	// silence: the notice of a silence (oasis_silence; TestSilence): it
	// holds the others back (.inhibit) instead of being held back.
	silence bool
}

// within is a step span from t to t+d.
func within(level string, t time.Time, d time.Duration) step {
	return step{level: level, from: t, to: t.Add(d)}
}

// healthyPhase is the recording's 90 s with nothing wrong.
func healthyPhase(rec series, ev events) series {
	return rec.between(at(ev.HealthyFrom), at(ev.HealthyTo))
}

// healthyFor repeats the healthy phase until it lasts at least d.
func healthyFor(rec series, ev events, d time.Duration) series {
	h := healthyPhase(rec, ev)
	span := at(ev.HealthyTo).Sub(at(ev.HealthyFrom))
	n := int(d/span) + 1
	return h.repeat(n, span)
}

// skipReplays skips the engine replays under -short (Telegraf's convention
// for integration tests): `go test -short` keeps the fast checks of the
// shipped files. Without -short they always run; nothing else skips them.
func skipReplays(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("replays series through Kapacitor's engine: skipped with -short")
	}
}

func TestAlertFires(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	for _, c := range catalog {
		if c.live {
			continue // TestDeadmen
		}
		// As the shipped pipeline passes the points on with names
		// configured (oasis_names), when every message about a node or
		// entity must lead with one, and without.
		for _, named := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/named=%v", c.task, named), func(t *testing.T) {
				t.Parallel()
				s, steps := c.fault(t, rec, ev)
				k := startKapacitor(t, vars{c.task: c.vars}, nil, nil)
				if named {
					s = s.named()
				}
				k.feed(t, s.lp(t))
				id := c.alertID(rec, ev)
				var all []event
				for _, e := range k.eventsOf(c.template) {
					if e.ID == id {
						all = append(all, e)
					}
				}
				// Reminders (TestReminders) of a fault longer than the task's
				// remind_every are not state changes: the steps are those.
				got, reminders := splitReminders(all)
				every := remindEvery(t, c.task, c.vars)
				for _, r := range reminders {
					if !strings.Contains(r.Message, "(firing for ") {
						t.Errorf("a reminder does not say for how long the alert has fired: %s", r.Message)
					}
					if every == 0 {
						t.Errorf("a repeated %s with remind_every 0s: a duplicate page at %s", r.Level, r.Time.Format(time.TimeOnly))
					}
				}
				for i := 1; i < len(all); i++ {
					if all[i].Level == all[i-1].Level && all[i].Level != "OK" && all[i].Time.Sub(all[i-1].Time) < every {
						t.Errorf("%s repeated %s after the last message: sooner than remind_every %s (a duplicate page)",
							all[i].Level, all[i].Time.Sub(all[i-1].Time), every)
					}
				}
				if err := matchSteps(got, steps); err != nil {
					t.Fatalf("alert %s: %v\nwant:\n%s\ngot:\n%s\nevents of %s:\n%s", id, err, showSteps(steps), show(got), c.template, show(k.eventsOf(c.template)))
				}
				for _, e := range got {
					checkRendered(t, c.template, e)
					if n := e.names(); named && namedSubject[c.template] && n["node_name"] == "" && n["entity_name"] == "" {
						t.Errorf("%s %s: no name to lead with; the point's tags and names: %v", e.ID, e.Level, n)
					}
				}
				if last := got[len(got)-1]; last.Level != "OK" {
					t.Errorf("alert %s never recovered: last event %s", id, last.Level)
				}
				t.Logf("what the channels get (message; details):\n%s", showRendered(got))
			})
		}
	}
}

// remindEvery is a task's remind_every, as the test runs it (its vars
// override the task file's).
func remindEvery(t *testing.T, task string, vars map[string]string) time.Duration {
	t.Helper()
	value := vars["remind_every"]
	if value == "" {
		tf, _ := readTaskFile(t, filepath.Join(repo, "kapacitor", "load", "tasks", task+".yaml"))
		for _, v := range tf.vars(t) {
			if v.Name == "remind_every" {
				value = v.Value
			}
		}
	}
	d, err := time.ParseDuration(strings.Trim(value, "'"))
	if err != nil {
		t.Fatalf("%s: remind_every %q: %v", task, value, err)
	}
	return d
}

// splitReminders separates an alert's events into its state changes and
// its reminders: an event at the same level as the one before it.
func splitReminders(evs []event) (changes, reminders []event) {
	for i, e := range evs {
		if i > 0 && e.Level == evs[i-1].Level && e.Level != "OK" {
			reminders = append(reminders, e)
			continue
		}
		changes = append(changes, e)
	}
	return changes, reminders
}

// levelWord is the first word of every alert message: the level, or
// RECOVERED when an alert returns to OK.
func levelWord(level string) string {
	if level == "OK" {
		return "RECOVERED"
	}
	return level
}

// checkRendered checks an alert's message and details as the channels get
// them: the message is one line, starts with the level and the alert's
// name and ends with its runbook entry; the details are plain text (no
// HTML entities from Kapacitor's HTML escaping of values) and name the
// runbook entry too; no template left a hole.
func checkRendered(t *testing.T, template string, e event) {
	t.Helper()
	runbook := "Runbook: docs/alerts.md#" + template
	prefix := levelWord(e.Level) + " " + messageLead(template, e.names()) + template + ": "
	// It ends with when the condition was observed: the event's time.
	suffix := ". (observed " + e.Time.UTC().Format("2006-01-02 15:04:05") + " UTC) " + runbook
	if !strings.HasPrefix(e.Message, prefix) || !strings.HasSuffix(e.Message, suffix) {
		t.Errorf("%s %s: message does not read %q...%q: %s", e.ID, e.Level, prefix, suffix, e.Message)
	}
	if strings.Contains(e.Message, "\n") {
		t.Errorf("%s %s: message spans lines: %q", e.ID, e.Level, e.Message)
	}
	if !strings.HasSuffix(e.Details, runbook) {
		t.Errorf("%s %s: details do not end with %q: %q", e.ID, e.Level, runbook, e.Details)
	}
	for _, hole := range []string{"<no value>", "%!", "&#", "&amp;", "&lt;", "&gt;"} {
		if strings.Contains(e.Message, hole) || strings.Contains(e.Details, hole) {
			t.Errorf("%s %s: %q in the rendered alert:\n%s\n%s", e.ID, e.Level, hole, e.Message, e.Details)
		}
	}
}

// validatorTemplates alert on a validator, which may run anywhere: their
// messages lead with its names only, never with the monitor's host.
var validatorTemplates = map[string]bool{"oasis_missed_consecutive": true, "oasis_uptime_low": true, "oasis_epoch_reward_at_risk": true}

// namedSubject are the alerts about a node or an entity whose points pass
// through oasis_names: with names configured they lead with one. The
// others lead with the host: the system's and the inputs' alerts, and the
// deadman on oasis_node (a deadman's alert keeps only its group's tags,
// and a name is a field).
var namedSubject = map[string]bool{
	"oasis_balance_low": true, "oasis_block_stale": true, "oasis_escrow_slashed": true, "oasis_height_behind": true, "oasis_references_down": true,
	"oasis_governance_new_proposal": true, "oasis_governance_vote_missing": true,
	"oasis_missed_consecutive": true, "oasis_monitor_no_access": true, "oasis_node_down": true,
	"oasis_node_frozen": true, "oasis_not_in_validator_set": true, "oasis_not_synced": true,
	"oasis_peers_low": true, "oasis_registration_expiring": true, "oasis_registration_failing": true,
	"oasis_upgrade_approaching": true, "oasis_uptime_low": true, "oasis_version_changed": true,
	"oasis_epoch_reward_at_risk": true, "oasis_validator_set_cutoff": true,
	"oasis_runtime_not_ready": true, "oasis_runtime_round_stale": true, "oasis_runtime_liveness_low": true,
	"oasis_runtime_node_suspended": true, "oasis_runtime_attestation_expiring": true,
}

// messageLead is what a message starts with after its level: the name of
// what it is about, in brackets: node_name, else entity_name, else the
// host if it is a group tag (not for a validator's alerts); nothing if
// none is known.
func messageLead(template string, names map[string]string) string {
	for _, k := range []string{"node_name", "entity_name", "host"} {
		if k == "host" && validatorTemplates[template] {
			break
		}
		if v := names[k]; v != "" {
			return "[" + v + "] "
		}
	}
	return ""
}

// showRendered lists each event's message and details as an operator
// reads them.
func showRendered(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s\n", e.Message)
		for _, l := range strings.Split(e.Details, "\n") {
			fmt.Fprintf(&b, "      | %s\n", l)
		}
	}
	return b.String()
}

func TestAlertQuietWhenHealthy(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	for _, c := range catalog {
		if c.live {
			// A replay could not make the deadman fire even if it were
			// broken: TestDeadmen checks it stays quiet while
			// points arrive live.
			continue
		}
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			s := healthyPhase(rec, ev)
			if c.healthy != nil {
				s = c.healthy(t, rec, ev)
			}
			if len(s) == 0 {
				t.Fatal("empty healthy series")
			}
			k := startKapacitor(t, vars{c.task: c.vars}, nil, nil)
			k.write(t, s.lp(t))
			// Quiet means something only if the healthy points reach the
			// alert: a threshold that is wrong would then fire.
			waitUntil(t, 30*time.Second, func() error {
				n, err := k.AlertNodeCollected(c.task)
				if err == nil && n == 0 {
					err = fmt.Errorf("the alert node of %s has evaluated no point of the healthy series: this test could not fail", c.task)
				}
				return err
			})
			k.drain(t)
			for _, e := range k.eventsOf(c.template) {
				if e.Level != "OK" {
					t.Errorf("fired on healthy data: %s at %s: %s", e.Level, e.Time.Format(time.TimeOnly), e.Message)
				}
			}
		})
	}
}

// TestEveryAlertIsProvenAndDocumented: each task in kapacitor/load/tasks
// has a catalog entry (so a firing and a healthy test) and a runbook entry
// in docs/alerts.md; each catalog entry is a shipped task.
func TestEveryAlertIsProvenAndDocumented(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "kapacitor", "load", "tasks", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no task files: %v", err)
	}
	runbook, err := os.ReadFile(filepath.Join(repo, "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	byTask := map[string]alertCase{}
	for _, c := range catalog {
		byTask[c.task] = c
	}
	shipped := map[string]bool{}
	for _, f := range files {
		task := strings.TrimSuffix(filepath.Base(f), ".yaml")
		shipped[task] = true
		tf, _ := readTaskFile(t, f)
		tmpl := tf.TemplateID
		if tmpl == "" {
			t.Errorf("%s: no template-id", f)
			continue
		}
		c, ok := byTask[task]
		switch {
		case !ok:
			t.Errorf("task %s has no test: add it to the catalog (alerting/cases_test.go)", task)
		case c.template != tmpl:
			t.Errorf("task %s: catalog says template %s, the task file %s", task, c.template, tmpl)
		case c.fault == nil && !c.live:
			t.Errorf("task %s has no firing test", task)
		}
		if !strings.Contains(string(runbook), `<a id="`+tmpl+`"></a>`) {
			t.Errorf("docs/alerts.md has no runbook entry <a id=%q></a> for %s", tmpl, task)
		}
		// Every alert says how often it is sent again while unresolved.
		hasRemind := false
		for _, v := range tf.vars(t) {
			hasRemind = hasRemind || v.Name == "remind_every"
		}
		if !hasRemind && !c.heartbeat {
			t.Errorf("task %s sets no remind_every (see docs/alerts.md#reminders)", task)
		}
		// The defaults table shows every setting with its shipped value.
		for _, v := range tf.vars(t) {
			row := fmt.Sprintf("| `%s` | `%s` | `%s` |", task, v.Name, v.Value)
			if !strings.Contains(string(runbook), row) {
				t.Errorf("docs/alerts.md's thresholds table lacks %s", row)
			}
		}
	}
	for task := range byTask {
		if !shipped[task] {
			t.Errorf("catalog entry %s is not a task in kapacitor/load/tasks", task)
		}
	}
	// Every template is used by a task.
	tmpls, _ := filepath.Glob(filepath.Join(repo, "kapacitor", "load", "templates", "*.tick"))
	silenceTick, err := os.ReadFile(filepath.Join(repo, "kapacitor", "load", "templates", "oasis_silence.tick"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tmpls {
		name := strings.TrimSuffix(filepath.Base(f), ".tick")
		used, heartbeat, silence := false, false, false
		for _, c := range catalog {
			used = used || c.template == name
			heartbeat = heartbeat || (c.template == name && c.heartbeat)
			silence = silence || (c.template == name && c.silence)
		}
		if !used {
			t.Errorf("template %s is used by no tested task", name)
		}
		b, _ := os.ReadFile(f)
		if heartbeat {
			continue
		}
		// Every alert is held back by a silence, but the silence's own
		// notice: its category is its name (so one alert can be muted
		// alone), its IDs start with that name, and oasis_silence
		// inhibits that category.
		if !silence {
			if !strings.Contains(string(b), ".category('"+name+"')") {
				t.Errorf("template %s: no .category('%s'): a silence (oasis_silence) would not hold it back", name, name)
			}
			if !strings.Contains(string(b), ".id('"+name+":") && !strings.Contains(string(b), ".id('"+name+"')") {
				t.Errorf("template %s: its alert IDs must start with %s (a mute of %s names it so)", name, name, name)
			}
			if !strings.Contains(string(silenceTick), ".inhibit('"+name+"')") {
				t.Errorf("oasis_silence.tick does not inhibit category %s: a silence would not hold %s back", name, name)
			}
		}
		if !strings.Contains(string(b), "\nvar remind_every = ") || !strings.Contains(string(b), ".stateChangesOnly(remind_every)") {
			t.Errorf("template %s does not send reminders: it needs var remind_every and .stateChangesOnly(remind_every)", name)
		}
		// A level reached after a duration (stateDuration) holds across a
		// restart only with a reset condition (TestRestartMidIncident).
		if strings.Contains(string(b), "|stateDuration(") {
			if !strings.Contains(string(b), ".critReset(") || (strings.Contains(string(b), ".warn(") && !strings.Contains(string(b), ".warnReset(")) {
				t.Errorf("template %s: a duration-based level needs .critReset (and .warnReset with a warn level), or a restart sends a false recovery", name)
			}
		}
		// A message says when its condition was observed: an alert that
		// arrives late (points buffered through an InfluxDB outage) says so.
		if !strings.Contains(string(b), `(observed {{ .Time.UTC.Format "2006-01-02 15:04:05" }} UTC)`) {
			t.Errorf("template %s: the message must say when the condition was observed", name)
		}
		if !silence && !strings.Contains(string(b), `(firing for {{ .Duration.Round 1000000000 }})`) {
			t.Errorf("template %s: a reminder's message must say for how long the alert has fired", name)
		}
	}
}

func showSteps(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	return b.String()
}

func show(evs []event) string {
	var b strings.Builder
	sorted := append([]event(nil), evs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	for _, e := range sorted {
		fmt.Fprintf(&b, "  %s %-8s %s\n", e.Time.Format("15:04:05.000"), e.Level, e.Message)
	}
	return b.String()
}

// TestTickscriptsReadable: no line of a shipped TICKscript is longer than
// 120 characters (long templates are split with TICKscript's `+`), and
// every alert has a message and details.
func TestTickscriptsReadable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "kapacitor", "load", "templates", "*.tick"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			if n := utf8.RuneCountInString(l); n > 120 {
				t.Errorf("%s:%d: %d characters", f, i+1, n)
			}
		}
		if !strings.Contains(string(b), "|alert()") && !strings.Contains(string(b), "|deadman(") {
			continue // not an alert: the watchdog's heartbeat
		}
		for _, property := range []string{".message(", ".details("} {
			if !strings.Contains(string(b), property) {
				t.Errorf("%s: the alert has no %s...)", f, property)
			}
		}
	}
}

// A monitor that may not use the socket is oasis_monitor_no_access, not a
// node outage: oasis_node_down stays quiet on that series (and fires on a
// node that is down for the same time, so this test can fail).
func TestPermissionDeniedIsNotNodeDown(t *testing.T) {
	skipReplays(t)
	rec, ev := recording(t)
	denied, _, _ := permissionDenied(rec, ev)
	k := startKapacitor(t, nil, nil, nil)
	k.feed(t, denied.lp(t))
	if got := k.eventsOf("oasis_node_down"); len(got) != 0 {
		t.Fatalf("oasis_node_down fired on a permission problem:\n%s", show(got))
	}
	if got := k.eventsOf("oasis_monitor_no_access"); len(got) != 2 {
		t.Fatalf("oasis_monitor_no_access: want CRITICAL and OK, got:\n%s", show(got))
	}

	down := denied.edit(func(_ int, p *point) {
		if p.Fields["down_reason"] == "permission_denied" {
			p.Fields["down_reason"] = "no_socket"
		}
	})
	k = startKapacitor(t, nil, nil, nil)
	k.feed(t, down.lp(t))
	if got := k.eventsOf("oasis_node_down"); len(got) != 2 {
		t.Fatalf("oasis_node_down: want CRITICAL and OK for a node with no socket, got:\n%s", show(got))
	}
}
