package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
	"github.com/plangate/plangate/internal/linehash"
)

// LedgerFile is the ledger's file name inside the state directory.
const LedgerFile = "ledger.jsonl"

// LedgerHeadFile, beside the ledger, records its newest line (seq and
// SHA-256), rewritten atomically after every Consume: a line removed from
// the end — a used token made usable again — shows against it.
const LedgerHeadFile = "ledger.head"

// Ledger is the record of used token nonces: one JSON object per Consume in
// <state_dir>/ledger.jsonl, hash-chained like the audit log (each line
// holds the previous line's SHA-256 and its own), with ledger.head beside
// it recording the newest line. Any edit — a line removed (a used token
// usable again), changed, cut off the end, or the head removed from a
// non-empty ledger — makes Used and Consume refuse, naming the line.
//
// Ledgers from before the chain hold bare NonceUse lines and no head: they
// are refused like a ledger whose head was removed (the two look the
// same), until a human runs plangate audit reseal, which appends a seal
// line whose prev_sha256 covers every legacy line and a head for it.
//
// It is safe for concurrent use by goroutines and processes: every
// operation opens the file anew and takes a flock on it.
type Ledger struct {
	path string
}

// NonceUse is one line of the ledger: a token's nonce and who used it for
// what. It never holds the token itself.
type NonceUse struct {
	Nonce       string    `json:"nonce"`
	Approver    string    `json:"approver"`
	PlanID      string    `json:"plan_id"`
	Fingerprint string    `json:"fingerprint"`
	UsedAt      time.Time `json:"used_at"`
	// Credential and SignCount are set for a passkey (pgt2) token: the
	// passkey's fingerprint and the sign counter of its assertion. The
	// next use of that passkey must count higher (when either counts).
	Credential string `json:"credential,omitempty"`
	SignCount  uint32 `json:"sign_count,omitempty"`
}

// OpenLedger opens, creating if needed, the ledger in stateDir.
func OpenLedger(stateDir string) (*Ledger, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("open approval ledger: %w", err)
	}
	path := filepath.Join(stateDir, LedgerFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		syncErr := f.Sync()
		if err := f.Close(); err != nil || syncErr != nil {
			return nil, fmt.Errorf("create approval ledger %s: %w", path, errors.Join(syncErr, err))
		}
		_ = atomicfile.SyncDir(stateDir)
	case errors.Is(err, os.ErrExist):
		// Already there: check it can be opened for writing now, not at the
		// first apply.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open approval ledger: %w", err)
		}
		_ = f.Close()
	default:
		return nil, fmt.Errorf("open approval ledger: %w", err)
	}
	return &Ledger{path: path}, nil
}

// Path is the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// headPath is the head file's path, beside the ledger.
func (l *Ledger) headPath() string { return filepath.Join(filepath.Dir(l.path), LedgerHeadFile) }

// Used reports whether the nonce was recorded before. A ledger that was
// tampered with or damaged is an error naming the line: plangate cannot
// tell then which tokens were used.
func (l *Ledger) Used(nonce string) (bool, error) {
	use, err := l.lookup(nonce)
	return use != nil, err
}

// Verify checks the whole ledger against its chain and head, as every Used
// and Consume does, and returns its number of lines; the error is a
// *LedgerError naming the line.
func (l *Ledger) Verify() (int, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return 0, fmt.Errorf("read approval ledger: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Shared); err != nil {
		return 0, fmt.Errorf("lock approval ledger: %w", err)
	}
	st, err := l.read(f)
	if err != nil {
		return 0, err
	}
	return st.lines, nil
}

// lookup returns the recorded use of nonce, or nil.
func (l *Ledger) lookup(nonce string) (*NonceUse, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("read approval ledger: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Shared); err != nil {
		return nil, fmt.Errorf("lock approval ledger: %w", err)
	}
	st, err := l.read(f)
	if err != nil {
		return nil, err
	}
	if u, ok := st.uses[nonce]; ok {
		return &u, nil
	}
	return nil, nil
}

// lastCounter returns the sign counter of the last recorded use of the
// passkey with this fingerprint (0 when none).
func (l *Ledger) lastCounter(credential string) (uint32, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return 0, fmt.Errorf("read approval ledger: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Shared); err != nil {
		return 0, fmt.Errorf("lock approval ledger: %w", err)
	}
	st, err := l.read(f)
	if err != nil {
		return 0, err
	}
	return st.counters[credential], nil
}

