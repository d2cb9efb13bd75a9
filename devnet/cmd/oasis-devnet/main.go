// Command oasis-devnet creates and runs a local network of real oasis-node
// validators for Oasis Mission Control's tests and demos.
//
// The stock oasis-node binary refuses to start on machines whose open-file
// limit is below 50,000; this command runs oasis-core's node package
// in-process instead (as oasis-core's own node test does), one validator per
// OS process.
//
//	oasis-devnet init -dir DIR [-validators N] [-block-interval 1s] [-epoch-blocks 30]
//	oasis-devnet node -dir DIR -index I
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/viper"

	cmdFlags "github.com/oasisprotocol/oasis-core/go/oasis-node/cmd/common/flags"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/network"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  oasis-devnet init -dir DIR [-validators N] [-block-interval 1s] [-epoch-blocks 30]
      create a new network in DIR and print its manifest (JSON)
  oasis-devnet node -dir DIR -index I
      run validator I of the network in DIR until SIGINT/SIGTERM
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	// The devnet runs as root on loopback with debug-only genesis settings
	// (unroutable addresses, insecure beacon): oasis-core's genesis checks
	// and node insist that this be acknowledged.
	viper.Set(cmdFlags.CfgDebugDontBlameOasis, true)

	var err error
	switch os.Args[1] {
	case "init":
		err = cmdInit(os.Args[2:])
	case "node":
		err = cmdNode(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "oasis-devnet %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func cmdInit(args []string) error {
	def := network.DefaultOptions()
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	dir := fs.String("dir", "", "network directory to create (required)")
	fs.IntVar(&def.Validators, "validators", def.Validators, "number of validators")
	fs.DurationVar(&def.BlockInterval, "block-interval", def.BlockInterval, "pause between blocks (CometBFT timeout_commit)")
	fs.Int64Var(&def.EpochBlocks, "epoch-blocks", def.EpochBlocks, "epoch length in blocks")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-dir is required, e.g. -dir /tmp/devnet")
	}
	m, err := network.Init(*dir, def)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

func cmdNode(args []string) error {
	fs := flag.NewFlagSet("node", flag.ExitOnError)
	dir := fs.String("dir", "", "network directory made by init (required)")
	index := fs.Int("index", -1, "validator index (required)")
	_ = fs.Parse(args)
	if *dir == "" || *index < 0 {
		return fmt.Errorf("-dir and -index are required, e.g. -dir /tmp/devnet -index 0")
	}
	m, err := network.LoadManifest(*dir)
	if err != nil {
		return err
	}
	if *index >= len(m.Validators) {
		return fmt.Errorf("-index %d: the network has %d validators", *index, len(m.Validators))
	}
	return runNode(m.Validators[*index])
}
