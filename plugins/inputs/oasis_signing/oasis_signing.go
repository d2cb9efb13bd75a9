// Package oasis_signing is a Telegraf service input that follows every block
// of an oasis-node and keeps exact signing accounts for chosen validators:
// each height is counted once, across reconnects and restarts.
package oasis_signing

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
	"github.com/oasis-mission-control/oasis-mission-control/internal/inputstatus"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/internal/oasisid"
	"github.com/oasis-mission-control/oasis-mission-control/internal/signing"
	"github.com/oasis-mission-control/oasis-mission-control/internal/statefile"
)

//go:embed sample.conf
var sampleConfig string

const (
	// SummaryMeasurement holds each validator's totals and uptime windows.
	SummaryMeasurement = "oasis_signing"
	// BlockMeasurement holds one point per height per monitored validator.
	BlockMeasurement = "oasis_signing_block"

	defaultBackfillLimit = 20_000
)

// OasisSigning is the plugin and its configuration.
type OasisSigning struct {
	nodeclient.Config
	NodeIDs       []string        `toml:"node_ids"`
	EntityIDs     []string        `toml:"entity_ids"`
	AllValidators bool            `toml:"all_validators"`
	StateFile     string          `toml:"state_file"`
	BackfillLimit int64           `toml:"backfill_limit"`
	Log           telegraf.Logger `toml:"-"`

	client    *nodeclient.Client
	nodeIDs   []signature.PublicKey
	entityIDs []signature.PublicKey

	mu        sync.Mutex
	tracker   *signing.Tracker
	monitored map[blockmeta.Address]identity // explicitly monitored: per-height points
	names     map[blockmeta.Address]identity // every tracked validator's tags
	tipHeight int64                          // latest height the node reported
	connected bool                           // following the node's block stream now
	// downReason is why the last attempt to follow the node failed
	// (nodeclient.Reason), reported with up=0; "" before any failure.
	downReason string
	// stateSaved: the last save of the accounts to state_file worked.
	stateSaved bool
	// blockFails counts failed attempts in a row per height whose block
	// the node answered with an error; badBlocks are the heights given up
	// (countFailure); blockServed is when the node last served a block
	// (GetBlock or the stream), setServed a validator set: the evidence
	// that a failing height is bad rather than the node down.
	blockFails  map[int64]*blockFailures
	badBlocks   map[int64]error
	blockServed time.Time
	setServed   time.Time
	// streamHeight is the last height the block stream delivered;
	// stalledGathers counts gathers in a row in which the node's latest
	// height (a unary call) was stallBlocks or more past it; restartStream
	// ends the current stream so that following starts again.
	streamHeight   int64
	stalledGathers int
	restartStream  context.CancelFunc
	catchingUp     bool
	// chainUnchecked: the node does not answer GetChainContext (logged once).
	chainUnchecked bool
	// rewardNum/rewardDen: the staking application's signing reward
	// threshold (3/4 on mainnet), read at each epoch; 0/0 before, and on a
	// chain without signing rewards.
	rewardNum, rewardDen uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// retryDelay is the pause before following again after a failure.
	retryDelay time.Duration
}

// identity is how a validator's points are tagged.
type identity struct {
	NodeID   string
	EntityID string
}

func (*OasisSigning) SampleConfig() string { return sampleConfig }

