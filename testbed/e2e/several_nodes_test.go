package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/dashboards"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// TestSeveralNodesOneInstall runs the two topologies of
// docs/install.md#several-nodes on a devnet of three validators and one
// client node, into one central InfluxDB and alerting engine:
//   - host-a, one install reading three nodes: its own validator-0 (.env),
//     and, from files oasis-telegraf -new-node wrote into its nodes
//     directory, validator-1 (role validator) and observer-3 (the client
//     node, role observer, no node ID given);
//   - host-b, a second agent reading validator-2's node as a sentry
//     (OASIS_NODE_ROLE=sentry, named sentry-2): its signing input stays
//     idle, and it does not read the entity (OASIS_READ_ENTITY=false).
//
// Every node's points carry its name and role; only validators' blocks are
// followed; the setup overview's table shows one row per node; the
// observer, killed, pages under its name and recovers.
func TestSeveralNodesOneInstall(t *testing.T) {
	const interval = 10 * time.Second // telegraf.conf's default
	net := devnettest.Start(t, devnettest.Options{Validators: 3, Clients: 1, BlockInterval: 500 * time.Millisecond, EpochBlocks: 20})
	v0, v1, v2, client := net.Validators[0], net.Validators[1], net.Validators[2], net.Validators[3]
	require.True(t, client.Client, "node 3 is the client node")
	in := stacktest.StartInflux(t)
	sink := newAlertSink(t)
	k := stacktest.StartKapacitor(t, in, "KAPACITOR_HTTPPOST_0_URL="+sink.URL, "KAPACITOR_HTTP_LOG_ENABLED=false")

	// The node files, as the docs have the operator write them.
	bin := devnettest.BuildCommand(t, "./cmd/oasis-telegraf")
	nodesDir := t.TempDir()
	newNode := func(args ...string) {
		out, err := exec.Command(bin, append([]string{"-new-node"}, args...)...).Output()
		require.NoError(t, err, "oasis-telegraf -new-node %v: %s", args, stderrOf(err))
		require.NoError(t, os.WriteFile(filepath.Join(nodesDir, args[0]+".conf"), out, 0o644))
	}
	newNode("validator-1", "-role", "validator", "-address", "unix:"+v1.Socket, "-node-id", v1.NodeID)
	newNode("observer-3", "-role", "observer", "-address", "unix:"+client.Socket)

	tgA := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: v0.Socket, Interval: interval, NodesDir: nodesDir,
		Env: []string{"OASIS_HOSTNAME=host-a", "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + v0.NodeID,
			"OASIS_NODE_NAME=validator-0", "OASIS_ENTITY_ID=" + v0.EntityID},
	})
	// The second agent: its own host name (and state, ports).
	tgB := stacktest.StartTelegrafWith(t, in, nativestack.TelegrafOptions{
		Socket: v2.Socket, Interval: interval,
		Env: []string{"OASIS_HOSTNAME=host-b", "OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + v2.NodeID,
			"OASIS_NODE_NAME=sentry-2", "OASIS_NODE_ROLE=sentry", "OASIS_READ_ENTITY=false"},
	})
	defer func() {
		if t.Failed() {
			t.Logf("every alert:%s", summary(sink.since(time.Time{})))
			t.Logf("telegraf host-a log:\n%s", tgA.Log())
			t.Logf("telegraf host-b log:\n%s", tgB.Log())
			t.Logf("oasis-kapacitord log (tail):\n%s", tail(k.Log(), 4000))
		}
	}()

	// The setup overview's table: one row per node, on both hosts, each
	// answering, named by the name it is read under.
	nodesTable := setupNodesQuery(t)
	want := []string{
		"host-a validator-0 validator " + v0.NodeID,
		"host-a validator-1 validator " + v1.NodeID,
		"host-a observer-3 observer " + client.NodeID,
		"host-b sentry-2 sentry " + v2.NodeID,
	}
	sort.Strings(want)
	wait.Value(t, func() (bool, string) {
		var rows []string
		for _, s := range influxQL(t, in, nodesTable) {
			col := columns(s)
			row := s.Values[len(s.Values)-1]
			if row[col["up"]] == nil || fmt.Sprint(row[col["up"]]) != "1" || row[col["name"]] != s.Tags["source"] || row[col["height"]] == nil {
				continue
			}
			rows = append(rows, strings.Join([]string{s.Tags["host"], s.Tags["source"], s.Tags["role"], s.Tags["node_id"]}, " "))
		}
		sort.Strings(rows)
		return strings.Join(rows, "\n") == strings.Join(want, "\n"), fmt.Sprintf("rows up and named:\n%s", strings.Join(rows, "\n"))
	}, 2*time.Minute, 2*time.Second, "the setup overview shows every node, up, by name and role")

	// Blocks are followed for the validators only, each by its own input
	// (its own state file), and each validator's signing points are named
	// by the node they were read from. The sentry's signing input is idle.
	wait.Value(t, func() (bool, string) {
		got := map[string]string{}
		for _, s := range influxQL(t, in, `SELECT last("node_name") AS "name", last("signed_total") FROM "oasis_signing" WHERE time > now() - 1m AND "monitored" = 1 GROUP BY "host", "source", "role", "node_id"`) {
			got[s.Tags["host"]+" "+s.Tags["source"]+" "+s.Tags["role"]+" "+s.Tags["node_id"]] = fmt.Sprint(s.Values[0][1])
		}
		ok := len(got) == 2 && got["host-a validator-0 validator "+v0.NodeID] == "validator-0" &&
			got["host-a validator-1 validator "+v1.NodeID] == "validator-1"
		return ok, fmt.Sprintf("monitored validators by input: %v", got)
	}, time.Minute, 2*time.Second, "each validator's signing is followed by its own input, named")
	var followed []string
	for _, s := range influxQL(t, in, `SELECT count("up") FROM "oasis_input" WHERE "input" = 'oasis_signing' GROUP BY "host", "source", "role"`) {
		followed = append(followed, s.Tags["host"]+" "+s.Tags["source"]+" "+s.Tags["role"])
	}
	require.ElementsMatch(t, []string{"host-a validator-0 validator", "host-a validator-1 validator"}, followed, "blocks followed for validators only")
	require.Contains(t, tgB.Log(), "oasis_signing is not run for a node of role sentry (it runs for: validator); this process stays idle")
	require.Contains(t, tgB.Log(), "oasis_entity is turned off for this install (-enabled=false)")
	// The entity is read once, by host-a.
	for _, s := range influxQL(t, in, `SELECT count("up") FROM "oasis_entity" GROUP BY "host"`) {
		require.Equal(t, "host-a", s.Tags["host"], "only host-a reads the entity")
	}

	// The observer dies (SIGKILL): one page under its name, then recovery.
	killed := time.Now()
	net.KillValidator(3)
	down := sink.await(t, killed, "oasis_node_down:"+client.NodeID, "CRITICAL", 55*time.Second)
	require.True(t, strings.HasPrefix(down.Message, "CRITICAL [observer-3] oasis_node_down: node "+client.NodeID), "%s", down.Message)
	restarted := time.Now()
	net.StartValidator(3)
	up := sink.await(t, restarted, "oasis_node_down:"+client.NodeID, "OK", 40*time.Second)
	require.True(t, strings.HasPrefix(up.Message, "RECOVERED [observer-3] oasis_node_down"), "%s", up.Message)

	// Every query of the setup overview returns data from this stack; the
	// ParaTime panels' (no node here hosts one) in TestPipeline, whose
	// devnet runs a ParaTime.
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				if d.UID == "oasis-setup" && q.Measurement != "oasis_runtime" {
					require.True(t, hasValue(influxQL(t, in, grafanaMacros(q.Text, nil))), "%s / %s returned no data", d.Title, p.Title)
				}
			}
		}
	}
}

// setupNodesQuery is the setup overview's Nodes table query, as Grafana
// sends it.
func setupNodesQuery(t *testing.T) string {
	t.Helper()
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			if d.UID == "oasis-setup" && p.Title == "Nodes" {
				return grafanaMacros(p.Queries[0].Text, nil)
			}
		}
	}
	t.Fatal("the setup overview's Nodes table is gone")
	return ""
}

func columns(s influxSeries) map[string]int {
	col := map[string]int{}
	for i, c := range s.Columns {
		col[c] = i
	}
	return col
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
