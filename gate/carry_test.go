package gate

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// carryModule replaces its server whenever image_tag changes, as the demo
// stack does: reverting a tag is a replacement, not a no-op.
const carryModule = `
variable "image_tag" {
  type    = string
  default = "v1.0.0"
}
variable "replicas" {
  type    = number
  default = 1
}
variable "token" {
  type      = string
  sensitive = true
  default   = "default-token"
}
resource "terraform_data" "server" {
  count            = var.replicas
  input            = { image = "web:${var.image_tag}", token = var.token }
  triggers_replace = [var.image_tag]
}
`

const carrySecret = "carried-s3cr3t-token-value"

// carryGate is a gate on stack "s" (carryModule plus files) whose agent
// may set image_tag, replicas and token, with approver alice.
func carryGate(t *testing.T, files map[string]string, stackBody string) (*Gate, *config.Stack, *approvals.PrivateKey) {
	t.Helper()
	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	files["main.tf"] = carryModule
	g, cfg := newPlanner(t, files, `variables = ["image_tag", "replicas", "token"]
`+stackBody+`
}
approver "alice" {
  public_key = "`+config.FormatPublicKey(pub)+`"`)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g.Ledger = ledger
	st, _ := cfg.Stack("s")
	return g, st, &approvals.PrivateKey{Approver: "alice", Key: priv}
}

// proposeApply plans with vars, approves and applies the plan.
func proposeApply(t *testing.T, g *Gate, st *config.Stack, key *approvals.PrivateKey, vars map[string]any) *plan.Record {
	t.Helper()
	ctx := context.Background()
	rec, err := g.Propose(ctx, st, vars, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, rec.Status, "%v %v", rec.Errors, rec.Warnings)
	a, err := g.Approve(rec.ID, key, "root", audit.Client{})
	require.NoError(t, err)
	out, err := g.Apply(ctx, rec.ID, []string{a.Token}, audit.Client{}, nil)
	require.NoError(t, err)
	require.Equal(t, plan.StatusApplied, out.Status, "%v", out.Errors)
	return rec
}

func inputsByName(rec *plan.Record) map[string]plan.Input {
	out := map[string]plan.Input{}
	for _, in := range rec.Inputs {
		out[in.Name] = in
	}
	return out
}

