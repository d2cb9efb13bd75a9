// Command oasis-demo runs Oasis Mission Control end to end on this machine,
// no Docker needed: a four-validator devnet (real oasis-node validators),
// InfluxDB and Telegraf with the repository's telegraf.conf, the alerting
// engine live behind InfluxDB's subscription (oasis-kapacitord with the
// repository's kapacitor.conf and alerts), and prints a health summary read
// back from InfluxDB every few seconds and every alert as it fires. Unless
// -fault=false, it stops validator 0 (our node) for a minute to show an
// alert and its recovery. It stops and cleans up after -seconds, or on
// Ctrl-C.
//
//	make demo      (builds the binaries, then runs: go run ./cmd/oasis-demo)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
	"github.com/oasis-mission-control/oasis-mission-control/devnet/proc"
	"github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
)

func main() {
	seconds := flag.Int("seconds", 180, "how long to run before stopping and cleaning up")
	port := flag.Int("influx-port", 18086, "InfluxDB HTTP port on 127.0.0.1")
	keep := flag.Bool("keep", false, "keep the data directory after stopping")
	fault := flag.Bool("fault", true, "stop validator 0 (our node) at 40 s for 60 s, to show an alert and its recovery")
	showVersion := flag.Bool("version", false, "print the version, the commit it was built from and the Go version, and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(buildinfo.String("oasis-demo"))
		return
	}
	if err := run(time.Duration(*seconds)*time.Second, *port, *keep, *fault); err != nil {
		fmt.Fprintln(os.Stderr, "oasis-demo:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, port int, keep, fault bool) error {
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	bins, err := nativestack.Bins(repo)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "omc-demo")
	if err != nil {
		return err
	}
	devnet := filepath.Join(bins, "oasis-devnet")
	netDir := filepath.Join(dir, "devnet")
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		if keep {
			fmt.Println("data kept in", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	fmt.Println("starting 4 oasis-node validators (devnet in", netDir+")")
	out, err := exec.Command(devnet, "up", "-dir", netDir, "-validators", "4", "-block-interval", "1s", "-epoch-blocks", "30").Output()
	stops = append(stops, func() { _ = exec.Command(devnet, "down", "-dir", netDir).Run() })
	if err != nil {
		return fmt.Errorf("oasis-devnet up: %w", err)
	}
	net, err := manifest.Decode(out)
	if err != nil {
		return fmt.Errorf("oasis-devnet up printed no manifest: %w", err)
	}

	in, err := nativestack.NewInflux(repo, bins, filepath.Join(dir, "influxdb"), port)
	if err != nil {
		return err
	}
	fmt.Println("starting InfluxDB on", in.URL, "(database", nativestack.Database+", user", nativestack.AdminUser, "/", nativestack.AdminPassword+")")
	stops = append(stops, in.Stop)
	if err := in.Start(); err != nil {
		return err
	}
	if err := in.Bootstrap(); err != nil {
		return err
	}

	// The alerts: oasis-kapacitord where InfluxDB's subscription sends
	// every point; its webhook channel posts each alert here, to print.
	hook, err := alertPrinter()
	if err != nil {
		return err
	}
	stops = append(stops, func() { _ = hook.Close() })
	historyPort, err := proc.FreePort()
	if err != nil {
		return err
	}
	history := fmt.Sprintf("127.0.0.1:%d", historyPort)
	k, err := nativestack.NewKapacitor(repo, bins, in, filepath.Join(dir, "kapacitor"), []string{
		"KAPACITOR_HTTPPOST_0_URL=http://" + hook.Addr + "/alert",
		"KAPACITOR_HTTPPOST_2_URL=http://" + history + "/oasis/alerts",
		"KAPACITOR_HTTP_LOG_ENABLED=false",
	})
	if err != nil {
		return err
	}
	fmt.Println("starting the alerting engine (oasis-kapacitord) on", k.URL, "with kapacitor/load (log:", filepath.Join(dir, "kapacitor", "kapacitord.log")+")")
	stops = append(stops, k.Stop)
	if err := k.Start(); err != nil {
		return err
	}

	stateDir := filepath.Join(dir, "telegraf")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	tg, err := nativestack.NewTelegraf(repo, bins, in, nativestack.TelegrafOptions{
		Socket: net.Validators[0].Socket, Interval: 5 * time.Second, StateDir: stateDir,
		Env: []string{"OASIS_NODE_PROCESS=oasis-devnet", "OASIS_NODE_ID=" + net.Validators[0].NodeID,
			"OASIS_ALERT_HISTORY_ADDRESS=" + history},
	})
	if err != nil {
		return err
	}
	fmt.Println("starting Telegraf with telegraf.conf, watching validator 0 (log:", filepath.Join(stateDir, "telegraf.log")+")")
	stops = append(stops, tg.Stop)
	if err := tg.Start(); err != nil {
		return err
	}

	fmt.Printf("running for %s; Ctrl-C stops early. Query it meanwhile, e.g.\n  curl -u %s:%s '%s/query?db=telegraf' --data-urlencode 'q=SELECT last(*) FROM oasis_node'\n",
		duration, nativestack.AdminUser, nativestack.AdminPassword, in.URL)
	fmt.Printf("Alerts print here as they fire. Make one from another terminal:\n  %s stop -dir %s -index 0    (our node; then: start -dir %s -index 0)\n\n",
		devnet, netDir, netDir)
	var faultAt, restartAt <-chan time.Time
	if fault {
		faultAt = time.After(40 * time.Second)
		fmt.Println("In 40 s the demo stops validator 0 (our node) for 60 s: oasis_node_down fires after 30 s, and recovers.")
	}
	client := influxdb2.NewClient(in.URL, nativestack.AdminUser+":"+nativestack.AdminPassword)
	defer client.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	end := time.After(duration)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-end:
			fmt.Println("\ndemo done; stopping Telegraf, InfluxDB and the validators")
			return nil
		case <-sig:
			fmt.Println("\nstopping Telegraf, InfluxDB and the validators")
			return nil
		case <-tick.C:
			printSummary(client)
		case <-faultAt:
			fmt.Printf("%s  demo: stopping validator 0 (our node) for 60 s\n", time.Now().Format("15:04:05"))
			if out, err := exec.Command(devnet, "stop", "-dir", netDir, "-index", "0").CombinedOutput(); err != nil {
				return fmt.Errorf("oasis-devnet stop: %v\n%s", err, out)
			}
			restartAt = time.After(60 * time.Second)
		case <-restartAt:
			fmt.Printf("%s  demo: starting validator 0 again\n", time.Now().Format("15:04:05"))
			if out, err := exec.Command(devnet, "start", "-dir", netDir, "-index", "0").CombinedOutput(); err != nil {
				return fmt.Errorf("oasis-devnet start: %v\n%s", err, out)
			}
		}
	}
}

// health is the summary's Flux query: the newest value of each field shown.
const health = `from(bucket: "telegraf/autogen") |> range(start: -10m)
  |> filter(fn: (r) =>
       (r._measurement == "oasis_node" and (r._field == "up" or r._field == "latest_height" or r._field == "synced" or r._field == "registration_epochs_left")) or
       (r._measurement == "oasis_signing" and (r._field == "uptime_100" or r._field == "missed_total" or r._field == "signed_total")))
  |> group(columns: ["_measurement", "_field"]) |> last()`

func printSummary(client influxdb2.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.QueryAPI("").Query(ctx, health)
	if err != nil {
		fmt.Println("reading InfluxDB:", err)
		return
	}
	v := map[string]any{}
	for res.Next() {
		v[res.Record().Field()] = res.Record().Value()
	}
	if len(v) == 0 {
		fmt.Printf("%s  waiting for the first points...\n", time.Now().Format("15:04:05"))
		return
	}
	fmt.Printf("%s  node up=%v synced=%v height=%v | signing uptime(100)=%v signed=%v missed=%v | registration epochs left=%v\n",
		time.Now().Format("15:04:05"), v["up"], v["synced"], v["latest_height"], v["uptime_100"], v["signed_total"], v["missed_total"], v["registration_epochs_left"])
}

// printer receives the alerts Kapacitor's webhook channel posts.
type printer struct {
	*http.Server
	Addr string
}

// alertPrinter serves, on a free loopback port, an endpoint that prints
// each alert Kapacitor posts (its alert JSON: level, message).
func alertPrinter() (*printer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			Level   string    `json:"level"`
			Message string    `json:"message"`
			Time    time.Time `json:"time"`
		}
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Printf("%s  ALERT %s (observed %s)\n", time.Now().Format("15:04:05"), a.Message, a.Time.Local().Format("15:04:05"))
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &printer{Server: srv, Addr: ln.Addr().String()}, nil
}

// repoRoot is the checkout the demo runs from: the nearest directory at or
// above the working directory that holds telegraf.conf and testbed/ (make
// demo runs it in testbed/).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "telegraf.conf")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "testbed", "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside an Oasis Mission Control checkout (no telegraf.conf and testbed/ above %s)", dir)
		}
		dir = parent
	}
}
