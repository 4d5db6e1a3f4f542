package plan

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable returns s with every character a terminal or a browser would
// act on instead of showing written as a visible escape: control
// characters (ESC sequences clear a screen or move the cursor over the
// lines above), bidi overrides and other invisible format characters
// (they show text in another order than it is), invalid UTF-8. Line
// breaks and tabs stay. Text from a plan's own values and from the code
// an agent writes goes through it before any report shows it: the human
// must see what is there, on `plangate approve`'s terminal and on the
// review page alike. Terraform's own text escapes the same characters
// inside quoted strings.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if !printableRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case printableRune(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func printableRune(r rune) bool {
	return r == '\n' || r == '\t' || r != utf8.RuneError && strconv.IsPrint(r)
}
