package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	cmdFlags "github.com/oasisprotocol/oasis-core/go/oasis-node/cmd/common/flags"
)

func TestParseTokens(t *testing.T) {
	for in, base := range map[string]uint64{"1": 1_000_000_000, "1234.5": 1_234_500_000_000, "0.000000001": 1} {
		q, err := ParseTokens(in)
		require.NoError(t, err, in)
		require.Equal(t, *quantity.NewFromUint64(base), q, in)
	}
	for _, bad := range []string{"", "0", "-1", "abc", "0.0000000001"} {
		_, err := ParseTokens(bad)
		require.Error(t, err, bad)
	}
}

func TestInit(t *testing.T) {
	viper.Set(cmdFlags.CfgDebugDontBlameOasis, true)
	dir := filepath.Join(t.TempDir(), "net")
	m, err := Init(dir, Options{Validators: 3, BlockInterval: 1e9, EpochBlocks: 30})
	require.NoError(t, err)
	require.Len(t, m.Validators, 3)
	loaded, err := LoadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, m, loaded)
	// The file has exactly the keys of the golden manifest its readers are
	// tested against (manifest/testdata).
	written, err := os.ReadFile(filepath.Join(dir, ManifestName))
	require.NoError(t, err)
	golden, err := os.ReadFile("../manifest/testdata/network.golden.json")
	require.NoError(t, err)
	require.Equal(t, jsonKeys(t, golden), jsonKeys(t, written))
	seen := map[string]bool{}
	for i, v := range m.Validators {
		require.Equal(t, i, v.Index)
		require.Len(t, v.ConsensusAddress, 40)
		for _, f := range []string{v.ConfigFile, filepath.Join(v.EntityDir, "entity.json"), filepath.Join(v.DataDir, "identity.pem")} {
			_, err := os.Stat(f)
			require.NoError(t, err, f)
		}
		require.False(t, seen[v.NodeID])
		seen[v.NodeID] = true
	}
	_, err = Init(dir, DefaultOptions())
	require.ErrorContains(t, err, "not empty")
	_, err = Init(t.TempDir(), Options{Validators: 0, BlockInterval: 1e9, EpochBlocks: 30})
	require.ErrorContains(t, err, "validators must be at least 1")
}

// A client node is in client mode, validates nothing and does not
// register. (Init itself sets the process's chain context, once per
// process: the e2e tests run a devnet with a client node.)
func TestClientNodeConfig(t *testing.T) {
	dir := t.TempDir()
	validator, err := newMember(dir, 0, false, false)
	require.NoError(t, err)
	client, err := newMember(dir, 1, true, false)
	require.NoError(t, err)
	require.True(t, client.v.Client)
	require.Equal(t, "client-1", filepath.Base(client.v.DataDir))
	genesisFile := filepath.Join(dir, "genesis.json")
	require.NoError(t, os.WriteFile(genesisFile, []byte("{}"), 0o600))
	for _, mb := range []*member{validator, client} {
		require.NoError(t, writeNodeConfig(mb, []*member{validator, client}, genesisFile))
	}
	cfg, err := os.ReadFile(client.v.ConfigFile)
	require.NoError(t, err)
	require.Contains(t, string(cfg), "mode: client")
	require.NotContains(t, string(cfg), "entity.json", "a client node does not register")
	cfg, err = os.ReadFile(validator.v.ConfigFile)
	require.NoError(t, err)
	require.Contains(t, string(cfg), "mode: validator")
	require.Contains(t, string(cfg), "entity.json")
}

// jsonKeys lists the object keys of a JSON document, with their paths
// (array elements share their array's path).
func jsonKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal(raw, &doc))
	seen := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				seen[path+"."+k] = true
				walk(path+"."+k, child)
			}
		case []any:
			for _, child := range v {
				walk(path+"[]", child)
			}
		}
	}
	walk("", doc)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
