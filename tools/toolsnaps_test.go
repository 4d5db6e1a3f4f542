package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/tools"
)

// Every tool's schema and annotations are snapshotted under __toolsnaps__,
// so that a change to what clients see is a visible diff in review.
// Regenerate with UPDATE_TOOLSNAPS=1 go test ./tools/.
func TestToolSnapshots(t *testing.T) {
	d := &tools.Deps{Config: &config.Config{}}
	all := tools.All(d)
	require.NotEmpty(t, all)
	update := os.Getenv("UPDATE_TOOLSNAPS") == "1"
	seen := map[string]bool{}
	for _, st := range all {
		name := st.Tool.Name
		seen[name+".snap"] = true
		got, err := json.MarshalIndent(st.Tool, "", "  ")
		require.NoError(t, err)
		got = append(got, '\n')
		path := filepath.Join("__toolsnaps__", name+".snap")
		if update {
			require.NoError(t, os.MkdirAll("__toolsnaps__", 0o755))
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "no snapshot for tool %s: run UPDATE_TOOLSNAPS=1 go test ./tools/", name)
		assert.JSONEq(t, string(want), string(got), "tool %s changed: review the diff, then run UPDATE_TOOLSNAPS=1 go test ./tools/", name)
	}
	entries, err := os.ReadDir("__toolsnaps__")
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, seen[e.Name()], "snapshot %s has no tool: delete it", e.Name())
	}
}

// mcp-go defaults destructiveHint and openWorldHint to true; a tool that
// leaves any hint unset would be mislabelled in every IDE.
func TestEveryToolSetsEveryAnnotation(t *testing.T) {
	for _, st := range tools.All(&tools.Deps{Config: &config.Config{}}) {
		a := st.Tool.Annotations
		assert.NotNil(t, a.ReadOnlyHint, "%s readOnlyHint", st.Tool.Name)
		assert.NotNil(t, a.DestructiveHint, "%s destructiveHint", st.Tool.Name)
		assert.NotNil(t, a.IdempotentHint, "%s idempotentHint", st.Tool.Name)
		assert.NotNil(t, a.OpenWorldHint, "%s openWorldHint", st.Tool.Name)
		assert.NotEmpty(t, a.Title, "%s title", st.Tool.Name)
		if *a.ReadOnlyHint {
			assert.False(t, *a.DestructiveHint, "%s is read-only yet destructive", st.Tool.Name)
		}
	}
}
