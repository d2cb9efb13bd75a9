// Command oasis-devnet creates and runs a local network of real oasis-node
// validators for Oasis Mission Control's tests and demos, and submits the
// transactions its scenarios need.
//
// The stock oasis-node binary refuses to start on machines whose open-file
// limit is below 50,000; this command runs oasis-core's node package
// in-process instead (as oasis-core's own node test does), one validator per
// OS process. See docs/devnet.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/viper"

	"github.com/oasisprotocol/oasis-core/go/common/quantity"
	cmdFlags "github.com/oasisprotocol/oasis-core/go/oasis-node/cmd/common/flags"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/network"
)

const usageText = `usage: oasis-devnet COMMAND -dir DIR [flags]

network:
  init      -dir DIR [-validators 4] [-block-interval 1s] [-epoch-blocks 30] [-socket-dir DIR] [-metrics] [-clients 0] [-max-validators 100] [-compute 0]
            create a network and print its manifest (JSON)
  up        -dir DIR [init flags]   init (if DIR has no network) and start every validator
  node      -dir DIR -index I [-umask 0007]  run validator I in the foreground until SIGINT/SIGTERM
  start     -dir DIR [-index I]     start validator I (default: all) in the background
  stop      -dir DIR [-index I]     stop (SIGTERM, then SIGKILL) validator I (default: all)
  restart   -dir DIR [-index I]     stop, then start
  list      -dir DIR                validators with IDs, addresses, sockets and whether running (JSON)
  down      -dir DIR                stop every validator and delete DIR

scenarios (real signed transactions with the devnet's test keys; accounts are
"delegator" or "entity-N"; amounts in TEST):
  delegate   -dir DIR -to I -amount 1000 [-from delegator]
  undelegate -dir DIR -to I [-shares N] [-from delegator]      (default: all shares)
  transfer   -dir DIR -to ACCOUNT -amount 10 [-from delegator]
  propose    -dir DIR -from I [-handler devnet-upgrade] [-epochs-ahead 500]
             submit an upgrade proposal from entity-I; prints its ID
  vote       -dir DIR -from I -proposal ID [-vote yes|no|abstain]

  version    the commit this binary was built from and the Go version
`

func usage() {
	fmt.Fprint(os.Stderr, usageText)
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

	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "init", "up":
		err = cmdInit(cmd, args)
	case "node", "start", "stop", "restart", "list", "down":
		err = cmdControl(cmd, args)
	case "delegate", "undelegate", "transfer", "propose", "vote":
		err = cmdScenario(cmd, args)
	case "-h", "--help", "help":
		fmt.Print(usageText)
		return
	case "version", "-version", "--version":
		fmt.Println(versionLine())
		return
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "oasis-devnet %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func cmdInit(cmd string, args []string) error {
	def := network.DefaultOptions()
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "network directory (required)")
	fs.IntVar(&def.Validators, "validators", def.Validators, "number of validators")
	fs.DurationVar(&def.BlockInterval, "block-interval", def.BlockInterval, "pause between blocks (CometBFT timeout_commit)")
	fs.Int64Var(&def.EpochBlocks, "epoch-blocks", def.EpochBlocks, "epoch length in blocks")
	fs.StringVar(&def.SocketDir, "socket-dir", "", "put each validator's internal socket here (validator-N.sock) instead of its data directory")
	fs.IntVar(&def.Clients, "clients", 0, "client-mode nodes after the validators (client-N): full nodes that validate nothing")
	fs.IntVar(&def.MaxValidators, "max-validators", 100, "the validator set's size limit (scheduler max_validators); below -validators, those with the least escrow (the last) are left out from epoch 1")
	fs.IntVar(&def.ComputeNodes, "compute", 0, "validators 1 to N also host the devnet's ParaTime (compute mode, oasis-core's mock runtime: no binary), registered in the genesis")
	fs.BoolVar(&def.Metrics, "metrics", false, "each validator serves its Prometheus metrics on 127.0.0.1:<metrics_port> (network.json)")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-dir is required, e.g. -dir /tmp/devnet")
	}
	m, err := network.LoadManifest(*dir)
	if cmd == "init" || err != nil {
		if m, err = network.Init(*dir, def); err != nil {
			return err
		}
	}
	if cmd == "up" {
		if err := forEach(m.Validators, func(v network.Validator) error {
			if _, running := runningPID(v); running {
				return nil
			}
			return startValidator(m, v)
		}); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

func cmdControl(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "network directory made by init (required)")
	index := fs.Int("index", -1, "validator index (default: all; required for node)")
	umask := fs.String("umask", "", "node only: the process umask, in octal (e.g. 0007: the socket group-writable, as in docs/install.md#socket-access)")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-dir is required, e.g. -dir /tmp/devnet")
	}
	m, err := network.LoadManifest(*dir)
	if err != nil {
		return err
	}
	vs, err := selectValidators(m, *index)
	if err != nil {
		return err
	}
	switch cmd {
	case "node":
		if *index < 0 {
			return fmt.Errorf("-index is required, e.g. -index 0")
		}
		if *umask != "" {
			mask, err := strconv.ParseUint(*umask, 8, 32)
			if err != nil || mask > 0o777 {
				return fmt.Errorf("-umask %q: an octal mask, e.g. -umask 0007", *umask)
			}
			syscall.Umask(int(mask))
		}
		return runNode(m, vs[0])
	case "start":
		return forEach(vs, func(v network.Validator) error { return startValidator(m, v) })
	case "stop":
		return forEach(vs, stopValidator)
	case "restart":
		return forEach(vs, func(v network.Validator) error {
			if err := stopValidator(v); err != nil {
				return err
			}
			return startValidator(m, v)
		})
	case "list":
		return listValidators(m)
	case "down":
		if err := forEach(m.Validators, stopValidator); err != nil {
			return err
		}
		return os.RemoveAll(m.Dir)
	}
	return nil
}

