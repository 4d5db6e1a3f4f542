package relay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
)

// maxEvent bounds one SSE event: a tool result with a long diff is large,
// but a server that never ends an event must not exhaust memory.
const maxEvent = 64 << 20

var errEventTooLarge = errors.New("server sent an SSE event larger than 64 MiB")

// event is one dispatched server-sent event.
type event struct {
	Data []byte
	// ID is the stream's last event ID after this event ("" if none).
	ID string
	// Retry is the reconnection delay the server asked for (0: none).
	Retry time.Duration
}

// sseReader reads a text/event-stream as the HTML standard's event
// stream interpretation does (lines ended by LF or CRLF).
type sseReader struct {
	r      *bufio.Reader
	lastID string
	retry  time.Duration
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next event that carries data. io.EOF means the stream
// ended; an event cut off by the end is not dispatched.
func (s *sseReader) Next() (event, error) {
	var data []byte
	hasData := false
	for {
		line, err := s.line(len(data))
		if err != nil {
			return event{}, err
		}
		if len(line) == 0 {
			if !hasData {
				continue
			}
			return event{Data: bytes.TrimSuffix(data, []byte("\n")), ID: s.lastID, Retry: s.retry}, nil
		}
		if line[0] == ':' {
			continue // comment, such as a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			data = append(append(data, value...), '\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// line reads one line without its ending; buffered is what the event
// holds already, which counts against maxEvent.
func (s *sseReader) line(buffered int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(line)+len(chunk)+buffered > maxEvent {
			return nil, errEventTooLarge
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}
