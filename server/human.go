package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/review"
)

// The human side over the wire. An approver runs plangate approve
// --server on their own machine: it fetches the plan's review (the facts
// the server derived from the plan file), signs the token there with the
// approver's key (which never leaves that machine; the server holds only
// public keys), and posts it back to be recorded. Every request is signed
// by an approver: the review with a short-lived request, the approval by
// the token itself.

// HumanPath prefixes the human API.
const HumanPath = "/human/v1/"

// Human API paths and the header that carries a signed request.
const (
	ReviewPath    = HumanPath + "review"
	ApprovalsPath = HumanPath + "approvals"
	FreezePath    = HumanPath + "freeze"
	UnfreezePath  = HumanPath + "unfreeze"
	ConfigPath    = HumanPath + "config"
	PlansPath     = HumanPath + "plans"
	AcceptPath    = HumanPath + "config/accept"
	AuditPath     = HumanPath + "audit"
	VerifyPath    = HumanPath + "audit/verify"
	RequestHeader = "Plangate-Request"
)

// FreezeRequest sets the kill switch; Request is an approver-signed
// freeze request for the stack ("*" every stack).
type FreezeRequest struct {
	Stack   string `json:"stack"`
	Reason  string `json:"reason"`
	Stop    bool   `json:"stop"`
	Request string `json:"request"`
}

// UnfreezeRequest lifts it; Request is an approver-signed unfreeze request.
type UnfreezeRequest struct {
	Stack   string `json:"stack"`
	Request string `json:"request"`
}

// Unfrozen is the answer to an unfreeze.
type Unfrozen struct {
	Approver  string `json:"approver,omitempty"`
	WasFrozen bool   `json:"was_frozen"`
}

// HumanAPI answers plangate's human commands over the wire.
type HumanAPI struct {
	Gate   *gate.Gate
	Logger *slog.Logger
}

// Approved is the answer to a recorded approval.
type Approved struct {
	PlanID    string    `json:"plan_id"`
	Approver  string    `json:"approver"`
	ExpiresAt time.Time `json:"expires_at"`
}

type humanError struct {
	Error string `json:"error"`
}

func (h *HumanAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == ReviewPath && r.Method == http.MethodGet:
		h.review(w, r)
	case r.URL.Path == ApprovalsPath && r.Method == http.MethodPost:
		h.approve(w, r)
	case r.URL.Path == FreezePath && r.Method == http.MethodPost:
		h.freeze(w, r)
	case r.URL.Path == UnfreezePath && r.Method == http.MethodPost:
		h.unfreeze(w, r)
	case r.URL.Path == PlansPath && r.Method == http.MethodGet:
		h.plans(w, r)
	case r.URL.Path == ConfigPath && r.Method == http.MethodGet:
		h.configStatus(w, r)
	case r.URL.Path == AcceptPath && r.Method == http.MethodPost:
		h.configAccept(w, r)
	case r.URL.Path == AuditPath && r.Method == http.MethodGet:
		h.auditLog(w, r)
	case r.URL.Path == VerifyPath && r.Method == http.MethodGet:
		h.auditVerify(w, r)
	default:
		writeJSON(w, http.StatusNotFound, humanError{fmt.Sprintf("no such endpoint: %s %s is not part of plangate server's human API (its commands are plangate approve, plans, show, freeze, unfreeze, config and audit with --server)", r.Method, r.URL.Path)})
	}
}

