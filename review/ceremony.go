package review

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/plangate/plangate/gate"
)

// The WebAuthn ceremonies, server side. Approving: the server makes the
// token payload for the approver and the plan as the gate checked it just
// now, and the challenge is the payload's SHA-256; the browser's
// assertion comes back, the server assembles the pgt2 token from it and
// has the gate record it (which verifies it). Nothing is approved
// without the assertion, and a plan that cannot be approved gets no
// challenge.

// challengeRequest is the page's request for an approval challenge.
type challengeRequest struct {
	Approver string `json:"approver"`
}

func (h *Handler) challenge(w http.ResponseWriter, r *http.Request, sess *session, id string) {
	var req challengeRequest
	if err := decodeBody(r, &req); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	v, err := h.opts.Gate.ApproveView(r.Context(), id, false, client)
	if err != nil {
		h.fail(w, r, StatusOf(err), gate.ForHuman(err.Error()))
		return
	}
	if v.Refusal != "" || v.Check == nil {
		h.fail(w, r, http.StatusConflict, "not approvable: "+v.Refusal)
		return
	}
	cfg, err := h.opts.Gate.Current()
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	if _, passkeys, _ := approverKinds(cfg, h.opts.Origin); !slices.Contains(passkeys, req.Approver) {
		h.fail(w, r, http.StatusBadRequest, "approver "+quote(req.Approver)+" has no passkey for this page ("+h.opts.Origin+") in plangate.hcl: passkey approvers approve here; key approvers run plangate approve")
		return
	}
	now := h.opts.Now().UTC()
	options, payload, err := h.assertionOptions(cfg, req.Approver, v, now)
	if err != nil {
		h.fail(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	h.sessions.begin(sess, v.Record.ID, &ceremony{approver: req.Approver, payload: payload})
	h.opts.Logger.Info("passkey approval begun", "plan_id", v.Record.ID, "approver", req.Approver)
	writeRaw(w, options)
}

// approveRequest carries the browser's assertion.
type approveRequest struct {
	Approver string          `json:"approver"`
	Response json.RawMessage `json:"response"`
}

// approved is the answer to a recorded passkey approval.
type approved struct {
	PlanID    string    `json:"plan_id"`
	Approver  string    `json:"approver"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// Approvals is the plan's Approvals line as of this approval ("":
	// the audit log could not be read; the page keeps its line).
	Approvals string `json:"approvals,omitempty"`
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request, sess *session, id string) {
	var req approveRequest
	if err := decodeBody(r, &req); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	rec, err := h.opts.Gate.Store.Get(id)
	if err != nil {
		h.fail(w, r, StatusOf(err), gate.ForHuman(err.Error()))
		return
	}
	c, ok := h.sessions.finish(sess, rec.ID)
	if !ok || c.approver != req.Approver {
		h.fail(w, r, http.StatusConflict, "no approval of this plan was begun on this page (or it took over 5 minutes): press the approve button again")
		return
	}
	token, err := h.tokenFromAssertion(c.payload, req.Response)
	if err != nil {
		h.opts.Logger.Warn("passkey approval refused", "plan_id", rec.ID, "approver", c.approver, "err", err)
		h.fail(w, r, http.StatusBadRequest, "the passkey's answer is not an approval: "+err.Error())
		return
	}
	a, err := h.opts.Gate.RecordApproval(rec.ID, token, h.opts.Actor, client)
	if err != nil {
		h.opts.Logger.Warn("passkey approval refused", "plan_id", rec.ID, "approver", c.approver, "err", err)
		h.fail(w, r, StatusOf(err), "not approved: "+gate.ForHuman(err.Error()))
		return
	}
	h.opts.Logger.Info("passkey approval recorded", "plan_id", a.Record.ID, "approver", a.Claims.Approver)
	out := approved{PlanID: a.Record.ID, Approver: a.Claims.Approver, Token: a.Token, ExpiresAt: time.Unix(a.Claims.ExpiresAt, 0).UTC()}
	if prior, err := h.opts.Gate.PriorApprovals(a.Record.ID); err == nil {
		out.Approvals = approvalsLine(a.Required, prior)
	}
	writeJSON(w, http.StatusOK, out)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
