package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/plangate/plangate/internal/lazyre"
)

// StatusCorrupt is listed for a plan whose record cannot be read (see
// CorruptRecord). No record holds it: it is what plangate can say of a
// record it cannot trust.
const StatusCorrupt Status = "corrupt"

// CorruptRecord is a plan directory whose record.json cannot be read:
// truncated, not JSON, not a plan record, missing or unreadable. Such a
// plan can never be approved or applied; it is shown, never left out,
// because a human must look at it (it may be an applied plan). It is the
// error of every read of that plan.
type CorruptRecord struct {
	ID  string
	Dir string
	// Problem says what is wrong with the record, such as "record.json is
	// not valid JSON: unexpected end of JSON input".
	Problem string
	// Stack, Workspace, CreatedAt and ExpiresAt are what the readable
	// start of the record says, when it says it ("" and zero otherwise):
	// hints for the human, never facts to act on.
	Stack     string
	Workspace string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ModTime is when record.json (else the directory) last changed: no
	// earlier than the plan was made.
	ModTime time.Time
}

// Reason is the problem and what it means for the plan.
func (c *CorruptRecord) Reason() string {
	return c.Problem + "; the plan can never be approved or applied; move the directory " + c.Dir +
		" aside (out of the plans directory) after checking it"
}

func (c *CorruptRecord) Error() string { return "plan " + c.ID + ": " + c.Reason() }

// MadeAfter reports whether the plan may have been made after t: its
// legible creation time, else its record's modification time, is later.
func (c *CorruptRecord) MadeAfter(t time.Time) bool {
	if !c.CreatedAt.IsZero() {
		return c.CreatedAt.After(t)
	}
	return c.ModTime.IsZero() || c.ModTime.After(t)
}

// ListAll returns every readable record, newest first, and every plan
// directory whose record cannot be read, newest change first.
func (s *Store) ListAll() ([]*Record, []*CorruptRecord, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("plan store: %w", err)
	}
	var out []*Record
	var bad []*CorruptRecord
	for _, e := range entries {
		// Only plan directories: drafts and hidden entries (a directory a
		// human moved aside as .<id>) are not plans, and neither is
		// anything not named like one.
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || !idPrefixRE.MatchString(e.Name()) {
			continue
		}
		r, err := s.read(e.Name())
		var c *CorruptRecord
		switch {
		case errors.As(err, &c):
			bad = append(bad, c)
		case err != nil:
			continue // removed while we looked
		default:
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	sort.Slice(bad, func(i, j int) bool {
		if !bad[i].ModTime.Equal(bad[j].ModTime) {
			return bad[i].ModTime.After(bad[j].ModTime)
		}
		return bad[i].ID < bad[j].ID
	})
	return out, bad, nil
}

// readRecord reads and decodes the record of plan id (a full id); a
// record that cannot be read is a *CorruptRecord.
func (s *Store) readRecord(id string) (*Record, error) {
	dir := s.Dir(id)
	path := filepath.Join(dir, RecordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("plan %s: %w", id, err) // gone, not damaged
		}
		return nil, corrupt(id, dir, path, nil, readProblem(err))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, corrupt(id, dir, path, nil, "record.json is empty")
	}
	r, err := decodeRecord(b)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, corrupt(id, dir, path, b, "record.json is not valid JSON: "+err.Error())
	case err != nil:
		return nil, corrupt(id, dir, path, b, "record.json does not hold a plan record: "+strings.TrimPrefix(err.Error(), "json: "))
	case r.ID != id:
		return nil, corrupt(id, dir, path, b, fmt.Sprintf("record.json is the record of plan %q, not of %s", sanitizeForMessage(r.ID), id))
	}
	return r, nil
}

func readProblem(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "record.json is missing"
	}
	return "record.json cannot be read: " + err.Error()
}

// corrupt describes a damaged record, with what its readable start says.
func corrupt(id, dir, path string, b []byte, problem string) *CorruptRecord {
	c := &CorruptRecord{ID: id, Dir: dir, Problem: problem}
	if info, err := os.Stat(path); err == nil {
		c.ModTime = info.ModTime().UTC()
	} else if info, err := os.Stat(dir); err == nil {
		c.ModTime = info.ModTime().UTC()
	}
	c.legible(b)
	return c
}

// legibleName is what a stack or workspace name read from a damaged
// record must look like to be shown.
var legibleName = lazyre.New(`^[A-Za-z0-9_.-]{1,64}$`)

// legible reads the top-level stack, workspace, created_at and expires_at
// of a record for as far as it is valid JSON: a truncated record still
// names them (they come first).
func (c *CorruptRecord) legible(b []byte) {
	if len(b) == 0 {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := k.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		switch key {
		case "created_at", "expires_at":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				continue
			}
			if key == "created_at" {
				c.CreatedAt = t.UTC()
			} else {
				c.ExpiresAt = t.UTC()
			}
		case "stack", "workspace":
			if !legibleName.MatchString(v) {
				continue
			}
			if key == "stack" {
				c.Stack = v
			} else {
				c.Workspace = v
			}
		}
	}
	return
}
