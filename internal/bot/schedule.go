package bot

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Schedule is the digest's times of day in a time zone.
type Schedule struct {
	Loc *time.Location
	// Offsets from midnight, sorted, distinct.
	at []time.Duration
}

// ParseSchedule reads times of day, "08:00,20:00" (HH:MM or HH:MM:SS, 24 h),
// in the zone named (an IANA name such as Europe/Berlin, or UTC). An empty
// list or "off" means no digest (a nil Schedule).
func ParseSchedule(list, zone string) (*Schedule, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "off" {
		return nil, nil
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("OASIS_BOT_DIGEST_TZ %q: not a time zone (e.g. UTC, Europe/Berlin): %w", zone, err)
	}
	s := &Schedule{Loc: loc}
	seen := map[time.Duration]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		var t time.Time
		var err error
		if strings.Count(f, ":") == 2 {
			t, err = time.Parse("15:04:05", f)
		} else {
			t, err = time.Parse("15:04", f)
		}
		if err != nil {
			return nil, fmt.Errorf("OASIS_BOT_DIGEST_TIMES: %q is not a time of day (HH:MM, 24 h, e.g. 08:00,20:00)", f)
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
		if !seen[d] {
			seen[d] = true
			s.at = append(s.at, d)
		}
	}
	sort.Slice(s.at, func(i, j int) bool { return s.at[i] < s.at[j] })
	return s, nil
}

// Next is the first digest time strictly after now.
func (s *Schedule) Next(now time.Time) time.Time {
	local := now.In(s.Loc)
	for day := 0; day < 3; day++ {
		y, m, d := local.AddDate(0, 0, day).Date()
		for _, off := range s.at {
			// Built from the wall clock, so a day with a DST change keeps
			// the time of day.
			t := time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, s.Loc)
			if t.After(now) {
				return t
			}
		}
	}
	return now.Add(24 * time.Hour) // not reached: every day has the times
}

// String lists the times as configured.
func (s *Schedule) String() string {
	var out []string
	for _, off := range s.at {
		t := fmt.Sprintf("%02d:%02d", int(off/time.Hour), int(off%time.Hour/time.Minute))
		if sec := int(off % time.Minute / time.Second); sec != 0 {
			t += fmt.Sprintf(":%02d", sec)
		}
		out = append(out, t)
	}
	return strings.Join(out, ",") + " " + s.Loc.String()
}
