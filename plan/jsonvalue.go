package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// decodeAny decodes one JSON value keeping numbers exact: the values
// encoding/json gives with UseNumber (map[string]any, []any, string,
// json.Number, bool, nil), with the same errors for input it rejects. An
// empty input is nil (absent), like JSON null. It parses the bytes in one
// pass; the renderer decodes every change's values with it.
func decodeAny(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	p := valueParser{b: raw}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// valueParser parses a JSON value held in memory.
type valueParser struct {
	b []byte
	i int
	// trusted is set for bytes already validated (spans of a document
	// read before): members and elements are then skipped without being
	// validated again, which is several times faster.
	trusted bool
}

func (p *valueParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *valueParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value reads a value inside depth arrays and objects. Like encoding/json,
// it refuses more than maxJSONDepth of them nested.
func (p *valueParser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	if c := p.b[p.i]; (c == '{' || c == '[') && depth >= maxJSONDepth {
		return nil, p.errorf("nested too deep")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, p.errorf("expected a string key")
			}
			k, err := p.string()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, p.errorf("expected ':'")
			}
			p.i++
			p.space()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			if done, err := p.separator('}'); err != nil {
				return nil, err
			} else if done {
				return m, nil
			}
		}
	case c == '[':
		p.i++
		l := []any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return l, nil
		}
		for {
			p.space()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if done, err := p.separator(']'); err != nil {
				return nil, err
			} else if done {
				return l, nil
			}
		}
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || isDigit(c):
		return p.number()
	}
	return nil, p.errorf("unexpected %q", p.b[p.i])
}

// separator consumes what follows a member or an element: ',' (more to
// come) or close (done).
func (p *valueParser) separator(close byte) (done bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, p.errorf("unexpected end of input")
	}
	p.i++
	switch p.b[p.i-1] {
	case ',':
		return false, nil
	case close:
		return true, nil
	}
	p.i--
	return false, p.errorf("expected ',' or '%c'", close)
}

func (p *valueParser) literal(word string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return p.errorf("invalid literal (expected %s)", word)
	}
	p.i += len(word)
	return nil
}

// skip reads past one value, validating it as encoding/json would,
// without building it.
func (p *valueParser) skip(depth int) error {
	if p.i >= len(p.b) {
		return p.errorf("unexpected end of input")
	}
	if c := p.b[p.i]; (c == '{' || c == '[') && depth >= maxJSONDepth {
		return p.errorf("nested too deep")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.members(depth, nil)
	case c == '[':
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return nil
		}
		for {
			p.space()
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if done, err := p.separator(']'); err != nil {
				return err
			} else if done {
				return nil
			}
		}
	case c == '"':
		return p.skipString()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || isDigit(c):
		_, err := p.number()
		return err
	}
	return p.errorf("unexpected %q", p.b[p.i])
}

// skipElement skips a member's or an element's value: validating it, or
// only finding its end in trusted bytes.
func (p *valueParser) skipElement(depth int) error {
	if p.trusted {
		p.skipTrusted()
		return nil
	}
	return p.skip(depth)
}

// skipTrusted finds the end of a value in bytes known to be valid JSON.
func (p *valueParser) skipTrusted() {
	if p.i >= len(p.b) {
		return
	}
	switch p.b[p.i] {
	case '"':
		p.skipTrustedString()
		return
	case '{', '[':
	default:
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			p.i++
		}
		return
	}
	depth := 0
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			p.skipTrustedString()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.i++
				return
			}
		}
		p.i++
	}
}

// skipTrustedString finds the end of a string known to be valid.
func (p *valueParser) skipTrustedString() {
	p.i++
	for {
		j := bytes.IndexByte(p.b[p.i:], '"')
		if j < 0 {
			p.i = len(p.b)
			return
		}
		p.i += j + 1
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		n := 0
		for k := p.i - 2; k >= 0 && p.b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return
		}
	}
}

// skipString reads past a string, validating its escapes.
func (p *valueParser) skipString() error {
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return nil
		case c < 0x20:
			return p.errorf("control character %q in a string", c)
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return p.errorf("unexpected end of input in a string")
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.b) {
					return p.errorf("unexpected end of input in a string")
				}
				for _, h := range p.b[p.i+2 : p.i+6] {
					if !isHex(h) {
						return p.errorf("invalid \\u escape")
					}
				}
				p.i += 6
			default:
				return p.errorf("invalid escape")
			}
			continue
		}
		p.i++
	}
	return p.errorf("unexpected end of input in a string")
}