// Consume records every use, or none: under an exclusive lock it refuses
// with a *RefusalError if any nonce was recorded before (or appears twice
// in uses); otherwise it appends them as one line, fsyncs it and records
// the head before it returns. Two racing calls with the same nonce, in any
// processes: exactly one succeeds. A ledger that was tampered with or
// damaged refuses every Consume with a *LedgerError naming the line.
func (l *Ledger) Consume(uses []NonceUse) error {
	if len(uses) == 0 {
		return nil
	}
	batch := map[string]bool{}
	uses = slices.Clone(uses)
	for i, u := range uses {
		if u.Nonce == "" {
			return errors.New("record token use: empty nonce")
		}
		if batch[u.Nonce] {
			return refusef("the approval token from %s (%s) was given twice: pass each token once", u.Approver, u.Fingerprint)
		}
		batch[u.Nonce] = true
		if u.UsedAt.IsZero() {
			u.UsedAt = time.Now()
		}
		uses[i].UsedAt = u.UsedAt.UTC()
	}

	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Exclusive); err != nil {
		return fmt.Errorf("lock approval ledger: %w", err)
	}
	st, err := l.read(f)
	if err != nil {
		return err
	}
	counters := map[string]uint32{}
	for _, u := range uses {
		if prev, ok := st.uses[u.Nonce]; ok {
			return refusef("the approval token from %s (%s) was already used at %s (for plan %s): each approval token works once; ask %s to approve again for a new one",
				prev.Approver, u.Fingerprint, stamp(prev.UsedAt), prev.PlanID, prev.Approver)
		}
		// Checked again here, under the lock: two applies racing with
		// assertions of one passkey cannot both pass with one counter.
		if u.Credential != "" {
			last, seen := counters[u.Credential]
			if !seen {
				last = st.counters[u.Credential]
			}
			if p := counterProblem(last, u.SignCount); p != "" {
				return refusef("the approval token from %s (%s) is refused: %s", u.Approver, u.Fingerprint, p)
			}
			counters[u.Credential] = u.SignCount
		}
	}
	return l.append(f, st, ledgerLine{Uses: uses})
}

// Reseal declares the ledger as it stands genuine when its head file is
// missing (a ledger from before plangate kept one) or no longer matches
// its end: it checks every line, then appends a seal line (no uses) that
// chains onto them and records a head for it. It refuses a ledger whose
// lines are damaged or do not chain, and says so (with ErrNothingToReseal)
// when the head already agrees. The caller records the reseal in the
// audit log; previousHead says what the head file said.
func (l *Ledger) Reseal() (previousHead string, err error) {
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("reseal approval ledger: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Exclusive); err != nil {
		return "", fmt.Errorf("lock approval ledger: %w", err)
	}
	st, err := l.readLines(f)
	if err != nil {
		return "", err
	}
	h, ok, herr := l.readHead()
	if err := l.checkHead(st, h, ok, herr); err == nil {
		return "", fmt.Errorf("approval ledger %s and its %s agree (%d lines): %w", l.path, LedgerHeadFile, st.lines, ErrNothingToReseal)
	}
	switch {
	case herr != nil:
		previousHead = "unreadable: " + herr.Error()
	case !ok:
		previousHead = "missing"
	default:
		previousHead = fmt.Sprintf("seq %d sha256 %s", h.Seq, h.SHA256)
	}
	now := time.Now().UTC()
	if err := l.append(f, st, ledgerLine{Uses: []NonceUse{}, ResealedAt: &now}); err != nil {
		return "", err
	}
	return previousHead, nil
}

// ErrNothingToReseal: Reseal found the ledger and its head in agreement.
var ErrNothingToReseal = errors.New("there is nothing to reseal")

// append writes line (Seq and Prev set here) after the complete lines of
// st, fsyncs it and records the head, all under the caller's exclusive
// lock. When a step fails it cuts the line off again: an error means no
// use was recorded, and the ledger stays whole.
func (l *Ledger) append(f *os.File, st *ledgerState, line ledgerLine) error {
	line.Seq, line.Prev = int64(st.lines)+1, st.last
	unsealed, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	sealed := linehash.Seal(unsealed)
	fail := func(step string, err error) error {
		err = fmt.Errorf("record token use: %s %s: %w", step, l.path, err)
		if rerr := errors.Join(f.Truncate(st.complete), f.Sync()); rerr != nil {
			return fmt.Errorf("%w; cutting the unrecorded line off again failed too (%v)", err, rerr)
		}
		return err
	}
	// Drop a torn last line (a crash mid-append) so the new line starts on
	// a line of its own; it recorded nothing, since its Consume never
	// returned.
	if err := f.Truncate(st.complete); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	if _, err := f.WriteAt(append(sealed, '\n'), st.complete); err != nil {
		return fail("writing", err)
	}
	if err := f.Sync(); err != nil {
		return fail("syncing", err)
	}
	sum := linehash.Sum(sealed)
	hb, _ := json.Marshal(ledgerHead{Seq: line.Seq, SHA256: sum})
	if err := atomicfile.WriteFile(l.headPath(), append(hb, '\n')); err != nil {
		if h, ok, herr := l.readHead(); herr == nil && ok && h.Seq == line.Seq && h.SHA256 == sum {
			return nil // replaced; only making the rename durable failed
		}
		return fail("recording the head of", err)
	}
	return nil
}

