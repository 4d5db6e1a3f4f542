package relay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// MCPPath is where a plangate server serves MCP over streamable HTTP.
const MCPPath = "/mcp"

// dialTimeout bounds connecting, not the call: a plan can take minutes
// before its response starts.
const dialTimeout = 10 * time.Second

// Endpoint is a plangate server's MCP endpoint as the relay reaches it.
type Endpoint struct {
	// Addr is the address as the user gave it, for messages.
	Addr string
	// URL is the MCP endpoint's URL; a unix socket's host is localhost.
	URL string
	// Socket is the unix socket's path, "" over TCP.
	Socket string

	client *http.Client
}

// ParseEndpoint parses --connect: unix:/path/to.sock, https://host:port,
// or, on loopback only, http://127.0.0.1:port (tcp://127.0.0.1:port, the
// server's own --listen form, is read as that). A URL without a path
// gets /mcp.
func ParseEndpoint(addr string) (*Endpoint, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		path = strings.TrimPrefix(path, "//") // unix:///run/x.sock
		if path == "" {
			return nil, fmt.Errorf("--connect %q names no socket: use unix:/path/to/plangate.sock", addr)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("--connect %q: %w", addr, err)
		}
		return &Endpoint{Addr: addr, URL: "http://localhost" + MCPPath, Socket: abs, client: unixClient(abs)}, nil
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("--connect %q is not an address: use unix:/path/to/plangate.sock, https://host:port or http://127.0.0.1:port", addr)
	}
	switch u.Scheme {
	case "https":
	case "http", "tcp":
		if !loopback(u.Hostname()) {
			return nil, fmt.Errorf("--connect %q: plain HTTP would send the agent token unencrypted to %s: use https://%s (a server off loopback serves TLS)", addr, u.Hostname(), u.Host)
		}
		u.Scheme = "http"
	default:
		return nil, fmt.Errorf("--connect %q: unknown scheme %q: use unix:/path/to/plangate.sock, https://host:port or http://127.0.0.1:port", addr, u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--connect %q: only scheme, host, port and path belong in the address (the token goes in --token-file)", addr)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = MCPPath
	}
	return &Endpoint{Addr: addr, URL: u.String(), client: tcpClient()}, nil
}

// HTTPClient is the client that reaches the server (over its socket, or
// TCP with keep-alives).
func (e *Endpoint) HTTPClient() *http.Client { return e.client }

// Base is the server's URL without the MCP path: where its other
// endpoints (the human API) are.
func (e *Endpoint) Base() string { return strings.TrimSuffix(e.URL, MCPPath) }

// TCP reports whether the endpoint is reached over TCP, where the server
// asks for an agent token.
func (e *Endpoint) TCP() bool { return e.Socket == "" }

// Host is what messages call the server: the socket or host:port.
func (e *Endpoint) Host() string {
	if e.Socket != "" {
		return e.Socket
	}
	u, _ := url.Parse(e.URL)
	return u.Host
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func unixClient(path string) *http.Client {
	d := &net.Dialer{Timeout: dialTimeout}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}}
}

func tcpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// A server host that vanishes without closing the connection is
	// noticed within a minute, and the pending calls answered, instead
	// of after the kernel's default of two hours.
	d := &net.Dialer{Timeout: dialTimeout, KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 4}}
	t.DialContext = d.DialContext
	t.Proxy = nil // an agent token is for plangate, not for a proxy
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t}
}
