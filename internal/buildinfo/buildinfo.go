// Package buildinfo says which release and commit a binary was built from,
// for every binary's -version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release's semantic version (CHANGELOG.md). A release
// build sets it from its tag (scripts/release.sh: -ldflags -X); between
// releases it names the next one, -dev.
var Version = "0.3.0-dev"

// Commit is the commit a release build was made from (-ldflags -X); empty:
// the commit Go recorded when building in a checkout (vcs.revision).
var Commit = ""

// String is the version line of program: name, version, commit (12 hex
// digits, "+modified" for a checkout with changes, "unknown" for a build
// without VCS information, such as the container image's) and Go version.
func String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s)", program, version(), commit(), runtime.Version())
}

// version is Version, or the module's version when Go installed a tagged
// release of it (go install ...@v0.3.0 records it; a checkout's build
// records "(devel)").
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && strings.HasPrefix(info.Main.Version, "v") {
		return strings.TrimPrefix(info.Main.Version, "v")
	}
	return Version
}

func commit() string {
	if Commit != "" {
		return short(Commit)
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "unknown"
	}
	if modified == "true" {
		return short(rev) + "+modified"
	}
	return short(rev)
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
