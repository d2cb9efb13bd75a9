// Package nodeclient is the one place that talks to oasis-node: it dials the
// node's gRPC socket, bounds every call with a timeout, survives node
// restarts, and exposes only read-only queries. Plugins use it and never
// import gRPC themselves.
package nodeclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/influxdata/telegraf/config"
	commontls "github.com/influxdata/telegraf/plugins/common/tls"
	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	"github.com/oasisprotocol/oasis-core/go/common/entity"
	cmnGrpc "github.com/oasisprotocol/oasis-core/go/common/grpc"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
	control "github.com/oasisprotocol/oasis-core/go/control/api"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	upgrade "github.com/oasisprotocol/oasis-core/go/upgrade/api"
)

// DefaultTimeout bounds each call to the node when the plugin sets none.
const DefaultTimeout = 5 * time.Second

// Config holds the connection settings shared by every plugin; plugins embed
// it so that each has the same `address`, `timeout` and `tls_*` settings.
type Config struct {
	// Address of the node's gRPC API; see ParseAddress for the forms.
	Address string `toml:"address"`
	// Timeout bounds each call to the node.
	Timeout config.Duration `toml:"timeout"`
	// TLS settings, used only for a host:port address.
	commontls.ClientConfig
}

// Client is a read-only client of one oasis-node. It is safe for concurrent
// use. The connection is made on the first call and re-made by gRPC after
// the node restarts; no call blocks longer than the timeout.
type Client struct {
	target  Target
	timeout time.Duration
	conn    *grpc.ClientConn

	control    *control.NodeControllerClient
	registry   *registry.Client
	consensus  *consensus.Client
	scheduler  *scheduler.Client
	staking    *staking.Client
	governance *governance.Client
	beacon     *beacon.Client
	roothash   *roothash.Client

	calls atomic.Uint64
}