// ledgerLine is a line of the ledger as plangate writes it now: the uses
// of one Consume (none for a seal line), chained like the audit log's
// lines (see internal/linehash).
type ledgerLine struct {
	// Seq is the line's 1-based line number, counting legacy lines.
	Seq  int64      `json:"seq"`
	Uses []NonceUse `json:"uses"`
	// ResealedAt marks the seal line a reseal writes.
	ResealedAt *time.Time `json:"resealed_at,omitempty"`
	// Prev is the SHA-256 of the previous line's exact bytes; for the
	// first chained line, of every byte before it (the legacy lines), and
	// 64 zeros when there are none.
	Prev string `json:"prev_sha256"`
	// LineSHA256 is the SHA-256 of this line without this member.
	LineSHA256 string `json:"line_sha256,omitempty"`
}

// ledgerHead is the content of the head file.
type ledgerHead struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// ledgerState is what reading the ledger found.
type ledgerState struct {
	uses     map[string]NonceUse
	counters map[string]uint32 // passkey fingerprint -> sign counter of its last use
	complete int64             // bytes of complete lines
	lines    int               // complete lines, legacy and blank ones included
	last     string            // chain value after the last line: what the next line's prev must be
	before   string            // chain value before the last line, for a head one line behind
}

// LedgerError says where and how the ledger is damaged or was tampered
// with. While it lasts, every apply is refused: plangate cannot tell which
// tokens were used.
type LedgerError struct {
	Path   string
	Line   int
	Reason string
	// Head is true when the trouble is the head file: missing or not
	// matching the ledger's end.
	Head bool
}

func (e *LedgerError) Error() string {
	what := "restore ledger.jsonl and ledger.head from a backup; or, once every token it records has expired (plan_ttl after its newest used_at), move both aside (keep them) and plangate starts a new ledger"
	if e.Head {
		what = `if you know why and the lines are genuine (a ledger from before plangate kept ledger.head, after an upgrade; a restore from a backup), run plangate audit reseal --reason "..." (recorded in the audit log); otherwise ` + what
	}
	return fmt.Sprintf("approval ledger %s is damaged at line %d, so plangate cannot tell which tokens were used and refuses every apply: %s — %s", e.Path, e.Line, e.Reason, what)
}

// read parses the ledger from the start of f and checks it against its
// head.
func (l *Ledger) read(f *os.File) (*ledgerState, error) {
	st, err := l.readLines(f)
	if err != nil {
		return nil, err
	}
	h, ok, herr := l.readHead()
	if err := l.checkHead(st, h, ok, herr); err != nil {
		return nil, err
	}
	return st, nil
}

// readLines parses and checks the ledger's lines from the start of f.
func (l *Ledger) readLines(f *os.File) (*ledgerState, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, fmt.Errorf("read approval ledger: %w", err)
	}
	st, line, reason := parseLedger(data)
	if reason != "" {
		return nil, &LedgerError{Path: l.path, Line: line, Reason: reason}
	}
	return st, nil
}

// checkHead checks the head file (h if ok, herr if unreadable) against the
// lines read: it must record the last line, or the one before it (a crash
// between writing a line and its head). An empty ledger needs no head.
func (l *Ledger) checkHead(st *ledgerState, h ledgerHead, ok bool, herr error) error {
	headErr := func(line int, reason string) error {
		return &LedgerError{Path: l.path, Line: line, Reason: reason, Head: true}
	}
	n := int64(st.lines)
	switch {
	case herr != nil:
		return headErr(st.lines+1, herr.Error())
	case !ok && n == 0:
		return nil
	case !ok:
		return headErr(st.lines+1, fmt.Sprintf("%s is missing, so lines removed from the end (used tokens) would not show", LedgerHeadFile))
	case h.Seq > n:
		return headErr(st.lines+1, fmt.Sprintf("missing: %s records %d lines, the ledger ends at line %d — lines were removed from the end", LedgerHeadFile, h.Seq, n))
	case h.Seq == n && h.SHA256 == st.last, h.Seq == n-1 && h.SHA256 == st.before:
		return nil
	case h.Seq < n-1:
		return headErr(int(h.Seq)+2, fmt.Sprintf("%s records %d lines: the lines after line %d were not written by plangate", LedgerHeadFile, h.Seq, h.Seq+1))
	}
	return headErr(int(h.Seq), fmt.Sprintf("not the line %s recorded — the line was rewritten", LedgerHeadFile))
}

