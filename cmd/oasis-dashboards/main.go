// Command oasis-dashboards writes the Grafana dashboards defined in
// internal/dashboards as JSON files, the ones grafana/dashboards holds and
// Grafana provisions: `go run ./cmd/oasis-dashboards` (make dashboards).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oasis-mission-control/oasis-mission-control/internal/buildinfo"
	"github.com/oasis-mission-control/oasis-mission-control/internal/dashboards"
)

func main() {
	out := flag.String("out", "grafana/dashboards", "directory to write the dashboard JSON files to")
	showVersion := flag.Bool("version", false, "print the version, the commit it was built from and the Go version, and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(buildinfo.String("oasis-dashboards"))
		return
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, d := range dashboards.All() {
		b, err := d.Build()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d.File, err)
			os.Exit(1)
		}
		path := filepath.Join(*out, d.File)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}
