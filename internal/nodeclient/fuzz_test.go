package nodeclient

import (
	"strings"
	"testing"
)

// FuzzParseAddress: any address an operator writes is accepted as a UNIX
// socket or a host:port, or refused with an error that shows an example;
// never a panic, never an empty target.
// Seeds: testdata/fuzz/FuzzParseAddress and the forms below. A longer run:
// go test ./internal/nodeclient -run '^$' -fuzz FuzzParseAddress -fuzztime 1m
func FuzzParseAddress(f *testing.F) {
	for _, a := range []string{"unix:/run/oasis/internal.sock", "unix:///run/oasis/internal.sock", "/run/oasis/internal.sock",
		"node.example.com:9100", "", "sock", "/run/oasis/", "unix:", "[::1]:9100", "host:0"} {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, address string) {
		target, err := ParseAddress(address)
		if err != nil {
			if !strings.Contains(err.Error(), "address") {
				t.Fatalf("error %q does not say what is wrong with the address", err)
			}
			return
		}
		if target.Dial == "" {
			t.Fatalf("%q parsed to an empty target", address)
		}
	})
}
