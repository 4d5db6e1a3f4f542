package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// -update rewrites plan/testdata/plans (captured plan JSON and Terraform's
// summary line) from live Terraform runs of fixtures/constructs, and the
// rendered-diff goldens in plan/testdata/diff:
//
//	go test ./plan -run 'TestFixtures|TestCommittedPlans' -update
var update = flag.Bool("update", false, "rewrite plan/testdata from live terraform runs and the renderer")

const (
	plansDir = "testdata/plans"
	diffDir  = "testdata/diff"
	// plantedSecret is in every sensitive string of the sensitive fixture.
	plantedSecret = "s3cr3t-PLANTED"
	// plantedNumber is the sensitive fixture's sensitive number.
	plantedNumber = "987654"
)

// plantedSecrets are what assertNoSecret looks for.
var plantedSecrets = []string{plantedSecret, plantedNumber}

// terraformSummary is what Terraform's own `terraform show <planfile>` says
// the plan does.
type terraformSummary struct {
	// Line is the "Plan: ..." line, "No changes." or "" (an output-only
	// plan prints neither).
	Line                        string
	Import, Add, Change, Forget int
	Destroy                     int
}

var (
	planLineRe = regexp.MustCompile(`(?m)^Plan: (?:(\d+) to import, )?(\d+) to add, (\d+) to change, (\d+) to destroy(?:, (\d+) to forget)?\.`)
	// The headers Terraform writes for a change that destroys an object.
	destroyedRe = regexp.MustCompile(`(?m)^\s+# (.+?) (?:will be destroyed|must be replaced|is tainted, so must be replaced|is tainted, so it must be replaced|will be replaced, as requested|will be replaced due to changes in replace_triggered_by)$`)
)

func parseTerraformSummary(t testing.TB, text string) terraformSummary {
	t.Helper()
	m := planLineRe.FindStringSubmatch(text)
	if m == nil {
		if strings.Contains(text, "No changes.") {
			return terraformSummary{Line: "No changes."}
		}
		return terraformSummary{}
	}
	n := func(s string) int {
		if s == "" {
			return 0
		}
		v, err := strconv.Atoi(s)
		require.NoError(t, err)
		return v
	}
	return terraformSummary{Line: m[0], Import: n(m[1]), Add: n(m[2]), Change: n(m[3]), Destroy: n(m[4]), Forget: n(m[5])}
}

// terraformDestroyed lists the addresses Terraform's plain output marks
// destroyed or replaced, with " (deposed object KEY)" for deposed objects.
func terraformDestroyed(text string) []string {
	out := []string{}
	for _, m := range destroyedRe.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func deletedAddresses(d []Deletion) []string {
	out := []string{}
	for _, del := range d {
		if del.Deposed != "" {
			out = append(out, fmt.Sprintf("%s (deposed object %s)", del.Address, del.Deposed))
		} else {
			out = append(out, del.Address)
		}
	}
	sort.Strings(out)
	return out
}

// fixtureRun is what one live fixture run captured.
type fixtureRun struct {
	planJSON []byte // terraform show -json
	text     string // terraform show -no-color
}

// fixtureNames lists fixtures/constructs/*.
func fixtureNames(t testing.TB) (root string, names []string) {
	root = filepath.Join(tftest.RepoRoot(t), "fixtures", "constructs")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names)
	return root, names
}

// terraformEnv is the environment for terraform in tests: the caller's,
// minus anything Terraform reads from TF_* variables, plus an empty CLI
// config. Set per command, not with t.Setenv, so fixtures run in parallel.
func terraformEnv(t testing.TB) []string {
	rc := filepath.Join(t.TempDir(), "terraformrc")
	require.NoError(t, os.WriteFile(rc, nil, 0o600))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "CHECKPOINT_") {
			env = append(env, kv)
		}
	}
	return append(env, "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
}

func terraformVersion(t testing.TB, bin string, env []string) string {
	cmd := exec.Command(bin, "version", "-json")
	cmd.Env = env
	out, err := cmd.Output()
	require.NoError(t, err)
	var v struct {
		Version string `json:"terraform_version"`
	}
	require.NoError(t, json.Unmarshal(out, &v))
	return v.Version
}

