package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonStream reads one JSON document from a reader piece by piece: the
// members of objects and the elements of arrays one at a time, each value
// either captured as raw bytes (for json.Unmarshal) or skipped without
// being kept. Skipped values are validated all the same, so malformed JSON
// is an error wherever it is. It exists because encoding/json's
// Decoder.Token, the standard way to walk a document without holding it,
// costs an allocation and an error value per token: on a plan of 10,000
// changes that was most of the analysis time.
type jsonStream struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64 // offset in the input of buf[0]
	err      error // the reader's error, once it returned one (io.EOF at the end)
	depth    int

	capturing bool
	capFrom   int    // start of the capture in buf
	captured  []byte // captured bytes that were in earlier buffers
}

// maxJSONDepth bounds the nesting the stream accepts, as encoding/json does.
const maxJSONDepth = 10000

func newJSONStream(r io.Reader) *jsonStream {
	return &jsonStream{r: r, buf: make([]byte, 64<<10)}
}

// fill makes at least one unread byte available, or reports false at the
// end of the input (s.err says why).
func (s *jsonStream) fill() bool {
	if s.pos < s.end {
		return true
	}
	if s.err != nil {
		return false
	}
	if s.capturing {
		s.captured = append(s.captured, s.buf[s.capFrom:s.end]...)
		s.capFrom = 0
	}
	s.off += int64(s.end)
	s.pos, s.end = 0, 0
	for s.end == 0 && s.err == nil {
		var n int
		n, s.err = s.r.Read(s.buf)
		s.end = n
	}
	return s.end > 0
}

func (s *jsonStream) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.off+int64(s.pos), fmt.Sprintf(format, args...))
}

// unexpectedEnd is the error for input that ends inside a value.
func (s *jsonStream) unexpectedEnd() error {
	if s.err != nil && !errors.Is(s.err, io.EOF) {
		return s.err
	}
	return fmt.Errorf("invalid JSON: unexpected end of input at byte %d", s.off+int64(s.pos))
}

// peek skips white space and returns the next byte without consuming it.
func (s *jsonStream) peek() (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.unexpectedEnd()
		}
	}
}

// atEnd reports whether only white space is left.
func (s *jsonStream) atEnd() (bool, error) {
	_, err := s.peek()
	if err == nil {
		return false, nil
	}
	if s.err != nil && !errors.Is(s.err, io.EOF) {
		return false, s.err
	}
	return true, nil
}

// expect consumes the next non-space byte, which must be c.
func (s *jsonStream) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("expected %q, found %q", c, got)
	}
	s.pos++
	return nil
}

// raw returns the next value's bytes. They are valid until the next call.
func (s *jsonStream) raw() ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	s.capturing, s.capFrom, s.captured = true, s.pos, s.captured[:0]
	err := s.scanValue()
	s.capturing = false
	if err != nil {
		return nil, err
	}
	if len(s.captured) == 0 {
		return s.buf[s.capFrom:s.pos], nil
	}
	s.captured = append(s.captured, s.buf[s.capFrom:s.pos]...)
	return s.captured, nil
}

// decode unmarshals the next value into v.
func (s *jsonStream) decode(v any) error {
	b, err := s.raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// skip reads past the next value, validating it, without keeping it.
func (s *jsonStream) skip() error {
	if _, err := s.peek(); err != nil {
		return err
	}
	return s.scanValue()
}

// isNull consumes a null and reports true, or reports false and consumes
// nothing.
func (s *jsonStream) isNull() (bool, error) {
	c, err := s.peek()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, s.literal("null")
}

// array calls each for every element of an array (null is an empty one);
// each must consume exactly one value.
func (s *jsonStream) array(each func() error) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	if c, err := s.peek(); err != nil {
		return err
	} else if c != '[' {
		return s.errorf("expected an array, found %q", c)
	}
	s.pos++
	return s.elements(']', each)
}

// object calls each for every member of an object (null is an empty one)
// with the member's key; each must consume exactly the member's value.
func (s *jsonStream) object(each func(key string) error) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	if c, err := s.peek(); err != nil {
		return err
	} else if c != '{' {
		return s.errorf("expected an object, found %q", c)
	}
	s.pos++
	return s.elements('}', func() error {
		key, err := s.key()
		if err != nil {
			return err
		}
		return each(key)
	})
}

// elements reads comma-separated items up to the closing byte; the
// opening one is consumed.
func (s *jsonStream) elements(closing byte, item func() error) error {
	s.depth++
	if s.depth > maxJSONDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == closing {
		s.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case closing:
			return nil
		default:
			s.pos--
			return s.errorf("expected ',' or %q, found %q", closing, c)
		}
	}
}

// key reads an object member's key and the colon after it.
func (s *jsonStream) key() (string, error) {
	c, err := s.peek()
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", s.errorf("expected a string key, found %q", c)
	}
	b, err := s.raw()
	if err != nil {
		return "", err
	}
	var key string
	if bytes.IndexByte(b, '\\') < 0 {
		key = string(b[1 : len(b)-1])
	} else if err := json.Unmarshal(b, &key); err != nil {
		return "", err
	}
	return key, s.expect(':')
}

