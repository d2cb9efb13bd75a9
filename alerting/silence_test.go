package alerting

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// silence runs scripts/oasis-silence.sh against the engine's API, as an
// operator runs it against kapacitord's.
func (k *kapacitor) silence(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(repo, "scripts", "oasis-silence.sh")}, args...)...)
	cmd.Env = append(cmd.Environ(), "KAPACITOR_URL=http://"+k.HTTPD.Addr().String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("oasis-silence.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSilence: scripts/oasis-silence.sh silences every alert for a planned
// outage through Kapacitor's API. While it lasts, our node's outage pages
// nobody (the alert is evaluated, and held back); `off` ends it; a
// silence also ends on its own at its time, with a notice, even when no
// point arrives any more. Fed live: the silence is on the wall clock.
func TestSilence(t *testing.T) {
	skipReplays(t)
	// Mostly waiting for the silence's 10 s wall-clock ticks: it runs
	// beside the replays.
	t.Parallel()
	k, gather, wantEvent, nodeDown := silenceBench(t)

	// A network upgrade: silenced for an hour, the node stops for a minute.
	t.Log(k.silence(t, "1h", "network upgrade"))
	gather(0, true)
	notice := wantEvent("oasis_silence", "INFO", 0)
	t.Logf("notice: %s", notice.Message)
	if !strings.Contains(notice.Message, "silenced until") || !strings.Contains(notice.Message, "(network upgrade)") {
		t.Errorf("the notice does not say until when and why: %s", notice.Message)
	}
	for i := 1; i <= 30; i++ {
		gather(i, false)
	}
	// Every point reached oasis_node_down, whose level is CRITICAL by now:
	// it was held back, not missed.
	waitUntil(t, 10*time.Second, func() error {
		if n, err := k.AlertNodeCollected("oasis_node_down"); err != nil || n < 31 {
			return fmt.Errorf("oasis_node_down evaluated %d points (%v)", n, err)
		}
		return nil
	})
	if got := k.eventsOf("oasis_node_down"); len(got) != 0 {
		t.Fatalf("paged during the silence:\n%s", show(got))
	}

	// Over: the notice says so, the next change of a held-back alert is
	// sent (here its recovery), and new faults page again.
	t.Log(k.silence(t, "off"))
	gather(31, true)
	wantEvent("oasis_silence", "OK", 0)
	wantEvent(nodeDown, "OK", 0)
	for i := 32; i <= 50; i++ {
		gather(i, false)
	}
	wantEvent(nodeDown, "CRITICAL", 0)

	// A silence ends on its own at its time, with a notice.
	var over event
	oks := func() (n int) {
		for _, e := range k.all() {
			if e.ID == "oasis_silence" && e.Level == "OK" {
				n++
				over = e
			}
		}
		return n
	}
	// The silence is evaluated every 10 s on the wall clock, also when
	// no point arrives (here, none after the first: Telegraf is stopped).
	infos := func() (n int) {
		for _, e := range k.all() {
			if e.ID == "oasis_silence" && e.Level == "INFO" {
				n++
			}
		}
		return n
	}
	before, infosBefore := oks(), infos()
	t.Log(k.silence(t, "15s", "a short test"))
	started := time.Now()
	gather(51, false)
	waitUntil(t, 25*time.Second, func() error {
		if infos() > infosBefore {
			return nil
		}
		return fmt.Errorf("no notice of the 15 s silence:\n%s", show(k.all()))
	})
	waitUntil(t, 40*time.Second, func() error {
		if oks() > before {
			return nil
		}
		return fmt.Errorf("the 15 s silence has not ended:\n%s", show(k.all()))
	})
	// until is whole seconds, checked every 10 s: it ends 14 to 25 s in.
	if d := time.Since(started); d < 14*time.Second {
		t.Errorf("the 15 s silence ended after %s", d)
	}
	if got := k.eventsOf("oasis_node_down"); got[len(got)-1].Level != "CRITICAL" {
		t.Errorf("a still firing alert was sent during the short silence:\n%s", show(got))
	}
	t.Logf("over: %s", over.Message)
}

// TestSilenceOneAlert: a silence of one alert (oasis-silence.sh's third
// argument, the bot's /mute DURATION ALERT) holds back that alert only.
// Muting another alert leaves our node's outage paging; muting
// oasis_node_down holds it back; `off` sends it again.
func TestSilenceOneAlert(t *testing.T) {
	skipReplays(t)
	t.Parallel() // as TestSilence
	k, gather, wantEvent, nodeDown := silenceBench(t)

	// Another alert muted: the node's outage still pages.
	t.Log(k.silence(t, "1h", "noisy peers", "oasis_peers_low"))
	gather(0, true)
	notice := wantEvent("oasis_silence:oasis_peers_low", "INFO", 0)
	t.Logf("notice: %s", notice.Message)
	if !strings.Contains(notice.Message, "oasis_peers_low is muted until") || !strings.Contains(notice.Message, "every other alert is sent") {
		t.Errorf("the notice does not say which alert, until when: %s", notice.Message)
	}
	for i := 1; i <= 30; i++ {
		gather(i, false)
	}
	wantEvent(nodeDown, "CRITICAL", 0)

	// oasis_node_down muted: its recovery and its next outage are held back.
	t.Log(k.silence(t, "1h", "maintenance", "oasis_node_down"))
	mark := len(k.all())
	// The silence holds alerts back once its notice is out (the task is
	// evaluated on the wall clock, up to 10 s after the first point).
	gather(31, false)
	wantEvent("oasis_silence:oasis_node_down", "INFO", mark)
	for i := 32; i <= 60; i++ {
		gather(i, i < 40)
	}
	waitUntil(t, 10*time.Second, func() error {
		if n, err := k.AlertNodeCollected("oasis_node_down"); err != nil || n < 61 {
			return fmt.Errorf("oasis_node_down evaluated %d points (%v)", n, err)
		}
		return nil
	})
	for _, e := range k.all()[mark:] {
		if e.ID == nodeDown {
			t.Fatalf("oasis_node_down sent while muted:\n%s", show(k.all()[mark:]))
		}
	}
	t.Log(k.silence(t, "off"))
	mark = len(k.all())
	gather(61, false)
	wantEvent("oasis_silence:oasis_node_down", "OK", mark)
	for i := 62; i <= 90; i++ {
		gather(i, false)
	}
	// Muted, it went OK and back to CRITICAL unseen; after the mute its
	// reminder or next change is sent.
	waitUntil(t, 10*time.Second, func() error {
		if n, err := k.AlertNodeCollected("oasis_node_down"); err != nil || n < 91 {
			return fmt.Errorf("oasis_node_down evaluated %d points (%v)", n, err)
		}
		return nil
	})
	t.Logf("after off:\n%s", show(k.all()[mark:]))
}

// TestSilenceScriptRefusesAlertName: a third argument that is not an
// alert's name is refused before Kapacitor is asked.
func TestSilenceScriptRefusesAlertName(t *testing.T) {
	for _, bad := range []string{"peers", "oasis_silence", "oasis_watchdog", "oasis_Node", "oasis_node;rm"} {
		cmd := exec.Command("sh", filepath.Join(repo, "scripts", "oasis-silence.sh"), "1h", "x", bad)
		cmd.Env = append(cmd.Environ(), "KAPACITOR_URL=http://127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "want an alert's name") {
			t.Errorf("oasis-silence.sh 1h x %s: %v %s", bad, err, out)
		}
	}
}

// silenceBench is the engine both silence tests feed: gather(i, up) writes
// one gather of our node (its point, up or down, and its input's status)
// at t0 + 2i s; wantEvent waits for an event of that ID and level among
// the events after the first `after`.
func silenceBench(t *testing.T) (k *kapacitor, gather func(i int, up bool), wantEvent func(id, level string, after int) event, nodeDown string) {
	t.Helper()
	rec, ev := recording(t)
	node := healthyPhase(rec, ev).only("oasis_node").where("node_id", ev.OwnNodeID)
	input := inputOf(healthyPhase(rec, ev), "oasis_node")
	if len(node) == 0 || len(input) == 0 {
		t.Fatal("no oasis_node points recorded")
	}
	k = startKapacitor(t, nil, nil, nil)
	t0 := time.Now()
	gather = func(i int, up bool) {
		n, in := node[0], input[0]
		n.Time, in.Time = t0.Add(time.Duration(i)*2*time.Second), t0.Add(time.Duration(i)*2*time.Second)
		if !up {
			n.Fields = map[string]any{"up": int64(0), "down_reason": "no_socket"}
		}
		k.write(t, series{n, in}.lp(t))
	}
	wantEvent = func(id, level string, after int) event {
		t.Helper()
		var got event
		waitUntil(t, 25*time.Second, func() error {
			for _, e := range k.all()[after:] {
				if e.ID == id && e.Level == level {
					got = e
					return nil
				}
			}
			return fmt.Errorf("no %s event of %s:\n%s", level, id, show(k.all()))
		})
		return got
	}
	return k, gather, wantEvent, "oasis_node_down:" + ev.OwnNodeID
}
