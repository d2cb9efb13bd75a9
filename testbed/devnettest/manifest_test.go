package devnettest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
)

// The driver reads oasis-devnet's manifest with the devnet's own type; the
// golden file that type and oasis-devnet init are tested against holds
// what the driver relies on.
func TestManifestGolden(t *testing.T) {
	raw, err := os.ReadFile("../../devnet/manifest/testdata/network.golden.json")
	require.NoError(t, err)
	m, err := manifest.Decode(raw)
	require.NoError(t, err)
	n := &Net{Manifest: *m}
	require.NotEmpty(t, n.Validators)
	for i, v := range n.Validators {
		require.Equal(t, "unix:"+v.Socket, n.Address(i))
		require.True(t, strings.HasPrefix(v.Socket, n.Dir), "socket %s inside the network directory", v.Socket)
		require.NotEmpty(t, v.NodeID)
		require.NotEmpty(t, v.EntityID)
		require.Len(t, v.ConsensusAddress, 40)
	}
}
