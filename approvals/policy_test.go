package approvals

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

func TestMatchAddress(t *testing.T) {
	tests := []struct {
		pattern, address string
		want             bool
	}{
		// Plain addresses.
		{"aws_db_instance.main", "aws_db_instance.main", true},
		{"aws_db_instance.main", "aws_db_instance.main2", false},
		{"aws_db_instance.main", "aws_db_instance.replica", false},
		{"aws_db_instance.main", "module.a.aws_db_instance.main", false},
		{"aws_db_instance.main", "aws_rds_cluster.main", false},
		// No key: the resource and every instance.
		{"aws_instance.web", "aws_instance.web[0]", true},
		{"aws_instance.web", `aws_instance.web["a"]`, true},
		{"aws_instance.web", "aws_instance.webserver", false},
		{"aws_instance.web", "aws_instance.webserver[0]", false},
		// Keys.
		{"aws_instance.web[0]", "aws_instance.web[0]", true},
		{"aws_instance.web[0]", "aws_instance.web[1]", false},
		{"aws_instance.web[0]", "aws_instance.web[10]", false},
		{"aws_instance.web[0]", `aws_instance.web["0"]`, false},
		{`aws_instance.web["a"]`, "aws_instance.web[0]", false},
		{"aws_instance.web[0]", "aws_instance.web", false},
		// '*' in keys.
		{"aws_instance.web[*]", "aws_instance.web[3]", true},
		{"aws_instance.web[*]", `aws_instance.web["x.y"]`, true},
		{"aws_instance.web[*]", "aws_instance.web", true},
		{"aws_instance.web[*]", "aws_instance.webserver[0]", false},
		{`aws_s3_bucket.b["prod-*"]`, `aws_s3_bucket.b["prod-logs"]`, true},
		{`aws_s3_bucket.b["prod-*"]`, `aws_s3_bucket.b["dev-logs"]`, false},
		{`aws_s3_bucket.b["prod-*"]`, "aws_s3_bucket.b[0]", false},
		// Tricky keys: dots, brackets and escaped quotes inside strings.
		{`aws_s3_bucket.b["a.b[c]"]`, `aws_s3_bucket.b["a.b[c]"]`, true},
		{`aws_s3_bucket.b["a.b[c]"]`, `aws_s3_bucket.b["a"]`, false},
		{`aws_s3_bucket.b["a*"]`, `aws_s3_bucket.b["a.b[c]"]`, true},
		{`aws_s3_bucket.b["say \"hi\""]`, `aws_s3_bucket.b["say \"hi\""]`, true},
		{`aws_s3_bucket.b["say \"hi\""]`, `aws_s3_bucket.b["say \"ho\""]`, false},
		{"aws_s3_bucket.b[*]", `aws_s3_bucket.b["quote \" bracket ] dot . end"]`, true},
		{"aws_s3_bucket.b", `module.m["k.aws_s3_bucket.b"].aws_s3_bucket.c`, false},
		{`module.m["a.b"].aws_x.y`, `module.m["a.b"].aws_x.y[0]`, true},
		// '*' in names, by prefix within a step.
		{"aws_instance.*", `aws_instance.anything["k"]`, true},
		{"aws_instance.*", "aws_s3_bucket.x", false},
		{"aws_db_*.main", "aws_db_instance.main", true},
		{"aws_db_*.main", "aws_rds_cluster.main", false},
		{"*.main", "aws_db_instance.main", true},
		{"*.main", "module.a.aws_db_instance.main", false},
		{"aws_instance.web*", "aws_instance.web2[1]", true},
		// Module subtrees.
		{"module.data.*", "module.data.aws_s3_bucket.b", true},
		{"module.data.*", `module.data["x"].aws_s3_bucket.b`, true},
		{"module.data.*", "module.data.module.inner.aws_s3_bucket.b[0]", true},
		{"module.data.*", "module.database.aws_s3_bucket.b", false},
		{"module.data.*", "aws_s3_bucket.data", false},
		{"module.data.*", "module.other.module.data.aws_s3_bucket.b", false},
		{"module.data", "module.data.aws_s3_bucket.b", true},
		{"module.data[0]", "module.data[1].aws_s3_bucket.b", false},
		{"module.data[0].*", "module.data[0].aws_s3_bucket.b", true},
		{"module.data.*.*", "module.data.aws_s3_bucket.b", true},
		{"module.data.*.*", "module.data.module.inner.aws_s3_bucket.b", false},
		{"module.*.*", "module.a.module.b.aws_x.y", true},
		{"*", "aws_x.y", true},
		{"*", "module.a.aws_x.y[0]", true},
		// '*' for a module name: any one-level module instance.
		{"module.*.aws_db_instance.main", "module.a.aws_db_instance.main", true},
		{"module.*.aws_db_instance.main", `module.b["x"].aws_db_instance.main`, true},
		{"module.*.aws_db_instance.main", "module.b[2].aws_db_instance.main", true},
		{"module.*.aws_db_instance.main", "aws_db_instance.main", false},
		{"module.*.aws_db_instance.main", "module.a.module.b.aws_db_instance.main", false},
		{"module.*.aws_db_instance.main", "module.a.aws_db_instance.replica", false},
		// Data resources are their own kind.
		{"data.aws_ami.x", "data.aws_ami.x", true},
		{"data.aws_ami.x", "aws_ami.x", false},
		{"aws_ami.x", "data.aws_ami.x", false},
		// A module named data is still a module.
		{"module.data.data.aws_ami.x", "module.data.data.aws_ami.x", true},
		// Invalid patterns match nothing; non-addresses only themselves.
		{"aws_instance.web[", "aws_instance.web[0]", false},
		{"aws_db_*", "aws_db_instance.main", false},
		{"", "aws_x.y", false},
		{"not an address", "not an address", true},
		{"*", "not an address", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" ~ "+tt.address, func(t *testing.T) {
			assert.Equal(t, tt.want, MatchAddress(tt.pattern, tt.address))
		})
	}
}

