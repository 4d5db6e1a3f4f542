package review

import (
	"errors"
	"net/http"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// approverKinds splits the approvers in force by how they sign: with a
// key (plangate approve), with a passkey registered on this page's origin
// (here), or with a passkey of another page (elsewhere: a passkey counts
// only on the page it was registered on).
func approverKinds(cfg *config.Config, origin string) (keys, passkeys, elsewhere []string) {
	for _, a := range cfg.Approvers {
		switch {
		case a.Passkey != nil && a.Passkey.Origin() == origin:
			passkeys = append(passkeys, a.Name)
		case a.Passkey != nil:
			elsewhere = append(elsewhere, a.Name+" (passkey for "+a.Passkey.Origin()+")")
		case a.PublicKey != nil:
			keys = append(keys, a.Name)
		}
	}
	return keys, passkeys, elsewhere
}

// StatusOf is the HTTP status of an error of the gate or the plan store,
// for the page and for plangate server's human API alike.
func StatusOf(err error) int {
	var refusal *gate.Refusal
	switch {
	case errors.Is(err, plan.ErrPlanNotFound), errors.Is(err, plan.ErrMalformedID):
		return http.StatusNotFound
	case errors.Is(err, plan.ErrAmbiguousPlan):
		return http.StatusBadRequest
	case errors.As(err, &refusal):
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}
