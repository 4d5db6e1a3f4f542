package tools

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// check_drift with real Terraform on a stack without drift (terraform_data
// has no remote object; drift on AWS is cmd/plangate's drift_e2e_test.go),
// then on the same stack frozen: it says so and runs all the same.
func TestCheckDriftNoDriftAndFrozen(t *testing.T) {
	tftest.Setup(t)
	f := newFixture(t)
	tool := CheckDrift(f.deps.Gate, f.deps.Store, f.deps)

	res := call(t, tool, map[string]any{"stack": "web"})
	require.False(t, res.IsError, text(res))
	lines := strings.Split(text(res), "\n")
	assert.Equal(t, "No drift in web", lines[0])
	assert.Contains(t, text(res), "a drift check, not a plan: nothing was changed, and it can never be approved or applied")
	assert.Contains(t, text(res), "Next: nothing to do")
	assert.NotContains(t, text(res), "Frozen")
	out := res.StructuredContent.(DriftResult)
	assert.Equal(t, DriftResult{CheckID: out.CheckID, Stack: "web", Resources: []plan.DriftedResource{}}, out)
	rec, err := f.deps.Store.Get(out.CheckID)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusDriftCheck, rec.Status)

	_, err = freeze.Set(f.deps.Config.StateDir, "web", "incident 4411", "ops", f.now)
	require.NoError(t, err)
	res = call(t, tool, map[string]any{"stack": "web"})
	require.False(t, res.IsError, text(res))
	assert.Contains(t, text(res), `Frozen: stack "web" is frozen by ops`)
	assert.Contains(t, text(res), "This read-only check ran all the same.")

	// apply_plan refuses the check (the freeze first, as for any plan).
	applied := call(t, ApplyPlan(f.deps.Gate, f.deps.Store, f.deps), map[string]any{"plan_id": out.CheckID, "approval_tokens": []any{"pgt1.x.y"}})
	assert.Contains(t, errorText(t, applied), `stack "web" is frozen`)

	var events []audit.EventName
	require.NoError(t, f.deps.Gate.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		events = append(events, e.Event)
		return nil
	}))
	assert.Equal(t, []audit.EventName{audit.EventDriftChecked, audit.EventDriftChecked, audit.EventApplyRefused}, events)

	bad := call(t, tool, map[string]any{"stack": "nope"})
	assert.Contains(t, errorText(t, bad), `unknown stack "nope"`)
}

// commitDrift records a drift check of stack web with n drifted resources
// (every third deleted, the others with attrs changed attributes) and a
// diff of diffBytes.
func (f *fixture) commitDrift(t *testing.T, n, attrs, diffBytes int, addr func(i int) string) *plan.Record {
	t.Helper()
	d, err := f.deps.Store.NewDraft()
	require.NoError(t, err)
	var diff strings.Builder
	for diff.Len() < diffBytes {
		fmt.Fprintf(&diff, "  # %s has changed\n  ~ resource \"x\" \"y\" {\n      ~ \"<tag>\" = \"a\" -> \"b\"\n    }\n\n", addr(diff.Len()))
	}
	require.NoError(t, os.WriteFile(filepath.Join(d.Dir, plan.DiffFile), []byte(diff.String()), 0o600))
	dc := &plan.DriftCheck{Resources: []plan.DriftedResource{}}
	for i := range n {
		r := plan.DriftedResource{Address: addr(i), Type: fmt.Sprintf("x_type_%d", i%7), Action: plan.DriftChanged}
		if i%3 == 0 {
			r.Action = plan.DriftDeleted
			dc.Deleted++
		} else {
			dc.Changed++
			for j := range min(attrs, plan.MaxDriftAttributes) {
				r.Attributes = append(r.Attributes, fmt.Sprintf("tags[\"<%s-%d>\"]", strings.Repeat("k", 40), j))
			}
			r.AttributesMore = max(0, attrs-plan.MaxDriftAttributes)
		}
		dc.Resources = append(dc.Resources, r)
	}
	rec := &plan.Record{Stack: "web", Status: plan.StatusDriftCheck, CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour),
		Deleted: []plan.Deletion{}, DriftCheck: dc}
	require.NoError(t, d.Commit(rec))
	return rec
}

// Whatever a check finds, its result stays within MaxDriftResultBytes as
// sent, the first line has the exact counts, up to MaxListedDrift
// resources are listed one by one, and counts by type cover all of them.
func TestCheckDriftResultIsBounded(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name                string
		n, attrs, diffBytes int
		addr                func(i int) string
		wantListed          int
		wantAll             bool
	}{
		{name: "few", n: 3, attrs: 2, diffBytes: 500, addr: func(i int) string { return fmt.Sprintf("aws_iam_role.r%d", i) }, wantListed: 3, wantAll: true},
		{name: "many", n: 5000, attrs: 30, diffBytes: 2 << 20, addr: func(i int) string { return fmt.Sprintf("module.m[\"<%d>\"].aws_instance.web[%d]", i, i) }, wantListed: 50},
		{name: "huge addresses", n: 200, attrs: 8, diffBytes: 1 << 20, addr: func(i int) string {
			return fmt.Sprintf("module.%s.x_thing.a[%d]", strings.Repeat("<&>\"", 400), i)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.commitDrift(t, tt.n, tt.attrs, tt.diffBytes, tt.addr)
			res := f.deps.driftResult(f.deps.Store, rec, "")
			b, err := json.Marshal(res)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(b), MaxDriftResultBytes)
			out := res.StructuredContent.(DriftResult)
			first := strings.SplitN(text(res), "\n", 2)[0]
			assert.Equal(t, plan.DriftHeadline(rec.Product, "web", rec.DriftCheck, false), first)
			assert.Contains(t, first, fmt.Sprintf("%d resources changed outside Terraform", rec.DriftCheck.Changed))
			assert.LessOrEqual(t, len(out.Resources), MaxListedDrift)
			if tt.wantListed > 0 {
				assert.Len(t, out.Resources, tt.wantListed)
			}
			if len(out.Resources) > 0 {
				assert.Equal(t, plan.DriftDeleted, out.Resources[0].Action, "deletions first")
			}
			if tt.wantAll {
				assert.Empty(t, out.ByType)
				assert.Zero(t, out.DiffNextOffset)
				assert.Contains(t, text(res), tt.addr(0))
				return
			}
			total := 0
			for _, g := range out.ByType {
				total += g.Count
			}
			assert.Equal(t, tt.n, total, "counts by type cover every drifted resource")
			assert.NotZero(t, out.DiffNextOffset, "the diff continues in get_plan")
			assert.Contains(t, text(res), fmt.Sprintf("offset %d for the rest", out.DiffNextOffset))
		})
	}
}

// The result validates against the tool's own output schema: mcp-go's
// server checks it (WithOutputSchemaValidation) and refuses one that
// does not.
func TestCheckDriftSchemaFitsTheResult(t *testing.T) {
	f := newFixture(t)
	rec := f.commitDrift(t, 4, 3, 100, func(i int) string { return fmt.Sprintf("x_thing.a[%d]", i) })
	res := f.deps.driftResult(f.deps.Store, rec, "")
	tool := CheckDrift(f.deps.Gate, f.deps.Store, f.deps).Tool
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(tool.RawOutputSchema, &schema))
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	for _, k := range schema.Required {
		assert.Contains(t, got, k)
	}
	for k := range got {
		assert.Contains(t, schema.Properties, k, "field %s is in the schema", k)
	}
}
