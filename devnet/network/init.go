package network

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	fileSigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/file"
	"github.com/oasisprotocol/oasis-core/go/common/entity"
	"github.com/oasisprotocol/oasis-core/go/common/identity"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	"github.com/oasisprotocol/oasis-core/go/config"
	"github.com/oasisprotocol/oasis-core/go/consensus/api/transaction"
	cmt "github.com/oasisprotocol/oasis-core/go/consensus/cometbft/api"
	"github.com/oasisprotocol/oasis-core/go/consensus/cometbft/crypto"
	consensusGenesis "github.com/oasisprotocol/oasis-core/go/consensus/genesis"
	genesis "github.com/oasisprotocol/oasis-core/go/genesis/api"
	governance "github.com/oasisprotocol/oasis-core/go/governance/api"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
	runtimeConfig "github.com/oasisprotocol/oasis-core/go/runtime/config"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
	vault "github.com/oasisprotocol/oasis-core/go/vault/api"
)

// Options shape a new network.
type Options struct {
	// Validators is the number of validators (each its own entity).
	Validators int
	// BlockInterval is CometBFT's timeout_commit: the pause between blocks.
	BlockInterval time.Duration
	// EpochBlocks is the epoch length in blocks (insecure beacon backend).
	EpochBlocks int64
	// SocketDir, when set, holds the validators' internal sockets
	// (validator-N.sock, the node config's common.internal_socket_path)
	// instead of their data directories: the layout of
	// docs/install.md#socket-access, where a monitor that is not the
	// node's user reaches the socket without entering the 0700 data
	// directory.
	SocketDir string
	// Metrics: each validator serves its Prometheus metrics (metrics.mode
	// pull) on 127.0.0.1:<metrics_port>. Off by default: a lone validator
	// with metrics on was seen to hang on SIGTERM waiting to deregister.
	Metrics bool
	// Clients is the number of client-mode nodes after the validators
	// (indices Validators to Validators+Clients-1, directories client-N):
	// full nodes that peer with every validator and validate nothing, as
	// an operator's observer node.
	Clients int
	// MaxValidators is the scheduler's max_validators: the validator set's
	// size limit. 0: 100 (every validator is elected). Below Validators,
	// the validators with the least escrow (the highest indices: escrows
	// are distinct) are left out of the set from epoch 1 on, at the first
	// election: a validator-set cutoff to test against.
	MaxValidators int
	// ComputeNodes makes validators 1 to ComputeNodes also compute nodes
	// of the devnet's ParaTime, registered in the genesis: oasis-core's
	// mock runtime provisioner answers for the runtime (no binary: Rust
	// crates can't be fetched here), and every member computes the same
	// result, so executor rounds and their liveness are real. The executor
	// committee is every compute node, with all but one allowed to
	// straggle: the rounds go on while one is stopped.
	ComputeNodes int
}

// DefaultOptions are a 4-validator network with ~1 s blocks and 30-block
// epochs: fast enough for tests, slow enough to look like a real chain.
func DefaultOptions() Options {
	return Options{Validators: 4, BlockInterval: time.Second, EpochBlocks: 30}
}

const (
	// ChainID is the genesis chain ID of every devnet.
	ChainID = "oasis-mission-control-devnet"
	// TokenSymbol and TokenExponent are the devnet token's display unit.
	TokenSymbol   = "TEST"
	TokenExponent = 9
)

// oneToken is 10^TokenExponent base units.
var oneToken = new(big.Int).Exp(big.NewInt(10), big.NewInt(TokenExponent), nil)

func tokens(n int64) quantity.Quantity {
	var q quantity.Quantity
	if err := q.FromBigInt(new(big.Int).Mul(big.NewInt(n), oneToken)); err != nil {
		panic(err) // n is a small constant; this cannot fail.
	}
	return q
}

type member struct {
	v        Validator
	identity *identity.Identity
	entity   *entity.Entity
	signer   signature.Signer
}

