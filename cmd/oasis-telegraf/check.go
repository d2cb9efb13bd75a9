package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// checkReport is what -check prints: one line per check, "ok", "FAIL" or
// "skip", and for a failure what to do.
type checkReport struct {
	w      io.Writer
	failed int
}

func (r *checkReport) ok(what, format string, args ...any) {
	fmt.Fprintf(r.w, "ok    %-10s %s\n", what, fmt.Sprintf(format, args...))
}

func (r *checkReport) fail(what string, err error) {
	r.failed++
	fmt.Fprintf(r.w, "FAIL  %-10s %v\n", what, err)
}

func (r *checkReport) skip(what, why string) {
	fmt.Fprintf(r.w, "skip  %-10s %s\n", what, why)
}

// influxTarget is where -check tries a write; empty URL: not checked.
type influxTarget struct {
	url, database, user, password string
}

// runCheck checks, for the plugin configured in a file, everything a first
// run needs: who this process is, the node's socket (there, a socket,
// usable by this user), the node (answers, is the configured node, is a
// validator, is synced) and, when given, that InfluxDB takes a write. It
// returns the process exit code: 0 when nothing failed.
// role is the node's (-role, else OASIS_NODE_ROLE): a node that is not a
// validator is not checked for a seat in the validator set.
func runCheck(w io.Writer, name string, plugin telegraf.Input, influx influxTarget, role string) int {
	r := &checkReport{w: w}
	r.ok("process", "%s", nodeclient.Identity())

	cfg, ok := nodeConfig(plugin)
	if !ok {
		r.fail("config", fmt.Errorf("[[inputs.%s]] has no node address", name))
		return 1
	}
	target, err := nodeclient.ParseAddress(cfg.Address)
	if err != nil {
		r.fail("address", err)
		return 1
	}
	if target.Unix {
		path := strings.TrimPrefix(target.Dial, "unix:")
		if err := nodeclient.CheckSocket(path); err != nil {
			r.fail("socket", fmt.Errorf("%w [%s]", err, nodeclient.Reason(err)))
		} else {
			r.ok("socket", "%s accepts connections from this user", path)
		}
	}

	if r.failed == 0 {
		checkNode(r, cfg, expectedNodeID(plugin), role)
	} else {
		r.skip("node", "the socket must work first")
	}

	if influx.url == "" {
		r.skip("influxdb", "no -influxdb-url (or INFLUX_URL): the write is not checked")
	} else if err := tryWrite(influx); err != nil {
		r.fail("influxdb", err)
	} else {
		r.ok("influxdb", "%s takes writes to database %s as user %s", influx.url, influx.database, influx.user)
	}

	if r.failed > 0 {
		fmt.Fprintf(w, "%d check(s) failed; fix them and run -check again (socket access: %s)\n", r.failed, nodeclient.SocketAccessDoc)
		return 1
	}
	fmt.Fprintln(w, "all checks passed")
	return 0
}

func checkNode(r *checkReport, cfg nodeclient.Config, wantID, role string) {
	c, err := nodeclient.New(cfg)
	if err != nil {
		r.fail("node", err)
		return
	}
	defer c.Close()
	st, err := c.NodeStatus(context.Background())
	if err != nil {
		r.fail("node", fmt.Errorf("%w [%s]", err, nodeclient.Reason(err)))
		return
	}
	r.ok("node", "answers: oasis-node %s, node %s", st.SoftwareVersion, st.Identity.Node)
	if wantID != "" && st.Identity.Node.String() != wantID {
		r.fail("node_id", fmt.Errorf("the node at %s is %s, not the configured node_id %s", c.Target(), st.Identity.Node, wantID))
	} else if wantID == "" {
		r.skip("node_id", fmt.Sprintf("not set; set OASIS_NODE_ID=%s (.env, or telegraf.env natively) so a node that is down still reports under its ID", st.Identity.Node))
	} else {
		r.ok("node_id", "matches the configuration")
	}
	// The entity's ID, for OASIS_ENTITY_ID and its name (names in alerts).
	if reg := st.Registration; reg != nil && reg.Descriptor != nil {
		r.ok("entity", "%s (for OASIS_ENTITY_ID, with OASIS_ENTITY_NAME your name for it)", reg.Descriptor.EntityID)
	} else {
		r.skip("entity", "the node has not registered yet: its entity is not known")
	}
	if st.Consensus == nil {
		r.fail("consensus", fmt.Errorf("the node reports no consensus state (mode %q)", st.Mode))
		return
	}
	if st.Consensus.IsValidator {
		r.ok("validator", "in the current validator set")
	} else if role != "" && role != "validator" {
		r.skip("validator", fmt.Sprintf("not in the validator set, as a %s is not", role))
	} else {
		r.fail("validator", fmt.Errorf("not in the current validator set at height %d (a sentry or a node still joining reads this too)", st.Consensus.LatestHeight))
	}
	if synced, err := c.IsSynced(context.Background()); err != nil {
		r.fail("synced", err)
	} else if !synced {
		r.fail("synced", fmt.Errorf("the node is still syncing (height %d)", st.Consensus.LatestHeight))
	} else {
		r.ok("synced", "height %d", st.Consensus.LatestHeight)
	}
}

// nodeConfig is the node client settings every plugin embeds.
func nodeConfig(plugin telegraf.Input) (nodeclient.Config, bool) {
	v := reflect.ValueOf(plugin)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	f := v.FieldByName("Config")
	if !f.IsValid() {
		return nodeclient.Config{}, false
	}
	cfg, ok := f.Interface().(nodeclient.Config)
	return cfg, ok
}

// expectedNodeID is the plugin's node_id setting, if it has one.
func expectedNodeID(plugin telegraf.Input) string {
	v := reflect.ValueOf(plugin)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if f := v.FieldByName("NodeID"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// tryWrite writes one point (measurement oasis_telegraf_check) the way
// Telegraf's InfluxDB output does.
func tryWrite(in influxTarget) error {
	u, err := url.Parse(strings.TrimRight(in.url, "/") + "/write")
	if err != nil {
		return fmt.Errorf("-influxdb-url %q: %w", in.url, err)
	}
	q := u.Query()
	q.Set("db", in.database)
	q.Set("precision", "s")
	u.RawQuery = q.Encode()
	line := fmt.Sprintf("oasis_telegraf_check ok=1i %d\n", time.Now().Unix())
	req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(line))
	if err != nil {
		return err
	}
	if in.user != "" {
		req.SetBasicAuth(in.user, in.password)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("writing to %s: %w", in.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("writing to %s database %s as %s: %s %s", in.url, in.database, in.user, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
