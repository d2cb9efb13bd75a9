// Package docs holds the documentation's own tests: docs that can't rot.
// Every link and anchor between the repository's Markdown files resolves;
// every setting a doc names exists in the files that read it; every shell
// block marked runnable (```sh runnable) runs, and prints what its
// "# prints:" lines say; the generated pages (metrics.md, configure.md)
// are what their sources give (go test ./docs -update rewrites them).
package docs

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// repo is the repository's root, seen from this package.
const repo = ".."

// markdownFiles lists every Markdown file of the repository but build
// output and caches.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "dist", "node_modules", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// block is a fenced code block.
type block struct {
	info string // what follows the opening fence: "sh", "sh runnable", ...
	text string
	line int // of the opening fence
}

// parse splits a Markdown file into its prose lines (code blocks and
// inline code left out, for the link check) and its fenced blocks.
func parse(t *testing.T, path string) (prose []string, blocks []block) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	var cur *block
	fence := ""
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trimmed, fence) && strings.TrimLeft(trimmed, "`~") == "" {
				blocks = append(blocks, *cur)
				cur = nil
				prose = append(prose, "")
				continue
			}
			cur.text += line + "\n"
			prose = append(prose, "")
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			cur = &block{info: strings.TrimSpace(strings.TrimLeft(trimmed, "`~")), line: n}
			prose = append(prose, "")
			continue
		}
		prose = append(prose, line)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Errorf("%s:%d: a code block that is never closed", path, cur.line)
	}
	return prose, blocks
}

