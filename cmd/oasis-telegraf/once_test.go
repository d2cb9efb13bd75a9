package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/oasisprotocol/oasis-core/go/common/node"

	"github.com/oasis-mission-control/oasis-mission-control/internal/fakenode"
)

func testKey(seed string) signature.PublicKey { return memorySigner.NewTestSigner(seed).Public() }

var (
	onceNode, onceEntity, onceConsensus = testKey("once node"), testKey("once entity"), testKey("once consensus")
	onceSet                             = []fakenode.Address{fakenode.AddressOf(onceConsensus), fakenode.AddressOf(testKey("other consensus"))}
)

// signingNode is a fake node whose chain has blocks all validators sign.
func signingNode(t *testing.T, blocks int) *fakenode.Node {
	n := fakenode.Start(t)
	n.Chain.AddNode(&node.Node{
		Versioned: cbor.NewVersioned(node.LatestNodeDescriptorVersion),
		ID:        onceNode, EntityID: onceEntity,
		Consensus: node.ConsensusInfo{ID: onceConsensus},
		Roles:     node.RoleValidator,
	})
	addSignedBlocks(n, blocks)
	return n
}

func addSignedBlocks(n *fakenode.Node, k int) {
	signed := map[fakenode.Address]bool{}
	for _, a := range onceSet {
		signed[a] = true
	}
	for range k {
		n.Chain.AddBlock(fakenode.Next{Set: onceSet, Proposer: onceSet[1], Signed: signed})
	}
}

func signingConfig(t *testing.T, address, state string, extra string) string {
	return writeConfig(t, "[[inputs.oasis_signing]]\n"+
		"address = \""+address+"\"\n"+
		"node_ids = [\""+onceNode.String()+"\"]\n"+
		"state_file = \""+state+"\"\n"+extra)
}

func parseLines(t *testing.T, out string) []telegraf.Metric {
	t.Helper()
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse([]byte(out))
	require.NoError(t, err, out)
	return metrics
}

// byName splits metrics into the summaries and the per-height points.
func byName(t *testing.T, metrics []telegraf.Metric) (input telegraf.Metric, summaries, blocks []telegraf.Metric) {
	t.Helper()
	for _, m := range metrics {
		switch m.Name() {
		case "oasis_input":
			require.Nil(t, input, "one oasis_input point per gather")
			input = m
		case "oasis_signing":
			summaries = append(summaries, m)
		case "oasis_signing_block":
			blocks = append(blocks, m)
		default:
			t.Fatalf("unexpected measurement %s", m.Name())
		}
	}
	require.NotNil(t, input, "the input's own oasis_input point")
	return input, summaries, blocks
}

func field(t *testing.T, m telegraf.Metric, name string) any {
	t.Helper()
	v, ok := m.GetField(name)
	require.True(t, ok, "field %s in %v", name, m)
	return v
}

// -once on the service input starts it, waits until it follows the node
// and has caught up, prints its summary (and the heights it accounted on
// the way), stops it and saves the state.
func TestOnceServiceInputFollowsTheNode(t *testing.T) {
	n := signingNode(t, 10)
	state := filepath.Join(t.TempDir(), "signing.json")
	conf := signingConfig(t, "unix:"+n.Socket, state, "")

	// First run: no state, so it starts at the tip.
	r := run(t, "-config", conf, "-once")
	require.Equal(t, 0, r.exitCode, r.stderr)
	require.Empty(t, r.stderr)
	in, summaries, blocks := byName(t, parseLines(t, r.stdout))
	require.Empty(t, blocks)
	require.Len(t, summaries, 1)
	s := summaries[0]
	require.Equal(t, int64(1), field(t, in, "up"))
	require.Equal(t, int64(1), field(t, s, "monitored"))
	require.Equal(t, int64(9), field(t, in, "last_height"))
	require.Equal(t, int64(1), field(t, in, "lag_blocks"))
	id, _ := s.GetTag("node_id")
	require.Equal(t, onceNode.String(), id)
	require.FileExists(t, state)

	// Second run: resumes from the saved state and catches up first.
	addSignedBlocks(n, 5)
	r = run(t, "-config", conf, "-once")
	require.Equal(t, 0, r.exitCode, r.stderr)
	in, summaries, blocks = byName(t, parseLines(t, r.stdout))
	require.Len(t, summaries, 1)
	s = summaries[0]
	require.Equal(t, int64(14), field(t, in, "last_height"))
	require.Equal(t, int64(1), field(t, in, "lag_blocks"))
	require.Equal(t, int64(5), field(t, s, "signed_total"))
	require.Equal(t, int64(0), field(t, s, "missed_total"))
	require.Len(t, blocks, 5, "one point per height accounted: 10 to 14")
	for i, b := range blocks {
		require.Equal(t, int64(10+i), field(t, b, "height"))
		require.Equal(t, int64(1), field(t, b, "signed"))
	}
	// The summary comes last, after the heights it counts.
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "oasis_signing,"), r.stdout)
}

