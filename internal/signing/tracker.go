// Package signing keeps exact per-validator signing accounts: for each
// height, whether a validator signed, missed (in the validator set but no
// commit signature) or was not in the set, and whether it proposed. It does
// no I/O; the oasis_signing input feeds it heights in order and persists it.
package signing

import (
	"fmt"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
)

// Windows are the uptime windows kept, in heights.
var Windows = []int{100, 1_000, 10_000}

// maxWindow is the longest window; the history ring holds this many heights.
const maxWindow = 10_000

// Status is what a validator did at one height.
type Status uint8

const (
	// NotInSet: the validator was not in the validator set at that height.
	NotInSet Status = iota
	// Signed: in the set, with a commit signature in the next block.
	Signed
	// Missed: in the set, without a commit signature (absent or nil vote).
	Missed
	// MissedUnobserved is Missed at a height the monitor accounted only
	// after a gap in following the node (Height.Unobserved): while our
	// node, or the monitor, was down. It counts as missed everywhere; the
	// observed figures (ConsecutiveMissedObserved, UptimeObserved) leave it
	// out, so the alerts don't page again, after the node-down alert has
	// recovered, for heights missed during that outage.
	MissedUnobserved
)

// Account is one validator's signing record. Its exported fields are its
// persisted form.
type Account struct {
	SignedTotal       uint64 `json:"signed_total"`
	MissedTotal       uint64 `json:"missed_total"`
	ProposedTotal     uint64 `json:"proposed_total"`
	ConsecutiveMissed uint64 `json:"consecutive_missed"`
	// MissedUnobservedTotal counts the missed heights that were
	// MissedUnobserved; ConsecutiveMissedObserved is the run of missed
	// heights up to the last height, counting only observed ones.
	MissedUnobservedTotal     uint64 `json:"missed_unobserved_total"`
	ConsecutiveMissedObserved uint64 `json:"consecutive_missed_observed"`
	LastSignedHeight          int64  `json:"last_signed_height"`
	InValidatorSet            bool   `json:"in_validator_set"`
	// History holds the status of the last heights (up to 10,000), two bits
	// each, oldest first, as a ring starting at HistoryStart.
	History      []byte `json:"history"`
	HistoryLen   int    `json:"history_len"`
	HistoryStart int    `json:"history_start"`
	// Epoch is the validator's signing in the epoch of the last height
	// accounted with a known epoch: what the staking application counts
	// for the epoch's signing reward. Nil before such a height.
	Epoch *EpochCount `json:"epoch,omitempty"`
}

// EpochCount is a validator's signing in one epoch. oasis-core's staking
// application counts, in each block, one for the epoch's total and one for
// each entity whose node's signature for the previous height is in the
// block's last commit; at the epoch's end an entity that signed at least
// the threshold share (SigningRewardThreshold, 3/4 on mainnet) of the
// total gets the epoch's signing reward. Block b counts height b-1, so an
// epoch's count is its own heights, each signed or not, in the set or not.
type EpochCount struct {
	Epoch uint64 `json:"epoch"`
	// Heights of the epoch accounted for the validator, and of those, the
	// ones it signed.
	Heights uint64 `json:"heights"`
	Signed  uint64 `json:"signed"`
	// Unobserved: of the heights not signed, those missed while nothing
	// followed the node (MissedUnobserved): the node's outage's, paged as
	// such; the observed outlook leaves them out of the loss.
	Unobserved uint64 `json:"unobserved"`
	// NotInSet: of the heights not signed, those the validator was not in
	// the set for: oasis_not_in_validator_set's page, left out of the
	// observed outlook too.
	NotInSet uint64 `json:"not_in_set"`
}

// EpochInfo is where the epoch of the last height accounted lies: its
// first height and its length in heights (the beacon's interval).
type EpochInfo struct {
	Epoch  uint64 `json:"epoch"`
	Start  int64  `json:"start"`
	Length int64  `json:"length"`
}

// Known reports whether the epoch's bounds are known.
func (e EpochInfo) Known() bool { return e.Length > 0 && e.Start > 0 }

// Contains reports whether height h is one of the epoch's.
func (e EpochInfo) Contains(h int64) bool {
	return e.Known() && h >= e.Start && h < e.Start+e.Length
}

func (a *Account) status(i int) Status {
	pos := (a.HistoryStart + i) % maxWindow
	return Status(a.History[pos/4]>>(2*(pos%4))) & 3
}

