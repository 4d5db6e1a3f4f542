package review

import (
	"html/template"
	"strings"
	"time"

	"github.com/plangate/plangate/plan"
)

var templateFuncs = template.FuncMap{
	"join":       strings.Join,
	"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"inputValue": plan.FormatInputValue,
	"statusText": statusText,
}

// statusText is a plan status as the page's badge says it.
func statusText(s string) string {
	switch plan.Status(s) {
	case plan.StatusAwaitingApproval:
		return "awaiting approval"
	case plan.StatusNoChanges:
		return "no changes"
	case plan.StatusBlocked:
		return "BLOCKED — never approvable"
	case plan.StatusTampered:
		return "TAMPERED — never approvable"
	}
	return strings.ReplaceAll(s, "_", " ") + " — not approvable"
}
