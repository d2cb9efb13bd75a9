package fleet

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replayer sends the template for N installs into InfluxDB, as their
// Telegrafs would: each install one batch every 10 s (gzip, as Telegraf's
// output sends it), the installs spread evenly over the 10 s.
type Replayer struct {
	tpl             *Template
	url, user, pass string
	client          *http.Client
	mu              sync.Mutex
	n               int
	installs        []Install
	down            map[int]time.Time // install -> since when its node is down
	firstDown       map[int]int64     // install -> time of the first up=0 point sent
	stats           Stats
	memSent         []int64 // timestamps of the mem points sent since Reset
}

// Stats are the writes since the last Reset.
type Stats struct {
	Writes, Errors, Points int
	Latencies              []time.Duration
	LastError              string
}

// NewReplayer writes to InfluxDB at url as user.
func NewReplayer(tpl *Template, url, user, pass string) *Replayer {
	return &Replayer{tpl: tpl, url: url, user: user, pass: pass, down: map[int]time.Time{}, firstDown: map[int]int64{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// SetInstalls sets how many installs write from the next slot on.
func (r *Replayer) SetInstalls(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.installs) < n {
		r.installs = append(r.installs, NewInstall(len(r.installs)))
	}
	r.n = n
}

// Install returns install i's identities.
func (r *Replayer) Install(i int) Install {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.installs[i]
}

// SetDown makes install i's node stop answering (or answer again).
func (r *Replayer) SetDown(i int, down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if down {
		r.down[i] = time.Now()
		delete(r.firstDown, i)
	} else {
		delete(r.down, i)
	}
}

// FirstDownPoint is the time of the first up=0 point sent for install i
// since SetDown (zero before it is sent).
func (r *Replayer) FirstDownPoint(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ns, ok := r.firstDown[i]; ok {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Reset starts new statistics and returns the old.
func (r *Replayer) Reset() (Stats, []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, m := r.stats, r.memSent
	r.stats, r.memSent = Stats{}, nil
	return s, m
}

type job struct {
	install    Install
	cycle      int64
	cycleStart time.Time
	slot       int
	down       bool
}

// Run sends until ctx ends.
func (r *Replayer) Run(ctx context.Context) {
	jobs := make(chan job, 4096)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.send(j)
			}
		}()
	}
	defer func() { close(jobs); wg.Wait() }()
	for {
		slotStart := time.Now().Truncate(Slot)
		cycleStart := slotStart.Truncate(Cycle)
		slot := int(slotStart.Sub(cycleStart) / Slot)
		base := slotStart.Add(Slot)
		r.mu.Lock()
		n := r.n
		r.mu.Unlock()
		if n == 0 {
			if !sleepUntil(ctx, base) {
				return
			}
			continue
		}
		for i := range n {
			if !sleepUntil(ctx, base.Add(time.Duration(i)*Slot/time.Duration(n))) {
				return
			}
			r.mu.Lock()
			_, down := r.down[i]
			in := r.installs[i]
			r.mu.Unlock()
			jobs <- job{install: in, cycle: cycleStart.Unix() / 60, cycleStart: cycleStart, slot: slot, down: down}
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (r *Replayer) send(j job) {
	body := r.tpl.AppendSlot(nil, j.install, j.cycle, j.cycleStart, j.slot, j.down)
	if len(body) == 0 {
		return
	}
	points := bytes.Count(body, []byte{'\n'})
	var mem []int64
	var firstDown int64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "mem,") || (j.down && strings.HasPrefix(line, "oasis_node,")) {
			ns, _ := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
			if strings.HasPrefix(line, "mem,") {
				mem = append(mem, ns)
			} else if firstDown == 0 || ns < firstDown {
				firstDown = ns
			}
		}
	}
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, r.url+"/write?db=telegraf&rp=autogen&precision=ns", &zbuf)
	req.Header.Set("Content-Encoding", "gzip")
	req.SetBasicAuth(r.user, r.pass)
	start := time.Now()
	resp, err := r.client.Do(req)
	took := time.Since(start)
	var failure string
	if err != nil {
		failure = err.Error()
	} else {
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			failure = fmt.Sprintf("%s: %s", resp.Status, msg)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Writes++
	r.stats.Latencies = append(r.stats.Latencies, took)
	if failure != "" {
		r.stats.Errors++
		r.stats.LastError = failure
		return
	}
	r.stats.Points += points
	r.memSent = append(r.memSent, mem...)
	if firstDown != 0 {
		if _, ok := r.firstDown[j.install.Index]; !ok {
			r.firstDown[j.install.Index] = firstDown
		}
	}
}

// Percentile of the latencies (0 to 100).
func (s Stats) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), s.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(float64(len(l))*p/100))]
}

// CPUTicks is a process's user and system CPU time so far, in clock ticks
// (1/100 s), from /proc/PID/stat.
func CPUTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// After the command: state is field 3, utime 14, stime 15.
	u, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, err
	}
	st, err := strconv.ParseInt(fields[12], 10, 64)
	return u + st, err
}

// Memory is a process's resident and peak resident memory, bytes.
func Memory(pid int) (rss, peak int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak, nil
}
