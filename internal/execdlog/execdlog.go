// Package execdlog makes Telegraf's logger write lines that inputs.execd
// understands. execd maps a line on the plugin's stderr to a log level only
// when it starts with "E! ", "W! ", "I! ", "D! " or "T! "; Telegraf's own
// log format puts a timestamp first, which execd would log as an error.
package execdlog

import (
	"bytes"
	"io"
	"regexp"
	"sync"

	"github.com/influxdata/telegraf/logger"
)

// Install routes every Telegraf logger in this process (the shim's, the
// plugin's) to w, one "X! [source] message" line per entry, where source
// names the plugin (e.g. "inputs.oasis_node").
func Install(w io.Writer, source string) {
	logger.RedirectLogging(&stripTimestamp{w: w, source: []byte("[" + source + "] ")})
}

// shimSource is how the shim's anonymous logger names itself after the
// level: "(category=,plugin=) ", its attributes in map order.
var shimSource = regexp.MustCompile(`^([A-Z]! )\([a-z]+=[^)]*\) `)

// stripTimestamp drops the leading "2006-01-02T15:04:05Z " of each line:
// Telegraf, reading the line, stamps it itself.
type stripTimestamp struct {
	mu     sync.Mutex
	w      io.Writer
	source []byte
}

func (s *stripTimestamp) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if i := bytes.IndexByte(line, ' '); i > 0 && isTimestamp(line[:i]) {
			line = line[i+1:]
		}
		line = shimSource.ReplaceAll(line, append([]byte("${1}"), s.source...))
		if _, err := s.w.Write(line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// isTimestamp is a cheap check for an RFC 3339 time ("2026-11-24T18:00:00Z").
func isTimestamp(b []byte) bool {
	return len(b) >= 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T'
}