// Init creates a new network in dir (which must be empty or absent): one
// entity and one node identity per validator, a genesis document in which
// every validator is staked, registered and in the validator set, and a
// node configuration file per validator. It returns the manifest it wrote.
func Init(dir string, opts Options) (*Manifest, error) {
	if opts.Validators < 1 {
		return nil, fmt.Errorf("validators must be at least 1, got %d", opts.Validators)
	}
	if opts.BlockInterval <= 0 {
		return nil, fmt.Errorf("block interval must be positive, got %s", opts.BlockInterval)
	}
	if opts.EpochBlocks < 2 {
		return nil, fmt.Errorf("epoch length must be at least 2 blocks, got %d", opts.EpochBlocks)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err = os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		return nil, fmt.Errorf("devnet directory %s is not empty", dir)
	}

	if opts.Clients < 0 {
		return nil, fmt.Errorf("clients must not be negative, got %d", opts.Clients)
	}
	if opts.ComputeNodes < 0 || opts.ComputeNodes > opts.Validators-1 {
		return nil, fmt.Errorf("compute nodes must be 0 to validators-1 (%d): validator 0 stays a plain validator, got %d",
			opts.Validators-1, opts.ComputeNodes)
	}
	if opts.MaxValidators < 0 {
		return nil, fmt.Errorf("max validators must not be negative, got %d", opts.MaxValidators)
	}
	members := make([]*member, opts.Validators+opts.Clients)
	for i := range members {
		if members[i], err = newMember(dir, i, i >= opts.Validators, opts.Metrics); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		members[i].v.Compute = i >= 1 && i <= opts.ComputeNodes
	}

	delegator, err := newAccount(filepath.Join(dir, DelegatorName))
	if err != nil {
		return nil, fmt.Errorf("delegator account: %w", err)
	}
	doc, err := buildGenesis(members[:opts.Validators], delegator, opts)
	if err != nil {
		return nil, err
	}
	genesisFile := filepath.Join(dir, "genesis.json")
	if err = doc.WriteFileJSON(genesisFile); err != nil {
		return nil, fmt.Errorf("writing genesis: %w", err)
	}
	doc.SetChainContext()

	m := &Manifest{manifest.Manifest{
		Dir:           dir,
		ChainContext:  doc.ChainContext(),
		GenesisFile:   genesisFile,
		BlockInterval: opts.BlockInterval,
		EpochBlocks:   opts.EpochBlocks,
		TokenSymbol:   TokenSymbol,
	}}
	if opts.ComputeNodes > 0 {
		m.RuntimeID = RuntimeID.String()
	}
	for _, mb := range members {
		if opts.SocketDir != "" {
			mb.v.Socket = filepath.Join(opts.SocketDir, mb.name()+".sock")
		}
		if err = writeNodeConfig(mb, members, genesisFile); err != nil {
			return nil, fmt.Errorf("validator %d: node config: %w", mb.v.Index, err)
		}
		m.Validators = append(m.Validators, mb.v)
	}
	return m, m.write()
}

// name is the node's directory name: validator-N or client-N.
func (mb *member) name() string {
	if mb.v.Client {
		return "client-" + strconv.Itoa(mb.v.Index)
	}
	return "validator-" + strconv.Itoa(mb.v.Index)
}

