// Command oasis-telegraf runs one Oasis Mission Control plugin as a
// Telegraf execd process: an input writes line protocol to stdout, a
// processor reads it on stdin and writes it back; both write log lines
// Telegraf understands to stderr.
//
//	oasis-telegraf -config /etc/telegraf/oasis_node.conf    # under [[inputs.execd]]
//	oasis-telegraf -config oasis_node.conf -once             # gather once, print, exit
//	oasis-telegraf -config oasis_signing.conf -once          # follow until caught up, print the summary, exit
//	oasis-telegraf -config oasis_names.conf                  # under [[processors.execd]]
//	oasis-telegraf -sample-config oasis_node                 # print a plugin's config
//	oasis-telegraf -config oasis_node.conf -check            # check socket access, the node, InfluxDB
//	oasis-telegraf -check-buffer /var/lib/telegraf/buffer   # before Telegraf starts: check, repair its disk buffer
//	oasis-telegraf -new-node sentry-1 -role sentry -address unix:/run/oasis-sentry-1/internal.sock
//	                                                         # print the config of one more node to read
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo"
	"github.com/oasis-mission-control/oasis-mission-control/internal/execdlog"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_entity"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_governance"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_node"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_runtime"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_signing"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/processors/oasis_names"
)

func main() {
	configFile := flag.String("config", "", "plugin config file holding one [[inputs.NAME]] or [[processors.NAME]] table")
	sample := flag.String("sample-config", "", "print the sample config of plugin NAME (or \"all\") and exit")
	once := flag.Bool("once", false, "gather once, print line protocol to stdout and exit (non-zero if the gather reported errors); "+
		"a service input (oasis_signing) is started, gathered once it follows the node, and stopped (it saves its state_file)")
	onceWait := flag.Duration("once-wait", 30*time.Second, "with -once, how long a service input may take to reach the node and catch up")
	// Polling is off by default: [[inputs.execd]] with signal = "STDIN"
	// lets Telegraf's own interval drive each gather.
	pollInterval := flag.Duration("poll_interval", 0, "gather on this interval as well as on each line on stdin (0: only on stdin)")
	showVersion := flag.Bool("version", false, "print the version, the commit it was built from and the Go version, and exit")
	check := flag.Bool("check", false, "check the setup and exit: this process's user and groups, the node's socket, "+
		"the node (answers, node_id, validator, synced) and, with -influxdb-url, a write to InfluxDB; prints what to fix")
	influxURL := flag.String("influxdb-url", os.Getenv("INFLUX_URL"), "with -check, InfluxDB's URL (default: $INFLUX_URL; empty: not checked)")
	influxDB := flag.String("influxdb-database", envOr("INFLUX_DB", "telegraf"), "with -check, the database to write to (default: $INFLUX_DB or telegraf)")
	influxUser := flag.String("influxdb-user", envOr("INFLUX_USER", "telegraf"), "with -check, the InfluxDB user (default: $INFLUX_USER or telegraf; the password comes from $INFLUX_PASSWORD)")
	passOnError := flag.Bool("pass-on-error", false, "processors: if the config can't be loaded or is refused, pass every point on unchanged "+
		"and log the error every minute, instead of exiting (under [[processors.execd]] an exit drops the points it carries)")
	role := flag.String("role", "", "the role of the node this input reads ("+strings.Join(roleNames(), ", ")+
		"); an input the role does not run stays idle (a sentry's oasis_signing); empty: run")
	enabled := flag.Bool("enabled", true, "false: the input stays idle, as for a role that does not run it "+
		"(telegraf.conf: OASIS_READ_ENTITY=false on all but one of the hosts that read one entity)")
	newNodeName := flag.String("new-node", "", "print the Telegraf config of one more node to read, named NAME, for telegraf/nodes/NAME.conf "+
		"(with -role, -address and -node-id) and exit")
	nodeAddress := flag.String("address", "", "with -new-node, the node's socket (unix:/path) or host:port of a TLS endpoint")
	nodeID := flag.String("node-id", "", "with -new-node, the node's ID (recommended: a node down at start still reports under it)")
	checkBuffer := flag.String("check-buffer", "", "check Telegraf's disk buffer directory DIR before Telegraf starts: cut a point torn by a full disk "+
		"off the end, move an unreadable buffer aside (Telegraf would not start with it), print what each buffer holds, and exit")
	flag.Parse()

	switch {
	case *showVersion:
		fmt.Println(buildinfo.String("oasis-telegraf"))
		return
	case *newNodeName != "":
		if err := (newNode{name: *newNodeName, role: *role, address: *nodeAddress, nodeID: *nodeID}).write(os.Stdout); err != nil {
			fail(err)
		}
		return
	case *checkBuffer != "":
		os.Exit(runCheckBuffer(os.Stderr, *checkBuffer))
	case *sample != "":
		if err := printSample(*sample); err != nil {
			fail(err)
		}
		return
	case *configFile == "":
		fail(fmt.Errorf("-config FILE is required; print an example with -sample-config %s", strings.Join(pluginNames(), "|")))
	}

	loaded, err := loadPlugin(*configFile)
	if err != nil {
		if *passOnError && !*check && !*once {
			passThrough(os.Stdin, os.Stdout, os.Stderr, err, time.Minute)
			return
		}
		fail(err)
	}
	if loaded.processor != nil {
		if *check {
			os.Exit(checkProcessor(os.Stdout, *configFile, loaded))
		}
		runProcessor(*configFile, loaded, *once, *passOnError)
		return
	}
	name, plugin := loaded.name, loaded.input
	if *role != "" {
		runs, err := checkRole(*role, name)
		if err != nil {
			fail(err)
		}
		if !runs && !*check && !*once {
			idle(os.Stdin, os.Stderr, fmt.Sprintf("%s is not run for a node of role %s (it runs for: %s)",
				name, *role, strings.Join(rolesOf(name), ", ")))
			return
		}
	}
	if !*enabled && !*check && !*once {
		idle(os.Stdin, os.Stderr, name+" is turned off for this install (-enabled=false)")
		return
	}
	if *check {
		checkedRole := *role
		if checkedRole == "" {
			checkedRole = os.Getenv("OASIS_NODE_ROLE")
		}
		os.Exit(runCheck(os.Stdout, name, plugin, influxTarget{
			url: *influxURL, database: *influxDB, user: *influxUser, password: os.Getenv("INFLUX_PASSWORD"),
		}, checkedRole))
	}
	execdlog.Install(os.Stderr, "inputs."+name)
	s := shim.New()
	// AddInput runs the plugin's Init, which validates every setting.
	if err := s.AddInput(plugin); err != nil {
		fail(fmt.Errorf("%s: [[inputs.%s]]: %w", *configFile, name, err))
	}
	if *once {
		os.Exit(gatherOnce(s, plugin, *onceWait))
	}
	if err := s.Run(*pollInterval); err != nil {
		fail(err)
	}
}

