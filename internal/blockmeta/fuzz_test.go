package blockmeta

import (
	"testing"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"
)

// FuzzDecode: whatever bytes a node sends as a block's meta, Decode returns
// a block or an error, never panics, and a block it returns is for the
// height asked, with a commit for the height before (or none).
// Seeds: testdata/fuzz/FuzzDecode and the blocks below. A longer run:
// go test ./internal/blockmeta -run '^$' -fuzz FuzzDecode -fuzztime 1m
func FuzzDecode(f *testing.F) {
	f.Add(int64(5), []byte(makeBlock(f, 5, alice, []cmtproto.CommitSig{
		{BlockIdFlag: cmtproto.BlockIDFlagCommit, ValidatorAddress: alice[:]},
		{BlockIdFlag: cmtproto.BlockIDFlagAbsent, ValidatorAddress: bob[:]},
	}).Meta))
	f.Add(int64(1), []byte(makeBlock(f, 1, bob, nil).Meta))
	f.Add(int64(7), []byte{0xa0})
	f.Fuzz(func(t *testing.T, height int64, meta []byte) {
		b, err := Decode(&consensus.Block{Height: height, Meta: meta})
		if err != nil {
			return
		}
		if b.Height != height {
			t.Fatalf("block for height %d decoded as %d", height, b.Height)
		}
		if b.LastCommitHeight != 0 && b.LastCommitHeight != height-1 {
			t.Fatalf("block %d with a commit for %d", height, b.LastCommitHeight)
		}
		_ = b.Signed(alice)
	})
}
