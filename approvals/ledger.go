package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
)

// LedgerFile is the ledger's file name inside the state directory.
const LedgerFile = "ledger.jsonl"

// Ledger is the record of used token nonces: one JSON object per line in
// <state_dir>/ledger.jsonl. It is safe for concurrent use by goroutines and
// processes: every operation opens the file anew and takes a flock on it.
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

// Used reports whether the nonce was recorded before.
func (l *Ledger) Used(nonce string) (bool, error) {
	use, err := l.lookup(nonce)
	return use != nil, err
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
	uses, _, err := l.read(f)
	if err != nil {
		return nil, err
	}
	if u, ok := uses[nonce]; ok {
		return &u, nil
	}
	return nil, nil
}

// Consume records every use, or none: under an exclusive lock it refuses
// with a *RefusalError if any nonce was recorded before (or appears twice
// in uses); otherwise it appends them all and fsyncs the file before it
// returns. Two racing calls with the same nonce, in any processes: exactly
// one succeeds.
func (l *Ledger) Consume(uses []NonceUse) error {
	if len(uses) == 0 {
		return nil
	}
	var buf bytes.Buffer
	batch := map[string]bool{}
	for _, u := range uses {
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
		u.UsedAt = u.UsedAt.UTC()
		line, err := json.Marshal(u)
		if err != nil {
			return fmt.Errorf("record token use: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}

	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	defer f.Close()
	if err := flock.Lock(f, flock.Exclusive); err != nil {
		return fmt.Errorf("lock approval ledger: %w", err)
	}
	recorded, complete, err := l.read(f)
	if err != nil {
		return err
	}
	for _, u := range uses {
		if prev, ok := recorded[u.Nonce]; ok {
			return refusef("the approval token from %s (%s) was already used at %s (for plan %s): each approval token works once; ask %s to run plangate approve again for a new one",
				prev.Approver, u.Fingerprint, stamp(prev.UsedAt), prev.PlanID, prev.Approver)
		}
	}
	// Drop a torn last line (a crash mid-append) so the new lines start on
	// a line of their own; it recorded nothing, since its Consume never
	// returned.
	if err := f.Truncate(complete); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	if _, err := f.WriteAt(buf.Bytes(), complete); err != nil {
		// Leave no half-written batch for the next reader to trip on.
		_ = f.Truncate(complete)
		return fmt.Errorf("record token use: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// read parses the ledger from the start of f. It returns the recorded uses
// by nonce and the length of the complete lines; an incomplete last line is
// ignored. A complete line that is not a use is an error: the ledger was
// damaged, and guessing could let a token be used twice.
func (l *Ledger) read(f *os.File) (map[string]NonceUse, int64, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, 0, fmt.Errorf("read approval ledger: %w", err)
	}
	uses := map[string]NonceUse{}
	var off int64
	for lineNo := 1; ; lineNo++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return uses, off, nil
		}
		line := data[:i]
		data = data[i+1:]
		off += int64(i) + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var u NonceUse
		if err := json.Unmarshal(line, &u); err != nil || u.Nonce == "" {
			return nil, 0, fmt.Errorf("approval ledger %s is damaged at line %d, so plangate cannot tell which tokens were used: "+
				"restore the file from a backup or fix that line by hand (each line is a JSON object with a nonce); applies are refused until then",
				l.path, lineNo)
		}
		if _, dup := uses[u.Nonce]; !dup {
			uses[u.Nonce] = u
		}
	}
}
