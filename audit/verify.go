package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/plangate/plangate/internal/flock"
	"github.com/plangate/plangate/internal/linehash"
)

// Read calls fn for each line in order, with its 1-based line number, the
// decoded event and the line's raw bytes (without the newline; fn may keep
// them). It does not check the chain — Verify does — but stops with a
// *BrokenError at a line that is not an event or is incomplete. A missing
// log has no lines.
func (l *Log) Read(fn func(line int, e Event, raw []byte) error) error {
	return l.ReadAfter(0, fn)
}

// ReadAfter is Read from line after+1 on: the lines before it are read
// past without being decoded (a page of the log, for plangate audit
// --server).
func (l *Log) ReadAfter(after int, fn func(line int, e Event, raw []byte) error) error {
	return l.scan(func(n int, raw []byte, complete bool) error {
		if n <= after {
			return nil
		}
		if !complete {
			return &BrokenError{Line: n, Reason: incompleteReason}
		}
		var e Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return &BrokenError{Line: n, Reason: "not a valid event: " + err.Error()}
		}
		return fn(n, e, raw)
	}, nil)
}

const incompleteReason = "incomplete: the line has no trailing newline (a write was cut short or the log was truncated)"

// Verify checks the whole chain and returns the number of lines verified.
// A line is valid when it is an event, its seq is its line number, its
// prev_sha256 is the SHA-256 of the previous line (ZeroHash on line 1) and
// its line_sha256, if it has one (lines from before plangate wrote it are
// instead exactly what plangate writes for the event they decode to),
// matches its own bytes. On failure the error is a *BrokenError naming the
// first broken line. An empty or missing log verifies with 0 lines.
//
// Then the newest lines must agree with the head file, which a non-empty
// log must have: the log must hold the line it records, unchanged, and at
// most one line more (an Append cut short between the line and its head).
// A missing head is ErrHeadMissing, a disagreeing one ErrHeadMismatch
// (errors.Is works on the *BrokenError); Reseal is the way out of both.
func (l *Log) Verify() (int, error) {
	c := newChainCheck()
	var (
		h    head
		ok   bool
		herr error
	)
	err := l.scan(c.line, func() { h, ok, herr = l.readHead() })
	if err != nil {
		return c.verified, err
	}
	if _, serr := os.Stat(l.path); errors.Is(serr, os.ErrNotExist) {
		h, ok, herr = l.readHead() // a missing log: its head may say it had lines
		if _, serr := os.Stat(l.path); serr == nil {
			return c.verified, nil // a first Append came in between: nothing was missing
		}
	}
	return c.end(h, ok, herr)
}

// chainCheck checks lines one after the other, as Verify and Reseal read
// them.
type chainCheck struct {
	prevHash string
	verified int
	sealed   bool
	hashes   map[int64]string // the last two lines' hashes, for the head
}

func newChainCheck() *chainCheck {
	return &chainCheck{prevHash: ZeroHash, hashes: map[int64]string{}}
}

// line checks line n, raw without its newline.
func (c *chainCheck) line(n int, raw []byte, complete bool) error {
	if !complete {
		return &BrokenError{Line: n, Reason: incompleteReason}
	}
	e, reason := decodeLine(raw)
	switch {
	case reason != "":
		return &BrokenError{Line: n, Reason: reason}
	case e.Seq != int64(n):
		return &BrokenError{Line: n, Reason: fmt.Sprintf("seq is %d, expected %d — lines were removed, inserted or reordered", e.Seq, n)}
	case e.Prev != c.prevHash && n == 1:
		return &BrokenError{Line: n, Reason: "prev_sha256 of the first line is not 64 zeros — lines were removed from the start of the log"}
	case e.Prev != c.prevHash:
		return &BrokenError{Line: n, Reason: fmt.Sprintf("prev_sha256 does not match line %d — the log was edited or lines were removed", n-1)}
	case e.LineSHA256 == "" && c.sealed:
		return &BrokenError{Line: n, Reason: "line_sha256 is missing — the line was edited"}
	}
	if reason := sealReason(raw, e); reason != "" {
		return &BrokenError{Line: n, Reason: reason}
	}
	c.sealed = c.sealed || e.LineSHA256 != ""
	c.prevHash = hashLine(raw)
	delete(c.hashes, int64(n-2))
	c.hashes[int64(n)] = c.prevHash
	c.verified = n
	return nil
}

