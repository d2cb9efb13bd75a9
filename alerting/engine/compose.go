package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"
)

// ComposeEnvironment returns a service's environment from a compose file,
// loaded by compose-go as `docker compose` loads it: envFile is the
// project's .env (`--env-file`), vars are variables set in the shell, which
// win over the file's. Interpolation (${VAR:-default}, ${VAR:?message}, ...)
// and its errors are compose-go's. The tests start the engine with exactly
// what kapacitord gets in the compose stack.
func ComposeEnvironment(composeFile, envFile string, vars map[string]string, service string) (map[string]string, error) {
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(filepath.Dir(composeFile)),
		cli.WithEnv(pairs),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithName("oasis-mission-control"),
	)
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s with %s: %w", composeFile, envFile, err)
	}
	svc, ok := p.Services[service]
	if !ok {
		return nil, fmt.Errorf("%s: no service %q", composeFile, service)
	}
	return svc.Environment.ToMapping(), nil
}

// MissingRequired lists the variables composeFile requires
// (${VAR:?message}) that envFile leaves empty or unset: what an operator
// must fill in before `docker compose up` (the passwords, the socket's
// group). Sorted.
func MissingRequired(composeFile, envFile string) ([]string, error) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		return nil, err
	}
	var model map[string]any
	if err := yaml.Unmarshal(b, &model); err != nil {
		return nil, fmt.Errorf("%s: %w", composeFile, err)
	}
	env, err := dotenv.Read(envFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envFile, err)
	}
	var missing []string
	for name, v := range template.ExtractVariables(model, template.DefaultPattern) {
		if v.Required && env[name] == "" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing, nil
}
