package server

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// cancelFilter sits on the stdio streams. When the client cancels a request
// (notifications/cancelled), MCP says the server should not answer it, and
// the client forgets its id and progress token; mcp-go answers anyway. The
// filter drops, on the way out, the response to a cancelled request and
// progress notifications for its token. Everything else passes unchanged.
type cancelFilter struct {
	mu        sync.Mutex
	cancelled map[string]bool   // request ids, as raw JSON
	tokens    map[string]string // progress token -> request id, as raw JSON
}

// maxTracked bounds the filter's memory whatever the client sends.
const maxTracked = 10000

func newCancelFilter() *cancelFilter {
	return &cancelFilter{cancelled: map[string]bool{}, tokens: map[string]string{}}
}

type inMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		RequestID     json.RawMessage `json:"requestId"`
		ProgressToken json.RawMessage `json:"progressToken"`
		Meta          struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	} `json:"params"`
}

func key(raw json.RawMessage) string { return string(bytes.TrimSpace(raw)) }

// observe notes cancellations and progress tokens in a line from the client.
func (f *cancelFilter) observe(line []byte) {
	if !bytes.Contains(line, []byte("cancelled")) && !bytes.Contains(line, []byte("progressToken")) {
		return
	}
	var m inMessage
	if json.Unmarshal(line, &m) != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cancelled) > maxTracked || len(f.tokens) > maxTracked {
		f.cancelled, f.tokens = map[string]bool{}, map[string]string{}
	}
	switch {
	case m.Method == "notifications/cancelled" && len(m.Params.RequestID) > 0:
		f.cancelled[key(m.Params.RequestID)] = true
	case m.Method != "" && len(m.ID) > 0 && len(m.Params.Meta.ProgressToken) > 0:
		f.tokens[key(m.Params.Meta.ProgressToken)] = key(m.ID)
	}
}

// drop reports whether a line to the client must not be sent.
func (f *cancelFilter) drop(line []byte) bool {
	f.mu.Lock()
	empty := len(f.cancelled) == 0
	f.mu.Unlock()
	if empty {
		return false
	}
	var m inMessage
	if json.Unmarshal(line, &m) != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case m.Method == "" && len(m.ID) > 0 && f.cancelled[key(m.ID)]:
		delete(f.cancelled, key(m.ID))
		for t, id := range f.tokens {
			if id == key(m.ID) {
				delete(f.tokens, t)
			}
		}
		return true
	case m.Method == "notifications/progress":
		id, ok := f.tokens[key(m.Params.ProgressToken)]
		return ok && f.cancelled[id]
	}
	return false
}

// Reader passes the client's bytes through, observing each line.
func (f *cancelFilter) Reader(r io.Reader) io.Reader { return &observingReader{r: r, f: f} }

type observingReader struct {
	r       io.Reader
	f       *cancelFilter
	pending []byte
}

// maxLine is the longest line the filter looks into; longer lines pass
// through unobserved (they are not cancellations).
const maxLine = 1 << 20

func (o *observingReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	data := p[:n]
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(o.pending)+len(data) <= maxLine {
				o.pending = append(o.pending, data...)
			} else {
				o.pending = o.pending[:0]
			}
			break
		}
		if o.pending != nil && len(o.pending)+i <= maxLine {
			o.pending = append(o.pending, data[:i]...)
			o.f.observe(o.pending)
		} else if len(o.pending) == 0 {
			o.f.observe(data[:i])
		}
		o.pending = o.pending[:0]
		data = data[i+1:]
	}
	return n, err
}

// Writer passes the server's lines to w, dropping those for cancelled requests.
func (f *cancelFilter) Writer(w io.Writer) io.Writer { return &filteringWriter{w: w, f: f} }

type filteringWriter struct {
	mu      sync.Mutex
	w       io.Writer
	f       *cancelFilter
	pending []byte
}

func (fw *filteringWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.pending = append(fw.pending, p...)
	for {
		i := bytes.IndexByte(fw.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := fw.pending[:i+1]
		if !fw.f.drop(line[:i]) {
			if _, err := fw.w.Write(line); err != nil {
				fw.pending = fw.pending[i+1:]
				return len(p), err
			}
		}
		fw.pending = fw.pending[i+1:]
	}
}
