package review

import (
	"errors"
	"net/http"
	"time"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
)

// Register is a passkey registration the page serves.
type Register struct {
	// Name is the approver's name.
	Name string
	// Done receives the approver block once the passkey is registered.
	Done func(block string)
}

var errNoPasskeys = errors.New("this plangate has no passkey support yet")

func (h *Handler) assertionOptions(cfg *config.Config, approver string, v *gate.ApproveView, now time.Time) ([]byte, string, error) {
	return nil, "", errNoPasskeys
}

func (h *Handler) tokenFromAssertion(payload string, response []byte) (string, error) {
	return "", errNoPasskeys
}

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request, sess *session) {
	h.fail(w, r, http.StatusNotImplemented, errNoPasskeys.Error())
}

func (h *Handler) registerBegin(w http.ResponseWriter, r *http.Request, sess *session) {
	h.fail(w, r, http.StatusNotImplemented, errNoPasskeys.Error())
}

func (h *Handler) registerFinish(w http.ResponseWriter, r *http.Request, sess *session) {
	h.fail(w, r, http.StatusNotImplemented, errNoPasskeys.Error())
}
