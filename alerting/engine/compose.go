package engine

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v2"
)

// ComposeEnvironment returns a service's `environment:` from a compose file,
// with ${VAR}, ${VAR:-default}, ${VAR-default} and ${VAR:?message}
// interpolated from vars, as `docker compose` does with the operator's .env.
// The tests start the engine with exactly what kapacitord gets in the
// compose stack.
func ComposeEnvironment(composeFile, service string, vars map[string]string) (map[string]string, error) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", composeFile, err)
	}
	svc, ok := doc.Services[service]
	if !ok {
		return nil, fmt.Errorf("%s: no service %q", composeFile, service)
	}
	out := map[string]string{}
	for k, v := range svc.Environment {
		s, err := interpolate(v, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", service, k, err)
		}
		out[k] = s
	}
	return out, nil
}

var reference = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

func interpolate(s string, vars map[string]string) (string, error) {
	var firstErr error
	out := reference.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := reference.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		v, set := vars[name]
		empty := !set || (strings.HasPrefix(op, ":") && v == "")
		switch {
		case op == "" || !empty && op != "-":
			return v
		case op == "-" && set:
			return v
		case strings.HasSuffix(op, "-"):
			return arg
		default: // :? or ?
			if firstErr == nil {
				firstErr = fmt.Errorf("%s is required: %s", name, arg)
			}
			return ""
		}
	})
	return out, firstErr
}

// ReadDotEnv reads a .env file (KEY=value lines, # comments).
func ReadDotEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: not KEY=value: %q", path, line)
		}
		vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return vars, nil
}
