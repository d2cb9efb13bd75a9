// Package blockmeta decodes what oasis-node's consensus.Block carries in its
// Meta: the CometBFT header (proposer) and the last commit (who signed the
// previous block).
//
// oasis-core's own decoder (consensus/cometbft/api.BlockMeta) pulls in its
// CometBFT fork, which needs replace lines a `go install`-able module can't
// have. The meta is a two-field CBOR struct whose fields hold protobuf, so
// the upstream CometBFT proto types decode it the same way.
package blockmeta

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
)

// AddressSize is the length of a CometBFT validator address.
const AddressSize = 20

// Address is a CometBFT validator address: the first 20 bytes of the
// SHA-256 of the validator's consensus public key.
type Address [AddressSize]byte

// AddressOf returns the CometBFT address of an Oasis consensus key, as the
// chain computes it.
func AddressOf(consensusKey signature.PublicKey) Address {
	sum := sha256.Sum256(consensusKey[:])
	var a Address
	copy(a[:], sum[:AddressSize])
	return a
}

func (a Address) String() string { return fmt.Sprintf("%X", a[:]) }

// meta mirrors oasis-core's consensus/cometbft/api.BlockMeta.
type meta struct {
	Header     []byte `json:"header"`
	LastCommit []byte `json:"last_commit"`
}

// Block is a decoded block.
type Block struct {
	// Height of the block.
	Height int64
	// Proposer is the address of the validator that proposed this block.
	Proposer Address
	// Time is the block's time from its header, to the nanosecond (CometBFT
	// block times strictly increase, so it identifies the height).
	Time time.Time
	// ValidatorsHash identifies the validator set at Height.
	ValidatorsHash string
	// LastCommitHeight is the height the last commit is for: Height-1.
	// 0 when the block carries no commit (the chain's first block).
	LastCommitHeight int64
	// signers are the addresses with a commit signature in the last commit.
	signers map[Address]struct{}
	// voters: a commit or a nil vote (not absent) in the last commit.
	voters map[Address]struct{}
}

// Decode decodes a block's meta. A block whose meta can't be decoded is an
// error: callers must not count it as signed or missed.
func Decode(b *consensus.Block) (*Block, error) {
	var m meta
	if err := cbor.Unmarshal(b.Meta, &m); err != nil {
		return nil, fmt.Errorf("block %d: decoding meta (CBOR): %w", b.Height, err)
	}
	var hdr cmtproto.Header
	if err := hdr.Unmarshal(m.Header); err != nil {
		return nil, fmt.Errorf("block %d: decoding header: %w", b.Height, err)
	}
	if hdr.Height != b.Height {
		return nil, fmt.Errorf("block %d: header is for height %d", b.Height, hdr.Height)
	}
	if len(hdr.ProposerAddress) != AddressSize {
		return nil, fmt.Errorf("block %d: proposer address has %d bytes, want %d", b.Height, len(hdr.ProposerAddress), AddressSize)
	}
	var commit cmtproto.Commit
	if err := commit.Unmarshal(m.LastCommit); err != nil {
		return nil, fmt.Errorf("block %d: decoding last commit: %w", b.Height, err)
	}
	out := &Block{
		Height:           b.Height,
		Time:             hdr.Time,
		ValidatorsHash:   string(hdr.ValidatorsHash),
		LastCommitHeight: commit.Height,
		signers:          map[Address]struct{}{},
		voters:           map[Address]struct{}{},
	}
	copy(out.Proposer[:], hdr.ProposerAddress)
	if commit.Height != 0 && commit.Height != b.Height-1 {
		return nil, fmt.Errorf("block %d: last commit is for height %d, want %d", b.Height, commit.Height, b.Height-1)
	}
	for i, s := range commit.Signatures {
		// Only a commit vote counts as signed, as in oasis-node's own
		// oasis_consensus_signed_blocks metric; absent and nil votes don't.
		// The staking application's epoch signing count (the signing
		// reward) counts every vote that is not absent, nil votes too
		// (CometBFT's SignedLastBlock): Voted.
		if s.BlockIdFlag != cmtproto.BlockIDFlagCommit && s.BlockIdFlag != cmtproto.BlockIDFlagNil {
			continue
		}
		if len(s.ValidatorAddress) != AddressSize {
			return nil, fmt.Errorf("block %d: commit signature %d has a %d-byte address", b.Height, i, len(s.ValidatorAddress))
		}
		var a Address
		copy(a[:], s.ValidatorAddress)
		out.voters[a] = struct{}{}
		if s.BlockIdFlag == cmtproto.BlockIDFlagCommit {
			out.signers[a] = struct{}{}
		}
	}
	return out, nil
}

// Voted reports whether addr's vote for the previous block is in the last
// commit, for the block or nil: what the staking application's epoch
// signing count (the signing reward) counts.
func (b *Block) Voted(addr Address) bool {
	_, ok := b.voters[addr]
	return ok
}

// Signed reports whether addr signed the previous block (LastCommitHeight).
func (b *Block) Signed(addr Address) bool {
	_, ok := b.signers[addr]
	return ok
}

// Signers is the number of commit signatures in the last commit.
func (b *Block) Signers() int { return len(b.signers) }

// MarshalText encodes the address as upper-case hex, as CometBFT prints it.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes a hex address.
func (a *Address) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil || len(b) != AddressSize {
		return fmt.Errorf("consensus address %q: want %d bytes of hex", text, AddressSize)
	}
	copy(a[:], b)
	return nil
}

// ValidatorSet decodes the CometBFT validator set oasis-node returns from
// Consensus.GetValidators: the members' addresses.
func ValidatorSet(v *consensus.Validators) (map[Address]struct{}, error) {
	var vs cmtproto.ValidatorSet
	if err := vs.Unmarshal(v.Meta); err != nil {
		return nil, fmt.Errorf("validator set at height %d: %w", v.Height, err)
	}
	set := make(map[Address]struct{}, len(vs.Validators))
	for i, val := range vs.Validators {
		if val == nil || len(val.Address) != AddressSize {
			return nil, fmt.Errorf("validator set at height %d: member %d has no %d-byte address", v.Height, i, AddressSize)
		}
		var a Address
		copy(a[:], val.Address)
		set[a] = struct{}{}
	}
	return set, nil
}
