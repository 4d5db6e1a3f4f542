package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/internal/tfbin"
)

// Record is what plangate keeps of one plan, in <state_dir>/plans/<id>/record.json.
// Each fact is held once; Summary derives from it the view every consumer
// shares. The diff text lives beside it in diff.txt.
type Record struct {
	ID               string         `json:"id"`
	Stack            string         `json:"stack"`
	Workspace        string         `json:"workspace"`
	Variables        map[string]any `json:"variables"`
	CreatedAt        time.Time      `json:"created_at"`
	ExpiresAt        time.Time      `json:"expires_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	PlanSHA256       string         `json:"plan_sha256,omitempty"`
	TerraformVersion string         `json:"terraform_version,omitempty"`
	// Product is the program that made the plan, "Terraform" or
	// "OpenTofu"; empty in records older than the field (Terraform's).
	Product    tfbin.Product `json:"product,omitempty"`
	Status     Status        `json:"status"`
	StatusNote string        `json:"status_note,omitempty"`
	// RequestedBy is the MCP client that asked for the plan, as it named
	// itself at initialize (not proof of anything: shown to the approver).
	RequestedBy *Requester `json:"requested_by,omitempty"`

	// What the plan does, as Terraform's plan JSON says.
	Counts Counts `json:"counts"`
	// Deleted lists every destroyed instance; its length is the deletion count.
	Deleted  []Deletion `json:"deleted"`
	Drift    []Drift    `json:"drift,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	Errors   []string   `json:"errors,omitempty"`
	// ManagedResources is the number of managed resource instances in the
	// state the plan was made against (the base of the mass-deletion ratio).
	ManagedResources int `json:"managed_resources"`

	// DriftCheck is what a drift check (status drift_check) found.
	DriftCheck *DriftCheck `json:"drift_check,omitempty"`
	// RunsCode is the code the plan runs besides the providers (see
	// CodeRun), providers outside the policy's sources included;
	// Providers is every provider source it uses.
	RunsCode  []CodeRun `json:"runs_code,omitempty"`
	Providers []string  `json:"providers,omitempty"`

	// What policy said when the plan was made.
	ApprovalsRequired int      `json:"approvals_required"`
	ProtectedHits     []string `json:"protected_hits,omitempty"`
	BlockedReasons    []string `json:"blocked_reasons,omitempty"`

	// AWS is who Terraform planned as (stacks with an aws block).
	AWS *AWSIdentity `json:"aws,omitempty"`

	// Apply is the apply that started, if one did.
	Apply *ApplyRun `json:"apply,omitempty"`

	// Inputs are the values the plan used for every variable the agent
	// may set, masked, and where each came from; Variables is what the
	// agent asked for (a null: reset). Records from before inputs were
	// kept list the agent's variables (see decodeRecord).
	Inputs []Input `json:"inputs"`
}

