// Command oasis-telegraf runs one Oasis Mission Control input plugin as a
// Telegraf execd process: it writes line protocol to stdout and log lines
// Telegraf understands to stderr.
//
//	oasis-telegraf -config /etc/telegraf/oasis_node.conf    # under [[inputs.execd]]
//	oasis-telegraf -config oasis_node.conf -once             # gather once, print, exit
//	oasis-telegraf -sample-config oasis_node                 # print a plugin's config
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/oasis-mission-control/oasis-mission-control/internal/execdlog"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_entity"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_governance"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_node"
	_ "github.com/oasis-mission-control/oasis-mission-control/plugins/inputs/oasis_signing"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	configFile := flag.String("config", "", "plugin config file holding one [[inputs.NAME]] table")
	sample := flag.String("sample-config", "", "print the sample config of plugin NAME (or \"all\") and exit")
	once := flag.Bool("once", false, "gather once, print line protocol to stdout and exit (non-zero if the gather reported errors)")
	// Polling is off by default: [[inputs.execd]] with signal = "STDIN"
	// lets Telegraf's own interval drive each gather.
	pollInterval := flag.Duration("poll_interval", 0, "gather on this interval as well as on each line on stdin (0: only on stdin)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	switch {
	case *showVersion:
		fmt.Println("oasis-telegraf", version)
		return
	case *sample != "":
		if err := printSample(*sample); err != nil {
			fail(err)
		}
		return
	case *configFile == "":
		fail(fmt.Errorf("-config FILE is required; print an example with -sample-config %s", strings.Join(pluginNames(), "|")))
	}

	name, plugin, err := loadInput(*configFile)
	if err != nil {
		fail(err)
	}
	execdlog.Install(os.Stderr, "inputs."+name)
	s := shim.New()
	// AddInput runs the plugin's Init, which validates every setting.
	if err := s.AddInput(plugin); err != nil {
		fail(fmt.Errorf("%s: [[inputs.%s]]: %w", *configFile, name, err))
	}
	if *once {
		os.Exit(gatherOnce(s, plugin))
	}
	if err := s.Run(*pollInterval); err != nil {
		fail(err)
	}
}

func printSample(name string) error {
	if name == "all" {
		for _, n := range pluginNames() {
			fmt.Println(inputs.Inputs[n]().SampleConfig())
		}
		return nil
	}
	creator, ok := inputs.Inputs[name]
	if !ok {
		return fmt.Errorf("-sample-config %q: unknown plugin; this binary runs: %s", name, strings.Join(pluginNames(), ", "))
	}
	fmt.Print(creator().SampleConfig())
	return nil
}

// errorCounter counts the errors a gather reports while passing them on to
// the log.
type errorCounter struct {
	telegraf.Accumulator
	errors int
}

func (e *errorCounter) AddError(err error) {
	if err != nil {
		e.errors++
	}
	e.Accumulator.AddError(err)
}

// gatherOnce runs one gather and prints its metrics as line protocol.
func gatherOnce(s *shim.Shim, plugin telegraf.Input) int {
	metrics := make(chan telegraf.Metric, 10_000)
	acc := &errorCounter{Accumulator: agent.NewAccumulator(s, metrics)}
	acc.SetPrecision(time.Nanosecond)
	if err := plugin.Gather(acc); err != nil {
		acc.AddError(err)
	}
	if stopper, ok := plugin.(interface{ Stop() }); ok {
		stopper.Stop()
	}
	close(metrics)

	serializer := &influx.Serializer{}
	if err := serializer.Init(); err != nil {
		fail(err)
	}
	for m := range metrics {
		line, err := serializer.Serialize(m)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(line)
	}
	if acc.errors > 0 {
		return 1
	}
	return 0
}

func fail(err error) {
	// One "E! " line per line of the message, so execd logs all of it.
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintln(os.Stderr, "E! "+line)
	}
	os.Exit(1)
}