// end checks the head file (h, if ok; herr if it could not be read)
// against the lines checked, and returns how many lines stand verified.
func (c *chainCheck) end(h head, ok bool, herr error) (int, error) {
	verified := c.verified
	switch {
	case herr != nil:
		return verified, &BrokenError{Line: verified + 1, Reason: herr.Error(), Err: ErrHeadMismatch}
	case !ok && verified == 0:
		return 0, nil // a new log: nothing to vouch for yet
	case !ok:
		return verified, &BrokenError{Line: verified + 1, Err: ErrHeadMissing,
			Reason: fmt.Sprintf("%s is missing, so lines removed from the end of the log would not show — %s", HeadFileName, resealAdvice)}
	case h.Seq > int64(verified):
		return verified, &BrokenError{Line: verified + 1, Err: ErrHeadMismatch,
			Reason: fmt.Sprintf("missing: %s records %d lines, the log ends at line %d — lines were removed from the end; %s", HeadFileName, h.Seq, verified, resealAdvice)}
	case h.Seq < int64(verified)-1:
		return int(h.Seq) + 1, &BrokenError{Line: int(h.Seq) + 2, Err: ErrHeadMismatch,
			Reason: fmt.Sprintf("%s records %d lines: the lines after line %d were not written by plangate", HeadFileName, h.Seq, h.Seq+1)}
	case c.hashes[h.Seq] != h.SHA256:
		return int(h.Seq) - 1, &BrokenError{Line: int(h.Seq), Err: ErrHeadMismatch,
			Reason: fmt.Sprintf("not the line %s recorded when it was written — the line was rewritten", HeadFileName)}
	}
	return verified, nil
}

// sealReason says what is wrong with raw's line_sha256, decoded in e, if
// it has one.
func sealReason(raw []byte, e Event) string {
	if e.LineSHA256 == "" {
		return ""
	}
	// The member found in the text must be the one decoded: its value is
	// the decoded value.
	value, want, ok := linehash.Unseal(raw)
	if !ok || value != e.LineSHA256 {
		return `line_sha256 is not written as plangate writes it (once, "line_sha256":"<64 lower-case hex digits>") — the line was edited`
	}
	if want != e.LineSHA256 {
		return "the line does not match its line_sha256 — the line was edited"
	}
	return ""
}

// decodeLine decodes one line and says what is wrong with it, if anything
// besides its place in the chain and its line_sha256. Fields it does not
// know are no fault in a line with a line_sha256 (a newer plangate wrote
// it; the hashes cover its exact bytes): they are ignored.
func decodeLine(raw []byte) (Event, string) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, "not a valid event: " + err.Error()
	}
	if e.LineSHA256 == "" {
		// A line from before plangate wrote line_sha256 (or one stripped
		// of it): only the next line's prev_sha256 covers it, so it must
		// be byte for byte what plangate writes, which also rules out
		// what JSON parsers disagree about (duplicate keys, keys in
		// another case, escapes).
		again, err := json.Marshal(e)
		if err != nil || !bytes.Equal(again, raw) {
			return Event{}, "not exactly what plangate writes (unknown or reordered fields, altered formatting, no line_sha256) — the line was edited"
		}
	}
	if !eventNameRE.MatchString(string(e.Event)) {
		return Event{}, fmt.Sprintf("invalid event name %q — the line was edited", e.Event)
	}
	return e, ""
}

// scan calls fn for each line of the log, complete or not (only the last
// one can be incomplete); locked runs while the log is locked.
func (l *Log) scan(fn func(n int, raw []byte, complete bool) error, locked func()) error {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	// Read up to the size seen under a shared lock: every line in it is
	// complete, and appends made meanwhile, not yet whole, are left out
	// rather than reported as torn. The lock is not held while reading, so
	// verifying a long log does not hold up the server's appends.
	if err := flock.Lock(f, flock.Shared); err != nil {
		return fmt.Errorf("audit: locking %s: %w", l.path, err)
	}
	st, err := f.Stat()
	if locked != nil {
		locked() // sees the head file as it was for this size
	}
	_ = flock.Unlock(f)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return scanLines(io.LimitReader(f, st.Size()), l.path, fn)
}

// scanLines calls fn for each line r holds.
func scanLines(r io.Reader, path string, fn func(n int, raw []byte, complete bool) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		switch {
		case err == io.EOF && len(raw) == 0:
			return nil
		case err == io.EOF:
			return fn(n, raw, false)
		case err != nil:
			return fmt.Errorf("audit: reading %s: %w", path, err)
		}
		if err := fn(n, raw[:len(raw)-1], true); err != nil {
			return err
		}
	}
}