func TestValidatePattern(t *testing.T) {
	valid := []string{
		"aws_db_instance.main", "aws_instance.web[*]", "aws_instance.web[0]", `aws_s3_bucket.b["a.b[c]"]`,
		`aws_s3_bucket.b["say \"hi\""]`, "module.data.*", "module.data", "module.*.aws_db_instance.main",
		"aws_db_*.main", "*", "data.aws_ami.x", `module.m["k"].aws_x.y[1]`, "module.data.*.*", "*.*",
		"aws_instance.web[1*]", "ünïcode.näme",
	}
	for _, p := range valid {
		t.Run("valid "+p, func(t *testing.T) {
			assert.NoError(t, ValidatePattern(p))
		})
	}
	invalid := []struct{ pattern, contains string }{
		{"", "empty"},
		{"aws_db_*", "not followed by a resource name"},
		{"module", `"module" is not followed by a module name`},
		{"module.", "empty step"},
		{".x.y", "empty step"},
		{"a..b", "empty step"},
		{"a.b.c", "must be the last step"},
		{"a.b.", "empty step"},
		{"a.b[", "not closed"},
		{`a.b["x]`, "not closed"},
		{"a.b[x]", "neither a number nor a quoted string"},
		{"a.b[]", "empty"},
		{"a[0].b", "has no instance key"},
		{"a.b[0]x", "text after the instance key"},
		{"a.b[0][1]", "neither a number"},
		{`a.b["x"]["y"]`, "text after the quoted key"},
		{`a.b["x"y]`, "text after the quoted key"},
		{"a.b]", "without '['"},
		{"a.b[[0]]", "must be quoted"},
		{`a."b"`, "quote outside"},
		{"data.x", "data resource needs a type and a name"},
		{"data.*", "data resource needs a type and a name"},
		{"a b.c", "not a name"},
		{"a.b\t", "not a name"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.pattern, func(t *testing.T) {
			err := ValidatePattern(tt.pattern)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.contains)
			assert.Contains(t, err.Error(), "module.data.*", "the error shows valid examples")
		})
	}
}

func testStackWith(f func(p *config.Policy)) *config.Stack {
	st := &config.Stack{Name: "web", Policy: config.DefaultPolicy()}
	if f != nil {
		f(&st.Policy)
	}
	return st
}

func deletes(addrs ...string) []Deleted {
	var out []Deleted
	for _, a := range addrs {
		out = append(out, Deleted{Address: a})
	}
	return out
}

