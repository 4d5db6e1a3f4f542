package tools

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

// Prepare (plangate serve runs it beside opening its config) derives
// every output schema the tools use, from empty Deps: the tools built
// after it derive none, and their definitions are those derived afresh.
func TestPrepareDerivesEveryToolsSchema(t *testing.T) {
	defs := func() string {
		var ts []any
		for _, st := range All(&Deps{Config: &config.Config{}}) {
			require.NotNil(t, st.Tool.RawOutputSchema, "%s has an output schema", st.Tool.Name)
			ts = append(ts, st.Tool)
		}
		b, err := json.Marshal(ts)
		require.NoError(t, err)
		return string(b)
	}
	count := func() (n int) {
		schemas.Range(func(any, any) bool { n++; return true })
		return n
	}
	schemas = sync.Map{}
	fresh := defs()
	derived := count()
	require.Positive(t, derived)

	schemas = sync.Map{}
	require.NotPanics(t, Prepare)
	assert.Equal(t, derived, count(), "Prepare derives every schema the tools use")
	assert.JSONEq(t, fresh, defs(), "the tools built from the cache are those built afresh")
	assert.Equal(t, derived, count(), "building the tools after Prepare derives nothing more")
}