func newMember(dir string, index int, client, metrics bool) (*member, error) {
	mb := &member{v: Validator{Index: index, Client: client}}
	mb.v.DataDir = filepath.Join(dir, mb.name())
	mb.v.EntityDir = filepath.Join(dir, "entity-"+strconv.Itoa(index))
	mb.v.ConfigFile = filepath.Join(mb.v.DataDir, "config.yml")
	mb.v.Socket = filepath.Join(mb.v.DataDir, "internal.sock")
	for _, d := range []string{mb.v.DataDir, mb.v.EntityDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}

	entFactory, err := fileSigner.NewFactory(mb.v.EntityDir, signature.SignerEntity)
	if err != nil {
		return nil, err
	}
	if mb.entity, mb.signer, err = entity.Generate(mb.v.EntityDir, entFactory, nil); err != nil {
		return nil, fmt.Errorf("generating entity: %w", err)
	}
	nodeFactory, err := fileSigner.NewFactory(mb.v.DataDir, identity.RequiredSignerRoles...)
	if err != nil {
		return nil, err
	}
	if mb.identity, err = identity.LoadOrGenerate(mb.v.DataDir, nodeFactory); err != nil {
		return nil, fmt.Errorf("generating node identity: %w", err)
	}
	// The entity must list its node so that the node may register itself.
	mb.entity.Nodes = []signature.PublicKey{mb.identity.NodeSigner.Public()}
	if _, err = entity.GenerateWithSigner(mb.v.EntityDir, mb.signer, mb.entity); err != nil {
		return nil, fmt.Errorf("rewriting entity: %w", err)
	}

	if mb.v.ConsensusPort, err = proc.FreePort(); err != nil {
		return nil, err
	}
	if mb.v.P2PPort, err = proc.FreePort(); err != nil {
		return nil, err
	}
	if metrics {
		if mb.v.MetricsPort, err = proc.FreePort(); err != nil {
			return nil, err
		}
	}
	consKey := mb.identity.ConsensusSigner.Public()
	mb.v.NodeID = mb.identity.NodeSigner.Public().String()
	mb.v.EntityID = mb.entity.ID.String()
	mb.v.EntityAddress = staking.NewAddress(mb.entity.ID).String()
	mb.v.ConsensusKey = consKey.String()
	mb.v.ConsensusAddress = crypto.PublicKeyToCometBFT(&consKey).Address().String()
	return mb, nil
}

// consensusAddress is how other nodes reach this one over CometBFT P2P: the
// P2P key is CometBFT's node key.
func (mb *member) consensusAddress() (node.ConsensusAddress, error) {
	var a node.ConsensusAddress
	a.ID = mb.identity.P2PSigner.Public()
	err := a.Address.FromIP(net.ParseIP("127.0.0.1"), uint16(mb.v.ConsensusPort))
	return a, err
}

// newAccount creates a funded account's key in dir.
func newAccount(dir string) (signature.PublicKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return signature.PublicKey{}, err
	}
	factory, err := fileSigner.NewFactory(dir, signature.SignerEntity)
	if err != nil {
		return signature.PublicKey{}, err
	}
	s, err := factory.Generate(signature.SignerEntity, rand.Reader)
	if err != nil {
		return signature.PublicKey{}, err
	}
	return s.Public(), nil
}

// maxValidators is opts.MaxValidators, 100 when unset.
func maxValidators(opts Options) int {
	if opts.MaxValidators == 0 {
		return 100
	}
	return opts.MaxValidators
}

