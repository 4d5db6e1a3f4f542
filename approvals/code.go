package approvals

import (
	"fmt"
	"strings"

	"github.com/plangate/plangate/config"
)

// maxCodeReasons bounds the blocked reasons listed one per piece of code.
const maxCodeReasons = 10

// codeReasons says why the stack's policy blocks the code a plan runs:
// provisioners unless allow_provisioners, external data sources unless
// allow_external_data, and providers outside `providers`.
func codeReasons(st *config.Stack, f Facts) []string {
	p := st.Policy
	var out []string
	more := 0
	add := func(reason string) {
		if len(out) < maxCodeReasons {
			out = append(out, reason)
		} else {
			more++
		}
	}
	for _, c := range f.Code {
		switch {
		case c.Kind == "external":
			if !p.AllowExternalData {
				add(fmt.Sprintf("%s runs an external program; allow_external_data is false for stack %q "+
					"(a human sets allow_external_data = true in its policy block in plangate.hcl to allow it)", c.Address, st.Name))
			}
		case !p.AllowProvisioners:
			add(fmt.Sprintf("%s runs a %s provisioner; allow_provisioners is false for stack %q "+
				"(a human sets allow_provisioners = true in its policy block in plangate.hcl to allow it)", c.Address, c.Kind, st.Name))
		}
	}
	for _, src := range f.Providers {
		if !p.ProviderAllowed(src) {
			allowed := "none besides the builtin one"
			if len(p.Providers) > 0 {
				allowed = strings.Join(p.ProviderPatterns(), ", ")
			}
			add(fmt.Sprintf("the plan uses provider %s, which is not in providers for stack %q (allowed: %s)", src, st.Name, allowed))
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("%d more pieces of code are not allowed by the policy (runs_code lists them all)", more))
	}
	return out
}
