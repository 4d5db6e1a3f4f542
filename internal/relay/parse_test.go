package relay

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name   string
		stream string
		want   []event
		err    error
	}{
		{"mcp-go's events", "event: message\ndata: {\"a\":1}\n\nevent: message\ndata: {\"b\":2}\n\n",
			[]event{{Data: []byte(`{"a":1}`)}, {Data: []byte(`{"b":2}`)}}, io.EOF},
		{"ids and retry", "id: 7\nretry: 1500\ndata: x\n\n", []event{{Data: []byte("x"), ID: "7", Retry: 1500 * time.Millisecond}}, io.EOF},
		{"CRLF and comments", ": keep-alive\r\ndata: x\r\n\r\n", []event{{Data: []byte("x")}}, io.EOF},
		{"data over lines", "data: {\"a\":\ndata: 1}\n\n", []event{{Data: []byte("{\"a\":\n1}")}}, io.EOF},
		{"id without data is no event", "id: 3\n\ndata: y\n\n", []event{{Data: []byte("y"), ID: "3"}}, io.EOF},
		{"cut off mid-event", "data: {\"a\":1}\n\ndata: {\"b\"", []event{{Data: []byte(`{"a":1}`)}}, io.ErrUnexpectedEOF},
		{"event without its blank line", "data: x\n", nil, io.EOF},
		{"bad retry is ignored", "retry: soon\ndata: x\n\n", []event{{Data: []byte("x")}}, io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newSSEReader(strings.NewReader(tc.stream))
			var got []event
			var err error
			for {
				var ev event
				if ev, err = r.Next(); err != nil {
					break
				}
				got = append(got, ev)
			}
			assert.Equal(t, tc.want, got)
			assert.ErrorIs(t, err, tc.err)
		})
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("event: message\ndata: {\"a\":1}\n\n"))
	f.Add([]byte("id: 1\r\nretry: 10\r\ndata: x\r\ndata: y\r\n\r\n: c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newSSEReader(strings.NewReader(string(b)))
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if i > len(b) || len(ev.Data) > len(b) {
				t.Fatalf("more out than in: event %d, %d bytes of data from %d", i, len(ev.Data), len(b))
			}
		}
	})
}

func TestParseToken(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"pgt_abc\n", "pgt_abc", ""},
		{"  pgt_abc  \r\nsecond line\n", "pgt_abc", ""},
		{"", "", "first line is empty"},
		{"\npgt_abc", "", "first line is empty"},
		{"Bearer pgt_abc", "", "character no token has"},
		{"pgt\x00abc", "", "character no token has"},
		{"pgt_é", "", "character no token has"},
	} {
		got, err := parseToken([]byte(tc.in))
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got)
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte("pgt_abc\n"))
	f.Add([]byte("\r\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err != nil {
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00") {
			t.Fatalf("token %q could not go into a header as it is", tok)
		}
	})
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("pgt_secret\n"), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	tok, err := ReadToken(write("ok", 0o600))
	require.NoError(t, err)
	assert.Equal(t, "pgt_secret", tok.secret)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		_, err := ReadToken(write("open", mode))
		assert.ErrorContains(t, err, "chmod 600", "mode %o", mode)
	}
	_, err = ReadToken(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "plangate agent-token add")
	_, err = ReadToken(dir)
	assert.ErrorContains(t, err, "not a regular file")
}

func TestTokenNeverPrints(t *testing.T) {
	tok := Token{secret: "pgt_secret"}
	for _, s := range []string{tok.String(), tok.GoString(), tok.LogValue().String()} {
		assert.NotContains(t, s, "pgt_secret")
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct{ addr, url, socket, err string }{
		{"unix:/run/plangate/plangate.sock", "http://localhost/mcp", "/run/plangate/plangate.sock", ""},
		{"unix:///run/plangate.sock", "http://localhost/mcp", "/run/plangate.sock", ""},
		{"https://plangate.internal:8443", "https://plangate.internal:8443/mcp", "", ""},
		{"https://plangate.internal/custom", "https://plangate.internal/custom", "", ""},
		{"http://127.0.0.1:7000", "http://127.0.0.1:7000/mcp", "", ""},
		{"http://[::1]:7000/", "http://[::1]:7000/mcp", "", ""},
		{"tcp://localhost:7000", "http://localhost:7000/mcp", "", ""},
		{"http://10.0.0.5:7000", "", "", "unencrypted"},
		{"tcp://plangate.internal:7000", "", "", "https://plangate.internal:7000"},
		{"unix:", "", "", "names no socket"},
		{"ftp://host", "", "", "unknown scheme"},
		{"https://user:pw@host", "", "", "--token-file"},
		{"plangate.sock", "", "", "not an address"},
	} {
		ep, err := ParseEndpoint(tc.addr)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.addr)
			continue
		}
		require.NoError(t, err, tc.addr)
		assert.Equal(t, tc.url, ep.URL, tc.addr)
		assert.Equal(t, tc.socket, ep.Socket, tc.addr)
	}
}

func TestExplainDial(t *testing.T) {
	sock := &Endpoint{Addr: "unix:/run/p.sock", URL: "http://localhost/mcp", Socket: "/run/p.sock"}
	tcp := &Endpoint{Addr: "https://h:1", URL: "https://h:1/mcp"}
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		name string
		ep   *Endpoint
		err  error
		want string
	}{
		{"socket missing", sock, dial(syscall.ENOENT), "there is no socket at /run/p.sock"},
		{"not in the group", sock, dial(syscall.EACCES), "is your user in the socket's group?"},
		{"stale socket", sock, dial(syscall.ECONNREFUSED), "exists but nothing listens"},
		{"nothing on the port", tcp, dial(syscall.ECONNREFUSED), "nothing listens at h:1"},
		{"plain HTTP behind https", tcp, errors.New("http: server gave HTTP response to HTTPS client"), "does not speak TLS"},
		{"broke off", tcp, io.ErrUnexpectedEOF, "broke off"},
		{"unknown host", tcp, &net.DNSError{Name: "h", Err: "no such host"}, "cannot resolve h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.ep.explainDial(tc.err)
			assert.Contains(t, p.msg, tc.want)
			assert.Equal(t, codeUnreachable, p.code)
		})
	}
}