// The finding: after image_tag=v2.0.0 was applied, a plan without
// variables planned the .tf default and replaced the server. A variable
// left out now keeps the last applied value, through any number of plans;
// an explicit null resets it to the default.
func TestOmittedVariableKeepsTheLastAppliedValue(t *testing.T) {
	g, st, key := carryGate(t, map[string]string{}, "")
	ctx := context.Background()
	first := proposeApply(t, g, st, key, map[string]any{"image_tag": "v2.0.0"})
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v2.0.0", Origin: plan.OriginAgent}, inputsByName(first)["image_tag"])
	assert.Equal(t, plan.Input{Name: "replicas", Value: json.Number("1"), Origin: plan.OriginDefault}, inputsByName(first)["replicas"])

	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusNoChanges, rec.Status, "nothing reverted: %+v", rec.Counts)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v2.0.0", Origin: plan.OriginLastApplied, Source: first.ID}, inputsByName(rec)["image_tag"])
	assert.Equal(t, plan.OriginDefault, inputsByName(rec)["replicas"].Origin)
	assert.Equal(t, []string{"image_tag", "replicas", "token"}, names(rec.Inputs))

	// A plan about something else carries the tag, and is itself the
	// last applied plan for the next one.
	second := proposeApply(t, g, st, key, map[string]any{"replicas": 2})
	assert.Equal(t, plan.Counts{Add: 1}, second.Counts, "one more server, the first one kept")
	assert.Equal(t, plan.OriginLastApplied, inputsByName(second)["image_tag"].Origin)
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusNoChanges, rec.Status)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v2.0.0", Origin: plan.OriginLastApplied, Source: second.ID}, inputsByName(rec)["image_tag"])
	assert.Equal(t, plan.Input{Name: "replicas", Value: json.Number("2"), Origin: plan.OriginLastApplied, Source: second.ID}, inputsByName(rec)["replicas"])

	// Explicit null: the declared default, and the plan says what that does.
	rec, err = g.Propose(ctx, st, map[string]any{"image_tag": nil}, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v1.0.0", Origin: plan.OriginDefault}, inputsByName(rec)["image_tag"])
	assert.Equal(t, plan.OriginLastApplied, inputsByName(rec)["replicas"].Origin)
	assert.Equal(t, 2, rec.Counts.Replace, "back to the default tag replaces both servers")
	assert.Equal(t, map[string]any{"image_tag": nil}, rec.Variables, "the agent's request, as asked")

	// A record written before inputs were kept carries its variables too.
	edited := proposeApply(t, g, st, key, map[string]any{"image_tag": "v3.0.0"})
	path := filepath.Join(g.Store.Dir(edited.ID), plan.RecordFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	delete(raw, "inputs")
	b, err = json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v3.0.0", Origin: plan.OriginLastApplied, Source: edited.ID}, inputsByName(rec)["image_tag"])
	assert.Equal(t, plan.OriginDefault, inputsByName(rec)["replicas"].Origin, "the legacy record lists only what the agent set")
	assert.Equal(t, plan.Counts{Destroy: 1}, rec.Counts, "the tag kept; replicas back to its default")
}

func names(inputs []plan.Input) []string {
	var out []string
	for _, in := range inputs {
		out = append(out, in.Name)
	}
	return out
}

// A sensitive value carried forward is read back from the applied plan's
// own file; it is masked in the record and the report, and nothing
// plangate writes holds it. Once that file is gone, plangate refuses to
// guess: the agent passes the value, or null.
func TestSensitiveVariableCarriesForwardMasked(t *testing.T) {
	g, st, key := carryGate(t, map[string]string{}, "")
	ctx := context.Background()
	applied := proposeApply(t, g, st, key, map[string]any{"token": carrySecret})
	assert.Equal(t, plan.Input{Name: "token", Value: plan.SensitiveMask, Origin: plan.OriginAgent}, inputsByName(applied)["token"])

	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusNoChanges, rec.Status, "the secret was carried, not reset: %+v", rec.Counts)
	assert.Equal(t, plan.Input{Name: "token", Value: plan.SensitiveMask, Origin: plan.OriginLastApplied, Source: applied.ID}, inputsByName(rec)["token"])
	s := rec.Summary(time.Now())
	var text strings.Builder
	plan.WriteReport(&text, &s, time.Now())
	assert.Contains(t, text.String(), "token     = (sensitive value)  (last_applied, plan "+applied.ID[:8]+")")
	sj, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(sj)+text.String(), carrySecret)
	assertNotInStateDir(t, g, carrySecret)

	// The applied plan's file pruned: no guess, no silent default.
	require.NoError(t, os.Remove(g.Store.PlanFilePath(applied.ID)))
	_, err = g.Propose(ctx, st, nil, audit.Client{})
	var in *plan.InputError
	require.ErrorAs(t, err, &in)
	assert.Contains(t, in.Msg, `the last applied plan `+applied.ID+` of stack "s" set "token", which you left out, but plangate cannot read the value it applied: its plan file is gone`)
	assert.Contains(t, in.Msg, "pass token explicitly (the value to keep), or null for the stack's own value")
	assert.NotContains(t, in.Msg, carrySecret)

	rec, err = g.Propose(ctx, st, map[string]any{"token": carrySecret}, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusNoChanges, rec.Status)
	rec, err = g.Propose(ctx, st, map[string]any{"token": nil}, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.OriginDefault, inputsByName(rec)["token"].Origin)
	assert.Equal(t, plan.SensitiveMask, inputsByName(rec)["token"].Value)
	assert.Equal(t, 1, rec.Counts.Change, "the default token updates the server in place")
	assertNotInStateDir(t, g, carrySecret)
}

// assertNotInStateDir greps every file of the state dir but Terraform's
// own (plan files, the providers it installed) for secret.
func assertNotInStateDir(t *testing.T, g *Gate, secret string) {
	t.Helper()
	terraformData := filepath.Join(g.Config.StateDir, "terraform")
	require.NoError(t, filepath.WalkDir(g.Config.StateDir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() && path == terraformData {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() == plan.PlanFile {
			return nil
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, path)
		return nil
	}))
}

// A var file is a human's standing decision: it takes precedence over a
// carried-forward value (a human's edit to it takes effect), and the plan
// says when that reverts what the last apply set.
func TestVarFileTakesPrecedenceOverTheLastAppliedValue(t *testing.T) {
	g, st, key := carryGate(t, map[string]string{"prod.tfvars": "image_tag = \"v1.5.0\"\n"}, `var_files = ["stack/prod.tfvars"]`)
	ctx := context.Background()
	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v1.5.0", Origin: plan.OriginVarFile, Source: "prod.tfvars"}, inputsByName(rec)["image_tag"])

	applied := proposeApply(t, g, st, key, map[string]any{"image_tag": "v2.0.0"})
	assert.Equal(t, plan.OriginAgent, inputsByName(applied)["image_tag"].Origin, "the agent's value beats the var file")

	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v1.5.0", Origin: plan.OriginVarFile, Source: "prod.tfvars"}, inputsByName(rec)["image_tag"])
	assert.Equal(t, 1, rec.Counts.Replace)
	assert.Contains(t, rec.Warnings, `variable "image_tag": the last applied plan `+applied.ID[:8]+` set it (agent) to "v2.0.0", but prod.tfvars sets "v1.5.0" and a var file takes precedence over a carried-forward value: this plan uses "v1.5.0". Pass image_tag explicitly to keep the applied value`)
}

