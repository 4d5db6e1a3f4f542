package tools

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/freeze"
)

func TestListStacks(t *testing.T) {
	f := newFixture(t)
	_, err := freeze.Set(f.deps.Config.StateDir, "db", "migration", "oncall", f.now)
	require.NoError(t, err)
	res := call(t, ListStacks(f.deps), nil)
	stacks := res.StructuredContent.(ListStacksResult).Stacks
	require.Len(t, stacks, 2)
	web, db := stacks[0], stacks[1]
	assert.Equal(t, "web", web.Name)
	assert.Equal(t, "web", web.Dir, "relative to the config")
	require.Len(t, web.Variables, 1)
	assert.Equal(t, "n", web.Variables[0].Name)
	assert.Equal(t, "number", web.Variables[0].Type)
	assert.Equal(t, 1, web.Policy.Approvals)
	assert.Nil(t, web.Frozen)
	require.NotNil(t, db.Frozen)
	assert.Equal(t, "migration", db.Frozen.Reason)
	assert.Empty(t, db.Variables)
	txt := text(res)
	assert.Contains(t, txt, "2 stack(s):")
	assert.Contains(t, txt, "    n (number)")
	assert.Contains(t, txt, `FROZEN: stack "db" is frozen by oncall`)
	assert.NotContains(t, txt, "unfreeze", "list_stacks does not tell the agent how to lift a freeze")
	assert.Contains(t, txt, "variables you may set: none")
}
