package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// SensitiveValue replaces every sensitive value in what plangate shows: the
// rendered diff, the sanitized plan JSON and the warnings.
const SensitiveValue = "(sensitive value)"

// Secrets are masked in two ways, because Terraform's own sensitivity marks
// are not enough on their own:
//
//  1. By mark: every value at a path Terraform marks sensitive
//     (before_sensitive, after_sensitive, sensitive_values, sensitive
//     outputs, sensitive variables and their defaults) is replaced.
//  2. By value: every string leaf that equals a value seen at a marked path,
//     or contains one of at least minSubstringSecret bytes, or contains a
//     shorter one standing alone (not inside a longer word or number:
//     "pin=987654" holds 987654, "19876543" does not), is replaced too;
//     so is every number leaf equal to a number seen at a marked path (or to
//     a sensitive string), if it has at least minNumberDigits significant
//     digits. Bools are masked by mark only: a bool carries one bit, and
//     masking every true (or false) equal to a sensitive one would blank
//     every flag of the plan while hiding nothing an observer could not
//     guess. So a sensitive bool that loses its mark (terraform_data's
//     output, an output built from it, a remote state's output) shows.
//
// The second rule exists because Terraform carries sensitive values unmarked
// in places we measured: a provider that echoes its input (terraform_data's
// `output`) loses the marks, so `terraform show` itself prints the secret;
// terraform_remote_state returns the remote's sensitive outputs unmarked; a
// literal written in a resource argument the provider schema marks sensitive
// appears as configuration.*.expressions.*.constant_value. Over-masking an
// innocent string that happens to equal a secret is the price, and the safe
// direction to err in.
const (
	// minExactSecret is the shortest sensitive string masked wherever it
	// appears as a whole value; shorter ones ("", "a", "no") would mask
	// half the plan and protect nothing.
	minExactSecret = 3
	// minSubstringSecret is the shortest sensitive string masked wherever it
	// appears inside a longer string; shorter ones are masked inside a
	// longer string only where they stand alone, delimited by characters
	// that are not letters, digits or underscores.
	minSubstringSecret = 8
	// minNumberDigits is the fewest significant digits (sign, decimal point,
	// exponent and leading zeros not counted) a sensitive number needs to be
	// masked by value: 0, 1, 10 or 0.5 would mask every count, index and
	// ratio of the plan. 100 is masked, 3.14 too.
	minNumberDigits = 3
)

// secretSet holds the string values the plan marks sensitive anywhere, and
// the sensitive numbers as their canonical JSON text (see canonicalNumber),
// so that a number also masks a string spelling it and the reverse
// (tostring and tonumber drop no marks, but the copies that lose marks are
// often converted on the way).
type secretSet struct {
	exact map[string]struct{}
	// long secrets indexed by their first minSubstringSecret bytes, so that
	// a string is checked in time proportional to its length, not to the
	// number of secrets.
	byPrefix map[string][]string
	// hasShort is set when a secret is shorter than minSubstringSecret.
	hasShort bool
}

func newSecretSet() *secretSet {
	return &secretSet{exact: map[string]struct{}{}, byPrefix: map[string][]string{}}
}

func (s *secretSet) add(str string) {
	if !s.addOne(str) {
		return
	}
	// Free text (diagnostics, check messages, JSON in a message) shows a
	// string with quotes, backslashes, control and some other characters
	// escaped, the way JSON, HCL and Go quote them: remember those
	// spellings too.
	q := strconv.Quote(str)
	s.addOne(q[1 : len(q)-1])
	if j, err := json.Marshal(str); err == nil {
		s.addOne(string(j[1 : len(j)-1]))
	}
}

// addOne adds one spelling of a secret and reports whether it was new.
func (s *secretSet) addOne(str string) bool {
	if len(str) < minExactSecret {
		return false
	}
	if _, ok := s.exact[str]; ok {
		return false
	}
	s.exact[str] = struct{}{}
	if len(str) >= minSubstringSecret {
		p := str[:minSubstringSecret]
		s.byPrefix[p] = append(s.byPrefix[p], str)
	} else {
		s.hasShort = true
	}
	return true
}

