package amount

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oasisprotocol/oasis-core/go/common/quantity"
)

func TestAmountsBeyond64Bits(t *testing.T) {
	var q quantity.Quantity
	huge, _ := new(big.Int).SetString("123456789012345678901234", 10) // > 2^64
	require.NoError(t, q.FromBigInt(huge))
	f := map[string]any{}
	AddFields(f, "escrow_active_balance", &q, 9)
	require.Equal(t, "123456789012345678901234", f["escrow_active_balance_base_units"])
	require.InDelta(t, 123456789012345.678901234, f["escrow_active_balance_tokens"], 1)

	AddFields(f, "zero", quantity.NewQuantity(), 9)
	require.Equal(t, "0", f["zero_base_units"])
	require.Equal(t, 0.0, f["zero_tokens"])
}
