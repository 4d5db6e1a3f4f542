package plan

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/atomicfile"
)

// Verdict is what policy says of a plan before anyone approves it.
type Verdict struct {
	ApprovalsRequired int
	ProtectedHits     []string
	BlockedReasons    []string
}

// PolicyFunc evaluates a stack's policy on an analysed plan. The approvals
// package provides the real one; DefaultPolicy only counts approvals.
type PolicyFunc func(st *config.Stack, a *Analysis) Verdict

// DefaultPolicy requires the stack's approvals, or its deletion approvals
// when the plan deletes anything. It blocks nothing.
func DefaultPolicy(st *config.Stack, a *Analysis) Verdict {
	n := st.Policy.Approvals
	if len(a.Deleted) > 0 && st.Policy.DeletionApprovals > n {
		n = st.Policy.DeletionApprovals
	}
	return Verdict{ApprovalsRequired: n}
}

// Planner makes plans: it validates the agent's variables, runs Terraform,
// analyses and renders the result and records it. It is the one way a plan
// comes into being.
type Planner struct {
	Runner *Runner
	Store  *Store
	Policy PolicyFunc
	Logger *slog.Logger
	// AWS makes the identity guard of stacks with an aws block (nil: the
	// default options).
	AWS *awsguard.Guards
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// GuardError is a run that the AWS identity guard refused before Terraform
// started: credentials in the wrong account, none or expired, a role that
// cannot be assumed, STS unreachable. Err (awsguard's) says what a human
// should do. Nothing was recorded.
type GuardError struct {
	Stack string
	Err   error
}

func (e *GuardError) Error() string { return fmt.Sprintf("stack %q: %v", e.Stack, e.Err) }
func (e *GuardError) Unwrap() error { return e.Err }

// IdentityOf is the AWSIdentity of an awsguard session.
func IdentityOf(s *awsguard.Session) *AWSIdentity {
	if s == nil {
		return nil
	}
	id := &AWSIdentity{Account: s.Identity.Account, ARN: s.Identity.ARN}
	if s.RoleARN != "" {
		id.RoleARN, id.AssumedBy = s.RoleARN, s.Base.ARN
	}
	return id
}

// Propose plans a change to the stack with the given agent-set variables
// and records it. Problems with the input are *InputError; a plan that
// Terraform rejects is recorded with status failed (not an error). If ctx
// ends, nothing is recorded.
func (p *Planner) Propose(ctx context.Context, st *config.Stack, vars map[string]any, opts ...PlanOption) (*Record, error) {
	decls, err := StackVariables(st)
	if err != nil {
		return nil, err
	}
	checked, err := CheckVariables(st, decls, vars)
	if err != nil {
		return nil, err
	}
	unlock, err := p.Runner.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()

	draft, err := p.Store.NewDraft()
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			draft.Abort()
		}
	}()

	if len(checked) > 0 {
		b, err := json.MarshalIndent(checked, "", "  ")
		if err != nil {
			return nil, err
		}
		vf := filepath.Join(draft.Dir, VarsFile)
		if err := atomicfile.WriteFile(vf, b); err != nil {
			return nil, err
		}
		opts = append(opts, VarFile(vf))
	}

	// Who Terraform will act as, checked before it starts: nothing runs
	// in the wrong account or without the plan role.
	var identity *AWSIdentity
	if guard := p.AWS.For(st); guard != nil {
		session, err := guard.Plan(ctx, draft.ID)
		if err != nil {
			return nil, &GuardError{Stack: st.Name, Err: err}
		}
		p.logger().Info("aws identity checked", "stack", st.Name, "plan_id", draft.ID, "aws", session)
		identity = IdentityOf(session)
		opts = append(opts, WithCredentials(session.Apply))
	}

	out, err := p.Runner.Plan(ctx, st, draft.Dir, opts...)
	// The plan file carries the values from here on; the variables file
	// would only be a second copy of anything sensitive.
	_ = os.Remove(filepath.Join(draft.Dir, VarsFile))
	if err != nil {
		return nil, err
	}
	if out.Failed && out.PlanFile == "" {
		if le := LockErrorFrom(st.Name, st.Dir, out.Diagnostics); le != nil {
			return nil, le
		}
	}
	if out.PlanFile != "" {
		_ = os.Chmod(out.PlanFile, 0o600)
	}
	now := p.now()
	rec := &Record{
		Stack:            st.Name,
		Workspace:        st.Workspace,
		Variables:        redactSensitive(decls, checked),
		CreatedAt:        now,
		ExpiresAt:        now.Add(st.Policy.PlanTTL),
		UpdatedAt:        now,
		TerraformVersion: p.Runner.Version(),
	}
	rec.Summary = Summary{PlanID: draft.ID, Stack: st.Name, Deleted: []Deletion{}, ProtectedHits: []string{}, BlockedReasons: []string{}, AWS: identity}
	for _, d := range out.Warnings() {
		rec.Summary.Warnings = append(rec.Summary.Warnings, d.String())
	}
	for _, d := range out.Errors() {
		rec.Summary.Errors = append(rec.Summary.Errors, d.String())
	}

	// Terraform's diagnostics quote values (a precondition's error_message,
	// say) without its sensitive marks: mask every secret the plan, the
	// stack's sensitive variables and the agent's sensitive values hold.
	masker := NewMasker()
	if out.JSONFile != "" {
		a, err := p.analyse(draft.Dir, out.JSONFile)
		if err != nil {
			return nil, err
		}
		masker = a.Masker()
		p.fill(rec, st, a, out)
		sum, err := fileSHA256(out.PlanFile)
		if err != nil {
			return nil, err
		}
		rec.PlanSHA256 = sum
	} else {
		rec.Status = StatusFailed
		rec.StatusNote = "Terraform produced no plan"
		if err := atomicfile.WriteFile(filepath.Join(draft.Dir, DiffFile), nil); err != nil {
			return nil, err
		}
	}
	for _, v := range sensitiveValues(st, decls, checked) {
		masker.AddValue(v)
	}
	for i, w := range rec.Summary.Warnings {
		rec.Summary.Warnings[i] = masker.MaskText(w)
	}
	for i, e := range rec.Summary.Errors {
		rec.Summary.Errors[i] = masker.MaskText(e)
	}
	if rec.Status == StatusFailed {
		// A failed plan must never be applied, whatever its file says.
		_ = os.Remove(filepath.Join(draft.Dir, PlanFile))
		rec.PlanSHA256 = ""
	}
	rec.Summary.Status = rec.Status
	rec.Summary.PlanSHA256 = rec.PlanSHA256
	rec.Summary.CreatedAt = rec.CreatedAt
	rec.Summary.ExpiresAt = rec.ExpiresAt
	if rec.Status == StatusAwaitingApproval {
		rec.Summary.ApproveCommand = "plangate approve " + draft.ID
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := draft.Commit(rec); err != nil {
		return nil, err
	}
	committed = true
	p.logger().Info("plan recorded", "plan_id", rec.ID, "stack", st.Name, "status", rec.Status,
		"add", rec.Summary.Counts.Add, "change", rec.Summary.Counts.Change, "destroy", rec.Summary.Counts.Destroy)
	return rec, nil
}

