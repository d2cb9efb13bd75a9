package fakenode

import (
	"context"
	"fmt"

	beacon "github.com/oasisprotocol/oasis-core/go/beacon/api"
	staking "github.com/oasisprotocol/oasis-core/go/staking/api"
)

// EpochInterval is the fake chain's epoch length in heights. As with the
// VRF beacon (mainnet), epochs change an interval apart from the genesis
// height, not at multiples of it: epoch e holds heights
// e*EpochInterval+1 .. (e+1)*EpochInterval.
const EpochInterval = 10

// SigningRewardThreshold is the fake staking application's signing reward
// threshold, mainnet's 3/4.
var SigningRewardThreshold = [2]uint64{3, 4}

type fakeBeacon struct {
	beacon.Backend
	n *Node
}

func (f *fakeBeacon) GetEpoch(_ context.Context, height int64) (beacon.EpochTime, error) {
	f.n.record("Beacon.GetEpoch")
	if height < 1 {
		height = f.n.Chain.Latest()
	}
	return beacon.EpochTime((height - 1) / EpochInterval), nil
}

func (f *fakeBeacon) GetEpochBlock(_ context.Context, epoch beacon.EpochTime) (int64, error) {
	f.n.record("Beacon.GetEpochBlock")
	start := int64(epoch)*EpochInterval + 1
	if start > f.n.Chain.Latest() {
		return 0, fmt.Errorf("beacon: epoch %d has not started", epoch)
	}
	return start, nil
}

func (f *fakeBeacon) GetFutureEpoch(_ context.Context, _ int64) (*beacon.EpochTimeState, error) {
	f.n.record("Beacon.GetFutureEpoch")
	next := (f.n.Chain.Latest()-1)/EpochInterval + 1
	return &beacon.EpochTimeState{Epoch: beacon.EpochTime(next), Height: next*EpochInterval + 1}, nil
}

func (f *fakeBeacon) ConsensusParameters(context.Context, int64) (*beacon.ConsensusParameters, error) {
	f.n.record("Beacon.ConsensusParameters")
	return &beacon.ConsensusParameters{
		Backend:            beacon.BackendInsecure,
		InsecureParameters: &beacon.InsecureParameters{Interval: EpochInterval},
	}, nil
}

func (f *fakeStaking) ConsensusParameters(context.Context, int64) (*staking.ConsensusParameters, error) {
	f.n.record("Staking.ConsensusParameters")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	return &staking.ConsensusParameters{
		Thresholds:                        l.StakeThresholds,
		SigningRewardThresholdNumerator:   SigningRewardThreshold[0],
		SigningRewardThresholdDenominator: SigningRewardThreshold[1],
	}, nil
}
