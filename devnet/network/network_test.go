package network

import (
	"os"
	"path/filepath"
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
