package main

import (
	"errors"
	"fmt"

	"github.com/plangate/plangate/internal/agenttoken"
	"github.com/plangate/plangate/server"
	"github.com/plangate/plangate/tools"
)

// Rate limit of each agent on plangate server's TCP listener: generous
// for an agent, a wall for a runaway loop.
const (
	agentRequestsPerMinute = 600
	agentBurst             = 60
)

// agentAuth is the agent-token check of plangate server on TCP: tokens
// from `plangate agent-token add`, kept hashed in state_dir.
func agentAuth(stateDir string) (server.Authenticator, server.RateLimiter, error) {
	store, err := agenttoken.Open(stateDir)
	if err != nil {
		return nil, nil, err
	}
	return tokenAuth{store}, agenttoken.NewLimiter(agentRequestsPerMinute, agentBurst), nil
}

type tokenAuth struct{ s *agenttoken.Store }

func (a tokenAuth) Authenticate(bearer string) (*tools.Agent, error) {
	ag, err := a.s.Authenticate(bearer)
	if err != nil && !errors.Is(err, agenttoken.ErrUnauthorized) {
		return nil, fmt.Errorf("%w: %w", server.ErrAuthUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	return &tools.Agent{Name: ag.Name, Stacks: ag.Stacks}, nil
}