func buildGenesis(members []*member, delegator signature.PublicKey, opts Options) (*genesis.Document, error) {
	maxExpiration := beacon.EpochTime(2)
	doc := &genesis.Document{
		Height:  1,
		ChainID: ChainID,
		Time:    time.Now().UTC().Truncate(time.Second),
		Beacon: beacon.Genesis{
			Parameters: beacon.ConsensusParameters{
				Backend:            beacon.BackendInsecure,
				InsecureParameters: &beacon.InsecureParameters{Interval: opts.EpochBlocks},
			},
		},
		Registry: registry.Genesis{
			Parameters: registry.ConsensusParameters{
				DebugAllowUnroutableAddresses: true,
				MaxNodeExpiration:             maxExpiration,
				EnableRuntimeGovernanceModels: map[registry.RuntimeGovernanceModel]bool{
					registry.GovernanceEntity: true,
				},
			},
		},
		Scheduler: scheduler.Genesis{
			Parameters: scheduler.ConsensusParameters{
				MinValidators:          1,
				MaxValidators:          maxValidators(opts),
				MaxValidatorsPerEntity: 1,
			},
		},
		Governance: governance.Genesis{
			Parameters: governance.ConsensusParameters{
				StakeThreshold:                 68,
				UpgradeCancelMinEpochDiff:      8,
				UpgradeMinEpochDiff:            8,
				VotingPeriod:                   5,
				MinProposalDeposit:             tokens(100),
				EnableChangeParametersProposal: true,
				AllowProposalMetadata:          true,
			},
		},
		RootHash: roothash.Genesis{
			Parameters: roothash.ConsensusParameters{
				MaxRuntimeMessages:   32,
				MaxInRuntimeMessages: 32,
			},
		},
		Consensus: consensusGenesis.Genesis{
			Backend: cmt.BackendName,
			Parameters: consensusGenesis.Parameters{
				TimeoutCommit:   opts.BlockInterval,
				MaxTxSize:       32 * 1024,
				MaxBlockSize:    1024 * 1024,
				MaxEvidenceSize: 1024 * 1024,
				GasCosts: transaction.Costs{
					consensusGenesis.GasOpTxByte: 1,
				},
			},
		},
		Vault: &vault.Genesis{Parameters: vault.DefaultConsensusParameters},
	}
	var err error
	if doc.Staking, err = buildStaking(members, delegator); err != nil {
		return nil, err
	}
	if opts.ComputeNodes > 0 {
		doc.Registry.Runtimes = []*registry.Runtime{devnetRuntime(members[0].entity.ID, opts.ComputeNodes)}
	}

	for _, mb := range members {
		signedEnt, err := entity.SignEntity(mb.signer, registry.RegisterGenesisEntitySignatureContext, mb.entity)
		if err != nil {
			return nil, err
		}
		doc.Registry.Entities = append(doc.Registry.Entities, signedEnt)

		consAddr, err := mb.consensusAddress()
		if err != nil {
			return nil, err
		}
		var p2pAddr node.Address
		if err = p2pAddr.FromIP(net.ParseIP("127.0.0.1"), uint16(mb.v.P2PPort)); err != nil {
			return nil, err
		}
		id := mb.identity
		n := &node.Node{
			Versioned:  cbor.NewVersioned(node.LatestNodeDescriptorVersion),
			ID:         id.NodeSigner.Public(),
			EntityID:   mb.entity.ID,
			Expiration: maxExpiration,
			TLS:        node.TLSInfo{PubKey: id.TLSSigner.Public()},
			P2P:        node.P2PInfo{ID: id.P2PSigner.Public(), Addresses: []node.Address{p2pAddr}},
			Consensus: node.ConsensusInfo{
				ID:        id.ConsensusSigner.Public(),
				Addresses: []node.ConsensusAddress{consAddr},
			},
			VRF:   node.VRFInfo{ID: id.VRFSigner.Public()},
			Roles: node.RoleValidator,
		}
		signers := []signature.Signer{id.NodeSigner, id.P2PSigner, id.ConsensusSigner, id.VRFSigner, id.TLSSigner}
		signed, err := node.MultiSignNode(signers, registry.RegisterGenesisNodeSignatureContext, n)
		if err != nil {
			return nil, err
		}
		doc.Registry.Nodes = append(doc.Registry.Nodes, signed)
	}
	if err = doc.SanityCheck(); err != nil {
		return nil, fmt.Errorf("genesis sanity check: %w", err)
	}
	return doc, nil
}

// buildStaking funds every validator entity with a general balance and a
// self-delegated escrow, and the delegator account with a general balance.
// Escrows differ (validator 0 has the most) so that ranks by escrow are
// distinct.
func buildStaking(members []*member, delegator signature.PublicKey) (staking.Genesis, error) {
	st := staking.Genesis{
		Parameters: staking.ConsensusParameters{
			Thresholds: map[staking.ThresholdKind]quantity.Quantity{
				staking.KindEntity:            tokens(100),
				staking.KindNodeValidator:     tokens(100),
				staking.KindNodeCompute:       tokens(100),
				staking.KindNodeObserver:      tokens(100),
				staking.KindNodeKeyManager:    tokens(100),
				staking.KindRuntimeCompute:    tokens(100),
				staking.KindRuntimeKeyManager: tokens(100),
				staking.KindKeyManagerChurp:   tokens(100),
			},
			DebondingInterval:                 2,
			SigningRewardThresholdNumerator:   3,
			SigningRewardThresholdDenominator: 4,
			CommissionScheduleRules: staking.CommissionScheduleRules{
				RateChangeInterval: 1,
				RateBoundLead:      10,
				MaxRateSteps:       10,
				MaxBoundSteps:      10,
			},
			Slashing: map[staking.SlashReason]staking.Slash{
				staking.SlashConsensusEquivocation: {Amount: tokens(10), FreezeInterval: 1},
			},
			MinDelegationAmount:     tokens(1),
			MinTransferAmount:       tokens(1),
			MaxAllowances:           16,
			FeeSplitWeightVote:      *quantity.NewFromUint64(1),
			RewardFactorEpochSigned: *quantity.NewFromUint64(1),
		},
		TokenSymbol:        TokenSymbol,
		TokenValueExponent: TokenExponent,
		Ledger:             map[staking.Address]*staking.Account{},
		Delegations:        map[staking.Address]map[staking.Address]*staking.Delegation{},
	}
	total := new(big.Int)
	for i, mb := range members {
		addr := staking.NewAddress(mb.entity.ID)
		general := tokens(1_000_000)
		escrow := tokens(int64(100_000 - 10_000*(i%9)))
		st.Ledger[addr] = &staking.Account{
			General: staking.GeneralAccount{Balance: general},
			Escrow: staking.EscrowAccount{
				Active: staking.SharePool{Balance: escrow, TotalShares: escrow},
			},
		}
		st.Delegations[addr] = map[staking.Address]*staking.Delegation{addr: {Shares: escrow}}
		total.Add(total, general.ToBigInt())
		total.Add(total, escrow.ToBigInt())
	}
	delegatorFunds := tokens(1_000_000)
	st.Ledger[staking.NewAddress(delegator)] = &staking.Account{General: staking.GeneralAccount{Balance: delegatorFunds}}
	total.Add(total, delegatorFunds.ToBigInt())
	if err := st.TotalSupply.FromBigInt(total); err != nil {
		return st, err
	}
	return st, nil
}

