package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/config"

	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_node"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_signing"
)

// loadAddress loads an oasis_node config with our loader and returns its
// address setting.
func loadAddress(t *testing.T, body string) (string, error) {
	t.Helper()
	_, plugin, err := loadInput(writeConfig(t, body))
	if err != nil {
		return "", err
	}
	return plugin.(*oasis_node.OasisNode).Address, nil
}

// telegrafAddress loads the same config with Telegraf's own config loader.
func telegrafAddress(t *testing.T, body string) string {
	t.Helper()
	// Strict handling: `telegraf --strict-env-handling`, the default from
	// v1.38 (v1.37 still pastes values into the text by default).
	defer func(was bool) { config.NonStrictEnvVarHandling = was }(config.NonStrictEnvVarHandling)
	config.NonStrictEnvVarHandling = false
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(body), config.EmptySourcePath))
	require.Len(t, c.Inputs, 1)
	return c.Inputs[0].Input.(*oasis_node.OasisNode).Address
}

// A substituted value is the setting's value, whatever it holds, and the
// same value Telegraf's own config gives with strict handling.
func TestEnvironmentValuesAreValues(t *testing.T) {
	t.Setenv("EMPTY", "")
	cases := []struct {
		name, value, setting, want string
	}{
		{"plain", "unix:/node/internal.sock", `"${V}"`, "unix:/node/internal.sock"},
		{"quote", `unix:/a"b.sock`, `"${V}"`, `unix:/a"b.sock`},
		{"quote that would end the string", `unix:/a.sock"` + "\n" + `timeout = "1ns`, `"${V}"`, `unix:/a.sock"` + "\n" + `timeout = "1ns`},
		{"backslash", `unix:/a\b.sock`, `"${V}"`, `unix:/a\b.sock`},
		{"trailing backslash", `unix:/a\`, `"${V}"`, `unix:/a\`},
		{"dollar", `unix:/a$b${c}$$.sock`, `"${V}"`, `unix:/a$b${c}$$.sock`},
		{"newline", "unix:/a\nb.sock", `"${V}"`, "unix:/a\nb.sock"},
		{"tab and control", "unix:/a\tb\x01.sock", `"${V}"`, "unix:/a\tb\x01.sock"},
		{"inside text", "node", `"unix:/${V}/internal.sock"`, "unix:/node/internal.sock"},
		{"unbraced", "node", `"unix:/$V/internal.sock"`, "unix:/node/internal.sock"},
		{"literal string", `a"b\c`, `'${V}'`, `a"b\c`},
		{"multi-line string", `a"""b`, "\"\"\"\n${V}\"\"\"", `a"""b`},
		{"escaped dollar", "x", `"$${V}"`, "${V}"},
		{"default when unset", "", `"${UNSET_VAR:-unix:/d\"ef.sock}"`, `unix:/d"ef.sock`},
		{"default when empty", "", `"${EMPTY:-unix:/def.sock}"`, "unix:/def.sock"},
		{"no default for set but empty with -", "", `"${EMPTY-unix:/def.sock}"`, ""},
		{"set wins over default", "unix:/set.sock", `"${V:-unix:/def.sock}"`, "unix:/set.sock"},
		{"unset stays as written", "", `"${UNSET_VAR}"`, "${UNSET_VAR}"},
		{"not a variable", "", `"^a${1}b$"`, "^a${1}b$"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("V", tc.value)
			body := "[[inputs.oasis_node]]\n# a $comment ${V}\naddress = " + tc.setting + "\n"
			got, err := loadAddress(t, body)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, telegrafAddress(t, body), got, "Telegraf's own loader")
		})
	}
}

func TestEnvironmentInListsAndErrors(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		t.Setenv("NODE_A", "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=")
		_, plugin, err := loadInput(writeConfig(t, `[[inputs.oasis_signing]]
  address = "unix:/node/internal.sock"
  node_ids = ["${NODE_A}", "${NODE_B:-dn2FWv+GlBij+GP9NLNCgpEd9ALmHM2w/nn0r7xPaE8=}"]
  state_file = "/state/${UNSET_VAR:-signing}.json"
`))
		require.NoError(t, err)
		p := plugin.(*oasis_signing.OasisSigning)
		require.Equal(t, []string{"GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=", "dn2FWv+GlBij+GP9NLNCgpEd9ALmHM2w/nn0r7xPaE8="}, p.NodeIDs)
		require.Equal(t, "/state/signing.json", p.StateFile)
	})
	t.Run("required", func(t *testing.T) {
		_, err := loadAddress(t, "[[inputs.oasis_node]]\n\naddress = \"${UNSET_VAR:?set it to the node's socket}\"\n")
		require.ErrorContains(t, err, "line 3")
		require.ErrorContains(t, err, "UNSET_VAR")
		require.ErrorContains(t, err, "set it to the node's socket")
	})
	t.Run("a whole unquoted value: a boolean or a number only", func(t *testing.T) {
		t.Setenv("LIMIT", "5")
		t.Setenv("ALL", "true")
		body := "[[inputs.oasis_signing]]\nstate_file = \"/s.json\"\nbackfill_limit = ${LIMIT}\nall_validators = ${ALL:-false} # comment\n"
		_, plugin, err := loadInput(writeConfig(t, body))
		require.NoError(t, err)
		p := plugin.(*oasis_signing.OasisSigning)
		require.Equal(t, int64(5), p.BackfillLimit)
		require.True(t, p.AllValidators)

		_, plugin, err = loadInput(writeConfig(t, "[[inputs.oasis_signing]]\nstate_file = \"/s.json\"\nall_validators = ${UNSET_ALL:-false}\n"))
		require.NoError(t, err)
		require.False(t, plugin.(*oasis_signing.OasisSigning).AllValidators)

		// A value that would add a setting, or is not set at all, stops start-up.
		t.Setenv("ALL", "true\nnode_ids = [\"x\"]")
		_, _, err = loadInput(writeConfig(t, body))
		require.ErrorContains(t, err, "line 4: ${ALL:-false} outside quotes must be true, false or a number")
		_, _, err = loadInput(writeConfig(t, "[[inputs.oasis_signing]]\nstate_file = \"/s.json\"\nbackfill_limit = ${UNSET_LIMIT}\n"))
		require.ErrorContains(t, err, "line 3: ${UNSET_LIMIT} is not set and has no default")
	})
	t.Run("line numbers still point into the file", func(t *testing.T) {
		t.Setenv("V", "a\nb\nc")
		_, _, err := loadInput(writeConfig(t, "[[inputs.oasis_signing]]\naddress = \"${V}\"\nstate_file = \"/s.json\"\nbackfill_limit = \"many\"\n"))
		require.ErrorContains(t, err, "line 4")
	})
}

// Every plugin config the stack ships loads with this loader, with the
// defaults and with the environment the compose stack and the tests set.
func TestShippedConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../../telegraf/*.conf")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, env := range []map[string]string{
		{},
		{"OASIS_NODE_SOCKET": "unix:/run/oasis/internal.sock", "OASIS_SIGNING_ALL_VALIDATORS": "true", "OASIS_STATE_DIR": "/var/lib/telegraf",
			"OASIS_NODE_ID": "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg=", "OASIS_NODE_NAME": "validator-1"},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		for _, f := range files {
			p, err := loadPlugin(f)
			require.NoError(t, err, "%s with %v", f, env)
			require.Equal(t, strings.TrimSuffix(filepath.Base(f), ".conf"), p.name)
		}
	}
}
