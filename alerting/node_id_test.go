package alerting

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNodeDownWithoutNodeID: with node_id not configured and the node down
// since Telegraf started (a reboot with the node not up yet), oasis_node's
// points carry no node_id tag. oasis_node_down must still fire, and its
// message must say which host and that the node's ID is unknown, not
// "node  not answering".
func TestNodeDownWithoutNodeID(t *testing.T) {
	k := startKapacitor(t, nil, nil, nil)
	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	var lp strings.Builder
	for i := 0; i <= 6; i++ {
		fmt.Fprintf(&lp, "oasis_node,host=validator-1 up=0i,down_reason=\"no_socket\" %d\n", start.Add(time.Duration(i)*10*time.Second).UnixNano())
	}
	k.feed(t, []byte(lp.String()))
	got := k.eventsOf("oasis_node_down")
	if len(got) != 1 || got[0].Level != "CRITICAL" {
		t.Fatalf("want one CRITICAL oasis_node_down for the node without node_id, got:\n%s", show(got))
	}
	want := "CRITICAL [validator-1] oasis_node_down: node (node_id not set: set OASIS_NODE_ID, or -node-id in its telegraf/nodes file) not answering for 30 s. (observed 2026-11-27 03:00:30 UTC) Runbook: docs/alerts.md#oasis_node_down"
	if got[0].Message != want {
		t.Errorf("message\n got: %s\nwant: %s", got[0].Message, want)
	}
}