// scanValue reads one value starting at the next byte, which is not space.
func (s *jsonStream) scanValue() error {
	switch c := s.buf[s.pos]; {
	case c == '{':
		s.pos++
		return s.elements('}', func() error {
			c, err := s.peek()
			if err != nil {
				return err
			}
			if c != '"' {
				return s.errorf("expected a string key, found %q", c)
			}
			if err := s.scanString(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if _, err := s.peek(); err != nil {
				return err
			}
			return s.scanValue()
		})
	case c == '[':
		s.pos++
		return s.elements(']', func() error {
			if _, err := s.peek(); err != nil {
				return err
			}
			return s.scanValue()
		})
	case c == '"':
		return s.scanString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.scanNumber()
	default:
		return s.errorf("unexpected %q", c)
	}
}

// next returns the next byte, white space included, without consuming it.
func (s *jsonStream) next() (byte, bool) {
	if s.pos < s.end || s.fill() {
		return s.buf[s.pos], true
	}
	return 0, false
}

func (s *jsonStream) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := s.next()
		if !ok {
			return s.unexpectedEnd()
		}
		if c != word[i] {
			return s.errorf("invalid literal (expected %s)", word)
		}
		s.pos++
	}
	return nil
}

func (s *jsonStream) scanString() error {
	s.pos++ // the opening quote
	for {
		// The common case: a run of plain bytes in the buffer.
		i := s.pos
		for i < s.end {
			c := s.buf[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		s.pos = i
		c, ok := s.next()
		if !ok {
			return s.unexpectedEnd()
		}
		switch {
		case c == '"':
			s.pos++
			return nil
		case c < 0x20:
			return s.errorf("control character %q in a string", c)
		case c == '\\':
			s.pos++
			e, ok := s.next()
			if !ok {
				return s.unexpectedEnd()
			}
			s.pos++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					h, ok := s.next()
					if !ok {
						return s.unexpectedEnd()
					}
					if !isHex(h) {
						return s.errorf("invalid \\u escape")
					}
					s.pos++
				}
			default:
				return s.errorf("invalid escape %q", e)
			}
		}
	}
}

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

// scanNumber reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonStream) scanNumber() error {
	digits := func() (int, error) {
		n := 0
		for {
			c, ok := s.next()
			if !ok || !isDigit(c) {
				if !ok && s.err != nil && !errors.Is(s.err, io.EOF) {
					return n, s.err
				}
				return n, nil
			}
			s.pos++
			n++
		}
	}
	if c, _ := s.next(); c == '-' {
		s.pos++
	}
	c, ok := s.next()
	switch {
	case !ok:
		return s.unexpectedEnd()
	case c == '0':
		s.pos++
	case isDigit(c):
		if _, err := digits(); err != nil {
			return err
		}
	default:
		return s.errorf("invalid number")
	}
	if c, ok := s.next(); ok && c == '.' {
		s.pos++
		if n, err := digits(); err != nil || n == 0 {
			return cmpErr(err, s.errorf("invalid number: no digits after the decimal point"))
		}
	}
	if c, ok := s.next(); ok && (c == 'e' || c == 'E') {
		s.pos++
		if c, ok := s.next(); ok && (c == '+' || c == '-') {
			s.pos++
		}
		if n, err := digits(); err != nil || n == 0 {
			return cmpErr(err, s.errorf("invalid number: no digits in the exponent"))
		}
	}
	return nil
}

// cmpErr returns err if it is set, else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// str reads a string (null reads as "").
func (s *jsonStream) str() (string, error) {
	c, err := s.peek()
	if err != nil {
		return "", err
	}
	switch c {
	case 'n':
		return "", s.literal("null")
	case '"':
	default:
		return "", s.errorf("expected a string, found %q", c)
	}
	b, err := s.raw()
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var out string
	err = json.Unmarshal(b, &out)
	return out, err
}

// rawCopy reads the next value and returns a copy of its bytes.
func (s *jsonStream) rawCopy() (json.RawMessage, error) {
	b, err := s.raw()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// strs reads an array of strings (null reads as nil).
func (s *jsonStream) strs() ([]string, error) {
	var out []string
	err := s.array(func() error {
		v, err := s.str()
		out = append(out, v)
		return err
	})
	return out, err
}

// decodeResourceChange reads one entry of resource_changes, resource_drift
// or a deferred change's resource_change in one pass over its bytes (the
// same fields json.Unmarshal would fill, at a third of the cost).
func (s *jsonStream) decodeResourceChange(c *resourceChange) error {
	return s.object(func(key string) error {
		var err error
		switch key {
		case "address":
			c.Address, err = s.str()
		case "previous_address":
			c.PreviousAddress, err = s.str()
		case "module_address":
			c.ModuleAddress, err = s.str()
		case "mode":
			c.Mode, err = s.str()
		case "type":
			c.Type, err = s.str()
		case "name":
			c.Name, err = s.str()
		case "index":
			c.Index, err = s.rawCopy()
		case "deposed":
			c.Deposed, err = s.str()
		case "action_reason":
			c.ActionReason, err = s.str()
		case "change":
			err = s.decodeChange(&c.Change)
		default:
			err = s.skip()
		}
		return err
	})
}

// decodeChange reads a change object (of a resource or an output).
func (s *jsonStream) decodeChange(c *changeJSON) error {
	return s.object(func(key string) error {
		var err error
		switch key {
		case "actions":
			c.Actions, err = s.strs()
		case "before":
			c.Before, err = s.rawCopy()
		case "after":
			c.After, err = s.rawCopy()
		case "after_unknown":
			c.AfterUnknown, err = s.rawCopy()
		case "before_sensitive":
			c.BeforeSensitive, err = s.rawCopy()
		case "after_sensitive":
			c.AfterSensitive, err = s.rawCopy()
		case "replace_paths":
			c.ReplacePaths, err = s.rawCopy()
		case "importing":
			if null, nerr := s.isNull(); null || nerr != nil {
				c.Importing = nil
				return nerr
			}
			c.Importing = &struct {
				ID string `json:"id"`
			}{}
			err = s.object(func(key string) error {
				if key == "id" {
					var err error
					c.Importing.ID, err = s.str()
					return err
				}
				return s.skip()
			})
		case "generated_config":
			c.GeneratedConfig, err = s.str()
		default:
			err = s.skip()
		}
		return err
	})
}
