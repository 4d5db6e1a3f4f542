package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// lenient makes jsontext accept exactly what encoding/json accepts:
// duplicate object names (the last one wins, as when decoding into a map)
// and invalid UTF-8 (read as U+FFFD). Every reader of plangate's uses it
// (jsontext's check for unique names costs a third of a plan's reading);
// where a repeated name could make a member count twice, the plan reader
// refuses it itself (objectOnce).
var lenient = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// jsonReader is plangate's one reader of JSON: jsontext's tokenizer over
// bytes held in memory. The values it returns are spans of those bytes,
// never copies, valid as long as the bytes are (jsontext reads a
// *bytes.Buffer in place and never writes to it).
type jsonReader struct {
	d    *jsontext.Decoder
	buf  *bytes.Buffer
	src  []byte
	opts []jsontext.Options
	// pool, when set, gives value the maps it builds (see mapPool).
	pool *mapPool
}

// mapPool lends the maps of decoded values to a reader whose values die
// together (the renderer's, one change at a time), so that they are made
// once and reused rather than made for every change.
type mapPool struct {
	lent, free []map[string]any
}

func (p *mapPool) get() map[string]any {
	var m map[string]any
	if n := len(p.free); n > 0 {
		m, p.free = p.free[n-1], p.free[:n-1]
	} else {
		m = map[string]any{}
	}
	p.lent = append(p.lent, m)
	return m
}

// recycle takes back every map lent: none of them may be used after.
func (p *mapPool) recycle() {
	for _, m := range p.lent {
		clear(m)
		p.free = append(p.free, m)
	}
	p.lent = p.lent[:0]
}

// newJSONReader reads b with jsontext's options (none: strictly).
func newJSONReader(b []byte, opts ...jsontext.Options) *jsonReader {
	r := &jsonReader{buf: bytes.NewBuffer(b), src: b, opts: opts}
	r.d = jsontext.NewDecoder(r.buf, opts...)
	return r
}

// reset makes r read b from its start, reusing r's buffers.
func (r *jsonReader) reset(b []byte) {
	*r.buf = *bytes.NewBuffer(b)
	r.src = b
	r.d.Reset(r.buf, r.opts...)
}

// buf0 is the input.
func (r *jsonReader) buf0() []byte { return r.src }

// offset is the position in the input after the last value read.
func (r *jsonReader) offset() int64 { return r.d.InputOffset() }

// jsonError turns jsontext's error into one that says what is wrong in
// plain words.
func jsonError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.ByteOffset, strings.TrimPrefix(se.Err.Error(), "jsontext: "))
	}
	return err
}

// fail reads the next token to report why the input is not what was
// expected there: the syntax error, if there is one, else what was found.
func (r *jsonReader) fail(want string) error {
	k := r.d.PeekKind()
	if _, err := r.d.ReadValue(); err != nil {
		return jsonError(err)
	}
	return fmt.Errorf("invalid JSON at byte %d: expected %s, found %s", r.offset(), want, kindName(k))
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "no value"
}

// null consumes a null and reports true, or reports false and consumes
// nothing.
func (r *jsonReader) null() (bool, error) {
	if r.d.PeekKind() != 'n' {
		return false, nil
	}
	_, err := r.d.ReadValue()
	return true, jsonError(err)
}

// object calls each with the name of every member of an object (null is
// an empty one); each must read exactly the member's value. The name is
// unquoted, and a span of the input where it holds no escape.
func (r *jsonReader) object(each func(name []byte) error) error {
	return r.container('{', '}', "an object", func() error {
		raw, err := r.d.ReadValue()
		if err != nil {
			return jsonError(err)
		}
		return each(unquote(raw))
	})
}

// container reads an object or an array (null is an empty one), calling
// item until its closing delimiter; what names it in an error.
func (r *jsonReader) container(open, closing jsontext.Kind, what string, item func() error) error {
	if null, err := r.null(); null || err != nil {
		return err
	}
	if r.d.PeekKind() != open {
		return r.fail(what)
	}
	if _, err := r.d.ReadToken(); err != nil {
		return jsonError(err)
	}
	for r.d.PeekKind() != closing {
		if err := item(); err != nil {
			return err
		}
	}
	_, err := r.d.ReadToken()
	return jsonError(err)
}