// addNumber adds a sensitive number, given as JSON number text, if it has
// enough significant digits to be worth masking.
func (s *secretSet) addNumber(text string) {
	if c := canonicalNumber(text); significantDigits(c) >= minNumberDigits {
		s.add(c)
	}
}

// addAll adds every string and number leaf of v (map keys excluded: they
// are names far more often than secrets, and masking every "password" key
// would blank the diff). Bools are not added (see SensitiveValue).
func (s *secretSet) addAll(v any) {
	switch x := v.(type) {
	case nil, bool:
	case string:
		s.add(x)
	case json.Number:
		s.addNumber(string(x))
	case map[string]any:
		for _, e := range x {
			s.addAll(e)
		}
	case []any:
		for _, e := range x {
			s.addAll(e)
		}
	default:
		// Not the shape decodeAny produces (float64, int, typed maps and
		// slices, structs): go through JSON.
		if n, ok := numberText(x); ok {
			s.addNumber(n)
		} else if j, ok := jsonRoundTrip(x); ok {
			s.addAll(j)
		}
	}
}

// addMarked adds the leaves of v that mask marks sensitive. mask has the
// shape Terraform gives before_sensitive and friends: true marks the whole
// subtree, objects and arrays mirror the value.
func (s *secretSet) addMarked(v, mask any) {
	switch m := mask.(type) {
	case bool:
		if m {
			s.addAll(v)
		}
	case map[string]any:
		if vm, ok := v.(map[string]any); ok {
			for k, sub := range m {
				if e, ok := vm[k]; ok {
					s.addMarked(e, sub)
				}
			}
		}
	case []any:
		if vl, ok := v.([]any); ok {
			for i, sub := range m {
				if i < len(vl) {
					s.addMarked(vl[i], sub)
				}
			}
		}
	}
}

func (s *secretSet) empty() bool { return s == nil || len(s.exact) == 0 }

// clone returns an independent copy of s.
func (s *secretSet) clone() *secretSet {
	c := newSecretSet()
	if s == nil {
		return c
	}
	for k := range s.exact {
		c.exact[k] = struct{}{}
	}
	for k, v := range s.byPrefix {
		c.byPrefix[k] = append([]string(nil), v...)
	}
	c.hasShort = s.hasShort
	return c
}

// matchesNumber reports whether the number with JSON text n equals a
// sensitive number (or a sensitive string spelling it) and has enough
// significant digits to be masked.
func (s *secretSet) matchesNumber(n string) bool {
	if s.empty() {
		return false
	}
	c := canonicalNumber(n)
	if significantDigits(c) < minNumberDigits {
		return false
	}
	_, ok := s.exact[c]
	return ok
}

// matchesLeaf reports whether a leaf of a decoded JSON value (a string or a
// number) is, or contains, a sensitive value. Bools and nulls never are.
func (s *secretSet) matchesLeaf(v any) bool {
	switch x := v.(type) {
	case string:
		return s.matches(x)
	case json.Number:
		return s.matchesNumber(string(x))
	case nil, bool, map[string]any, []any:
		return false
	}
	if n, ok := numberText(v); ok {
		return s.matchesNumber(n)
	}
	return false
}

// matches reports whether str is, or contains, a sensitive value: one of
// at least minSubstringSecret bytes anywhere, a shorter one standing alone
// (see maskText).
func (s *secretSet) matches(str string) bool {
	if s.empty() || len(str) < minExactSecret {
		return false
	}
	if _, ok := s.exact[str]; ok {
		return true
	}
	for i := 0; i+minExactSecret <= len(str); i++ {
		if s.secretAt(str, i) > 0 {
			return true
		}
	}
	return false
}

// objectKeyMatches reports whether any key of m is a sensitive value.
func (s *secretSet) objectKeyMatches(m map[string]any) bool {
	if s.empty() {
		return false
	}
	for k := range m {
		if s.matches(k) {
			return true
		}
	}
	return false
}

