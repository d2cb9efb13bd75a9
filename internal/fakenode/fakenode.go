// Package fakenode is an oasis-node stand-in for unit tests: oasis-core's own
// gRPC services (registered with their RegisterService functions, on the real
// CBOR codec and error mapping) on a UNIX socket, backed by values the test
// sets. Methods a test has not given a value answer with an error instead of
// crashing the test binary.
package fakenode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	cmnGrpc "github.com/oasisprotocol/oasis-core/go/common/grpc"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
)

// Node is a fake oasis-node. Set its state with the Set* methods; they are
// safe to call while clients are connected.
type Node struct {
	// Socket is the path of the node's internal.sock.
	Socket string

	mu        sync.Mutex
	status    *control.Status
	statusErr error
	// consensusStatus: what Consensus.GetStatus returns (a reference node).
	consensusStatus    *consensus.Status
	consensusStatusErr error
	synced             bool
	syncedErr          error
	validators         []*scheduler.Validator
	validatorsErr      error
	calls              map[string]int
	delays             map[string]time.Duration

	// Chain holds the blocks, validator sets and node descriptors served.
	Chain *Chain
	// Ledger holds the staking, registry and governance state served.
	Ledger *Ledger

	srv *cmnGrpc.Server
}

// Start starts a fake node on a fresh socket in a temporary directory and
// stops it when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	// Socket paths are limited to 107 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "oasis")
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Socket: filepath.Join(dir, "internal.sock"), calls: map[string]int{}, Chain: newChain(), Ledger: newLedger()}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Stop()
		os.RemoveAll(dir)
	})
	return n
}

// Restart (re)starts the node's server on its socket, as a node does after
// an upgrade or crash. The state set before is kept.
func (n *Node) Restart() error {
	n.Stop()
	srv, err := cmnGrpc.NewServer(&cmnGrpc.ServerConfig{
		Name: "fakenode",
		Path: n.Socket,
		CustomOptions: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(recoverUnary),
			grpc.ChainStreamInterceptor(recoverStream),
		},
	})
	if err != nil {
		return err
	}
	control.RegisterService(srv.Server(), &fakeControl{n: n})
	scheduler.RegisterService(srv.Server(), &fakeScheduler{n: n})
	consensus.RegisterService(srv.Server(), &fakeServices{core: &fakeConsensus{n: n}})
	registry.RegisterService(srv.Server(), &fakeRegistry{n: n})
	staking.RegisterService(srv.Server(), &fakeStaking{n: n})
	governance.RegisterService(srv.Server(), &fakeGovernance{n: n})
	beacon.RegisterService(srv.Server(), &fakeBeacon{n: n})
	roothash.RegisterService(srv.Server(), &fakeRootHash{n: n})
	if err := srv.Start(); err != nil {
		return err
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
	return nil
}

// Stop stops the server and removes the socket, as a node that went down.
// Block streams end.
func (n *Node) Stop() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Stop()
		srv.Cleanup()
	}
}

// SetStatus sets what NodeController.GetStatus returns (err wins if set).
func (n *Node) SetStatus(st *control.Status, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status, n.statusErr = st, err
}

// SetConsensusStatus sets what Consensus.GetStatus returns (err wins if
// set).
func (n *Node) SetConsensusStatus(st *consensus.Status, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.consensusStatus, n.consensusStatusErr = st, err
}

// SetSynced sets what NodeController.IsSynced returns.
func (n *Node) SetSynced(synced bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.synced, n.syncedErr = synced, err
}

// SetValidators sets what Scheduler.GetValidators returns at any height.
func (n *Node) SetValidators(v []*scheduler.Validator, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.validators, n.validatorsErr = v, err
}

// Calls is how many times method (e.g. "GetStatus") was called.
func (n *Node) Calls(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[method]
}

// Delay makes every call of method (as Calls names it) take d longer: a
// slow or busy node. 0 ends it.
func (n *Node) Delay(method string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.delays == nil {
		n.delays = map[string]time.Duration{}
	}
	n.delays[method] = d
}

func (n *Node) record(method string) {
	n.mu.Lock()
	n.calls[method]++
	d := n.delays[method]
	n.mu.Unlock()
	time.Sleep(d)
}

// fakeControl implements the read-only half of the node controller; the
// embedded nil interface makes any other call fail (see recoverUnary).
type fakeControl struct {
	control.NodeController
	n *Node
}

func (f *fakeControl) GetStatus(context.Context) (*control.Status, error) {
	f.n.record("GetStatus")
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if f.n.statusErr != nil {
		return nil, f.n.statusErr
	}
	if f.n.status == nil {
		return nil, fmt.Errorf("fakenode: no status set")
	}
	return f.n.status, nil
}

func (f *fakeControl) IsSynced(context.Context) (bool, error) {
	f.n.record("IsSynced")
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return f.n.synced, f.n.syncedErr
}

type fakeScheduler struct {
	scheduler.Backend
	n *Node
}

func (f *fakeScheduler) GetValidators(context.Context, int64) ([]*scheduler.Validator, error) {
	f.n.record("GetValidators")
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return f.n.validators, f.n.validatorsErr
}

// grpc-go does not recover handler panics; calling a method a fake does not
// implement (a nil embedded interface) would crash the whole test binary.
func recoverUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fakenode: not implemented: %v", r)
		}
	}()
	return h(ctx, req)
}

func recoverStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fakenode: not implemented: %v", r)
		}
	}()
	return h(srv, ss)
}
