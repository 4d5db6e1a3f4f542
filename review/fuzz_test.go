package review

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// completeSGR is what Segments takes as style.
var completeSGR = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestSegments(t *testing.T) {
	in := "\x1b[1m  # a\x1b[0m will be destroyed\n  \x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m x\n\x1b[1;31mred bold\x1b[0m\x1b[1m\x1b[0m"
	segs := Segments(in)
	assert.Equal(t, []Segment{
		{Class: "ansi-bold", Text: "  # a"}, {Text: " will be destroyed\n  "}, {Class: "ansi-red", Text: "-"}, {Text: "/"},
		{Class: "ansi-green", Text: "+"}, {Text: " x\n"}, {Class: "ansi-bold ansi-red", Text: "red bold"},
	}, segs)
	// An escape the renderer never writes, or half of one, is text: a
	// value an agent chose cannot hide in the page what the CLI shows.
	for _, s := range []string{"a\x1b[31", "\x1b]0;title\x07", "\x1b[?25l", "\x1b"} {
		assert.Equal(t, s, PlainText(Segments(s)), "%q", s)
	}
}

func TestPaginate(t *testing.T) {
	segs := Segments(strings.Repeat("\x1b[31m-\x1b[0m line of text\n", 100) + strings.Repeat("é", 300))
	pages := paginate(segs, 64)
	require.Greater(t, len(pages), 10)
	var all strings.Builder
	for i, p := range pages {
		txt := PlainText(p)
		assert.LessOrEqual(t, len(txt), 64, "page %d", i)
		if i < len(pages)-1 && !strings.ContainsRune(txt, 'é') {
			assert.True(t, strings.HasSuffix(txt, "\n"), "page %d ends at a line end: %q", i, txt)
		}
		all.WriteString(txt)
	}
	assert.Equal(t, PlainText(segs), all.String())
	assert.Len(t, paginate(nil, 64), 1, "an empty diff is one empty page")
}

// FuzzSegments: whatever the diff holds (an agent chooses values in
// it), the page's text is the diff without the SGR escapes, on every
// page, and the classes are only the renderer's.
func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "plain\n", "\x1b[1m  # x\x1b[0m\n", "\x1b[31m-\x1b[0m", "\x1b[", "\x1b[1;31;32;36;0;1m", "é\x1b[33mé", "\x1b[999999999999999999999m"} {
		f.Add(s, 16)
	}
	allowed := map[string]bool{"": true}
	for _, b := range []string{"", "ansi-bold "} {
		for _, c := range []string{"ansi-red", "ansi-green", "ansi-yellow", "ansi-cyan", ""} {
			allowed[strings.TrimSpace(b+c)] = true
		}
	}
	f.Fuzz(func(t *testing.T, s string, size int) {
		segs := Segments(s)
		want := completeSGR.ReplaceAllString(s, "")
		if got := PlainText(segs); got != want {
			t.Fatalf("text %q, want %q", got, want)
		}
		for _, sg := range segs {
			if !allowed[sg.Class] || sg.Text == "" {
				t.Fatalf("segment %+v", sg)
			}
		}
		size = 1 + abs(size)%4096
		var all strings.Builder
		for _, p := range paginate(segs, size) {
			all.WriteString(PlainText(p))
		}
		if all.String() != want {
			t.Fatalf("pages join to %q, want %q", all.String(), want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// FuzzRequests: any request to the page — path, query, headers, body —
// is answered without a panic, and nothing but the secret's own link
// opens a session.
func FuzzRequests(f *testing.F) {
	secret := NewSecret()
	h, err := New(Options{Register: &Register{Name: "alice"}, Origin: "http://localhost:8123", Secret: secret})
	require.NoError(f, err)
	f.Add("GET", "/review/?k="+secret, "localhost:8123", "", "", []byte(nil))
	f.Add("POST", "/review/api/register/begin", "localhost:8123", "http://localhost:8123", "x", []byte(`{}`))
	f.Add("POST", "/review/api/plans/x/approve", "localhost:8123", "http://localhost:8123", "", []byte(`{"approver":"a","response":{}}`))
	f.Add("GET", "/review/api/plans/x/diff?page=99999999999999999999&v=", "localhost:8123", "", "", []byte(nil))
	f.Add("GET", "/review/static/../../etc/passwd", "localhost:8123", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, host, origin, csrf string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t") || strings.ContainsAny(method, " \r\n\t/") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://localhost:8123"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Host = host
		req.Header.Set("Origin", origin)
		req.Header.Set(CSRFHeader, csrf)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		opened := len(rec.Result().Cookies()) > 0
		if opened && (req.URL.Query().Get(SecretParam) != secret || method != http.MethodGet || !strings.EqualFold(host, "localhost:8123")) {
			t.Fatalf("%s %s (Host %q) opened a session", method, target, host)
		}
		if rec.Code == http.StatusOK && method == http.MethodPost {
			t.Fatalf("%s %s: a POST without a session succeeded", method, target)
		}
	})
}

func TestEndpointFile(t *testing.T) {
	dir := t.TempDir()
	_, ok := Locate(dir)
	assert.False(t, ok, "no page")
	base := "http://localhost:8123/review/?k=" + NewSecret()
	remove, err := WriteEndpoint(dir, base)
	require.NoError(t, err)
	info, err := os.Stat(filepath.Join(dir, EndpointFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the URL carries the secret")
	got, ok := Locate(dir)
	require.True(t, ok)
	assert.Equal(t, base, got)
	assert.Equal(t, "http://localhost:8123/review/plans/0193abcd-0000-4000-8000-000000000000?k="+strings.TrimPrefix(base, "http://localhost:8123/review/?k="),
		PlanURL(got, "0193abcd-0000-4000-8000-000000000000"))
	remove()
	_, ok = Locate(dir)
	assert.False(t, ok, "gone on exit")

	// A page that died without removing it is not located.
	require.NoError(t, os.WriteFile(filepath.Join(dir, EndpointFile), []byte(`{"url":"`+base+`","pid":999999999}`), 0o600))
	_, ok = Locate(dir)
	assert.False(t, ok, "a dead pid")
}
