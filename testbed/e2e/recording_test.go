package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/internal/docfields"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
)

// The alert tests (alerting/) replay series recorded by TestRecordAlertSeries
// (record_test.go): the devnet -> Telegraf -> InfluxDB pipeline while
// faults are made on the devnet. It takes six minutes and only matters when
// a recording is made, so it builds only with the record tag:
//
//	cd testbed && OASIS_RECORD_DIR=$PWD/../alerting/testdata/devnet \
//	  go test -tags record -count=1 -timeout 30m -run TestRecordAlertSeries ./e2e
//
// Without the tag, TestCommittedRecordingIsDocumented keeps the committed
// recording honest in the fast tier: every field in it is documented, and
// TestPipeline checks every documented field reaches InfluxDB.
const recordingDir = "../../alerting/testdata/devnet"

// recordedMeasurements are what the alerts read; the other system inputs
// are left out to keep the recording small.
var recordedMeasurements = []string{
	"oasis_input", "oasis_node", "oasis_signing", "oasis_signing_block", "oasis_entity", "oasis_entity_node",
	"oasis_governance", "oasis_governance_proposal", "oasis_governance_upgrade", "cpu", "mem", "disk",
}

// Events are the moments faults were made and undone, in Unix nanoseconds,
// for the alert tests to check firing and recovery times against.
type Events struct {
	Interval          string `json:"interval"`
	HealthyFrom       int64  `json:"healthy_from"`
	HealthyTo         int64  `json:"healthy_to"`
	Validator3Stopped int64  `json:"validator3_stopped"`
	ProposalSubmitted int64  `json:"proposal_submitted"`
	Validator3Started int64  `json:"validator3_started"`
	Validator0Stopped int64  `json:"validator0_stopped"`
	Validator0Started int64  `json:"validator0_started"`
	End               int64  `json:"end"`
	// Who is who in the recording.
	OwnNodeID          string `json:"own_node_id"`
	OwnEntityID        string `json:"own_entity_id"`
	DownEntityID       string `json:"down_entity_id"`
	DownNodeID         string `json:"down_node_id"`
	DownConsensusAddr  string `json:"down_consensus_address"`
	ProposalID         uint64 `json:"proposal_id"`
	ProposalSubmitter  int    `json:"proposal_submitter_validator"`
	MonitoredValidator int    `json:"monitored_validator"`
}

type influxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

func influxQL(t *testing.T, in *stacktest.Influx, q string) []influxSeries {
	t.Helper()
	u := in.URL + "/query?" + url.Values{"db": {"telegraf"}, "q": {q}, "epoch": {"ns"}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.SetBasicAuth(nativestack.AdminUser, nativestack.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out struct {
		Results []struct {
			Series []influxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	var series []influxSeries
	for _, r := range out.Results {
		require.Empty(t, r.Error, q)
		series = append(series, r.Series...)
	}
	return series
}

// lineSchema returns the measurement.field pairs of a line-protocol file.
func lineSchema(t *testing.T, lp []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(lp)), "\n") {
		// measurement[,tags] fields ts; our recordings escape spaces.
		parts := splitUnescaped(l, ' ')
		require.Len(t, parts, 3, l)
		m := splitUnescaped(parts[0], ',')[0]
		for _, f := range splitUnescaped(parts[1], ',') {
			k := splitUnescaped(f, '=')[0]
			out[strings.ReplaceAll(m, `\`, "")+"."+strings.ReplaceAll(k, `\`, "")] = true
		}
	}
	return out
}

// splitUnescaped splits at sep outside backslash escapes and double quotes.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestCommittedEventsFile: the committed recording's events.json has
// exactly the fields Events writes (the alert tests decode it strictly
// into their own type, TestEventsFile in alerting/): a field added or
// renamed here fails until the recording is made again.
func TestCommittedEventsFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(recordingDir, "events.json"))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ev Events
	require.NoError(t, dec.Decode(&ev))
	again, err := json.Marshal(ev)
	require.NoError(t, err)
	require.JSONEq(t, string(raw), string(again), "every field of Events is in the committed events.json")
}

// TestCommittedRecordingIsDocumented: every measurement.field of the
// committed recording is one a plugin README documents (and TestPipeline
// sees every documented field arrive), or one of the Telegraf system
// inputs the alerts read. A field renamed or dropped in a plugin fails
// here until the recording is made again, without the six-minute run.
func TestCommittedRecordingIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	readmes, err := filepath.Glob("../../plugins/inputs/*/README.md")
	require.NoError(t, err)
	require.NotEmpty(t, readmes)
	for _, readme := range readmes {
		fields, err := docfields.Read(readme)
		require.NoError(t, err)
		for _, f := range fields {
			documented[f.String()] = true
		}
	}
	committed, err := os.ReadFile(filepath.Join(recordingDir, "series.lp"))
	require.NoError(t, err)
	system := map[string]bool{"cpu": true, "mem": true, "disk": true}
	// The names processor's fields, on any point with the ID tag (its
	// README's table has no measurement).
	names, err := os.ReadFile("../../plugins/processors/oasis_names/README.md")
	require.NoError(t, err)
	var undocumented []string
	for key := range lineSchema(t, committed) {
		measurement, field, _ := strings.Cut(key, ".")
		named := strings.Contains(string(names), "| `"+field+"` | string | a `")
		if !documented[key] && !system[measurement] && !named {
			undocumented = append(undocumented, key)
		}
	}
	sort.Strings(undocumented)
	require.Empty(t, undocumented, "the committed recording has fields no plugin README documents: "+
		"record again (record_test.go) or document them")
}
