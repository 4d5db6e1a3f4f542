package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/plan"
)

// Plan resources: the full diff of a plan, and its sanitized plan JSON.
const (
	planURIPrefix   = "plangate://plans/"
	planJSONSuffix  = "/plan.json"
	diffURITemplate = planURIPrefix + "{plan_id}"
	jsonURITemplate = planURIPrefix + "{plan_id}" + planJSONSuffix
)

// ResourceTemplates returns the plan resource templates.
func ResourceTemplates(d *Deps) []server.ServerResourceTemplate {
	return []server.ServerResourceTemplate{
		{
			Template: mcp.NewResourceTemplate(diffURITemplate, "Plan diff",
				mcp.WithTemplateDescription("The full Terraform-style diff of a recorded plan, deletions first, sensitive values masked."),
				mcp.WithTemplateMIMEType("text/plain")),
			Handler: d.readPlanResource,
		},
		{
			Template: mcp.NewResourceTemplate(jsonURITemplate, "Plan JSON (sanitized)",
				mcp.WithTemplateDescription("The plan as `terraform show -json` describes it, with every sensitive value replaced by \"(sensitive value)\"."),
				mcp.WithTemplateMIMEType("application/json")),
			Handler: d.readPlanResource,
		},
	}
}

// PlanResources lists the resources of pending plans (awaiting approval or
// blocked), for resources/list.
func PlanResources(d *Deps) []server.ServerResource {
	recs, err := d.Store.List()
	if err != nil {
		d.logger().Warn("listing plans for resources", "err", err)
		return nil
	}
	now := d.now()
	var out []server.ServerResource
	for _, r := range recs {
		st := r.EffectiveStatus(now)
		if st != plan.StatusAwaitingApproval && st != plan.StatusBlocked {
			continue
		}
		desc := fmt.Sprintf("Plan for %s (%s): %d to add, %d to change, %d to destroy; deletes %d",
			r.Stack, st, r.Counts.Add, r.Counts.Change, r.Counts.Destroy, r.Deletions())
		out = append(out,
			server.ServerResource{
				Resource: mcp.NewResource(planURIPrefix+r.ID, "Plan "+plan.ShortID(r.ID)+" diff ("+r.Stack+")",
					mcp.WithResourceDescription(desc), mcp.WithMIMEType("text/plain")),
				Handler: d.readPlanResource,
			},
			server.ServerResource{
				Resource: mcp.NewResource(planURIPrefix+r.ID+planJSONSuffix, "Plan "+plan.ShortID(r.ID)+" JSON ("+r.Stack+")",
					mcp.WithResourceDescription(desc+"; sanitized plan JSON"), mcp.WithMIMEType("application/json")),
				Handler: d.readPlanResource,
			})
	}
	return out
}

// SyncResources makes resources/list show the pending plans as they are now.
func SyncResources(s *server.MCPServer, d *Deps) {
	if s == nil {
		return
	}
	s.SetResources(PlanResources(d)...)
}

func syncFromContext(ctx context.Context, d *Deps) {
	SyncResources(server.ServerFromContext(ctx), d)
}

func (d *Deps) readPlanResource(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	rest, ok := strings.CutPrefix(uri, planURIPrefix)
	if !ok {
		return nil, fmt.Errorf("unknown resource %q: plan resources are %s and %s", uri, diffURITemplate, jsonURITemplate)
	}
	id, wantJSON := strings.CutSuffix(rest, planJSONSuffix)
	rec, err := d.Store.Get(id)
	if errors.Is(err, plan.ErrPlanNotFound) || errors.Is(err, plan.ErrMalformedID) || errors.Is(err, plan.ErrAmbiguousPlan) {
		return nil, fmt.Errorf("%w: %s: %w", server.ErrResourceNotFound, uri, err)
	}
	if err != nil {
		return nil, err
	}
	if err := allowStack(ctx, rec.Stack); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", server.ErrResourceNotFound, uri, err)
	}
	if wantJSON {
		b, err := d.Store.PlanJSON(rec.ID)
		if err != nil {
			return nil, fmt.Errorf("plan %s has no plan JSON (Terraform produced no plan): %w", rec.ID, err)
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}}, nil
	}
	page, err := d.Store.ReadDiff(rec.ID, 0, plan.AllOfIt)
	if err != nil {
		return nil, err
	}
	s := rec.Summary(d.now()).WithDiff(page)
	var b strings.Builder
	plan.WriteReport(&b, &s, d.now())
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "text/plain", Text: b.String()}}, nil
}