// objectOnce is object for the members whose every occurrence the caller
// acts on (sections, modules, outputs): a name that repeats is refused,
// so that no member can be counted twice or read two ways.
func (r *jsonReader) objectOnce(each func(name []byte) error) error {
	var seen []string
	return r.object(func(name []byte) error {
		for _, s := range seen {
			if s == string(name) {
				return fmt.Errorf("invalid JSON at byte %d: the member %q appears twice", r.offset(), s)
			}
		}
		seen = append(seen, string(name))
		return each(name)
	})
}

// array calls each for every element of an array (null is an empty one);
// each must read exactly one value.
func (r *jsonReader) array(each func() error) error {
	return r.container('[', ']', "an array", each)
}

// raw reads the next value and returns its bytes.
func (r *jsonReader) raw() ([]byte, error) {
	v, err := r.d.ReadValue()
	return v, jsonError(err)
}

// skip reads past the next value, validating it.
func (r *jsonReader) skip() error { return jsonError(r.d.SkipValue()) }

// str reads a string (null reads as "").
func (r *jsonReader) str() (string, error) {
	switch r.d.PeekKind() {
	case 'n':
		_, err := r.d.ReadValue()
		return "", jsonError(err)
	case '"':
		v, err := r.d.ReadValue()
		if err != nil {
			return "", jsonError(err)
		}
		return string(unquote(v)), nil
	}
	return "", r.fail("a string")
}

