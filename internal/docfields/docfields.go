// Package docfields reads the field table of a plugin README, so tests can
// hold the documentation and the metrics a plugin emits to each other.
package docfields

import (
	"bufio"
	"os"
	"regexp"
)

// row matches a field table row: "| `name` | type | unit | meaning |".
var row = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")

// Fields returns the field names listed in the README at path, in order.
func Fields(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m := row.FindStringSubmatch(s.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	return names, s.Err()
}
