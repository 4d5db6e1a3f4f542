package tools

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// stateStub stands in for the gate's state read (which needs Terraform;
// the server tests read real state): it returns a fixed view or error, so
// that what show_stack makes of each is under test.
type stateStub struct {
	view *plan.StateView
	err  error
}

func (s stateStub) State(context.Context, *config.Stack) (*plan.StateView, error) {
	return s.view, s.err
}

func TestShowStack(t *testing.T) {
	f := newFixture(t)
	view := &plan.StateView{Stack: "web", Workspace: "default",
		Resources: []plan.StateResource{{Address: "terraform_data.a", Type: "terraform_data", Mode: "managed"}},
		Outputs:   []plan.StateOutput{{Name: "pw", Sensitive: true, Value: plan.SensitiveMask}, {Name: "url", Value: "https://x"}},
		AWS:       &plan.AWSIdentity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:assumed-role/plan/plangate-read-web"}}
	res := call(t, ShowStack(stateStub{view: view}, f.deps), map[string]any{"stack": "web"})
	require.False(t, res.IsError)
	assert.Equal(t, StackView{StateView: *view, ResourceCount: 1}, res.StructuredContent)
	assert.Equal(t, "Stack web (workspace default): 1 resource(s) in state\nAWS: account 123456789012 as arn:aws:sts::123456789012:assumed-role/plan/plangate-read-web\n"+
		"  terraform_data.a\n\nOutputs:\n  pw = (sensitive value)\n  url = \"https://x\"\n", text(res))

	msg := errorText(t, call(t, ShowStack(stateStub{err: &gate.GuardError{Stack: "web", Err: context.DeadlineExceeded}}, f.deps), map[string]any{"stack": "web"}))
	assert.Contains(t, msg, "This needs a human")
	assert.Contains(t, errorText(t, call(t, ShowStack(stateStub{}, f.deps), map[string]any{"stack": "nope"})), `unknown stack "nope"`)
}
