package tools

import (
	"context"
	"fmt"
	"slices"

	"github.com/plangate/plangate/plan"
)

// Agent is who a request comes from when plangate serves over HTTP with
// agent tokens (plangate server on TCP): the token's name, and the stacks
// it may use. Over stdio, and on a unix socket, there is none.
type Agent struct {
	Name string
	// Stacks limits the agent to these stacks; empty: every stack.
	Stacks []string
}

// Allows reports whether the agent may use the stack.
func (a *Agent) Allows(stack string) bool {
	return a == nil || len(a.Stacks) == 0 || slices.Contains(a.Stacks, stack)
}

type agentKey struct{}

// WithAgent returns ctx carrying the request's agent.
func WithAgent(ctx context.Context, a *Agent) context.Context {
	return context.WithValue(ctx, agentKey{}, a)
}

// AgentFrom returns the request's agent; nil when there is none.
func AgentFrom(ctx context.Context) *Agent {
	a, _ := ctx.Value(agentKey{}).(*Agent)
	return a
}

// allowStack refuses a stack the request's agent may not use, in the
// words of an unknown stack: a token limited to some stacks learns
// nothing of the others.
func allowStack(ctx context.Context, stack string) error {
	if a := AgentFrom(ctx); !a.Allows(stack) {
		return &plan.InputError{Msg: fmt.Sprintf("stack %q is not one this agent token may use (it may use: %v); a human issues a token for it with plangate agent-token add", clip(stack), a.Stacks)}
	}
	return nil
}