// readHead reads the head file; ok is false when there is none.
func (l *Ledger) readHead() (h ledgerHead, ok bool, err error) {
	b, err := os.ReadFile(l.headPath())
	if errors.Is(err, os.ErrNotExist) {
		return ledgerHead{}, false, nil
	}
	if err != nil {
		return ledgerHead{}, false, fmt.Errorf("read %s: %w", l.headPath(), err)
	}
	if json.Unmarshal(b, &h) != nil || h.Seq < 1 || len(h.SHA256) != 64 {
		return ledgerHead{}, true, fmt.Errorf("%s is not a plangate ledger head", l.headPath())
	}
	return h, true, nil
}

// parseLedger reads the ledger's bytes, which anyone who can write the
// state directory controls. It returns what it found, or the first bad
// line and why. Lines from before plangate chained the ledger (legacy: a
// bare NonceUse, or blank) may only come first; the first chained line's
// prev_sha256 covers all of them at once. Every chained line must have the
// next seq, the previous line's hash as prev_sha256 and a line_sha256 of
// its own bytes. An incomplete last line (a crash mid-append) is left out.
func parseLedger(data []byte) (st *ledgerState, badLine int, reason string) {
	st = &ledgerState{uses: map[string]NonceUse{}, counters: map[string]uint32{}, last: linehash.Zero, before: linehash.Zero}
	chained := false
	var off int64
	// The legacy lines' chain value is the hash of all of them, taken once
	// they end (hashing the prefix at every line would be quadratic).
	sealLegacy := func() {
		if !chained && st.complete > 0 {
			st.before, st.last = "", linehash.Sum(data[:st.complete])
		}
	}
	for lineNo := 1; ; lineNo++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			sealLegacy()
			return st, 0, ""
		}
		raw := data[off : off+int64(i)]
		off += int64(i) + 1
		// One decoding serves both kinds of line: a legacy line is a bare
		// NonceUse (no seq), a chained one has a seq and its uses.
		var ll struct {
			Seq        *int64     `json:"seq"`
			Uses       []NonceUse `json:"uses"`
			Prev       string     `json:"prev_sha256"`
			LineSHA256 string     `json:"line_sha256"`
			NonceUse
		}
		isBlank := len(bytes.TrimSpace(raw)) == 0
		if !isBlank && json.Unmarshal(raw, &ll) != nil {
			return nil, lineNo, "not a JSON object holding a token use"
		}
		if isBlank || ll.Seq == nil {
			// A legacy line: only before the first chained line.
			if chained {
				return nil, lineNo, "not a chained ledger line (no seq) after chained ones — the line was added or edited"
			}
			if !isBlank && ll.Nonce == "" {
				return nil, lineNo, "a line without a nonce"
			}
			if !isBlank {
				st.add(ll.NonceUse)
			}
			st.complete, st.lines = off, lineNo
			continue
		}
		sealLegacy()
		prev := st.last
		value, sum, ok := linehash.Unseal(raw)
		switch {
		case *ll.Seq != int64(lineNo):
			return nil, lineNo, fmt.Sprintf("seq is %d, expected %d — lines were removed, inserted or reordered", *ll.Seq, lineNo)
		case ll.Prev != prev && !chained:
			return nil, lineNo, "prev_sha256 does not match the lines before it — lines before it were removed or edited"
		case ll.Prev != prev:
			return nil, lineNo, fmt.Sprintf("prev_sha256 does not match line %d — a line was removed or edited", lineNo-1)
		case !ok || value != ll.LineSHA256:
			return nil, lineNo, "line_sha256 is missing or not written as plangate writes it — the line was edited"
		case sum != value:
			return nil, lineNo, "the line does not match its line_sha256 — the line was edited"
		}
		for _, u := range ll.Uses {
			if u.Nonce == "" {
				return nil, lineNo, "a use without a nonce"
			}
			st.add(u)
		}
		chained = true
		st.before, st.last = st.last, linehash.Sum(raw)
		st.complete, st.lines = off, lineNo
	}
}

// add records u, keeping the first use of a nonce, and the last sign
// counter of a passkey.
func (st *ledgerState) add(u NonceUse) {
	if _, dup := st.uses[u.Nonce]; !dup {
		st.uses[u.Nonce] = u
	}
	if u.Credential != "" {
		st.counters[u.Credential] = u.SignCount
	}
}
