package gate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tfscan"
)

// ConfigRefusal is a plan refused before Terraform started, by a reading
// of the stack's configuration: it would run code that the stack's policy
// does not allow while Terraform plans (an external data source, a
// provider from outside the allowed sources), or it cannot be read with
// certainty. Nothing ran; the refusal is audited (plan_refused).
type ConfigRefusal struct {
	Stack   string
	Reasons []string
}

func (e *ConfigRefusal) Error() string {
	return fmt.Sprintf("stack %q: refusing to plan, nothing ran: %s", e.Stack, strings.Join(e.Reasons, "; "))
}

// checkConfig reads the stack's configuration (and, after init, the
// modules Terraform downloaded into dataDir) and refuses what would run
// code at plan time that policy does not allow.
func checkConfig(st *config.Stack, dataDir string, tf tfbin.Product) error {
	rep, err := tfscan.Scan(st.Dir, dataDir)
	var ce *tfscan.ConfigError
	if errors.As(err, &ce) {
		return &ConfigRefusal{Stack: st.Name, Reasons: []string{
			"the stack's " + tf.String() + " configuration cannot be read, so " + tf.String() + " was not run:\n" + ce.Error() +
				"\nFix the " + tf.String() + " configuration, then call plan_change again"}}
	}
	if err != nil {
		return fmt.Errorf("stack %q: reading the configuration before %s runs: %w", st.Name, tf, err)
	}
	p := st.Policy
	var reasons []string
	if !p.AllowExternalData {
		for _, u := range rep.External {
			reasons = append(reasons, fmt.Sprintf(
				"%s (%s) runs a program while %s plans; allow_external_data is false for stack %q "+
					"(a human sets allow_external_data = true in its policy block in plangate.hcl to allow it)", u.Address, u.Pos, tf, st.Name))
		}
	}
	for _, pr := range rep.Providers {
		if p.ProviderAllowed(pr.Source) {
			continue
		}
		where := ""
		if len(pr.Where) > 0 {
			where = " (" + pr.Where[0].String() + ")"
		}
		allowed := "none besides the builtin one"
		if len(p.Providers) > 0 {
			allowed = strings.Join(p.ProviderPatterns(), ", ")
		}
		reasons = append(reasons, fmt.Sprintf(
			"the configuration requires provider %s%s, which is not in providers for stack %q (allowed: %s); a provider runs while %s plans, "+
				"so a human adds its source to providers in plangate.hcl to allow it", pr.Source, where, st.Name, allowed, tf))
	}
	if len(reasons) > 0 {
		return &ConfigRefusal{Stack: st.Name, Reasons: reasons}
	}
	return nil
}
