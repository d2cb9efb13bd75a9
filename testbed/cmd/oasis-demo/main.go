// Command oasis-demo runs Oasis Mission Control end to end on this machine,
// no Docker needed: a four-validator devnet (real oasis-node validators),
// InfluxDB and Telegraf with the repository's telegraf.conf, and prints a
// health summary read back from InfluxDB every few seconds. It stops and
// cleans up after -seconds, or on Ctrl-C.
//
//	make demo      (builds the binaries, then runs: go run ./cmd/oasis-demo)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/manifest"
	"github.com/oasis-mission-control/oasis-mission-control/testbed/nativestack"
)

func main() {
	seconds := flag.Int("seconds", 90, "how long to run before stopping and cleaning up")
	port := flag.Int("influx-port", 18086, "InfluxDB HTTP port on 127.0.0.1")
	keep := flag.Bool("keep", false, "keep the data directory after stopping")
	flag.Parse()
	if err := run(time.Duration(*seconds)*time.Second, *port, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "oasis-demo:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, port int, keep bool) error {
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

	stateDir := filepath.Join(dir, "telegraf")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	tg, err := nativestack.NewTelegraf(repo, bins, in, nativestack.TelegrafOptions{
		Socket: net.Validators[0].Socket, Interval: 5 * time.Second, StateDir: stateDir,
		Env: []string{"OASIS_NODE_PROCESS=oasis-devnet"},
	})
	if err != nil {
		return err
	}
	fmt.Println("starting Telegraf with telegraf.conf, watching validator 0 (log:", filepath.Join(stateDir, "telegraf.log")+")")
	stops = append(stops, tg.Stop)
	if err := tg.Start(); err != nil {
		return err
	}

	fmt.Printf("running for %s; Ctrl-C stops early. Query it meanwhile, e.g.\n  curl -u %s:%s '%s/query?db=telegraf' --data-urlencode 'q=SELECT last(*) FROM oasis_node'\n\n",
		duration, nativestack.AdminUser, nativestack.AdminPassword, in.URL)
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
