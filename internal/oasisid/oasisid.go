// Package oasisid parses the node and entity IDs operators write in plugin
// settings, with errors that name the setting and show a valid value.
package oasisid

import (
	"fmt"

	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
)

// Example is a well-formed ID (base64 of a 32-byte Ed25519 public key), as
// `oasis-node identity show-address` and the registry print them.
const Example = "GnEZpCgm7AVZny+CDdC8z7MzXJr2fBpz52gPXibpLfg="

// Parse parses one ID given in the setting named setting.
func Parse(setting, value string) (signature.PublicKey, error) {
	var pk signature.PublicKey
	if err := pk.UnmarshalText([]byte(value)); err != nil {
		return pk, fmt.Errorf("%s %q: not a node/entity ID (base64 of a 32-byte Ed25519 public key), e.g. %s = %q",
			setting, value, setting, Example)
	}
	if !pk.IsValid() {
		return pk, fmt.Errorf("%s %q: not a valid Ed25519 public key (blacklisted or small-order), e.g. %s = %q",
			setting, value, setting, Example)
	}
	return pk, nil
}
