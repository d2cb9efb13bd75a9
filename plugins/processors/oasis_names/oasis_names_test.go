package oasis_names

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	"github.com/stretchr/testify/require"
)

// The three statements in testdata/registry are real files of
// github.com/oasisprotocol/metadata-registry at 17a5bfc (2024-03-27).
const (
	chlorisID  = "AX8zJsi0DnrrdwCi/8JJptXSy62kZgQcAYKlCYD4oN8="
	terminetID = "AaemJ+W/+IKfvWQSVjwVFLU4M7g9VyDgbFQfWNqkU2Q="
	adoridID   = "Ai5UA2ZRvGm8rDWMGn7t18QX50UiSU+7ahq7lzTRKwg="

	ourNodeID   = "ZXhhbXBsZS1ub2RlLWlkLTMyLWJ5dGVzLWxvbmctISE="
	ourEntityID = "ZXhhbXBsZS1lbnRpdHktaWQtMzItYnl0ZXMtbG9uZyE="
)

var ts = time.Unix(1700000000, 0)

// point makes a point with the given tags; node_name and entity_name in
// tags are made fields, as the processor adds them.
func point(name string, tags map[string]string) telegraf.Metric {
	fields := map[string]interface{}{"up": 1}
	plain := map[string]string{}
	for k, v := range tags {
		if k == "node_name" || k == "entity_name" {
			fields[k] = v
		} else {
			plain[k] = v
		}
	}
	return metric.New(name, plain, fields, ts)
}

func newProcessor(t *testing.T, p *OasisNames) *OasisNames {
	t.Helper()
	p.Log = testutil.Logger{}
	require.NoError(t, p.Init())
	return p
}

func TestAliasesNameNodesAndEntities(t *testing.T) {
	p := newProcessor(t, &OasisNames{Aliases: []Alias{
		{ID: ourNodeID, Name: "validator-1"},
		{ID: ourEntityID, Name: "Our Entity"},
		// The .env defaults, unset: skipped.
		{ID: "", Name: ""},
		{ID: ourNodeID, Name: ""},
	}})
	in := []telegraf.Metric{
		point("oasis_node", map[string]string{"node_id": ourNodeID, "entity_id": ourEntityID}),
		point("oasis_signing", map[string]string{"consensus_address": "AB", "node_id": "b3RoZXItbm9kZS1pZC0zMi1ieXRlcy1sb25nLS0tLS0=", "entity_id": ourEntityID}),
		point("oasis_input", map[string]string{"input": "oasis_node"}),
	}
	want := []telegraf.Metric{
		point("oasis_node", map[string]string{"node_id": ourNodeID, "entity_id": ourEntityID, "node_name": "validator-1", "entity_name": "Our Entity"}),
		point("oasis_signing", map[string]string{"consensus_address": "AB", "node_id": "b3RoZXItbm9kZS1pZC0zMi1ieXRlcy1sb25nLS0tLS0=", "entity_id": ourEntityID, "entity_name": "Our Entity"}),
		point("oasis_input", map[string]string{"input": "oasis_node"}),
	}
	testutil.RequireMetricsEqual(t, want, p.Apply(in...))
}

