// Package oasistelegraf tests the oasis-telegraf binary against a real
// oasis-node (a devnet validator).
package oasistelegraf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
)

// Pointed at a real node, the binary prints line protocol holding every
// field the plugin README documents.
func TestOnceAgainstRealNode(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 10})
	path := filepath.Join(t.TempDir(), "oasis_node.conf")
	require.NoError(t, os.WriteFile(path, []byte("[[inputs.oasis_node]]\naddress = \""+net.Address(0)+"\"\nnode_id = \""+net.Validators[0].NodeID+"\"\n"), 0o600))

	bin := devnettest.BuildCommand(t, "./cmd/oasis-telegraf")
	out, err := exec.Command(bin, "-config", path, "-once").Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, stderr)

	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse(out)
	require.NoError(t, err)
	require.Len(t, metrics, 2, "the node's point and the input's own")
	m, input := metrics[0], metrics[1]
	require.Equal(t, "oasis_node", m.Name())
	require.Equal(t, "oasis_input", input.Name())
	up, _ := input.GetField("up")
	require.Equal(t, int64(1), up)

	documented, err := docfields.Fields("../../plugins/inputs/oasis_node/README.md", "oasis_node")
	require.NoError(t, err)
	require.NotEmpty(t, documented)
	for _, f := range documented {
		if f == "down_reason" {
			continue // only when the node can't be read
		}
		if strings.HasPrefix(f, "reference") {
			continue // only with [[inputs.oasis_node.reference]]: TestPipeline, TestRealReference
		}
		_, ok := m.GetField(f)
		require.True(t, ok, "field %q documented in the README is missing from %s", f, string(out))
	}
	for _, tag := range []string{"node_id", "entity_id", "chain_context"} {
		require.True(t, m.HasTag(tag), "tag %s", tag)
	}
}