var (
	inlineCode = regexp.MustCompile("`[^`]*`")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	heading    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	explicitID = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// slug is GitHub's anchor for a heading: lower case, punctuation dropped
// (but - and _), spaces to -.
func slug(h string) string {
	h = inlineCode.ReplaceAllStringFunc(h, func(s string) string { return strings.Trim(s, "`") })
	// A link in a heading anchors on its text.
	h = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors lists a Markdown file's anchors: its headings' (with GitHub's
// -1, -2 for repeats) and explicit <a id>s.
func anchors(t *testing.T, path string) map[string]bool {
	prose, _ := parse(t, path)
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range prose {
		if m := heading.FindStringSubmatch(line); m != nil {
			s := slug(m[2])
			if n := seen[s]; n > 0 {
				out[s+"-"+strconv.Itoa(n)] = true
			} else {
				out[s] = true
			}
			seen[s]++
		}
		for _, m := range explicitID.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// TestLinksAndAnchors: every relative link in every Markdown file points
// at a file (or directory) that exists, and every #anchor at a heading or
// <a id> of its target.
func TestLinksAndAnchors(t *testing.T) {
	cache := map[string]map[string]bool{}
	checked := 0
	for _, file := range markdownFiles(t) {
		prose, _ := parse(t, file)
		for i, line := range prose {
			line = inlineCode.ReplaceAllString(line, "")
			var targets []string
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), path)
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d: link to %s: no such file", file, i+1, target)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					if !regexp.MustCompile(`^L\d+(-L\d+)?$`).MatchString(anchor) {
						t.Errorf("%s:%d: link to %s: an anchor in a file that is not Markdown", file, i+1, target)
					}
					continue
				}
				if cache[dest] == nil {
					cache[dest] = anchors(t, dest)
				}
				if !cache[dest][anchor] {
					t.Errorf("%s:%d: link to %s: %s has no heading or <a id> %q", file, i+1, target, dest, anchor)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d links checked: is the link pattern still right?", checked)
	}
	t.Logf("%d relative links checked", checked)
}

// settingName matches an environment setting as the docs name them:
// OASIS_NODE_ID, INFLUX_PASSWORD, KAPACITOR_SMTP_HOST, ...
var settingName = regexp.MustCompile(`\b(?:OASIS|INFLUX|INFLUXDB|KAPACITOR|GRAFANA|GF|TELEGRAM|TELEGRAF|BOT|SLACK|DISCORD|SMTP|PAGERDUTY|OPSGENIE|WEBHOOK|WATCHDOG|COMPOSE)_[A-Z0-9_]*[A-Z0-9]\b`)

// vendorSettings are settings the docs name that only a vendor's program
// reads (so no file here names them), each with where it is documented.
var vendorSettings = map[string]string{
	"COMPOSE_FILE":     "docker compose: https://docs.docker.com/compose/how-tos/environment-variables/envvars/",
	"COMPOSE_PROFILES": "docker compose: https://docs.docker.com/compose/how-tos/profiles/",
	// Retired: named where the docs tell an older install how to move off it.
	"OASIS_NODE_DATADIR": "retired: install.md's upgrade from the old socket layout",
}

// settingSources are the files that read settings: the stack's
// configuration, scripts and code (not the docs).
func settingSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, pattern := range []string{
		"docker-compose*.yml", ".env.example", "Dockerfile", "Makefile", "telegraf*.conf", "telegraf/*.conf", "telegraf/*/*.conf",
		"kapacitor/kapacitor.conf", "kapacitor/load/*/*", "influxdb/*", "grafana/provisioning/*/*", "scripts/*",
		"cmd/*/*.go", "internal/*/*.go", "plugins/*/*/*.go", "plugins/*/*/sample.conf",
		// The test bed's settings (a recording's directory, a benchmark's steps).
		"testbed/*/*.go", "testbed/*/*/*.go",
	} {
		files, err := filepath.Glob(filepath.Join(repo, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") && !strings.Contains(f, "testbed") {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				continue // a directory
			}
			b.Write(raw)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestSettingsNamedExist: every environment setting a doc names is read
// somewhere (compose files, .env.example, the configs, the scripts, the
// code), so a renamed or dropped setting can't linger in the docs.
func TestSettingsNamedExist(t *testing.T) {
	sources := settingSources(t)
	known := map[string]bool{}
	for _, m := range settingName.FindAllString(sources, -1) {
		known[m] = true
	}
	named := 0
	for _, file := range markdownFiles(t) {
		if strings.HasSuffix(file, "CHANGELOG.md") {
			continue // history: it may name what was
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			for _, m := range settingName.FindAllString(line, -1) {
				named++
				if known[m] || vendorSettings[m] != "" {
					continue
				}
				// A prefix the docs name as a family (KAPACITOR_SMTP_*).
				if strings.Contains(line, m+"_*") || strings.Contains(line, m+"*") {
					continue
				}
				t.Errorf("%s:%d: %s is named but nothing reads it (a renamed or dropped setting?)", file, i+1, m)
			}
		}
	}
	t.Logf("%d settings named in the docs, every one read somewhere", named)
}

// TestRunnableBlocks runs every shell block the docs mark runnable
// (```sh runnable): commands a reader can type on a machine without
// Docker. Each runs with bash -eo pipefail from the repository's root,
// with oasis-telegraf and oasis-bot built from this checkout first on
// PATH, as an installed copy would be; its "# prints: TEXT" lines say
// what the output must contain, "# exits: N" the exit status it must end
// with (0 by default).
func TestRunnableBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs the docs' commands: the full tier")
	}
	bin := t.TempDir()
	for _, name := range []string{"oasis-telegraf", "oasis-bot"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), "./cmd/"+name)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, file := range markdownFiles(t) {
		_, blocks := parse(t, file)
		for _, b := range blocks {
			fields := strings.Fields(b.info)
			if len(fields) < 2 || fields[0] != "sh" || fields[1] != "runnable" {
				continue
			}
			ran++
			name := strings.TrimPrefix(file, repo+"/") + ":" + strconv.Itoa(b.line)
			t.Run(name, func(t *testing.T) {
				want := 0
				var prints []string
				for _, line := range strings.Split(b.text, "\n") {
					line = strings.TrimSpace(line)
					if p, ok := strings.CutPrefix(line, "# prints: "); ok {
						prints = append(prints, p)
					}
					if e, ok := strings.CutPrefix(line, "# exits: "); ok {
						want, _ = strconv.Atoi(e)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", b.text)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
				out, err := cmd.CombinedOutput()
				code := 0
				if err != nil {
					var exit *exec.ExitError
					if !errors.As(err, &exit) {
						t.Fatalf("%v\n%s", err, out)
					}
					code = exit.ExitCode()
				}
				if code != want {
					t.Errorf("exit status %d, want %d; output:\n%s", code, want, out)
				}
				for _, p := range prints {
					if !strings.Contains(string(out), p) {
						t.Errorf("the output lacks %q (a # prints: line); output:\n%s", p, out)
					}
				}
			})
		}
	}
	if ran == 0 {
		t.Error("no runnable block found: is the marker still ```sh runnable?")
	}
}