func (h *HumanAPI) review(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("plan")
	cfg, err := h.Gate.Current()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{err.Error()})
		return
	}
	claims, err := approvals.VerifyRequest(r.Header.Get(RequestHeader), approvals.ActionReview, id, cfg.Approvers, time.Now().UTC())
	if err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"a review is for approvers: " + err.Error()})
		return
	}
	v, err := h.Gate.ApproveView(r.Context(), id, r.URL.Query().Get("colour") == "1", audit.Client{Name: "plangate-approve-remote", Agent: claims.Approver})
	if err != nil {
		writeJSON(w, review.StatusOf(err), humanError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *HumanAPI) approve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Plan  string `json:"plan"`
		Token string `json:"token"`
		Actor string `json:"actor"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, humanError{"the body is not {\"plan\", \"token\", \"actor\"}: " + err.Error()})
		return
	}
	a, err := h.Gate.RecordApproval(body.Plan, body.Token, body.Actor, audit.Client{Name: "plangate-approve-remote"})
	if err != nil {
		writeJSON(w, review.StatusOf(err), humanError{gate.ForHuman(err.Error())})
		return
	}
	if h.Logger != nil {
		h.Logger.Info("approval recorded", "plan_id", a.Record.ID, "approver", a.Claims.Approver)
	}
	writeJSON(w, http.StatusOK, Approved{PlanID: a.Record.ID, Approver: a.Claims.Approver, ExpiresAt: time.Unix(a.Claims.ExpiresAt, 0).UTC()})
}

func (h *HumanAPI) freeze(w http.ResponseWriter, r *http.Request) {
	var body FreezeRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Reason == "" {
		writeJSON(w, http.StatusBadRequest, humanError{"the body is not a freeze with a reason"})
		return
	}
	cfg, err := h.Gate.Current()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{err.Error()})
		return
	}
	subject := body.Stack
	if subject == "" {
		subject = approvals.SubjectAllStacks
	}
	claims, err := approvals.VerifyRequest(body.Request, approvals.ActionFreeze, subject, cfg.Approvers, time.Now().UTC())
	if err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"a freeze over the wire is signed by an approver: " + err.Error()})
		return
	}
	out, err := h.Gate.Freeze(body.Stack, body.Reason, claims.Approver, body.Stop)
	if err != nil && out == nil {
		writeJSON(w, http.StatusUnprocessableEntity, humanError{err.Error()})
		return
	}
	if err != nil {
		out.StopErrors = append(out.StopErrors, err.Error())
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *HumanAPI) unfreeze(w http.ResponseWriter, r *http.Request) {
	var body UnfreezeRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, humanError{"the body is not an unfreeze"})
		return
	}
	approver, had, err := h.Gate.Unfreeze(body.Stack, body.Request)
	if err != nil && approver == "" {
		writeJSON(w, http.StatusForbidden, humanError{err.Error()})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, humanError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, Unfrozen{Approver: approver, WasFrozen: had})
}

// PlansSubject is the subject of the signed request that lists plans.
const PlansSubject = "plans"

// PlanList is the server's plans, unreadable records apart.
type PlanList struct {
	Records []*plan.Record        `json:"records"`
	Corrupt []*plan.CorruptRecord `json:"corrupt"`
}

func (h *HumanAPI) plans(w http.ResponseWriter, r *http.Request) {
	cfg, err := h.Gate.Current()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{err.Error()})
		return
	}
	if _, err := approvals.VerifyRequest(r.Header.Get(RequestHeader), approvals.ActionReview, PlansSubject, cfg.Approvers, time.Now().UTC()); err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"the plans are listed for approvers: " + err.Error()})
		return
	}
	recs, damaged, err := h.Gate.Store.ListAll()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, humanError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, PlanList{Records: recs, Corrupt: damaged})
}

// ConfigSubject is the subject of the signed request that reads the
// server's config status.
const ConfigSubject = "config"

func (h *HumanAPI) configStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.Gate.ConfigState()
	if err != nil || st == nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{fmt.Sprint("the server's config cannot be read: ", err)})
		return
	}
	if _, err := approvals.VerifyRequest(r.Header.Get(RequestHeader), approvals.ActionReview, ConfigSubject, st.Config.Approvers, time.Now().UTC()); err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"the config status is for approvers: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st.View())
}

func (h *HumanAPI) configAccept(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Request string `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, humanError{"the body is not {\"request\"}"})
		return
	}
	st, err := h.Gate.ConfigState()
	if err != nil || st == nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{fmt.Sprint("the server's config cannot be read: ", err)})
		return
	}
	a, err := h.Gate.AcceptConfig(st, body.Request, time.Now().UTC())
	if err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"nothing was accepted: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
