package oasis_runtime

import (
	"fmt"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	"github.com/oasisprotocol/oasis-core/go/common"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/node"
	registry "github.com/oasisprotocol/oasis-core/go/registry/api"
)

// addAttestation adds the node's TEE attestation for runtime id: the
// consensus height it was made at, its age, and how many blocks are left
// before the registry's maximum age makes it stale. A node asks for a new
// attestation at a random point between 50 % and 90 % of the maximum age
// (runtime/registry/notifier_light.go), so a healthy one can be down to a
// tenth of it; one that keeps aging can't attest (AESM/PCCS trouble, an
// outdated TCB), and past the maximum age its registration is refused. The
// registry enforces the age only with signed attestations
// (tee_features.sgx.signed_attestations): attestation_age_enforced.
//
// Only the attestation's height is read (a field of the SGXAttestation
// structure, which TDX nodes use too), not its quote: this does not verify
// the attestation, the registry does.
func addAttestation(fields map[string]any, desc *node.Node, rt registryRuntime, height int64, params func() (*registry.ConsensusParameters, error)) error {
	if desc == nil || rt.runtime == nil || rt.runtime.TEEHardware == node.TEEHardwareInvalid {
		return nil
	}
	// The descriptor's entry for the version the runtime runs now, as the
	// scheduler picks it; else any entry for the runtime.
	dep := rt.runtime.ActiveDeployment(rt.epoch)
	var tee *node.CapabilityTEE
	for _, r := range desc.Runtimes {
		if !r.ID.Equal(&rt.id) || r.Capabilities.TEE == nil {
			continue
		}
		if tee == nil || (dep != nil && r.Version == dep.Version) {
			tee = r.Capabilities.TEE
		}
	}
	if tee == nil {
		fields["attested"] = int64(0)
		return nil
	}
	fields["attested"] = int64(1)
	var raw map[string]cbor.RawMessage
	if err := cbor.Unmarshal(tee.Attestation, &raw); err != nil {
		return fmt.Errorf("decoding the node's attestation: %w", err)
	}
	h, ok := raw["height"]
	if !ok {
		// A version 0 (IAS) attestation carries no height.
		return nil
	}
	var attHeight uint64
	if err := cbor.Unmarshal(h, &attHeight); err != nil {
		return fmt.Errorf("decoding the node's attestation height: %w", err)
	}
	fields["attestation_height"] = int64(attHeight)
	age := height - int64(attHeight)
	fields["attestation_age_blocks"] = age
	p, err := params()
	if err != nil {
		return err
	}
	var features node.TEEFeatures
	if p.TEEFeatures != nil {
		features = *p.TEEFeatures
	}
	fields["attestation_age_enforced"] = boolInt(features.SGX.SignedAttestations)
	// The runtime's own constraint, else the registry's default (as the
	// registry applies them: TEEFeaturesSGX.ApplyDefaultConstraints).
	var sc node.SGXConstraints
	if dep != nil && len(dep.TEE) > 0 {
		if err := cbor.Unmarshal(dep.TEE, &sc); err != nil {
			return fmt.Errorf("decoding the runtime's TEE constraints: %w", err)
		}
	}
	features.SGX.ApplyDefaultConstraints(&sc)
	maxAge := sc.MaxAttestationAge
	if maxAge > 0 {
		fields["attestation_max_age_blocks"] = int64(maxAge)
		fields["attestation_blocks_left"] = int64(maxAge) - age
		fields["attestation_left_share"] = float64(int64(maxAge)-age) / float64(maxAge)
	}
	return nil
}

// registryRuntime is what addAttestation needs of the runtime.
type registryRuntime struct {
	id      common.Namespace
	runtime *registry.Runtime
	epoch   beacon.EpochTime
}
