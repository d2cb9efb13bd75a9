// Package network creates and describes a local network of real oasis-node
// validators: their identities, the genesis they share and each node's
// configuration. Running a node is the job of cmd/oasis-devnet.
package network

import (
	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
)

// ManifestName is the file in a network directory that describes the
// network; test drivers (testbed/devnettest) read it with package manifest.
const ManifestName = manifest.Name

// Validator describes one validator of the network.
type Validator = manifest.Validator

// Manifest describes a network created by Init; the file's shape is
// manifest.Manifest, and this type adds what needs oasis-core (dialing a
// validator, signing scenario transactions).
type Manifest struct {
	manifest.Manifest
}

// LoadManifest reads the manifest of the network in dir.
func LoadManifest(dir string) (*Manifest, error) {
	m, err := manifest.Load(dir)
	if err != nil {
		return nil, err
	}
	return &Manifest{Manifest: *m}, nil
}

func (m *Manifest) write() error { return m.Manifest.Write() }
