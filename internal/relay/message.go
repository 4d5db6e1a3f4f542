package relay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"
)

// message is one JSON-RPC message as the relay routes it: only its id and
// method matter here; the rest passes through untouched.
type message struct {
	raw []byte
	// id is the id in canonical form ("" for none or null), to match a
	// response to its request whatever spelling the server uses.
	id     string
	rawID  json.RawMessage
	method string
}

func parseMessage(b []byte) message {
	m := message{raw: b}
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(b, &env) != nil {
		return m // not an object (a batch, or not JSON): forwarded as it is
	}
	m.method = env.Method
	if id := bytes.TrimSpace(env.ID); len(id) > 0 && string(id) != "null" {
		m.rawID = id
		m.id = canonicalID(id)
	}
	return m
}

func canonicalID(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// request reports whether m expects a response.
func (m message) request() bool { return m.method != "" && m.id != "" }

// response reports whether m answers a request.
func (m message) response() bool { return m.method == "" && m.id != "" }

// errorResponse is the JSON-RPC error answering m.
func errorResponse(m message, p *problem) []byte {
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", m.rawID, rpcError{p.code, p.msg}})
	return b
}

// maxLine bounds one message read from stdin.
const maxLine = 64 << 20

var errLineTooLong = errors.New("a message on stdin is longer than 64 MiB")

// readLines sends each non-empty line of in to lines, and closes lines
// at the end of in. A line longer than maxLine is skipped, with report.
func readLines(in io.Reader, lines chan<- []byte, done <-chan struct{}, report func(error)) error {
	defer close(lines)
	br := bufio.NewReaderSize(in, 64<<10)
	var line []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !skipping {
			line = append(line, chunk...)
			if len(line) > maxLine {
				report(errLineTooLong)
				line, skipping = nil, true
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && !skipping {
			select {
			case lines <- t:
			case <-done:
				return nil
			}
		}
		line, skipping = nil, false
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// lineWriter writes messages to stdout, each on one line, one at a time.
type lineWriter struct {
	mu     sync.Mutex
	w      *bufio.Writer
	err    error
	onFail func(error)
}

func (l *lineWriter) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.w.Write(b)
	l.w.WriteByte('\n')
	if err := l.w.Flush(); err != nil {
		l.err = err
		l.onFail(err)
	}
}