// A node an install reads under a name (the source tag, several nodes per
// install) is named by it on its own points, and on its validator's
// signing points once its oasis_node point has told its ID; an alias for
// the ID still comes first.
func TestSourceTagNamesTheNodeItWasReadFrom(t *testing.T) {
	sentryID := "c2VudHJ5LW5vZGUtaWQtMzItYnl0ZXMtbG9uZy0tLS0="
	p := newProcessor(t, &OasisNames{Aliases: []Alias{{ID: ourNodeID, Name: "validator-1"}}})
	in := []telegraf.Metric{
		// Down since start-up, no node_id configured: no ID yet.
		point("oasis_node", map[string]string{"source": "sentry-a", "role": "sentry"}),
		point("oasis_node", map[string]string{"source": "sentry-a", "role": "sentry", "node_id": sentryID}),
		point("oasis_signing", map[string]string{"source": "val", "role": "validator", "consensus_address": "CD", "node_id": sentryID}),
		point("oasis_node", map[string]string{"source": "val-main", "role": "validator", "node_id": ourNodeID}),
		point("oasis_signing", map[string]string{"source": "val-main", "role": "validator", "consensus_address": "AB", "node_id": ourNodeID}),
		// Not the node's own point: the source names the node it was read from.
		point("oasis_signing", map[string]string{"source": "val-main", "role": "validator", "consensus_address": "EF", "node_id": "b3RoZXItbm9kZS1pZC0zMi1ieXRlcy1sb25nLS0tLS0="}),
	}
	want := []telegraf.Metric{
		point("oasis_node", map[string]string{"source": "sentry-a", "role": "sentry", "node_name": "sentry-a"}),
		point("oasis_node", map[string]string{"source": "sentry-a", "role": "sentry", "node_id": sentryID, "node_name": "sentry-a"}),
		point("oasis_signing", map[string]string{"source": "val", "role": "validator", "consensus_address": "CD", "node_id": sentryID, "node_name": "sentry-a"}),
		point("oasis_node", map[string]string{"source": "val-main", "role": "validator", "node_id": ourNodeID, "node_name": "validator-1"}),
		point("oasis_signing", map[string]string{"source": "val-main", "role": "validator", "consensus_address": "AB", "node_id": ourNodeID, "node_name": "validator-1"}),
		point("oasis_signing", map[string]string{"source": "val-main", "role": "validator", "consensus_address": "EF", "node_id": "b3RoZXItbm9kZS1pZC0zMi1ieXRlcy1sb25nLS0tLS0="}),
	}
	testutil.RequireMetricsEqual(t, want, p.Apply(in...))
}

func TestRegistryNamesFromRealStatements(t *testing.T) {
	p := newProcessor(t, &OasisNames{
		RegistryDir: "testdata",
		// An alias wins over the entity's own claim.
		Aliases: []Alias{{ID: adoridID, Name: "friend"}},
	})
	got := p.Apply(
		point("oasis_signing", map[string]string{"entity_id": chlorisID}),
		point("oasis_signing", map[string]string{"entity_id": terminetID}),
		point("oasis_signing", map[string]string{"entity_id": adoridID}),
		point("oasis_signing", map[string]string{"entity_id": ourEntityID}),
	)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{
		point("oasis_signing", map[string]string{"entity_id": chlorisID, "entity_name": "Chloris Network"}),
		point("oasis_signing", map[string]string{"entity_id": terminetID, "entity_name": "Terminet"}),
		point("oasis_signing", map[string]string{"entity_id": adoridID, "entity_name": "friend"}),
		point("oasis_signing", map[string]string{"entity_id": ourEntityID}),
	}, got)
	// A registry name names entities only: a node ID equal to an entity's
	// ID (an entity running its own node key) is not named by it.
	testutil.RequireMetricsEqual(t,
		[]telegraf.Metric{point("oasis_node", map[string]string{"node_id": chlorisID})},
		p.Apply(point("oasis_node", map[string]string{"node_id": chlorisID})))
}

// copyRegistry copies the real statements into a fresh checkout.
func copyRegistry(t *testing.T) (dir, entityDir string) {
	t.Helper()
	dir = t.TempDir()
	entityDir = filepath.Join(dir, "registry", "entity")
	require.NoError(t, os.MkdirAll(entityDir, 0o755))
	files, err := filepath.Glob("testdata/registry/entity/*.json")
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(entityDir, filepath.Base(f)), b, 0o644))
	}
	return dir, entityDir
}

