// Package oasis_names is a Telegraf processor that adds names to the points
// of the Oasis inputs: a node_name field for the node_id tag and an
// entity_name field for the entity_id tag. Names come from the operator's
// aliases and, optionally, from a local checkout of the Oasis metadata
// registry, whose entity statements are signed by the entities themselves.
//
// The IDs stay: a name is for reading, an ID for looking up. Names are
// fields, not tags: a tag is part of a series' identity, so a name added
// or changed would start new series in InfluxDB and new groups in
// Kapacitor, leaving an alert of the old group open for ever (and a
// deadman on it firing). Kapacitor's alert templates read a point's
// fields; after an aggregation, a join or a deadman, only its group's tags.
package oasis_names

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/oasisprotocol/oasis-core/go/common/crypto/signature"
)

//go:embed sample.conf
var sampleConfig string

// maxAliasRunes bounds an alias: names lead alert messages and fill
// dashboard columns.
const maxAliasRunes = 64

// Alias is one operator-given name.
type Alias struct {
	ID   string `toml:"id"`
	Name string `toml:"name"`
}

// OasisNames is the processor.
type OasisNames struct {
	Aliases        []Alias         `toml:"alias"`
	RegistryDir    string          `toml:"registry_dir"`
	RegistryReload config.Duration `toml:"registry_reload"`
	Log            telegraf.Logger `toml:"-"`

	aliases map[string]string // base64 ID -> name

	// now is time.Now, replaceable in tests.
	now func() time.Time

	problems []string // aliases skipped by Init, and why

	mu          sync.Mutex
	registry    map[string]string // base64 entity ID -> registry name
	registryAt  time.Time         // when the last read of the registry began
	reloading   bool              // a read is under way
	registryErr string            // why the last read failed; "" if it did not
	skippedSaid string            // the skipped statements last logged

	// monitored: the operator's name for each node this install reads
	// (the source tag of its oasis_node points) by node ID, so the node's
	// other points (its validator's signing accounts) carry it too.
	monitored map[string]string
}

// maxMonitored bounds the names learnt from source tags: one per node an
// install reads, a handful.
const maxMonitored = 1000

func (*OasisNames) SampleConfig() string { return sampleConfig }

// Init validates the aliases and starts reading the registry. An alias
// that is wrong is skipped and said (E!), and the others still apply; a
// registry that can't be read is said and tried again at the next reload.
// Neither stops the processor: under processors.execd a processor that
// stops takes the points it carries down with it, and a typo in a name
// must not cost the operator their alerts. `oasis-telegraf -check` on the
// config file fails on them (Problems).
func (p *OasisNames) Init() error {
	if p.now == nil {
		p.now = time.Now
	}
	if p.RegistryReload == 0 {
		p.RegistryReload = config.Duration(time.Hour)
	}
	if p.RegistryReload < config.Duration(time.Minute) {
		return fmt.Errorf("registry_reload = %q: at least 1m (the registry changes when its checkout is pulled)", time.Duration(p.RegistryReload))
	}
	p.aliases = map[string]string{}
	p.problems = nil
	for i, a := range p.Aliases {
		if err := p.addAlias(a); err != nil {
			problem := fmt.Sprintf("alias %d: %v; skipped", i+1, err)
			p.problems = append(p.problems, problem)
			p.Log.Error(problem)
		}
	}
	if p.RegistryDir != "" {
		p.registryAt = p.now()
		p.reloadRegistry()
	}
	return nil
}

// Problems are the aliases Init skipped and, if the registry could not be
// read at its last try, why: what `oasis-telegraf -check` reports.
func (p *OasisNames) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]string(nil), p.problems...)
	if p.registryErr != "" {
		out = append(out, p.registryErr)
	}
	return out
}