// string reads a string. Plain ones (no escapes, valid UTF-8) are copied
// as they are; the others go through encoding/json, for its exact rules
// (surrogate pairs, invalid UTF-8 replaced).
func (p *valueParser) string() (string, error) {
	start := p.i
	p.i++
	plain := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if plain {
				return string(p.b[start+1 : p.i-1]), nil
			}
			var out string
			if err := json.Unmarshal(p.b[start:p.i], &out); err != nil {
				return "", err
			}
			return out, nil
		case c < 0x20:
			return "", p.errorf("control character %q in a string", c)
		case c == '\\':
			plain = false
			p.i += 2
			continue
		case c >= 0x80:
			plain = false
		}
		p.i++
	}
	return "", p.errorf("unexpected end of input in a string")
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *valueParser) number() (json.Number, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return "", p.errorf("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.errorf("invalid number: no digits after the decimal point")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.errorf("invalid number: no digits in the exponent")
		}
	}
	return json.Number(p.b[start:p.i]), nil
}

// member is one member of a JSON object: its key and its value's bytes.
type member struct {
	key string
	val []byte
}

// objectMembers returns the members of the JSON object b, sorted by key,
// the last one winning where a key repeats (as decoding into a map does).
func objectMembers(b []byte, trusted bool) ([]member, error) {
	p := valueParser{b: b, trusted: trusted}
	p.space()
	var members []member
	index := map[string]int{}
	var keyErr error
	err := p.members(0, func(raw, val []byte) {
		key, err := decodeKey(raw)
		if err != nil {
			keyErr = err
			return
		}
		if i, ok := index[key]; ok {
			members[i].val = val
			return
		}
		index[key] = len(members)
		members = append(members, member{key, val})
	})
	if err == nil {
		err = keyErr
	}
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errors.New("trailing data after JSON value")
	}
	sort.Slice(members, func(i, j int) bool { return members[i].key < members[j].key })
	return members, nil
}

// members reads an object, calling each with every member: its key as
// written (quotes and escapes included) and its value's bytes. With each
// nil, it only validates.
func (p *valueParser) members(depth int, each func(key, val []byte)) error {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.errorf("expected an object")
	}
	if depth >= maxJSONDepth {
		return p.errorf("nested too deep")
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.errorf("expected a string key")
		}
		keyStart := p.i
		if p.trusted {
			p.skipTrustedString()
		} else if err := p.skipString(); err != nil {
			return err
		}
		key := p.b[keyStart:p.i]
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.errorf("expected ':'")
		}
		p.i++
		p.space()
		start := p.i
		if err := p.skipElement(depth + 1); err != nil {
			return err
		}
		if each != nil {
			each(key, p.b[start:p.i])
		}
		if done, err := p.separator('}'); err != nil {
			return err
		} else if done {
			return nil
		}
	}
}

// decodeKey decodes a key as members gives it.
func decodeKey(raw []byte) (string, error) {
	p := valueParser{b: raw}
	return p.string()
}

// keyIs reports whether a key as members gives it is name.
func keyIs(raw []byte, name string) bool {
	if len(raw) == len(name)+2 && string(raw[1:len(raw)-1]) == name {
		return true
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return false
	}
	k, err := decodeKey(raw)
	return err == nil && k == name
}

// fields returns the values of the named members of the object b (the last
// one where a key repeats), nil for those it lacks or if b is not an
// object.
func fields(b []byte, names ...string) [][]byte {
	out := make([][]byte, len(names))
	if firstByte(b) != '{' {
		return out
	}
	p := valueParser{b: b, trusted: true}
	p.space()
	_ = p.members(1, func(key, val []byte) {
		for i, n := range names {
			if keyIs(key, n) {
				out[i] = val
			}
		}
	})
	return out
}

// eachElement calls each with the bytes of every element of the JSON
// array b.
func eachElement(b []byte, each func(elem []byte) error) error {
	p := valueParser{b: b, trusted: true}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return p.errorf("expected an array")
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		return nil
	}
	for {
		p.space()
		start := p.i
		if err := p.skipElement(1); err != nil {
			return err
		}
		if err := each(p.b[start:p.i]); err != nil {
			return err
		}
		if done, err := p.separator(']'); err != nil {
			return err
		} else if done {
			return nil
		}
	}
}

// firstByte is the first byte of a JSON value that is not space.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// appendJSON appends the compact JSON of a decoded value (map[string]any
// with keys sorted, []any, string, json.Number, bool, nil) exactly as
// encoding/json with SetEscapeHTML(false) writes it. Other types go through
// encoding/json.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return appendJSONString(b, x)
	case json.Number:
		if x == "" {
			return append(b, '0')
		}
		return append(b, x...)
	case map[string]any:
		if x == nil {
			return append(b, "null"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	case []any:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return appendJSONString(b, SensitiveValue)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// appendJSONString appends s quoted as encoding/json quotes it with
// SetEscapeHTML(false): plain printable ASCII as it is, the rest through
// encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