// runProcessor runs a processor ([[processors.execd]]): line protocol in
// on stdin, out on stdout, until stdin closes.
func runProcessor(configFile string, p plugin, once, passOnError bool) {
	if once {
		fail(fmt.Errorf("%s: -once runs inputs; %s is a processor", configFile, p.table()))
	}
	execdlog.Install(os.Stderr, "processors."+p.name)
	s := shim.New()
	if err := initProcessor(s, configFile, p); err != nil {
		if passOnError {
			passThrough(os.Stdin, os.Stdout, os.Stderr, err, time.Minute)
			return
		}
		fail(err)
	}
	if err := s.Run(0); err != nil {
		fail(err)
	}
}

// initProcessor adds the processor to the shim, which runs its Init: the
// check of every setting.
func initProcessor(s *shim.Shim, configFile string, p plugin) error {
	if err := s.AddStreamingProcessor(p.processor); err != nil {
		// The shim says "failed to init input" for any plugin: its cause
		// is what the operator needs.
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return fmt.Errorf("%s: %s: %w", configFile, p.table(), err)
	}
	return nil
}

// checkProcessor is -check for a processor: its config loads, its
// settings are accepted, and nothing in it is skipped (Problems).
func checkProcessor(w io.Writer, configFile string, p plugin) int {
	execdlog.Install(io.Discard, "processors."+p.name) // the report says it all
	if err := initProcessor(shim.New(), configFile, p); err != nil {
		fmt.Fprintf(w, "FAIL  config     %v\n", err)
		return 1
	}
	target := any(p.processor)
	if u, ok := p.processor.(processors.HasUnwrap); ok {
		target = u.Unwrap()
	}
	var problems []string
	if withProblems, ok := target.(interface{ Problems() []string }); ok {
		problems = withProblems.Problems()
	}
	for _, problem := range problems {
		what := "alias"
		if strings.HasPrefix(problem, "metadata registry") {
			what = "registry"
		}
		fmt.Fprintf(w, "FAIL  %-10s %s\n", what, problem)
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "%d check(s) failed; fix them in %s\n", len(problems), configFile)
		return 1
	}
	fmt.Fprintf(w, "ok    config     %s: every setting accepted\nall checks passed\n", configFile)
	return 0
}