// maskMarked returns v with every part mask marks sensitive replaced by
// SensitiveValue. Nulls stay null: a null reveals nothing, and keeping it
// keeps the JSON's meaning ("no value") intact. Maps and slices are
// modified in place.
func maskMarked(v, mask any) any {
	switch m := mask.(type) {
	case bool:
		if m && v != nil {
			return SensitiveValue
		}
	case map[string]any:
		if vm, ok := v.(map[string]any); ok {
			for k, sub := range m {
				if e, ok := vm[k]; ok {
					vm[k] = maskMarked(e, sub)
				}
			}
		}
	case []any:
		if vl, ok := v.([]any); ok {
			for i, sub := range m {
				if i < len(vl) {
					vl[i] = maskMarked(vl[i], sub)
				}
			}
		}
	}
	return v
}

// maskCopy returns a deep copy of v with every string or number leaf that
// matches a secret replaced, and every object with a key that matches one
// replaced whole. Values not shaped like decoded JSON (float64, typed maps,
// structs) are copied through JSON first; one that JSON cannot encode is
// replaced whole, since it cannot be inspected.
func (s *secretSet) maskCopy(v any) any {
	switch x := v.(type) {
	case nil, bool:
		return x
	case string, json.Number:
		if s.matchesLeaf(x) {
			return SensitiveValue
		}
		return x
	case map[string]any:
		if x == nil {
			return x
		}
		if s.objectKeyMatches(x) {
			return SensitiveValue
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.maskCopy(e)
		}
		return out
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.maskCopy(e)
		}
		return out
	}
	if n, ok := numberText(v); ok {
		if s.matchesNumber(n) {
			return SensitiveValue
		}
		return v
	}
	j, ok := jsonRoundTrip(v)
	if !ok {
		return SensitiveValue
	}
	return s.maskCopy(j)
}

// maskText returns text with every occurrence of a secret replaced by
// SensitiveValue. Secrets of at least minSubstringSecret bytes are replaced
// wherever they occur; shorter ones only where they stand alone, not inside
// a longer word or number (a secret "pin" leaves "spinning" alone, a secret
// 987654 leaves 19876543 alone). Overlapping occurrences are replaced as
// one, so no part of either shows.
func (s *secretSet) maskText(text string) string {
	if s.empty() || len(text) < minExactSecret {
		return text
	}
	var b strings.Builder
	last, start, end := 0, -1, -1 // written up to last; current run [start, end)
	flush := func() {
		if start >= 0 {
			b.WriteString(text[last:start])
			b.WriteString(SensitiveValue)
			last = end
		}
	}
	for i := 0; i+minExactSecret <= len(text); i++ {
		n := s.secretAt(text, i)
		if n == 0 {
			continue
		}
		if i < end {
			end = max(end, i+n)
			continue
		}
		flush()
		start, end = i, i+n
	}
	if start < 0 {
		return text
	}
	flush()
	b.WriteString(text[last:])
	return b.String()
}

// secretAt returns the length of the longest secret that starts at text[i]
// and counts as an occurrence there (see maskText), or 0.
func (s *secretSet) secretAt(text string, i int) int {
	best := 0
	if len(s.byPrefix) > 0 && i+minSubstringSecret <= len(text) {
		for _, secret := range s.byPrefix[text[i:i+minSubstringSecret]] {
			if len(secret) > best && strings.HasPrefix(text[i:], secret) {
				best = len(secret)
			}
		}
	}
	if best > 0 || !s.hasShort {
		return best
	}
	if i > 0 && wordByte(text[i-1]) && wordByte(text[i]) {
		// Inside a word: no short secret stands alone here.
		return 0
	}
	for n := min(minSubstringSecret-1, len(text)-i); n >= minExactSecret; n-- {
		if i+n < len(text) && wordByte(text[i+n]) && wordByte(text[i+n-1]) {
			continue // would end inside a word
		}
		if _, ok := s.exact[text[i:i+n]]; ok {
			return n
		}
	}
	return 0
}