// analyse reads the raw plan JSON, writes the rendered diff and the
// sanitized JSON beside the plan, and removes the raw JSON (it carries
// sensitive values in clear).
func (p *Planner) analyse(dir, rawPath string) (*Analysis, error) {
	defer os.Remove(rawPath)
	f, err := os.Open(rawPath)
	if err != nil {
		return nil, err
	}
	a, err := Analyze(bufio.NewReaderSize(f, 1<<20))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("analysing plan JSON: %w", err)
	}
	if err := writeWith(filepath.Join(dir, DiffFile), a.RenderDiff); err != nil {
		return nil, fmt.Errorf("rendering diff: %w", err)
	}
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return nil, err
	}
	clean, err := SanitizePlanJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("sanitizing plan JSON: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PlanJSONFile), clean); err != nil {
		return nil, err
	}
	return a, nil
}

func (p *Planner) fill(rec *Record, st *config.Stack, a *Analysis, out *PlanOutput) {
	s := &rec.Summary
	s.Counts = a.Counts
	s.Deletions = len(a.Deleted)
	s.Deleted = a.Deleted
	if s.Deleted == nil {
		s.Deleted = []Deletion{}
	}
	s.Drift = a.Drift
	s.Warnings = append(s.Warnings, a.Warnings...)
	rec.ManagedResources = a.ManagedResourceCount()

	policy := p.Policy
	if policy == nil {
		policy = DefaultPolicy
	}
	v := policy(st, a)
	s.ApprovalsRequired = v.ApprovalsRequired
	s.ProtectedHits = nonNil(v.ProtectedHits)
	s.BlockedReasons = nonNil(v.BlockedReasons)

	// Terraform prints its own count while planning; if ours differs, the
	// number a human would approve on is in doubt, and the plan is blocked.
	if ts := out.TerraformSummary; ts != nil && !out.Failed && !a.Errored {
		if ts.Add != a.Counts.Add || ts.Change != a.Counts.Change || ts.Remove != a.Counts.Destroy {
			s.BlockedReasons = append(s.BlockedReasons, fmt.Sprintf(
				"plangate counted %d to add, %d to change, %d to destroy but Terraform reported %d, %d, %d: the deletion count cannot be trusted, so this plan cannot be approved (please report this as a plangate bug)",
				a.Counts.Add, a.Counts.Change, a.Counts.Destroy, ts.Add, ts.Change, ts.Remove))
		}
	}

	switch {
	case out.Failed || a.Errored:
		rec.Status = StatusFailed
		rec.StatusNote = "Terraform reported errors while planning; the plan is incomplete and can never be approved"
	case !a.HasChanges():
		rec.Status = StatusNoChanges
		rec.StatusNote = "no changes: the infrastructure matches the configuration"
	case len(s.BlockedReasons) > 0:
		rec.Status = StatusBlocked
		rec.StatusNote = "blocked by policy"
	default:
		rec.Status = StatusAwaitingApproval
	}
}

