// Command oasis-kapacitord runs the alerting engine live: Kapacitor 1.7.5's
// task engine and services (alerting/engine), with its HTTP API on a real
// address, so InfluxDB's subscription pushes every point to its /write
// endpoint as it does to kapacitord in the compose stack, and the tasks,
// templates and handlers of a load directory raise alerts on them.
//
// It is the Kapacitor of make demo and of the live end-to-end test (a
// native install runs the vendor's kapacitord): kapacitord itself does not
// build here (its server package needs Flux's
// Rust library). It reads kapacitor.conf and KAPACITOR_* variables as
// kapacitord does; what it leaves out is listed in alerting/engine's
// package comment (no Flux tasks, no InfluxDB queries or subscriptions of
// its own: influxdb/oasis-setup.sh makes the subscription).
//
//	oasis-kapacitord -config kapacitor/kapacitor.conf -load-dir kapacitor/load \
//	    -data-dir /var/lib/oasis-kapacitord -http 127.0.0.1:9092
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/oasis-mission-control/oasis-mission-control/alerting/engine"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "oasis-kapacitord: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	conf := flag.String("config", "kapacitor/kapacitor.conf", "Kapacitor's configuration file (the repository's kapacitor.conf)")
	loadDir := flag.String("load-dir", "kapacitor/load", "the load directory: tasks/, templates/, handlers/")
	dataDir := flag.String("data-dir", "", "where the engine keeps its state (kapacitor.db: task snapshots, alert levels); required")
	// Loopback by default: the API has no authentication and can change
	// every task (kapacitor.conf's bind-address is the container's ":9092").
	httpAddr := flag.String("http", "127.0.0.1:9092", "the HTTP API's address, where InfluxDB's subscription sends points")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (every setting is a flag; -h lists them)", flag.Args())
	}
	if *dataDir == "" {
		return fmt.Errorf("-data-dir is required, e.g. -data-dir /var/lib/oasis-kapacitord")
	}
	for _, dir := range []string{*loadDir + "/tasks", *loadDir + "/handlers"} {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("-load-dir %s: no %s directory (give the repository's kapacitor/load)", *loadDir, dir)
		}
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("-data-dir: %w", err)
	}
	cfg, err := engine.FromFile(*conf, *loadDir, *dataDir, os.Getenv)
	if err != nil {
		return err
	}
	cfg.HTTP.BindAddress = *httpAddr
	cfg.LogOutput = os.Stderr

	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	if err := e.Open(); err != nil {
		return err
	}
	// Every task file is a running task (the load service names a task
	// after its file), or the operator hears which one is not.
	files, err := filepath.Glob(filepath.Join(*loadDir, "tasks", "*.yaml"))
	if err != nil {
		_ = e.Close()
		return err
	}
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !e.TaskMaster.IsExecuting(id) {
			_ = e.Close()
			return fmt.Errorf("task %s (%s) is not running", id, f)
		}
	}
	// The line a script waits for: the API is up and every task runs.
	fmt.Fprintf(os.Stderr, "oasis-kapacitord: listening on http://%s (write endpoint /write), %d tasks running from %s\n",
		e.HTTPD.Addr(), len(files), *loadDir)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	sig := <-stop
	fmt.Fprintf(os.Stderr, "oasis-kapacitord: %v: stopping\n", sig)
	return e.Close()
}
