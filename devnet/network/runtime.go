package network

import (
	"time"

	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/hash"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
	scheduler "github.com/oasisprotocol/oasis-core/go/scheduler/api"
)

// RuntimeID is the devnet's ParaTime: a compute runtime (not a test
// namespace, so no debug registry parameter is needed).
var RuntimeID = func() common.Namespace {
	var id [common.NamespaceIDSize]byte
	copy(id[len(id)-8:], "omcdevrt")
	ns, err := common.NewNamespace(id, 0)
	if err != nil {
		panic(err)
	}
	return ns
}()

// devnetRuntime is the ParaTime's genesis descriptor, owned by entity:
// every compute node in the executor committee, all but one allowed to
// straggle; liveness evaluated from the first round, a node below 90 %
// live rounds in an epoch faulted and suspended.
func devnetRuntime(entity signature.PublicKey, computeNodes int) *registry.Runtime {
	// The state starts empty: the empty tree's root, not the zero hash
	// (a node's storage worker refuses a genesis it can't match).
	var emptyRoot hash.Hash
	emptyRoot.Empty()
	return &registry.Runtime{
		Versioned: cbor.NewVersioned(registry.LatestRuntimeDescriptorVersion),
		ID:        RuntimeID,
		EntityID:  entity,
		Kind:      registry.KindCompute,
		Genesis:   registry.RuntimeGenesis{StateRoot: emptyRoot},
		Executor: registry.ExecutorParameters{
			GroupSize:                  uint16(computeNodes),
			AllowedStragglers:          uint16(computeNodes - 1),
			RoundTimeout:               5,
			MaxMessages:                32,
			MinLiveRoundsPercent:       90,
			MinLiveRoundsForEvaluation: 1,
			MaxLivenessFailures:        2,
		},
		TxnScheduler: registry.TxnSchedulerParameters{
			BatchFlushTimeout: time.Second,
			MaxBatchSize:      100,
			MaxBatchSizeBytes: 16 * 1024,
			ProposerTimeout:   2 * time.Second,
		},
		AdmissionPolicy: registry.RuntimeAdmissionPolicy{AnyNode: &registry.AnyNodeRuntimeAdmissionPolicy{}},
		Constraints: map[scheduler.CommitteeKind]map[scheduler.Role]registry.SchedulingConstraints{
			scheduler.KindComputeExecutor: {
				scheduler.RoleWorker: {MinPoolSize: &registry.MinPoolSizeConstraint{Limit: uint16(computeNodes)}},
			},
		},
		GovernanceModel: registry.GovernanceEntity,
		Deployments:     []*registry.VersionInfo{{}},
	}
}
