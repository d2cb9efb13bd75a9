package buildinfo

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The version between releases is the changelog's newest one, unreleased,
// with -dev; a release build sets it from the tag.
func TestVersionIsTheChangelogs(t *testing.T) {
	b, err := os.ReadFile("../../CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - (\S+)`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "CHANGELOG.md has a version heading: ## [x.y.z] - date")
	if m[2] == "unreleased" {
		require.Equal(t, m[1]+"-dev", Version)
	} else {
		require.Equal(t, m[1], Version)
	}
	require.Regexp(t, `^\d+\.\d+\.\d+(-dev)?$`, Version, "a semantic version")
}

func TestString(t *testing.T) {
	old := Commit
	defer func() { Commit = old }()
	Commit = "0123456789abcdef0123"
	require.Regexp(t, `^prog \d+\.\d+\.\d+(-dev)? \(commit 0123456789ab, go1\.\d+`, String("prog"))
}