// versionAtLeast compares dotted versions numerically.
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range w {
		var hv int
		if i < len(h) {
			hv, _ = strconv.Atoi(strings.TrimLeftFunc(h[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		wv, _ := strconv.Atoi(w[i])
		if hv != wv {
			return hv > wv
		}
	}
	return true
}

// runFixture applies every step of a fixture but the last in a fresh
// directory, plans the last one, and returns the plan as Terraform shows
// it. Marker files in a step: apply-fails (that step's apply must fail; it
// is how the deposed fixture leaves a deposed object), plan-fails (the
// plan must fail but still be saved, errored) and taint (addresses, one a
// line, that `terraform taint` marks before the step's apply or plan, as a
// human would).
func runFixture(t *testing.T, bin string, env []string, dir string) fixtureRun {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var steps []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step") {
			steps = append(steps, e.Name())
		}
	}
	sort.Slice(steps, func(i, j int) bool { return compareAddress(steps[i], steps[j]) < 0 })
	require.NotEmpty(t, steps, "fixture %s has no step directories", dir)

	work := t.TempDir()
	tf := func(wantFail bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if wantFail {
			require.Error(t, err, "terraform %s should fail\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		} else {
			require.NoError(t, err, "terraform %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	keep := map[string]bool{".terraform": true, ".terraform.lock.hcl": true, "terraform.tfstate": true, "terraform.tfstate.backup": true}
	for i, step := range steps {
		old, err := os.ReadDir(work)
		require.NoError(t, err)
		for _, e := range old {
			if !keep[e.Name()] {
				require.NoError(t, os.RemoveAll(filepath.Join(work, e.Name())))
			}
		}
		src := filepath.Join(dir, step)
		tftest.CopyDir(t, src, work)
		for _, marker := range []string{"apply-fails", "plan-fails", "taint"} {
			_ = os.Remove(filepath.Join(work, marker))
		}
		marked := func(name string) bool {
			_, err := os.Stat(filepath.Join(src, name))
			return err == nil
		}
		tf(false, "init", "-input=false", "-no-color")
		if b, err := os.ReadFile(filepath.Join(src, "taint")); err == nil {
			// A human taints objects by hand before this step's run.
			for _, addr := range strings.Split(string(b), "\n") {
				if addr = strings.TrimSpace(addr); addr != "" && !strings.HasPrefix(addr, "#") {
					tf(false, "taint", "-no-color", addr)
				}
			}
		}
		if i < len(steps)-1 {
			tf(marked("apply-fails"), "apply", "-auto-approve", "-input=false", "-no-color")
			continue
		}
		tf(marked("plan-fails"), "plan", "-out=plan.tfplan", "-input=false", "-no-color")
	}
	return fixtureRun{
		planJSON: []byte(tf(false, "show", "-json", "plan.tfplan")),
		text:     tf(false, "show", "-no-color", "plan.tfplan"),
	}
}

// TestFixtures runs every fixture under real Terraform and checks plangate's
// counts and deletions against Terraform's own plain output. With -update it
// rewrites the captured plans and summaries in testdata.
func TestFixtures(t *testing.T) {
	bin, err := tfbin.Find()
	if err != nil {
		t.Fatalf("%v (run `make terraform`)", err)
	}
	env := terraformEnv(t)
	version := terraformVersion(t, bin, env)
	product := tftest.Product(t)
	root, names := fixtureNames(t)
	if *update {
		require.NoError(t, os.MkdirAll(plansDir, 0o755))
		require.NoError(t, os.MkdirAll(diffDir, 0o755))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(root, name)
			if req, err := os.ReadFile(filepath.Join(dir, "requires")); err == nil {
				want := strings.TrimSpace(string(req))
				if !versionAtLeast(version, want) {
					t.Skipf("needs terraform >= %s, have %s", want, version)
				}
			}
			run := runFixture(t, bin, env, dir)
			want := parseTerraformSummary(t, run.text)

			a, err := Analyze(bytes.NewReader(run.planJSON))
			require.NoError(t, err)
			assert.Equal(t, want.Add, a.Counts.Add, "add")
			assert.Equal(t, want.Change, a.Counts.Change, "change")
			assert.Equal(t, want.Destroy, a.Counts.Destroy, "destroy")
			assert.Equal(t, want.Import, a.Counts.Import, "import")
			assert.Len(t, a.Deleted, a.Counts.Destroy)
			assert.Equal(t, terraformDestroyed(run.text), deletedAddresses(a.Deleted))

			var diff bytes.Buffer
			require.NoError(t, a.RenderDiff(&diff, ForProduct(product)))
			assert.Equal(t, want.Line, renderedSummaryLine(diff.String()), "the diff's last line is Terraform's")
			assertNoSecret(t, "rendered diff", diff.Bytes())
			clean, err := SanitizePlanJSON(run.planJSON)
			require.NoError(t, err)
			assertNoSecret(t, "sanitized plan JSON", clean)

			if *update {
				writeCapturedPlan(t, name, run)
			}
		})
	}
}

// renderedSummaryLine is the diff's "Plan: ..." line, "No changes." or "".
func renderedSummaryLine(diff string) string {
	if m := planLineRe.FindString(diff); m != "" {
		return m
	}
	if strings.Contains(diff, "No changes.") {
		return "No changes."
	}
	return ""
}

func assertNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, secret := range plantedSecrets {
		if i := bytes.Index(b, []byte(secret)); i >= 0 {
			lo, hi := max(0, i-200), min(len(b), i+100)
			t.Errorf("%s leaks a sensitive value (%s): ...%s...", what, secret, b[lo:hi])
		}
	}
}

// normalizer replaces what differs from run to run (object ids, deposed
// keys, the timestamp) with stable stand-ins, consistently across the plan
// JSON and the text, so -update rewrites testdata only when behaviour changed.
type normalizer struct {
	repl map[string]string
	n    int
}

var (
	uuidRe    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	deposedRe = regexp.MustCompile(`"deposed(?:_key)?":"([0-9a-f]{8})"`)
	stampRe   = regexp.MustCompile(`"timestamp":"[^"]*"`)
)

func (n *normalizer) apply(s string) string {
	s = stampRe.ReplaceAllString(s, `"timestamp":"2000-01-01T00:00:00Z"`)
	for _, m := range deposedRe.FindAllStringSubmatch(s, -1) {
		if _, ok := n.repl[m[1]]; !ok {
			n.n++
			n.repl[m[1]] = fmt.Sprintf("d%07d", n.n)
		}
	}
	s = uuidRe.ReplaceAllStringFunc(s, func(u string) string {
		if r, ok := n.repl[u]; ok {
			return r
		}
		n.n++
		r := fmt.Sprintf("00000000-0000-4000-8000-%012d", n.n)
		n.repl[u] = r
		return r
	})
	for from, to := range n.repl {
		if len(from) == 8 {
			s = strings.ReplaceAll(s, from, to)
		}
	}
	return s
}

func writeCapturedPlan(t *testing.T, name string, run fixtureRun) {
	n := &normalizer{repl: map[string]string{}}
	planJSON := n.apply(string(run.planJSON))
	text := n.apply(run.text)
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, []byte(planJSON), "", "  "))
	pretty.WriteString("\n")
	summary := parseTerraformSummary(t, text)
	deleted := strings.Join(terraformDestroyed(text), "\n")
	if deleted != "" {
		deleted += "\n"
	}
	base := filepath.Join(plansDir, name)
	require.NoError(t, os.WriteFile(base+".json", pretty.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(base+".summary", []byte(summary.Line+"\n"), 0o644))
	require.NoError(t, os.WriteFile(base+".deleted", []byte(deleted), 0o644))
}

// committedPlan is one captured fixture plan in testdata.
type committedPlan struct {
	name     string
	json     []byte
	summary  string
	deleted  []string
	analysis *Analysis
}

func loadCommittedPlans(t *testing.T) []committedPlan {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(plansDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no captured plans: run go test ./plan -run TestFixtures -update")
	var out []committedPlan
	for _, f := range files {
		base := strings.TrimSuffix(f, ".json")
		p := committedPlan{name: filepath.Base(base)}
		p.json, err = os.ReadFile(f)
		require.NoError(t, err)
		s, err := os.ReadFile(base + ".summary")
		require.NoError(t, err)
		p.summary = strings.TrimSpace(string(s))
		d, err := os.ReadFile(base + ".deleted")
		require.NoError(t, err)
		p.deleted = []string{}
		for _, line := range strings.Split(string(d), "\n") {
			if line != "" {
				p.deleted = append(p.deleted, line)
			}
		}
		sort.Strings(p.deleted)
		p.analysis, err = Analyze(bytes.NewReader(p.json))
		require.NoError(t, err, p.name)
		out = append(out, p)
	}
	return out
}

// TestCommittedPlans checks Analyze on the captured plans (no terraform
// needed): counts equal Terraform's summary line, deletions equal the
// addresses Terraform marked destroyed or replaced.
func TestCommittedPlans(t *testing.T) {
	for _, p := range loadCommittedPlans(t) {
		t.Run(p.name, func(t *testing.T) {
			want := parseTerraformSummary(t, p.summary)
			a := p.analysis
			assert.Equal(t, want.Add, a.Counts.Add, "add")
			assert.Equal(t, want.Change, a.Counts.Change, "change")
			assert.Equal(t, want.Destroy, a.Counts.Destroy, "destroy")
			assert.Equal(t, want.Import, a.Counts.Import, "import")
			assert.Len(t, a.Deleted, a.Counts.Destroy)
			assert.Equal(t, p.deleted, deletedAddresses(a.Deleted))
		})
	}
}

// TestFixtureFacts pins what each fixture is for, beyond Terraform's line.
func TestFixtureFacts(t *testing.T) {
	plans := map[string]*Analysis{}
	for _, p := range loadCommittedPlans(t) {
		plans[p.name] = p.analysis
	}
	get := func(t *testing.T, name string) *Analysis {
		a, ok := plans[name]
		if !ok {
			t.Fatalf("no captured plan %s", name)
		}
		return a
	}
	actions := func(a *Analysis) map[string]string {
		out := map[string]string{}
		for _, d := range a.Deleted {
			key := d.Address
			if d.Deposed != "" {
				key += " deposed"
			}
			out[key] = d.Action + " " + strings.Join(d.Actions, ",") + " " + d.Reason
		}
		return out
	}

	tests := []struct {
		name  string
		check func(t *testing.T, a *Analysis)
	}{
		{"create", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Add: 3}, a.Counts)
			assert.True(t, a.HasChanges())
			assert.Equal(t, 1, a.OutputChanges)
			assert.Zero(t, a.ManagedResourceCount())
		}},
		{"update", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Change: 1}, a.Counts)
			assert.Equal(t, 2, a.ManagedResourceCount())
		}},
		{"delete", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.old": "delete delete delete_because_no_resource_config",
			}, actions(a))
		}},
		{"replace_triggers", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.cache":  "replace delete,create replace_by_triggers",
				"terraform_data.server": "replace delete,create replace_because_cannot_update",
			}, actions(a))
			assert.Equal(t, 2, a.Counts.Replace)
		}},
		{"replace_cbd", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.lb": "replace create,delete replace_because_cannot_update",
			}, actions(a))
			assert.Equal(t, 1, a.Counts.Replace)
		}},
		{"count_shrink", func(t *testing.T, a *Analysis) {
			assert.Equal(t, []string{"terraform_data.worker[1]", "terraform_data.worker[2]", "terraform_data.worker[3]"}, deletedAddresses(a.Deleted))
			assert.Equal(t, "delete_because_count_index", a.Deleted[0].Reason)
		}},
		{"foreach_remove", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				`terraform_data.bucket["backups"]`: "delete delete delete_because_each_key",
			}, actions(a))
		}},
		{"module_removed", func(t *testing.T, a *Analysis) {
			assert.Equal(t, []Group{{Module: "module.db", Type: "terraform_data", Count: 3}}, GroupDeletions(a.Deleted))
			// A module call removed whole: Terraform says "no resource config";
			// delete_because_no_module is for a module instance (count,
			// for_each key) that is gone.
			assert.Equal(t, "delete_because_no_resource_config", a.Deleted[0].Reason)
		}},
		{"moved", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Change: 1, Move: 2}, a.Counts)
			assert.Empty(t, a.Deleted)
		}},
		{"import", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Change: 1, Import: 2}, a.Counts, "an import without changes adds nothing")
		}},
		{"forget", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Change: 1, Forget: 1}, a.Counts, "a forget is not a deletion")
			assert.Empty(t, a.Deleted)
		}},
		{"data_read", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Change: 1, Read: 1}, a.Counts)
		}},
		{"sensitive", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.pin":     "delete delete delete_because_no_resource_config",
				"terraform_data.retired": "delete delete delete_because_no_resource_config",
				"terraform_data.token":   "replace delete,create replace_because_cannot_update",
			}, actions(a))
			assert.Equal(t, 2, a.OutputChanges, "token_length changes, pin_echo goes")
		}},
		{"check_fail", func(t *testing.T, a *Analysis) {
			assert.Equal(t, []string{
				"check.app_output: check result unknown until apply",
				"check.capacity: check failed: At least 2 replicas are needed for high availability.",
			}, a.Warnings)
			assert.False(t, a.Errored)
		}},
		{"errored", func(t *testing.T, a *Analysis) {
			assert.True(t, a.Errored)
			assert.False(t, a.Applyable)
			assert.False(t, a.HasChanges())
			assert.Equal(t, 1, a.Counts.Destroy, "an errored plan's deletions are still counted")
		}},
		{"precondition", func(t *testing.T, a *Analysis) {
			assert.True(t, a.Errored)
			assert.False(t, a.HasChanges())
		}},
		{"noop", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{}, a.Counts)
			assert.False(t, a.HasChanges())
			assert.True(t, a.Complete)
			assert.Equal(t, 2, a.ManagedResourceCount())
		}},
		{"replace_and_delete", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.api":    "replace delete,create replace_because_cannot_update",
				"terraform_data.worker": "delete delete delete_because_no_resource_config",
			}, actions(a))
			assert.Equal(t, Counts{Add: 1, Change: 1, Destroy: 2, Replace: 1}, a.Counts)
		}},
		{"deposed", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"terraform_data.app":         "replace create,delete replace_because_cannot_update",
				"terraform_data.app deposed": "delete delete ",
			}, actions(a))
			assert.Equal(t, 2, a.ManagedResourceCount(), "the deposed object counts as an object")
		}},
		{"count_to_foreach", func(t *testing.T, a *Analysis) {
			// No implicit move from count to for_each: Terraform destroys the
			// integer-keyed instances and creates the string-keyed ones.
			assert.Equal(t, map[string]string{
				"terraform_data.node[0]": "delete delete delete_because_wrong_repetition",
				"terraform_data.node[1]": "delete delete delete_because_wrong_repetition",
				"terraform_data.node[2]": "delete delete delete_because_wrong_repetition",
			}, actions(a))
			assert.Equal(t, Counts{Add: 3, Destroy: 3}, a.Counts, "not replacements: different instances")
		}},
		{"count_to_foreach_moved", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Move: 3}, a.Counts)
			assert.Empty(t, a.Deleted)
			assert.True(t, a.HasChanges(), "moves alone are worth applying")
		}},
		{"nested_modules", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				`module.app["eu"].module.db.terraform_data.cache`:      "delete delete delete_because_no_resource_config",
				`module.app["eu"].module.db.terraform_data.replica[1]`: "delete delete delete_because_count_index",
				`module.app["eu"].module.db.terraform_data.replica[2]`: "delete delete delete_because_count_index",
				`module.app["us"].module.db.terraform_data.cache`:      "delete delete delete_because_no_resource_config",
			}, actions(a))
			assert.Equal(t, []Group{{Module: "module.app.module.db", Type: "terraform_data", Count: 4}}, GroupDeletions(a.Deleted))
			assert.Equal(t, 11, a.ManagedResourceCount())
		}},
		{"module_count_zero", func(t *testing.T, a *Analysis) {
			assert.Len(t, a.Deleted, 6)
			for _, d := range a.Deleted {
				assert.Equal(t, "delete_because_no_module", d.Reason, d.Address)
			}
			assert.Equal(t, []Group{{Module: "module.worker", Type: "terraform_data", Count: 6}}, GroupDeletions(a.Deleted))
		}},
		{"tainted", func(t *testing.T, a *Analysis) {
			assert.Equal(t, map[string]string{
				"module.cache.terraform_data.node[1]": "replace delete,create replace_because_tainted",
				"terraform_data.app":                  "replace delete,create replace_because_tainted",
				"terraform_data.lb":                   "replace create,delete replace_because_tainted",
			}, actions(a))
			assert.Equal(t, 3, a.Counts.Replace)
		}},
		{"removed_destroy", func(t *testing.T, a *Analysis) {
			// destroy = true is a plain delete; destroy = false beside it is a
			// forget that Terraform 1.11 leaves out of its Plan line, even
			// though its action_reason says delete_because_no_resource_config.
			assert.Equal(t, map[string]string{
				"module.legacy.terraform_data.job[0]": "delete delete delete_because_no_resource_config",
				"module.legacy.terraform_data.job[1]": "delete delete delete_because_no_resource_config",
				"terraform_data.old_queue":            "delete delete delete_because_no_resource_config",
			}, actions(a))
			assert.Equal(t, Counts{Destroy: 3, Forget: 1}, a.Counts)
		}},
		{"replace_all", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{Add: 6, Destroy: 6, Replace: 6}, a.Counts)
			assert.Equal(t, a.ManagedResourceCount(), len(a.Deleted), "every managed object is destroyed")
		}},
		{"outputs_only", func(t *testing.T, a *Analysis) {
			assert.Equal(t, Counts{}, a.Counts)
			assert.Equal(t, 3, a.OutputChanges)
			assert.True(t, a.HasChanges())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, get(t, tc.name)) })
	}
}