// passThrough copies line protocol from in to out unchanged until in
// closes, logging why every interval: a processor whose config is wrong
// must not take the points it carries down with it.
func passThrough(in io.Reader, out io.Writer, log io.Writer, why error, interval time.Duration) {
	say := func() {
		for _, line := range strings.Split(strings.TrimRight(why.Error(), "\n"), "\n") {
			fmt.Fprintln(log, "E! "+line)
		}
		fmt.Fprintln(log, "E! passing every point on unchanged until this is fixed (then restart Telegraf)")
	}
	say()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				say()
			}
		}
	}()
	_, _ = io.Copy(out, in)
	close(done)
}

func printSample(name string) error {
	sampleOf := func(n string) (string, bool) {
		if creator, ok := inputs.Inputs[n]; ok {
			return creator().SampleConfig(), true
		}
		if creator, ok := processors.Processors[n]; ok {
			return creator().SampleConfig(), true
		}
		return "", false
	}
	if name == "all" {
		for _, n := range pluginNames() {
			sample, _ := sampleOf(n)
			fmt.Println(sample)
		}
		return nil
	}
	sample, ok := sampleOf(name)
	if !ok {
		return fmt.Errorf("-sample-config %q: unknown plugin; this binary runs: %s", name, strings.Join(pluginNames(), ", "))
	}
	fmt.Print(sample)
	return nil
}

// errorCounter counts the errors a gather reports while passing them on to
// the log. A service input reports from its own goroutine.
type errorCounter struct {
	telegraf.Accumulator
	errors *atomic.Int64
}

func (e *errorCounter) AddError(err error) {
	if err != nil {
		e.errors.Add(1)
	}
	e.Accumulator.AddError(err)
}

// gatherOnce runs one gather and prints its metrics as line protocol; it
// returns the exit code. A service input is started first and gathered once
// it follows the node (see awaitFollowing), then stopped.
func gatherOnce(s *shim.Shim, plugin telegraf.Input, wait time.Duration) int {
	// Metrics are written as they come: a service input catching up may
	// report more points than any buffer holds.
	metrics := make(chan telegraf.Metric, 100)
	written := make(chan error, 1)
	go func() { written <- writeMetrics(os.Stdout, metrics) }()

	errs := &atomic.Int64{}
	acc := &errorCounter{Accumulator: agent.NewAccumulator(s, metrics), errors: errs}
	acc.SetPrecision(time.Nanosecond)
	failed := false
	if svc, ok := plugin.(telegraf.ServiceInput); ok {
		if err := svc.Start(acc); err != nil {
			acc.AddError(fmt.Errorf("starting: %w", err))
		} else {
			summary, err := awaitFollowing(s, plugin, errs, wait)
			if err != nil {
				s.Log().Error(err.Error())
				failed = true
			}
			for _, m := range summary {
				acc.AddMetric(m)
			}
			svc.Stop()
		}
	} else {
		if err := plugin.Gather(acc); err != nil {
			acc.AddError(err)
		}
		if stopper, ok := plugin.(interface{ Stop() }); ok {
			stopper.Stop()
		}
	}
	close(metrics)
	if err := <-written; err != nil {
		fail(err)
	}
	if failed || errs.Load() > 0 {
		return 1
	}
	return 0
}

