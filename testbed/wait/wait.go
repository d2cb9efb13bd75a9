// Package wait polls for a condition on the test's own goroutine, with a
// deadline that fails the test.
//
// require.Eventually runs its condition on another goroutine: a require or
// t.Fatal inside it does not stop the test where it failed, and shows up as
// a timeout instead. Conditions in integration tests query real components
// through helpers that fail the test on a broken query (a bad InfluxQL
// statement, a node that returns garbage), so they run here, where such a
// failure ends the test at once with its own message.
package wait

import (
	"fmt"
	"testing"
	"time"
)

// Until calls cond every tick until it returns true, and fails the test
// with msgAndArgs (a format and its arguments) and the time waited when
// timeout passes first. cond runs on the caller's goroutine, so it may use
// require and t.Fatal.
func Until(t testing.TB, cond func() bool, timeout, tick time.Duration, msgAndArgs ...any) {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("not within %s: %s", timeout, message(msgAndArgs))
		}
		time.Sleep(tick)
	}
}

// Value is Until for a condition that also reports what it saw: the last
// report goes into the failure message, so a timeout says what the state
// was, not only that it was wrong.
func Value(t testing.TB, cond func() (bool, string), timeout, tick time.Duration, what string) {
	t.Helper()
	var last string
	Until(t, func() bool {
		ok, seen := cond()
		last = seen
		return ok
	}, timeout, tick, "%s (last seen: %s)", what, lazy(&last))
}

// lazy prints the string it points to when the message is formatted, so
// Value's message shows the last state, not the first.
type lazy *string

func message(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return "condition not met"
	}
	format, ok := msgAndArgs[0].(string)
	if !ok {
		return fmt.Sprint(msgAndArgs...)
	}
	args := make([]any, 0, len(msgAndArgs)-1)
	for _, a := range msgAndArgs[1:] {
		if l, ok := a.(lazy); ok {
			a = *l
		}
		args = append(args, a)
	}
	return fmt.Sprintf(format, args...)
}
