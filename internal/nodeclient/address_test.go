package nodeclient

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAddress(t *testing.T) {
	good := map[string]Target{
		"unix:/run/oasis/internal.sock":   {Dial: "unix:/run/oasis/internal.sock", Unix: true},
		"unix:///run/oasis/internal.sock": {Dial: "unix:/run/oasis/internal.sock", Unix: true},
		"/run/oasis/internal.sock":        {Dial: "unix:/run/oasis/internal.sock", Unix: true},
		" /run/oasis//internal.sock ":     {Dial: "unix:/run/oasis/internal.sock", Unix: true},
		"node.example.com:9100":           {Dial: "node.example.com:9100"},
		"[::1]:9100":                      {Dial: "[::1]:9100"},
	}
	for in, want := range good {
		got, err := ParseAddress(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	bad := map[string]string{
		"":                             "address is empty",
		"internal.sock":                "neither an absolute socket path nor host:port",
		"unix:internal.sock":           "must be absolute",
		"unix:":                        "must be absolute",
		"/run/oasis/":                  "names a directory",
		"https://node:443":             "unsupported scheme",
		"node:":                        "neither an absolute socket path nor host:port",
		"/" + strings.Repeat("a", 120): "longer than the kernel's limit",
	}
	for in, want := range bad {
		_, err := ParseAddress(in)
		require.ErrorContains(t, err, want, in)
		require.ErrorContains(t, err, ExampleAddress, in)
	}
}

func TestTLSOnlyForTCP(t *testing.T) {
	cfg := Config{Address: "unix:/run/oasis/internal.sock"}
	cfg.TLSCA = "/etc/ca.pem"
	_, err := New(cfg)
	require.ErrorContains(t, err, "apply only to a host:port address")
}
