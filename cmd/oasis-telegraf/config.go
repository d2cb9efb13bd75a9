package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
)

// loadInput reads a plugin config file holding exactly one [[inputs.NAME]]
// table of one of our plugins and returns the configured (not yet
// initialised) plugin. Unlike the shim's own loader it rejects unknown
// settings: a typo must stop start-up, not silently fall back to a default.
func loadInput(path string) (string, telegraf.Input, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	data := os.Expand(string(raw), expandVar)

	var file struct {
		Inputs map[string][]toml.Primitive `toml:"inputs"`
	}
	md, err := toml.Decode(data, &file)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, key := range md.Keys() {
		if len(key) == 1 && key[0] != "inputs" {
			return "", nil, fmt.Errorf("%s: unexpected [%s]; the file holds one [[inputs.NAME]] table and nothing else (print one with -sample-config NAME)",
				path, key[0])
		}
	}
	if len(file.Inputs) != 1 {
		return "", nil, fmt.Errorf("%s: found %d plugin tables; one process runs one plugin (known: %s)",
			path, len(file.Inputs), strings.Join(pluginNames(), ", "))
	}
	var name string
	var tables []toml.Primitive
	for name, tables = range file.Inputs {
	}
	creator, ok := inputs.Inputs[name]
	if !ok {
		return "", nil, fmt.Errorf("%s: unknown plugin [[inputs.%s]]; this binary runs: %s",
			path, name, strings.Join(pluginNames(), ", "))
	}
	if len(tables) != 1 {
		return "", nil, fmt.Errorf("%s: [[inputs.%s]] appears %d times; run one process per instance", path, name, len(tables))
	}
	plugin := creator()
	if err := md.PrimitiveDecode(tables[0], plugin); err != nil {
		return "", nil, fmt.Errorf("%s: [[inputs.%s]]: %w", path, name, err)
	}
	for _, key := range md.Undecoded() {
		return "", nil, fmt.Errorf("%s: [[inputs.%s]]: unknown setting %q; the valid settings are:\n\n%s",
			path, name, key[len(key)-1], plugin.SampleConfig())
	}
	return name, plugin, nil
}

// expandVar resolves ${VAR} and ${VAR:-default} from the environment, as
// Telegraf does in its own config, so one committed file serves the compose
// stack and a native run, and secrets stay out of committed files.
func expandVar(name string) string {
	if key, def, ok := strings.Cut(name, ":-"); ok {
		if v := os.Getenv(key); v != "" {
			return v
		}
		return def
	}
	return os.Getenv(name)
}

func pluginNames() []string {
	names := make([]string, 0, len(inputs.Inputs))
	for n := range inputs.Inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
