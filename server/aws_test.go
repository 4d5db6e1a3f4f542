package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/plan"
)

// The AWS guard's wiring on stacks of terraform_data (no provider: every
// Terraform run is quick) with moto answering STS: who planned and applied
// is recorded and audited; a plan and its stack's aws block must agree at
// apply time; STS unreachable refuses the plan with nothing run. The real
// AWS provider under the role split is cmd/plangate's aws_e2e_test.go.
func TestAWSGuardWiring(t *testing.T) {
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", "")
	env := user.Creds.Env()
	env["AWS_EC2_METADATA_DISABLED"] = "true"
	env["AWS_CONFIG_FILE"], env["AWS_SHARED_CREDENTIALS_FILE"] = os.DevNull, os.DevNull
	guards := awsguard.NewGuards(awsguard.WithBaseEnv(env), awsguard.WithTimeout(2*time.Second))
	h := newHarness(t, withAWS(guards), withStacks(`
stack "guarded" {
  dir       = "stacks/guarded"
  variables = ["replicas"]
  aws {
    region       = "us-east-1"
    account_id   = "`+moto.DefaultAccountID+`"
    endpoint_url = "`+srv.URL+`"
  }
}

stack "nosts" {
  dir = "stacks/nosts"
  aws {
    region       = "us-east-1"
    endpoint_url = "http://127.0.0.1:9"
  }
}
`, map[string]string{"guarded": "fixtures/demo/stacks/web", "nosts": "fixtures/demo/stacks/web"}))

	// Planned and applied as plangate's own (checked) identity.
	var sum plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "guarded"}, &sum)
	want := &plan.AWSIdentity{Account: moto.DefaultAccountID, ARN: user.ARN}
	assert.Equal(t, want, sum.AWS)
	assert.Contains(t, text, "AWS: account "+moto.DefaultAccountID+" as "+user.ARN)
	rec, err := h.deps.Store.Get(sum.PlanID)
	require.NoError(t, err)
	assert.Equal(t, want, rec.Summary.AWS, "the plan record keeps the identity")
	var out gate.Outcome
	h.ok("apply_plan", map[string]any{"plan_id": sum.PlanID, "approval_tokens": []string{h.approve(sum.PlanID, "alice")}}, &out)
	assert.Equal(t, want, out.AWS)
	events := map[string]*plan.AWSIdentity{}
	require.NoError(t, h.deps.Audit.Read(func(_ int, ev audit.Event, _ []byte) error {
		if ev.PlanID == sum.PlanID {
			events[ev.Event] = ev.AWS
		}
		return nil
	}))
	for _, name := range []string{audit.EventPlanCreated, audit.EventApplyStarted, audit.EventApplied} {
		assert.Equal(t, want, events[name], "audit event %s", name)
	}

	// A plan made before the stack had an aws block (its record holds no
	// identity) is refused: nobody checked which account it was made in.
	var second plan.Summary
	h.ok("plan_change", map[string]any{"stack": "guarded", "variables": map[string]any{"replicas": 3}}, &second)
	_, err = h.deps.Store.Update(second.PlanID, func(r *plan.Record) error { r.Summary.AWS = nil; return nil })
	require.NoError(t, err)
	token := h.approve(second.PlanID, "alice")
	msg := textOf(h.applyWith(second.PlanID, token))
	assert.Contains(t, msg, "was made before stack \"guarded\" had an aws block")

	// A plan made with the guard on a stack whose aws block is gone.
	var web plan.Summary
	h.ok("plan_change", map[string]any{"stack": "web"}, &web)
	_, err = h.deps.Store.Update(web.PlanID, func(r *plan.Record) error { r.Summary.AWS = want; return nil })
	require.NoError(t, err)
	token = h.approve(web.PlanID, "alice")
	msg = textOf(h.applyWith(web.PlanID, token))
	assert.Contains(t, msg, "has no aws block in plangate.hcl any more")
	assert.Contains(t, msg, "the approval tokens were not used")
	_, err = h.deps.Store.Update(web.PlanID, func(r *plan.Record) error { r.Summary.AWS = nil; return nil })
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
	require.NoError(t, h.deps.Audit.Read(func(_ int, ev audit.Event, _ []byte) error {
		if ev.Event == audit.EventPlanRefused {
			refused = append(refused, ev.Stack)
		}
		return nil
	}))
	assert.Equal(t, []string{"nosts"}, refused)

	// show_stack reads state with the guard's identity.
	var view plan.StateView
	h.ok("show_stack", map[string]any{"stack": "guarded"}, &view)
	assert.Equal(t, want, view.AWS)
	assert.NotEmpty(t, view.Resources)

	b, err := os.ReadFile(filepath.Join(h.cfg.StateDir, "audit.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), user.Creds.SecretAccessKey)
	assert.NotContains(t, h.logs.String(), user.Creds.SecretAccessKey)
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
	assert.Contains(t, msg, "the Terraform state is locked by another run, so nothing ran: held by bob@laptop")
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