// Init validates the settings and loads the saved accounts; it does not
// contact the node.
func (s *OasisSigning) Init() error {
	for _, id := range s.NodeIDs {
		pk, err := oasisid.Parse("node_ids", id)
		if err != nil {
			return err
		}
		s.nodeIDs = append(s.nodeIDs, pk)
	}
	for _, id := range s.EntityIDs {
		pk, err := oasisid.Parse("entity_ids", id)
		if err != nil {
			return err
		}
		s.entityIDs = append(s.entityIDs, pk)
	}
	if s.StateFile == "" {
		return errors.New(`state_file is required so that counts survive restarts, e.g. state_file = "/var/lib/telegraf/oasis_signing.json"`)
	}
	if !filepath.IsAbs(s.StateFile) {
		return fmt.Errorf("state_file %q: must be an absolute path, e.g. state_file = \"/var/lib/telegraf/oasis_signing.json\"", s.StateFile)
	}
	if s.BackfillLimit == 0 {
		s.BackfillLimit = defaultBackfillLimit
	}
	if s.BackfillLimit < 1 {
		return fmt.Errorf("backfill_limit %d: must be at least 1, e.g. backfill_limit = %d", s.BackfillLimit, defaultBackfillLimit)
	}
	if s.retryDelay == 0 {
		s.retryDelay = 2 * time.Second
	}

	if err := s.loadState(); err != nil {
		return err
	}
	s.names = map[blockmeta.Address]identity{}

	client, err := nodeclient.New(s.Config)
	if err != nil {
		return err
	}
	s.client = client
	return nil
}

// loadState resumes the accounts saved in state_file. A state that can't be
// resumed (not JSON, or content that fails Tracker.Validate) never stops
// monitoring: it is moved aside for the operator, accounting starts afresh
// with state_resets_total one higher, and the error is logged. A file that
// can't be read at all is an error: starting afresh would overwrite it.
// Then it saves at once, so an unwritable state directory is reported at
// start.
func (s *OasisSigning) loadState() error {
	s.tracker = signing.NewTracker()
	_, err := statefile.Load(s.StateFile, s.tracker)
	var corrupt *statefile.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return fmt.Errorf("state_file: %w", err)
	}
	if err == nil {
		if err = s.tracker.Validate(); err != nil {
			err = fmt.Errorf("state file %s can't be resumed: %w", s.StateFile, err)
		}
	}
	if err != nil {
		resets := s.tracker.StateResets + 1 // the decoded count, if the JSON decoded
		aside, mvErr := statefile.MoveAside(s.StateFile, time.Now())
		if mvErr != nil {
			return fmt.Errorf("state_file: %v; moving it aside failed too: %w", err, mvErr)
		}
		// A file that did not decode lost its count: the files moved aside
		// (this one included) keep it.
		if bad, _ := filepath.Glob(s.StateFile + ".bad-*"); uint64(len(bad)) > resets {
			resets = uint64(len(bad))
		}
		s.tracker = signing.NewTracker()
		s.tracker.StateResets = resets
		s.Log.Errorf("%v; moved it aside to %s and started the accounts afresh (state_resets_total %d)", err, aside, s.tracker.StateResets)
	}
	if s.tracker.Accounts == nil {
		s.tracker.Accounts = map[blockmeta.Address]*signing.Account{}
	}
	if err := s.saveState(); err != nil {
		s.Log.Error(err)
	}
	return nil
}

// saveState saves the accounts and remembers whether that worked, for the
// summary's state_saved field. The error says what to fix.
func (s *OasisSigning) saveState() error {
	err := statefile.Save(s.StateFile, s.tracker)
	s.stateSaved = err == nil
	if err != nil {
		return fmt.Errorf("saving state to %s: %w (the counts reported are not saved: after a restart they resume from the last save; make %s writable by %s)",
			s.StateFile, err, filepath.Dir(s.StateFile), nodeclient.Identity())
	}
	return nil
}

// Start begins following the node's blocks in the background.
func (s *OasisSigning) Start(acc telegraf.Accumulator) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, acc)
	}()
	return nil
}

// Stop stops following and saves the accounts.
func (s *OasisSigning) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := statefile.Save(s.StateFile, s.tracker); err != nil {
		s.Log.Errorf("saving state to %s: %v", s.StateFile, err)
	}
	_ = s.client.Close()
}