// sign writes a statement for a new entity, signed by it, and returns
// the entity's base64 ID.
func sign(t *testing.T, entityDir string, meta entityMetadata) string {
	t.Helper()
	signer, err := memorySigner.NewSigner(rand.Reader)
	require.NoError(t, err)
	signed, err := signature.SignSigned(signer, entityMetadataContext, &meta)
	require.NoError(t, err)
	b, err := json.Marshal(signed)
	require.NoError(t, err)
	pk := signer.Public()
	require.NoError(t, os.WriteFile(filepath.Join(entityDir, hex.EncodeToString(pk[:])+".json"), b, 0o644))
	return pk.String()
}

func TestRegistrySkipsStatementsThatFailChecks(t *testing.T) {
	dir, entityDir := copyRegistry(t)
	chlorisFile := filepath.Join(entityDir, "017f3326c8b40e7aeb7700a2ffc249a6d5d2cbada466041c0182a50980f8a0df.json")
	terminetFile := filepath.Join(entityDir, "01a7a627e5bff8829fbd6412563c1514b53833b83d5720e06c541f58daa45364.json")

	// Chloris's statement with its name changed but its signature kept.
	var forged signature.Signed
	b, err := os.ReadFile(chlorisFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &forged))
	var meta entityMetadata
	require.NoError(t, cbor.Unmarshal(forged.Blob, &meta))
	meta.Name = "Oasis Foundation"
	forged.Blob = cbor.Marshal(&meta)
	b, err = json.Marshal(forged)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(chlorisFile, b, 0o644))

	// Terminet's real statement filed under another entity's ID.
	b, err = os.ReadFile(terminetFile)
	require.NoError(t, err)
	otherHex := strings.Repeat("ab", 32)
	require.NoError(t, os.WriteFile(filepath.Join(entityDir, otherHex+".json"), b, 0o644))

	// Not JSON, and a name that is not an ID.
	require.NoError(t, os.WriteFile(filepath.Join(entityDir, strings.Repeat("cd", 32)+".json"), []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(entityDir, "README.json"), []byte("{}"), 0o644))
	// A future version of the format.
	futureID := sign(t, entityDir, entityMetadata{Versioned: cbor.NewVersioned(2), Name: "Future"})
	// A name with every channel's markup, made inert.
	markupID := sign(t, entityDir, entityMetadata{Versioned: cbor.NewVersioned(1), Name: "<!channel> *[click](https://evil.example)*"})

	log := &testutil.CaptureLogger{}
	p := &OasisNames{RegistryDir: dir, Log: log}
	require.NoError(t, p.Init())
	got := p.Apply(
		point("e", map[string]string{"entity_id": chlorisID}),
		point("e", map[string]string{"entity_id": terminetID}),
		point("e", map[string]string{"entity_id": adoridID}),
		point("e", map[string]string{"entity_id": futureID}),
		point("e", map[string]string{"entity_id": markupID}),
	)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{
		point("e", map[string]string{"entity_id": chlorisID}),
		point("e", map[string]string{"entity_id": terminetID, "entity_name": "Terminet"}),
		point("e", map[string]string{"entity_id": adoridID, "entity_name": "Adorid"}),
		point("e", map[string]string{"entity_id": futureID}),
		point("e", map[string]string{"entity_id": markupID, "entity_name": "‹!channel› ∗［click］(https[:]//evil.example)∗"}),
	}, got)

	var warnings []string
	for _, m := range log.Messages() {
		if m.Level == testutil.LevelWarn {
			warnings = append(warnings, m.Text)
		}
	}
	joined := strings.Join(warnings, "\n")
	require.Len(t, warnings, 5, joined)
	require.Contains(t, joined, "017f3326c8b40e7aeb7700a2ffc249a6d5d2cbada466041c0182a50980f8a0df.json: the signature does not verify")
	require.Contains(t, joined, otherHex+".json: signed by "+terminetID+", not by the entity the file names")
	require.Contains(t, joined, "not a signed statement")
	require.Contains(t, joined, "README.json: the file name is not an entity ID in hex")
	require.Contains(t, joined, "metadata version 2")
}

