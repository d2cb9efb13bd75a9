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
// before the registry's maximum age makes it stale. A node re-attests
// (and re-registers) well before; an attestation that keeps aging means
// the node's enclave can't attest (AESM/PCCS trouble, an expired TCB), and
// at the maximum age its registration for the runtime is refused.
//
// Only the attestation's height is read (a field of the SGXAttestation
// structure, which TDX nodes use too), not its quote: this does not verify
// the attestation, the registry does.
func addAttestation(fields map[string]any, desc *node.Node, rt registryRuntime, height int64, defaultMaxAge func() (uint64, error)) error {
	if desc == nil || rt.runtime == nil || rt.runtime.TEEHardware == node.TEEHardwareInvalid {
		return nil
	}
	var tee *node.CapabilityTEE
	for _, r := range desc.Runtimes {
		if r.ID.Equal(&rt.id) && r.Capabilities.TEE != nil {
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
	// The runtime's own constraint, else the registry's default (as the
	// registry applies them: TEEFeaturesSGX.ApplyDefaultConstraints).
	var maxAge uint64
	if dep := rt.runtime.ActiveDeployment(rt.epoch); dep != nil && len(dep.TEE) > 0 {
		var sc node.SGXConstraints
		if err := cbor.Unmarshal(dep.TEE, &sc); err == nil {
			maxAge = sc.MaxAttestationAge
		}
	}
	if maxAge == 0 {
		var err error
		if maxAge, err = defaultMaxAge(); err != nil {
			return err
		}
	}
	if maxAge > 0 {
		fields["attestation_max_age_blocks"] = int64(maxAge)
		fields["attestation_blocks_left"] = int64(maxAge) - age
	}
	return nil
}

// registryRuntime is what addAttestation needs of the runtime.
type registryRuntime struct {
	id      common.Namespace
	runtime *registry.Runtime
	epoch   beacon.EpochTime
}
