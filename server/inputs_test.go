package server_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

// Over MCP, with input and output schemas enforced: a variable left out
// keeps its applied value, an explicit null passes the input schema and
// resets it, and both plans list their inputs with their origin.
func TestPlanChangeCarriesAppliedVariablesOverMCP(t *testing.T) {
	h := newHarness(t)
	var first plan.Summary
	h.ok("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v2.0.0"}}, &first)
	res := h.applyWith(first.PlanID, h.approve(first.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))

	var kept plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "web"}, &kept)
	assert.Equal(t, plan.StatusNoChanges, kept.Status, text)
	assert.Equal(t, []plan.Input{
		{Name: "replicas", Value: float64(2), Origin: plan.OriginDefault},
		{Name: "image_tag", Value: "v2.0.0", Origin: plan.OriginLastApplied, Source: first.PlanID},
		{Name: "network_cidr", Value: "10.0.0.0/16", Origin: plan.OriginDefault},
	}, kept.Inputs)
	assert.Contains(t, text, `image_tag    = "v2.0.0"  (last_applied, plan `+first.PlanID[:8]+")")

	var reset plan.Summary
	text = h.ok("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": nil}}, &reset)
	assert.Equal(t, plan.Input{Name: "image_tag", Value: "v1.0.0", Origin: plan.OriginDefault}, reset.Inputs[1])
	assert.Equal(t, 2, reset.Counts.Replace, text)
	assert.NotContains(t, text, "demo-only-not-a-secret")
}