// addAlias checks one alias and adds it; an alias with neither id nor
// name (the .env defaults, unset), or an id without a name, adds nothing.
func (p *OasisNames) addAlias(a Alias) error {
	id, name := strings.TrimSpace(a.ID), strings.TrimSpace(a.Name)
	switch {
	case id == "" && name == "":
		return nil
	case id == "":
		return fmt.Errorf("name %q has no id: set the ID it names (OASIS_NODE_ID or OASIS_ENTITY_ID in .env for your own)", name)
	}
	var pk signature.PublicKey
	if err := pk.UnmarshalText([]byte(id)); err != nil {
		return fmt.Errorf("id %q is not a node or entity ID (base64 of 32 bytes, as the node_id and entity_id tags show them): %w", id, err)
	}
	if name == "" {
		return nil
	}
	if err := checkAlias(name); err != nil {
		return fmt.Errorf("id %s: %w", id, err)
	}
	if prev, ok := p.aliases[pk.String()]; ok && prev != name {
		return fmt.Errorf("id %s is named twice (%q and %q)", id, prev, name)
	}
	p.aliases[pk.String()] = name
	return nil
}

// checkAlias rejects names that would garble a message or a tag.
func checkAlias(name string) error {
	if utf8.RuneCountInString(name) > maxAliasRunes {
		return fmt.Errorf("name %q is longer than %d characters", name, maxAliasRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("name %q holds a control or invisible character", name)
		}
	}
	return nil
}

// reloadRegistry reads the registry checkout; on failure it keeps the
// names it had and says why. A statement skipped is said when the set of
// skipped ones changes, not at every reload.
func (p *OasisNames) reloadRegistry() {
	names, skipped, err := readRegistry(p.RegistryDir)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reloading = false
	if err != nil {
		p.registryErr = fmt.Sprintf("metadata registry %s: %v", p.RegistryDir, err)
		p.Log.Errorf("%s; entity names from it are not added until it can be read (next try in %s)",
			p.registryErr, time.Duration(p.RegistryReload))
		return
	}
	p.registryErr = ""
	if said := strings.Join(skipped, "\n"); said != p.skippedSaid {
		for _, s := range skipped {
			p.Log.Warnf("metadata registry %s: skipped %s", p.RegistryDir, s)
		}
		p.skippedSaid = said
	}
	p.registry = names
	p.Log.Debugf("metadata registry %s: %d entity names", p.RegistryDir, len(names))
}

// Apply adds node_name and entity_name where a name is known. Points
// without the ID tags pass unchanged. A registry reload that is due runs
// beside it: a slow filesystem must not hold up the points (Telegraf
// passes every point through its processors in turn).
func (p *OasisNames) Apply(in ...telegraf.Metric) []telegraf.Metric {
	p.mu.Lock()
	if p.RegistryDir != "" && !p.reloading && p.now().Sub(p.registryAt) >= time.Duration(p.RegistryReload) {
		p.reloading = true
		p.registryAt = p.now()
		go p.reloadRegistry()
	}
	registry := p.registry
	p.mu.Unlock()
	for _, m := range in {
		id, hasID := m.GetTag("node_id")
		if m.Name() == "oasis_node" {
			p.learnSource(m, id)
		}
		if name, ok := p.aliases[id]; hasID && ok {
			m.AddField("node_name", name)
		} else if name, ok := p.monitored[id]; hasID && ok {
			m.AddField("node_name", name)
		} else if source, ok := m.GetTag("source"); ok && m.Name() == "oasis_node" {
			// A node down since start-up, read without node_id, has no ID
			// yet; its own points still carry its name.
			m.AddField("node_name", source)
		}
		if id, ok := m.GetTag("entity_id"); ok {
			if name, ok := p.aliases[id]; ok {
				m.AddField("entity_name", name)
			} else if name, ok := registry[id]; ok {
				m.AddField("entity_name", name)
			}
		}
	}
	return in
}

// learnSource remembers the source tag (the name an install gives a node
// it reads, docs/install.md#several-nodes) of an oasis_node point as that
// node's name. An alias for the ID still comes first.
func (p *OasisNames) learnSource(m telegraf.Metric, id string) {
	source, ok := m.GetTag("source")
	if !ok || id == "" || checkAlias(source) != nil {
		return
	}
	if p.monitored == nil {
		p.monitored = map[string]string{}
	}
	if _, known := p.monitored[id]; !known && len(p.monitored) >= maxMonitored {
		return
	}
	p.monitored[id] = source
}

func init() {
	processors.Add("oasis_names", func() telegraf.Processor { return &OasisNames{} })
}
