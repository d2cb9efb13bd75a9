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
	loadDir := filepath.Join(root, "kapacitor", "load")
	cfg := NewConfig(dataDir, loadDir)
	// The configuration file the compose file mounts at
	// /etc/kapacitor/kapacitor.conf, decoded as kapacitord decodes it.
	conf := filepath.Join(root, "kapacitor", "kapacitor.conf")
	if _, err := toml.DecodeFile(conf, &cfg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", conf, err)
	}
	if _, err := cfg.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		return Config{}, err
	}
	cfg.Load.Dir = loadDir // the mount's host side
	// Nothing reads the HTTP API here (the load service uses its handler
	// in-process): any free loopback port, so engines can run side by side.
	cfg.HTTP.BindAddress = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Storage.BoltDBPath = filepath.Join(dataDir, "kapacitor.db")
	return cfg, nil
}
