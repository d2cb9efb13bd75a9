package execdlog

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLinesStartWithTheLevel(t *testing.T) {
	var out bytes.Buffer
	w := &stripTimestamp{w: &out, source: []byte("[inputs.oasis_node] ")}
	_, err := w.Write([]byte("2026-11-24T18:00:00Z E! (category=,plugin=) Error in plugin: boom\n2026-11-24T18:00:01Z W! (plugin=,category=) careful\nno timestamp here\n"))
	require.NoError(t, err)
	require.Equal(t, "E! [inputs.oasis_node] Error in plugin: boom\nW! [inputs.oasis_node] careful\nno timestamp here\n", out.String())
}
