package blockmeta

import (
	"testing"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/common/cbor"
	memorySigner "github.com/oasisprotocol/oasis-core/go/common/crypto/signature/signers/memory"
	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
)

var (
	alice = AddressOf(memorySigner.NewTestSigner("alice").Public())
	bob   = AddressOf(memorySigner.NewTestSigner("bob").Public())
	carol = AddressOf(memorySigner.NewTestSigner("carol").Public())
)

// makeBlock builds a consensus.Block whose meta is what oasis-node puts there:
// CBOR {header, last_commit} holding protobuf.
func makeBlock(t testing.TB, height int64, proposer Address, sigs []cmtproto.CommitSig) *consensus.Block {
	hdr := cmtproto.Header{Height: height, ProposerAddress: proposer[:]}
	h, err := hdr.Marshal()
	require.NoError(t, err)
	commit := cmtproto.Commit{Height: height - 1, Signatures: sigs}
	c, err := commit.Marshal()
	require.NoError(t, err)
	return &consensus.Block{Height: height, Meta: cbor.Marshal(meta{Header: h, LastCommit: c})}
}

func TestDecode(t *testing.T) {
	b := makeBlock(t, 100, bob, []cmtproto.CommitSig{
		{BlockIdFlag: cmtproto.BlockIDFlagCommit, ValidatorAddress: alice[:]},
		{BlockIdFlag: cmtproto.BlockIDFlagAbsent},
		{BlockIdFlag: cmtproto.BlockIDFlagNil, ValidatorAddress: carol[:]},
	})
	d, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, int64(100), d.Height)
	require.Equal(t, int64(99), d.LastCommitHeight)
	require.Equal(t, bob, d.Proposer)
	require.True(t, d.Signed(alice))
	require.False(t, d.Signed(bob), "absent")
	require.False(t, d.Signed(carol), "a nil vote is not a signature")
	require.Equal(t, 1, d.Signers())
}

func TestDecodeRejectsMalformedMeta(t *testing.T) {
	good := makeBlock(t, 100, bob, nil)
	shortProposer := cmtproto.Header{Height: 100, ProposerAddress: []byte{1, 2, 3}}
	h, err := shortProposer.Marshal()
	require.NoError(t, err)
	cases := map[string]*consensus.Block{
		"not cbor":         {Height: 100, Meta: []byte{0xff, 0x00}},
		"header not proto": {Height: 100, Meta: cbor.Marshal(meta{Header: []byte{0xff, 0xff, 0xff}})},
		"wrong height":     {Height: 101, Meta: good.Meta},
		"short proposer":   {Height: 100, Meta: cbor.Marshal(meta{Header: h})},
		"short signer": makeBlock(t, 100, bob, []cmtproto.CommitSig{
			{BlockIdFlag: cmtproto.BlockIDFlagCommit, ValidatorAddress: []byte{1, 2}},
		}),
	}
	for name, b := range cases {
		_, err := Decode(b)
		require.Error(t, err, name)
	}
}