func (a *Account) push(s Status) {
	if a.History == nil {
		a.History = make([]byte, maxWindow/4)
	}
	var pos int
	if a.HistoryLen < maxWindow {
		pos = (a.HistoryStart + a.HistoryLen) % maxWindow
		a.HistoryLen++
	} else {
		pos = a.HistoryStart
		a.HistoryStart = (a.HistoryStart + 1) % maxWindow
	}
	shift := 2 * (pos % 4)
	a.History[pos/4] = a.History[pos/4]&^(3<<shift) | byte(s)<<shift
}

// Uptime is the share of the last `window` heights in which the validator
// was in the set that it signed, and how many of those heights there were.
// With no such height the share is meaningless and ok is false.
func (a *Account) Uptime(window int) (share float64, inSet int, ok bool) {
	return a.uptime(window, true)
}

// UptimeObserved is Uptime without the MissedUnobserved heights: the share
// of the heights the monitor saw live (or saw signed) that were signed.
func (a *Account) UptimeObserved(window int) (share float64, counted int, ok bool) {
	return a.uptime(window, false)
}

func (a *Account) uptime(window int, withUnobserved bool) (share float64, inSet int, ok bool) {
	n := min(window, a.HistoryLen)
	signed := 0
	for i := a.HistoryLen - n; i < a.HistoryLen; i++ {
		switch a.status(i) {
		case Signed:
			signed++
			inSet++
		case Missed:
			inSet++
		case MissedUnobserved:
			if withUnobserved {
				inSet++
			}
		}
	}
	if inSet == 0 {
		return 0, 0, false
	}
	return float64(signed) / float64(inSet), inSet, true
}

// Outcome is one validator's result at one height.
type Outcome struct {
	Address  blockmeta.Address
	Status   Status
	Proposed bool
}

// Height is everything known about one height: who was in the validator
// set, who signed it (from the next block's last commit) and who proposed it.
type Height struct {
	Height  int64
	Set     map[blockmeta.Address]struct{}
	Signers func(blockmeta.Address) bool
	// Voters: a vote (for the block, or nil) in the next block's last
	// commit, what the epoch signing count counts; nil: Signers.
	Voters   func(blockmeta.Address) bool
	Proposer blockmeta.Address
	// Unobserved: the height is accounted in the catch-up after a gap in
	// following the node (a reconnect, a restart), not as it was made.
	Unobserved bool
	// Epoch is the height's epoch, if known (Known): the per-epoch counts
	// are kept only for heights whose epoch is.
	Epoch EpochInfo
}

// Tracker holds the accounts of the tracked validators and the last height
// applied; heights must be applied in order, each exactly once.
type Tracker struct {
	LastHeight int64                          `json:"last_height"`
	Accounts   map[blockmeta.Address]*Account `json:"accounts"`
	// SkippedHeights counts heights that were never applied because they
	// were beyond the backfill window or pruned from the node.
	SkippedHeights uint64 `json:"skipped_heights"`
	// StateResets counts the times a state file that could not be resumed
	// was moved aside and accounting started afresh (carried over into
	// the fresh state, so the count survives restarts).
	StateResets uint64 `json:"state_resets"`
	// ChainContext is the chain the heights belong to ("" in a state
	// saved before it was recorded). ChainResets counts the new chains
	// met since (NewChain).
	ChainContext string `json:"chain_context,omitempty"`
	ChainResets  uint64 `json:"chain_resets"`
	// Epoch is the epoch of the last height accounted with a known epoch.
	Epoch EpochInfo `json:"epoch"`
}

// NewChain starts a new account period on another chain (a network
// upgrade's new genesis, a reset): its heights have nothing to do with the
// saved ones, so accounting starts again at that chain's latest height
// (LastHeight 0), and the runs of missed heights restart. The totals and
// the uptime windows go on: they are about the validator, across chains.
func (t *Tracker) NewChain(context string) {
	t.ChainContext = context
	t.ChainResets++
	t.LastHeight = 0
	t.Epoch = EpochInfo{}
	for _, a := range t.Accounts {
		a.ConsecutiveMissed = 0
		a.ConsecutiveMissedObserved = 0
		a.LastSignedHeight = 0
		a.Epoch = nil
	}
}

