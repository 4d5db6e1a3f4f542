package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
)

// The audit log over the wire (plangate audit --server), for approvers.
// The log is sent as it is on disk, line for line, a page at a time: the
// server streams each line as it reads it and holds none of them, and
// the client prints each as it arrives, so a long log is never whole in
// memory on either side. How a page ended (the log's end, more to come, a
// broken line) follows the lines, in HTTP trailers: it is known only
// once they are sent.

// Paging of GET AuditPath: ?after=<line>&limit=<lines>.
const (
	// AuditPageLines is a page's length when the client names none, and
	// the most lines one answer carries.
	AuditPageLines = 10000
)

// Trailers of an audit page.
const (
	// AuditEndTrailer is how the page ended: AuditEndComplete,
	// AuditEndMore or AuditEndBroken. An answer without it was cut short.
	AuditEndTrailer = "Plangate-Audit-End"
	// AuditErrorTrailer says, for AuditEndBroken, what stopped the read:
	// what plangate audit prints there.
	AuditErrorTrailer = "Plangate-Audit-Error"

	AuditEndComplete = "complete"
	AuditEndMore     = "more"
	AuditEndBroken   = "broken"
)

// errPageFull ends a page's read once it holds its lines.
var errPageFull = errors.New("page full")

func (h *HumanAPI) auditLog(w http.ResponseWriter, r *http.Request) {
	after, limit, err := auditPage(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, humanError{err.Error()})
		return
	}
	claims, ok := h.verifyAuditRequest(w, r, approvals.SubjectAuditLog)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Trailer", AuditEndTrailer+", "+AuditErrorTrailer)
	w.WriteHeader(http.StatusOK)
	sent := 0
	err = h.Gate.Audit.ReadAfter(after, func(_ int, _ audit.Event, raw []byte) error {
		if sent == limit {
			return errPageFull // a line beyond the page: there is more
		}
		sent++
		if _, err := w.Write(append(raw, '\n')); err != nil {
			return err
		}
		return nil
	})
	end := AuditEndComplete
	switch {
	case errors.Is(err, errPageFull):
		end = AuditEndMore
	case err != nil:
		end = AuditEndBroken
		// One header line: a reason never spans lines, but a trailer
		// must not either.
		w.Header().Set(AuditErrorTrailer, strings.Join(strings.Fields(err.Error()), " "))
	}
	w.Header().Set(AuditEndTrailer, end)
	if h.Logger != nil {
		h.Logger.Info("audit log read over the wire", "approver", claims.Approver, "after", after, "lines", sent, "end", end)
	}
}

// auditPage reads ?after and ?limit.
func auditPage(r *http.Request) (after, limit int, err error) {
	q := r.URL.Query()
	limit = AuditPageLines
	if v := q.Get("after"); v != "" {
		if after, err = strconv.Atoi(v); err != nil || after < 0 {
			return 0, 0, fmt.Errorf("after=%q is not a line number: the page starts after that line of the audit log (0: from the start)", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, fmt.Errorf("limit=%q is not a number of lines (1 to %d)", v, AuditPageLines)
		}
		limit = min(limit, AuditPageLines)
	}
	return after, limit, nil
}

func (h *HumanAPI) auditVerify(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.verifyAuditRequest(w, r, approvals.SubjectAuditVerify)
	if !ok {
		return
	}
	rc := h.Gate.VerifyRecords()
	if h.Logger != nil {
		h.Logger.Info("audit log verified over the wire", "approver", claims.Approver, "audit_log_intact", rc.AuditLog.Intact(), "ledger_intact", rc.Ledger != nil && rc.Ledger.Intact())
	}
	writeJSON(w, http.StatusOK, rc)
}

// verifyAuditRequest checks the request's approver-signed audit request
// for subject, answering the refusal itself. Reading the records changes
// nothing, so, as with a review, the request is not spent and not
// audited; the server's log names the approver.
func (h *HumanAPI) verifyAuditRequest(w http.ResponseWriter, r *http.Request, subject string) (*approvals.RequestClaims, bool) {
	cfg, err := h.Gate.Current()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, humanError{err.Error()})
		return nil, false
	}
	claims, err := approvals.VerifyRequest(r.Header.Get(RequestHeader), approvals.ActionAudit, subject, cfg.Approvers, time.Now().UTC())
	if err != nil {
		writeJSON(w, http.StatusForbidden, humanError{"the audit log is read by approvers: " + err.Error()})
		return nil, false
	}
	return claims, true
}
