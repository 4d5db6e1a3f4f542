// Package audit owns plangate's audit trail: an append-only, hash-chained
// JSON Lines log at <state_dir>/audit.jsonl that records every plan,
// refusal, approval use, apply and freeze, and can be verified.
//
// Each line is one Event. Its prev_sha256 is the SHA-256 of the previous
// line's exact bytes (without the newline), 64 zeros on line 1, and its seq
// is its 1-based line number. Editing, removing, inserting or reordering
// lines therefore breaks the chain at a line Verify names.
//
// Each line also carries line_sha256: the SHA-256 of the line's exact bytes
// with that member ("line_sha256":"<hex>" and the comma joining it to its
// neighbour) cut out of the text, so that an edit shows at the line edited,
// the newest included. Both hashes are over bytes as written, never over a
// re-encoding of what they decode to: a line written by a newer plangate,
// with fields this one does not know, verifies here all the same.
//
// The head file (audit.head) records the newest line's seq and hash after
// every Append, so that lines removed from the end, or a newest line
// rewritten with a fresh line_sha256, show too. A non-empty log without a
// head file fails Verify and Append refuses it: removing the head is how
// removing lines from the end would otherwise go unseen. Only a human
// decides that the log as it stands is genuine, with `plangate audit reseal
// --reason "..."` (Reseal), which writes a new head and records itself in
// the log. None of this stops someone who can rewrite the log and the head
// file together from rewriting the whole chain: the log is tamper-evident
// against edits, not tamper-proof; compare Head with a value kept
// elsewhere when that matters.
//
// Crash safety: Append holds an exclusive flock on the log while it reads
// the last line, writes the next and records the head, and fsyncs before
// returning, so concurrent writers (goroutines or processes) never
// interleave or fork the chain. An Append that fails — a full disk, say —
// after its line was written cuts that line off again, so an error always
// means no line. If the log's last line is incomplete (a crash cut a write
// short), Append refuses rather than truncate it: that line is evidence,
// and only a human should decide what to do with it. `plangate audit
// verify` shows where the log breaks; move the damaged log and its
// audit.head aside (keep them) to start a new chain.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/internal/linehash"
	"github.com/plangate/plangate/plan"
)

// FileName is the log's name inside the state directory.
const FileName = "audit.jsonl"

// ZeroHash is the prev_sha256 of the first line.
const ZeroHash = linehash.Zero

// EventName is what happened, in lower snake case: one of the Event*
// names below.
type EventName string

// Event names.
const (
	EventPlanCreated      EventName = "plan_created"
	EventPlanBlocked      EventName = "plan_blocked"
	EventPlanFailed       EventName = "plan_failed"
	EventPlanNoChanges    EventName = "plan_no_changes"
	EventPlanDiscarded    EventName = "plan_discarded"
	EventPlanRefused      EventName = "plan_refused"
	EventPlanApproved     EventName = "plan_approved"
	EventApplyRefused     EventName = "apply_refused"
	EventApplyStarted     EventName = "apply_started"
	EventApplied          EventName = "applied"
	EventApplyFailed      EventName = "apply_failed"
	EventApplyInterrupted EventName = "apply_interrupted"
	EventPlanSuperseded   EventName = "plan_superseded"
	EventPlanTampered     EventName = "plan_tampered"
	EventFreeze           EventName = "freeze"
	EventUnfreeze         EventName = "unfreeze"
	// EventConfigAccepted: plangate.hcl (or its stricter settings) became
	// the accepted config: on first use, by an approver's signature
	// (plangate config accept), or at once because an edit was stricter.
	EventConfigAccepted EventName = "config_accepted"
	// EventApplyRecovered: a plangate recorded how an apply ended that
	// another plangate started and did not see end (it died).
	EventApplyRecovered EventName = "apply_recovered"
	// EventAuditResealed: a human declared the log as it stands genuine
	// (plangate audit reseal) after its head file went missing or stopped
	// matching; PreviousHead says what the head file said then.
	EventAuditResealed EventName = "audit_resealed"
	// EventLedgerResealed: the same for the approval ledger
	// (ledger.jsonl and ledger.head).
	EventLedgerResealed EventName = "ledger_resealed"
	// EventAgentTokenAdded, EventAgentTokenRevoked: an operator made or
	// revoked an agent's bearer token for plangate server (plangate
	// agent-token); Reason names the agent and its stacks, never the token.
	EventAgentTokenAdded   EventName = "agent_token_added"
	EventAgentTokenRevoked EventName = "agent_token_revoked"
	// EventNotifyFailed: a webhook notification was given up on; Reason
	// names the notified event, the webhook's host (never its URL, which
	// may be a secret) and the last error.
	EventNotifyFailed EventName = "notify_failed"
	// EventDriftChecked: check_drift ran a refresh-only plan; Drift has
	// its counts (never values), PlanID the record of what it found.
	EventDriftChecked EventName = "drift_checked"
)

