package review

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Segment is a run of diff text in one style: Class names the CSS
// classes of Terraform's colours ("" plain).
type Segment struct {
	Class string `json:"c,omitempty"`
	Text  string `json:"t"`
}

// style is the SGR state the renderer's escapes set.
type style struct {
	bold                     bool
	red, green, yellow, cyan bool
}

func (s style) class() string {
	var c []string
	if s.bold {
		c = append(c, "ansi-bold")
	}
	switch {
	case s.red:
		c = append(c, "ansi-red")
	case s.green:
		c = append(c, "ansi-green")
	case s.yellow:
		c = append(c, "ansi-yellow")
	case s.cyan:
		c = append(c, "ansi-cyan")
	}
	return strings.Join(c, " ")
}

// apply sets the state for one SGR parameter list ("0", "1", "31", "1;31").
func (s style) apply(params string) style {
	for _, p := range strings.Split(params, ";") {
		n, err := strconv.Atoi(p)
		if p == "" {
			n, err = 0, nil
		}
		if err != nil {
			continue
		}
		switch n {
		case 0:
			s = style{}
		case 1:
			s.bold = true
		case 22:
			s.bold = false
		case 31, 32, 33, 36, 39:
			s.red, s.green, s.yellow, s.cyan = n == 31, n == 32, n == 33, n == 36
		}
	}
	return s
}

// Segments turns the coloured diff the plan renderer writes (the ANSI SGR
// escapes of Terraform's colorstring) into styled runs of text. Only
// complete SGR sequences (ESC [ digits and semicolons m) are taken as
// style; any other byte, an ESC that starts none included, is text. The
// runs' text, joined, is the diff without its colour escapes: the text
// the CLI prints without colour.
func Segments(coloured string) []Segment {
	var out []Segment
	var cur style
	var text strings.Builder
	flush := func() {
		if text.Len() == 0 {
			return
		}
		c := cur.class()
		if n := len(out); n > 0 && out[n-1].Class == c {
			out[n-1].Text += text.String()
		} else {
			out = append(out, Segment{Class: c, Text: text.String()})
		}
		text.Reset()
	}
	for i := 0; i < len(coloured); {
		if params, n := sgr(coloured[i:]); n > 0 {
			next := cur.apply(params)
			if next != cur {
				flush()
				cur = next
			}
			i += n
			continue
		}
		text.WriteByte(coloured[i])
		i++
	}
	flush()
	return out
}

// sgr reports whether s starts with an SGR escape: its parameters and
// length (0 when it does not).
func sgr(s string) (string, int) {
	if len(s) < 3 || s[0] != 0x1b || s[1] != '[' {
		return "", 0
	}
	for j := 2; j < len(s) && j < 2+32; j++ {
		switch c := s[j]; {
		case c == 'm':
			return s[2:j], j + 1
		case c == ';' || c >= '0' && c <= '9':
		default:
			return "", 0
		}
	}
	return "", 0
}

// PlainText is the text of segs.
func PlainText(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.Text)
	}
	return b.String()
}

// paginate cuts segs into pages of at most size bytes of text each,
// cut after a line end where the page holds one (else at a rune start):
// page i+1 continues page i exactly.
func paginate(segs []Segment, size int) [][]Segment {
	text := PlainText(segs)
	var cuts []int // the end of every page but the last
	for start := 0; len(text)-start > size; {
		end := start + size
		if nl := strings.LastIndexByte(text[start:end], '\n'); nl >= 0 {
			end = start + nl + 1
		} else {
			for end > start+1 && !utf8.RuneStart(text[end]) {
				end--
			}
		}
		cuts = append(cuts, end)
		start = end
	}
	pages := make([][]Segment, 0, len(cuts)+1)
	var page []Segment
	pos := 0
	for _, sg := range segs {
		for sg.Text != "" {
			if len(cuts) > 0 && pos+len(sg.Text) > cuts[0] {
				n := cuts[0] - pos
				if n > 0 {
					page = append(page, Segment{Class: sg.Class, Text: sg.Text[:n]})
				}
				sg.Text = sg.Text[n:]
				pos += n
				pages = append(pages, page)
				page, cuts = nil, cuts[1:]
				continue
			}
			page = append(page, sg)
			pos += len(sg.Text)
			sg.Text = ""
		}
	}
	return append(pages, page)
}