// ApplyRun is an apply that started: written (status applying) before
// Terraform starts, with the Terraform process once it runs.
type ApplyRun struct {
	StartedAt time.Time `json:"started_at"`
	// Plangate is the plangate process that runs it; Terraform is the
	// terraform apply process (nil until it started).
	Plangate  Process  `json:"plangate"`
	Terraform *Process `json:"terraform,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	// TokenFingerprints are the approval tokens it spent.
	TokenFingerprints []string `json:"token_fingerprints,omitempty"`
	// AWS is the identity it applies as (stacks with an aws block).
	AWS *AWSIdentity `json:"aws,omitempty"`
}

// Requester is the client that asked for a plan.
type Requester struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Deletions is the number of resource instances the plan destroys.
func (r *Record) Deletions() int { return len(r.Deleted) }

// Files inside a plan's directory.
const (
	RecordFile   = "record.json"
	PlanFile     = "tfplan"
	DiffFile     = "diff.txt"
	PlanJSONFile = "plan.json" // sanitized: no sensitive value
	VarsFile     = "variables.tfvars.json"
)

// EffectiveStatus is the status as of now: a pending plan past its expiry
// is expired even before anything rewrites its record.
func (r *Record) EffectiveStatus(now time.Time) Status {
	if r.Status == StatusAwaitingApproval && !r.ExpiresAt.IsZero() && now.After(r.ExpiresAt) {
		return StatusExpired
	}
	return r.Status
}

// Errors of plan id resolution.
var (
	ErrPlanNotFound  = errors.New("no such plan")
	ErrAmbiguousPlan = errors.New("plan id prefix is ambiguous")
	ErrMalformedID   = errors.New("malformed plan id")
)

// MinPrefix is the shortest plan id prefix accepted.
const MinPrefix = 8

var idPrefixRE = lazyre.New(`^[0-9a-f][0-9a-f-]{7,35}$`)

// Store keeps plan records on disk under <state_dir>/plans. Record updates
// take a file lock so that the server and the CLI (approve, discard) never
// interleave writes.
type Store struct {
	dir string
}

// OpenStore opens (creating if needed) the plan store under stateDir.
func OpenStore(stateDir string) (*Store, error) {
	dir := filepath.Join(stateDir, "plans")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("plan store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory of plan id. An id that is not a plain plan id
// (a path, say) gets a directory that cannot exist, never one outside the
// store.
func (s *Store) Dir(id string) string {
	if !idPrefixRE.MatchString(id) {
		return filepath.Join(s.dir, ".invalid")
	}
	return filepath.Join(s.dir, id)
}

// Draft is a plan directory being filled. Nothing of it is visible to
// readers until Commit; Abort removes it without a trace.
//
// A draft holds an flock on a file inside it for as long as its owner
// lives: a draft whose lock can be taken was abandoned by a process that
// died mid-plan, and is removed (it may hold Terraform's raw plan JSON,
// sensitive values and all).
type Draft struct {
	ID    string
	Dir   string
	store *Store
	lock  *os.File
}

const draftPrefix = ".draft-"
const draftLock = ".owner.lock"

// NewDraft allocates a new random plan id and a private directory for it.
func (s *Store) NewDraft() (*Draft, error) {
	s.removeAbandonedDrafts()
	id := uuid.New().String()
	dir := filepath.Join(s.dir, draftPrefix+id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("plan store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, draftLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		var ok bool
		if ok, err = flock.TryLock(f); err == nil && !ok {
			err = errors.New("another process holds it")
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("plan store: locking draft: %w", err)
	}
	return &Draft{ID: id, Dir: dir, store: s, lock: f}, nil
}

// Commit writes the record and makes the plan visible, atomically.
func (d *Draft) Commit(r *Record) error {
	r.ID = d.ID
	if err := writeJSONAtomic(filepath.Join(d.Dir, RecordFile), r); err != nil {
		return err
	}
	if err := os.Rename(d.Dir, d.store.Dir(d.ID)); err != nil {
		return fmt.Errorf("plan store: %w", err)
	}
	_ = os.Remove(filepath.Join(d.store.Dir(d.ID), draftLock))
	d.release()
	return atomicfile.SyncDir(d.store.dir)
}

// Abort removes the draft.
func (d *Draft) Abort() {
	_ = os.RemoveAll(d.Dir)
	d.release()
}

func (d *Draft) release() {
	if d.lock != nil {
		d.lock.Close() // closing drops the flock
		d.lock = nil
	}
}

// removeAbandonedDrafts deletes drafts whose owner is gone.
func (s *Store) removeAbandonedDrafts() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), draftPrefix) {
			continue
		}
		dir := filepath.Join(s.dir, e.Name())
		f, err := os.OpenFile(filepath.Join(dir, draftLock), os.O_RDWR, 0)
		if err != nil {
			// No lock file: a draft from between Mkdir and locking, or
			// from a very old version; remove it once it is clearly stale.
			if info, statErr := os.Stat(dir); statErr == nil && time.Since(info.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		if ok, _ := flock.TryLock(f); ok {
			_ = os.RemoveAll(dir)
		}
		f.Close()
	}
}

// Resolve turns a full plan id or a unique prefix of at least MinPrefix
// characters into a full plan id.
func (s *Store) Resolve(idOrPrefix string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(idOrPrefix))
	if !idPrefixRE.MatchString(p) {
		return "", fmt.Errorf("%w %q: give the plan id printed by plan_change (or a unique prefix of at least %d characters)", ErrMalformedID, sanitizeForMessage(idOrPrefix), MinPrefix)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return "", fmt.Errorf("plan store: %w", err)
	}
	var matches []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), p) && !strings.HasPrefix(e.Name(), ".") {
			matches = append(matches, e.Name())
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w %q: list_plans shows the plans that exist", ErrPlanNotFound, sanitizeForMessage(idOrPrefix))
	case 1:
		return matches[0], nil
	default:
		sort.Strings(matches)
		return "", fmt.Errorf("%w: %q matches %d plans (%s): give more characters", ErrAmbiguousPlan, sanitizeForMessage(idOrPrefix), len(matches), strings.Join(matches, ", "))
	}
}

// Get reads the record of a plan id or unique prefix.
func (s *Store) Get(idOrPrefix string) (*Record, error) {
	id, err := s.Resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	return s.read(id)
}

// read reads the record of plan id; a damaged one is a *CorruptRecord.
func (s *Store) read(id string) (*Record, error) { return s.readRecord(id) }

// decodeRecord reads record.json. Records written before plangate kept
// each fact once carry the plan's facts in a "summary" object instead;
// they are read into the same fields.
func decodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Inputs == nil {
		r.Inputs = legacyInputs(r.Variables)
	}
	var legacy struct {
		Summary *struct {
			Counts            Counts       `json:"counts"`
			Deleted           []Deletion   `json:"deleted"`
			Drift             []Drift      `json:"drift"`
			Warnings          []string     `json:"warnings"`
			Errors            []string     `json:"errors"`
			ProtectedHits     []string     `json:"protected_hits"`
			BlockedReasons    []string     `json:"blocked_reasons"`
			ApprovalsRequired int          `json:"approvals_required"`
			AWS               *AWSIdentity `json:"aws"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(b, &legacy); err != nil || legacy.Summary == nil {
		return &r, err
	}
	ls := legacy.Summary
	r.Counts, r.Deleted, r.Drift, r.Warnings, r.Errors = ls.Counts, ls.Deleted, ls.Drift, ls.Warnings, ls.Errors
	r.ProtectedHits, r.BlockedReasons, r.ApprovalsRequired, r.AWS = ls.ProtectedHits, ls.BlockedReasons, ls.ApprovalsRequired, ls.AWS
	return &r, nil
}

// legacyInputs are the inputs of a record written before plangate kept
// them: the agent's variables, as recorded (sensitive ones masked).
func legacyInputs(vars map[string]any) []Input {
	if len(vars) == 0 {
		return nil
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Input, 0, len(names))
	for _, n := range names {
		out = append(out, Input{Name: n, Value: vars[n], Origin: OriginAgent})
	}
	return out
}

// Update changes a record under the store lock. fn sees the current
// record; if it returns an error nothing is written.
func (s *Store) Update(id string, fn func(*Record) error) (*Record, error) {
	var out *Record
	err := flock.WithFile(filepath.Join(s.dir, ".lock"), func() error {
		r, err := s.read(id)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		r.UpdatedAt = time.Now().UTC()
		if err := writeJSONAtomic(filepath.Join(s.Dir(id), RecordFile), r); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// List returns every readable record, newest first. It leaves out the
// records that cannot be read: a caller that chooses plans by what List
// returns must look at ListAll's corrupt ones too.
func (s *Store) List() ([]*Record, error) {
	recs, _, err := s.ListAll()
	return recs, err
}

// writeJSONAtomic writes v to path via a temporary file, fsync and rename,
// so a reader sees the old or the new content, never half of one.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