// A stack applied outside plangate (or before it kept records) has no
// last applied plan: variables left out take the stack's own values.
func TestNoAppliedPlanMeansDefaults(t *testing.T) {
	g, st, _ := carryGate(t, map[string]string{}, "")
	ctx := context.Background()
	rec, err := g.Propose(ctx, st, map[string]any{"image_tag": "v2.0.0"}, audit.Client{})
	require.NoError(t, err)
	// Applied by hand: the state changes, no plangate record says applied.
	unlock, err := g.Runner.Lock(ctx, st)
	require.NoError(t, err)
	out, err := g.Runner.ApplySaved(ctx, st, g.Store.PlanFilePath(rec.ID))
	unlock()
	require.NoError(t, err)
	require.False(t, out.Failed, "%v", out.Diagnostics)

	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v1.0.0", Origin: plan.OriginDefault}, inputsByName(rec)["image_tag"])
	assert.Equal(t, 1, rec.Counts.Replace, "the default, and the plan shows the replacement it makes")
}

// A record that cannot be read may be a later applied plan: plan_change
// does not carry values past it from an older one, and says why. Damage
// that cannot be such a plan (older than the last applied one, another
// stack's) does not stop it, nor does a plan that carries nothing.
func TestDamagedRecordStopsCarryingForward(t *testing.T) {
	g, st, key := carryGate(t, map[string]string{}, "")
	ctx := context.Background()
	first := proposeApply(t, g, st, key, map[string]any{"image_tag": "v2.0.0"})

	plans := filepath.Dir(g.Store.Dir(first.ID))
	fake := func(id, content string) {
		require.NoError(t, os.Mkdir(filepath.Join(plans, id), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(plans, id, plan.RecordFile), []byte(content), 0o600))
	}
	older := first.CreatedAt.Add(-time.Hour).Format(time.RFC3339Nano)
	fake("00000000-0000-4000-8000-00000000000a", `{"id":"00000000-0000-4000-8000-00000000000a","stack":"s","workspace":"default","variables":{},"created_at":"`+older+`","exp`)
	fake("00000000-0000-4000-8000-00000000000b", `{"id":"00000000-0000-4000-8000-00000000000b","stack":"other","wor`)
	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err, "neither damaged record can be a later plan of s")
	assert.Equal(t, plan.OriginLastApplied, inputsByName(rec)["image_tag"].Origin)

	later, err := g.Propose(ctx, st, map[string]any{"image_tag": "v3.0.0"}, audit.Client{})
	require.NoError(t, err)
	path := filepath.Join(g.Store.Dir(later.ID), plan.RecordFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)/3], 0o600))

	_, err = g.Propose(ctx, st, map[string]any{"replicas": 1}, audit.Client{})
	var in *plan.InputError
	require.ErrorAs(t, err, &in)
	assert.Contains(t, in.Msg, "the record of plan "+later.ID+" cannot be read (record.json is not valid JSON: unexpected end of JSON input)")
	assert.Contains(t, in.Msg, "made after its last applied plan "+first.ID)
	assert.Contains(t, in.Msg, `You left out "image_tag", "token"`)
	assert.Contains(t, in.Msg, "move it aside")
	assert.NotContains(t, in.Msg, "00000000-0000-4000-8000-00000000000a")

	rec, err = g.Propose(ctx, st, map[string]any{"image_tag": "v2.0.0", "replicas": 1, "token": nil}, audit.Client{})
	require.NoError(t, err, "nothing to carry: nothing to doubt")
	assert.Equal(t, plan.OriginAgent, inputsByName(rec)["image_tag"].Origin)

	require.NoError(t, os.Rename(g.Store.Dir(later.ID), filepath.Join(plans, "."+later.ID)))
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err, "moved aside by a human")
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v2.0.0", Origin: plan.OriginLastApplied, Source: first.ID}, inputsByName(rec)["image_tag"])
}
