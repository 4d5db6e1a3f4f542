package review

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// maxDecided bounds the plans shown that are not awaiting approval.
const maxDecided = 20

// planView is one plan as the page shows it: ApproveView's facts, laid
// out. Nothing in it is derived anew.
type planView struct {
	ID, Stack, Status string
	Headline          string
	RunsCodeLine      string
	// Approvable: the gate's check passed just now; only then are the
	// approval controls shown.
	Approvable bool
	Refusal    string
	NoFacts    bool
	Summary    *plan.Summary
	Workspace  string
	Dir        string
	AskedBy    string
	Terraform  string
	AWS        string
	SHA256     string
	// Policy is the policy in force, in one line; Required the distinct
	// approvals the plan needs now, Prior those the audit log records.
	Policy     string
	Required   int
	Prior      []gate.PriorApproval
	Frozen     string
	ConfigNote string
	StateDir   string
	// The approval paths.
	ApproveCommand   string
	KeyApprovers     []string
	PasskeyApprovers []string
	// ElsewhereApprovers have passkeys of another page's RP ID.
	ElsewhereApprovers []string
	// The diff's first page; the rest loads on demand.
	Diff        []Segment
	DiffPages   int
	DiffVersion string
	DiffBytes   int
}

// ApprovalsLine is the page's Approvals line: how many distinct
// approvals the plan needs, how many are still needed, and who approved
// so far (the audit log's approvals).
func (pv *planView) ApprovalsLine() string { return approvalsLine(pv.Required, pv.Prior) }

// approvalsLine is the Approvals line of a plan that needs required
// distinct approvals and has prior; the approve answer carries it too, so
// that the page counts an approval without a reload.
func approvalsLine(required int, prior []gate.PriorApproval) string {
	var b strings.Builder
	fmt.Fprintf(&b, "needs %d distinct approval(s); %d still needed", required, max(0, required-len(distinctApprovers(prior))))
	for i, p := range prior {
		if i == 0 {
			b.WriteString("; approved so far by ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s at %s", p.Approver, p.At.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// view builds the page's view of one plan from the gate's ApproveView.
func (h *Handler) view(r *http.Request, id string) (*planView, error) {
	v, err := h.opts.Gate.ApproveView(r.Context(), id, true, client)
	if err != nil {
		return nil, err
	}
	rec := v.Record
	s := v.Summary
	pv := &planView{
		ID: rec.ID, Stack: rec.Stack, Status: string(s.Status), Headline: s.Headline(), RunsCodeLine: s.RunsCodeLine(),
		Refusal: v.Refusal, NoFacts: v.NoFacts, Summary: &s, Workspace: rec.Workspace, SHA256: v.SHA256,
		Terraform: rec.TerraformVersion, AWS: s.AWS.String(), Prior: v.Prior, Frozen: v.Frozen,
		ConfigNote: v.ConfigNote, StateDir: v.StateDirWarning, AskedBy: "an unnamed MCP client",
	}
	if v.NoFacts {
		// Nothing of the summary can be trusted: the status and why.
		pv.Status = string(rec.EffectiveStatus(h.opts.Now()))
		pv.Headline = fmt.Sprintf("Plan %s… for %s: what it does cannot be shown (%s)", plan.ShortID(rec.ID), rec.Stack, pv.Status)
		pv.Summary = &plan.Summary{}
	}
	if r := rec.RequestedBy; r != nil && r.Name != "" {
		pv.AskedBy = strings.TrimSpace(r.Name + " " + r.Version)
	}
	if v.Stack != nil {
		pv.Dir = v.Stack.Dir
		pv.Policy = policyLine(v)
	}
	if v.Check != nil && v.Refusal == "" {
		pv.Approvable = true
		pv.Required = v.Check.Required
		pv.ApproveCommand = h.opts.ApproveCommand(rec.ID)
		if cfg, err := h.opts.Gate.Current(); err == nil {
			pv.KeyApprovers, pv.PasskeyApprovers, pv.ElsewhereApprovers = approverKinds(cfg, h.opts.Origin)
		}
	}
	pages := h.diffs.put(rec.ID, Segments(s.Diff), h.opts.DiffPageBytes)
	pv.Diff, pv.DiffPages, pv.DiffVersion, pv.DiffBytes = pages.pages[0], len(pages.pages), pages.version, len(s.Diff)
	return pv, nil
}

func distinctApprovers(prior []gate.PriorApproval) []string {
	var out []string
	for _, p := range prior {
		if !slices.Contains(out, p.Approver) {
			out = append(out, p.Approver)
		}
	}
	return out
}

// policyLine is the stack's policy in force, as plangate approve says it.
func policyLine(v *gate.ApproveView) string {
	pol := v.Stack.Policy
	return fmt.Sprintf("approvals %d, deletion_approvals %d; %s", pol.Approvals, pol.DeletionApprovals, pol.Restrictions())
}

// listingData is the listing page's.
type listingData struct {
	CSRF     string
	Pending  []*planView
	Decided  []*planView
	Corrupt  []string
	Problems []string
	Now      time.Time
	// CanRegister: the page registers passkeys for its own RP ID.
	CanRegister bool
}

func (h *Handler) listing(w http.ResponseWriter, r *http.Request, sess *session) {
	recs, damaged, err := h.opts.Gate.Store.ListAll()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "the plans cannot be listed: "+err.Error())
		return
	}
	now := h.opts.Now()
	d := listingData{CSRF: sess.csrf, Now: now, CanRegister: h.opts.Register != nil}
	for _, c := range damaged {
		d.Corrupt = append(d.Corrupt, c.Error())
	}
	// Newest first, as the store lists them.
	for _, rec := range recs {
		pending := rec.EffectiveStatus(now) == plan.StatusAwaitingApproval
		if !pending && len(d.Decided) >= maxDecided {
			continue
		}
		pv, err := h.view(r, rec.ID)
		if err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("plan %s: %v", rec.ID, err))
			continue
		}
		if pending {
			d.Pending = append(d.Pending, pv)
		} else {
			d.Decided = append(d.Decided, pv)
		}
	}
	h.render(w, "index.html", d)
}

