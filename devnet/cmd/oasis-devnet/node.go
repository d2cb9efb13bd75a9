package main

import (
	"fmt"
	"os"

	"github.com/spf13/viper"

	"github.com/oasisprotocol/oasis-core/go/config"
	"github.com/oasisprotocol/oasis-core/go/oasis-node/cmd/node"
	"github.com/oasisprotocol/oasis-core/go/runtime/bundle"

	"github.com/oasis-mission-control/oasis-mission-control/devnet/network"
)

// runNode runs one validator in this process until SIGINT or SIGTERM.
func runNode(m *network.Manifest, v network.Validator) error {
	if err := config.InitConfig(v.ConfigFile); err != nil {
		return err
	}
	if v.Compute {
		// The ParaTime this compute node hosts, answered by the mock
		// provisioner: a setting oasis-node takes only from its flags.
		viper.Set(bundle.CfgDebugMockIDs, []string{m.RuntimeID})
	}
	n, err := node.NewNode()
	if err != nil {
		return fmt.Errorf("starting validator %d: %w", v.Index, err)
	}
	fmt.Fprintf(os.Stderr, "I! validator %d running, socket %s\n", v.Index, v.Socket)
	// The node's service manager handles SIGINT and SIGTERM itself (and a
	// failing service): Wait returns once every service has stopped. A second
	// Stop of our own would stop its services twice, which panics.
	n.Wait()
	n.Cleanup()
	fmt.Fprintf(os.Stderr, "I! validator %d stopped; its log is %s/node.log\n", v.Index, v.DataDir)
	return nil
}
