package signing

import (
	"encoding/json"
	"testing"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
)

// FuzzTrackerState: any state file content either fails to decode, fails
// Validate, or is a tracker that can be resumed: applying heights and
// reading uptimes never panics and keeps the totals consistent. This is
// what oasis_signing does with a state file at start.
// Seeds: testdata/fuzz/FuzzTrackerState and the states below. A longer run:
// go test ./internal/signing -run '^$' -fuzz FuzzTrackerState -fuzztime 1m
func FuzzTrackerState(f *testing.F) {
	good := NewTracker()
	good.Track(us)
	for h := int64(10); h < 20; h++ {
		if _, err := good.Apply(height(h, h%3 != 0, h%2 == 0, us), false); err != nil {
			f.Fatal(err)
		}
	}
	raw, err := json.Marshal(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"last_height":5,"accounts":{"0100000000000000000000000000000000000000":null}}`))
	f.Add([]byte(`{"last_height":5,"accounts":{"0100000000000000000000000000000000000000":{"history":"AAAA","history_len":3}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tr := NewTracker()
		if json.Unmarshal(raw, tr) != nil || tr.Validate() != nil {
			return
		}
		if tr.Accounts == nil {
			tr.Accounts = map[blockmeta.Address]*Account{}
		}
		tr.Track(us)
		before := map[blockmeta.Address]Account{}
		for a, acc := range tr.Accounts {
			before[a] = *acc
		}
		next := tr.LastHeight + 1
		if _, err := tr.Apply(height(next, true, false, other), true); err != nil {
			t.Fatalf("a valid state can't take its next height %d: %v", next, err)
		}
		for a, acc := range tr.Accounts {
			for _, w := range Windows {
				share, _, ok := acc.Uptime(w)
				if ok && (share < 0 || share > 1) {
					t.Fatalf("uptime %v outside 0..1", share)
				}
			}
			if b, ok := before[a]; ok && acc.SignedTotal+acc.MissedTotal < b.SignedTotal+b.MissedTotal {
				t.Fatalf("totals went backwards for %s", a)
			}
		}
	})
}