// Client names the MCP client that caused an event.
type Client struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Agent is the agent token's name, for a client of plangate server.
	Agent string `json:"agent,omitempty"`
}

// Event is one line of the audit log.
type Event struct {
	// Seq is the event's 1-based line number; Append sets it.
	Seq int64 `json:"seq"`
	// Time is when it happened, in UTC; Append sets it when zero.
	Time time.Time `json:"time"`
	// Event is what happened: one of the Event* names.
	Event      EventName    `json:"event"`
	Stack      string       `json:"stack,omitempty"`
	PlanID     string       `json:"plan_id,omitempty"`
	PlanSHA256 string       `json:"plan_sha256,omitempty"`
	Counts     *plan.Counts `json:"counts,omitempty"`
	Deletions  *int         `json:"deletions,omitempty"`
	// Deleted are the addresses of the instances the plan destroys.
	Deleted   []string `json:"deleted,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	// TokenFingerprints identify the approval tokens used, or the signed
	// request acted on (unfreeze). Never the text: Append refuses an event
	// that carries anything that looks like a token or a request.
	TokenFingerprints []string `json:"token_fingerprints,omitempty"`
	// AWS is the identity Terraform ran as (stacks with an aws block): the
	// plan's for plan events, the apply's for apply events.
	AWS *plan.AWSIdentity `json:"aws,omitempty"`
	// Client is the MCP client's name and version.
	Client *Client `json:"client,omitempty"`
	// Actor is the OS user behind a CLI event (freeze, discard, approve);
	// for unfreeze, the approver who signed it.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
	// ConfigSHA256 is the SHA-256 of the plangate.hcl an event accepted.
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	// PreviousHead is what audit.head said when the log was resealed:
	// "missing", "seq 20 sha256 <hex>", or why it could not be read.
	PreviousHead string `json:"previous_head,omitempty"`

	// Drift counts what a drift check found (drift_checked).
	Drift *plan.DriftCounts `json:"drift,omitempty"`

	// Prev is the SHA-256 (hex) of the previous line's exact bytes; Append
	// sets it.
	Prev string `json:"prev_sha256"`
	// LineSHA256 is the SHA-256 (hex) of this line's bytes with this member
	// cut out: a change to any line, the newest included, shows at that
	// very line. Append sets it (as the last member); lines written before
	// plangate had it lack it. It must stay the struct's last field, so
	// that lines written before the hash was taken over exact bytes still
	// verify.
	LineSHA256 string `json:"line_sha256,omitempty"`
}

// HeadFileName is the file beside the log that records its newest line
// (seq and SHA-256), rewritten atomically after every Append: removing
// lines from the end, or rewriting the newest line whole, shows against it.
const HeadFileName = "audit.head"

// head is the content of the head file.
type head struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// resealAdvice is what a human can do when the log's end cannot be vouched
// for; resealHint adds where to look first.
const (
	resealAdvice = `if you know why and the lines are genuine (a log from before plangate kept a head, a restore from a backup), run plangate audit reseal --reason "..." (recorded in the log); otherwise move audit.jsonl and audit.head aside (keep them) to start a new log`
	resealHint   = "plangate audit verify shows where; " + resealAdvice
)

// Errors of Append (and Verify, for ErrHeadMissing).
var (
	// ErrIncompleteLastLine: the log does not end with a newline.
	ErrIncompleteLastLine = errors.New("the audit log's last line is incomplete (a write was cut short); refusing to append so no evidence is lost — plangate audit verify shows where, then move audit.jsonl and audit.head aside (keep them) to start a new one")
	// ErrCorruptLastLine: the log's last line is not an event.
	ErrCorruptLastLine = errors.New("the audit log's last line is not a plangate event; refusing to append to a broken chain — plangate audit verify shows where, then move audit.jsonl and audit.head aside (keep them) to start a new one")
	// ErrHeadMismatch: the log's newest line is not the one the head file
	// recorded.
	ErrHeadMismatch = errors.New("the audit log's newest line is not the one audit.head recorded (the line was rewritten, lines were removed from the end, or the log was emptied); refusing to append so no evidence is lost — " + resealHint)
	// ErrHeadMissing: the log has lines but no head file, so lines removed
	// from its end could not show.
	ErrHeadMissing = errors.New("the audit log has lines but no audit.head beside it, so lines removed from its end could not show; refusing to append so no evidence is lost — " + resealHint)
	// ErrNothingToReseal: Reseal found the log and its head in agreement.
	ErrNothingToReseal = errors.New("there is nothing to reseal")
	// ErrSecret: the event carries something that looks like an approval
	// token or an approver-signed request.
	ErrSecret = errors.New("the event carries something that looks like an approval token (pgt1.… or pgt2.…) or a signed request (pgr1.…); audit entries hold their fingerprints, never the text")
)

// BrokenError names the first line of the log that breaks the chain.
type BrokenError struct {
	Line   int
	Reason string
	// Err is the sentinel behind the break, when there is one
	// (ErrHeadMissing, ErrHeadMismatch).
	Err error
}

func (e *BrokenError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

func (e *BrokenError) Unwrap() error { return e.Err }

// Log is the audit log of one state directory. Its zero value is not
// usable; a Log holds no open file, so copies and several Log values on the
// same directory (in one process or many) are all safe to use at once.
type Log struct {
	path string
}

// Open returns the log of stateDir. Nothing is created until the first
// Append.
func Open(stateDir string) *Log {
	return &Log{path: filepath.Join(stateDir, FileName)}
}

// Path is the log file's path.
func (l *Log) Path() string { return l.path }

// tokenRE matches a plangate approval token, pgt1.<payload>.<signature>
// or pgt2.<payload>.<authenticatorData>.<clientDataJSON>.<signature>,
// or an approver-signed request of the same form (pgr1.), or enough of one
// to matter: the prefix, then base64url text that is either the start of
// an encoded JSON object (every payload begins "eyJ") or too long to be
// anything else. A Terraform address through a module named
// pgt1 (module.pgt1.aws_instance.web) does not match.
var tokenRE = lazyre.New(`(pgt[12]|pgr1)\.(eyJ[A-Za-z0-9_-]{8,}|[A-Za-z0-9_-]{64,})|pga1_[A-Za-z0-9_-]{20,}`)

// eventNameRE is the shape of an event name.
var eventNameRE = lazyre.New(`^[a-z][a-z0-9_]{0,63}$`)

// Append writes e as the next line of the log and returns it as written,
// with Seq, Time and Prev set. It returns only once the line and the head
// are on disk; when it returns an error, the log holds no trace of e.
func (l *Log) Append(e Event) (Event, error) {
	e, stamp, err := prepare(e)
	if err != nil {
		return Event{}, err
	}
	f, err := l.lockForWrite()
	if err != nil {
		return Event{}, err
	}
	defer f.Close()       // releases the lock
	defer flock.Unlock(f) //nolint:errcheck // Close releases it anyway

	st, err := f.Stat()
	if err != nil {
		return Event{}, fmt.Errorf("audit: %w", err)
	}
	if stamp {
		// Stamped under the lock, so that times follow the order of lines.
		e.Time = time.Now().UTC()
	}
	size := st.Size()
	if e.Seq, e.Prev, err = l.next(f, size); err != nil {
		return Event{}, err
	}
	return l.write(f, size, e)
}

// Reseal declares the log as it stands genuine when its head file is
// missing or no longer matches its end (a log from before plangate kept a
// head, a restore from a backup): it checks every line's chain, then
// appends an audit_resealed event by actor with the reason and what the
// head file said, and a head for it. It refuses a log whose lines do not
// chain (a head vouches only for the end; such a log must be moved aside)
// and a log whose head already agrees.
func (l *Log) Reseal(reason, actor string) (Event, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Event{}, errors.New(`audit: resealing needs a reason, recorded in the log: plangate audit reseal --reason "restored from last night's backup"`)
	}
	e, _, err := prepare(Event{Event: EventAuditResealed, Actor: actor, Reason: reason})
	if err != nil {
		return Event{}, err
	}
	f, err := l.lockForWrite()
	if err != nil {
		return Event{}, err
	}
	defer f.Close()       // releases the lock
	defer flock.Unlock(f) //nolint:errcheck // Close releases it anyway

	st, err := f.Stat()
	if err != nil {
		return Event{}, fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	c := newChainCheck()
	if err := scanLines(io.NewSectionReader(f, 0, size), l.path, c.line); err != nil {
		var be *BrokenError
		if errors.As(err, &be) {
			return Event{}, fmt.Errorf("audit: cannot reseal %s, it is broken at line %d: %s — a reseal vouches only for the log's end; move audit.jsonl and audit.head aside (keep them) to start a new log", l.path, be.Line, be.Reason)
		}
		return Event{}, err
	}
	h, ok, herr := l.readHead()
	if _, err := c.end(h, ok, herr); err == nil {
		return Event{}, fmt.Errorf("audit: %s and its %s agree (%d lines, hash chain intact): %w", l.path, HeadFileName, c.verified, ErrNothingToReseal)
	}
	switch {
	case herr != nil:
		e.PreviousHead = "unreadable: " + herr.Error()
	case !ok:
		e.PreviousHead = "missing"
	default:
		e.PreviousHead = fmt.Sprintf("seq %d sha256 %s", h.Seq, h.SHA256)
	}
	e.Time = time.Now().UTC()
	e.Seq, e.Prev = int64(c.verified)+1, c.prevHash
	return l.write(f, size, e)
}

// prepare checks an event before the log is touched and sets its time
// (stamp reports that it was zero, for Append to stamp it again under the
// lock). Seq and Prev, set later, cannot make a token.
func prepare(e Event) (Event, bool, error) {
	if !eventNameRE.MatchString(string(e.Event)) {
		return Event{}, false, fmt.Errorf("audit: invalid event name %q: lower snake case, such as %q", e.Event, EventApplied)
	}
	stamp := e.Time.IsZero()
	if stamp {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	probe, _, err := encode(e)
	if err != nil {
		return Event{}, false, err
	}
	if fields := secretFields(probe); len(fields) > 0 {
		return Event{}, false, fmt.Errorf("audit: refusing to write %s event (%s): %w", e.Event, strings.Join(fields, ", "), ErrSecret)
	}
	return e, stamp, nil
}

// lockForWrite opens the log, creating it and its directory if needed, and
// locks it exclusively. The lock covers reading the last line, writing the
// next one and recording the head: two writers that both read line N would
// otherwise both write a line N+1.
func (l *Log) lockForWrite() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := flock.Lock(f, flock.Exclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: locking %s: %w", l.path, err)
	}
	return f, nil
}

// next returns the seq and prev_sha256 of the line after the last of the
// size bytes of f, once the head file vouches for that last line.
func (l *Log) next(f *os.File, size int64) (int64, string, error) {
	if size == 0 {
		// An empty log whose head says it had lines was emptied: starting
		// a new chain over it would hide that.
		if _, ok, err := l.readHead(); err != nil {
			return 0, "", err
		} else if ok {
			return 0, "", fmt.Errorf("audit: %s is empty: %w", l.path, ErrHeadMismatch)
		}
		return 1, ZeroHash, nil
	}
	last, err := readLastLine(f, size)
	if err != nil {
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, err)
	}
	var prev Event
	if json.Unmarshal(last, &prev) != nil || prev.Seq < 1 {
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, ErrCorruptLastLine)
	}
	h, ok, err := l.readHead()
	switch {
	case err != nil:
		return 0, "", err
	case !ok:
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, ErrHeadMissing)
	case !headAgrees(h, prev, last):
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, ErrHeadMismatch)
	}
	return prev.Seq + 1, hashLine(last), nil
}

// write appends e (Seq and Prev set) to f, whose first size bytes are the
// log, then records the head, all under the caller's lock. When any step
// fails it cuts the line off again, so that the caller can truthfully say
// nothing was recorded ("no token issued") and the chain stays whole.
func (l *Log) write(f *os.File, size int64, e Event) (Event, error) {
	line, e, err := encode(e)
	if err != nil {
		return Event{}, err
	}
	fail := func(step string, err error) (Event, error) {
		err = fmt.Errorf("audit: %s %s: %w", step, l.path, err)
		if rerr := errors.Join(f.Truncate(size), f.Sync()); rerr != nil {
			return Event{}, fmt.Errorf("%w; cutting the unrecorded line off again failed too (%v): plangate audit verify shows what the log holds", err, rerr)
		}
		return Event{}, err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fail("writing", err)
	}
	if err := f.Sync(); err != nil {
		return fail("syncing", err)
	}
	if size == 0 {
		// A new file: make its directory entry durable too.
		if err := atomicfile.SyncDir(filepath.Dir(l.path)); err != nil {
			return fail("syncing the directory of", err)
		}
	}
	sum := hashLine(line)
	hb, _ := json.Marshal(head{Seq: e.Seq, SHA256: sum})
	if err := atomicfile.WriteFile(l.headPath(), append(hb, '\n')); err != nil {
		if h, ok, herr := l.readHead(); herr == nil && ok && h.Seq == e.Seq && h.SHA256 == sum {
			// The head was replaced; only making the rename durable
			// failed. A crash now leaves the head one line behind, which
			// Verify and Append accept.
			return e, nil
		}
		return fail("recording the head of", err)
	}
	return e, nil
}

func (l *Log) headPath() string { return filepath.Join(filepath.Dir(l.path), HeadFileName) }

// readHead reads the head file; ok is false when there is none (a log
// from before plangate kept one).
func (l *Log) readHead() (h head, ok bool, err error) {
	b, err := os.ReadFile(l.headPath())
	if errors.Is(err, os.ErrNotExist) {
		return head{}, false, nil
	}
	if err != nil {
		return head{}, false, fmt.Errorf("audit: %w", err)
	}
	if json.Unmarshal(b, &h) != nil || h.Seq < 1 || len(h.SHA256) != 64 {
		return head{}, true, fmt.Errorf("audit: %s is not a plangate audit head: %w", l.headPath(), ErrHeadMismatch)
	}
	return h, true, nil
}

// headAgrees reports whether h records the last line (last, decoded as e)
// or, after a crash between writing a line and its head, the line before.
func headAgrees(h head, e Event, last []byte) bool {
	switch h.Seq {
	case e.Seq:
		return h.SHA256 == hashLine(last)
	case e.Seq - 1:
		return h.SHA256 == e.Prev
	}
	return false
}

// encode returns the line for e and the event as Verify will read it back.
// line_sha256 goes last, after the hash of everything else is taken, so the
// hash is over exactly the line's bytes without that member.
func encode(e Event) ([]byte, Event, error) {
	e.LineSHA256 = ""
	unsealed, err := json.Marshal(e)
	if err != nil {
		return nil, Event{}, fmt.Errorf("audit: encoding %s event: %w", e.Event, err)
	}
	line := linehash.Seal(unsealed)
	back, reason := decodeLine(line)
	if reason == "" {
		reason = sealReason(line, back)
	}
	if reason != "" {
		return nil, Event{}, fmt.Errorf("audit: encoding %s event: %s", e.Event, reason)
	}
	return line, back, nil
}

// secretFields names the fields of an encoded event whose text holds an
// approval token, for an error message that must not repeat the token.
// Whitespace is ignored, as the token parser ignores it: a token pasted
// across lines is still a token.
func secretFields(line []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return []string{"undecodable event"} // cannot happen: encode made line
	}
	var found []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			if tokenRE.MatchString(strings.Join(strings.Fields(v), "")) {
				found = append(found, path)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case map[string]any:
			for k, x := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
		}
	}
	walk("", m)
	sort.Strings(found)
	return found
}

// readLastLine returns the last line of f (without its newline), reading
// backwards from the end in blocks rather than the whole file.
func readLastLine(f *os.File, size int64) ([]byte, error) {
	end := make([]byte, 1)
	if _, err := f.ReadAt(end, size-1); err != nil {
		return nil, err
	}
	if end[0] != '\n' {
		return nil, ErrIncompleteLastLine
	}
	const block = 4096
	var line []byte
	pos := size - 1 // the final newline
	for pos > 0 {
		n := int64(block)
		if pos < n {
			n = pos
		}
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos-n); err != nil {
			return nil, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			line = append(buf[i+1:], line...)
			break
		}
		line = append(buf, line...)
		pos -= n
	}
	if len(line) == 0 {
		return nil, ErrCorruptLastLine
	}
	return line, nil
}

// Head returns the seq and SHA-256 of the newest line: record them
// somewhere else to detect later changes to that line or removal of lines
// at the end, which the chain alone cannot show. An empty or missing log
// has head 0 and ZeroHash.
func (l *Log) Head() (int64, string, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ZeroHash, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	// A shared lock: an Append in progress is never seen half written.
	if err := flock.Lock(f, flock.Shared); err != nil {
		return 0, "", fmt.Errorf("audit: locking %s: %w", l.path, err)
	}
	defer flock.Unlock(f) //nolint:errcheck // Close releases it anyway
	st, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("audit: %w", err)
	}
	if st.Size() == 0 {
		return 0, ZeroHash, nil
	}
	last, err := readLastLine(f, st.Size())
	if err != nil {
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, err)
	}
	var e Event
	if json.Unmarshal(last, &e) != nil {
		return 0, "", fmt.Errorf("audit: %s: %w", l.path, ErrCorruptLastLine)
	}
	return e.Seq, hashLine(last), nil
}

func hashLine(raw []byte) string { return linehash.Sum(raw) }