// writeNodeConfig writes the oasis-node configuration of one validator: a
// validator-mode node on loopback that peers with every other validator.
func writeNodeConfig(mb *member, all []*member, genesisFile string) error {
	cfg := config.DefaultConfig()
	cfg.Mode = config.ModeValidator
	if mb.v.Client {
		cfg.Mode = config.ModeClient
	}
	cfg.Common.DataDir = mb.v.DataDir
	if mb.v.Socket != filepath.Join(mb.v.DataDir, "internal.sock") {
		cfg.Common.InternalSocketPath = mb.v.Socket
	}
	cfg.Common.Log.File = filepath.Join(mb.v.DataDir, "node.log")
	cfg.Common.Log.Format = "JSON"
	cfg.Common.Log.Level = map[string]string{"default": "info"}
	cfg.Common.Debug.AllowRoot = true
	cfg.Genesis.File = genesisFile
	cfg.Consensus.Validator = !mb.v.Client
	cfg.Consensus.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", mb.v.ConsensusPort)
	cfg.Consensus.ExternalAddress = cfg.Consensus.ListenAddress
	cfg.Consensus.Debug.P2PAllowDuplicateIP = true
	cfg.Consensus.Debug.P2PAddrBookLenient = true
	cfg.P2P.Port = uint16(mb.v.P2PPort)
	// The node's own Prometheus metrics, as an operator turns them on for
	// Telegraf's inputs.prometheus (telegraf.conf).
	if mb.v.MetricsPort != 0 {
		cfg.Metrics.Mode = "pull"
		cfg.Metrics.Address = fmt.Sprintf("127.0.0.1:%d", mb.v.MetricsPort)
	}
	if !mb.v.Client {
		cfg.Registration.Entity = filepath.Join(mb.v.EntityDir, "entity.json")
	}
	if mb.v.Compute {
		// A validator that also hosts the ParaTime; the runtime's ID is
		// given to the node at start (oasis-devnet node: runtime.debug.mock_ids,
		// a setting the config file can't hold).
		cfg.Mode = config.ModeCompute
		cfg.Runtime.Provisioner = runtimeConfig.RuntimeProvisionerMock
		cfg.P2P.Registration.Addresses = []string{fmt.Sprintf("127.0.0.1:%d", mb.v.P2PPort)}
	}
	for _, other := range all {
		if other == mb {
			continue
		}
		a, err := other.consensusAddress()
		if err != nil {
			return err
		}
		text, err := a.MarshalText()
		if err != nil {
			return err
		}
		cfg.Consensus.P2P.PersistentPeer = append(cfg.Consensus.P2P.PersistentPeer, string(text))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	raw, err := yaml.Marshal(&cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(mb.v.ConfigFile, raw, 0o600)
}
