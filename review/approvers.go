package review

import (
	"errors"
	"net/http"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// approverKinds splits the approvers in force by how they sign: with a
// key (plangate approve) or a passkey (on this page).
func approverKinds(cfg *config.Config) (keys, passkeys []string) {
	for _, a := range cfg.Approvers {
		if a.PublicKey != nil {
			keys = append(keys, a.Name)
		}
	}
	return keys, passkeys
}

func statusOf(err error) int {
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
