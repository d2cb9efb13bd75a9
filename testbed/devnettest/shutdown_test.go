package devnettest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKnownShutdownRace(t *testing.T) {
	race := "I! validator 1 running\npanic: DB Closed\n\ngoroutine 482 [running]:\n" +
		"github.com/cometbft/cometbft/store.(*BlockStore).LoadSeenCommit(0x3e43fb47fe00, 0x5)\n" +
		"github.com/cometbft/cometbft/consensus.(*Reactor).queryMaj23Routine(0x3e44065c81b0)\n"
	require.True(t, knownShutdownRace(race))
	require.False(t, knownShutdownRace("I! validator 1 running\n"), "no panic")
	require.False(t, knownShutdownRace("panic: DB Closed\ngoroutine 1:\nmain.stop()\n"), "another place")
	require.False(t, knownShutdownRace(race+"panic: runtime error: nil map\n"), "the last panic counts")
}
