package oasis_signing_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_signing"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// pluginProcess is oasis-telegraf running oasis_signing as Telegraf runs it:
// a newline on stdin asks for a gather; metrics come as line protocol.
type pluginProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []telegraf.Metric
	log   bytes.Buffer // stderr: Telegraf's log lines
	done  chan struct{}
}

// Write takes the process's stderr.
func (p *pluginProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// stderr is what the process logged so far.
func (p *pluginProcess) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func startPluginProcess(t testing.TB, bin, config string) *pluginProcess {
	t.Helper()
	p := &pluginProcess{cmd: exec.Command(bin, "-config", config), done: make(chan struct{})}
	var err error
	p.stdin, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = p
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("plugin stderr:\n%s", p.stderr())
		}
	})
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			m, err := parser.ParseLine(sc.Text())
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, m)
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
	}()
	return p
}

func (p *pluginProcess) metrics() []telegraf.Metric {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]telegraf.Metric(nil), p.lines...)
}

// Each gather writes the input's own oasis_input point (the follower's
// state: last_height, ...), then one oasis_signing summary per validator.

// latestStatus is the newest oasis_input point with a last_height so far,
// or nil.
func (p *pluginProcess) latestStatus() telegraf.Metric {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.lines) - 1; i >= 0; i-- {
		if p.lines[i].Name() == "oasis_input" {
			if _, ok := p.lines[i].GetField("last_height"); ok {
				return p.lines[i]
			}
		}
	}
	return nil
}

// gathers is how many gathers (oasis_input points) have arrived.
func (p *pluginProcess) gathers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.lines {
		if m.Name() == "oasis_input" {
			n++
		}
	}
	return n
}

// summary asks for gathers until one's oasis_input point has a last_height
// of at least minHeight and returns it with that gather's oasis_signing
// summary of the validator at consensus address addr ("": the first).
func (p *pluginProcess) summary(t *testing.T, minHeight int64, addr string) (status, summary telegraf.Metric) {
	t.Helper()
	wait.Until(t, func() bool {
		before := p.gathers()
		_, _ = p.stdin.Write([]byte("\n"))
		wait.Until(t, func() bool { return p.gathers() > before }, 10*time.Second, 10*time.Millisecond,
			"a gather after asking the plugin for one")
		var cur telegraf.Metric
		for _, m := range p.metrics() {
			switch {
			case m.Name() == "oasis_input":
				cur = nil
				if h, ok := m.GetField("last_height"); ok && h.(int64) >= minHeight {
					cur = m
				}
			case m.Name() == oasis_signing.SummaryMeasurement && cur != nil:
				if a, _ := m.GetTag("consensus_address"); addr == "" || a == addr {
					status, summary, cur = cur, m, nil
				}
			}
		}
		return summary != nil
	}, 60*time.Second, 200*time.Millisecond, "a gather with last_height >= %d and a summary", minHeight)
	return status, summary
}

// truth walks every block's commit independently of the plugin: for each
// height, the validator set at that height, the commit in the next block and
// the proposer.
type truth struct{ signed, missed, proposed, voted int64 }

func groundTruth(t *testing.T, c *nodeclient.Client, addr []byte, from, to int64) truth {
	t.Helper()
	ctx := context.Background()
	var tr truth
	for h := from; h <= to; h++ {
		v, err := c.ConsensusValidators(ctx, h)
		require.NoError(t, err)
		var set cmtproto.ValidatorSet
		require.NoError(t, set.Unmarshal(v.Meta))
		index := -1
		for i, val := range set.Validators {
			if bytes.Equal(val.Address, addr) {
				index = i
			}
		}
		this, next := rawMeta(t, c, h), rawMeta(t, c, h+1)
		var hdr cmtproto.Header
		require.NoError(t, hdr.Unmarshal(this.Header))
		if bytes.Equal(hdr.ProposerAddress, addr) {
			tr.proposed++
		}
		var commit cmtproto.Commit
		require.NoError(t, commit.Unmarshal(next.LastCommit))
		require.Equal(t, h, commit.Height)
		require.Len(t, commit.Signatures, len(set.Validators), "commit signatures line up with the set")
		if index < 0 {
			continue
		}
		// CometBFT orders commit signatures as the validator set. A vote
		// that is not absent (for the block, or nil) is what the staking
		// application's epoch signing count counts.
		if commit.Signatures[index].BlockIdFlag != cmtproto.BlockIDFlagAbsent {
			tr.voted++
		}
		if commit.Signatures[index].BlockIdFlag == cmtproto.BlockIDFlagCommit {
			require.Equal(t, addr, commit.Signatures[index].ValidatorAddress)
			tr.signed++
		} else {
			tr.missed++
		}
	}
	return tr
}

type rawBlockMeta struct {
	Header     []byte `json:"header"`
	LastCommit []byte `json:"last_commit"`
}