func cmdScenario(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "network directory made by init (required)")
	via := fs.Int("via", 0, "validator whose socket to submit through")
	from := fs.String("from", network.DelegatorName, "signing account: delegator or entity-N (propose, vote: the validator index N)")
	to := fs.String("to", "", "delegate/undelegate: validator index; transfer: account name")
	amount := fs.String("amount", "", "amount in TEST")
	shares := fs.String("shares", "", "undelegate: shares to reclaim (default: all)")
	handler := fs.String("handler", "devnet-upgrade", "propose: upgrade handler name")
	epochsAhead := fs.Uint64("epochs-ahead", 500, "propose: upgrade epoch, counted from now")
	proposal := fs.Uint64("proposal", 0, "vote: proposal ID")
	vote := fs.String("vote", "yes", "vote: yes, no or abstain")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-dir is required, e.g. -dir /tmp/devnet")
	}
	m, err := network.LoadManifest(*dir)
	if err != nil {
		return err
	}
	c, err := m.Dial(*via)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	validatorIndex := func(flagName, s string) (int, error) {
		var i int
		if _, err := fmt.Sscan(s, &i); err != nil {
			return 0, fmt.Errorf("-%s %q: want a validator index, e.g. -%s 0", flagName, s, flagName)
		}
		return i, m.CheckValidator(i)
	}

	switch cmd {
	case "delegate", "undelegate":
		i, err := validatorIndex("to", *to)
		if err != nil {
			return err
		}
		if cmd == "undelegate" {
			var q *quantity.Quantity
			if *shares != "" {
				q = new(quantity.Quantity)
				if err := q.UnmarshalText([]byte(*shares)); err != nil {
					return fmt.Errorf("-shares %q: %w", *shares, err)
				}
			}
			return c.Undelegate(ctx, *from, i, q)
		}
		q, err := network.ParseTokens(*amount)
		if err != nil {
			return err
		}
		return c.Delegate(ctx, *from, i, q)
	case "transfer":
		addr, err := m.AccountAddress(*to)
		if err != nil {
			return err
		}
		q, err := network.ParseTokens(*amount)
		if err != nil {
			return err
		}
		return c.Transfer(ctx, *from, addr, q)
	case "propose":
		i, err := validatorIndex("from", *from)
		if err != nil {
			return err
		}
		id, err := c.ProposeUpgrade(ctx, i, *handler, *epochsAhead)
		if err != nil {
			return err
		}
		fmt.Println(id)
		return nil
	case "vote":
		i, err := validatorIndex("from", *from)
		if err != nil {
			return err
		}
		return c.Vote(ctx, i, *proposal, *vote)
	}
	return nil
}

// versionLine is the devnet tool's version: a test tool, not released, so
// only its commit (as Go recorded it when building in a checkout) and Go
// version (the devnet module can't import the plugin module's buildinfo).
func versionLine() string {
	rev, modified := "unknown", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 12:
				rev = s.Value[:12]
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = "+modified"
			}
		}
	}
	return fmt.Sprintf("oasis-devnet (commit %s%s, %s, oasis-core %s)", rev, modified, runtime.Version(), oasisCoreVersion())
}

// oasisCoreVersion is the oasis-core module the devnet's nodes run.
func oasisCoreVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/oasisprotocol/oasis-core/go" {
				return d.Version
			}
		}
	}
	return "unknown"
}
