// Package docfields reads the metric tables of a plugin README, so tests
// can hold the documentation and the metrics a plugin emits to each other.
//
// A README lists each measurement as a bullet (- `oasis_entity`: ...)
// followed by its field table (| `name` | type | unit | meaning |); a field
// belongs to the measurement whose bullet comes last before its row, so
// the same field name under two measurements (epoch, in_validator_set)
// stays two documented fields.
package docfields

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
)

var (
	// measurementLine matches a measurement bullet: "- `oasis_entity`...".
	measurementLine = regexp.MustCompile("^- `([a-z0-9_]+)`")
	// fieldRow matches a field table row: "| `name` | type | unit | meaning |".
	fieldRow = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")
)

// Field is one documented field of one measurement.
type Field struct {
	Measurement string
	Name        string
}

func (f Field) String() string { return f.Measurement + "." + f.Name }

// Read returns the documented fields of the README at path, in order. A
// field row before any measurement bullet is an error: the README would
// not say which measurement carries it.
func Read(path string) ([]Field, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Field
	measurement := ""
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		if m := measurementLine.FindStringSubmatch(s.Text()); m != nil {
			measurement = m[1]
			continue
		}
		if m := fieldRow.FindStringSubmatch(s.Text()); m != nil {
			if measurement == "" {
				return nil, fmt.Errorf("%s:%d: field %s is listed before any measurement (- `name`: ...)", path, line, m[1])
			}
			out = append(out, Field{Measurement: measurement, Name: m[1]})
		}
	}
	return out, s.Err()
}

// Fields returns the field names the README at path documents for
// measurement, in order.
func Fields(path, measurement string) ([]string, error) {
	all, err := Read(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range all {
		if f.Measurement == measurement {
			names = append(names, f.Name)
		}
	}
	return names, nil
}
