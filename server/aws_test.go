package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// The AWS guard's wiring on stacks of terraform_data (no provider: every
// Terraform run is quick) with moto answering STS, which lets anyone assume
// any role without IAM enforcement: who planned and applied is recorded and
// audited; every Terraform process (init, workspace, plan, show, apply,
// state reads) gets the role session's credentials and nothing of the
// server's own; a plan and its stack's aws block must agree at apply time;
// STS unreachable refuses the plan with nothing run. The real AWS provider
// under the role split, with IAM enforced, is cmd/plangate's
// aws_e2e_test.go.
func TestAWSGuardWiring(t *testing.T) {
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", "")
	env := user.Creds.Env()
	env["AWS_EC2_METADATA_DISABLED"] = "true"
	env["AWS_CONFIG_FILE"], env["AWS_SHARED_CREDENTIALS_FILE"] = os.DevNull, os.DevNull
	guards := awsguard.NewGuards(awsguard.WithBaseEnv(env), awsguard.WithTimeout(2*time.Second))
	terraform, runs := recordingTerraform(t)
	planRole := "arn:aws:iam::" + moto.DefaultAccountID + ":role/plangate-plan"
	applyRole := "arn:aws:iam::" + moto.DefaultAccountID + ":role/plangate-apply"
	h := newHarness(t, withAWS(guards), withTerraform(terraform), withStacks(`
stack "guarded" {
  dir       = "stacks/guarded"
  variables = ["replicas"]
  aws {
    region         = "us-east-1"
    account_id     = "`+moto.DefaultAccountID+`"
    plan_role_arn  = "`+planRole+`"
    apply_role_arn = "`+applyRole+`"
    endpoint_url   = "`+srv.URL+`"
  }
}

stack "nosts" {
  dir = "stacks/nosts"
  aws {
    region         = "us-east-1"
    plan_role_arn  = "`+planRole+`"
    apply_role_arn = "`+applyRole+`"
    endpoint_url   = "http://127.0.0.1:9"
  }
}
`, map[string]string{"guarded": "fixtures/demo/stacks/web", "nosts": "fixtures/demo/stacks/web"}))
	// The server's own environment holds other credentials: Terraform must
	// not see them. (The guard finds its own in WithBaseEnv.)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASERVERPROCESS000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-process-secret")

	// Planned as the plan role, applied as the apply role.
	var sum plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "guarded"}, &sum)
	asPlan := &plan.AWSIdentity{Account: moto.DefaultAccountID, ARN: "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/plangate-plan/plangate-plan-" + sum.PlanID[:8],
		RoleARN: planRole, AssumedBy: user.ARN}
	asApply := &plan.AWSIdentity{Account: moto.DefaultAccountID, ARN: "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/plangate-apply/plangate-apply-" + sum.PlanID[:8],
		RoleARN: applyRole, AssumedBy: user.ARN}
	assert.Equal(t, asPlan, sum.AWS)
	assert.Contains(t, text, "AWS: account "+moto.DefaultAccountID+" as "+asPlan.ARN)
	rec, err := h.deps.Store.Get(sum.PlanID)
	require.NoError(t, err)
	assert.Equal(t, asPlan, rec.AWS, "the plan record keeps the identity")
	planRuns := runs()
	var out gate.Outcome
	h.ok("apply_plan", map[string]any{"plan_id": sum.PlanID, "approval_tokens": []string{h.approve(sum.PlanID, "alice")}}, &out)
	assert.Equal(t, asApply, out.AWS)
	applyRuns := runs()[len(planRuns):]
	events := map[audit.EventName]*plan.AWSIdentity{}
	require.NoError(t, h.deps.Gate.Audit.Read(func(_ int, ev audit.Event, _ []byte) error {
		if ev.PlanID == sum.PlanID {
			events[ev.Event] = ev.AWS
		}
		return nil
	}))
	assert.Equal(t, asPlan, events[audit.EventPlanCreated])
	for _, name := range []audit.EventName{audit.EventApplyStarted, audit.EventApplied} {
		assert.Equal(t, asApply, events[name], "audit event %s", name)
	}

	// What each Terraform process got: the plan session for init, plan
	// and show; the apply session (other keys) for the apply and the
	// outputs read after it; never the server's keys or profile.
	commands := func(rs []tfRun) (out []string) {
		for _, r := range rs {
			out = append(out, r.command)
		}
		return out
	}
	assert.Equal(t, []string{"init", "workspace", "plan", "show"}, commands(planRuns))
	// Before the apply, the plan file is read again (show -json): with no
	// AWS credentials at all, plangate's own included.
	assert.Equal(t, []string{"show", "apply", "show"}, commands(applyRuns))
	review := applyRuns[0]
	applyRuns = applyRuns[1:]
	assert.Empty(t, review.key, "the review's show gets no access key")
	assert.Empty(t, review.token, "the review's show gets no session token")
	assert.Empty(t, review.profile)
	assert.Equal(t, os.DevNull, review.configFile)
	planKey, applyKey := planRuns[0].key, applyRuns[0].key
	assert.True(t, strings.HasPrefix(planKey, "ASIA"), "temporary credentials, not %q", planKey)
	assert.NotEqual(t, planKey, applyKey, "the apply role's credentials are not the plan role's")
	for i, r := range append(planRuns, applyRuns...) {
		want := planKey
		if i >= len(planRuns) {
			want = applyKey
		}
		assert.Equal(t, want, r.key, "terraform %s", r.command)
		assert.NotEmpty(t, r.token, "terraform %s: session token", r.command)
		assert.Empty(t, r.profile, "terraform %s: no profile reaches Terraform", r.command)
		assert.Equal(t, os.DevNull, r.configFile, "terraform %s", r.command)
	}
	secrets := []string{user.Creds.SecretAccessKey, "server-process-secret"}
	for _, r := range append(planRuns, applyRuns...) {
		secrets = append(secrets, r.secret, r.token)
	}

	// A plan made before the stack had an aws block (its record holds no
	// identity) is refused: nobody checked which account it was made in.
	var second plan.Summary
	h.ok("plan_change", map[string]any{"stack": "guarded", "variables": map[string]any{"replicas": 3}}, &second)
	_, err = h.deps.Store.Update(second.PlanID, func(r *plan.Record) error { r.AWS = nil; return nil })
	require.NoError(t, err)
	token := h.approve(second.PlanID, "alice")
	msg := textOf(h.applyWith(second.PlanID, token))
	assert.Contains(t, msg, "was made before stack \"guarded\" had an aws block")

	// A plan made with the guard on a stack whose aws block is gone.
	var web plan.Summary
	h.ok("plan_change", map[string]any{"stack": "web"}, &web)
	_, err = h.deps.Store.Update(web.PlanID, func(r *plan.Record) error { r.AWS = asPlan; return nil })
	require.NoError(t, err)
	token = h.approve(web.PlanID, "alice")
	msg = textOf(h.applyWith(web.PlanID, token))
	assert.Contains(t, msg, "has no aws block in plangate.hcl any more")
	assert.Contains(t, msg, "the approval tokens were not used")
	_, err = h.deps.Store.Update(web.PlanID, func(r *plan.Record) error { r.AWS = nil; return nil })
	require.NoError(t, err)
	h.ok("apply_plan", map[string]any{"plan_id": web.PlanID, "approval_tokens": []string{token}}, nil)

	// STS unreachable: refused within the timeout, nothing run, audited.
	msg = h.fails("plan_change", map[string]any{"stack": "nosts"})
	assert.Contains(t, msg, "refusing to plan: nothing ran")
	assert.Contains(t, msg, "127.0.0.1:9")
	assert.Contains(t, msg, "This needs a human")
	_, err = os.Stat(filepath.Join(h.cfg.StateDir, "terraform", "nosts"))
	assert.True(t, os.IsNotExist(err), "terraform never ran")
	var refused []string
	require.NoError(t, h.deps.Gate.Audit.Read(func(_ int, ev audit.Event, _ []byte) error {
		if ev.Event == audit.EventPlanRefused {
			refused = append(refused, ev.Stack)
		}
		return nil
	}))
	assert.Equal(t, []string{"nosts"}, refused)

	// show_stack reads state with the guard's identity.
	var view plan.StateView
	n := len(runs())
	viewText := h.ok("show_stack", map[string]any{"stack": "guarded"}, &view)
	assert.Equal(t, "arn:aws:sts::"+moto.DefaultAccountID+":assumed-role/plangate-plan/plangate-read-guarded", view.AWS.ARN)
	assert.NotEmpty(t, view.Resources)
	for _, r := range runs()[n:] {
		assert.True(t, strings.HasPrefix(r.key, "ASIA"), "terraform %s reads state with the read session", r.command)
		secrets = append(secrets, r.secret, r.token)
	}

	// No credential reaches a tool result, the log, the audit log or any
	// file plangate keeps.
	texts := []string{h.logs.String(), text, viewText}
	require.NoError(t, filepath.WalkDir(h.cfg.StateDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.Contains(p, string(filepath.Separator)+"providers"+string(filepath.Separator)) {
			return err
		}
		b, err := os.ReadFile(p)
		texts = append(texts, string(b))
		return err
	}))
	for _, secret := range secrets {
		require.NotEmpty(t, secret)
		for _, text := range texts {
			assert.NotContains(t, text, secret)
		}
	}
}