// With the node absent, -once stops at the first error: it prints the up=0
// summary with why (no_socket), names the plugin once per line, and exits
// non-zero.
func TestOnceServiceInputNodeAbsent(t *testing.T) {
	state := filepath.Join(t.TempDir(), "signing.json")
	conf := signingConfig(t, "unix:/nonexistent/internal.sock", state, "")
	start := time.Now()
	r := run(t, "-config", conf, "-once", "-once-wait", "1m")
	require.Less(t, time.Since(start), 30*time.Second, "stops at the error, not at -once-wait")
	require.Equal(t, 1, r.exitCode)
	require.Equal(t, "oasis_input,address=unix:/nonexistent/internal.sock,input=oasis_signing", strings.Fields(r.stdout)[0],
		"before the node was ever read: the input's own point only")
	require.ElementsMatch(t, []string{"up=0i", `down_reason="no_socket"`, "failed_reads=1i", "state_saved=1i", "state_resets_total=0i", "chain_resets_total=0i",
		"skipped_heights_total=0i", "validators_monitored=0i", "validators_tracked=0i"},
		strings.Split(strings.Fields(r.stdout)[1], ","))
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.NotEmpty(t, lines)
	require.Contains(t, r.stderr, "E! [inputs.oasis_signing] Error in plugin: following blocks: ")
	require.Contains(t, r.stderr, "/nonexistent/internal.sock")
	require.Equal(t, "E! [inputs.oasis_signing] -once: not following the node (up=0); stopped at the error above", lines[len(lines)-1])
	for _, l := range lines {
		require.Equal(t, 1, strings.Count(l, "oasis_signing"), "the plugin named once: %q", l)
	}
}

// A node that accepts connections and never answers: -once gives up at
// -once-wait, says so, prints the up=0 summary and exits non-zero.
func TestOnceServiceInputDeadline(t *testing.T) {
	dir, err := os.MkdirTemp("", "oasis") // socket paths are limited to 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "internal.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	conf := signingConfig(t, "unix:"+sock, filepath.Join(t.TempDir(), "signing.json"), "timeout = \"1m\"\n")
	start := time.Now()
	r := run(t, "-config", conf, "-once", "-once-wait", "1s")
	require.Less(t, time.Since(start), 30*time.Second, "gives up at -once-wait and stops cleanly")
	require.Equal(t, 1, r.exitCode)
	require.Equal(t, "oasis_input,address=unix:"+sock+",input=oasis_signing", strings.Fields(r.stdout)[0])
	require.ElementsMatch(t, []string{"up=0i", "failed_reads=1i", "state_saved=1i", "state_resets_total=0i", "chain_resets_total=0i",
		"skipped_heights_total=0i", "validators_monitored=0i", "validators_tracked=0i"},
		strings.Split(strings.Fields(r.stdout)[1], ","))
	require.Equal(t, "E! [inputs.oasis_signing] -once: not following the node (up=0) after 1s; allow longer with -once-wait", strings.TrimSpace(r.stderr))
}

// The errors an operator sees name the plugin once: Telegraf's logger
// already says which plugin, so the message does not repeat it.
func TestErrorsNameThePluginOnce(t *testing.T) {
	for _, name := range []string{"oasis_node", "oasis_entity", "oasis_governance"} {
		t.Run(name, func(t *testing.T) {
			r := run(t, "-sample-config", name)
			require.Equal(t, 0, r.exitCode)
			conf := strings.ReplaceAll(r.stdout, "unix:/run/oasis/internal.sock", "unix:/nonexistent/internal.sock")
			r = run(t, "-config", writeConfig(t, conf), "-once")
			require.Equal(t, 1, r.exitCode, "the node is absent")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			require.NotEmpty(t, lines)
			for _, l := range lines {
				require.True(t, strings.HasPrefix(l, "E! ["+"inputs."+name+"] Error in plugin: "), "line %q", l)
				require.Equal(t, 1, strings.Count(l, name), "the plugin named once: %q", l)
			}
		})
	}
}
