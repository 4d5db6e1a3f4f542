package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/review"
)

// pageProcess is a plangate review (or passkey register) subprocess.
type pageProcess struct {
	cmd    *exec.Cmd
	url    string
	rest   chan string // stdout after the first line
	stderr *strings.Builder
	client *http.Client
}

// startPage starts the binary with args and reads its first stdout line:
// the page's URL.
func startPage(t *testing.T, args ...string) *pageProcess {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	first := make(chan string, 1)
	rest := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		first <- line
		b, _ := io.ReadAll(r)
		rest <- string(b)
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(60 * time.Second):
		t.Fatalf("no URL on stdout; stderr: %s", stderr.String())
	}
	u, err := url.Parse(strings.TrimSpace(line))
	require.NoError(t, err, line)
	jar, _ := cookiejar.New(nil)
	addr := "127.0.0.1:" + u.Port()
	p := &pageProcess{cmd: cmd, url: strings.TrimSpace(line), rest: rest, stderr: &stderr, client: &http.Client{
		Jar: jar,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}},
	}}
	return p
}

func (p *pageProcess) origin() string {
	u, _ := url.Parse(p.url)
	return u.Scheme + "://" + u.Host
}

// open fetches the page's URL as a browser does (the redirect that drops
// the secret included) and returns the page and its CSRF token.
func (p *pageProcess) open(t *testing.T) (string, string) {
	t.Helper()
	res, err := p.client.Get(p.url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	assert.NotContains(t, res.Request.URL.String(), "k=", "the secret is gone from the address")
	m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(string(body))
	require.Len(t, m, 2)
	return string(body), m[1]
}

func (p *pageProcess) post(t *testing.T, path, csrf string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, p.origin()+path, strings.NewReader(string(b)))
	req.Header.Set("Origin", p.origin())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(review.CSRFHeader, csrf)
	res, err := p.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

func (p *pageProcess) wait(t *testing.T) (string, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return <-p.rest, err
	case <-time.After(30 * time.Second):
		t.Fatalf("the page did not exit; stderr: %s", p.stderr.String())
		return "", nil
	}
}

var pageURL = regexp.MustCompile(`^http://localhost:[0-9]+/review/\?k=[A-Za-z0-9_-]{43}$`)

// plangate review, as a human runs it: the URL first on stdout, the page
// with the pending plan, the endpoint file while it runs, a clean exit on
// SIGTERM.
func TestReviewCommand(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	addKeyApprover(t, cfg, "oncall")
	r := serve(t, dir)
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e-agent", "version": "7"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)

	p := startPage(t, "review", "--no-browser", "--config", cfg, "--listen", "127.0.0.1:0")
	assert.Regexp(t, pageURL, p.url)
	endpoint := filepath.Join(stateDir(t, dir), review.EndpointFile)
	info, err := os.Stat(endpoint)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	located, ok := review.Locate(stateDir(t, dir))
	require.True(t, ok)
	assert.Equal(t, p.url, located)

	page, _ := p.open(t)
	assert.Contains(t, page, `data-plan-id="`+id+`" data-status="awaiting_approval"`)
	assert.Contains(t, page, `<code class="approve-command">plangate approve `+id+`</code>`)
	show, err := exec.Command(binary, "show", "--config", cfg, id).Output()
	require.NoError(t, err)
	diff := regexp.MustCompile(`(?s)<pre class="diff" tabindex="0">\n(.*?)</pre>`).FindStringSubmatch(page)
	require.Len(t, diff, 2)
	plain := html.UnescapeString(regexp.MustCompile(`</?span[^>]*>`).ReplaceAllString(diff[1], ""))
	assert.Contains(t, plain, "# terraform_data.web[1] will be created")
	assert.Contains(t, string(show), plain, "the page's diff is the CLI's")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	_, err = p.wait(t)
	assert.NoError(t, err, "a clean exit on SIGTERM; stderr: %s", p.stderr.String())
	assert.NoFileExists(t, endpoint, "removed on exit")
	_, ok = review.Locate(stateDir(t, dir))
	assert.False(t, ok)
}

// addKeyApprover appends the block plangate keygen prints for name.
func addKeyApprover(t *testing.T, cfg, name string) {
	t.Helper()
	out, err := exec.Command(binary, "keygen", "--name", name, "--out", filepath.Join(t.TempDir(), name+".key")).CombinedOutput()
	require.NoError(t, err, string(out))
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + string(out[strings.Index(string(out), "approver \""+name+"\" {"):]))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestReviewCommandRefusesOffLoopback(t *testing.T) {
	dir := project(t)
	for _, args := range [][]string{
		{"review", "--no-browser", "--config", filepath.Join(dir, "plangate.hcl"), "--listen", "0.0.0.0:0"},
		{"passkey", "register", "--name", "alice", "--no-browser", "--listen", "0.0.0.0:0"},
	} {
		cmd := exec.Command(binary, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		require.Error(t, err, "%v", args)
		assert.Empty(t, stdout.String(), "%v", args)
		assert.Contains(t, stderr.String(), "is not a loopback address", "%v", args)
	}
}

// plangate passkey register, driven by a software authenticator in place
// of the browser's: the URL first, then the approver block, then exit.
func TestPasskeyRegisterCommand(t *testing.T) {
	p := startPage(t, "passkey", "register", "--name", "alice", "--no-browser", "--listen", "127.0.0.1:0")
	assert.Regexp(t, `^http://localhost:[0-9]+/review/register\?k=[A-Za-z0-9_-]{43}$`, p.url)
	page, csrf := p.open(t)
	assert.Contains(t, page, `data-action="register"`)
	code, opts := p.post(t, "/review/api/register/begin", csrf, map[string]any{})
	require.Equal(t, http.StatusOK, code, string(opts))
	auth, err := passkeytest.New()
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: p.origin()})
	require.NoError(t, err)
	code, body := p.post(t, "/review/api/register/finish", csrf, map[string]json.RawMessage{"response": resp})
	require.Equal(t, http.StatusOK, code, string(body))
	var got struct{ Block string }
	require.NoError(t, json.Unmarshal(body, &got))

	out, err := p.wait(t)
	require.NoError(t, err, p.stderr.String())
	assert.Contains(t, out, "Paste this into plangate.hcl:\n\n"+got.Block)
	assert.Contains(t, out, "plangate config accept")
	assert.True(t, strings.HasPrefix(got.Block, "approver \"alice\" {\n  passkey = \"webauthn:localhost:"), got.Block)
}
