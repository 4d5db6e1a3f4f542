package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/review"
)

// plangate server serves the review page at /review/: the secret-bearing
// URL is in the state dir's endpoint file (never in its log), the page
// needs no agent token, and its key approvers are told the --server
// command. Over TLS, at the --hosts name, the cookie is Secure.
func TestServerServesTheReviewPage(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"loopback", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t)
			cfg := filepath.Join(dir, "plangate.hcl")
			addKeyApprover(t, cfg, "oncall")
			r := serve(t, dir)
			r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e-agent", "version": "7"}})
			r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
			id := r.callTool("plan_change", map[string]any{"stack": "web"})["structuredContent"].(map[string]any)["plan_id"].(string)

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			addr := ln.Addr().String()
			require.NoError(t, ln.Close())
			args := []string{"--listen", "tcp://" + addr}
			var roots *x509.CertPool
			if tc.tls {
				certFile, keyFile, pool := selfSigned(t, "plangate.test")
				args = append(args, "--tls-cert", certFile, "--tls-key", keyFile, "--hosts", "plangate.test")
				roots = pool
			}
			_, stderr := startServer(t, cfg, args...)
			endpoint := filepath.Join(stateDir(t, dir), review.EndpointFile)
			require.Eventually(t, func() bool { _, err := os.Stat(endpoint); return err == nil }, 10*time.Second, 20*time.Millisecond)
			base, ok := review.Locate(stateDir(t, dir))
			require.True(t, ok)
			_, port, _ := net.SplitHostPort(addr)
			origin := "http://localhost:" + port
			if tc.tls {
				origin = "https://plangate.test:" + port
			}
			require.True(t, strings.HasPrefix(base, origin+"/review/?k="), base)
			secret := strings.TrimPrefix(base, origin+"/review/?k=")
			assert.NotContains(t, stderr.String(), secret, "the secret is not logged")
			assert.Contains(t, stderr.String(), endpoint, "the log says where the URL is")

			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "plangate.test"},
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				},
			}}
			// Without the secret: refused.
			res, err := c.Get(origin + "/review/")
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
			// With it: a session, no agent token needed.
			var cookie *http.Cookie
			c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
				for _, ck := range req.Response.Cookies() {
					cookie = ck
				}
				return nil
			}
			res, err = c.Get(base)
			require.NoError(t, err)
			body := readAll(t, res)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			require.NotNil(t, cookie)
			assert.Equal(t, tc.tls, cookie.Secure)
			assert.True(t, cookie.HttpOnly)
			assert.True(t, strings.Contains(body, `data-plan-id="`+id+`"`), "the pending plan is listed")
			want := `<code class="approve-command">plangate approve --server ` + origin + ` ` + id + `</code>`
			assert.True(t, strings.Contains(body, want), "the page shows %s", want)
			// The agents' endpoint still wants its token.
			res, err = c.Post(origin+"/mcp", "application/json", strings.NewReader(`{}`))
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		})
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// selfSigned writes a self-signed certificate for host and its key.
func selfSigned(t *testing.T, host string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile, pool
}
