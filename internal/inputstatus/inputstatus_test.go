package inputstatus

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

func TestAllReadsSucceed(t *testing.T) {
	var acc testutil.Accumulator
	now := time.Unix(100, 0)
	g := Begin("oasis_entity", "unix:/run/oasis/internal.sock")
	require.NoError(t, g.Fail(nil))
	g.Add(&acc, map[string]any{"entities": int64(2)}, now)
	acc.AssertContainsTaggedFields(t, Measurement,
		map[string]any{"up": int64(1), "entities": int64(2)},
		map[string]string{"input": "oasis_entity", "address": "unix:/run/oasis/internal.sock"})
}

func TestFirstFailureIsTheReason(t *testing.T) {
	var acc testutil.Accumulator
	g := Begin("oasis_governance", "unix:/run/oasis/internal.sock")
	denied := &nodeclient.ReachError{Reason: nodeclient.ReasonPermissionDenied, Err: errors.New("permission denied")}
	require.Equal(t, denied, g.Fail(denied))
	g.Fail(fmt.Errorf("reading votes: %w", errors.New("boom")))
	require.False(t, g.Up())
	g.Add(&acc, nil, time.Unix(100, 0))
	acc.AssertContainsTaggedFields(t, Measurement,
		map[string]any{"up": int64(0), "down_reason": "permission_denied", "failed_reads": int64(2)},
		map[string]string{"input": "oasis_governance", "address": "unix:/run/oasis/internal.sock"})
}

func TestExtraFieldsCannotHideTheStatus(t *testing.T) {
	var acc testutil.Accumulator
	g := Begin("oasis_signing", "unix:/run/oasis/internal.sock")
	g.FailWith(nodeclient.ReasonNoSocket)
	g.Add(&acc, map[string]any{"up": int64(1), "last_height": int64(7)}, time.Unix(100, 0))
	acc.AssertContainsTaggedFields(t, Measurement,
		map[string]any{"up": int64(0), "down_reason": "no_socket", "failed_reads": int64(1), "last_height": int64(7)},
		map[string]string{"input": "oasis_signing", "address": "unix:/run/oasis/internal.sock"})
}
