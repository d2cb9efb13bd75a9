package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/compose-spec/compose-go/template"
	itoml "github.com/influxdata/toml"
	"github.com/influxdata/toml/ast"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/processors"
)

// plugin is one of our plugins as a config file configures it (not yet
// initialised): an input or a processor.
type plugin struct {
	kind      string // "inputs" or "processors"
	name      string
	input     telegraf.Input
	processor telegraf.StreamingProcessor
}

// table is how the config file names the plugin: [[inputs.oasis_node]].
func (p plugin) table() string { return "[[" + p.kind + "." + p.name + "]]" }

func (p plugin) sampleConfig() string {
	if p.input != nil {
		return p.input.SampleConfig()
	}
	return p.processor.SampleConfig()
}

// loadInput is loadPlugin for a file that must hold an input.
func loadInput(path string) (string, telegraf.Input, error) {
	p, err := loadPlugin(path)
	if err != nil {
		return "", nil, err
	}
	if p.input == nil {
		return "", nil, fmt.Errorf("%s: %s is a processor; this needs an input", path, p.table())
	}
	return p.name, p.input, nil
}

// loadPlugin reads a plugin config file holding exactly one [[inputs.NAME]]
// or [[processors.NAME]] table of one of our plugins and returns the
// configured (not yet initialised) plugin. Unlike the shim's own loader it
// rejects unknown settings: a typo must stop start-up, not silently fall
// back to a default.
func loadPlugin(path string) (plugin, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return plugin{}, err
	}
	data, err := expandEnv(raw)
	if err != nil {
		return plugin{}, fmt.Errorf("%s: %w", path, err)
	}

	var file struct {
		Inputs     map[string][]toml.Primitive `toml:"inputs"`
		Processors map[string][]toml.Primitive `toml:"processors"`
	}
	md, err := toml.Decode(data, &file)
	if err != nil {
		return plugin{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, key := range md.Keys() {
		if len(key) == 1 && key[0] != "inputs" && key[0] != "processors" {
			return plugin{}, fmt.Errorf("%s: unexpected [%s]; the file holds one [[inputs.NAME]] or [[processors.NAME]] table and nothing else (print one with -sample-config NAME)",
				path, key[0])
		}
	}
	if n := len(file.Inputs) + len(file.Processors); n != 1 {
		return plugin{}, fmt.Errorf("%s: found %d plugin tables; one process runs one plugin (known: %s)",
			path, n, strings.Join(pluginNames(), ", "))
	}
	var p plugin
	var tables []toml.Primitive
	for p.name, tables = range file.Inputs {
		p.kind = "inputs"
	}
	for p.name, tables = range file.Processors {
		p.kind = "processors"
	}
	var target any
	switch p.kind {
	case "inputs":
		creator, ok := inputs.Inputs[p.name]
		if !ok {
			return plugin{}, fmt.Errorf("%s: unknown plugin %s; this binary runs: %s",
				path, p.table(), strings.Join(pluginNames(), ", "))
		}
		p.input = creator()
		target = p.input
	default:
		creator, ok := processors.Processors[p.name]
		if !ok {
			return plugin{}, fmt.Errorf("%s: unknown plugin %s; this binary runs: %s",
				path, p.table(), strings.Join(pluginNames(), ", "))
		}
		p.processor = creator()
		target = p.processor
		// A plain processor comes wrapped; its settings are the wrapped one's.
		if w, ok := p.processor.(processors.HasUnwrap); ok {
			target = w.Unwrap()
		}
	}
	if len(tables) != 1 {
		return plugin{}, fmt.Errorf("%s: %s appears %d times; run one process per instance", path, p.table(), len(tables))
	}
	if err := md.PrimitiveDecode(tables[0], target); err != nil {
		return plugin{}, fmt.Errorf("%s: %s: %w", path, p.table(), err)
	}
	for _, key := range md.Undecoded() {
		return plugin{}, fmt.Errorf("%s: %s: unknown setting %q; the valid settings are:\n\n%s",
			path, p.table(), key[len(key)-1], p.sampleConfig())
	}
	return p, nil
}

// expandEnv substitutes environment variables the way Telegraf does in its
// own config with strict handling (`telegraf --strict-env-handling`, the
// default from v1.38; v1.37's default and the shim's loader still paste
// values into the text): only inside TOML string values, with the same
// compose-go template code and options: ${VAR}, $VAR,
// ${VAR:-default} (unset or empty), ${VAR-default} (unset),
// ${VAR:?message} and ${VAR?message} (stop with the message), ${VAR:+alt}
// and ${VAR+alt}, and $$ for a literal $. A variable that is not set and has
// no default is left as written, so the setting's validation names it. So
// one committed file serves the compose stack and a native run, and secrets
// stay out of committed files.
//
// The value becomes the string's contents: a quote, a backslash, a $ or a
// newline in it is part of the setting and never changes the TOML around
// it. Each string holding a substitution is rewritten in place as a basic
// string with the value escaped; the rest of the file is left byte for
// byte, so the decoder's line numbers still point into the file (up to the
// first multi-line string that held a substitution, which becomes one line).
func expandEnv(raw []byte) (string, error) {
	text := string(raw)
	if !strings.Contains(text, "$") {
		return text, nil
	}
	text, err := expandBareScalars(text)
	if err != nil {
		return "", err
	}
	raw = []byte(text)
	// Telegraf's own TOML parser, which also decides there which strings
	// are values (keys and table names are never substituted).
	tree, err := itoml.Parse(raw)
	if err != nil {
		if _, berr := toml.Decode(text, &struct{}{}); berr != nil {
			// Not TOML: the caller's decoder says where, more clearly.
			return text, nil
		}
		return "", fmt.Errorf("reading the file for ${VAR} substitution as Telegraf does: %w", err)
	}
	var strs []*ast.String
	collectStrings(tree, &strs)
	sort.Slice(strs, func(i, j int) bool { return strs[i].Position.Begin < strs[j].Position.Begin })

	lookup := environ()

	src := []rune(text) // the parser's positions count runes
	var out strings.Builder
	last := 0
	for _, s := range strs {
		value, err := template.SubstituteWithOptions(s.Value, lookup, telegrafTemplateOptions...)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", 1+strings.Count(string(src[:s.Position.Begin]), "\n"), err)
		}
		if value == s.Value {
			continue
		}
		out.WriteString(string(src[last:s.Position.Begin]))
		out.WriteString(quoteTOML(value))
		last = s.Position.End
	}
	out.WriteString(string(src[last:]))
	return out.String(), nil
}

