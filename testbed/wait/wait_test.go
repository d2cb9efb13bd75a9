package wait

import (
	"fmt"
	"testing"
	"time"
)

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f) // like runtime.Goexit: nothing after Fatalf runs
}

func run(f func(t *fakeT)) (t *fakeT) {
	t = &fakeT{}
	defer func() {
		if r := recover(); r != nil && r != any(t) {
			panic(r)
		}
	}()
	f(t)
	return t
}

func TestUntilReturnsWhenTrue(t *testing.T) {
	n := 0
	ft := run(func(ft *fakeT) { Until(ft, func() bool { n++; return n == 3 }, time.Second, time.Millisecond) })
	if ft.failed != "" || n != 3 {
		t.Fatalf("failed=%q after %d calls", ft.failed, n)
	}
}

func TestUntilFailsAtTheDeadline(t *testing.T) {
	start := time.Now()
	ft := run(func(ft *fakeT) {
		Until(ft, func() bool { return false }, 50*time.Millisecond, time.Millisecond, "node %d up", 3)
	})
	if ft.failed != "not within 50ms: node 3 up" {
		t.Fatalf("message %q", ft.failed)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("gave up before the deadline")
	}
}

func TestValueReportsTheLastState(t *testing.T) {
	n := 0
	ft := run(func(ft *fakeT) {
		Value(ft, func() (bool, string) { n++; return false, fmt.Sprint("height ", n) }, 20*time.Millisecond, time.Millisecond, "height 100")
	})
	want := fmt.Sprintf("not within 20ms: height 100 (last seen: height %d)", n)
	if ft.failed != want {
		t.Fatalf("message %q, want %q", ft.failed, want)
	}
}
