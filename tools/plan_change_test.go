package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// Bad variables are refused by the real gate before anything runs, with
// what the agent may set.
func TestPlanChangeRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	tool := PlanChange(f.deps.Gate, f.deps.Store, f.deps)
	assert.Equal(t, "variable \"secret_thing\" may not be set on stack \"web\": the agent may set only n (a human adds more to `variables` in plangate.hcl)",
		errorText(t, call(t, tool, map[string]any{"stack": "web", "variables": map[string]any{"secret_thing": 1}})))
	assert.Equal(t, "variable \"n\" has the wrong type: a number is required; the stack declares it as number",
		errorText(t, call(t, tool, map[string]any{"stack": "web", "variables": map[string]any{"n": "many"}})))
	assert.Equal(t, `unknown stack "prod": the configured stacks are web, db (list_stacks describes them)`,
		errorText(t, call(t, tool, map[string]any{"stack": "prod"})))
	assert.Equal(t, "stack is required: call list_stacks to see the stacks you may plan", errorText(t, call(t, tool, map[string]any{})))
	recs, err := f.deps.Store.List()
	assert.NoError(t, err)
	assert.Empty(t, recs, "nothing recorded")
}

// failingProposer stands in for the gate to return one error of each kind
// the gate can return (the real ones need Terraform, AWS or a second
// process in a given state; the server tests meet them for real): here
// only the mapping from error to what the agent reads is under test.
type failingProposer struct{ err error }

func (p failingProposer) Propose(context.Context, *config.Stack, map[string]any, audit.Client, ...plan.PlanOption) (*plan.Record, error) {
	return nil, p.err
}

func TestPlanChangeMapsErrorsToWhatToDo(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		err  error
		want []string
	}{
		{&plan.InputError{Msg: "variable n: expected a number"}, []string{"variable n: expected a number"}},
		{&plan.BusyError{Stack: "web"}, []string{`stack "web" is busy`, "try again"}},
		{fmt.Errorf("running: %w", context.Canceled), []string{"plan_change was cancelled; nothing was recorded"}},
		{context.DeadlineExceeded, []string{"plan_change timed out; nothing was recorded"}},
		{&gate.GuardError{Stack: "web", Err: &awsguard.AccountMismatchError{}}, []string{`stack "web": `, "This needs a human: the agent cannot fix AWS credentials or accounts."}},
		{&plan.TerraformError{Op: "init", Stack: "web", Output: "Error: Failed to query available provider packages"}, []string{
			"terraform init failed for stack \"web\":\nError: Failed to query available provider packages", "fix the configuration, backend or provider requirements"}},
		{&plan.TerraformError{Op: "workspace select staging", Stack: "web", Output: "no such workspace"}, []string{"A human must create the workspace"}},
		{&plan.TerraformError{Op: "lookup", Output: "terraform not found"}, []string{"terraform is not usable: terraform not found", "install Terraform (>= 1.5)"}},
		{errors.New("disk on fire"), []string{"plan_change failed: disk on fire"}},
	}
	for _, tt := range tests {
		t.Run(strings.SplitN(tt.err.Error(), ":", 2)[0], func(t *testing.T) {
			tool := PlanChange(failingProposer{tt.err}, f.deps.Store, f.deps)
			msg := errorText(t, call(t, tool, map[string]any{"stack": "web"}))
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}