// Gather saves the accounts and then reports them: every summary written
// matches a saved state, so totals never run ahead of what a restart
// resumes from. The follower's own state (is it following, how far, is
// the state saved) goes on the input's one oasis_input point; each tracked
// validator's summary carries only that validator's accounts.
func (s *OasisSigning) Gather(acc telegraf.Accumulator) error {
	s.checkStream(acc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.saveState(); err != nil {
		acc.AddError(err)
	}
	now := time.Now()
	status := inputstatus.Begin("oasis_signing", s.Address)
	if !s.connected {
		// Why the node can't be read, as oasis_node says it:
		// permission_denied is the monitor's problem, not the node's.
		status.FailWith(s.downReason)
	}
	follower := map[string]any{
		"skipped_heights_total": s.tracker.SkippedHeights,
		"state_saved":           boolInt(s.stateSaved),
		"state_resets_total":    s.tracker.StateResets,
		"chain_resets_total":    s.tracker.ChainResets,
		"validators_monitored":  int64(len(s.monitored)),
		"validators_tracked":    int64(len(s.tracker.Accounts)),
	}
	if s.tracker.LastHeight > 0 {
		follower["last_height"] = s.tracker.LastHeight
	}
	if s.tipHeight > 0 {
		follower["tip_height"] = s.tipHeight
		follower["lag_blocks"] = max(s.tipHeight-s.tracker.LastHeight, 0)
	}
	if s.tracker.ChainContext != "" {
		follower["chain_context"] = s.tracker.ChainContext
	}
	status.Add(acc, follower, now)

	for addr, a := range s.tracker.Accounts {
		_, configured := s.monitored[addr]
		fields := map[string]any{
			"monitored":          boolInt(configured),
			"signed_total":       a.SignedTotal,
			"missed_total":       a.MissedTotal,
			"proposed_total":     a.ProposedTotal,
			"consecutive_missed": a.ConsecutiveMissed,
			"last_signed_height": a.LastSignedHeight,
			"in_validator_set":   boolInt(a.InValidatorSet),
			// What the signing alerts read: heights missed while nothing
			// followed the node are left out (they belong to that outage).
			"missed_unobserved_total":     a.MissedUnobservedTotal,
			"consecutive_missed_observed": a.ConsecutiveMissedObserved,
		}
		for _, w := range signing.Windows {
			if share, _, ok := a.Uptime(w); ok {
				fields[fmt.Sprintf("uptime_%d", w)] = share
			}
			if share, _, ok := a.UptimeObserved(w); ok {
				fields[fmt.Sprintf("uptime_observed_%d", w)] = share
			}
		}
		s.addEpochFields(fields, a)
		acc.AddFields(SummaryMeasurement, fields, s.tags(addr), now)
	}
	return nil
}

// addEpochFields adds the validator's signing in the current epoch and its
// outlook for the epoch's signing reward, once the epoch is known.
func (s *OasisSigning) addEpochFields(fields map[string]any, a *signing.Account) {
	o, ok := s.tracker.Outlook(a, s.rewardNum, max(s.rewardDen, 1))
	if !ok {
		return
	}
	fields["epoch"] = o.Epoch
	fields["epoch_length"] = o.Length
	fields["epoch_heights"] = o.Heights
	fields["epoch_signed"] = o.Signed
	fields["epoch_not_signed"] = o.Heights - o.Signed
	fields["epoch_heights_unknown"] = o.Unknown
	fields["epoch_heights_left"] = o.Left
	fields["epoch_best_signed_share"] = o.BestShare
	fields["epoch_missed_unobserved"] = o.Unobserved
	fields["epoch_not_in_set"] = o.NotInSet
	fields["epoch_best_signed_share_observed"] = o.BestShareObserved
	if s.rewardDen != 0 {
		fields["epoch_reward_threshold"] = float64(s.rewardNum) / float64(s.rewardDen)
		fields["epoch_reward_reachable"] = boolInt(o.Reachable)
		fields["epoch_reward_reachable_observed"] = boolInt(o.ReachableObserved)
	}
}

func (s *OasisSigning) tags(addr blockmeta.Address) map[string]string {
	t := map[string]string{"consensus_address": addr.String()}
	id, ok := s.monitored[addr]
	if !ok {
		id = s.names[addr]
	}
	if id.NodeID != "" {
		t["node_id"] = id.NodeID
	}
	if id.EntityID != "" {
		t["entity_id"] = id.EntityID
	}
	return t
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func init() {
	inputs.Add("oasis_signing", func() telegraf.Input { return &OasisSigning{} })
}