func rawMeta(t *testing.T, c *nodeclient.Client, h int64) rawBlockMeta {
	t.Helper()
	b, err := c.Block(context.Background(), h)
	require.NoError(t, err)
	var m rawBlockMeta
	require.NoError(t, cbor.Unmarshal(b.Meta, &m))
	return m
}

// validator3Monitored starts a devnet of four validators with 20-height
// epochs and writes an oasis_signing config that reads validator 0's node
// and monitors validator 3; it returns the devnet, the oasis-telegraf
// binary and the config file.
func validator3Monitored(t *testing.T) (*devnettest.Net, string, string) {
	t.Helper()
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	bin := devnettest.BuildCommand(t, "./cmd/oasis-telegraf")
	dir := t.TempDir()
	config := filepath.Join(dir, "signing.conf")
	require.NoError(t, os.WriteFile(config, []byte(`[[inputs.oasis_signing]]
  address = "`+net.Address(0)+`"
  node_ids = ["`+net.Validators[3].NodeID+`"]
  state_file = "`+filepath.Join(dir, "state.json")+`"
`), 0o600))
	return net, bin, config
}

// With validator 3 stopped for a span, and the plugin killed (SIGKILL) and
// restarted in the middle of it, the plugin's totals equal a ground truth
// computed from every block's commit, and every height has exactly one
// per-height point.
func TestExactAcrossKillAndRestart(t *testing.T) {
	net, bin, config := validator3Monitored(t)
	c := net.Client(0)
	target := net.Validators[3]

	first := startPluginProcess(t, bin, config)
	st, _ := first.summary(t, 1, "")
	h := net.WaitForHeight(0, st.Fields()["last_height"].(int64)+5, time.Minute)

	net.StopValidator(3)
	h = net.WaitForHeight(0, h+6, time.Minute)
	first.summary(t, h-2, "") // the state file has heights into the outage
	h = net.WaitForHeight(0, h+4, time.Minute)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL)) // mid-span, with unsaved heights
	<-first.done

	h = net.WaitForHeight(0, h+5, time.Minute) // blocks made while the plugin is down
	second := startPluginProcess(t, bin, config)
	h = net.WaitForHeight(0, h+5, time.Minute)
	net.StartValidator(3)
	h = net.WaitForHeight(0, h+15, 2*time.Minute)
	finalStatus, final := second.summary(t, h-2, "")
	last := finalStatus.Fields()["last_height"].(int64)
	// A fresh plugin starts at the tip: the first height it accounts is
	// the lowest per-height point.
	start := last
	for _, m := range first.metrics() {
		if m.Name() == oasis_signing.BlockMeasurement {
			start = min(start, m.Fields()["height"].(int64)-1)
		}
	}

	want := groundTruth(t, c, addrBytes(t, target.ConsensusAddress), start+1, last)
	t.Logf("heights %d..%d: truth signed=%d missed=%d proposed=%d", start+1, last, want.signed, want.missed, want.proposed)
	require.Positive(t, want.missed, "the outage shows as missed heights")
	require.Positive(t, want.signed)
	f := final.Fields()
	require.Equal(t, want.signed, f["signed_total"], "signed_total")
	require.Equal(t, want.missed, f["missed_total"], "missed_total")
	require.Equal(t, want.proposed, f["proposed_total"], "proposed_total")
	require.Equal(t, int64(0), finalStatus.Fields()["skipped_heights_total"])

	// Per-height points: every height once (a height replayed after the kill
	// repeats the point, same time and tags, which InfluxDB stores once).
	// Only `observed` may differ: the restarted follower accounts it in
	// its catch-up, after the fact, so the replay says 0 (the first
	// process's 1 was lost with its unsaved state) and overwrites the 1.
	perHeight := map[int64]telegraf.Metric{}
	withoutObserved := func(m telegraf.Metric) map[string]any {
		f := map[string]any{}
		for k, v := range m.Fields() {
			if k != "observed" {
				f[k] = v
			}
		}
		return f
	}
	for _, m := range append(first.metrics(), second.metrics()...) {
		if m.Name() != oasis_signing.BlockMeasurement {
			continue
		}
		height := m.Fields()["height"].(int64)
		if prev, seen := perHeight[height]; seen {
			require.Equal(t, withoutObserved(prev), withoutObserved(m), "height %d replayed differently", height)
			require.Equal(t, int64(0), m.Fields()["observed"], "height %d: a replay after a restart is unobserved", height)
			require.Equal(t, prev.Time(), m.Time(), "height %d replayed with another timestamp", height)
		}
		perHeight[height] = m
	}
	var signed, missed int64
	for height := start + 1; height <= last; height++ {
		m, ok := perHeight[height]
		require.True(t, ok, "no point for height %d", height)
		if m.Fields()["signed"].(int64) == 1 {
			signed++
		} else if m.Fields()["in_validator_set"].(int64) == 1 {
			missed++
		}
	}
	require.Equal(t, want.signed, signed)
	require.Equal(t, want.missed, missed)
}

