package tools

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// StackInfo describes one stack to an agent.
type StackInfo struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Dir         string          `json:"dir"`
	Workspace   string          `json:"workspace"`
	Variables   []plan.Variable `json:"variables"`
	Policy      PolicyInfo      `json:"policy"`
	// AWS is the stack's identity guard, when it has an aws block.
	AWS *AWSGuardInfo `json:"aws,omitempty"`
	// Frozen is set while the kill switch stops applies to the stack.
	Frozen *freeze.Freeze `json:"frozen,omitempty"`
	// Problem is set when the stack's configuration cannot be read.
	Problem string `json:"problem,omitempty"`
}

// AWSGuardInfo is a stack's aws block as an agent may see it.
type AWSGuardInfo struct {
	Region       string `json:"region"`
	AccountID    string `json:"account_id,omitempty" jsonschema:"plans and applies in any other account are refused"`
	PlanRoleARN  string `json:"plan_role_arn,omitempty" jsonschema:"the role plans run as"`
	ApplyRoleARN string `json:"apply_role_arn,omitempty" jsonschema:"the role applies run as, assumed only after approval"`
}

// PolicyInfo summarises a stack's policy.
type PolicyInfo struct {
	Approvals         int      `json:"approvals"`
	DeletionApprovals int      `json:"deletion_approvals"`
	MaxDeletions      *int     `json:"max_deletions,omitempty"`
	MaxDeletionRatio  float64  `json:"max_deletion_ratio"`
	Protected         []string `json:"protected"`
	PlanTTL           string   `json:"plan_ttl"`
}

// ListStacksResult is the structured content of list_stacks.
type ListStacksResult struct {
	Stacks []StackInfo `json:"stacks"`
	// Warnings are problems of the whole setup a human should fix, such as
	// a state_dir inside a git work tree; the agent relays them.
	Warnings []string `json:"warnings" jsonschema:"problems of plangate's setup to relay to a human; empty when there are none"`
}

// ListStacks lists the configured stacks with their settable variables.
func ListStacks(d *Deps) server.ServerTool {
	tool := mcp.NewTool("list_stacks",
		mcp.WithDescription("Start here: the Terraform stacks you may plan changes to, the variables you may set on each (name, type, description), "+
			"their approval policy and workspace."),
		annotations("List Terraform stacks", true, false, true, false),
		outputSchema[ListStacksResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cfg, err := d.current()
		if err != nil {
			return d.errorResult("list_stacks", err), nil
		}
		res := ListStacksResult{Stacks: []StackInfo{}, Warnings: []string{}}
		agent := AgentFrom(ctx)
		for _, st := range cfg.Stacks {
			if agent.Allows(st.Name) {
				res.Stacks = append(res.Stacks, d.stackInfo(cfg, st))
			}
		}
		if w := cfg.StateDirWarning(); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
		if s, err := d.configState(); err == nil && s != nil {
			if note := s.PendingNote(); note != "" {
				res.Warnings = append(res.Warnings, note)
			}
			if s.Unrecorded != "" {
				res.Warnings = append(res.Warnings, s.Unrecorded)
			}
		}
		return mcp.NewToolResultStructured(res, formatStacks(res)), nil
	}}
}

func (d *Deps) stackInfo(cfg *config.Config, st *config.Stack) StackInfo {
	info := StackInfo{
		Name:        st.Name,
		Description: st.Description,
		Dir:         relTo(filepath.Dir(cfg.Path), st.Dir),
		Workspace:   st.Workspace,
		Variables:   []plan.Variable{},
		Policy: PolicyInfo{
			Approvals:         st.Policy.Approvals,
			DeletionApprovals: st.Policy.DeletionApprovals,
			MaxDeletionRatio:  st.Policy.MaxDeletionRatio,
			Protected:         append([]string{}, st.Policy.Protected...),
			PlanTTL:           st.Policy.PlanTTL.String(),
		},
	}
	if st.Policy.MaxDeletions >= 0 {
		n := st.Policy.MaxDeletions
		info.Policy.MaxDeletions = &n
	}
	if a := st.AWS; a != nil {
		info.AWS = &AWSGuardInfo{Region: a.Region, AccountID: a.AccountID, PlanRoleARN: a.PlanRoleARN, ApplyRoleARN: a.ApplyRoleARN}
	}
	if f, err := freeze.Check(cfg.StateDir, st.Name); err == nil && f != nil {
		info.Frozen = f
	}
	vars, err := plan.StackVariables(st)
	if err != nil {
		info.Problem = err.Error()
	} else {
		info.Variables = vars
	}
	return info
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func formatStacks(res ListStacksResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d stack(s):\n", len(res.Stacks))
	for _, s := range res.Stacks {
		fmt.Fprintf(&b, "\n%s", s.Name)
		if s.Description != "" {
			fmt.Fprintf(&b, " — %s", s.Description)
		}
		fmt.Fprintf(&b, "\n  dir: %s, workspace: %s\n", s.Dir, s.Workspace)
		fmt.Fprintf(&b, "  policy: %d approval(s), %d when deleting", s.Policy.Approvals, s.Policy.DeletionApprovals)
		if s.Policy.MaxDeletions != nil {
			fmt.Fprintf(&b, ", at most %d deletion(s)", *s.Policy.MaxDeletions)
		}
		if len(s.Policy.Protected) > 0 {
			fmt.Fprintf(&b, ", protected: %s", strings.Join(s.Policy.Protected, ", "))
		}
		fmt.Fprintf(&b, ", plans expire after %s\n", s.Policy.PlanTTL)
		if a := s.AWS; a != nil {
			fmt.Fprintf(&b, "  aws: region %s", a.Region)
			if a.AccountID != "" {
				fmt.Fprintf(&b, ", account %s only", a.AccountID)
			}
			if a.PlanRoleARN != "" {
				fmt.Fprintf(&b, ", plans as %s", a.PlanRoleARN)
			}
			if a.ApplyRoleARN != "" {
				fmt.Fprintf(&b, ", applies as %s", a.ApplyRoleARN)
			}
			b.WriteString("\n")
		}
		if s.Frozen != nil {
			fmt.Fprintf(&b, "  FROZEN: %s\n", s.Frozen.Refusal())
		}
		if s.Problem != "" {
			fmt.Fprintf(&b, "  PROBLEM: %s\n", s.Problem)
		}
		if len(s.Variables) == 0 {
			b.WriteString("  variables you may set: none\n")
			continue
		}
		b.WriteString("  variables you may set:\n")
		for _, v := range s.Variables {
			fmt.Fprintf(&b, "    %s (%s", v.Name, v.Type)
			if v.Required {
				b.WriteString(", required")
			}
			if v.Sensitive {
				b.WriteString(", sensitive")
			}
			b.WriteString(")")
			if v.Description != "" {
				fmt.Fprintf(&b, ": %s", v.Description)
			}
			if !v.Declared {
				b.WriteString(" [not declared by the Terraform module]")
			}
			b.WriteString("\n")
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "\nWARNING (tell a human): %s\n", w)
	}
	return b.String()
}
