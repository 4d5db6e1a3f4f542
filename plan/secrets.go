package plan

import (
	"encoding/json"
	"math"
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
	// long lists the long secrets: a string holds one only if
	// strings.Contains finds it, which is how a whole string is checked
	// while there are few.
	long []string
	// hasShort is set when a secret is shorter than minSubstringSecret.
	hasShort bool
	// numbers counts the secrets that spell a number: none, and no number
	// of the plan needs checking.
	numbers int
}

// fewLong is how many long secrets matches checks one by one.
const fewLong = 64

func newSecretSet() *secretSet {
	s := &secretSet{exact: map[string]struct{}{}, byPrefix: map[string][]string{}}
	seedEnvSecrets(s)
	return s
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
	str = strings.Clone(str) // it may share the plan's memory, which the set outlives
	s.exact[str] = struct{}{}
	if len(str) >= minSubstringSecret {
		p := str[:minSubstringSecret]
		s.byPrefix[p] = append(s.byPrefix[p], str)
		s.long = append(s.long, str)
	} else {
		s.hasShort = true
	}
	if canonicalNumber(str) == str && numberSpelling(str) {
		s.numbers++
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
	c.long = append([]string(nil), s.long...)
	c.hasShort, c.numbers = s.hasShort, s.numbers
	return c
}

// matchesNumber reports whether the number with JSON text n equals a
// sensitive number (or a sensitive string spelling it) and has enough
// significant digits to be masked.
func (s *secretSet) matchesNumber(n string) bool {
	if s.empty() || s.numbers == 0 {
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
	if !s.hasShort && len(s.long) <= fewLong {
		for _, secret := range s.long {
			if strings.Contains(str, secret) {
				return true
			}
		}
		return false
	}
	for i := 0; i+minExactSecret <= len(str); i++ {
		if s.secretAt(str, i) > 0 {
			return true
		}
	}
	return false
}

// numberSpelling reports whether s is written as a JSON number is (a
// canonical one: see canonicalNumber).
func numberSpelling(s string) bool {
	if s == "" {
		return false
	}
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '-' || c == '+' || c == '.' || c == 'e':
		default:
			return false
		}
	}
	return digits
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
	if !s.matches(text) {
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
