// Package engine runs Kapacitor 1.7.5's own task engine and services
// in-process, wired the way kapacitord wires them (server.New in
// Kapacitor's server package), so the repository's load directory is read
// by Kapacitor's load service exactly as the compose stack's kapacitord
// reads it.
//
// kapacitord itself can't be built here: its server package pulls in the
// Flux task service, which needs a Rust library. What is left out is what
// alerting does not use: Flux tasks, the InfluxDB subscription service
// (points are written to the TaskMaster directly instead, as the
// subscription's HTTP write would), UDFs, scrapers and discovery, and the
// handler services this project does not route to.
package engine

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/influxdb/models"
	"github.com/influxdata/kapacitor"
	"github.com/influxdata/kapacitor/alert"
	"github.com/influxdata/kapacitor/server/vars"
	alertservice "github.com/influxdata/kapacitor/services/alert"
	"github.com/influxdata/kapacitor/services/deadman"
	"github.com/influxdata/kapacitor/services/diagnostic"
	"github.com/influxdata/kapacitor/services/discord"
	"github.com/influxdata/kapacitor/services/httpd"
	"github.com/influxdata/kapacitor/services/httppost"
	"github.com/influxdata/kapacitor/services/load"
	"github.com/influxdata/kapacitor/services/noauth"
	"github.com/influxdata/kapacitor/services/opsgenie2"
	"github.com/influxdata/kapacitor/services/pagerduty2"
	"github.com/influxdata/kapacitor/services/slack"
	"github.com/influxdata/kapacitor/services/smtp"
	"github.com/influxdata/kapacitor/services/storage"
	"github.com/influxdata/kapacitor/services/task_store"
	"github.com/influxdata/kapacitor/services/telegram"
)

// Database and RetentionPolicy are where Telegraf writes (telegraf.conf) and
// so the dbrp every task reads.
const (
	Database        = "telegraf"
	RetentionPolicy = "autogen"
)

type service interface {
	Open() error
	Close() error
}

// Engine is a running Kapacitor: a TaskMaster, its services, and the tasks,
// templates and topic handlers the load service read.
type Engine struct {
	TaskMaster   *kapacitor.TaskMaster
	TaskStore    *task_store.Service
	AlertService *alertservice.Service
	LoadService  *load.Service
	HTTPD        *httpd.Service

	services []service
	log      *syncBuffer
}

// New wires the services for cfg; Open starts them and loads cfg.Load.Dir.
func New(cfg Config) (*Engine, error) {
	logs := &syncBuffer{}
	var out io.Writer = logs
	if cfg.LogOutput != nil {
		out = cfg.LogOutput // a daemon's log is not kept in memory
	}
	diagCfg := diagnostic.NewConfig()
	diag := diagnostic.NewService(diagCfg, out, out)
	if err := diag.Open(); err != nil {
		return nil, err
	}
	if err := diag.SetLogLevelFromName("INFO"); err != nil {
		return nil, err
	}
	e := &Engine{log: logs}

	tm := kapacitor.NewTaskMaster(kapacitor.MainTaskMaster, vars.Info, diag.NewKapacitorHandler())
	tm.DefaultRetentionPolicy = RetentionPolicy
	lookup := kapacitor.NewTaskMasterLookup()
	lookup.Set(tm)
	if err := tm.Open(); err != nil {
		return nil, err
	}
	e.TaskMaster = tm

	h := httpd.NewService(cfg.HTTP, cfg.Hostname, new(tls.Config), diag.NewHTTPDHandler())
	h.LocalHandler.PointsWriter = tm
	h.Handler.PointsWriter = tm
	h.LocalHandler.DiagService = diag
	h.Handler.DiagService = diag
	h.LocalHandler.Version = "1.7.5"
	h.Handler.Version = "1.7.5"
	e.HTTPD = h
	tm.HTTPDService = h

	st := storage.NewService(cfg.Storage, diag.NewStorageHandler())
	st.HTTPDService = h
	e.add(st)

	auth := noauth.NewService(diag.NewNoAuthHandler())
	h.Handler.AuthService = auth
	e.add(auth)

	as := alertservice.NewService(diag.NewAlertServiceHandler(), map[string]struct{}{}, cfg.Alert.TopicBufferLength)
	as.HTTPDService = h
	as.StorageService = st
	as.PersistTopics = cfg.Alert.PersistTopics
	e.AlertService = as
	tm.AlertService = as

	dm := deadman.NewService(cfg.Deadman, diag.NewDeadmanHandler())
	tm.DeadmanService = dm
	e.add(dm)

	ld, err := load.NewService(cfg.Load, h.LocalHandler, diag.NewLoadHandler())
	if err != nil {
		return nil, fmt.Errorf("load service: %w", err)
	}
	ld.StorageService = st
	e.LoadService = ld
	e.add(ld)

	// The handler services alerts are routed to (kapacitor/load/handlers).
	tg := telegram.NewService(cfg.Telegram, diag.NewTelegramHandler())
	tm.TelegramService, as.TelegramService = tg, tg
	e.add(tg)
	sl, err := slack.NewService(cfg.Slack, diag.NewSlackHandler())
	if err != nil {
		return nil, fmt.Errorf("slack service: %w", err)
	}
	tm.SlackService, as.SlackService = sl, sl
	e.add(sl)
	dc, err := discord.NewService(cfg.Discord, diag.NewDiscordHandler())
	if err != nil {
		return nil, fmt.Errorf("discord service: %w", err)
	}
	tm.DiscordService, as.DiscordService = dc, dc
	e.add(dc)
	sm := smtp.NewService(cfg.SMTP, diag.NewSMTPHandler())
	tm.SMTPService, as.SMTPService = sm, sm
	e.add(sm)
	pd := pagerduty2.NewService(cfg.PagerDuty2, diag.NewPagerDuty2Handler())
	pd.HTTPDService = h
	tm.PagerDuty2Service, as.PagerDuty2Service = pd, pd
	e.add(pd)
	og := opsgenie2.NewService(cfg.OpsGenie2, diag.NewOpsGenie2Handler())
	tm.OpsGenie2Service, as.OpsGenie2Service = og, og
	e.add(og)
	hp, err := httppost.NewService(cfg.HTTPPost, diag.NewHTTPPostHandler())
	if err != nil {
		return nil, fmt.Errorf("httppost service: %w", err)
	}
	tm.HTTPPostService, as.HTTPPostService = hp, hp
	e.add(hp)

	e.add(as)

	ts := task_store.NewService(cfg.Task, diag.NewTaskStoreHandler())
	ts.StorageService = st
	ts.HTTPDService = h
	ts.TaskMasterLookup = lookup
	e.TaskStore = ts
	tm.TaskStore = ts
	e.add(ts)

	// kapacitord appends httpd last so the API is up only once the rest is.
	e.add(h)
	return e, nil
}

