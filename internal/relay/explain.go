package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// problem is an error the relay answers a request with: what happened
// and what to do. Its text is shown to the agent and its human by the MCP
// client, so it never holds the token.
type problem struct {
	code int
	msg  string
}

// JSON-RPC error codes the relay answers with, in the range JSON-RPC
// leaves to implementations.
const (
	codeUnreachable = -32000 // the server cannot be reached or broke off
	codeRefused     = -32001 // the server refused the request: token, origin, size
	codeSession     = -32002 // the session is gone: the client must reconnect
	codeConfig      = -32003 // the relay itself is misconfigured
)

func (p *problem) Error() string { return p.msg }

// reconnect is what a "the server went away" message ends with.
const reconnect = "Once it is back, reconnect plangate in your MCP client (for example /mcp in Claude Code)"

// explainDial says why a request could not reach the server, or broke off.
func (e *Endpoint) explainDial(err error) *problem {
	where := e.Host()
	p := func(format string, args ...any) *problem {
		return &problem{code: codeUnreachable, msg: "plangate relay: " + fmt.Sprintf(format, args...)}
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalidCert x509.CertificateInvalidError
		record      tls.RecordHeaderError
		verify      *tls.CertificateVerificationError
		dns         *net.DNSError
		netErr      net.Error
	)
	switch {
	case e.Socket != "" && errors.Is(err, syscall.ENOENT):
		return p("the plangate server is not reachable: there is no socket at %s. Is `plangate server --listen unix:%s` running (for example `systemctl status plangate`), and is this the path it listens on?", where, where)
	case errors.Is(err, syscall.EACCES), errors.Is(err, os.ErrPermission):
		return p("permission denied connecting to the plangate server's socket %s: is your user in the socket's group? (`ls -l %s` shows its group, `id` lists yours; after being added to it, log in again)", where, where)
	case e.Socket != "" && errors.Is(err, syscall.ECONNREFUSED):
		return p("the plangate server is not running: the socket %s exists but nothing listens on it. Start the server (for example `systemctl start plangate`). %s", where, reconnect)
	case errors.Is(err, syscall.ECONNREFUSED):
		return p("the plangate server is not reachable: nothing listens at %s. Is `plangate server --listen tcp://%s` running, and are the host and port right?", where, where)
	case errors.As(err, &unknownCA):
		return p("TLS: the certificate of %s is not signed by an authority this machine trusts (%v). Add the server's CA to the system's trust store, or point SSL_CERT_FILE at it in the MCP client's environment", where, unknownCA)
	case errors.As(err, &hostname):
		return p("TLS: the certificate of %s is not valid for that name (%v): connect with a name the certificate holds, or have the server's certificate (--tls-cert) issued for this one", where, hostname)
	case errors.As(err, &invalidCert):
		return p("TLS: the certificate of %s is not valid: %v. The server's operator renews it (--tls-cert)", where, invalidCert)
	case errors.As(err, &verify):
		return p("TLS: the certificate of %s did not verify: %v", where, verify.Err)
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return p("TLS: %s does not speak TLS. Use http:// only for a server on loopback; a server off loopback serves TLS (--tls-cert, --tls-key). Is this the right port?", where)
	case errors.As(err, &dns):
		return p("cannot resolve %s: %v. Is the host name in --connect right?", dns.Name, dns.Err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return p("the connection to the plangate server at %s broke off (%v): the server stopped or restarted, and this call's result is lost (an apply already started runs to its end on the server: get_plan tells how it ended). %s", where, err, reconnect)
	case errors.As(err, &netErr) && netErr.Timeout():
		return p("no answer from the plangate server at %s: %v. Is the host reachable from here (firewall, VPN)?", where, err)
	}
	return p("cannot reach the plangate server at %s: %v", where, err)
}

// explainStatus says why the server answered with an HTTP error; hint is
// the start of the body the server sent.
func (r *Relay) explainStatus(status int, hint string) *problem {
	where := r.ep.Host()
	if hint != "" {
		hint = " (the server said: " + hint + ")"
	}
	switch status {
	case http.StatusUnauthorized:
		if r.token.secret == "" {
			return &problem{codeRefused, fmt.Sprintf("plangate relay: the plangate server at %s wants an agent token and none was given%s: pass --token-file with a token from `plangate agent-token add --name NAME` (run by the server's operator), in a file only you can read", where, hint)}
		}
		return &problem{codeRefused, fmt.Sprintf("plangate relay: the plangate server at %s refused the agent token in %s%s: it is mistyped, revoked or from another server. Pass --token-file with a token from `plangate agent-token add --name NAME` (`plangate agent-token list` shows the valid ones)", where, r.tokenFile, hint)}
	case http.StatusForbidden:
		return &problem{codeRefused, fmt.Sprintf("plangate relay: the plangate server at %s refused this request (403 Forbidden)%s", where, hint)}
	case http.StatusNotFound:
		if r.sessionID() != "" {
			return &problem{codeSession, fmt.Sprintf("plangate relay: the plangate server at %s no longer knows this session (it restarted, or the session expired)%s: reconnect plangate in your MCP client (for example /mcp in Claude Code) to start a new one", where, hint)}
		}
		return &problem{codeConfig, fmt.Sprintf("plangate relay: %s has no MCP endpoint at %s (404)%s: is --connect the address of a plangate server?", where, r.ep.URL, hint)}
	case http.StatusRequestEntityTooLarge:
		return &problem{codeRefused, fmt.Sprintf("plangate relay: the plangate server at %s refused a request this large (413)%s", where, hint)}
	case http.StatusTooManyRequests:
		return &problem{codeRefused, fmt.Sprintf("plangate relay: the plangate server at %s limits this agent's rate (429)%s: wait a moment and try again", where, hint)}
	}
	return &problem{codeUnreachable, fmt.Sprintf("plangate relay: the plangate server at %s answered %d %s%s", where, status, http.StatusText(status), hint)}
}

// cancelled is the answer to a request the relay gave up on because it is
// stopping.
func cancelled(ctx context.Context) *problem {
	return &problem{codeUnreachable, fmt.Sprintf("plangate relay: stopping (%v) before the server answered", context.Cause(ctx))}
}
