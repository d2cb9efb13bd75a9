// Package manifest is the description of a local devnet that oasis-devnet
// writes (network.json) and that test drivers read: the one definition of
// that file. It imports nothing from oasis-core, so a module that drives
// the devnet (testbed/) can use it without the node's replace lines.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Name is the file in a network directory that describes the network.
const Name = "network.json"

// Validator describes one node of the network: a validator, or a client
// node (Client) that follows the chain without validating.
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
	// MetricsPort is where the node serves its Prometheus metrics
	// (metrics.mode pull, on 127.0.0.1): /metrics.
	MetricsPort int `json:"metrics_port"`
	// Client: a client-mode node, not a validator: it follows the chain
	// (a full consensus node) but is not in the genesis and does not
	// register. Its entity exists but holds no stake.
	Client bool `json:"client"`
	// Compute: the validator also runs in compute mode and hosts the
	// devnet's ParaTime (Manifest.RuntimeID) with oasis-core's mock runtime
	// provisioner: an executor committee member without a runtime binary.
	Compute bool `json:"compute"`
}

// Manifest describes a network created by oasis-devnet init.
type Manifest struct {
	Dir           string        `json:"dir"`
	ChainContext  string        `json:"chain_context"`
	GenesisFile   string        `json:"genesis_file"`
	BlockInterval time.Duration `json:"block_interval_ns"`
	EpochBlocks   int64         `json:"epoch_blocks"`
	TokenSymbol   string        `json:"token_symbol"`
	// RuntimeID is the devnet's ParaTime (hex), registered in the genesis
	// when some validators are compute nodes; empty otherwise.
	RuntimeID  string      `json:"runtime_id"`
	Validators []Validator `json:"validators"`
}

// Decode parses a manifest, refusing fields this type does not know: a
// driver and the devnet that disagree on the file fail loudly, not with a
// zero value.
func Decode(raw []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Load reads the manifest of the network in dir.
func Load(dir string) (*Manifest, error) {
	path := filepath.Join(dir, Name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading devnet manifest: %w", err)
	}
	m, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding devnet manifest %s: %w", path, err)
	}
	return m, nil
}

// Write writes the manifest to its directory.
func (m *Manifest) Write() error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.Dir, Name), append(raw, '\n'), 0o600)
}
