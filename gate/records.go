package gate

import (
	"errors"
	"fmt"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
)

// RecordsCheck is what plangate audit verify finds: the audit log's hash
// chain and head, then the approval ledger's. The ledger is not read when
// the log is broken, as plangate audit verify always stopped there.
type RecordsCheck struct {
	AuditLog ChainCheck  `json:"audit_log"`
	Ledger   *ChainCheck `json:"ledger,omitempty"`
}

// ChainCheck is one hash-chained file's check.
type ChainCheck struct {
	Path string `json:"path"`
	// Lines is how many lines stand verified.
	Lines int `json:"lines"`
	// BrokenLine is the first broken line (0: none, or the file could
	// not be read at all).
	BrokenLine int `json:"broken_line,omitempty"`
	// Error says what is wrong and what to do; "" when the chain is
	// intact.
	Error string `json:"error,omitempty"`
}

// Intact reports whether the chain verified.
func (c *ChainCheck) Intact() bool { return c.Error == "" }

// VerifyRecords checks the audit log, then the approval ledger.
func (g *Gate) VerifyRecords() *RecordsCheck {
	rc := &RecordsCheck{AuditLog: ChainCheck{Path: g.Audit.Path()}}
	n, err := g.Audit.Verify()
	rc.AuditLog.Lines = n
	if err != nil {
		var be *audit.BrokenError
		if errors.As(err, &be) {
			rc.AuditLog.BrokenLine = be.Line
			rc.AuditLog.Error = fmt.Sprintf("audit log %s is BROKEN at line %d: %s", g.Audit.Path(), be.Line, be.Reason)
		} else {
			rc.AuditLog.Error = err.Error()
		}
		return rc
	}
	rc.Ledger = &ChainCheck{Path: g.Ledger.Path()}
	n, err = g.Ledger.Verify()
	rc.Ledger.Lines = n
	if err != nil {
		var le *approvals.LedgerError
		if errors.As(err, &le) {
			rc.Ledger.BrokenLine = le.Line
		}
		rc.Ledger.Error = err.Error()
	}
	return rc
}