// tfRun is one Terraform process as recordingTerraform saw it.
type tfRun struct {
	command, key, secret, token, profile, configFile string
}

// recordingTerraform returns a find function for a shim that records each
// Terraform invocation's subcommand and AWS environment, then runs the real
// terraform; and a function returning the runs so far.
func recordingTerraform(t *testing.T) (func() (string, error), func() []tfRun) {
	t.Helper()
	real := tftest.Setup(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	shim := filepath.Join(dir, "terraform")
	script := "#!/bin/sh\nprintf '%s|%s|%s|%s|%s|%s\\n' \"$1\" \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\" \"$AWS_PROFILE\" \"$AWS_CONFIG_FILE\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(shim, []byte(script), 0o755))
	return func() (string, error) { return shim, nil }, func() []tfRun {
		b, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return nil
		}
		require.NoError(t, err)
		var out []tfRun
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Split(line, "|")
			require.Len(t, f, 6, line)
			if f[0] == "version" {
				continue // terraform-exec's and plangate's version checks: no AWS call
			}
			out = append(out, tfRun{f[0], f[1], f[2], f[3], f[4], f[5]})
		}
		return out
	}
}

// Another run holds the state lock when an approved plan is applied:
// Terraform stops before changing anything; the plan still awaits approval
// and the refusal names the holder; the tokens are spent.
func TestApplyWhileStateLockedNamesTheHolder(t *testing.T) {
	h := newHarness(t)
	var sum plan.Summary
	h.ok("plan_change", map[string]any{"stack": "web"}, &sum)
	token := h.approve(sum.PlanID, "alice")

	st, _ := h.cfg.Stack("web")
	f, err := os.OpenFile(filepath.Join(st.Dir, "terraform.tfstate"), os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}))
	info, _ := json.Marshal(map[string]string{"ID": "11111111-2222-3333-4444-555555555555", "Operation": "OperationTypePlan", "Who": "bob@laptop", "Version": "1.11.4", "Created": "2026-11-30T01:02:03Z", "Path": "terraform.tfstate"})
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, ".terraform.tfstate.lock.info"), info, 0o600))

	msg := textOf(h.applyWith(sum.PlanID, token))
	assert.Contains(t, msg, "the "+tftest.Product(t).String()+" state is locked by another run, so nothing ran: held by bob@laptop")
	assert.Contains(t, msg, "plangate approve "+sum.PlanID)
	rec, err := h.deps.Store.Get(sum.PlanID)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusAwaitingApproval, rec.Status)

	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_UNLCK}))
	require.NoError(t, os.Remove(filepath.Join(st.Dir, ".terraform.tfstate.lock.info")))
	assert.Contains(t, textOf(h.applyWith(sum.PlanID, token)), "already used", "the token was spent")
	h.ok("apply_plan", map[string]any{"plan_id": sum.PlanID, "approval_tokens": []string{h.approve(sum.PlanID, "alice")}}, nil)
	assert.Len(t, h.stateList("web"), 5)
}
