package alerting

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is the smallest SMTP server Kapacitor's mailer talks to: no TLS,
// no auth, every message accepted and kept.
type fakeSMTP struct {
	net.Listener
	mu   sync.Mutex
	mail []string // each message's headers and body
	rcpt []string
}

func newFakeSMTP(t *testing.T) *fakeSMTP {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{Listener: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 fake ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 fake")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			f.mu.Lock()
			f.rcpt = append(f.rcpt, strings.TrimSpace(line[len("RCPT TO:"):]))
			f.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
				msg.WriteString(l)
			}
			f.mu.Lock()
			f.mail = append(f.mail, msg.String())
			f.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default: // MAIL FROM, RSET, NOOP
			say("250 ok")
		}
	}
}

// TestEmailChannel: with SMTP switched on in .env, WARNING, CRITICAL and
// OK alerts are mailed to SMTP_TO from SMTP_FROM; INFO is not. The subject
// is the alert's message, the body its details: both name the runbook
// entry.
func TestEmailChannel(t *testing.T) {
	skipReplays(t)
	rec, _ := recording(t)
	srv := newFakeSMTP(t)
	host, port, _ := net.SplitHostPort(srv.Addr().String())
	k := startKapacitor(t, nil, map[string]string{
		"SMTP_ENABLED": "true", "SMTP_HOST": host, "SMTP_PORT": port,
		"SMTP_FROM": "mission-control@example.org", "SMTP_TO": "operator@example.org",
	}, nil)
	k.feed(t, rec.lp(t))

	want := 0
	for _, e := range k.all() {
		if e.Level != "INFO" {
			want++
		}
	}
	// feed returns once every handler has taken every event; Kapacitor's
	// SMTP service then sends from a queue of its own: wait for the mails
	// to arrive (a clean-clone CI run counted 21 of 22 right after feed).
	waitUntil(t, 10*time.Second, func() error {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if len(srv.mail) < want {
			return fmt.Errorf("got %d mails, want %d (every alert but INFO)", len(srv.mail), want)
		}
		return nil
	})
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mail) != want {
		t.Fatalf("got %d mails, want %d (every alert but INFO)", len(srv.mail), want)
	}
	for i, m := range srv.mail {
		if !strings.Contains(m, "To: operator@example.org") || !strings.Contains(m, "From: mission-control@example.org") {
			t.Errorf("mail %d headers:\n%s", i, m)
		}
		if infoAlert.MatchString(m) {
			t.Errorf("an INFO alert was mailed:\n%s", m)
		}
		subject, body := mailParts(t, m)
		if !strings.Contains(subject, "Runbook: docs/alerts.md#") || !strings.Contains(body, "Runbook: docs/alerts.md#") {
			t.Errorf("mail %d: subject %q, body %q: want the runbook entry in both", i, subject, body)
		}
		if i < 3 || t.Failed() {
			t.Logf("mail %d:\n  Subject: %s\n  %s", i, subject, strings.ReplaceAll(body, "\n", "\n  "))
		}
	}
	if !strings.Contains(strings.Join(srv.mail, "\n"), "] oasis_node_down:") {
		t.Errorf("no mail for our node's outage")
	}
	t.Logf("%d mails to %v", len(srv.mail), srv.rcpt[:1])
}

// infoAlert is an INFO alert's message: the level, a name, the alert.
var infoAlert = regexp.MustCompile(`INFO (\[[^\]]*\] )?oasis_`)

// mailParts decodes a mail's subject and body (Kapacitor's mailer writes
// the subject as a MIME word and the HTML body quoted-printable).
func mailParts(t *testing.T, raw string) (subject, body string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return subject, html.UnescapeString(string(b))
}
