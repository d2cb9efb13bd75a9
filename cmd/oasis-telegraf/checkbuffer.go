package main

import (
	"fmt"
	"io"
	"time"

	"github.com/oasis-mission-control/oasis-mission-control/internal/diskbuffer"
)

// runCheckBuffer checks Telegraf's disk buffer directory before Telegraf
// starts (the compose stack's command, the native unit's ExecStartPre) and
// prints one line per buffer. It fails only when the directory can't be
// read or a bad buffer can't be moved: Telegraf could not start on it
// either. A buffer it moved aside is an error line, but Telegraf starts:
// a monitor running with an empty buffer beats one that can't start.
func runCheckBuffer(w io.Writer, dir string) int {
	results, err := diskbuffer.Check(dir, time.Now())
	for _, r := range results {
		level := "I!"
		switch r.Outcome {
		case diskbuffer.Repaired, diskbuffer.SetAside:
			level = "W!"
		case diskbuffer.Quarantined:
			level = "E!"
		}
		fmt.Fprintf(w, "%s oasis-telegraf: %s\n", level, r)
	}
	if err != nil {
		fmt.Fprintf(w, "E! oasis-telegraf: %v\n", err)
		return 1
	}
	if len(results) == 0 {
		fmt.Fprintf(w, "I! oasis-telegraf: buffer directory %s: no buffer yet\n", dir)
	}
	return 0
}