// applied is what Apply returns for one point with entity_id id.
func applied(p *OasisNames, id string) []telegraf.Metric {
	return p.Apply(point("e", map[string]string{"entity_id": id}))
}

func TestRegistryMissingThenPulled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "metadata-registry")
	var mu sync.Mutex
	now := ts
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	log := &testutil.CaptureLogger{}
	p := &OasisNames{RegistryDir: dir, RegistryReload: config.Duration(time.Hour), Log: log, now: clock}
	// A registry that isn't there yet does not stop the points.
	require.NoError(t, p.Init())
	require.NotEmpty(t, log.Errors())
	require.Contains(t, log.Errors()[0], "registry_dir is the checkout's top directory")
	unnamed := []telegraf.Metric{point("e", map[string]string{"entity_id": chlorisID})}
	named := []telegraf.Metric{point("e", map[string]string{"entity_id": chlorisID, "entity_name": "Chloris Network"})}
	testutil.RequireMetricsEqual(t, unnamed, applied(p, chlorisID))

	// Checked out later: read at the next reload, not before. The read
	// runs beside Apply, so its names arrive shortly after.
	src, _ := copyRegistry(t)
	require.NoError(t, os.Rename(src, dir))
	advance(59 * time.Minute)
	testutil.RequireMetricsEqual(t, unnamed, applied(p, chlorisID))
	advance(time.Minute)
	require.Eventually(t, func() bool {
		return testutil.MetricEqual(named[0], applied(p, chlorisID)[0])
	}, 5*time.Second, 10*time.Millisecond, "the pulled registry's names are added")

	// Gone again (a botched pull): the names read last are kept.
	require.NoError(t, os.RemoveAll(dir))
	advance(time.Hour)
	applied(p, chlorisID) // starts the reload
	require.Eventually(t, func() bool { return len(log.Errors()) == 2 }, 5*time.Second, 10*time.Millisecond, "the failed read is logged")
	testutil.RequireMetricsEqual(t, named, applied(p, chlorisID))
}

func TestBadAliasesAreSkippedNotFatal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		alias   Alias
		problem string
	}{
		{"name without id", Alias{Name: "validator-1"}, `alias 2: name "validator-1" has no id: set the ID it names (OASIS_NODE_ID or OASIS_ENTITY_ID in .env for your own); skipped`},
		{"id not base64", Alias{ID: "validator-1", Name: "v"}, `alias 2: id "validator-1" is not a node or entity ID`},
		{"id too short", Alias{ID: "AAAA", Name: "v"}, `is not a node or entity ID`},
		{"named twice", Alias{ID: ourEntityID, Name: "b"}, `is named twice ("Our Entity" and "b"); skipped`},
		{"control character", Alias{ID: ourNodeID, Name: "a\nb"}, `control or invisible character`},
		{"too long", Alias{ID: ourNodeID, Name: strings.Repeat("n", 65)}, `longer than 64 characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &testutil.CaptureLogger{}
			p := &OasisNames{Log: log, Aliases: []Alias{{ID: ourEntityID, Name: "Our Entity"}, tc.alias}}
			require.NoError(t, p.Init())
			require.Len(t, p.Problems(), 1)
			require.Contains(t, p.Problems()[0], tc.problem)
			require.Equal(t, []string{"E! [] " + p.Problems()[0]}, log.Errors(), "said in the log")
			// The good alias still names its entity.
			testutil.RequireMetricsEqual(t,
				[]telegraf.Metric{point("e", map[string]string{"entity_id": ourEntityID, "entity_name": "Our Entity"})},
				applied(p, ourEntityID))
		})
	}
	p := &OasisNames{Log: testutil.Logger{}, RegistryReload: config.Duration(time.Second)}
	require.ErrorContains(t, p.Init(), `registry_reload = "1s": at least 1m`)
}

func TestSampleConfigParses(t *testing.T) {
	require.Contains(t, (&OasisNames{}).SampleConfig(), "[[processors.oasis_names]]")
}
