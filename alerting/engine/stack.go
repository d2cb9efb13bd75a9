package engine

import (
	"fmt"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// FromCompose builds the engine's config the way the compose stack starts
// kapacitord: the kapacitor service's environment from composeFile, loaded
// with envFile as the project's .env and vars as variables set in the shell
// (ComposeEnvironment), applied as KAPACITOR_* overrides on top of the
// kapacitor.conf it mounts, and the load directory the compose file mounts
// at /etc/kapacitor/load read from the repository.
func FromCompose(composeFile, envFile string, vars map[string]string, dataDir string) (Config, error) {
	env, err := ComposeEnvironment(composeFile, envFile, vars, "kapacitor")
	if err != nil {
		return Config{}, err
	}
	if env["KAPACITOR_LOAD_DIR"] != "/etc/kapacitor/load" || env["KAPACITOR_LOAD_ENABLED"] != "true" {
		return Config{}, fmt.Errorf("%s: kapacitor must load /etc/kapacitor/load (KAPACITOR_LOAD_ENABLED, KAPACITOR_LOAD_DIR)", composeFile)
	}
	root := filepath.Dir(composeFile)
	// The configuration file the compose file mounts at
	// /etc/kapacitor/kapacitor.conf, and the load directory it mounts at
	// /etc/kapacitor/load, read from the repository.
	cfg, err := FromFile(filepath.Join(root, "kapacitor", "kapacitor.conf"), filepath.Join(root, "kapacitor", "load"), dataDir,
		func(k string) string { return env[k] })
	if err != nil {
		return Config{}, err
	}
	// Nothing reads the HTTP API here (the load service uses its handler
	// in-process): any free loopback port, so engines can run side by side.
	cfg.HTTP.BindAddress = "127.0.0.1:0"
	return cfg, nil
}

// FromFile builds the engine's config the way kapacitord reads its own:
// conf decoded over kapacitord's defaults, then the KAPACITOR_* variables
// getenv returns applied on top. The load directory is loadDir and every
// file the engine keeps is under dataDir, whatever conf says (its paths
// are the container's).
func FromFile(conf, loadDir, dataDir string, getenv func(string) string) (Config, error) {
	cfg := NewConfig(dataDir, loadDir)
	if _, err := toml.DecodeFile(conf, &cfg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", conf, err)
	}
	if _, err := cfg.ApplyEnv(getenv); err != nil {
		return Config{}, err
	}
	cfg.Load.Dir = loadDir
	cfg.DataDir = dataDir
	cfg.Storage.BoltDBPath = filepath.Join(dataDir, "kapacitor.db")
	return cfg, nil
}
