package statefile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var v struct{ N int }
	found, err := Load(path, &v)
	require.NoError(t, err)
	require.False(t, found)

	require.NoError(t, Save(path, struct{ N int }{42}))
	found, err = Load(path, &v)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, 42, v.N)
	entries, _ := os.ReadDir(filepath.Dir(path))
	require.Len(t, entries, 1, "no temporary file left behind")

	require.NoError(t, os.WriteFile(path, []byte("{torn"), 0o600))
	_, err = Load(path, &v)
	require.ErrorContains(t, err, "is corrupt")
}