// planJSON builds a minimal plan document around the given resource changes.
func planJSON(t testing.TB, changes ...map[string]any) []byte {
	t.Helper()
	list := make([]any, len(changes))
	for i, c := range changes {
		list[i] = c
	}
	b, err := json.Marshal(map[string]any{
		"format_version":    "1.2",
		"terraform_version": "1.11.4",
		"resource_changes":  list,
		"applyable":         true,
		"complete":          true,
		"errored":           false,
	})
	require.NoError(t, err)
	return b
}

func rc(addr, mode string, actions ...string) map[string]any {
	typ, name, _ := strings.Cut(strings.TrimPrefix(addr, "data."), ".")
	return map[string]any{
		"address": addr, "mode": mode, "type": typ, "name": name,
		"change": map[string]any{"actions": actions, "before": nil, "after": nil},
	}
}

// TestAnalyzeCounting covers action lists no fixture can produce with the
// Terraform installed here (create,forget needs a resource-level
// lifecycle.destroy, Terraform >= 1.14) or that Terraform treats specially.
func TestAnalyzeCounting(t *testing.T) {
	tests := []struct {
		name    string
		changes []map[string]any
		want    Counts
		deleted []string
	}{
		{
			name:    "create,forget adds one and destroys nothing",
			changes: []map[string]any{rc("terraform_data.a", "managed", "create", "forget")},
			want:    Counts{Add: 1, Replace: 1, Forget: 1},
			deleted: []string{},
		},
		{
			name:    "forget alone",
			changes: []map[string]any{rc("terraform_data.a", "managed", "forget")},
			want:    Counts{Forget: 1},
			deleted: []string{},
		},
		{
			name:    "a data source delete is not a destroyed object",
			changes: []map[string]any{rc("data.terraform_remote_state.x", "data", "delete")},
			want:    Counts{},
			deleted: []string{},
		},
		{
			name:    "a delete of unknown mode counts, in doubt",
			changes: []map[string]any{rc("terraform_data.a", "", "delete")},
			want:    Counts{Destroy: 1},
			deleted: []string{"terraform_data.a"},
		},
		{
			name: "both replace orders and a deposed delete",
			changes: []map[string]any{
				rc("terraform_data.b", "managed", "create", "delete"),
				func() map[string]any {
					c := rc("terraform_data.b", "managed", "delete")
					c["deposed"] = "0badcafe"
					return c
				}(),
				rc("terraform_data.a", "managed", "delete", "create"),
				rc("terraform_data.c", "managed", "no-op"),
				rc("data.terraform_remote_state.x", "data", "read"),
			},
			want:    Counts{Add: 2, Destroy: 3, Replace: 2, Read: 1},
			deleted: []string{"terraform_data.a", "terraform_data.b", "terraform_data.b (deposed object 0badcafe)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Analyze(bytes.NewReader(planJSON(t, tc.changes...)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, a.Counts)
			assert.Equal(t, tc.deleted, deletedAddresses(a.Deleted))
		})
	}
}

