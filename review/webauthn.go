package review

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/passkey"
)

// assertionOptions makes the token payload for approver and the plan as
// v checked it, and the WebAuthn options whose challenge is its SHA-256,
// for the approver's passkey alone.
func (h *Handler) assertionOptions(cfg *config.Config, approver string, v *gate.ApproveView, now time.Time) ([]byte, string, error) {
	a, ok := cfg.Approver(approver)
	if !ok || a.Passkey == nil {
		return nil, "", fmt.Errorf("approver %q has no passkey in plangate.hcl", approver)
	}
	chk := v.Check
	payloadB64, _, err := approvals.NewPayload(approver, v.Record.ID, chk.SHA256, v.Record.Stack, chk.ExpiresAt, now, chk.ExpiresAt.Sub(now))
	if err != nil {
		return nil, "", err
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadB64)
	if err != nil {
		return nil, "", err
	}
	options, err := passkey.AssertionOptions(h.opts.RPID, payload, []*passkey.Credential{a.Passkey})
	if err != nil {
		return nil, "", err
	}
	return options, payloadB64, nil
}

func (h *Handler) tokenFromAssertion(payloadB64 string, response []byte) (string, error) {
	return passkey.TokenFromAssertion(payloadB64, response)
}

// Register is a passkey registration the page serves (plangate passkey
// register).
type Register struct {
	// Name is the approver's name ("": the page asks for it, as
	// plangate server's does).
	Name string
	// Done receives the approver block once the passkey is registered,
	// after the page has it.
	Done func(block string)
}

const registerKey = "register"

// approverName is what a registration page accepts as a name.
var approverName = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request, sess *session) {
	h.render(w, "register.html", map[string]string{"CSRF": sess.csrf, "Name": h.opts.Register.Name, "RPID": h.opts.RPID})
}

// registerRequest begins a registration; Name only where the page asks.
type registerRequest struct {
	Name string `json:"name,omitempty"`
}

func (h *Handler) registerBegin(w http.ResponseWriter, r *http.Request, sess *session) {
	var req registerRequest
	if err := decodeBody(r, &req); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	name := h.opts.Register.Name
	if name == "" {
		name = req.Name
	}
	if !approverName.MatchString(name) {
		h.fail(w, r, http.StatusBadRequest, "the approver's name must be 1 to 64 letters, digits, '.', '_' or '-'")
		return
	}
	options, reg, err := passkey.BeginRegistration(h.opts.RPID, name)
	if err != nil {
		h.fail(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	h.sessions.begin(sess, registerKey, &ceremony{state: reg})
	writeRaw(w, options)
}

// registered is the answer to a finished registration.
type registered struct {
	Block string `json:"block"`
}

func (h *Handler) registerFinish(w http.ResponseWriter, r *http.Request, sess *session) {
	var req struct {
		Response json.RawMessage `json:"response"`
	}
	if err := decodeBody(r, &req); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	c, ok := h.sessions.finish(sess, registerKey)
	reg, _ := func() (*passkey.Registration, bool) {
		if !ok {
			return nil, false
		}
		x, ok := c.state.(*passkey.Registration)
		return x, ok
	}()
	if reg == nil {
		h.fail(w, r, http.StatusConflict, "no registration was begun on this page (or it took over 5 minutes): press the button again")
		return
	}
	cred, err := reg.Finish(h.opts.Origin, req.Response)
	if err != nil {
		h.opts.Logger.Warn("passkey registration refused", "err", err)
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	block := cred.ApproverBlock(reg.Approver)
	h.opts.Logger.Info("passkey registered: its approver block waits to be pasted into plangate.hcl and accepted", "approver", reg.Approver, "rp_id", cred.RPID)
	writeJSON(w, http.StatusOK, registered{Block: block})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if h.opts.Register.Done != nil {
		h.opts.Register.Done(block)
	}
}