func (e *Engine) add(s service) { e.services = append(e.services, s) }

// Open starts every service in kapacitord's order, then loads the load
// directory: tasks, templates and handlers. A file Kapacitor rejects is an
// error here, as it stops kapacitord from starting.
func (e *Engine) Open() error {
	for i, s := range e.services {
		if err := s.Open(); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = e.services[j].Close()
			}
			return fmt.Errorf("open %T: %w", s, err)
		}
	}
	if err := e.LoadService.Load(); err != nil {
		return fmt.Errorf("failed to reload tasks/templates/handlers: %w", err)
	}
	return nil
}

// Close stops the services and the TaskMaster.
func (e *Engine) Close() error {
	for i := len(e.services) - 1; i >= 0; i-- {
		_ = e.services[i].Close()
	}
	return e.TaskMaster.Close()
}

// WriteLineProtocol hands points to every task reading telegraf.autogen, as
// InfluxDB's subscription does in the compose stack.
func (e *Engine) WriteLineProtocol(lp []byte) error {
	points, err := models.ParsePointsWithPrecision(lp, time.Now(), "n")
	if err != nil {
		return err
	}
	return e.TaskMaster.WritePoints(Database, RetentionPolicy, models.ConsistencyLevelOne, points)
}

// Drain ends the input and waits until every point written so far has been
// processed and every alert it raised delivered, then returns how many
// alert events were published to each topic (each of a topic's handlers
// received each of them, or logged why not).
//
// The TaskMaster hands its queued points to the tasks and closes their
// inputs, then each task is stopped, its nodes finishing the points they
// hold first (TaskMaster.Drain and StopTasks: what Kapacitor's own
// integration tests do before they check a replay's result, and what
// TaskMaster.Close does). Then each topic is closed: its handlers deliver
// the events they hold before they stop. Nothing can be written afterwards.
func (e *Engine) Drain() (published map[string]int64, err error) {
	e.TaskMaster.Drain()
	e.TaskMaster.StopTasks()
	states, err := e.AlertService.TopicStates("", alert.OK)
	if err != nil {
		return nil, err
	}
	published = map[string]int64{}
	for topic, state := range states {
		published[topic] = state.Collected
		if err := e.AlertService.CloseTopic(topic); err != nil {
			return nil, err
		}
	}
	return published, nil
}

// AlertNodeCollected returns how many points (or batches) the alert nodes
// of a running task have evaluated so far, from the task's node statistics.
// It is 0 for a task that is not running (Drain stops every task).
func (e *Engine) AlertNodeCollected(task string) (int64, error) {
	stats, err := e.TaskMaster.ExecutionStats(task)
	if err != nil {
		return 0, err
	}
	var n int64
	for node, s := range stats.NodeStats {
		if strings.HasPrefix(node, "alert") {
			if c, ok := s["collected"].(int64); ok {
				n += c
			}
		}
	}
	return n, nil
}

// Log returns what the engine has logged so far.
func (e *Engine) Log() string { return e.log.String() }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