// New validates cfg and prepares a client. It does not contact the node, so
// a node that is down at start-up is not a configuration error.
func New(cfg Config) (*Client, error) {
	target, err := ParseAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must be positive, e.g. timeout = \"5s\"", timeout)
	}

	var creds credentials.TransportCredentials
	if target.Unix {
		if cfg.TLSCA != "" || cfg.TLSCert != "" || cfg.TLSKey != "" {
			return nil, fmt.Errorf("tls_ca/tls_cert/tls_key apply only to a host:port address, not to the unix socket %q", cfg.Address)
		}
		creds = insecure.NewCredentials()
	} else {
		tlsCfg, err := cfg.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("tls settings: %w", err)
		}
		if tlsCfg == nil {
			// No tls_* settings: verify the server against the system roots.
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(tlsCfg)
	}

	conn, err := cmnGrpc.Dial(target.Dial,
		grpc.WithTransportCredentials(creds),
		// gRPC backs off up to 2 minutes between reconnects by default; a
		// restarted node should be seen again within a gather or two.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: timeout,
		}),
		// The allowlist runs first: a refused method never reaches the
		// connection, whatever the other interceptors do.
		grpc.WithChainUnaryInterceptor(readOnlyUnary, waitForReady),
		grpc.WithChainStreamInterceptor(readOnlyStream),
	)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", cfg.Address, err)
	}
	return &Client{
		target:     target,
		timeout:    timeout,
		conn:       conn,
		control:    control.NewNodeControllerClient(conn),
		registry:   registry.NewClient(conn),
		consensus:  consensus.NewClient(conn),
		scheduler:  scheduler.NewClient(conn),
		staking:    staking.NewClient(conn),
		governance: governance.NewClient(conn),
		beacon:     beacon.NewClient(conn),
		roothash:   roothash.NewClient(conn),
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Target is the gRPC target the client dials, for error messages.
func (c *Client) Target() string { return c.target.Dial }

// Calls is the number of calls made to the node so far; plugins' tests use
// it to keep the load on the node known.
func (c *Client) Calls() uint64 { return c.calls.Load() }

// reconnectBudget bounds the wait for a restarted node inside one call.
const reconnectBudget = time.Second

// call runs one query under the client's timeout and names it in the error.
func call[T any](ctx context.Context, c *Client, method string, fn func(context.Context) (T, error)) (T, error) {
	c.calls.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil && status.Code(err) == codes.Unavailable {
		// While gRPC backs off after a failed connection, calls fail at
		// once, even if the node has restarted since. Dial now and give the
		// node a moment; report the first error if it is still not there.
		c.conn.ResetConnectBackoff()
		retryCtx, cancelRetry := context.WithTimeout(context.WithValue(ctx, waitForReadyKey{}, true), reconnectBudget)
		defer cancelRetry()
		c.calls.Add(1)
		if v2, err2 := fn(retryCtx); err2 == nil {
			v, err = v2, nil
		}
	}
	if err != nil {
		return v, c.classify(fmt.Errorf("%s on %s: %w", method, c.target.Dial, err), err)
	}
	return v, nil
}

// classify turns a failed call into a *ReachError. A node that could not be
// reached over a UNIX socket is looked at without gRPC (CheckSocket), so the
// error says whether the socket is missing, not ours to use, or not
// answering, and names the socket and this process's user and groups.
func (c *Client) classify(wrapped, cause error) error {
	code := status.Code(cause)
	if code != codes.Unavailable && code != codes.DeadlineExceeded {
		return &ReachError{Reason: ReasonQueryFailed, Err: wrapped}
	}
	if c.target.Unix {
		if err := CheckSocket(strings.TrimPrefix(c.target.Dial, "unix:")); err != nil {
			return err
		}
	}
	return &ReachError{Reason: ReasonNotAnswering, Err: wrapped}
}

type waitForReadyKey struct{}

// waitForReady makes a call marked by call's retry wait for the connection
// to become ready (within its deadline) instead of failing fast. oasis-core's
// typed clients take no call options, hence the context marker.
func waitForReady(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if ctx.Value(waitForReadyKey{}) != nil {
		opts = append(opts, grpc.WaitForReady(true))
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// NodeStatus is the node's own status report (control.GetStatus): identity,
// consensus, registration, pending upgrades.
func (c *Client) NodeStatus(ctx context.Context) (*control.Status, error) {
	return call(ctx, c, "NodeController.GetStatus", c.control.GetStatus)
}

// IsSynced reports whether the node considers its consensus state synced.
func (c *Client) IsSynced(ctx context.Context) (bool, error) {
	return call(ctx, c, "NodeController.IsSynced", c.control.IsSynced)
}

// Validators is the validator set (node, entity, voting power) at height.
func (c *Client) Validators(ctx context.Context, height int64) ([]*scheduler.Validator, error) {
	return call(ctx, c, "Scheduler.GetValidators", func(ctx context.Context) ([]*scheduler.Validator, error) {
		return c.scheduler.GetValidators(ctx, height)
	})
}

// Block is the block at height (consensus.HeightLatest for the latest), with
// its CometBFT header and last commit in Meta (see internal/blockmeta).
func (c *Client) Block(ctx context.Context, height int64) (*consensus.Block, error) {
	return call(ctx, c, "Consensus.GetBlock", func(ctx context.Context) (*consensus.Block, error) {
		return c.consensus.GetBlock(ctx, height)
	})
}

// Account is the staking account of owner at height.
func (c *Client) Account(ctx context.Context, owner staking.Address, height int64) (*staking.Account, error) {
	return call(ctx, c, "Staking.Account", func(ctx context.Context) (*staking.Account, error) {
		return c.staking.Account(ctx, &staking.OwnerQuery{Height: height, Owner: owner})
	})
}

// ActiveProposals are the governance proposals open for voting at height.
func (c *Client) ActiveProposals(ctx context.Context, height int64) ([]*governance.Proposal, error) {
	return call(ctx, c, "Governance.ActiveProposals", func(ctx context.Context) ([]*governance.Proposal, error) {
		return c.governance.ActiveProposals(ctx, height)
	})
}

// Votes are the votes cast on proposal id as of height.
func (c *Client) Votes(ctx context.Context, id uint64, height int64) ([]*governance.VoteEntry, error) {
	return call(ctx, c, "Governance.Votes", func(ctx context.Context) ([]*governance.VoteEntry, error) {
		return c.governance.Votes(ctx, &governance.ProposalQuery{Height: height, ProposalID: id})
	})
}

// ChainContext is the chain's domain separation context: it changes with
// every new genesis (a network upgrade's dump-and-restore, a reset).
func (c *Client) ChainContext(ctx context.Context) (string, error) {
	return call(ctx, c, "Consensus.GetChainContext", c.consensus.GetChainContext)
}

// ConsensusStatus is the consensus backend's status: latest height, time
// and epoch. Unlike NodeStatus it is part of the public API, so a public
// gRPC endpoint answers it too (a reference node).
func (c *Client) ConsensusStatus(ctx context.Context) (*consensus.Status, error) {
	return call(ctx, c, "Consensus.GetStatus", c.consensus.GetStatus)
}

// LatestHeight is the height of the latest block the node has.
func (c *Client) LatestHeight(ctx context.Context) (int64, error) {
	return call(ctx, c, "Consensus.GetLatestHeight", c.consensus.GetLatestHeight)
}

// LastRetainedHeight is the oldest height the node still has (it prunes
// older ones).
func (c *Client) LastRetainedHeight(ctx context.Context) (int64, error) {
	return call(ctx, c, "Consensus.GetLastRetainedHeight", c.consensus.GetLastRetainedHeight)
}

// ConsensusValidators is the CometBFT validator set at height (decode it
// with blockmeta.ValidatorSet).
func (c *Client) ConsensusValidators(ctx context.Context, height int64) (*consensus.Validators, error) {
	return call(ctx, c, "Consensus.GetValidators", func(ctx context.Context) (*consensus.Validators, error) {
		return c.consensus.GetValidators(ctx, height)
	})
}

// Node is the registry's descriptor of node id at height.
func (c *Client) Node(ctx context.Context, id signature.PublicKey, height int64) (*node.Node, error) {
	return call(ctx, c, "Registry.GetNode", func(ctx context.Context) (*node.Node, error) {
		return c.registry.GetNode(ctx, &registry.IDQuery{Height: height, ID: id})
	})
}

// Nodes are every node descriptor the registry holds at height, expired
// ones not yet removed included (the validator election's input).
func (c *Client) Nodes(ctx context.Context, height int64) ([]*node.Node, error) {
	return call(ctx, c, "Registry.GetNodes", func(ctx context.Context) ([]*node.Node, error) {
		return c.registry.GetNodes(ctx, height)
	})
}

// RuntimeState is the roothash state of runtime id at height: its
// descriptor, last block, last normal round, executor committee and the
// epoch's liveness statistics.
func (c *Client) RuntimeState(ctx context.Context, id common.Namespace, height int64) (*roothash.RuntimeState, error) {
	return call(ctx, c, "RootHash.GetRuntimeState", func(ctx context.Context) (*roothash.RuntimeState, error) {
		return c.roothash.GetRuntimeState(ctx, &roothash.RuntimeRequest{RuntimeID: id, Height: height})
	})
}

// RegistryParameters are the registry's consensus parameters at height
// (the TEE features: the default maximum attestation age).
func (c *Client) RegistryParameters(ctx context.Context, height int64) (*registry.ConsensusParameters, error) {
	return call(ctx, c, "Registry.ConsensusParameters", func(ctx context.Context) (*registry.ConsensusParameters, error) {
		return c.registry.ConsensusParameters(ctx, height)
	})
}

// NodeByConsensusAddress is the descriptor of the node whose CometBFT
// address is addr, at height.
func (c *Client) NodeByConsensusAddress(ctx context.Context, addr []byte, height int64) (*node.Node, error) {
	return call(ctx, c, "Registry.GetNodeByConsensusAddress", func(ctx context.Context) (*node.Node, error) {
		return c.registry.GetNodeByConsensusAddress(ctx, &registry.ConsensusAddressQuery{Height: height, Address: addr})
	})
}

// WatchBlocks streams new blocks until ctx ends or the connection breaks
// (the channel is then closed). It is not bounded by the call timeout.
func (c *Client) WatchBlocks(ctx context.Context) (<-chan *consensus.Block, func(), error) {
	c.calls.Add(1)
	ch, sub, err := c.consensus.WatchBlocks(ctx)
	if err != nil {
		return nil, nil, c.classify(fmt.Errorf("Consensus.WatchBlocks on %s: %w", c.target.Dial, err), err)
	}
	return ch, sub.Close, nil
}

// DelegationsTo are the (active) delegations to owner's escrow, by delegator.
func (c *Client) DelegationsTo(ctx context.Context, owner staking.Address, height int64) (map[staking.Address]*staking.Delegation, error) {
	return call(ctx, c, "Staking.DelegationsTo", func(ctx context.Context) (map[staking.Address]*staking.Delegation, error) {
		return c.staking.DelegationsTo(ctx, &staking.OwnerQuery{Height: height, Owner: owner})
	})
}

// Token is the chain's token symbol and the exponent from base units to it.
func (c *Client) Token(ctx context.Context) (symbol string, exponent uint8, err error) {
	symbol, err = call(ctx, c, "Staking.TokenSymbol", func(ctx context.Context) (string, error) {
		return c.staking.TokenSymbol(ctx, consensus.HeightLatest)
	})
	if err != nil {
		return "", 0, err
	}
	exponent, err = call(ctx, c, "Staking.TokenValueExponent", func(ctx context.Context) (uint8, error) {
		return c.staking.TokenValueExponent(ctx, consensus.HeightLatest)
	})
	return symbol, exponent, err
}

// Entity is the registry's descriptor of entity id (its nodes) at height.
func (c *Client) Entity(ctx context.Context, id signature.PublicKey, height int64) (*entity.Entity, error) {
	return call(ctx, c, "Registry.GetEntity", func(ctx context.Context) (*entity.Entity, error) {
		return c.registry.GetEntity(ctx, &registry.IDQuery{Height: height, ID: id})
	})
}

// RegistryNodeStatus is the registry's status of node id (frozen, election
// eligibility) at height.
func (c *Client) RegistryNodeStatus(ctx context.Context, id signature.PublicKey, height int64) (*registry.NodeStatus, error) {
	return call(ctx, c, "Registry.GetNodeStatus", func(ctx context.Context) (*registry.NodeStatus, error) {
		return c.registry.GetNodeStatus(ctx, &registry.IDQuery{Height: height, ID: id})
	})
}

// SchedulerParameters are the scheduler's consensus parameters (e.g. the
// maximum validator set size) at height.
func (c *Client) SchedulerParameters(ctx context.Context, height int64) (*scheduler.ConsensusParameters, error) {
	return call(ctx, c, "Scheduler.ConsensusParameters", func(ctx context.Context) (*scheduler.ConsensusParameters, error) {
		return c.scheduler.ConsensusParameters(ctx, height)
	})
}

// Epoch is the epoch of height.
func (c *Client) Epoch(ctx context.Context, height int64) (beacon.EpochTime, error) {
	return call(ctx, c, "Beacon.GetEpoch", func(ctx context.Context) (beacon.EpochTime, error) {
		return c.beacon.GetEpoch(ctx, height)
	})
}

// EpochStart is the first height of epoch (the current one or a past one).
func (c *Client) EpochStart(ctx context.Context, epoch beacon.EpochTime) (int64, error) {
	return call(ctx, c, "Beacon.GetEpochBlock", func(ctx context.Context) (int64, error) {
		return c.beacon.GetEpochBlock(ctx, epoch)
	})
}

// NextEpoch is the next epoch transition scheduled as of the latest
// height: the epoch and its first height; ok is false when none is.
func (c *Client) NextEpoch(ctx context.Context) (epoch beacon.EpochTime, height int64, ok bool, err error) {
	fut, err := call(ctx, c, "Beacon.GetFutureEpoch", func(ctx context.Context) (*beacon.EpochTimeState, error) {
		return c.beacon.GetFutureEpoch(ctx, consensus.HeightLatest)
	})
	if err != nil || fut == nil || fut.Height <= 0 {
		return 0, 0, false, err
	}
	return fut.Epoch, fut.Height, true, nil
}

// StakingParameters are the staking application's consensus parameters
// (the signing reward threshold) at height.
func (c *Client) StakingParameters(ctx context.Context, height int64) (*staking.ConsensusParameters, error) {
	return call(ctx, c, "Staking.ConsensusParameters", func(ctx context.Context) (*staking.ConsensusParameters, error) {
		return c.staking.ConsensusParameters(ctx, height)
	})
}

// Proposals are all governance proposals, open and closed, at height.
func (c *Client) Proposals(ctx context.Context, height int64) ([]*governance.Proposal, error) {
	return call(ctx, c, "Governance.Proposals", func(ctx context.Context) ([]*governance.Proposal, error) {
		return c.governance.Proposals(ctx, height)
	})
}

// PendingUpgrades are the upgrades governance has scheduled, at height.
func (c *Client) PendingUpgrades(ctx context.Context, height int64) ([]*upgrade.Descriptor, error) {
	return call(ctx, c, "Governance.PendingUpgrades", func(ctx context.Context) ([]*upgrade.Descriptor, error) {
		return c.governance.PendingUpgrades(ctx, height)
	})
}

// OwnEntity is the entity that owns the node described by st: from its
// registration, or, when it has not (re-)registered since it started, from
// the registry's descriptor of it.
func (c *Client) OwnEntity(ctx context.Context, st *control.Status) (signature.PublicKey, error) {
	if reg := st.Registration; reg != nil && reg.Descriptor != nil {
		return reg.Descriptor.EntityID, nil
	}
	n, err := c.Node(ctx, st.Identity.Node, consensus.HeightLatest)
	if err != nil {
		return signature.PublicKey{}, fmt.Errorf("node %s has no registration: %w", st.Identity.Node, err)
	}
	return n.EntityID, nil
}