// Validate checks a decoded tracker for what JSON decoding does not:
// every account present, each history ring of the size it must have with
// its start and length inside it, no negative height. Resuming a tracker
// that fails it would panic or count wrongly.
func (t *Tracker) Validate() error {
	if t.LastHeight < 0 {
		return fmt.Errorf("last_height %d is negative", t.LastHeight)
	}
	for addr, a := range t.Accounts {
		if a == nil {
			return fmt.Errorf("account %s is null", addr)
		}
		if a.ConsecutiveMissedObserved > a.ConsecutiveMissed || a.MissedUnobservedTotal > a.MissedTotal {
			return fmt.Errorf("account %s: observed counts exceed the totals they are part of", addr)
		}
		if e := a.Epoch; e != nil && (e.Signed+e.Unobserved+e.NotInSet > e.Heights || (t.Epoch.Known() && e.Epoch == t.Epoch.Epoch && e.Heights > uint64(t.Epoch.Length))) {
			return fmt.Errorf("account %s: epoch %d counts %d signed of %d heights, more than the epoch holds", addr, e.Epoch, e.Signed, e.Heights)
		}
		if a.LastSignedHeight < 0 || a.LastSignedHeight > t.LastHeight {
			return fmt.Errorf("account %s: last_signed_height %d is outside 0..%d", addr, a.LastSignedHeight, t.LastHeight)
		}
		if a.History == nil {
			if a.HistoryLen != 0 || a.HistoryStart != 0 {
				return fmt.Errorf("account %s: no history, but history_len %d and history_start %d", addr, a.HistoryLen, a.HistoryStart)
			}
			continue
		}
		if len(a.History) != maxWindow/4 {
			return fmt.Errorf("account %s: history holds %d bytes, not %d", addr, len(a.History), maxWindow/4)
		}
		if a.HistoryLen < 0 || a.HistoryLen > maxWindow {
			return fmt.Errorf("account %s: history_len %d is outside 0..%d", addr, a.HistoryLen, maxWindow)
		}
		if a.HistoryStart < 0 || a.HistoryStart >= maxWindow || (a.HistoryLen < maxWindow && a.HistoryStart != 0) {
			return fmt.Errorf("account %s: history_start %d does not fit history_len %d", addr, a.HistoryStart, a.HistoryLen)
		}
	}
	return nil
}

// NewTracker tracks the given validators from scratch.
func NewTracker() *Tracker {
	return &Tracker{Accounts: map[blockmeta.Address]*Account{}}
}

// Track adds a validator to the tracked set (a no-op if it is tracked).
func (t *Tracker) Track(addr blockmeta.Address) *Account {
	if a, ok := t.Accounts[addr]; ok {
		return a
	}
	a := &Account{}
	t.Accounts[addr] = a
	return a
}

// Apply accounts one height for every tracked validator (and, with all,
// for every member of the set, which it then tracks) and returns the
// outcomes. Applying a height other than LastHeight+1 is an error, unless
// the tracker is new (LastHeight 0).
func (t *Tracker) Apply(h Height, all bool) ([]Outcome, error) {
	if t.LastHeight != 0 && h.Height != t.LastHeight+1 {
		return nil, fmt.Errorf("signing: height %d applied after %d", h.Height, t.LastHeight)
	}
	if all {
		for addr := range h.Set {
			t.Track(addr)
		}
	}
	out := make([]Outcome, 0, len(t.Accounts))
	for addr, a := range t.Accounts {
		o := Outcome{Address: addr, Proposed: addr == h.Proposer}
		if _, in := h.Set[addr]; !in {
			o.Status = NotInSet
		} else if h.Signers(addr) {
			o.Status = Signed
		} else if h.Unobserved {
			o.Status = MissedUnobserved
		} else {
			o.Status = Missed
		}
		a.record(h.Height, o)
		if h.Epoch.Contains(h.Height) {
			voted := o.Status == Signed
			if h.Voters != nil {
				_, in := h.Set[addr]
				voted = in && h.Voters(addr)
			}
			a.recordEpoch(h.Epoch.Epoch, o.Status, voted)
		}
		out = append(out, o)
	}
	t.LastHeight = h.Height
	if h.Epoch.Contains(h.Height) {
		t.Epoch = h.Epoch
	}
	return out, nil
}

