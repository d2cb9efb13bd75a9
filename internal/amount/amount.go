// Package amount turns staking amounts (arbitrary-size integers of base
// units) into fields: the exact value as a decimal string, and the value in
// the chain's token unit as a float for graphs and thresholds.
package amount

import (
	"math/big"

	"github.com/oasisprotocol/oasis-core/go/common/quantity"
)

// AddFields sets fields[name+"_base_units"] to q exactly (a string: amounts
// can exceed 2^64 base units, more than any InfluxDB integer holds) and
// fields[name+"_tokens"] to q / 10^exponent as a float64 (about 16
// significant digits).
func AddFields(fields map[string]any, name string, q *quantity.Quantity, exponent uint8) {
	fields[name+"_base_units"] = q.String()
	fields[name+"_tokens"] = Tokens(q.ToBigInt(), exponent)
}

// Tokens is n base units in token units.
func Tokens(n *big.Int, exponent uint8) float64 {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exponent)), nil)
	f, _ := new(big.Rat).SetFrac(n, scale).Float64()
	return f
}
