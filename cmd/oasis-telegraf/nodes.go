package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// rolePlugins are the per-role defaults: which of our inputs run for a node
// of each role. A sentry, a compute node and an observer sign no consensus
// blocks (a sentry shields a validator; a compute node's entity may
// validate, through another node), so only a validator's install follows
// the blocks; every role's node is read by oasis_node. The ParaTimes a node
// hosts are read for a compute node and for a validator (which may host
// one too; with none, oasis_runtime writes only its own input point). The
// entity and governance inputs are the entity's, run once per install, not
// per node.
var rolePlugins = map[string][]string{
	"validator": {"oasis_node", "oasis_signing", "oasis_runtime"},
	"sentry":    {"oasis_node"},
	"compute":   {"oasis_node", "oasis_runtime"},
	"observer":  {"oasis_node"},
}

func roleNames() []string {
	names := make([]string, 0, len(rolePlugins))
	for r := range rolePlugins {
		names = append(names, r)
	}
	sort.Strings(names)
	return names
}

// checkRole says whether the input runs for a node of that role; an unknown
// role is an error (a typo must not silently turn an input off).
func checkRole(role, input string) (bool, error) {
	plugins, ok := rolePlugins[role]
	if !ok {
		return false, fmt.Errorf("-role %q: unknown role; one of %s", role, strings.Join(roleNames(), ", "))
	}
	return slices.Contains(plugins, input), nil
}

// idle is an input that is off (for its node's role, or by -enabled): it
// says why once and then answers Telegraf's gathers (lines on stdin) with
// nothing, until stdin closes. Exiting instead would make [[inputs.execd]]
// restart it every restart_delay, and log an error each time.
func idle(in io.Reader, log io.Writer, why string) {
	fmt.Fprintf(log, "I! %s; this process stays idle\n", why)
	_, _ = io.Copy(io.Discard, in)
}

func rolesOf(input string) []string {
	var roles []string
	for _, r := range roleNames() {
		if slices.Contains(rolePlugins[r], input) {
			roles = append(roles, r)
		}
	}
	return roles
}

// nodeNamePattern: a node's name is a tag value, a file name and part of
// a state file's name: plain letters, digits, dot, dash, underscore.
var nodeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// newNode is what `oasis-telegraf -new-node` writes: the Telegraf config of
// one more node an install reads, for telegraf/nodes/NAME.conf.
type newNode struct {
	name, role, address, nodeID string
}

func (n newNode) validate() error {
	if !nodeNamePattern.MatchString(n.name) {
		return fmt.Errorf("-new-node %q: a node's name is 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit (e.g. sentry-1); it becomes the source tag and the file's name", n.name)
	}
	if _, ok := rolePlugins[n.role]; !ok {
		return fmt.Errorf("-role %q: unknown role; one of %s", n.role, strings.Join(roleNames(), ", "))
	}
	if n.address == "" {
		return fmt.Errorf("-address is required: the node's socket (unix:/run/oasis-sentry-1/internal.sock) or host:port of a TLS endpoint")
	}
	if strings.ContainsAny(n.address, "\"\\$'\n\r\t") {
		return fmt.Errorf("-address %q: quotes, backslashes, $ and control characters are not accepted in an address", n.address)
	}
	if _, err := nodeclient.ParseAddress(n.address); err != nil {
		return fmt.Errorf("-address: %w", err)
	}
	if n.nodeID != "" {
		var pk signature.PublicKey
		if err := pk.UnmarshalText([]byte(n.nodeID)); err != nil {
			return fmt.Errorf("-node-id %q: not a node ID (base64 of 32 bytes; `oasis-telegraf -config oasis_node.conf -check` prints it): %w", n.nodeID, err)
		}
	}
	return nil
}

// write prints the node's [[inputs.execd]] tables: one per input its role
// runs, each tagged with the node's name (source) and role, each given the
// node's address and ID through its environment. Every setting an input
// would otherwise inherit from the install's own node (OASIS_NODE_ID,
// all_validators, the state file) is set here, so it can't leak in.
func (n newNode) write(w io.Writer) error {
	if err := n.validate(); err != nil {
		return err
	}
	fmt.Fprintf(w, `# Node %[1]s, role %[2]s: written by
#   oasis-telegraf -new-node %[1]s -role %[2]s -address %[3]s%[4]s
# Telegraf reads every *.conf in telegraf/nodes/ (docs/install.md#several-nodes);
# a new or changed file takes effect when Telegraf restarts
# (docker compose restart telegraf; natively systemctl restart telegraf).
# The name is the source tag of every point read from this node, the role
# its role tag. A new name starts new series: rename a node only with a
# silence on, as for a move to a new host.
`, n.name, n.role, n.address, map[bool]string{true: " -node-id " + n.nodeID}[n.nodeID != ""])
	for _, input := range rolePlugins[n.role] {
		env := []string{"OASIS_NODE_SOCKET=" + n.address, "OASIS_NODE_ID=" + n.nodeID}
		if input == "oasis_signing" {
			env = append(env,
				"OASIS_SIGNING_STATE_NAME=oasis_signing-"+n.name,
				"OASIS_SIGNING_ALL_VALIDATORS=false")
		}
		quoted := make([]string, len(env))
		for i, e := range env {
			quoted[i] = `"` + e + `"`
		}
		fmt.Fprintf(w, `
[[inputs.execd]]
  command = ["${OASIS_TELEGRAF_BIN:-/usr/local/bin/oasis-telegraf}", "-config", "${OASIS_CONFIG_DIR:-/etc/telegraf/oasis}/%s.conf", "-role", "%s"]
  environment = [%s]
  signal = "STDIN"
  restart_delay = "10s"
  data_format = "influx"
  [inputs.execd.tags]
    source = "%s"
    role = "%s"
`, input, n.role, strings.Join(quoted, ", "), n.name, n.role)
	}
	return nil
}
