package outage

import (
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/stacktest"
)

// TestBackupRestore runs docs/operate.md's InfluxDB backup and restore, as
// the native install does them, with the pinned influxd: a portable
// backup of a running InfluxDB, a new InfluxDB set up from scratch (a new
// host), its empty database dropped, the backup restored into it live,
// the setup run again. Every point comes back, in both retention
// policies, and the services' users work as before.
func TestBackupRestore(t *testing.T) {
	bins := stacktest.Bins(t)
	old := stacktest.StartInflux(t)
	// A day of one series, raw, and an aggregate in the hourly policy.
	var lp strings.Builder
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	for i := 0; i < 24*60; i++ {
		fmt.Fprintf(&lp, "oasis_node,node_id=n1,host=h1 up=1i,latest_height=%di %d\n", 1000+i, start.Add(time.Duration(i)*time.Minute).UnixNano())
	}
	write := func(in *stacktest.Influx, rp, user, password, body string) int {
		req, err := http.NewRequest(http.MethodPost, in.URL+"/write?"+url.Values{"db": {nativestack.Database}, "rp": {rp}}.Encode(), strings.NewReader(body))
		require.NoError(t, err)
		req.SetBasicAuth(user, password)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusNoContent, write(old, "autogen", "telegraf", nativestack.WriterPassword, lp.String()))
	require.Equal(t, http.StatusNoContent, write(old, "hourly", "telegraf", nativestack.WriterPassword,
		fmt.Sprintf("oasis_node,node_id=n1,host=h1 last_up=1i %d\n", start.UnixNano())))
	count := func(in *stacktest.Influx, user, password, q string) string {
		body, err := in.Query(user, password, q)
		require.NoError(t, err)
		return string(body)
	}
	const raw = `SELECT count("latest_height") FROM "autogen"."oasis_node"`
	const hourly = `SELECT count("last_up") FROM "hourly"."oasis_node"`
	require.Contains(t, count(old, nativestack.AdminUser, nativestack.AdminPassword, raw), `,1440]`)

	// operate.md: influxd backup -portable -host 127.0.0.1:8088 <dir>
	dir := filepath.Join(t.TempDir(), "influxdb-backup")
	out, err := exec.Command(filepath.Join(bins, "influxd"), "backup", "-portable", "-host", old.RPCAddress, dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "backup complete:")
	manifests, _ := filepath.Glob(filepath.Join(dir, "*.manifest"))
	require.Len(t, manifests, 1, "%s", out)

	// A new host: a new InfluxDB, set up as step 3 of install-native.md
	// does (its database made, empty).
	fresh := stacktest.StartInflux(t)
	require.Contains(t, count(fresh, nativestack.AdminUser, nativestack.AdminPassword, `SHOW DATABASES`), `"telegraf"`)
	// The restore refuses a database that exists, as operate.md says.
	out, err = exec.Command(filepath.Join(bins, "influxd"), "restore", "-portable", "-host", fresh.RPCAddress, "-db", "telegraf", dir).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "database may already exist")
	// operate.md: DROP DATABASE telegraf, restore, the setup again.
	count(fresh, nativestack.AdminUser, nativestack.AdminPassword, `DROP DATABASE "telegraf"`)
	out, err = exec.Command(filepath.Join(bins, "influxd"), "restore", "-portable", "-host", fresh.RPCAddress, "-db", "telegraf", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Restoring shard")
	require.NoError(t, fresh.Setup())

	require.Contains(t, count(fresh, nativestack.AdminUser, nativestack.AdminPassword, raw), `,1440]`, "every raw point")
	require.Contains(t, count(fresh, nativestack.AdminUser, nativestack.AdminPassword, hourly), `,1]`, "the hourly aggregate")
	// The users as before: Telegraf writes, Grafana and the bot read,
	// and the hourly aggregates' continuous queries are there again.
	require.Equal(t, http.StatusNoContent, write(fresh, "autogen", "telegraf", nativestack.WriterPassword,
		fmt.Sprintf("oasis_node,node_id=n1,host=h1 up=1i,latest_height=9999i %d\n", time.Now().UnixNano())))
	require.Contains(t, count(fresh, "grafana", nativestack.GrafanaPassword, raw), `,1441]`)
	require.Contains(t, count(fresh, nativestack.BotUser, nativestack.BotPassword, raw), `,1441]`)
	require.Contains(t, count(fresh, nativestack.AdminUser, nativestack.AdminPassword, `SHOW CONTINUOUS QUERIES`), "oasis_hourly_last")
}
