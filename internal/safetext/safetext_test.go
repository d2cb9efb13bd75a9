package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCleanDisarmsEachChannelsMarkup(t *testing.T) {
	for in, want := range map[string]string{
		"Upgrade to 25.0":                        "Upgrade to 25.0",
		"<!channel> vote now":                    "‹!channel› vote now",
		"<https://evil.example|docs>":            "‹https[:]//evil.example¦docs›",
		"[official notes](https://evil.example)": "［official notes］(https[:]//evil.example)",
		"@everyone urgent":                       "＠everyone urgent",
		"*bold* _it_ ~gone~ `code`":              "∗bold∗ ＿it＿ ∼gone∼ ˋcodeˋ",
		"||spoiler|| # Heading":                  "¦¦spoiler¦¦ ＃ Heading",
		"a &lt; b":                               "a ＆lt; b",
		"line one\nCRITICAL forged\r\n\tline":    "line one CRITICAL forged line",
		"bad \xff byte":                          "bad � byte",
		"evil\u202etxt.exe and zero\u200bwidth":  "eviltxt.exe and zerowidth",
	} {
		require.Equal(t, want, Clean(in, 0), "Clean(%q)", in)
	}
}

func TestCleanBoundsLength(t *testing.T) {
	long := strings.Repeat("é", 300)
	got := Clean(long, 120)
	require.Equal(t, 120, utf8.RuneCountInString(got))
	require.True(t, strings.HasSuffix(got, "…"))
	require.Equal(t, "short", Clean("short", 120))
}
