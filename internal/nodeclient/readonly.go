package nodeclient

import (
	"context"
	"fmt"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readOnlyMethods are the only gRPC methods this client may call: the
// read-only queries the plugins use. oasis-node's internal socket has no
// authentication and also serves RequestShutdown, UpgradeBinary,
// SubmitTx and the like, so the client refuses anything else itself,
// before a byte leaves the process: a bug in a plugin can't control the
// node.
var readOnlyMethods = map[string]bool{
	"/oasis-core.NodeController/GetStatus":           true,
	"/oasis-core.NodeController/IsSynced":            true,
	"/oasis-core.Consensus/GetBlock":                 true,
	"/oasis-core.Consensus/GetChainContext":          true,
	"/oasis-core.Consensus/GetStatus":                true,
	"/oasis-core.Consensus/GetLatestHeight":          true,
	"/oasis-core.Consensus/GetLastRetainedHeight":    true,
	"/oasis-core.Consensus/GetValidators":            true,
	"/oasis-core.Consensus/WatchBlocks":              true,
	"/oasis-core.Registry/GetNode":                   true,
	"/oasis-core.Registry/GetNodes":                  true,
	"/oasis-core.Registry/GetNodeByConsensusAddress": true,
	"/oasis-core.Registry/GetEntity":                 true,
	"/oasis-core.Registry/GetNodeStatus":             true,
	"/oasis-core.Registry/ConsensusParameters":       true,
	"/oasis-core.Scheduler/GetValidators":            true,
	"/oasis-core.Scheduler/ConsensusParameters":      true,
	"/oasis-core.Staking/Account":                    true,
	"/oasis-core.Staking/ConsensusParameters":        true,
	"/oasis-core.Beacon/GetEpoch":                    true,
	"/oasis-core.Beacon/GetEpochBlock":               true,
	"/oasis-core.Beacon/GetFutureEpoch":              true,
	"/oasis-core.Staking/DelegationsTo":              true,
	"/oasis-core.Staking/TokenSymbol":                true,
	"/oasis-core.Staking/TokenValueExponent":         true,
	"/oasis-core.Governance/ActiveProposals":         true,
	"/oasis-core.Governance/Proposals":               true,
	"/oasis-core.Governance/Votes":                   true,
	"/oasis-core.Governance/PendingUpgrades":         true,
	"/oasis-core.RootHash/GetRuntimeState":           true,
}

// ReadOnlyMethods lists the gRPC methods the client may call, sorted (for
// the docs and tests).
func ReadOnlyMethods() []string {
	out := make([]string, 0, len(readOnlyMethods))
	for m := range readOnlyMethods {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func refuse(method string) error {
	return status.Error(codes.PermissionDenied, fmt.Sprintf(
		"%s refused by oasis-mission-control's node client: it makes only read-only queries", method))
}

// readOnlyUnary fails a unary call to any method not on the list, locally.
func readOnlyUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if !readOnlyMethods[method] {
		return refuse(method)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// readOnlyStream does the same for streams (WatchBlocks).
func readOnlyStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if !readOnlyMethods[method] {
		return nil, refuse(method)
	}
	return streamer(ctx, desc, cc, method, opts...)
}
