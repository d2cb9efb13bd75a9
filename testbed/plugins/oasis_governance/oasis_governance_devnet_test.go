package oasis_governance_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/influxdata/telegraf/testutil"

	"github.com/oasis-mission-control/oasis-mission-control/internal/acctest"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
	"github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_governance"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/wait"
)

// A real proposal appears with its close epoch; after our entity votes,
// `voted` flips with the choice we made.
func TestDevnetProposalAndVote(t *testing.T) {
	net := devnettest.Start(t, devnettest.Options{Validators: 4, BlockInterval: 300 * time.Millisecond, EpochBlocks: 20})
	// The plugin watches validator 2's own entity (no entity_id set).
	p := &oasis_governance.OasisGovernance{Config: nodeclient.Config{Address: net.Address(2)}, Log: testutil.Logger{}}
	require.NoError(t, p.Init())
	defer p.Stop()

	// Transactions go through validator 0; validator 2 may see the block a
	// moment later.
	proposal := func(id uint64, until func(*testutil.Metric) bool) (*testutil.Accumulator, *testutil.Metric) {
		var acc *testutil.Accumulator
		var prop *testutil.Metric
		wait.Until(t, func() bool {
			acc = acctest.Gather(t, p)
			require.Empty(t, acc.Errors)
			prop = acctest.ByTags(acc, oasis_governance.ProposalMeasurement, "proposal_id")[strconv.FormatUint(id, 10)]
			return prop != nil && until(prop)
		}, 20*time.Second, 200*time.Millisecond, "proposal %d as expected", id)
		return acc, prop
	}

	id := net.ProposeUpgrade(0)
	acc, prop := proposal(id, func(*testutil.Metric) bool { return true })
	require.Equal(t, "upgrade", prop.Tags["kind"])
	require.Equal(t, net.Validators[2].EntityID, prop.Tags["entity_id"])
	require.Equal(t, "active", prop.Fields["state"])
	require.Equal(t, net.Validators[0].EntityAddress, prop.Fields["submitter"])
	// The devnet's voting period is 5 epochs.
	require.Equal(t, prop.Fields["created_epoch"].(int64)+5, prop.Fields["closes_epoch"])
	require.Equal(t, int64(0), prop.Fields["voted"])
	sum := acctest.ByTags(acc, oasis_governance.SummaryMeasurement)[""]
	require.Equal(t, int64(1), sum.Fields["active_proposals_not_voted"])

	net.Vote(2, id, "no")
	acc, prop = proposal(id, func(m *testutil.Metric) bool { return m.Fields["voted"] == int64(1) })
	require.Equal(t, "no", prop.Fields["vote"])
	require.Equal(t, int64(1), prop.Fields["votes_no"])
	require.Equal(t, int64(0), acctest.ByTags(acc, oasis_governance.SummaryMeasurement)[""].Fields["active_proposals_not_voted"])
}
