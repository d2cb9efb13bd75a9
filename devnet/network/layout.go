// Package network creates and describes a local network of real oasis-node
// validators: their identities, the genesis they share and each node's
// configuration. Running a node is the job of cmd/oasis-devnet.
package network

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestName is the file in a network directory that describes the
// network; other programs (the plugin module's tests) read it as JSON.
const ManifestName = "network.json"

// Validator describes one validator of the network.
type Validator struct {
	Index int `json:"index"`
	// NodeID is the node's identity public key (base64).
	NodeID string `json:"node_id"`
	// EntityID is the owning entity's public key (base64).
	EntityID string `json:"entity_id"`
	// EntityAddress is the entity's staking account address (bech32).
	EntityAddress string `json:"entity_address"`
	// ConsensusKey is the node's consensus public key (base64).
	ConsensusKey string `json:"consensus_key"`
	// ConsensusAddress is the CometBFT validator address (hex of the first
	// 20 bytes of SHA-256 of the consensus key).
	ConsensusAddress string `json:"consensus_address"`
	DataDir          string `json:"data_dir"`
	EntityDir        string `json:"entity_dir"`
	ConfigFile       string `json:"config_file"`
	Socket           string `json:"socket"`
	ConsensusPort    int    `json:"consensus_port"`
	P2PPort          int    `json:"p2p_port"`
}

// Manifest describes a network created by Init.
type Manifest struct {
	Dir           string        `json:"dir"`
	ChainContext  string        `json:"chain_context"`
	GenesisFile   string        `json:"genesis_file"`
	BlockInterval time.Duration `json:"block_interval_ns"`
	EpochBlocks   int64         `json:"epoch_blocks"`
	TokenSymbol   string        `json:"token_symbol"`
	Validators    []Validator   `json:"validators"`
}

// LoadManifest reads the manifest of the network in dir.
func LoadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("reading devnet manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding devnet manifest %s: %w", filepath.Join(dir, ManifestName), err)
	}
	return &m, nil
}

func (m *Manifest) write() error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.Dir, ManifestName), raw, 0o600)
}