// planData is the one-plan page's.
type planData struct {
	CSRF string
	Plan *planView
}

func (h *Handler) onePlan(w http.ResponseWriter, r *http.Request, sess *session, id string) {
	pv, err := h.view(r, id)
	if err != nil {
		h.fail(w, r, StatusOf(err), gate.ForHuman(err.Error()))
		return
	}
	h.render(w, "plan.html", planData{CSRF: sess.csrf, Plan: pv})
}

func (h *Handler) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := h.pages.ExecuteTemplate(w, name, data); err != nil {
		h.opts.Logger.Error("rendering the review page", "page", name, "err", err)
	}
}

// diffAnswer is one further page of a plan's diff.
type diffAnswer struct {
	Segments []Segment `json:"segments"`
	// Next is the page after this one; 0 at the end.
	Next int `json:"next"`
}

func (h *Handler) diffPage(w http.ResponseWriter, r *http.Request, id string) {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		h.fail(w, r, http.StatusBadRequest, "page must be a page number from 1")
		return
	}
	version := r.URL.Query().Get("v")
	pages, ok := h.diffs.get(id)
	if !ok || pages.version != version {
		// Rendered again from the plan file (the page may have outlived
		// the cache): it must be the diff the page began to show.
		pv, err := h.view(r, id)
		if err != nil {
			h.fail(w, r, StatusOf(err), gate.ForHuman(err.Error()))
			return
		}
		if pages, ok = h.diffs.get(pv.ID); !ok || pages.version != version {
			h.fail(w, r, http.StatusConflict, "the plan's diff is not the one this page began to show: reload the page")
			return
		}
	}
	if n >= len(pages.pages) {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("the diff has %d pages", len(pages.pages)))
		return
	}
	next := n + 1
	if next >= len(pages.pages) {
		next = 0
	}
	writeJSON(w, http.StatusOK, diffAnswer{Segments: pages.pages[n], Next: next})
}

// diffCache keeps the pages of the diffs last shown, so that loading
// more of a diff runs no Terraform.
type diffCache struct {
	mu    sync.Mutex
	byID  map[string]*diffPages
	order []string
}

type diffPages struct {
	version string
	pages   [][]Segment
}

const maxCachedDiffs = 32

func newDiffCache() *diffCache { return &diffCache{byID: map[string]*diffPages{}} }

func (c *diffCache) put(id string, segs []Segment, size int) *diffPages {
	sum := sha256.Sum256([]byte(PlainText(segs)))
	p := &diffPages{version: hex.EncodeToString(sum[:8]), pages: paginate(segs, size)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; !ok {
		c.order = append(c.order, id)
	}
	c.byID[id] = p
	for len(c.order) > maxCachedDiffs {
		delete(c.byID, c.order[0])
		c.order = c.order[1:]
	}
	return p
}

func (c *diffCache) get(id string) (*diffPages, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.byID[id]
	return p, ok
}
