// Package safetext makes text that comes from the chain (a proposal's
// title, an upgrade's handler name: chosen by whoever submits the
// proposal) safe to show in an operator's alert channels. Alert messages
// go to Slack, Discord, Telegram, e-mail and paging services, whose markup
// differs: Slack reads <!channel> and <url|text>, Discord masked links
// [text](url), @everyone and ||spoilers||, Markdown in all of them reads
// *, _, ~ and `. Clean replaces each such character by a look-alike that
// no channel reads as markup, folds the text onto one line and bounds its
// length, so a title can't ping a channel, hide a link or forge lines of
// the message. It is applied where the text enters (the input plugin), so
// dashboards and every channel show the same, inert text.
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// lookalikes maps each character some channel reads as markup to one it
// does not.
var lookalikes = strings.NewReplacer(
	"<", "‹", ">", "›", // Slack <!channel>, <url|text>; HTML in e-mail
	"&", "＆", // Slack and HTML entities
	"@", "＠", // Discord @everyone/@here, mentions
	"*", "∗", "_", "＿", "~", "∼", "`", "ˋ", // Markdown emphasis, strike, code
	"[", "［", "]", "］", // masked links [text](url)
	"|", "¦", // Slack <url|text>, Discord ||spoiler||
	"#", "＃", // Discord headings, channel links
	"://", "[:]//", // a scheme-ful URL is not linked
)

// Clean returns s as inert one-line text of at most max runes (an ellipsis
// marks a cut); max <= 0: no bound.
func Clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "�")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			return ' '
		case unicode.Is(unicode.Cf, r):
			// Invisible format characters: a right-to-left override
			// reorders how the line reads, a zero-width space hides text.
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	s = lookalikes.Replace(s)
	if max > 0 && utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}
