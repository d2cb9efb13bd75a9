// Package fleet simulates many installs writing to one central stack, for
// the fleet benchmark (BenchmarkFleet): each writes what one validator's
// install writes (testdata/install.lp, recorded from a devnet by
// TestRecordInstall) at the shipped pace, under identities of its own.
package fleet

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cycle is the recording's length: the template repeats every minute.
const Cycle = time.Minute

// Slot is Telegraf's flush interval: an install sends one batch a slot.
const Slot = 10 * time.Second

// point is one line of the template.
type point struct {
	measurement string
	tags        string // the tag part, placeholders in it
	fields      []field
	offset      time.Duration // into the minute
}

type field struct {
	key, value string  // value as written (1i, 0.5, "text", true)
	rate       float64 // integer fields that grow: their growth per minute
}

// Template is one install's minute.
type Template struct {
	points []point
}

// BlocksPerMinute is the chain's pace the template is thinned to: mainnet
// makes a block about every 6 s; the devnet it was recorded on, one a
// second.
const BlocksPerMinute = 10

// LoadTemplate reads a recording and thins its per-block points to
// mainnet's pace.
func LoadTemplate(path string) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pts []point
	blocks := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %s", path, err, line)
		}
		if p.measurement == "oasis_node" {
			// The devnet's lone validator has no peers; a mainnet node has
			// dozens (and would page oasis_peers_low with none).
			for i, f := range p.fields {
				if f.key == "consensus_peers" || f.key == "p2p_peers" {
					p.fields[i].value = "25i"
				}
			}
		}
		if p.measurement == "oasis_signing_block" {
			blocks++
			if blocks%6 != 1 { // 60 a minute recorded, 10 kept
				continue
			}
		}
		pts = append(pts, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].offset < pts[j].offset })
	growthRates(pts)
	return &Template{points: pts}, nil
}

// parseLine splits a line of line protocol into its parts.
func parseLine(line string) (point, error) {
	key, rest, ok := cutUnescaped(line, ' ')
	if !ok {
		return point{}, fmt.Errorf("no fields")
	}
	i := strings.LastIndexByte(rest, ' ')
	if i < 0 {
		return point{}, fmt.Errorf("no time")
	}
	ns, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil {
		return point{}, err
	}
	measurement, tags, _ := cutUnescaped(key, ',')
	p := point{measurement: measurement, tags: tags, offset: time.Duration(ns)}
	for _, kv := range splitFields(rest[:i]) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return point{}, fmt.Errorf("field %q", kv)
		}
		p.fields = append(p.fields, field{key: k, value: v})
	}
	return p, nil
}