// strs reads an array of strings (null reads as nil).
func (r *jsonReader) strs() ([]string, error) {
	var out []string
	err := r.array(func() error {
		s, err := r.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// boolean reads true or false.
func (r *jsonReader) boolean() (bool, error) {
	switch r.d.PeekKind() {
	case 't', 'f':
		v, err := r.d.ReadValue()
		return len(v) > 0 && v[0] == 't', jsonError(err)
	}
	return false, r.fail("a bool")
}

// end checks that nothing but white space follows.
func (r *jsonReader) end(what string) error {
	if _, err := r.d.ReadToken(); err != io.EOF {
		return fmt.Errorf("unexpected data after %s", what)
	}
	return nil
}

// unquote returns the content of a JSON string as its bytes: a span of
// raw when it holds no escape, else a copy with the escapes decoded (and
// invalid UTF-8 as U+FFFD, as encoding/json reads it). raw must be a
// string jsontext has read.
func unquote(raw []byte) []byte {
	if isPlain(raw) {
		return raw[1 : len(raw)-1]
	}
	out, _ := jsontext.AppendUnquote(nil, raw) // errors only for what lenient allows
	return out
}

// isPlain reports whether a JSON string's text holds no escape and only
// ASCII: its content is the text between the quotes, and it is written
// the same way again.
func isPlain(raw []byte) bool { return bytes.IndexByte(raw, '\\') < 0 && isASCII(raw) }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// value decodes the next value as encoding/json with UseNumber would:
// map[string]any, []any, string, json.Number, bool or nil. It talks to
// the decoder directly: the renderer decodes every change's values with it.
func (r *jsonReader) value() (any, error) {
	d := r.d
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return nil, jsonError(err)
		}
		var m map[string]any
		if r.pool != nil {
			m = r.pool.get()
		} else {
			m = map[string]any{}
		}
		for d.PeekKind() != '}' {
			name, err := d.ReadValue()
			if err != nil {
				return nil, jsonError(err)
			}
			key := spanString(unquote(name))
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		_, err := d.ReadToken()
		return m, jsonError(err)
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, jsonError(err)
		}
		l := []any{}
		for d.PeekKind() != ']' {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := d.ReadToken()
		return l, jsonError(err)
	}
	raw, err := d.ReadValue()
	if err != nil {
		return nil, jsonError(err)
	}
	switch raw[0] {
	case '"':
		return spanString(unquote(raw)), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return json.Number(spanString(raw)), nil
}

// spanString is b as a string without a copy: b is a span of the input,
// which never changes while it is read (or a fresh unquoted copy), so the
// string may share its memory. What outlives the input (secrets) is cloned
// by its keeper.
func spanString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// valueReaders are lenient readers for decodeAny, reused: a jsontext
// Decoder is worth keeping.
var valueReaders = sync.Pool{New: func() any { return newJSONReader(nil, lenient...) }}

// decodeAny decodes one JSON value as encoding/json with UseNumber does,
// refusing what it refuses. An empty input is nil (absent), like JSON
// null. The strings of the value share raw's memory: raw must not change
// afterwards. The renderer decodes every change's values with it.
func decodeAny(raw []byte) (any, error) {
	switch string(raw) {
	case "", "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "{}":
		return map[string]any{}, nil
	}
	r := valueReaders.Get().(*jsonReader)
	defer func() { r.reset(nil); valueReaders.Put(r) }()
	return r.decode(raw)
}

// decode is decodeAny with r.
func (r *jsonReader) decode(raw []byte) (any, error) {
	switch string(raw) {
	case "", "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	r.reset(raw)
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if err := r.end("the JSON value"); err != nil {
		return nil, err
	}
	return v, nil
}

// jtree is one JSON value read into nodes whose text are spans of the
// input: the sanitizer's view of one element of a plan, read once.
type jtree struct {
	nodes   []jnode
	scratch []int32 // member lists being written, stacked
}

// jnode is one value of a jtree.
type jnode struct {
	raw  []byte // the value's JSON text (a container's whole text)
	name []byte // for a member of an object: its name, unquoted
	kind jsontext.Kind
	// first is the first child of a container, next the next sibling;
	// -1 for none.
	first, next int32
}

func (t *jtree) reset() { t.nodes = t.nodes[:0] }

// build reads the next value of r into the tree and returns its index.
func (t *jtree) build(r *jsonReader) (int32, error) {
	kind := r.d.PeekKind()
	if kind != '{' && kind != '[' {
		raw, err := r.raw()
		if err != nil {
			return -1, err
		}
		t.nodes = append(t.nodes, jnode{raw: raw, kind: kind, first: -1, next: -1})
		return int32(len(t.nodes) - 1), nil
	}
	if _, err := r.d.ReadToken(); err != nil {
		return -1, jsonError(err)
	}
	start := r.offset() - 1
	idx := int32(len(t.nodes))
	t.nodes = append(t.nodes, jnode{kind: kind, first: -1, next: -1})
	last := int32(-1)
	closing := jsontext.Kind('}')
	if kind == '[' {
		closing = ']'
	}
	for r.d.PeekKind() != closing {
		var name []byte
		if kind == '{' {
			raw, err := r.d.ReadValue()
			if err != nil {
				return -1, jsonError(err)
			}
			name = unquote(raw)
		}
		child, err := t.build(r)
		if err != nil {
			return -1, err
		}
		t.nodes[child].name = name
		if last < 0 {
			t.nodes[idx].first = child
		} else {
			t.nodes[last].next = child
		}
		last = child
	}
	if _, err := r.d.ReadToken(); err != nil {
		return -1, jsonError(err)
	}
	t.nodes[idx].raw = r.buf0()[start:r.offset()]
	return idx, nil
}

// members appends to dst the members of object i sorted by name, keeping
// the last of any name that repeats (as decoding into a map does).
func (t *jtree) members(i int32, dst []int32) []int32 {
	start := len(dst)
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		dst = append(dst, c)
	}
	m := dst[start:]
	slices.SortStableFunc(m, func(x, y int32) int { return bytes.Compare(t.nodes[x].name, t.nodes[y].name) })
	out := m[:0]
	for k := range m {
		if k+1 < len(m) && bytes.Equal(t.nodes[m[k+1]].name, t.nodes[m[k]].name) {
			continue
		}
		out = append(out, m[k])
	}
	return dst[:start+len(out)]
}

// member returns the JSON text of the last member of object i called
// name, or nil.
func (t *jtree) member(i int32, name string) []byte {
	var v []byte
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if string(t.nodes[c].name) == name {
			v = t.nodes[c].raw
		}
	}
	return v
}
