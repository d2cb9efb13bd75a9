package alerting

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
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
	// recording's healthy phase.
	healthy func(t *testing.T, rec series, ev events) series
	// recorded tells whether the fault was made on the devnet (true) or
	// derived from the recording's healthy phase (false), for the docs.
	recorded bool
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

func TestAlertFires(t *testing.T) {
	rec, ev := recording(t)
	for _, c := range catalog {
		if c.fault == nil {
			continue // the deadman runs on the wall clock: TestNodeSilentDeadman
		}
		t.Run(c.task, func(t *testing.T) {
			t.Parallel()
			s, steps := c.fault(t, rec, ev)
			k := startKapacitor(t, vars{c.task: c.vars}, nil, nil)
			k.feed(t, s.lp(t))
			id := c.alertID(rec, ev)
			var got []event
			for _, e := range k.eventsOf(c.template) {
				if e.ID == id {
					got = append(got, e)
				}
			}
			if err := matchSteps(got, steps); err != nil {
				t.Fatalf("alert %s: %v\nwant:\n%s\ngot:\n%s\nevents of %s:\n%s", id, err, showSteps(steps), show(got), c.template, show(k.eventsOf(c.template)))
			}
			for _, e := range got {
				if !strings.Contains(e.Message, "docs/alerts.md#"+c.template) {
					t.Errorf("%s: the message does not name its runbook entry: %s", id, e.Message)
				}
			}
			if last := got[len(got)-1]; last.Level != "OK" {
				t.Errorf("alert %s never recovered: last event %s", id, last.Level)
			}
			t.Logf("%s", show(got))
		})
	}
}

func TestAlertQuietWhenHealthy(t *testing.T) {
	rec, ev := recording(t)
	for _, c := range catalog {
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
			k.feed(t, s.lp(t))
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
	templateOf := regexp.MustCompile(`(?m)^template-id: (\S+)$`)
	byTask := map[string]alertCase{}
	for _, c := range catalog {
		byTask[c.task] = c
	}
	shipped := map[string]bool{}
	for _, f := range files {
		task := strings.TrimSuffix(filepath.Base(f), ".yaml")
		shipped[task] = true
		b, _ := os.ReadFile(f)
		m := templateOf.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no template-id", f)
			continue
		}
		tmpl := string(m[1])
		c, ok := byTask[task]
		switch {
		case !ok:
			t.Errorf("task %s has no test: add it to the catalog (alerting/cases_test.go)", task)
		case c.template != tmpl:
			t.Errorf("task %s: catalog says template %s, the task file %s", task, c.template, tmpl)
		case c.fault == nil && task != "oasis_node_silent":
			t.Errorf("task %s has no firing test", task)
		}
		if !strings.Contains(string(runbook), `<a id="`+tmpl+`"></a>`) {
			t.Errorf("docs/alerts.md has no runbook entry <a id=%q></a> for %s", tmpl, task)
		}
		// The defaults table shows every setting with its shipped value.
		for _, m := range varLine.FindAllStringSubmatch(string(b), -1) {
			row := fmt.Sprintf("| `%s` | `%s` | `%s` |", task, m[1], m[3])
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
	for _, f := range tmpls {
		name := strings.TrimSuffix(filepath.Base(f), ".tick")
		used := false
		for _, c := range catalog {
			used = used || c.template == name
		}
		if !used {
			t.Errorf("template %s is used by no tested task", name)
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
