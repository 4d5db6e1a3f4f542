package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
)

// wireKeys makes an approver key for each name (the first ones, approvers,
// get their block appended to cfg; the rest are keys no approver block
// names) and returns the key files by name.
func wireKeys(t *testing.T, cfg string, approvers []string, others ...string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for i, name := range append(append([]string{}, approvers...), others...) {
		keys[name] = filepath.Join(t.TempDir(), name+".key")
		out, err := exec.Command(binary, "keygen", "--name", name, "--out", keys[name]).CombinedOutput()
		require.NoError(t, err, string(out))
		if i < len(approvers) {
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("\n" + string(out[strings.Index(string(out), fmt.Sprintf("approver %q {", name)):]))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
	}
	return keys
}

// remoteCmd runs the binary "on another machine": another directory, no
// plangate.hcl, $PLANGATE_SERVER set.
func remoteCmd(t *testing.T, server string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PLANGATE_CONFIG=", "PLANGATE_SERVER="+server)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

// socketGet makes a raw GET to the server's unix socket.
func socketGet(t *testing.T, sock, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return httpGet(t, hc, "http://localhost"+path, header)
}

func httpGet(t *testing.T, hc *http.Client, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

// plangate audit [verify] --server: an approver reads the server's audit
// log from another machine, over the socket and over TCP, and sees what
// plangate audit prints on the server's machine, byte for byte; a key no
// approver block names, an agent token and a request without a signed
// request read nothing; reseal stays on the server's machine.
func TestAuditOverTheWire(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	keys := wireKeys(t, cfg, []string{"alice"}, "mallory")
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	_, serverLog := startServer(t, cfg, "--listen", "unix:"+sock)
	c := unixClient(t, sock, "ide")
	pc := call(t, c, "plan_change", map[string]any{"stack": "web"})
	require.False(t, pc.IsError, textOfResult(pc))
	out, stderr, code := remoteCmd(t, "unix:"+sock, "freeze", "web", "--reason", "audit over the wire", "--key", keys["alice"])
	require.Equal(t, 0, code, out+stderr)

	local := func(args ...string) (string, string, int) {
		t.Helper()
		return runBinary(t, append(args, "--config", cfg)...)
	}
	for _, args := range [][]string{{"audit"}, {"audit", "--json"}, {"audit", "verify"}} {
		want, stderr, code := local(args...)
		require.Equal(t, 0, code, stderr)
		got, stderr, code := remoteCmd(t, "unix:"+sock, append(args, "--key", keys["alice"])...)
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, want, got, "plangate %s --server prints what plangate %s prints on the server", strings.Join(args, " "), strings.Join(args, " "))
	}
	listing, _, _ := local("audit")
	assert.Contains(t, listing, "plan_created")
	assert.Contains(t, listing, `reason="audit over the wire"`)
	verify, _, _ := local("audit", "verify")
	assert.Equal(t, 2, strings.Count(verify, "hash chain intact"), verify)
	assert.Contains(t, serverLog.String(), "audit log read over the wire")
	assert.Contains(t, serverLog.String(), "approver=alice")

	t.Run("refused", func(t *testing.T) {
		for _, args := range [][]string{{"audit"}, {"audit", "verify"}} {
			out, stderr, code := remoteCmd(t, "unix:"+sock, append(args, "--key", keys["mallory"])...)
			assert.Equal(t, 1, code)
			assert.Empty(t, out, "a key no approver block names reads nothing")
			assert.Contains(t, stderr, "the audit log is read by approvers")
			assert.Contains(t, stderr, `approver "mallory", who is not an approver`)
		}
		res, body := socketGet(t, sock, "/human/v1/audit", nil)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "no Plangate-Request header")
		assert.Contains(t, body, "the audit log is read by approvers")
		assert.NotContains(t, body, "plan_created")
		res, _ = socketGet(t, sock, "/human/v1/audit/verify", nil)
		assert.Equal(t, http.StatusForbidden, res.StatusCode)

		out, stderr, code = remoteCmd(t, "unix:"+sock, "audit", "reseal", "--reason", "from afar", "--key", keys["alice"])
		assert.Equal(t, 1, code, out)
		assert.Contains(t, stderr, "audit reseal is not done over the wire")
		assert.Contains(t, stderr, "on the server's machine")
	})

	t.Run("over TCP, where agents need tokens", func(t *testing.T) {
		out, err := exec.Command(binary, "agent-token", "add", "--name", "ci", "--config", cfg).Output()
		require.NoError(t, err)
		token := strings.TrimSpace(string(out))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		startServer(t, cfg, "--listen", "tcp://"+addr)

		want, _, _ := local("audit")
		got, stderr, code := remoteCmd(t, "http://"+addr, "audit", "--key", keys["alice"])
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, want, got)
		want, _, _ = local("audit", "verify")
		got, stderr, code = remoteCmd(t, "http://"+addr, "audit", "verify", "--key", keys["alice"])
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, want, got)

		// An agent's token is no approver's signature.
		res, body := httpGet(t, http.DefaultClient, "http://"+addr+"/human/v1/audit", map[string]string{"Authorization": "Bearer " + token})
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
		assert.NotContains(t, body, "plan_created")
	})

	// A page at a time: ?after and ?limit, the end in a trailer.
	t.Run("pages", func(t *testing.T) {
		now, _, _ := local("audit")
		n := strings.Count(now, "\n")
		require.GreaterOrEqual(t, n, 3)
		for _, page := range []struct {
			query string
			lines int
			end   string
		}{
			{"after=0&limit=2", 2, "more"},
			{fmt.Sprintf("after=%d&limit=2", n-2), 2, "complete"},
			{fmt.Sprintf("after=%d", n+5), 0, "complete"},
		} {
			req := signedAuditRequest(t, keys["alice"])
			res, body := socketGet(t, sock, "/human/v1/audit?"+page.query, map[string]string{"Plangate-Request": req})
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			assert.Equal(t, page.lines, strings.Count(body, "\n"), page.query)
			assert.Equal(t, page.end, res.Trailer.Get("Plangate-Audit-End"), page.query)
		}
		res, _ := socketGet(t, sock, "/human/v1/audit?after=-1", map[string]string{"Plangate-Request": signedAuditRequest(t, keys["alice"])})
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	})

	// A log longer than a page (10,000 lines) is read page after page; a
	// line that is not an event stops both commands at the same place, with
	// the same words.
	t.Run("a long log, then a broken line", func(t *testing.T) {
		logPath := filepath.Join(stateDir(t, dir), "audit.jsonl")
		var b strings.Builder
		const lines = 10_005
		for i := 1; i <= lines; i++ {
			fmt.Fprintf(&b, `{"seq":%d,"time":"2026-03-14T12:00:00Z","event":"freeze","stack":"web","actor":"oncall","reason":"r%d","prev_sha256":"%s"}`+"\n", i, i, strings.Repeat("0", 64))
		}
		require.NoError(t, os.WriteFile(logPath, []byte(b.String()), 0o600))
		want, stderr, code := local("audit", "--json")
		require.Equal(t, 0, code, stderr)
		require.Equal(t, lines, strings.Count(want, "\n"))
		got, stderr, code := remoteCmd(t, "unix:"+sock, "audit", "--json", "--key", keys["alice"])
		require.Equal(t, 0, code, stderr)
		assert.True(t, want == got, "the two pages are the whole log, in order")
		assert.Contains(t, serverLog.String(), "after=10000 lines=5 end=complete", "the second page")

		broken := strings.Replace(b.String(), `"reason":"r10003",`, `"reason":"r10003"`, 1)
		require.NoError(t, os.WriteFile(logPath, []byte(broken), 0o600))
		want, wantErr, code := local("audit")
		assert.Equal(t, 1, code)
		assert.Contains(t, wantErr, "line 10003: not a valid event")
		got, gotErr, code := remoteCmd(t, "unix:"+sock, "audit", "--key", keys["alice"])
		assert.Equal(t, 1, code)
		assert.True(t, want == got, "the same lines before the broken one")
		assert.Equal(t, wantErr, gotErr)
	})
}

// signedAuditRequest is what plangate audit --server sends: a request
// to read the log, signed with key.
func signedAuditRequest(t *testing.T, key string) string {
	t.Helper()
	k, err := approvals.ReadPrivateKey(key, nil)
	require.NoError(t, err)
	req, err := approvals.SignRequest(k, approvals.ActionAudit, approvals.SubjectAuditLog, time.Now().UTC())
	require.NoError(t, err)
	return req
}
