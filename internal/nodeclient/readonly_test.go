package nodeclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	cmnGrpc "github.com/oasisprotocol/oasis-core/go/common/grpc"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
)

// recordingNode is a gRPC server that answers every method with
// Unimplemented and remembers which methods reached it.
type recordingNode struct {
	mu      sync.Mutex
	methods []string
}

func (r *recordingNode) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	r.mu.Lock()
	r.methods = append(r.methods, method)
	r.mu.Unlock()
	return status.Error(codes.Unimplemented, "recorded")
}

func (r *recordingNode) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.methods...)
}

func startRecordingNode(t *testing.T) (*recordingNode, string) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "internal.sock")
	l, err := net.Listen("unix", socket)
	require.NoError(t, err)
	r := &recordingNode{}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(r.handle), grpc.ForceServerCodec(&cmnGrpc.CBORCodec{}))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return r, socket
}

// Methods that control the node never leave the client; the queries the
// plugins make do.
func TestOnlyReadOnlyMethodsReachTheNode(t *testing.T) {
	node, socket := startRecordingNode(t)
	c, err := New(Config{Address: "unix:" + socket})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()

	for _, method := range []string{
		"/oasis-core.NodeController/RequestShutdown",
		"/oasis-core.NodeController/UpgradeBinary",
		"/oasis-core.NodeController/CancelUpgrade",
		"/oasis-core.NodeController/AddBundle",
		"/oasis-core.Consensus/SubmitTx",
		"/oasis-core.Consensus/EstimateGas",
		"/oasis-core.NodeController/GetStatusX",
	} {
		err := c.conn.Invoke(ctx, method, true, new(cbor.RawMessage))
		require.Equal(t, codes.PermissionDenied, status.Code(err), method)
		require.ErrorContains(t, err, method+" refused by oasis-mission-control's node client")
		_, err = c.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
		require.Equal(t, codes.PermissionDenied, status.Code(err), method)
	}
	require.Empty(t, node.seen(), "no refused method reached the node")

	// A read-only query goes through (and the recording node refuses it).
	_, err = c.NodeStatus(ctx)
	require.Equal(t, codes.Unimplemented, status.Code(err))
	require.Equal(t, []string{"/oasis-core.NodeController/GetStatus"}, node.seen())
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, _, err = c.WatchBlocks(watchCtx)
	require.NotContains(t, fmt.Sprint(err), "refused by oasis-mission-control")
}

// Every query the Client offers is on the list: each one, against the
// recording node, reaches it (and is refused there, not locally).
func TestEveryQueryIsAllowed(t *testing.T) {
	node, socket := startRecordingNode(t)
	c, err := New(Config{Address: "unix:" + socket})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	var id signature.PublicKey
	var addr staking.Address
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(c.NodeStatus(ctx))
	collect(c.IsSynced(ctx))
	collect(c.Validators(ctx, 1))
	collect(c.Block(ctx, 1))
	collect(c.Account(ctx, addr, 1))
	collect(c.ActiveProposals(ctx, 1))
	collect(c.Votes(ctx, 1, 1))
	collect(c.ChainContext(ctx))
	collect(c.ConsensusStatus(ctx))
	collect(c.LatestHeight(ctx))
	collect(c.LastRetainedHeight(ctx))
	collect(c.ConsensusValidators(ctx, 1))
	collect(c.Node(ctx, id, 1))
	collect(c.Nodes(ctx, 1))
	collect(c.NodeByConsensusAddress(ctx, make([]byte, 20), 1))
	collect(c.DelegationsTo(ctx, addr, 1))
	_, _, err = c.Token(ctx)
	errs = append(errs, err)
	collect(c.Entity(ctx, id, 1))
	collect(c.RegistryNodeStatus(ctx, id, 1))
	collect(c.SchedulerParameters(ctx, 1))
	collect(c.Proposals(ctx, 1))
	collect(c.PendingUpgrades(ctx, 1))
	collect(c.Epoch(ctx, 1))
	collect(c.EpochStart(ctx, 1))
	_, _, _, err = c.NextEpoch(ctx)
	errs = append(errs, err)
	collect(c.StakingParameters(ctx, 1))
	collect(c.RuntimeState(ctx, common.Namespace{}, 1))
	collect(c.RegistryParameters(ctx, 1))
	for _, err := range errs {
		require.Error(t, err)
		require.NotEqual(t, codes.PermissionDenied, status.Code(errors.Unwrap(err)), "%v", err)
		require.NotContains(t, err.Error(), "refused by oasis-mission-control")
	}
	seen := map[string]bool{}
	for _, m := range node.seen() {
		seen[m] = true
	}
	for _, m := range ReadOnlyMethods() {
		switch m {
		case "/oasis-core.Consensus/WatchBlocks":
			continue // a stream; allowed in TestOnlyReadOnlyMethodsReachTheNode
		case "/oasis-core.Staking/TokenValueExponent":
			continue // Token stops at TokenSymbol's error here; the entity tests reach it on the fake node
		}
		require.True(t, seen[m], "%s is on the allowlist but no query uses it", m)
	}
}
