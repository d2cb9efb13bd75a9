// Package stacktest starts the native stack (testbed/nativestack) for a
// test: influxd and Telegraf with the repository's configuration files,
// stopped when the test ends. A missing prerequisite fails the test; it
// never skips.
package stacktest

import (
	"context"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"strings"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/oasis-mission-control/oasis-mission-control/testbed/devnettest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// Bins builds (once per test binary) the stack's binaries.
func Bins(t testing.TB) string {
	t.Helper()
	devnettest.SkipIfShort(t)
	binOnce.Do(func() { binDir, binErr = nativestack.Bins(devnettest.RepoRoot()) })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// Influx is a running influxd for a test.
type Influx struct {
	*nativestack.Influx
	t testing.TB
}

// StartInflux starts a bootstrapped influxd (auth on, database and users
// made); settings adds INFLUXDB_* overrides.
func StartInflux(t testing.TB, settings ...string) *Influx {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	in, err := nativestack.NewInflux(devnettest.RepoRoot(), Bins(t), t.TempDir(), port, settings...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	if err := in.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	return &Influx{Influx: in, t: t}
}

// Start starts influxd again after Stop.
func (in *Influx) Start() {
	in.t.Helper()
	if err := in.Influx.Start(); err != nil {
		in.t.Fatal(err)
	}
}

// Flux runs a Flux query with influxdb-client-go/v2 as the field uses it
// against InfluxDB 1.8 (token "user:password", bucket "db/rp") and returns
// the records' values.
func (in *Influx) Flux(t testing.TB, query string) []map[string]any {
	t.Helper()
	c := influxdb2.NewClient(in.URL, nativestack.AdminUser+":"+nativestack.AdminPassword)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.QueryAPI("").Query(ctx, query)
	if err != nil {
		t.Fatalf("flux query failed: %v\n%s", err, query)
	}
	var rows []map[string]any
	for res.Next() {
		rows = append(rows, res.Record().Values())
	}
	if res.Err() != nil {
		t.Fatalf("flux query: %v", res.Err())
	}
	return rows
}

// StartTelegraf runs telegraf with the repository's telegraf.conf against
// the node socket and in, gathering every interval.
func StartTelegraf(t testing.TB, in *Influx, socket string, interval time.Duration, extraEnv ...string) *proc.Process {
	t.Helper()
	return StartTelegrafWith(t, in, nativestack.TelegrafOptions{Socket: socket, Interval: interval, Env: extraEnv})
}

// StartTelegrafWith is StartTelegraf with every option (an edited config,
// the health port); StateDir defaults to a test directory.
func StartTelegrafWith(t testing.TB, in *Influx, o nativestack.TelegrafOptions) *proc.Process {
	t.Helper()
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	p, err := nativestack.NewTelegraf(devnettest.RepoRoot(), Bins(t), in.Influx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartKapacitor runs oasis-kapacitord with the repository's kapacitor.conf
// and load directory where in's subscription sends every point; env adds
// KAPACITOR_* settings.
func StartKapacitor(t testing.TB, in *Influx, env ...string) *nativestack.Kapacitor {
	t.Helper()
	k, err := nativestack.NewKapacitor(devnettest.RepoRoot(), Bins(t), in.Influx, t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	return k
}

// UncommentBlock turns on a commented block of telegraf.conf, between its
// "# BEGIN name" and "# END name" lines, as the docs tell the operator:
// the "# " in front of each line goes.
func UncommentBlock(t testing.TB, conf, name string) string {
	t.Helper()
	begin, end := "# BEGIN "+name+"\n", "# END "+name+"\n"
	i, j := strings.Index(conf, begin), strings.Index(conf, end)
	if i < 0 || j < i {
		t.Fatalf("telegraf.conf has no %s block", name)
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(conf[i+len(begin):j], "\n") {
		out.WriteString(strings.TrimPrefix(line, "# "))
	}
	return conf[:i] + out.String() + conf[j+len(end):]
}
