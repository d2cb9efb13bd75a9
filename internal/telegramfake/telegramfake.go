// Package telegramfake plays Telegram's Bot API for tests: getMe,
// getUpdates (long polling, from a queue the test fills) and sendMessage
// (kept, for the test to read). It checks the bot's token on every call.
package telegramfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sent is a message the bot sent.
type Sent struct {
	Chat int64
	Text string
	At   time.Time
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	Token string

	mu      sync.Mutex
	updates []map[string]any
	nextID  int64
	sent    []Sent
	wake    chan struct{}
	badAuth int
}

// Start serves the fake API for token until the test ends.
func Start(t testing.TB, token string) *Server {
	s := &Server{Token: token, nextID: 1, wake: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) reply(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + s.Token + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		_ = r.ParseMultipartForm(1 << 20)
	} else {
		_ = r.ParseForm()
	}
	switch method {
	case "getMe":
		s.reply(w, map[string]any{"id": 4242, "is_bot": true, "first_name": "Oasis test", "username": "oasis_test_bot"})
	case "getUpdates":
		offset, _ := strconv.ParseInt(r.FormValue("offset"), 10, 64)
		deadline := time.After(2 * time.Second)
		for {
			s.mu.Lock()
			var out []map[string]any
			for _, u := range s.updates {
				if u["update_id"].(int64) >= offset {
					out = append(out, u)
				}
			}
			s.mu.Unlock()
			if len(out) > 0 {
				s.reply(w, out)
				return
			}
			select {
			case <-s.wake:
			case <-deadline:
				s.reply(w, []any{})
				return
			case <-r.Context().Done():
				return
			}
		}
	case "sendMessage":
		chat, err := strconv.ParseInt(r.FormValue("chat_id"), 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: chat_id"})
			return
		}
		text := r.FormValue("text")
		s.mu.Lock()
		s.sent = append(s.sent, Sent{Chat: chat, Text: text, At: time.Now()})
		n := len(s.sent)
		s.mu.Unlock()
		s.reply(w, map[string]any{"message_id": n, "date": time.Now().Unix(), "chat": map[string]any{"id": chat, "type": "private"}, "text": text})
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 404, "description": "Not Found: " + method})
	}
}

// Say queues a message from a person in a chat, as getUpdates gives it.
func (s *Server) Say(chat int64, username, text string) {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.updates = append(s.updates, map[string]any{
		"update_id": id,
		"message": map[string]any{
			"message_id": id, "date": time.Now().Unix(), "text": text,
			"chat": map[string]any{"id": chat, "type": "private"},
			"from": map[string]any{"id": chat, "is_bot": false, "first_name": username, "username": username},
		},
	})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Sent returns the messages sent to chat at or after from.
func (s *Server) SentTo(chat int64, from time.Time) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Sent
	for _, m := range s.sent {
		if m.Chat == chat && !m.At.Before(from) {
			out = append(out, m)
		}
	}
	return out
}

// BadAuth counts calls with another token.
func (s *Server) BadAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badAuth
}

func (m Sent) String() string {
	return fmt.Sprintf("%s -> %d: %s", m.At.Format("15:04:05.0"), m.Chat, m.Text)
}
