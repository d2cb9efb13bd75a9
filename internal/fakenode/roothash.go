package fakenode

import (
	"context"

	"github.com/oasisprotocol/oasis-core/go/common"
	roothash "github.com/oasisprotocol/oasis-core/go/roothash/api"
)

// fakeRootHash serves the runtimes' roothash state from the ledger.
type fakeRootHash struct {
	roothash.Backend
	n *Node
}

// GetRuntimeState returns Ledger.RuntimeStates[id], or the chain's error
// for a runtime it does not know.
func (f *fakeRootHash) GetRuntimeState(_ context.Context, q *roothash.RuntimeRequest) (*roothash.RuntimeState, error) {
	f.n.record("GetRuntimeState")
	l := f.n.Ledger
	l.Lock()
	defer l.Unlock()
	if rs, ok := l.RuntimeStates[q.RuntimeID]; ok {
		return rs, nil
	}
	return nil, roothash.ErrInvalidRuntime
}

// runtimeStates is the ledger's map type, kept here with its server.
type runtimeStates = map[common.Namespace]*roothash.RuntimeState