// wordByte reports whether b belongs to a word or a number: ASCII letters,
// digits, underscore, and every byte of a multi-byte UTF-8 character.
func wordByte(b byte) bool {
	return b == '_' || b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

// canonicalNumber returns the text of a JSON number in one spelling, so the
// same number written two ways (Terraform writes 987654, a Go float64
// formats the same; 1.50 and 1.5) compares equal: a lower-case exponent, no
// trailing zeros after a decimal point, and no "-" on zero.
func canonicalNumber(text string) string {
	t := strings.ToLower(strings.TrimPrefix(text, "+"))
	if !strings.ContainsAny(t, "e") && strings.Contains(t, ".") {
		t = strings.TrimRight(t, "0")
		t = strings.TrimSuffix(t, ".")
	}
	if strings.Trim(t, "-0.") == "" && t != "" {
		return "0"
	}
	return t
}

// significantDigits counts the digits of a number's mantissa without its
// leading zeros: 987654 has 6, 0.05 has 1, 100 has 3.
func significantDigits(text string) int {
	mantissa, _, _ := strings.Cut(text, "e")
	n, leading := 0, true
	for i := 0; i < len(mantissa); i++ {
		c := mantissa[i]
		if c < '0' || c > '9' {
			continue
		}
		if leading && c == '0' {
			continue
		}
		leading = false
		n++
	}
	return n
}

// numberText returns the JSON text of a Go number, the way Terraform writes
// numbers (no exponent), for the numeric types a caller may hand a Masker.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "", false
		}
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// jsonRoundTrip converts any Go value to the shape decodeAny produces
// (map[string]any, []any, string, json.Number, bool, nil).
func jsonRoundTrip(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	out, err := decodeAny(b)
	return out, err == nil
}

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

// SanitizePlanJSON returns the plan JSON (`terraform show -json <planfile>`)
// with every sensitive value replaced by "(sensitive value)": in variables,
// configuration (variable defaults, constant expressions), prior_state,
// planned_values, resource_changes and resource_drift (before and after),
// deferred_changes, output_changes, and anywhere else a sensitive string is
// repeated unmarked (see the comment on SensitiveValue's masking rules).
// Everything else is kept, so the result is still a plan JSON a tool can
// read. Object keys come out sorted; the JSON is compact.
//
// It works in two passes over raw without decoding the whole document:
// the first collects the secrets, the second masks and writes. The large
// sections (resource_changes, resource_drift, deferred_changes, the
// resources of planned_values and prior_state, any other large array or
// object) are decoded one element at a time, so memory beyond raw and the
// result stays proportional to the largest element, not to the plan.
func SanitizePlanJSON(raw []byte) ([]byte, error) {
	out, err := sanitizePlan(raw)
	if err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}
	return out, nil
}