func TestAnalyzeDeletedOrder(t *testing.T) {
	var changes []map[string]any
	for _, addr := range []string{"b.x[10]", "b.x[2]", "a.y", `module.m["k"].b.z`, "b.x[1]"} {
		changes = append(changes, rc(addr, "managed", "delete"))
	}
	a, err := Analyze(bytes.NewReader(planJSON(t, changes...)))
	require.NoError(t, err)
	var got []string
	for _, d := range a.Deleted {
		got = append(got, d.Address)
	}
	assert.Equal(t, []string{"a.y", "b.x[1]", "b.x[2]", "b.x[10]", `module.m["k"].b.z`}, got)
}

func TestAnalyzeRejectsWhatIsNotAPlan(t *testing.T) {
	tests := map[string]string{
		"empty":              ``,
		"not JSON":           `Plan: 1 to add`,
		"array":              `[]`,
		"no version":         `{"resource_changes": []}`,
		"future format":      `{"format_version": "2.0", "resource_changes": []}`,
		"a state":            `{"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}`,
		"trailing data":      `{"format_version": "1.2", "resource_changes": []} {}`,
		"truncated":          `{"format_version": "1.2", "resource_changes": [{"address": "a.b"`,
		"changes not a list": `{"format_version": "1.2", "resource_changes": {}}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Analyze(strings.NewReader(in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "analyze plan JSON")
		})
	}
}

func TestGroupDeletions(t *testing.T) {
	d := []Deletion{
		{Address: `module.web[0].aws_instance.app[1]`},
		{Address: `module.web[1].aws_instance.app[0]`},
		{Address: `module.web["a.b"].module.db.aws_db_instance.main`},
		{Address: `aws_s3_bucket.logs`},
		{Address: `aws_s3_bucket.assets["x.y"]`},
		{Address: `aws_instance.app`},
	}
	assert.Equal(t, []Group{
		{Type: "aws_instance", Count: 1},
		{Type: "aws_s3_bucket", Count: 2},
		{Module: "module.web", Type: "aws_instance", Count: 2},
		{Module: "module.web.module.db", Type: "aws_db_instance", Count: 1},
	}, GroupDeletions(d))
	assert.Empty(t, GroupDeletions(nil))
}

func TestHasChangesWithoutApplyable(t *testing.T) {
	// Plans from Terraform before 1.6 carry no applyable field.
	noop := []byte(`{"format_version":"1.1","resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["no-op"]}}]}`)
	a, err := Analyze(bytes.NewReader(noop))
	require.NoError(t, err)
	assert.False(t, a.HasChanges())

	upd := bytes.Replace(noop, []byte(`"no-op"`), []byte(`"update"`), 1)
	a, err = Analyze(bytes.NewReader(upd))
	require.NoError(t, err)
	assert.True(t, a.HasChanges())
}