// bareSetting is a setting whose whole value is one unquoted variable:
// `all_validators = ${OASIS_SIGNING_ALL_VALIDATORS:-false}`.
var bareSetting = regexp.MustCompile(`^(\s*[A-Za-z0-9_-]+\s*=\s*)(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)(\s*(#.*)?)$`)

// tomlScalar is a boolean or a number in TOML: a value that can't open a
// string, an array or a table, so it can't change the file around it.
var tomlScalar = regexp.MustCompile(`^(true|false|[+-]?[0-9][0-9_]*(\.[0-9_]+)?([eE][+-]?[0-9_]+)?)$`)

// expandBareScalars substitutes settings whose whole value is an unquoted
// variable, for the boolean and number settings (Telegraf's strict mode
// can't set those from the environment; its non-strict mode pastes any
// text). The value must be true, false or a number: anything else stops
// start-up with the line, so a variable outside quotes can't add settings
// or tables.
func expandBareScalars(text string) (string, error) {
	lines := strings.Split(text, "\n")
	env := environ()
	for i, line := range lines {
		m := bareSetting.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		value, err := template.SubstituteWithOptions(m[2], env, telegrafTemplateOptions...)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		if value == m[2] {
			return "", fmt.Errorf("line %d: %s is not set and has no default (write ${VAR:-default})", i+1, m[2])
		}
		if !tomlScalar.MatchString(value) {
			return "", fmt.Errorf("line %d: %s outside quotes must be true, false or a number, not %q; put a string setting's variable in quotes",
				i+1, m[2], value)
		}
		lines[i] = m[1] + value + m[3]
	}
	return strings.Join(lines, "\n"), nil
}

// environ looks variables up in the process environment.
func environ() template.Mapping {
	return func(k string) (string, bool) { return os.LookupEnv(k) }
}

// telegrafTemplateOptions are the options Telegraf's config loader
// substitutes with (config/envvar.go, substituteEnvironmentStrict).
var telegrafTemplateOptions = []template.Option{
	template.WithReplacementFunction(func(s string, m template.Mapping, cfg *template.Config) (string, error) {
		result, applied, err := template.DefaultReplacementAppliedFunc(s, m, cfg)
		if err == nil && !applied {
			// An unset variable with no default stays as written.
			return s, nil
		}
		if err != nil && strings.HasPrefix(err.Error(), "Invalid template:") {
			// Not a variable (e.g. a regular expression's ${1}): kept.
			return s, nil
		}
		return result, err
	}),
	template.WithoutLogging,
}

// collectStrings appends every string value under node, as Telegraf's
// config walk visits them.
func collectStrings(node any, out *[]*ast.String) {
	switch n := node.(type) {
	case *ast.Table:
		for _, v := range n.Fields {
			collectStrings(v, out)
		}
	case []*ast.Table:
		for _, v := range n {
			collectStrings(v, out)
		}
	case *ast.Array:
		for _, v := range n.Value {
			collectStrings(v, out)
		}
	case *ast.KeyValue:
		collectStrings(n.Value, out)
	case *ast.String:
		*out = append(*out, n)
	}
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pluginNames lists the plugins this binary runs, inputs and processors.
func pluginNames() []string {
	names := make([]string, 0, len(inputs.Inputs)+len(processors.Processors))
	for n := range inputs.Inputs {
		names = append(names, n)
	}
	for n := range processors.Processors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
