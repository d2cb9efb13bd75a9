package oasis_names

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"

	"github.com/oasis-mission-control/oasis-mission-control/internal/safetext"
)

// The Oasis metadata registry (github.com/oasisprotocol/metadata-registry)
// holds one statement per entity at registry/entity/<entity ID, hex>.json:
// the CBOR of the entity's metadata, signed by the entity's key in the
// domain below. Its own tools (metadata-registry-tools) pull in an old
// oasis-core and go-git, so the few lines that read it are here, with the
// same checks of what is used: the file's ID is the signer, the signature
// verifies, the version is 1.

// entityMetadataContext is the registry's signature domain.
var entityMetadataContext = signature.NewContext("oasis-metadata-registry: entity")

const (
	// maxStatementSize is the registry's own bound on a statement.
	maxStatementSize = 16 * 1024
	// maxRegistryName is the registry's bound on an entity's name.
	maxRegistryName = 50
)

// entityMetadata is the registry's statement, version 1. Only the name is
// used, but every field is declared: oasis-core's CBOR decoder rejects
// unknown fields.
type entityMetadata struct {
	cbor.Versioned
	Serial  uint64 `json:"serial"`
	Name    string `json:"name,omitempty"`
	URL     string `json:"url,omitempty"`
	Email   string `json:"email,omitempty"`
	Keybase string `json:"keybase,omitempty"`
	Twitter string `json:"twitter,omitempty"`
}

// readRegistry returns the registry's entity names by base64 entity ID.
// A statement that fails a check is skipped and said (the rest of the
// registry is still of use); a checkout that isn't there is an error.
func readRegistry(dir string) (map[string]string, []string, error) {
	entityDir := filepath.Join(dir, "registry", "entity")
	entries, err := os.ReadDir(entityDir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s (registry_dir is the checkout's top directory): %w", entityDir, err)
	}
	names := map[string]string{}
	var skipped []string
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		id, meta, err := readStatement(filepath.Join(entityDir, e.Name()))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", e.Name(), err))
			continue
		}
		if meta.Name == "" {
			continue
		}
		// The name is the entity's own claim: inert text in every channel.
		names[id.String()] = safetext.Clean(meta.Name, maxRegistryName)
	}
	return names, skipped, nil
}

// readStatement reads and verifies one entity statement.
func readStatement(path string) (signature.PublicKey, *entityMetadata, error) {
	var id signature.PublicKey
	if err := id.UnmarshalHex(strings.TrimSuffix(filepath.Base(path), ".json")); err != nil {
		return id, nil, fmt.Errorf("the file name is not an entity ID in hex: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return id, nil, err
	}
	if info.Size() > maxStatementSize {
		return id, nil, fmt.Errorf("%d bytes, over the registry's %d", info.Size(), maxStatementSize)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return id, nil, err
	}
	var signed signature.Signed
	if err := json.Unmarshal(raw, &signed); err != nil {
		return id, nil, fmt.Errorf("not a signed statement: %w", err)
	}
	if !signed.Signature.PublicKey.Equal(id) {
		return id, nil, fmt.Errorf("signed by %s, not by the entity the file names", signed.Signature.PublicKey)
	}
	var meta entityMetadata
	if err := signed.Open(entityMetadataContext, &meta); err != nil {
		if errors.Is(err, signature.ErrVerifyFailed) {
			return id, nil, errors.New("the signature does not verify")
		}
		return id, nil, fmt.Errorf("the statement does not decode: %w", err)
	}
	if meta.V != 1 {
		return id, nil, fmt.Errorf("metadata version %d (this reader knows 1)", meta.V)
	}
	return id, &meta, nil
}
