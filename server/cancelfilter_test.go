package server

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCancelFilterDropsTheCancelledResponseAndItsProgress(t *testing.T) {
	f := newCancelFilter()
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"apply_plan","_meta":{"progressToken":"tok-7"}}}`,
		`{"jsonrpc":"2.0","id":"eight","method":"tools/call","params":{"name":"list_plans","_meta":{"progressToken":8}}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}`,
		``,
	}, "\n")
	got, err := io.ReadAll(f.Reader(strings.NewReader(in)))
	require.NoError(t, err)
	assert.Equal(t, in, string(got), "the client's bytes pass unchanged")

	var out bytes.Buffer
	w := f.Writer(&out)
	lines := []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok-7","progress":2}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":8,"progress":1}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"isError":true}}`,
		`{"jsonrpc":"2.0","id":"eight","result":{}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"second":"answer to a reused id"}}`,
	}
	// Written in odd pieces, as a stream may be.
	all := strings.Join(lines, "\n") + "\n"
	for i := 0; i < len(all); i += 17 {
		_, err := w.Write([]byte(all[i:min(i+17, len(all))]))
		require.NoError(t, err)
	}
	assert.Equal(t, lines[1]+"\n"+lines[3]+"\n"+lines[4]+"\n", out.String())
}

func TestCancelFilterLongLinesPassThrough(t *testing.T) {
	f := newCancelFilter()
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 3<<20) + `"}}` + "\n"
	got, err := io.ReadAll(f.Reader(strings.NewReader(big)))
	require.NoError(t, err)
	assert.Equal(t, len(big), len(got))
}
