package gate

import (
	"context"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// State reads which resources the stack's state holds, and its outputs
// (masked). On a stack with an aws block it reads as the plan role: the
// state may live in S3.
func (g *Gate) State(ctx context.Context, st *config.Stack) (*plan.StateView, error) {
	var opts []plan.StateOption
	var identity *plan.AWSIdentity
	if guard := g.AWS.For(st); guard != nil {
		session, err := guard.Read(ctx, st.Name)
		if err != nil {
			return nil, &GuardError{Stack: st.Name, Err: err}
		}
		opts = append(opts, plan.WithCredentials(session.Apply))
		identity = identityOf(session)
	}
	view, err := g.Runner.State(ctx, st, opts...)
	if err != nil {
		return nil, err
	}
	view.AWS = identity
	return view, nil
}
