package nodeclient

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// ExampleAddress is shown in every address error so the operator sees a
// valid value next to the invalid one.
const ExampleAddress = `address = "unix:/run/oasis/internal.sock"`

// Target is a parsed node address.
type Target struct {
	// Dial is the gRPC target string ("unix:/abs/path" or "host:port").
	Dial string
	// Unix is true for a local UNIX socket (no transport security: the
	// socket's file permissions are its security, as in oasis-node itself).
	Unix bool
}

// ParseAddress checks a node address as an operator writes it in the plugin
// configuration and returns the gRPC target for it. Accepted forms:
//
//	unix:/run/oasis/internal.sock     oasis-node's socket (the documented layout
//	unix:///run/oasis/internal.sock   sets common.internal_socket_path; the
//	                                  node's default is <datadir>/internal.sock)
//	/run/oasis/internal.sock          a bare absolute path
//	node.example.com:9100             a TLS proxy in front of a remote node's socket
//
// oasis-node has no TCP listener for its API; the TCP form is for a TLS
// terminating proxy (e.g. nginx/envoy h2c) in front of the socket.
func ParseAddress(address string) (Target, error) {
	a := strings.TrimSpace(address)
	if a == "" {
		return Target{}, fmt.Errorf("address is empty; set it to the node's internal socket, e.g. %s", ExampleAddress)
	}
	switch {
	case strings.HasPrefix(a, "unix://"):
		return unixTarget(address, strings.TrimPrefix(a, "unix://"))
	case strings.HasPrefix(a, "unix:"):
		return unixTarget(address, strings.TrimPrefix(a, "unix:"))
	case strings.HasPrefix(a, "/"):
		return unixTarget(address, a)
	case strings.Contains(a, "://"):
		return Target{}, fmt.Errorf("address %q: unsupported scheme; use a unix socket (%s) or host:port of a TLS proxy", address, ExampleAddress)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" || port == "" {
		return Target{}, fmt.Errorf("address %q: neither an absolute socket path nor host:port; e.g. %s", address, ExampleAddress)
	}
	return Target{Dial: net.JoinHostPort(host, port)}, nil
}

func unixTarget(original, path string) (Target, error) {
	if path == "" || !filepath.IsAbs(path) {
		return Target{}, fmt.Errorf("address %q: the socket path must be absolute, e.g. %s", original, ExampleAddress)
	}
	if strings.HasSuffix(path, "/") {
		return Target{}, fmt.Errorf("address %q: names a directory; point at the socket file inside it, e.g. %s", original, ExampleAddress)
	}
	// The kernel limits a socket path to 107 bytes (sun_path).
	if len(path) > 107 {
		return Target{}, fmt.Errorf("address %q: socket path is %d bytes, longer than the kernel's limit of 107; mount the socket at a shorter path, e.g. %s", original, len(path), ExampleAddress)
	}
	return Target{Dial: "unix:" + filepath.Clean(path), Unix: true}, nil
}