// recordEpoch counts one height of the epoch; a new epoch starts a new
// count.
func (a *Account) recordEpoch(epoch uint64, status Status, voted bool) {
	if a.Epoch == nil || a.Epoch.Epoch != epoch {
		a.Epoch = &EpochCount{Epoch: epoch}
	}
	a.Epoch.Heights++
	switch {
	case voted:
		a.Epoch.Signed++
	case status == MissedUnobserved:
		a.Epoch.Unobserved++
	case status == NotInSet:
		a.Epoch.NotInSet++
	}
}

// EpochOutlook is a validator's signing in the current epoch and what it
// can still reach by the epoch's end, for the epoch's signing reward.
type EpochOutlook struct {
	Epoch                      uint64
	Length                     int64 // heights in the epoch
	Heights, Signed            int64 // accounted so far, and signed of those
	Unknown                    int64 // heights of the epoch up to the last one accounted that were not accounted for the validator
	Left                       int64 // heights of the epoch after the last one accounted
	BestSigned                 int64 // Signed + Unknown + Left: every height not yet known signed
	Reachable                  bool  // BestSigned reaches the threshold share of Length
	BestShare                  float64
	ThresholdNum, ThresholdDen uint64
	// Unobserved heights missed (the node's outage) and heights out of
	// the set (oasis_not_in_validator_set's), and the outlook without
	// them: what the misses seen live alone leave reachable.
	Unobserved, NotInSet int64
	ReachableObserved    bool
	BestShareObserved    float64
}

// Outlook is the validator's outlook in the tracker's current epoch, for
// the reward threshold num/den; ok is false while the epoch is unknown.
// A validator without a count in that epoch (tracked since) has every
// height so far unknown: the best case assumes they were signed, so a
// monitor that started mid-epoch never calls a reward lost that it can't
// count.
func (t *Tracker) Outlook(a *Account, num, den uint64) (EpochOutlook, bool) {
	e := t.Epoch
	if !e.Known() || den == 0 || t.LastHeight < e.Start {
		return EpochOutlook{}, false
	}
	if t.LastHeight >= e.Start+e.Length {
		// The epoch is over and the next one's heights were accounted
		// without their epoch (its bounds could not be read): an epoch of
		// unknown heights, which never says a reward is lost.
		e = EpochInfo{Epoch: e.Epoch + 1, Start: e.Start + e.Length, Length: max(e.Length, t.LastHeight-e.Start-e.Length+1)}
	}
	last := min(t.LastHeight, e.Start+e.Length-1)
	o := EpochOutlook{Epoch: e.Epoch, Length: e.Length, Left: e.Start + e.Length - 1 - last, ThresholdNum: num, ThresholdDen: den}
	if c := a.Epoch; c != nil && c.Epoch == e.Epoch {
		o.Heights, o.Signed, o.Unobserved, o.NotInSet = int64(c.Heights), int64(c.Signed), int64(c.Unobserved), int64(c.NotInSet)
	}
	o.Unknown = max(0, last-e.Start+1-o.Heights)
	o.BestSigned = o.Signed + o.Unknown + o.Left
	// As the staking application decides: count*den >= total*num.
	o.Reachable = uint64(o.BestSigned)*den >= uint64(o.Length)*num
	o.BestShare = float64(o.BestSigned) / float64(o.Length)
	excused := o.Unobserved + o.NotInSet
	o.ReachableObserved = uint64(o.BestSigned+excused)*den >= uint64(o.Length)*num
	o.BestShareObserved = float64(o.BestSigned+excused) / float64(o.Length)
	return o, true
}

// Skip records that heights up to (and including) to were not applied.
func (t *Tracker) Skip(to int64) {
	if to > t.LastHeight {
		if t.LastHeight != 0 {
			t.SkippedHeights += uint64(to - t.LastHeight)
		}
		t.LastHeight = to
	}
}

func (a *Account) record(height int64, o Outcome) {
	a.push(o.Status)
	a.InValidatorSet = o.Status != NotInSet
	if o.Proposed {
		a.ProposedTotal++
	}
	switch o.Status {
	case Signed:
		a.SignedTotal++
		a.ConsecutiveMissed = 0
		a.ConsecutiveMissedObserved = 0
		a.LastSignedHeight = height
	case Missed:
		a.MissedTotal++
		a.ConsecutiveMissed++
		a.ConsecutiveMissedObserved++
	case MissedUnobserved:
		a.MissedTotal++
		a.MissedUnobservedTotal++
		a.ConsecutiveMissed++
	}
}
