package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/processors"
)

// FuzzLoadInput: any plugin config file an operator writes loads one of our
// plugins or is refused with an error naming the file; never a panic.
// Seeds: testdata/fuzz/FuzzLoadInput and each plugin's sample config. A
// longer run: go test ./cmd/oasis-telegraf -run '^$' -fuzz FuzzLoadInput -fuzztime 1m
func FuzzLoadInput(f *testing.F) {
	for _, name := range pluginNames() {
		if creator, ok := inputs.Inputs[name]; ok {
			f.Add(creator().SampleConfig())
		} else {
			f.Add(processors.Processors[name]().SampleConfig())
		}
	}
	f.Add("[[inputs.oasis_node]]\naddress = \"${OASIS_NODE_SOCKET:-unix:/run/oasis/internal.sock}\"\ntimeout = ${T}\n")
	f.Add("[[inputs.oasis_node]]\n[[inputs.oasis_node]]\n")
	f.Add("[[inputs.oasis_node]]\nadress = \"x\"\n")
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "plugin.conf")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := loadPlugin(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "inputs") {
				t.Fatalf("error %q names neither the file nor what it lacks", err)
			}
			return
		}
		if (p.input == nil) == (p.processor == nil) || p.name == "" {
			t.Fatalf("loaded %+v", p)
		}
	})
}
