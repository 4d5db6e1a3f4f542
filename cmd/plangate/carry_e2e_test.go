package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The finding, through the real binary: after image_tag=v2.0.0 was
// applied, a plan_change without variables planned the .tf default
// (v1.0.0) and replaced every web server. Now the omitted variable keeps
// its applied value: "no changes", and the plan says where each input
// came from — in the agent's result and on the approver's screen.
func TestOmittedVariableDoesNotRevertTheAppliedTag(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	key := filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	block := string(out)[strings.Index(string(out), "approver \"oncall\" {"):]
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + block)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := serve(t, dir)
	r.initialize()
	id, _, text := planOK(t, r, "web", map[string]any{"image_tag": "v2.0.0"})
	assert.Contains(t, text, "\nInputs:\n")
	assert.Contains(t, text, `image_tag    = "v2.0.0"  (agent)`)
	token, screen := approve(t, cfg, key, id)
	assert.Contains(t, screen, `image_tag    = "v2.0.0"  (agent)`, "the approver sees the inputs too")
	assert.Contains(t, screen, `replicas     = 2  (default)`)
	applyOK(t, r, id, token)

	res := r.callTool("plan_change", map[string]any{"stack": "web"})
	require.NotEqual(t, true, res["isError"], resultText(res))
	sum := structured(t, res)
	text = resultText(res)
	assert.Equal(t, "no_changes", sum["status"], text)
	add, change, destroy := counts(sum)
	assert.Equal(t, [3]int{0, 0, 0}, [3]int{add, change, destroy}, "no server replaced")
	assert.Contains(t, strings.SplitN(text, "\n", 2)[0], "no changes")
	assert.NotContains(t, text, "must be replaced")
	assert.Contains(t, sum["inputs"], map[string]any{"name": "image_tag", "value": "v2.0.0", "origin": "last_applied", "source": id})
	assert.Contains(t, text, `image_tag    = "v2.0.0"  (last_applied, plan `+id[:8]+")")
	assert.NotContains(t, text, "demo-only-not-a-secret")
}