// awaitFollowing gathers a started service input every pollEvery until its
// points say it follows the node, and returns that gather's points. Our
// plugins report, on their oasis_input point, up=1 when following and
// lag_blocks, where they follow blocks, for how far the last accounted
// height is behind the node's: it is 1 when caught up (height H is
// accounted once block H+1 is in). An error the input reports, the
// deadline and SIGINT/SIGTERM end the wait with an error; the last
// gather's points are returned all the same, as a polling input's up=0 is
// printed.
func awaitFollowing(s *shim.Shim, plugin telegraf.Input, errs *atomic.Int64, wait time.Duration) ([]telegraf.Metric, error) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		summary := gatherAll(s, plugin, errs)
		why := notFollowing(summary)
		switch {
		case why == "":
			return summary, nil
		case errs.Load() > 0:
			// The error may have come after this gather: gather again, so
			// the summary printed is the state the error left (down_reason).
			summary = gatherAll(s, plugin, errs)
			return summary, fmt.Errorf("-once: %s; stopped at the error above", notFollowing(summary))
		}
		select {
		case <-deadline.C:
			return summary, fmt.Errorf("-once: %s after %s; allow longer with -once-wait", why, wait)
		case <-ctx.Done():
			return summary, fmt.Errorf("-once: interrupted while %s", why)
		case <-tick.C:
		}
	}
}

// pollEvery is how often -once gathers a service input while it waits.
const pollEvery = 200 * time.Millisecond

// gatherAll runs one gather and returns its metrics; its errors are logged
// and counted in errs.
func gatherAll(s *shim.Shim, plugin telegraf.Input, errs *atomic.Int64) []telegraf.Metric {
	ch := make(chan telegraf.Metric)
	done := make(chan []telegraf.Metric)
	go func() {
		var got []telegraf.Metric
		for m := range ch {
			got = append(got, m)
		}
		done <- got
	}()
	acc := &errorCounter{Accumulator: agent.NewAccumulator(s, ch), errors: errs}
	acc.SetPrecision(time.Nanosecond)
	if err := plugin.Gather(acc); err != nil {
		acc.AddError(err)
	}
	close(ch)
	return <-done
}

// notFollowing says why a summary does not yet show a followed node, or
// returns "".
func notFollowing(summary []telegraf.Metric) string {
	if len(summary) == 0 {
		return "no summary yet"
	}
	for _, m := range summary {
		if up, ok := m.GetField("up"); ok && up != int64(1) {
			return "not following the node (up=0)"
		}
		if lag, ok := m.GetField("lag_blocks"); ok {
			if n, ok := lag.(int64); ok && n > 1 {
				return fmt.Sprintf("still catching up (lag_blocks=%d)", n)
			}
		}
	}
	return ""
}

func writeMetrics(w io.Writer, metrics <-chan telegraf.Metric) error {
	serializer := &influx.Serializer{}
	if err := serializer.Init(); err != nil {
		return err
	}
	var werr error
	for m := range metrics {
		if werr != nil {
			continue // drain, so the input never blocks
		}
		line, err := serializer.Serialize(m)
		if err != nil {
			werr = err
			continue
		}
		if _, err := w.Write(line); err != nil {
			werr = err
		}
	}
	return werr
}

func fail(err error) {
	// One "E! " line per line of the message, so execd logs all of it.
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintln(os.Stderr, "E! "+line)
	}
	os.Exit(1)
}
