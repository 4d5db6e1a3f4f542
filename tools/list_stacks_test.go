package tools

import (
	"os"
	"path/filepath"
	"strings"
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
	assert.Empty(t, res.StructuredContent.(ListStacksResult).Warnings, "the fixture's state_dir is in no git work tree")
	assert.NotContains(t, txt, "WARNING")
}

// A state_dir inside a git work tree is within reach of an agent that
// edits files there: list_stacks says so, for the agent to relay.
func TestListStacksWarnsOfAStateDirInAWorkTree(t *testing.T) {
	f := newFixture(t)
	repo := filepath.Dir(f.deps.Config.Path)
	require.NoError(t, os.Mkdir(filepath.Join(repo, ".git"), 0o755))
	res := call(t, ListStacks(f.deps), nil)
	warnings := res.StructuredContent.(ListStacksResult).Warnings
	require.Len(t, warnings, 1)
	assert.Equal(t, f.deps.Config.StateDirWarning(), warnings[0])
	assert.Contains(t, warnings[0], "state_dir "+f.deps.Config.StateDir+" is inside the git work tree "+repo)
	assert.Contains(t, warnings[0], "an agent that edits files there can edit plangate's records")
	txt := text(res)
	assert.True(t, strings.HasPrefix(txt, "2 stack(s):"), txt)
	assert.Contains(t, txt, "\nWARNING (tell a human): "+warnings[0]+"\n")
}
