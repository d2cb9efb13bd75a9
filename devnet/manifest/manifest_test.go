package manifest

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// GoldenFile is the manifest every reader of network.json is tested
// against: this package (the one type), oasis-devnet's init (which must
// write the same keys: network.TestInit) and the test bed's driver.
const GoldenFile = "testdata/network.golden.json"

// The golden file decodes strictly, sets every field (so it covers the
// whole type) and is what encoding the decoded value gives back.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile(GoldenFile)
	require.NoError(t, err)
	m, err := Decode(raw)
	require.NoError(t, err)
	requireAllSet(t, reflect.ValueOf(*m), "Manifest")
	require.NotEmpty(t, m.Validators)
	for _, v := range m.Validators {
		requireAllSet(t, reflect.ValueOf(v), "Validator")
	}
	again, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	require.JSONEq(t, string(raw), string(again))
}

func TestDecodeRefusesUnknownFields(t *testing.T) {
	_, err := Decode([]byte(`{"dir":"/x","socket_dir":"/y"}`))
	require.ErrorContains(t, err, "socket_dir")
}

func TestWriteLoad(t *testing.T) {
	raw, err := os.ReadFile(GoldenFile)
	require.NoError(t, err)
	m, err := Decode(raw)
	require.NoError(t, err)
	m.Dir = t.TempDir()
	require.NoError(t, m.Write())
	loaded, err := Load(m.Dir)
	require.NoError(t, err)
	require.Equal(t, m, loaded)
}

func requireAllSet(t *testing.T, v reflect.Value, what string) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "Index" || f.Name == "Client" || f.Name == "Compute" { // 0 is the first validator's index; false a plain validator's
			continue
		}
		require.False(t, v.Field(i).IsZero(), "%s.%s is not set in %s", what, f.Name, GoldenFile)
	}
}
