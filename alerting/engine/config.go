package engine

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/kapacitor/services/alert"
	"github.com/influxdata/kapacitor/services/deadman"
	"github.com/influxdata/kapacitor/services/discord"
	"github.com/influxdata/kapacitor/services/httpd"
	"github.com/influxdata/kapacitor/services/httppost"
	"github.com/influxdata/kapacitor/services/load"
	"github.com/influxdata/kapacitor/services/opsgenie2"
	"github.com/influxdata/kapacitor/services/pagerduty2"
	"github.com/influxdata/kapacitor/services/slack"
	"github.com/influxdata/kapacitor/services/smtp"
	"github.com/influxdata/kapacitor/services/storage"
	"github.com/influxdata/kapacitor/services/task_store"
	"github.com/influxdata/kapacitor/services/telegram"
)

// Config is the part of kapacitord's configuration (server.Config in
// Kapacitor 1.7.5) that the services run here read: the same section names,
// the same defaults as server.NewConfig, so KAPACITOR_* environment variables
// set in docker-compose.yml land on the same fields here as in kapacitord.
type Config struct {
	Hostname string `toml:"hostname"`
	DataDir  string `toml:"data_dir"`

	HTTP    httpd.Config      `toml:"http"`
	Storage storage.Config    `toml:"storage"`
	Task    task_store.Config `toml:"task"`
	Load    load.Config       `toml:"load"`
	Alert   alert.Config      `toml:"alert"`
	Deadman deadman.Config    `toml:"deadman"`

	Telegram   telegram.Config   `toml:"telegram"`
	Slack      slack.Configs     `toml:"slack"`
	Discord    discord.Configs   `toml:"discord"`
	SMTP       smtp.Config       `toml:"smtp"`
	PagerDuty2 pagerduty2.Config `toml:"pagerduty2"`
	OpsGenie2  opsgenie2.Config  `toml:"opsgenie2"`
	HTTPPost   httppost.Configs  `toml:"httppost"`

	// LogOutput, if set, receives the engine's log instead of memory
	// (oasis-kapacitord: stderr); Engine.Log is then empty.
	LogOutput io.Writer `toml:"-"`
}

// NewConfig returns kapacitord's defaults for these sections.
func NewConfig(dataDir, loadDir string) Config {
	c := Config{
		Hostname:   "localhost",
		DataDir:    dataDir,
		HTTP:       httpd.NewConfig(),
		Storage:    storage.NewConfig(),
		Task:       task_store.NewConfig(),
		Load:       load.NewConfig(),
		Alert:      alert.NewConfig(),
		Deadman:    deadman.NewConfig(),
		Telegram:   telegram.NewConfig(),
		Slack:      slack.Configs{slack.NewDefaultConfig()},
		Discord:    discord.Configs{discord.NewDefaultConfig()},
		SMTP:       smtp.NewConfig(),
		PagerDuty2: pagerduty2.NewConfig(),
		OpsGenie2:  opsgenie2.NewConfig(),
		HTTPPost:   httppost.Configs{httppost.NewConfig()},
	}
	c.Storage.BoltDBPath = dataDir + "/kapacitor.db"
	c.Load.Enabled = true
	c.Load.Dir = loadDir
	// The HTTP API is not served: the load service talks to its handler
	// in-process, as kapacitord's does.
	c.HTTP.BindAddress = "127.0.0.1:0"
	c.HTTP.LogEnabled = false
	return c
}

// ApplyEnv applies KAPACITOR_* variables the way kapacitord does
// (server.Config.ApplyEnvOverrides, which lives in Kapacitor's server
// package; that package does not build here, so its rules are restated):
// the name is KAPACITOR_ plus the toml path upper-cased with '-' as '_',
// slice elements by index (KAPACITOR_SLACK_0_URL), and only elements that
// exist in the defaults can be set. It returns the variables it applied.
func (c *Config) ApplyEnv(getenv func(string) string) ([]string, error) {
	var applied []string
	err := applyEnv("KAPACITOR", reflect.ValueOf(c).Elem(), getenv, &applied)
	return applied, err
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

func applyEnv(name string, v reflect.Value, getenv func(string) string, applied *[]string) error {
	if v.Kind() == reflect.Struct && !reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			tag := t.Field(i).Tag.Get("toml")
			if tag == "" || tag == "-" || !f.CanSet() {
				continue
			}
			key := name + "_" + strings.ToUpper(strings.ReplaceAll(tag, "-", "_"))
			if f.Kind() == reflect.Slice {
				for j := 0; j < f.Len(); j++ {
					if err := applyEnv(fmt.Sprintf("%s_%d", key, j), f.Index(j), getenv, applied); err != nil {
						return err
					}
				}
				continue
			}
			if err := applyEnv(key, f, getenv, applied); err != nil {
				return err
			}
		}
		return nil
	}
	value := getenv(name)
	if value == "" {
		return nil
	}
	*applied = append(*applied, name)
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(value))
	}
	bad := func(err error) error { return fmt.Errorf("%s=%q: %v", name, value, err) }
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad(err)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type().Name() == "Duration" {
			d, err := time.ParseDuration(value)
			if err != nil {
				return bad(err)
			}
			v.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(value, 0, v.Type().Bits())
		if err != nil {
			return bad(err)
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(value, v.Type().Bits())
		if err != nil {
			return bad(err)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("%s: kind %s can't be set from the environment", name, v.Kind())
	}
	return nil
}

// EnvNames lists every KAPACITOR_* name ApplyEnv would read for c, so a test
// can check that the names docker-compose.yml sets are real settings.
func (c *Config) EnvNames() map[string]bool {
	names := map[string]bool{}
	_, _ = c.ApplyEnv(func(name string) string {
		names[name] = true
		return ""
	})
	return names
}
