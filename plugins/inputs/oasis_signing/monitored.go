package oasis_signing

import (
	"context"
	"fmt"

	consensus "github.com/oasisprotocol/oasis-core/go/consensus/api"

	"github.com/oasis-mission-control/oasis-mission-control/internal/blockmeta"
	"github.com/oasis-mission-control/oasis-mission-control/internal/nodeclient"
)

// resolveMonitored maps the configured validators (by default the node's
// own) to their CometBFT addresses, at the first connection (retried
// until the node answers) and again at each reconnect (refreshMonitored). An entity of entity_ids with no node in the validator set yet
// is not an error: it is logged, and refreshMonitored adds its validators
// when the set changes.
func (s *OasisSigning) resolveMonitored(ctx context.Context) error {
	s.mu.Lock()
	done := s.monitored != nil
	s.mu.Unlock()
	if done {
		// A reconnect: the node may have come back with another identity
		// (an upgrade, a new genesis), or a node joined meanwhile.
		return s.refreshMonitored(ctx)
	}
	mon, missing, err := s.lookupMonitored(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.monitored = mon
	for addr := range mon {
		s.tracker.Track(addr)
	}
	for _, eid := range missing {
		s.Log.Warnf("entity_ids: entity %s has no node in the validator set yet; its validators are added when the set changes", eid)
	}
	if !s.AllValidators && len(missing) == 0 {
		// Accounts in the state file of validators no longer configured
		// would go on reporting frozen totals: drop them, and say so. Not
		// while an entity has no node in the set: its saved accounts are
		// the ones it resumes when it is back.
		for addr := range s.tracker.Accounts {
			if _, ok := mon[addr]; !ok {
				delete(s.tracker.Accounts, addr)
				s.Log.Infof("validator %s is no longer monitored; its counts are dropped from %s", addr, s.StateFile)
			}
		}
	}
	return nil
}

// refreshMonitored looks the configured validators up again (at each
// reconnect, and when the validator set changes, i.e. at most once an
// epoch) and
// starts monitoring any new one: a node added to the entity, a new
// consensus key after an identity change. It never drops one during a run:
// a validator that left the set is the one whose account matters then. A
// node that can't be reached is an error (following waits for it, and
// looks up again then); a lookup the node answers with an error keeps the
// monitored set as it is, with a warning.
func (s *OasisSigning) refreshMonitored(ctx context.Context) error {
	mon, _, err := s.lookupMonitored(ctx)
	if err != nil {
		if nodeclient.Reason(err) != nodeclient.ReasonQueryFailed {
			return err
		}
		s.Log.Warnf("looking up the monitored validators again: %v (keeping the current ones)", err)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, id := range mon {
		if _, ok := s.monitored[addr]; ok {
			continue
		}
		s.monitored[addr] = id
		s.tracker.Track(addr)
		s.Log.Infof("now monitoring validator %s (node %s, entity %s): new since the last lookup (it joined the validator set, or the node has a new identity)", addr, id.NodeID, id.EntityID)
	}
	return nil
}

// lookupMonitored finds the CometBFT addresses of the configured
// validators, and the entities of entity_ids with no node in the set.
func (s *OasisSigning) lookupMonitored(ctx context.Context) (map[blockmeta.Address]identity, []string, error) {
	mon := map[blockmeta.Address]identity{}
	if len(s.nodeIDs) == 0 && len(s.entityIDs) == 0 {
		st, err := s.client.NodeStatus(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("finding the node's own validator: %w", err)
		}
		id := identity{NodeID: st.Identity.Node.String()}
		if eid, err := s.client.OwnEntity(ctx, st); err == nil {
			id.EntityID = eid.String()
		}
		mon[blockmeta.AddressOf(st.Identity.Consensus)] = id
	}
	for _, nid := range s.nodeIDs {
		n, err := s.client.Node(ctx, nid, consensus.HeightLatest)
		if err != nil {
			return nil, nil, fmt.Errorf("node_ids: looking up %s: %w", nid, err)
		}
		mon[blockmeta.AddressOf(n.Consensus.ID)] = identity{NodeID: n.ID.String(), EntityID: n.EntityID.String()}
	}
	var missing []string
	if len(s.entityIDs) > 0 {
		vals, err := s.client.Validators(ctx, consensus.HeightLatest)
		if err != nil {
			return nil, nil, fmt.Errorf("entity_ids: reading the validator set: %w", err)
		}
		for _, eid := range s.entityIDs {
			found := false
			for _, v := range vals {
				if !v.EntityID.Equal(eid) {
					continue
				}
				n, err := s.client.Node(ctx, v.ID, consensus.HeightLatest)
				if err != nil {
					return nil, nil, fmt.Errorf("entity_ids: looking up node %s of %s: %w", v.ID, eid, err)
				}
				mon[blockmeta.AddressOf(n.Consensus.ID)] = identity{NodeID: n.ID.String(), EntityID: eid.String()}
				found = true
			}
			if !found {
				missing = append(missing, eid.String())
			}
		}
	}
	return mon, missing, nil
}

// nameValidators looks up, once each, the node and entity behind validator
// addresses the plugin has not named yet (for all_validators summaries). A
// failed lookup leaves the validator tagged by its address only.
func (s *OasisSigning) nameValidators(ctx context.Context, set map[blockmeta.Address]struct{}, height int64) {
	for addr := range set {
		s.mu.Lock()
		_, named := s.names[addr]
		_, mon := s.monitored[addr]
		s.mu.Unlock()
		if named || mon {
			continue
		}
		n, err := s.client.NodeByConsensusAddress(ctx, addr[:], height)
		if err != nil {
			s.Log.Warnf("naming validator %s: %v", addr, err)
			continue
		}
		s.mu.Lock()
		s.names[addr] = identity{NodeID: n.ID.String(), EntityID: n.EntityID.String()}
		s.mu.Unlock()
	}
}
