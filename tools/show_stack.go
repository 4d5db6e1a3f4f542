package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// stateReader reads a stack's state: gate.Gate.
type stateReader interface {
	State(ctx context.Context, st *config.Stack) (*plan.StateView, error)
}

// StackView is the structured content of show_stack: the state view with
// one page of its resources, and every resource counted.
type StackView struct {
	plan.StateView
	// ResourceCount is every resource instance in the state.
	ResourceCount int `json:"resource_count"`
	// ResourceGroups count every resource by module and type when the
	// page does not list them all.
	ResourceGroups []plan.Group `json:"resource_groups,omitempty"`
	Offset         int          `json:"offset,omitempty"`
	NextOffset     int          `json:"next_offset,omitempty"`
	Omitted        []string     `json:"omitted,omitempty"`
}

// maxListedResources is how many resources one show_stack result lists
// (about 140 bytes each, text and structured).
const maxListedResources = 100

// ShowStack shows which resources a stack's state holds, and its outputs.
func ShowStack(states stateReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("show_stack",
		mcp.WithDescription("What a stack's Terraform state holds: every resource instance's address and type, in pages, and the outputs "+
			"(sensitive ones masked; attribute values never shown)."),
		stackProperty(),
		mcp.WithInteger("offset", mcp.Description("Resources index (next_offset)."), mcp.Min(0), mcp.Max(1<<30)),
		annotations("Show a stack's state", true, false, true, true),
		outputSchemaOf[StackView]([]string{"stack", "workspace", "resources", "resource_count", "outputs"},
			[]string{"resource_groups", "next_offset", "concurrent"}),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Stack  string `json:"stack"`
			Offset int    `json:"offset"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("show_stack", err), nil
		}
		st, err := d.stack(ctx, args.Stack)
		if err != nil {
			return d.errorResult("show_stack", err), nil
		}
		view, err := states.State(ctx, st)
		if err != nil {
			return d.errorResult("show_stack", err), nil
		}
		if args.Offset < 0 || args.Offset > 0 && args.Offset >= len(view.Resources) {
			return mcp.NewToolResultError(fmt.Sprintf("offset %d is outside the %d resources in state: use next_offset from the previous page (or 0)", args.Offset, len(view.Resources))), nil
		}
		return stackResult(view, args.Offset), nil
	}}
}

// stackResult is one page of the state view within ResultBudget.
func stackResult(view *plan.StateView, offset int) *mcp.CallToolResult {
	return fitBudget(maxListedResources, func(n int, clipped bool) *mcp.CallToolResult {
		v := pageStack(view, offset, n, clipped)
		return mcp.NewToolResultStructured(v, formatStack(&v))
	})
}

func pageStack(view *plan.StateView, offset, n int, clipOutputs bool) StackView {
	all := view.Resources
	v := StackView{StateView: *view, ResourceCount: len(all), Offset: offset}
	end := min(len(all), offset+n)
	v.Resources = all[offset:end]
	if end < len(all) {
		v.NextOffset = end
	}
	if offset > 0 || end < len(all) {
		counts := map[plan.Group]int{}
		var order []plan.Group
		for _, r := range all {
			g := plan.Group{Module: r.Module, Type: r.Type}
			if counts[g] == 0 {
				order = append(order, g)
			}
			counts[g]++
		}
		for _, g := range order {
			g2 := g
			g2.Count = counts[g]
			v.ResourceGroups = append(v.ResourceGroups, g2)
		}
		v.ResourceGroups = plan.BoundGroups(v.ResourceGroups, plan.MaxDeletionGroups)
	}
	if clipOutputs {
		v.Outputs = clipOutputValues(view.Outputs, &v.Omitted)
	}
	return v
}

// clipOutputValues replaces output values of more than maxMessage bytes
// of JSON with a note, recorded in omitted.
func clipOutputValues(outputs []plan.StateOutput, omitted *[]string) []plan.StateOutput {
	out := make([]plan.StateOutput, len(outputs))
	for i, o := range outputs {
		out[i] = o
		if b, _ := json.Marshal(o.Value); len(b) > maxMessage {
			out[i].Value = fmt.Sprintf("(%d bytes of JSON, not shown here)", len(b))
			*omitted = append(*omitted, fmt.Sprintf("output %s: its value (%d bytes); terraform output -json %s shows it", o.Name, len(b), o.Name))
		}
	}
	return out
}

func formatStack(v *StackView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Stack %s (workspace %s): %d resource(s) in state", v.Stack, v.Workspace, v.ResourceCount)
	if len(v.Resources) < v.ResourceCount {
		fmt.Fprintf(&b, "; listed here: %d–%d", v.Offset+1, v.Offset+len(v.Resources))
	}
	b.WriteString("\n")
	if v.AWS != nil {
		fmt.Fprintf(&b, "AWS: %s\n", v.AWS)
	}
	if v.Concurrent != "" {
		fmt.Fprintf(&b, "NOTE: %s\n", v.Concurrent)
	}
	for _, r := range v.Resources {
		fmt.Fprintf(&b, "  %s\n", r.Address)
	}
	if len(v.ResourceGroups) > 0 {
		fmt.Fprintf(&b, "All %d by module and type:\n", v.ResourceCount)
		for _, g := range v.ResourceGroups {
			mod := g.Module
			switch mod {
			case "":
				mod = "(root module)"
			case "*":
				mod = "(any module)"
			}
			fmt.Fprintf(&b, "  %6d  %s %s\n", g.Count, mod, g.Type)
		}
	}
	if v.NextOffset != 0 {
		fmt.Fprintf(&b, "(show_stack with offset %d lists the next ones)\n", v.NextOffset)
	}
	if len(v.Outputs) > 0 {
		b.WriteString("\nOutputs:\n")
		for _, o := range v.Outputs {
			val, _ := json.Marshal(o.Value)
			if o.Sensitive {
				val = []byte(plan.SensitiveMask)
			}
			fmt.Fprintf(&b, "  %s = %s\n", o.Name, val)
		}
	}
	for _, o := range v.Omitted {
		fmt.Fprintf(&b, "Left out (to fit this result): %s\n", o)
	}
	return b.String()
}