// cutUnescaped cuts s at the first sep not escaped with a backslash.
func cutUnescaped(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// splitFields splits the field set at the commas outside quoted strings.
func splitFields(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// growthRates finds the integer fields that only grow within the minute
// (heights, counters, uptime) and their growth per minute, so a replayed
// minute goes on from where the last one ended instead of starting over
// (a counter that falls back looks like a reset to the alerts).
func growthRates(pts []point) {
	type sample struct {
		t time.Duration
		v int64
	}
	series := map[string][]sample{}
	for _, p := range pts {
		for _, f := range p.fields {
			if v, ok := intValue(f.value); ok {
				k := p.measurement + "," + p.tags + " " + f.key
				series[k] = append(series[k], sample{p.offset, v})
			}
		}
	}
	rate := map[string]float64{}
	for k, s := range series {
		if len(s) < 2 || s[len(s)-1].v <= s[0].v {
			continue
		}
		grows := true
		for i := 1; i < len(s); i++ {
			grows = grows && s[i].v >= s[i-1].v
		}
		if grows {
			rate[k] = float64(s[len(s)-1].v-s[0].v) / float64(s[len(s)-1].t-s[0].t) * float64(Cycle)
		}
	}
	for i := range pts {
		for j := range pts[i].fields {
			pts[i].fields[j].rate = rate[pts[i].measurement+","+pts[i].tags+" "+pts[i].fields[j].key]
		}
	}
}

func intValue(v string) (int64, bool) {
	if !strings.HasSuffix(v, "i") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(v, "i"), 10, 64)
	return n, err == nil
}

// Points is how many points the template holds a minute, and how many in
// the slot'th 10 s of it.
func (t *Template) Points() int { return len(t.points) }

// Install is one simulated install's identities.
type Install struct {
	Index                                   int
	Host, Source, NodeID, EntityID, Address string
}

// NewInstall derives install i's identities: IDs shaped as the node's
// (base64 of 32 bytes, a hex consensus address), unique per install.
func NewInstall(i int) Install {
	id := func(kind string) []byte {
		h := sha256.Sum256([]byte(fmt.Sprintf("fleet %s %d", kind, i)))
		return h[:]
	}
	return Install{
		Index: i, Host: fmt.Sprintf("fleet-host-%04d", i), Source: fmt.Sprintf("fleet-node-%04d", i),
		NodeID:   base64.StdEncoding.EncodeToString(id("node")),
		EntityID: base64.StdEncoding.EncodeToString(id("entity")),
		Address:  strings.ToUpper(hex.EncodeToString(id("address")[:20])),
	}
}

var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `)

// AppendSlot appends, as line protocol, what the install sends for slot
// (0 to 5) of the cycle'th minute, whose start is at cycleStart. down
// replaces the node's readings with what a node that does not answer gives
// (oasis_node up=0, no_socket); its other inputs' points are left out.
func (t *Template) AppendSlot(buf []byte, in Install, cycle int64, cycleStart time.Time, slot int, down bool) []byte {
	return t.appendSlot(buf, in, cycle, cycleStart, slot, down, nil)
}

// AppendNoisySlot is AppendSlot with every float value varied by up to
// ±1 % (rnd gives [0, 1)): the recording's minute repeated exactly would
// compress better than a real host's readings do.
func (t *Template) AppendNoisySlot(buf []byte, in Install, cycle int64, cycleStart time.Time, slot int, rnd func() float64) []byte {
	return t.appendSlot(buf, in, cycle, cycleStart, slot, false, rnd)
}

func (t *Template) appendSlot(buf []byte, in Install, cycle int64, cycleStart time.Time, slot int, down bool, rnd func() float64) []byte {
	from, to := time.Duration(slot)*Slot, time.Duration(slot+1)*Slot
	tagR := strings.NewReplacer("{NODE_ID}", tagEscaper.Replace(in.NodeID), "{ENTITY_ID}", tagEscaper.Replace(in.EntityID),
		"{CONSENSUS_ADDRESS}", in.Address, "{HOST}", in.Host, "{SOURCE}", in.Source)
	fieldR := strings.NewReplacer("{NODE_ID}", in.NodeID, "{ENTITY_ID}", in.EntityID, "{CONSENSUS_ADDRESS}", in.Address)
	for _, p := range t.points {
		if p.offset < from || p.offset >= to {
			continue
		}
		ts := cycleStart.Add(p.offset).UnixNano()
		if down && strings.HasPrefix(p.measurement, "oasis_") {
			if p.measurement == "oasis_node" {
				buf = append(buf, "oasis_node,"...)
				buf = append(buf, tagR.Replace(p.tags)...)
				buf = append(buf, ` up=0i,down_reason="no_socket" `...)
				buf = strconv.AppendInt(buf, ts, 10)
				buf = append(buf, '\n')
			}
			continue
		}
		buf = append(buf, p.measurement...)
		if p.tags != "" {
			buf = append(buf, ',')
			buf = append(buf, tagR.Replace(p.tags)...)
		}
		buf = append(buf, ' ')
		for i, f := range p.fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, f.key...)
			buf = append(buf, '=')
			if f.rate > 0 {
				v, _ := intValue(f.value)
				buf = strconv.AppendInt(buf, v+int64(math.Round(f.rate*float64(cycle))), 10)
				buf = append(buf, 'i')
			} else if v, err := strconv.ParseFloat(f.value, 64); err == nil && rnd != nil {
				buf = strconv.AppendFloat(buf, v*(1+0.02*(rnd()-0.5)), 'g', -1, 64)
			} else {
				buf = append(buf, fieldR.Replace(f.value)...)
			}
		}
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, ts, 10)
		buf = append(buf, '\n')
	}
	return buf
}