func addrBytes(t *testing.T, hexAddr string) []byte {
	t.Helper()
	b, err := hex.DecodeString(hexAddr)
	require.NoError(t, err)
	require.Len(t, b, 20)
	return b
}

// An Oasis network upgrade is a dump-and-restore: a new genesis, a new
// chain context, heights starting again. Here the devnet is re-created
// with a new genesis at the same socket path, under a running oasis_signing
// with its state file from the first chain: it says so (log and
// chain_resets_total), never mixes the chains' heights, and accounts the
// new chain exactly from where it met it.
func TestNewGenesisUnderARunningPlugin(t *testing.T) {
	sockets, err := os.MkdirTemp("", "omc") // socket paths are limited to 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sockets) })
	opts := devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20, SocketDir: sockets}
	chainA := devnettest.Start(t, opts)
	bin := devnettest.BuildCommand(t, "./cmd/oasis-telegraf")
	dir := t.TempDir()
	config := filepath.Join(dir, "signing.conf")
	require.NoError(t, os.WriteFile(config, []byte(`[[inputs.oasis_signing]]
  address = "`+chainA.Address(0)+`"
  state_file = "`+filepath.Join(dir, "state.json")+`"
`), 0o600))
	p := startPluginProcess(t, bin, config)

	// Well into chain A, above the heights chain B will start from.
	h := chainA.WaitForHeight(0, 40, 2*time.Minute)
	stA, _ := p.summary(t, h-2, chainA.Validators[0].ConsensusAddress)
	contextA := stA.Fields()["chain_context"]
	require.NotEmpty(t, contextA)
	require.Equal(t, int64(0), stA.Fields()["chain_resets_total"])
	lastA := stA.Fields()["last_height"].(int64)
	chainA.StopAll()
	// Every block of chain A is older than this: the cut between the chains
	// in the per-height points below.
	cut := time.Now()

	chainB := devnettest.Start(t, opts) // new keys, new genesis, same socket path
	require.Equal(t, chainA.Address(0), chainB.Address(0))
	c := chainB.Client(0)
	contextB, err := c.ChainContext(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, contextA, contextB)
	hB := chainB.WaitForHeight(0, 15, time.Minute)
	require.Less(t, hB, lastA, "chain B's heights are below the state's: the old code dropped them as accounted")

	// The plugin reconnects on its own and starts a new account period.
	ownB := chainB.Validators[0].ConsensusAddress // new keys: another validator
	// (summary waits, up to a minute, for a gather with its summary.)
	stB, sumB := p.summary(t, 1, ownB)
	require.Equal(t, contextB, stB.Fields()["chain_context"], "the plugin follows chain B")
	require.Equal(t, int64(1), stB.Fields()["chain_resets_total"], "the new chain is counted")
	require.Equal(t, int64(1), stB.Fields()["up"])
	require.Equal(t, int64(0), stB.Fields()["skipped_heights_total"], "chain B's heights are not taken for pruning")
	require.Contains(t, p.stderr(), "the node is on another chain")

	// Chain B accounted exactly, from where the plugin met it: its totals
	// (a new validator's, as the devnet made new keys) equal a count from
	// every block's commit.
	hB = chainB.WaitForHeight(0, hB+10, time.Minute)
	stB, sumB = p.summary(t, hB-2, ownB)
	lastB := stB.Fields()["last_height"].(int64)
	startB := lastB
	// Chain B's per-height points are its new validator's: told apart by
	// the address, not by time (chain B's first block is stamped with its
	// genesis time, which can fall in the second before the cut).
	for _, m := range p.metrics() {
		if addr, _ := m.GetTag("consensus_address"); m.Name() == oasis_signing.BlockMeasurement && addr == ownB {
			startB = min(startB, m.Fields()["height"].(int64)-1)
		}
	}
	want := groundTruth(t, c, addrBytes(t, ownB), startB+1, lastB)
	t.Logf("chain A up to %d, chain B heights %d..%d: truth signed=%d missed=%d proposed=%d", lastA, startB+1, lastB, want.signed, want.missed, want.proposed)
	require.Positive(t, want.signed)
	require.Equal(t, want.signed, sumB.Fields()["signed_total"], "signed_total")
	require.Equal(t, want.missed, sumB.Fields()["missed_total"], "missed_total")
	require.Equal(t, want.proposed, sumB.Fields()["proposed_total"], "proposed_total")
	// Chain A's validator stays monitored (a validator is never dropped
	// during a run): on chain B it is, truthfully, out of the set.
	ownA := chainA.Validators[0].ConsensusAddress
	for _, m := range p.metrics() {
		if m.Name() != oasis_signing.BlockMeasurement || !m.Time().After(cut) {
			continue
		}
		switch m.Tags()["consensus_address"] {
		case ownA:
			require.Equal(t, int64(0), m.Fields()["in_validator_set"], "chain A's validator on chain B")
		case ownB:
		default:
			t.Fatalf("a per-height point of an unknown validator: %v", m)
		}
	}
}
