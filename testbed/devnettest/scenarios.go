package devnettest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The scenario hooks submit real signed transactions through the
// oasis-devnet command (which holds the devnet's test keys). Accounts are
// "delegator" (funded, owned by no validator) or "entity-N"; amounts are in
// whole or fractional TEST.

// Delegate escrows amount from account from to validator to's entity.
func (n *Net) Delegate(from string, to int, amount string) {
	n.t.Helper()
	n.devnet("delegate", "-from", from, "-to", strconv.Itoa(to), "-amount", amount)
}

// Undelegate reclaims all of from's shares in validator to's entity.
func (n *Net) Undelegate(from string, to int) {
	n.t.Helper()
	n.devnet("undelegate", "-from", from, "-to", strconv.Itoa(to))
}

// Transfer moves amount from account from to account to.
func (n *Net) Transfer(from, to, amount string) {
	n.t.Helper()
	n.devnet("transfer", "-from", from, "-to", to, "-amount", amount)
}

// ProposeUpgrade submits an upgrade proposal from validator from's entity
// (for an upgrade 500 epochs ahead) and returns the proposal ID.
func (n *Net) ProposeUpgrade(from int) uint64 {
	n.t.Helper()
	out := n.devnet("propose", "-from", strconv.Itoa(from))
	id, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		n.t.Fatalf("oasis-devnet propose printed %q, not a proposal ID", out)
	}
	return id
}

// Vote casts validator from's entity's vote (yes, no, abstain) on proposal.
func (n *Net) Vote(from int, proposal uint64, vote string) {
	n.t.Helper()
	n.devnet("vote", "-from", strconv.Itoa(from), "-proposal", strconv.FormatUint(proposal, 10), "-vote", vote)
}

// devnet runs an oasis-devnet scenario command through the first running
// validator and returns its stdout.
func (n *Net) devnet(cmd string, args ...string) string {
	n.t.Helper()
	args = append([]string{cmd, "-dir", n.Dir, "-via", strconv.Itoa(n.firstRunning())}, args...)
	out, err := exec.Command(n.bin, args...).Output()
	if err != nil {
		n.t.Fatalf("oasis-devnet %s: %v %s", strings.Join(args, " "), err, stderrOf(err))
	}
	return string(out)
}

func (n *Net) firstRunning() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.Validators {
		if p, ok := n.procs[i]; ok && p.Running() {
			return i
		}
	}
	n.t.Fatal("no validator is running")
	return -1
}

// LapseRegistration takes validator i offline and waits, watching through
// another validator, until the epoch has passed its registration's
// expiration epoch. It returns that expiration epoch; the validator stays
// stopped (StartValidator brings it back).
func (n *Net) LapseRegistration(i int, timeout time.Duration) uint64 {
	n.t.Helper()
	// A freshly started validator registers at its first epoch change:
	// wait until it holds a descriptor.
	var expiration uint64
	deadline := time.Now().Add(timeout)
	c := n.Client(i)
	for expiration == 0 {
		st, err := c.NodeStatus(context.Background())
		if err == nil && st.Registration != nil && st.Registration.Descriptor != nil {
			expiration = uint64(st.Registration.Descriptor.Expiration)
			break
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("validator %d has no registration to lapse after %s (last error %v)", i, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	n.StopValidator(i)

	watcher := n.Client((i + 1) % len(n.Validators))
	for time.Now().Before(deadline) {
		if st, err := watcher.NodeStatus(context.Background()); err == nil && st.Consensus != nil &&
			uint64(st.Consensus.LatestEpoch) > expiration {
			return expiration
		}
		time.Sleep(500 * time.Millisecond)
	}
	n.t.Fatalf("validator %d's registration (expiring after epoch %d) did not lapse within %s", i, expiration, timeout)
	return 0
}
