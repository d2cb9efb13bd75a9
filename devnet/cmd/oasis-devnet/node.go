package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oasisprotocol/oasis-core/go/config"
	"github.com/oasisprotocol/oasis-core/go/oasis-node/cmd/node"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/network"
)

// runNode runs one validator in this process until SIGINT or SIGTERM.
func runNode(v network.Validator) error {
	if err := config.InitConfig(v.ConfigFile); err != nil {
		return err
	}

	started := time.Now()
	n, err := node.NewNode()
	if err != nil {
		return fmt.Errorf("starting validator %d: %w", v.Index, err)
	}
	fmt.Fprintf(os.Stderr, "I! validator %d running, socket %s\n", v.Index, v.Socket)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.Wait(); close(done) }()
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "I! validator %d: %s, stopping\n", v.Index, s)
	case <-done:
		n.Cleanup()
		return fmt.Errorf("validator %d stopped on its own; see %s/node.log", v.Index, v.DataDir)
	}
	// oasis-core's own node test notes that tearing the gRPC server down
	// while it is still starting can crash; give it a second.
	if d := time.Second - time.Since(started); d > 0 {
		time.Sleep(d)
	}
	n.Stop()
	n.Wait()
	n.Cleanup()
	return nil
}
