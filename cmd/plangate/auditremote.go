package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/relay"
	"github.com/plangate/plangate/server"
)

// maxAuditLine bounds one line of the audit log as the client reads it
// from the server (real ones are a few kilobytes).
const maxAuditLine = 16 << 20

// auditRemote is plangate audit [verify] --server: the server's records,
// printed exactly as plangate audit prints them on the server's machine.
func auditRemote(ctx context.Context, addr string, signer signingKey, sub string, raw bool, stdout io.Writer) error {
	if sub == "verify" {
		_, req, ep, err := signRemote(addr, signer, approvals.ActionAudit, approvals.SubjectAuditVerify)
		if err != nil {
			return err
		}
		var rc gate.RecordsCheck
		if err := humanCall(ctx, ep, http.MethodGet, server.VerifyPath, req, nil, &rc); err != nil {
			return err
		}
		return writeRecordsCheck(stdout, &rc)
	}
	key, req, ep, err := signRemote(addr, signer, approvals.ActionAudit, approvals.SubjectAuditLog)
	if err != nil {
		return err
	}
	for after := 0; ; {
		n, err := auditPage(ctx, ep, req, after, func(n int, line []byte) error {
			var ev audit.Event
			if err := json.Unmarshal(line, &ev); err != nil {
				return fmt.Errorf("line %d from plangate server at %s is not an audit event: %w", n, ep.Host(), err)
			}
			return writeAuditLine(stdout, ev, line, raw)
		})
		after += n
		if !errors.Is(err, errMorePages) {
			return err
		}
		if n == 0 {
			return fmt.Errorf("plangate server at %s said more of the audit log follows line %d, and sent none of it", ep.Host(), after)
		}
		// A request is good for minutes; a long log is read with a fresh
		// one for each page.
		if req, err = approvals.SignRequest(key, approvals.ActionAudit, approvals.SubjectAuditLog, time.Now().UTC()); err != nil {
			return err
		}
	}
}

// errMorePages: the page ended and the log goes on.
var errMorePages = errors.New("more pages")

// auditPage reads one page of the log, the lines after line after,
// calling fn for each (with its line number) as it arrives. It returns how many lines it read,
// and errMorePages when the log goes on.
func auditPage(ctx context.Context, ep *relay.Endpoint, req string, after int, fn func(n int, line []byte) error) (int, error) {
	q := url.Values{"after": {strconv.Itoa(after)}, "limit": {strconv.Itoa(server.AuditPageLines)}}
	res, err := humanDo(ctx, ep, http.MethodGet, server.AuditPath+"?"+q.Encode(), req, nil, nil)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(after+n, sc.Bytes()); err != nil {
			return n, err
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("reading the audit log from plangate server at %s, after line %d: %w", ep.Host(), after+n, err)
	}
	// The trailers are there once the body is read to its end.
	switch end := res.Trailer.Get(server.AuditEndTrailer); end {
	case server.AuditEndComplete:
		return n, nil
	case server.AuditEndMore:
		return n, errMorePages
	case server.AuditEndBroken:
		return n, errors.New(res.Trailer.Get(server.AuditErrorTrailer))
	default:
		return n, fmt.Errorf("the audit log from plangate server at %s was cut short after line %d (the answer has no %s)", ep.Host(), after+n, server.AuditEndTrailer)
	}
}