func sanitizePlan(raw []byte) ([]byte, error) {
	p := valueParser{b: raw}
	p.space()
	if p.i < len(raw) && raw[p.i] != '{' {
		if err := p.skip(0); err != nil {
			return nil, err
		}
		return nil, errors.New("not a JSON object; expected the output of `terraform show -json <planfile>`")
	}
	top, err := objectMembers(raw, false)
	if err != nil {
		return nil, err
	}
	sections := map[string][]byte{}
	for _, m := range top {
		sections[m.key] = m.val
	}
	var formatVersion any
	if fv, ok := sections["format_version"]; ok {
		if formatVersion, err = decodeAny(fv); err != nil {
			return nil, err
		}
	}
	if err := checkPlanKeys(formatVersion, func(k string) bool { _, ok := sections[k]; return ok }); err != nil {
		return nil, err
	}

	z := &sanitizer{secrets: newSecretSet()}
	if err := z.collect(sections); err != nil {
		return nil, err
	}

	z.out = bytes.NewBuffer(make([]byte, 0, len(raw)+len(raw)/8))
	z.out.WriteByte('{')
	for i, m := range top {
		if i > 0 {
			z.out.WriteByte(',')
		}
		z.writeKey(m.key)
		if err := z.section(m.key, m.val); err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
	}
	z.out.WriteByte('}')
	return z.out.Bytes(), nil
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

// sanitizer holds one SanitizePlanJSON run.
type sanitizer struct {
	secrets       *secretSet
	sensitiveVars map[string]bool
	out           *bytes.Buffer
	scratch       []byte
}

// collect is the first pass: every value the plan marks sensitive, the
// sensitive variables (and those without a declaration), the sensitive
// defaults of the configuration and the sensitive outputs.
func (z *sanitizer) collect(sections map[string][]byte) error {
	config, err := decodeAny(sections["configuration"])
	if err != nil {
		return err
	}
	z.sensitiveVars = collectConfigSecrets(config, z.secrets)

	if vars, err := decodeAny(sections["variables"]); err != nil {
		return err
	} else if vm, ok := vars.(map[string]any); ok {
		for name, v := range vm {
			if m, ok := v.(map[string]any); ok && z.variableSensitive(name) {
				z.secrets.addMarked(m["value"], true)
			}
		}
	}

	change := func(c any) {
		if cm, ok := c.(map[string]any); ok {
			z.secrets.addMarked(cm["before"], cm["before_sensitive"])
			z.secrets.addMarked(cm["after"], cm["after_sensitive"])
		}
	}
	for _, key := range []string{"resource_changes", "resource_drift", "deferred_changes"} {
		b := sections[key]
		if firstByte(b) != '[' {
			continue
		}
		err := eachElement(b, func(e []byte) error {
			if key == "deferred_changes" {
				e = fields(e, "resource_change")[0]
			}
			f := fields(fields(e, "change")[0], "before", "before_sensitive", "after", "after_sensitive")
			if err := z.collectMarked(f[0], f[1]); err != nil {
				return err
			}
			return z.collectMarked(f[2], f[3])
		})
		if err != nil {
			return err
		}
	}
	if outs, err := decodeAny(sections["output_changes"]); err != nil {
		return err
	} else if om, ok := outs.(map[string]any); ok {
		for _, c := range om {
			change(c)
		}
	}

	if err := z.collectStateValues(sections["planned_values"]); err != nil {
		return err
	}
	if ps := sections["prior_state"]; firstByte(ps) == '{' {
		members, err := objectMembers(ps, true)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.key == "values" {
				if err := z.collectStateValues(m.val); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (z *sanitizer) variableSensitive(name string) bool {
	sensitive, declared := z.sensitiveVars[name]
	return sensitive || !declared
}

// collectMarked adds the leaves of the value v that the mask marks
// sensitive (both as JSON bytes, nil when absent). Most masks mark
// nothing: the value is decoded only when the mask holds a true.
func (z *sanitizer) collectMarked(v, mask []byte) error {
	if !bytes.Contains(mask, []byte("true")) {
		return nil
	}
	val, err := decodeAny(v)
	if err != nil {
		return err
	}
	m, err := decodeAny(mask)
	if err != nil {
		return err
	}
	z.secrets.addMarked(val, m)
	return nil
}

// collectStateValues collects the secrets of a state's values (the
// planned_values section, prior_state's values): sensitive outputs, and the
// values of every module's resources at the paths sensitive_values marks.
func (z *sanitizer) collectStateValues(b []byte) error {
	if firstByte(b) != '{' {
		return nil
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	for _, m := range members {
		switch m.key {
		case "outputs":
			outs, err := decodeAny(m.val)
			if err != nil {
				return err
			}
			if om, ok := outs.(map[string]any); ok {
				for _, o := range om {
					if o, ok := o.(map[string]any); ok {
						if sensitive, _ := o["sensitive"].(bool); sensitive {
							z.secrets.addMarked(o["value"], true)
						}
					}
				}
			}
		case "root_module":
			if err := z.collectModule(m.val, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func (z *sanitizer) collectModule(b []byte, depth int) error {
	if firstByte(b) != '{' || depth > maxJSONDepth {
		return nil
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	for _, m := range members {
		switch m.key {
		case "resources":
			if firstByte(m.val) == '[' {
				err = eachElement(m.val, func(e []byte) error {
					f := fields(e, "values", "sensitive_values")
					return z.collectMarked(f[0], f[1])
				})
			}
		case "child_modules":
			if firstByte(m.val) == '[' {
				err = eachElement(m.val, func(e []byte) error { return z.collectModule(e, depth+1) })
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// The second pass writes every section masked: first by mark, where
// Terraform marks values sensitive, then by value (maskDocument), with the
// same context (inValue, key) maskDocument would have on the whole
// document.

// section writes one top-level section.
func (z *sanitizer) section(key string, b []byte) error {
	markChange := func(c any) {
		if cm, ok := c.(map[string]any); ok {
			cm["before"] = maskMarked(cm["before"], cm["before_sensitive"])
			cm["after"] = maskMarked(cm["after"], cm["after_sensitive"])
		}
	}
	switch key {
	case "variables":
		return z.decoded(b, false, key, func(v any) {
			vm, _ := v.(map[string]any)
			for name, e := range vm {
				if m, ok := e.(map[string]any); ok && z.variableSensitive(name) {
					m["value"] = maskMarked(m["value"], true)
				}
			}
		})
	case "configuration":
		return z.decoded(b, false, key, maskConfigDefaults)
	case "output_changes":
		return z.decoded(b, false, key, func(v any) {
			om, _ := v.(map[string]any)
			for _, c := range om {
				markChange(c)
			}
		})
	case "resource_changes", "resource_drift":
		return z.array(b, false, key, func(e []byte) error {
			return z.decoded(e, false, key, func(v any) {
				rm, _ := v.(map[string]any)
				markChange(rm["change"])
			})
		})
	case "deferred_changes":
		return z.array(b, false, key, func(e []byte) error {
			return z.decoded(e, false, key, func(v any) {
				dm, _ := v.(map[string]any)
				rm, _ := dm["resource_change"].(map[string]any)
				markChange(rm["change"])
			})
		})
	case "planned_values":
		return z.stateValues(b, false, key)
	case "prior_state":
		return z.object(b, false, key, func(k string, v []byte, inValue bool) error {
			if k == "values" {
				return z.stateValues(v, inValue, k)
			}
			return z.generic(v, inValue, k)
		})
	}
	return z.generic(b, valueKeys[key], key)
}

func (z *sanitizer) stateValues(b []byte, inValue bool, key string) error {
	return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error {
		switch k {
		case "outputs":
			return z.decoded(v, inValue, k, func(v any) {
				om, _ := v.(map[string]any)
				for _, o := range om {
					if o, ok := o.(map[string]any); ok {
						if sensitive, _ := o["sensitive"].(bool); sensitive {
							o["value"] = maskMarked(o["value"], true)
						}
					}
				}
			})
		case "root_module":
			return z.module(v, inValue, k)
		}
		return z.generic(v, inValue, k)
	})
}

func (z *sanitizer) module(b []byte, inValue bool, key string) error {
	return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error {
		switch k {
		case "resources":
			return z.array(v, inValue, k, func(e []byte) error {
				return z.decoded(e, inValue, k, func(v any) {
					if rm, ok := v.(map[string]any); ok {
						rm["values"] = maskMarked(rm["values"], rm["sensitive_values"])
					}
				})
			})
		case "child_modules":
			return z.array(v, inValue, k, func(e []byte) error { return z.module(e, inValue, k) })
		}
		return z.generic(v, inValue, k)
	})
}

// streamAbove is the size above which a value other sections hold is
// written member by member, or element by element, rather than decoded
// whole.
const streamAbove = 64 << 10

// generic writes a value masked by value only.
func (z *sanitizer) generic(b []byte, inValue bool, key string) error {
	if len(b) > streamAbove {
		switch firstByte(b) {
		case '{':
			return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error { return z.generic(v, inValue, k) })
		case '[':
			return z.array(b, inValue, key, func(e []byte) error { return z.generic(e, inValue, key) })
		}
	}
	return z.decoded(b, inValue, key, nil)
}

// decoded decodes a value, masks it by mark (mark, if not nil), then by
// value, and writes it.
func (z *sanitizer) decoded(b []byte, inValue bool, key string, mark func(any)) error {
	v, err := decodeAny(b)
	if err != nil {
		return err
	}
	if mark != nil {
		mark(v)
	}
	z.scratch = appendJSON(z.scratch[:0], maskDocument(v, z.secrets, inValue, key))
	z.out.Write(z.scratch)
	return nil
}

// object writes an object member by member, keys sorted, each member's
// value written by each with its maskDocument context. Anything but an
// object is written as generic would. Like maskDocument, it replaces an
// object inside a value whose keys hold a secret whole.
func (z *sanitizer) object(b []byte, inValue bool, key string, each func(k string, v []byte, inValue bool) error) error {
	if firstByte(b) != '{' {
		return z.decoded(b, inValue, key, nil)
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	if inValue && !z.secrets.empty() {
		for _, m := range members {
			if z.secrets.matches(m.key) {
				z.scratch = appendJSON(z.scratch[:0], SensitiveValue)
				z.out.Write(z.scratch)
				return nil
			}
		}
	}
	z.out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			z.out.WriteByte(',')
		}
		z.writeKey(m.key)
		if err := each(m.key, m.val, inValue || valueKeys[m.key]); err != nil {
			return err
		}
	}
	z.out.WriteByte('}')
	return nil
}

// array writes an array element by element with each. Anything but an
// array is written as generic would.
func (z *sanitizer) array(b []byte, inValue bool, key string, each func(e []byte) error) error {
	if firstByte(b) != '[' {
		return z.decoded(b, inValue, key, nil)
	}
	z.out.WriteByte('[')
	n := 0
	err := eachElement(b, func(e []byte) error {
		if n > 0 {
			z.out.WriteByte(',')
		}
		n++
		return each(e)
	})
	z.out.WriteByte(']')
	return err
}

func (z *sanitizer) writeKey(k string) {
	z.scratch = appendJSONString(z.scratch[:0], k)
	z.scratch = append(z.scratch, ':')
	z.out.Write(z.scratch)
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

// collectConfigSecrets walks the configuration section: it adds sensitive
// variables' defaults (root and child modules) to secrets and returns the
// root module's variables with whether each is sensitive.
func collectConfigSecrets(config any, secrets *secretSet) map[string]bool {
	root := map[string]bool{}
	cfg, _ := config.(map[string]any)
	rm, _ := cfg["root_module"].(map[string]any)
	var walk func(mod map[string]any, isRoot bool)
	walk = func(mod map[string]any, isRoot bool) {
		vars, _ := mod["variables"].(map[string]any)
		for name, v := range vars {
			vm, _ := v.(map[string]any)
			sensitive, _ := vm["sensitive"].(bool)
			if isRoot {
				root[name] = sensitive
			}
			if sensitive {
				secrets.addAll(vm["default"])
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			if child, ok := cm["module"].(map[string]any); ok {
				walk(child, false)
			}
		}
	}
	if rm != nil {
		walk(rm, true)
	}
	return root
}

// maskConfigDefaults replaces the defaults of sensitive variables in every
// module of the configuration section.
func maskConfigDefaults(config any) {
	cfg, _ := config.(map[string]any)
	var walk func(mod map[string]any)
	walk = func(mod map[string]any) {
		vars, _ := mod["variables"].(map[string]any)
		for _, v := range vars {
			vm, _ := v.(map[string]any)
			if sensitive, _ := vm["sensitive"].(bool); sensitive {
				if d, ok := vm["default"]; ok && d != nil {
					vm["default"] = SensitiveValue
				}
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			if child, ok := cm["module"].(map[string]any); ok {
				walk(child)
			}
		}
	}
	if rm, ok := cfg["root_module"].(map[string]any); ok {
		walk(rm)
	}
}

// structuralKeys hold names, addresses and enums of the plan format, never
// values: they are not value-masked, so an innocent string that happens to
// equal a secret cannot blank an address or an action.
var structuralKeys = map[string]bool{
	"address": true, "previous_address": true, "module_address": true,
	"mode": true, "type": true, "name": true, "index": true,
	"provider_name": true, "provider_config_key": true,
	"actions": true, "action_reason": true, "reason": true,
	"deposed": true, "deposed_key": true,
	"format_version": true, "terraform_version": true, "timestamp": true,
	"references": true, "source": true, "version_constraint": true,
	"kind": true, "to_display": true, "status": true, "full_name": true,
}

// valueKeys hold values of the infrastructure: below them every string is a
// value and every object key may be one.
var valueKeys = map[string]bool{
	"before": true, "after": true, "values": true, "value": true,
	"default": true, "constant_value": true,
}

// maskDocument value-masks the whole document (rule 2 of SensitiveValue).
func maskDocument(v any, secrets *secretSet, inValue bool, key string) any {
	switch x := v.(type) {
	case string:
		switch {
		case inValue:
			if secrets.matches(x) {
				return SensitiveValue
			}
		case !structuralKeys[key]:
			// Free text, such as a check's message: mask the secrets in it.
			return secrets.maskText(x)
		}
	case json.Number:
		if (inValue || !structuralKeys[key]) && secrets.matchesNumber(string(x)) {
			return SensitiveValue
		}
	case map[string]any:
		if inValue && secrets.objectKeyMatches(x) {
			return SensitiveValue
		}
		for k, e := range x {
			x[k] = maskDocument(e, secrets, inValue || valueKeys[k], k)
		}
	case []any:
		for i, e := range x {
			x[i] = maskDocument(e, secrets, inValue, key)
		}
	}
	return v
}

// Masker masks known secret values in free text and in decoded JSON values,
// by the value rules of the plan (see SensitiveValue): strings of at least
// minExactSecret bytes, numbers of at least minNumberDigits significant
// digits; strings of at least minSubstringSecret bytes are also masked
// inside longer strings. Bools are never added: a bool carries one bit.
//
// Fill a Masker with AddValue before sharing it; once filled, MaskText and
// MaskValue may be called from several goroutines. A nil *Masker masks
// nothing.
type Masker struct{ s *secretSet }

// NewMasker returns a Masker that knows no secrets yet.
func NewMasker() *Masker { return &Masker{s: newSecretSet()} }

// AddValue adds the string and number leaves of v as secrets: v is a
// decoded JSON value (json.Number or float64 numbers), or any Go value
// encoding/json can encode. Map keys are not added (they are names, not
// secrets, far more often than not).
func (m *Masker) AddValue(v any) {
	if m.s == nil {
		m.s = newSecretSet()
	}
	m.s.addAll(v)
}

// MaskText returns s with every occurrence of a known secret replaced by
// "(sensitive value)". Secrets of 8 bytes or more are replaced wherever they
// occur; shorter ones, numbers included, only where they stand alone (not
// inside a longer word or number). A secret is also found in the spelling
// JSON, HCL or Go quoting gives it (with \n, \" and \\ escaped).
func (m *Masker) MaskText(s string) string {
	if m == nil {
		return s
	}
	return m.s.maskText(s)
}

// MaskValue returns a deep copy of v in which every string leaf that equals
// or contains a known secret (containing: secrets of 8 bytes or more), every
// number leaf equal to one, and every object with a key that is one, is
// replaced by "(sensitive value)". v is not modified. A value that is not
// decoded JSON is copied through encoding/json, so the copy has JSON's
// shape (map[string]any, []any, json.Number); one that cannot be encoded
// is replaced whole.
func (m *Masker) MaskValue(v any) any {
	if m == nil {
		return v
	}
	return m.s.maskCopy(v)
}
