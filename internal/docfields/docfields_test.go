package docfields

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(path, []byte("# x\n\n- `oasis_a`: one point\n  - fields:\n\n| field | type |\n| --- | --- |\n"+
		"| `up` | int |\n| `epoch` | int |\n\n- `oasis_b`: another\n\n| `epoch` | int |\n"), 0o600))
	got, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, []Field{{"oasis_a", "up"}, {"oasis_a", "epoch"}, {"oasis_b", "epoch"}}, got)
	names, err := Fields(path, "oasis_b")
	require.NoError(t, err)
	require.Equal(t, []string{"epoch"}, names)
}

func TestFieldBeforeMeasurement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(path, []byte("| `up` | int |\n"), 0o600))
	_, err := Read(path)
	require.ErrorContains(t, err, "README.md:1: field up is listed before any measurement")
}

// Every plugin README parses, and each of its measurements has fields.
func TestPluginReadmes(t *testing.T) {
	readmes, err := filepath.Glob("../../plugins/inputs/*/README.md")
	require.NoError(t, err)
	require.NotEmpty(t, readmes)
	for _, r := range readmes {
		fields, err := Read(r)
		require.NoError(t, err)
		require.NotEmpty(t, fields, r)
	}
}
