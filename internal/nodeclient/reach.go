package nodeclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Why a node could not be read, as the `down_reason` of an up=0 point, so
// an alert can tell "the node is down" from "the monitor can't reach it".
const (
	// ReasonNoSocket: nothing at the socket path (node stopped, or the
	// path or its mount is wrong).
	ReasonNoSocket = "no_socket"
	// ReasonPermissionDenied: the socket or a directory above it exists
	// but this process may not use it. The node may be fine: the monitor
	// is blind.
	ReasonPermissionDenied = "permission_denied"
	// ReasonNotASocket: the path holds something else than a socket.
	ReasonNotASocket = "not_a_socket"
	// ReasonNotAnswering: the socket is there but nobody accepts on it
	// (a stale socket of a stopped node), or the node did not answer in
	// time.
	ReasonNotAnswering = "not_answering"
	// ReasonQueryFailed: the node answered, with an error.
	ReasonQueryFailed = "query_failed"
	// ReasonWrongNode: the socket belongs to another node than node_id.
	ReasonWrongNode = "wrong_node"
)

// SocketAccessDoc is where the docs explain the socket layout and access.
const SocketAccessDoc = "docs/install.md#socket-access"

// ReachError is a failed call classified by why the node could not be
// read.
type ReachError struct {
	Reason string
	Err    error
}

func (e *ReachError) Error() string { return e.Err.Error() }
func (e *ReachError) Unwrap() error { return e.Err }

// Reason classifies err (from any Client call) for a down_reason field.
func Reason(err error) string {
	var re *ReachError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ReasonQueryFailed
}

// CheckSocket looks at a UNIX socket the way the client will use it, with
// no gRPC: that the path exists, is a socket, may be connected to by this
// process, and that something accepts the connection. It returns nil or a
// *ReachError whose message names the path, this process's user and groups
// and what to do.
func CheckSocket(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrPermission):
		return &ReachError{ReasonPermissionDenied, fmt.Errorf("socket %s: %s can't be entered by %s; join the directory's group, or put the socket in a directory of its own that the monitor's group may enter (see %s)",
			path, blockingDir(path), Identity(), SocketAccessDoc)}
	case errors.Is(err, os.ErrNotExist):
		return &ReachError{ReasonNoSocket, fmt.Errorf("socket %s does not exist: the node is stopped, or the path (or its mount) is wrong", path)}
	case err != nil:
		return &ReachError{ReasonNotAnswering, fmt.Errorf("socket %s: %w", path, err)}
	case fi.Mode()&os.ModeSocket == 0:
		return &ReachError{ReasonNotASocket, fmt.Errorf("%s is not a socket (%s); point address at the node's internal.sock", path, fi.Mode())}
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(context.Background(), "unix", path)
	switch {
	case err == nil:
		_ = conn.Close()
		return nil
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return &ReachError{ReasonPermissionDenied, fmt.Errorf("socket %s (%s): permission denied for %s; the socket must be group-writable by a group this process is in (see %s)",
			path, owner(fi), Identity(), SocketAccessDoc)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &ReachError{ReasonNotAnswering, fmt.Errorf("socket %s exists but nothing accepts on it: the node is stopped or still starting", path)}
	default:
		return &ReachError{ReasonNotAnswering, fmt.Errorf("socket %s: %w", path, err)}
	}
}

// Identity names this process's user and groups, for permission errors:
// "user telegraf (uid 999), groups telegraf (999), oasis-monitor (1001)".
func Identity() string {
	uid := os.Getuid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	groups, _ := os.Getgroups()
	gids := append([]int{os.Getgid()}, groups...)
	seen := map[int]bool{}
	var parts []string
	for _, gid := range gids {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		parts = append(parts, groupName(gid))
	}
	return fmt.Sprintf("user %s (uid %d), groups %s", name, uid, strings.Join(parts, ", "))
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return fmt.Sprintf("%s (%d)", g.Name, gid)
	}
	return strconv.Itoa(gid)
}

// owner describes a file's owner, group and mode: "owner oasis, group
// oasis-monitor, mode srwxrwx---".
func owner(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Mode().String()
	}
	name := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("owner %s, group %s, mode %s", name, groupName(int(st.Gid)), fi.Mode())
}

// blockingDir names the first directory on path's way that this process
// may not enter, with its owner, group and mode (a node's 0700 data
// directory, or a socket directory of a group the monitor is not in).
func blockingDir(path string) string {
	dir := string(filepath.Separator)
	for _, part := range strings.Split(filepath.Dir(filepath.Clean(path)), string(filepath.Separator)) {
		if part == "" {
			continue
		}
		dir = filepath.Join(dir, part)
		if syscall.Access(dir, 1 /* X_OK */) != nil {
			if fi, err := os.Stat(dir); err == nil {
				return fmt.Sprintf("directory %s (%s)", dir, owner(fi))
			}
			return "directory " + dir
		}
	}
	return "a directory on its path"
}
