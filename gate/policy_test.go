package gate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// policyStack is a stack "web" with the default policy, changed by f.
func policyStack(f func(p *config.Policy)) *config.Stack {
	st := &config.Stack{Name: "web", Policy: config.DefaultPolicy()}
	if f != nil {
		f(&st.Policy)
	}
	return st
}

// TestEvaluateRealPlans runs the policy on plans Terraform made (the plan
// package's captured fixture plans, plan/testdata/plans), through
// plan.Analyze and the facts the gate gives policy: what a stack's policy
// says of each construct.
func TestEvaluateRealPlans(t *testing.T) {
	// generous leaves the mass-deletion ratio out of cases about other rules.
	generous := func(p *config.Policy) { p.MaxDeletionRatio, p.MaxDeletionRatioSet = 1, true }
	tests := []struct {
		name        string
		file        string
		policy      func(p *config.Policy)
		wantHits    []string
		wantReasons [][]string // one list of substrings per reason, in order
	}{
		{name: "module subtree", file: "module_removed.json", policy: func(p *config.Policy) { p.Protected = []string{"module.db.*"} },
			wantHits:    []string{"module.db.terraform_data.primary", "module.db.terraform_data.replica[0]", "module.db.terraform_data.replica[1]"},
			wantReasons: [][]string{{"module.db.terraform_data.primary would be destroyed"}, {"replica[0]"}, {"replica[1]"}, {"destroys 3 of 4 resources (75%)"}}},
		{name: "instance keys in a module", file: "module_removed.json", policy: func(p *config.Policy) {
			p.Protected = []string{"module.db.terraform_data.replica[*]"}
			generous(p)
		},
			wantHits:    []string{"module.db.terraform_data.replica[0]", "module.db.terraform_data.replica[1]"},
			wantReasons: [][]string{{"replica[0] would be destroyed"}, {"replica[1] would be destroyed"}}},
		{name: "for_each key", file: "foreach_remove.json", policy: func(p *config.Policy) { p.Protected = []string{`terraform_data.bucket["backups"]`} },
			wantHits:    []string{`terraform_data.bucket["backups"]`},
			wantReasons: [][]string{{`terraform_data.bucket["backups"] would be destroyed`, `protected pattern "terraform_data.bucket[\"backups\"]"`}}},

		// Module depth: module "app" (for_each) holds module "db".
		{name: "two levels deep, one module instance", file: "nested_modules.json", policy: func(p *config.Policy) { p.Protected = []string{`module.app["eu"].module.db.*`} },
			wantHits: []string{`module.app["eu"].module.db.terraform_data.cache`, `module.app["eu"].module.db.terraform_data.replica[1]`, `module.app["eu"].module.db.terraform_data.replica[2]`},
			wantReasons: [][]string{
				{`module.app["eu"].module.db.terraform_data.cache would be destroyed`, `protected pattern "module.app[\"eu\"].module.db.*"`},
				{`module.app["eu"].module.db.terraform_data.replica[1] would be destroyed`},
				{`module.app["eu"].module.db.terraform_data.replica[2] would be destroyed`},
			}},
		{name: "two levels deep, every module instance", file: "nested_modules.json", policy: func(p *config.Policy) { p.Protected = []string{"module.app.module.db.terraform_data.cache"} },
			wantHits:    []string{`module.app["eu"].module.db.terraform_data.cache`, `module.app["us"].module.db.terraform_data.cache`},
			wantReasons: [][]string{{`module.app["eu"].module.db.terraform_data.cache would be destroyed`}, {`module.app["us"].module.db.terraform_data.cache would be destroyed`}}},
		{name: "two levels deep, one instance key", file: "nested_modules.json", policy: func(p *config.Policy) {
			p.Protected = []string{`module.app["eu"].module.db.terraform_data.replica[2]`}
		},
			wantHits:    []string{`module.app["eu"].module.db.terraform_data.replica[2]`},
			wantReasons: [][]string{{`module.app["eu"].module.db.terraform_data.replica[2] would be destroyed`}}},
		{name: "two levels deep, other instance keys", file: "nested_modules.json", policy: func(p *config.Policy) {
			p.Protected = []string{`module.app["us"].module.db.terraform_data.replica[*]`, `module.app["eu"].module.db.terraform_data.replica[0]`, "module.db.*"}
		}},
		{name: "module count set to 0, one module instance", file: "module_count_zero.json", policy: func(p *config.Policy) {
			p.Protected = []string{"module.worker[1].*"}
			generous(p)
		},
			wantHits: []string{"module.worker[1].terraform_data.consumer[0]", "module.worker[1].terraform_data.consumer[1]", "module.worker[1].terraform_data.queue"},
			wantReasons: [][]string{
				{"module.worker[1].terraform_data.consumer[0] would be destroyed", `"module.worker[1].*"`},
				{"module.worker[1].terraform_data.consumer[1] would be destroyed"},
				{"module.worker[1].terraform_data.queue would be destroyed"},
			}},
		{name: "tainted instance in a module is replaced", file: "tainted.json", policy: func(p *config.Policy) { p.Protected = []string{"module.cache.terraform_data.node[1]"}; generous(p) },
			wantHits:    []string{"module.cache.terraform_data.node[1]"},
			wantReasons: [][]string{{"module.cache.terraform_data.node[1] would be replaced", "protected resources are never deleted or replaced"}}},
		{name: "removed with destroy = true hits protection, the forget does not", file: "removed_destroy.json", policy: func(p *config.Policy) {
			p.Protected = []string{"terraform_data.handed_over", "module.legacy.terraform_data.job[0]"}
			generous(p)
		},
			wantHits:    []string{"module.legacy.terraform_data.job[0]"},
			wantReasons: [][]string{{"module.legacy.terraform_data.job[0] would be destroyed"}}},

		// max_deletions.
		{name: "max_deletions exceeded", file: "count_shrink.json", policy: func(p *config.Policy) { p.MaxDeletions = 2; generous(p) },
			wantReasons: [][]string{{"destroys 3 resource instances, more than the 2 that stack \"web\" allows (max_deletions = 2)"}}},
		{name: "max_deletions reached", file: "count_shrink.json", policy: func(p *config.Policy) { p.MaxDeletions = 3; generous(p) }},
		{name: "max_deletions on a module count set to 0", file: "module_count_zero.json", policy: func(p *config.Policy) { p.MaxDeletions = 5; generous(p) },
			wantReasons: [][]string{{"destroys 6 resource instances, more than the 5", "max_deletions = 5", "raise max_deletions"}}},
		{name: "max_deletions on count to for_each without moved", file: "count_to_foreach.json", policy: func(p *config.Policy) { p.MaxDeletions = 0 },
			// 3 of 3 resources, but the default ratio spares stacks under 4.
			wantReasons: [][]string{{"destroys 3 resource instances", "allows no deletions (max_deletions = 0)"}}},
		{name: "count to for_each with moved deletes nothing", file: "count_to_foreach_moved.json", policy: func(p *config.Policy) {
			p.MaxDeletions = 0
			p.Protected = []string{"*"}
			p.MaxDeletionRatioSet = true
		}},
		{name: "max_deletions counts tainted replacements", file: "tainted.json", policy: func(p *config.Policy) { p.MaxDeletions = 2; generous(p) },
			wantReasons: [][]string{{"destroys 3 resource instances, more than the 2", "max_deletions = 2"}}},
		{name: "nothing deleted", file: "create.json", policy: func(p *config.Policy) { p.MaxDeletions = 0; p.Protected = []string{"*"} }},

		// max_deletion_ratio: the delete-and-recreate-the-environment plan.
		{name: "every resource replaced", file: "replace_all.json", policy: nil,
			wantReasons: [][]string{{"the plan destroys 6 of 6 resources (100%)", "more than max_deletion_ratio = 0.5 (50%)",
				"delete-and-recreate-the-environment case", "raise max_deletion_ratio in the stack's policy block in plangate.hcl"}}},
		{name: "every resource replaced, a stricter ratio", file: "replace_all.json", policy: func(p *config.Policy) { p.MaxDeletionRatio, p.MaxDeletionRatioSet = 0.25, true },
			wantReasons: [][]string{{"6 of 6 resources (100%)", "max_deletion_ratio = 0.25 (25%)"}}},
		{name: "every resource replaced, ratio 1 allows it", file: "replace_all.json", policy: generous},
		{name: "a module count set to 0 is most of the stack", file: "module_count_zero.json", policy: nil,
			wantReasons: [][]string{{"destroys 6 of 7 resources (85.8%)", "max_deletion_ratio = 0.5"}}},
		{name: "a deep deletion is a small share", file: "nested_modules.json", policy: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "plan", "testdata", "plans", tt.file))
			require.NoError(t, err)
			defer f.Close()
			a, err := plan.Analyze(f)
			require.NoError(t, err)
			st := policyStack(tt.policy)
			rec := &plan.Record{Deleted: a.Deleted, ManagedResources: a.ManagedResourceCount(), Providers: a.Providers, RunsCode: runsCode(a, st)}
			v := approvals.Evaluate(st, policyFacts(rec))
			assert.Equal(t, tt.wantHits, v.ProtectedHits)
			require.Len(t, v.BlockedReasons, len(tt.wantReasons), "reasons: %q", v.BlockedReasons)
			for i, want := range tt.wantReasons {
				for _, s := range want {
					assert.Contains(t, v.BlockedReasons[i], s)
				}
			}
		})
	}
}