func replaces(addrs ...string) []Deleted {
	var out []Deleted
	for _, a := range addrs {
		out = append(out, Deleted{Address: a, Replace: true})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name          string
		stack         *config.Stack
		deleted       []Deleted
		managed       int
		wantApprovals int
		wantHits      []string
		wantReasons   [][]string // one list of substrings per reason, in order
	}{
		{name: "no deletions", stack: testStackWith(nil), managed: 5, wantApprovals: 1},
		{name: "approvals", stack: testStackWith(func(p *config.Policy) { p.Approvals, p.DeletionApprovals = 2, 3 }), managed: 5, wantApprovals: 2},
		{name: "deletion approvals when deleting", stack: testStackWith(func(p *config.Policy) { p.Approvals, p.DeletionApprovals = 2, 3 }),
			deleted: deletes("aws_x.a"), managed: 5, wantApprovals: 3},
		{name: "deletion approvals never lower approvals", stack: testStackWith(func(p *config.Policy) { p.Approvals, p.DeletionApprovals = 2, 1 }),
			deleted: deletes("aws_x.a"), managed: 5, wantApprovals: 2},
		{name: "zero approvals count as one", stack: testStackWith(func(p *config.Policy) { p.Approvals, p.DeletionApprovals = 0, 0 }), wantApprovals: 1},
		{name: "protected resource replaced", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.main"} }),
			deleted: replaces("aws_db_instance.main"), managed: 10, wantApprovals: 1, wantHits: []string{"aws_db_instance.main"},
			wantReasons: [][]string{{"aws_db_instance.main would be replaced", `protected pattern "aws_db_instance.main"`,
				"protected resources are never deleted or replaced", "remove it from `protected` in plangate.hcl if this is really intended"}}},
		{name: "protected module subtree deleted", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.main", "module.data.*"} }),
			deleted: deletes("aws_x.free", "module.data.module.s3.aws_s3_bucket.b[\"logs\"]"), managed: 10, wantApprovals: 1,
			wantHits:    []string{`module.data.module.s3.aws_s3_bucket.b["logs"]`},
			wantReasons: [][]string{{`module.data.module.s3.aws_s3_bucket.b["logs"] would be destroyed`, `"module.data.*"`}}},
		{name: "protected pattern not hit", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.main"} }),
			deleted: replaces("aws_instance.web[0]"), managed: 10, wantApprovals: 1},
		{name: "two patterns, one hit", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.*", "aws_db_instance.main"} }),
			deleted: replaces("aws_db_instance.main"), managed: 10, wantApprovals: 1, wantHits: []string{"aws_db_instance.main"},
			wantReasons: [][]string{{`"aws_db_instance.*"`}}},
		{name: "deposed object of a protected resource", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.main"} }),
			deleted: append(replaces("aws_db_instance.main"), Deleted{Address: "aws_db_instance.main", Deposed: "d0000001"}),
			managed: 10, wantApprovals: 1, wantHits: []string{"aws_db_instance.main"}, wantReasons: [][]string{{"would be replaced"}}},
		{name: "invalid protected pattern blocks deletions", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_*"} }),
			deleted: deletes("aws_x.a"), managed: 10, wantApprovals: 1,
			wantReasons: [][]string{{`protected pattern "aws_db_*" of stack "web" is not valid`, "fix the pattern in plangate.hcl"}}},
		{name: "invalid protected pattern, nothing deleted", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_*"} }),
			managed: 10, wantApprovals: 1},
		{name: "over max_deletions", stack: testStackWith(func(p *config.Policy) { p.MaxDeletions = 2 }),
			deleted: deletes("a.a", "a.b", "a.c"), managed: 100, wantApprovals: 1,
			wantReasons: [][]string{{"destroys 3 resource instances, more than the 2 that stack \"web\" allows (max_deletions = 2)", "raise max_deletions"}}},
		{name: "at max_deletions", stack: testStackWith(func(p *config.Policy) { p.MaxDeletions = 3 }),
			deleted: deletes("a.a", "a.b", "a.c"), managed: 100, wantApprovals: 1},
		{name: "max_deletions 0", stack: testStackWith(func(p *config.Policy) { p.MaxDeletions = 0 }),
			deleted: replaces("a.a"), managed: 100, wantApprovals: 1,
			wantReasons: [][]string{{"destroys 1 resource instance", "allows no deletions (max_deletions = 0)"}}},
		{name: "whole environment", stack: testStackWith(nil),
			deleted: replaces("a.a", "a.b", "a.c", "a.d", "a.e", "a.f"), managed: 6, wantApprovals: 1,
			wantReasons: [][]string{{"destroys 6 of 6 resources (100%)", "max_deletion_ratio = 0.5 (50%)",
				"delete-and-recreate-the-environment case", "max_deletion_ratio in the stack's policy block"}}},
		{name: "half is not more than half", stack: testStackWith(nil), deleted: deletes("a.a", "a.b"), managed: 4, wantApprovals: 1},
		{name: "three of four", stack: testStackWith(nil), deleted: deletes("a.a", "a.b", "a.c"), managed: 4, wantApprovals: 1,
			wantReasons: [][]string{{"destroys 3 of 4 resources (75%)"}}},
		{name: "default ratio spares small stacks", stack: testStackWith(nil), deleted: deletes("a.a", "a.b", "a.c"), managed: 3, wantApprovals: 1},
		{name: "explicit ratio applies to small stacks", stack: testStackWith(func(p *config.Policy) { p.MaxDeletionRatioSet = true }),
			deleted: deletes("a.a", "a.b"), managed: 3, wantApprovals: 1,
			wantReasons: [][]string{{"destroys 2 of 3 resources (66.7%)"}}},
		{name: "ratio 1 allows everything", stack: testStackWith(func(p *config.Policy) { p.MaxDeletionRatio, p.MaxDeletionRatioSet = 1, true }),
			deleted: deletes("a.a", "a.b", "a.c", "a.d"), managed: 4, wantApprovals: 1},
		{name: "unset ratio is the default", stack: testStackWith(func(p *config.Policy) { p.MaxDeletionRatio = 0 }),
			deleted: deletes("a.a", "a.b", "a.c"), managed: 4, wantApprovals: 1, wantReasons: [][]string{{"max_deletion_ratio = 0.5"}}},
		{name: "unknown state size", stack: testStackWith(nil), deleted: deletes("a.a"), managed: 0, wantApprovals: 1},
		{name: "every rule at once", stack: testStackWith(func(p *config.Policy) {
			p.Approvals, p.DeletionApprovals, p.MaxDeletions, p.Protected = 1, 2, 3, []string{"a.b"}
		}), deleted: deletes("a.a", "a.b", "a.c", "a.d"), managed: 4, wantApprovals: 2, wantHits: []string{"a.b"},
			wantReasons: [][]string{{"a.b would be destroyed"}, {"max_deletions = 3"}, {"4 of 4 resources (100%)"}}},
		{name: "protected under the address it had before a moved block", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.main"} }),
			deleted: []Deleted{{Address: "aws_db_instance.renamed", PreviousAddress: "aws_db_instance.main", Replace: true}}, managed: 10, wantApprovals: 1,
			wantHits:    []string{"aws_db_instance.renamed"},
			wantReasons: [][]string{{"aws_db_instance.renamed (moved from aws_db_instance.main) would be replaced", `protected pattern "aws_db_instance.main"`}}},
		{name: "a module renamed away from a protected subtree", stack: testStackWith(func(p *config.Policy) { p.Protected = []string{"module.data.*"} }),
			deleted: []Deleted{{Address: "module.other.aws_s3_bucket.b", PreviousAddress: "module.data.aws_s3_bucket.b"}}, managed: 10, wantApprovals: 1,
			wantHits:    []string{"module.other.aws_s3_bucket.b"},
			wantReasons: [][]string{{"module.other.aws_s3_bucket.b (moved from module.data.aws_s3_bucket.b) would be destroyed"}}},
		{name: "no stack", stack: nil, deleted: deletes("a.a"), wantApprovals: 1, wantReasons: [][]string{{"no stack"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.stack, Facts{Deleted: tt.deleted, Managed: tt.managed})
			assert.Equal(t, tt.wantApprovals, v.ApprovalsRequired)
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

func TestEvaluateManyProtectedHits(t *testing.T) {
	var addrs []string
	for i := range 25 {
		addrs = append(addrs, fmt.Sprintf("aws_db_instance.db[%d]", i))
	}
	st := testStackWith(func(p *config.Policy) { p.Protected = []string{"aws_db_instance.db"} })
	v := Evaluate(st, Facts{Deleted: deletes(addrs...), Managed: 1000})
	assert.Equal(t, addrs, v.ProtectedHits, "every hit is listed")
	require.Len(t, v.BlockedReasons, maxProtectedReasons+1)
	assert.Contains(t, v.BlockedReasons[maxProtectedReasons], "5 more protected resources")
}
