package review

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/plangate/plangate/internal/atomicfile"
)

// EndpointFile is where a running review page says where it is, under
// the state dir: {"url": the page's URL with its secret, "pid": N}.
// The MCP server reads it (Locate) to point a client at the page.
const EndpointFile = "review/endpoint.json"

// Endpoint is the content of EndpointFile.
type Endpoint struct {
	URL string `json:"url"`
	PID int    `json:"pid"`
}

// WriteEndpoint records base (the page's URL with its secret) as this
// process's, 0600, and returns what removes it again: only while it is
// still this process's (a later page may have replaced it).
func WriteEndpoint(stateDir, base string) (remove func(), err error) {
	path := filepath.Join(stateDir, EndpointFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("review endpoint: %w", err)
	}
	b, err := json.Marshal(Endpoint{URL: base, PID: os.Getpid()})
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return nil, fmt.Errorf("review endpoint %s: %w", path, err)
	}
	return func() {
		if e, err := readEndpoint(path); err == nil && e.PID == os.Getpid() {
			_ = os.Remove(path)
		}
	}, nil
}

func readEndpoint(path string) (*Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Endpoint
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	if e.URL == "" || e.PID <= 0 {
		return nil, errors.New("incomplete review endpoint")
	}
	return &e, nil
}

// Locate returns the URL (with its secret) of the review page serving
// stateDir's plans, if one runs: its endpoint file names a live process.
func Locate(stateDir string) (base string, ok bool) {
	e, err := readEndpoint(filepath.Join(stateDir, EndpointFile))
	if err != nil {
		return "", false
	}
	// Signal 0 only asks whether the process exists (EPERM: it does,
	// as another user).
	if err := syscall.Kill(e.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "", false
	}
	return e.URL, true
}

// PlanURL is the review page of one plan: base (a page URL with its
// secret, as printed or located) with the path /review/plans/<id>.
func PlanURL(base, planID string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = Prefix + "plans/" + url.PathEscape(planID)
	u.RawPath = ""
	q := url.Values{}
	if k := u.Query().Get(SecretParam); k != "" {
		q.Set(SecretParam, k)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// PageURL is the review page of one plan without the secret: what goes
// where others may read it (an MCP client's URL elicitation, a webhook).
// MCP forbids pre-authenticated URLs in an elicitation; the page opens
// in a browser that holds a session (from the link with the secret) and
// says what to do in one that does not.
func PageURL(base, planID string) string {
	u, err := url.Parse(PlanURL(base, planID))
	if err != nil {
		return ""
	}
	u.RawQuery = ""
	return u.String()
}

// DefaultListen is where plangate review and plangate passkey register
// serve: one fixed port, since a localhost passkey approves only on the
// origin it was registered on.
const DefaultListen = "127.0.0.1:7473"

// ListenLoopback listens on addr (host:port, port 0 for any free port),
// refusing any host but loopback: the page is for this machine alone
// (plangate server serves it to others, over TLS).
func ListenLoopback(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %v: use 127.0.0.1:PORT (0: any free port)", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen %s is not a loopback address: the review page is served to this machine only (use 127.0.0.1:PORT); "+
			"to review from another machine, use the /review/ page of plangate server, over TLS", addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("--listen %s: the port is in use: another plangate review (or passkey register) runs, or another program serves there; "+
			"a page on that port is where localhost passkeys sign, so find out which (ss -ltnp 'sport = :%s') before you approve anywhere", addr, port)
	}
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln, nil
}