func (p *Planner) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Planner) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// sensitiveValues are the values of the stack's sensitive variables that
// plangate knows without a plan: the agent's, and the declared defaults.
func sensitiveValues(st *config.Stack, decls []Variable, vars map[string]any) []any {
	var out []any
	for _, d := range decls {
		if v, ok := vars[d.Name]; ok && d.Sensitive {
			out = append(out, v)
		}
	}
	if mod, diags := tfconfig.LoadModule(st.Dir); !diags.HasErrors() {
		for _, v := range mod.Variables {
			if v.Sensitive && v.Default != nil {
				out = append(out, v.Default)
			}
		}
	}
	return out
}

// redactSensitive returns the agent's variables as recorded: the values of
// variables the stack declares sensitive are masked.
func redactSensitive(decls []Variable, vars map[string]any) map[string]any {
	if len(vars) == 0 {
		return vars
	}
	sensitive := map[string]bool{}
	for _, d := range decls {
		sensitive[d.Name] = d.Sensitive
	}
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		if sensitive[k] {
			v = SensitiveMask
		}
		out[k] = v
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeWith(path string, fn func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := fn(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 returns the hex SHA-256 of a file (the plan file, re-hashed
// before an apply).
func FileSHA256(path string) (string, error) { return fileSHA256(path) }

// DiffPage is a window of a plan's rendered diff.
type DiffPage struct {
	Text   string
	Offset int
	Next   int // 0 when this page reaches the end
	Total  int
}

// ReadDiff returns up to limit bytes of the plan's diff starting at offset,
// cut at a line end where possible and never inside a UTF-8 sequence.
func (s *Store) ReadDiff(id string, offset, limit int) (DiffPage, error) {
	f, err := os.Open(filepath.Join(s.Dir(id), DiffFile))
	if err != nil {
		return DiffPage{}, fmt.Errorf("plan %s: diff: %w", id, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return DiffPage{}, err
	}
	total := int(st.Size())
	if offset < 0 || offset > total {
		return DiffPage{}, &InputError{Msg: fmt.Sprintf("offset %d is outside the diff (0..%d): use next_offset from the previous page", offset, total)}
	}
	buf := make([]byte, min(limit, total-offset))
	if _, err := f.ReadAt(buf, int64(offset)); err != nil && err != io.EOF {
		return DiffPage{}, err
	}
	end := len(buf)
	if offset+end < total {
		if i := lastIndexByte(buf, '\n'); i > 0 {
			end = i + 1
		} else {
			// No line end in the window: cut before an incomplete rune.
			i := end - 1
			for i > 0 && !utf8.RuneStart(buf[i]) {
				i--
			}
			if !utf8.FullRune(buf[i:end]) {
				end = i
			}
		}
	}
	page := DiffPage{Text: string(buf[:end]), Offset: offset, Total: total}
	if offset+end < total {
		page.Next = offset + end
	}
	return page, nil
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
