package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// Fidelity: plangate's diff (the text plan_change, get_plan and approve
// show, without colour: RenderDiff, stored by Digest, read back by
// ReadDiff) compared with Terraform's own `terraform show -no-color
// <planfile>` of the same plan, block by block. A block is one resource
// instance's comment lines through its closing brace, the "Changes to
// Outputs:" section, or the "Plan: ..." line. Blocks are compared as a set
// keyed by section and address; what lies outside them (Terraform's
// symbol legend) is Terraform's CLI chrome, which plangate does not print.
//
// Only what plangate does on purpose may differ, each as a named
// normalization below (fidelityNormalizations); anything else fails with
// the two blocks and a line diff.

// fidelityBlock is one block of a rendered plan.
type fidelityBlock struct {
	// key is the section and address: "actions terraform_data.a",
	// "drift terraform_data.a", "outputs", "summary".
	key   string
	lines []string
	// destroys is true for a resource block whose header says the object
	// is destroyed (deleted or replaced).
	destroys bool
}

func (b fidelityBlock) text() string { return strings.Join(b.lines, "\n") }

var (
	// blockHeaderRe is a resource block's first comment line: the address,
	// with its deposed key when it has one. Terraform writes one space
	// before "#" for forget actions, two for the others.
	blockHeaderRe = regexp.MustCompile(`^ {1,2}# (\S+(?: \(deposed object \w+\))?) `)
	// blockOpenerRe is the "<symbol> resource|data "type" "name"" line.
	blockOpenerRe = regexp.MustCompile(`^[-+~<=/. ]{2,4} (?:resource|data) "[^"]+" "[^"]+" `)
	// destroysHeaderRe is a header Terraform writes for a change that
	// destroys the object (terraformDestroyed's list, and deposed objects).
	destroysHeaderRe = regexp.MustCompile(` (?:will be destroyed|must be replaced|is tainted, so must be replaced|will be replaced, as requested|will be replaced due to changes in replace_triggered_by)$`)
)

// splitFidelityBlocks cuts a rendered plan into blocks, in order.
func splitFidelityBlocks(text string) ([]fidelityBlock, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var out []fidelityBlock
	section := "actions"
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "Note: Objects have changed outside of"):
			section = "drift"
		case strings.HasPrefix(line, "─────"):
			section = "actions"
		case strings.HasPrefix(line, "Plan: ") || strings.HasPrefix(line, "No changes."):
			out = append(out, fidelityBlock{key: "summary", lines: []string{line}})
		case line == "Changes to Outputs:":
			j := i + 1
			for j < len(lines) && lines[j] != "" {
				j++
			}
			out = append(out, fidelityBlock{key: "outputs", lines: lines[i:j]})
			i = j - 1
		case blockHeaderRe.MatchString(line) && (i == 0 || lines[i-1] == ""):
			m := blockHeaderRe.FindStringSubmatch(line)
			b := fidelityBlock{key: section + " " + m[1], destroys: destroysHeaderRe.MatchString(line)}
			j := i
			for ; j < len(lines) && !blockOpenerRe.MatchString(lines[j]); j++ {
				if j > i && !strings.HasPrefix(strings.TrimLeft(lines[j], " "), "#") {
					return nil, fmt.Errorf("line %d: block %s has %q before its resource line", j+1, m[1], lines[j])
				}
			}
			if j == len(lines) {
				return nil, fmt.Errorf("line %d: block %s has no resource line", i+1, m[1])
			}
			if strings.HasSuffix(lines[j], "{") || strings.Contains(lines[j], "{ # forces replacement") {
				for j++; j < len(lines) && lines[j] != "    }"; j++ {
				}
				if j == len(lines) {
					return nil, fmt.Errorf("line %d: block %s is not closed", i+1, m[1])
				}
			}
			b.lines = lines[i : j+1]
			out = append(out, b)
			i = j
		}
	}
	return out, nil
}

// fidelityNormalization is one difference plangate makes on purpose.
type fidelityNormalization struct {
	name string
	// allows reports whether plangate's block may stand for Terraform's.
	allows func(a *Analysis, terraform, plangate fidelityBlock) bool
}

// fidelityNormalizations are the differences allowed inside a block, each
// with why. Two more are not about a block's text: order (blocks are
// compared as a set keyed by address, because plangate puts every block
// that destroys first; deletionsFirstViolation checks that order, and
// sectionOrder that the sections keep Terraform's) and truncation notices
// (see storedDiff).
var fidelityNormalizations = []fidelityNormalization{
	// Terraform prints a value in clear when it carries no sensitive mark;
	// plangate masks, besides marked values, every value that equals or
	// holds one seen at a marked path or under a sensitive-looking name
	// (see secrets.go: terraform_data's output, remote state outputs and
	// provider echoes lose their marks). Allowed: plangate's block is
	// Terraform's with whole values replaced by "(sensitive value)", each
	// replaced value holding a secret of the plan.
	{name: "masking", allows: maskingExplains},
	// Terraform before 1.8 reads a number inside a JSON string (a
	// jsonencode value) through float64 and prints 12345678901234567890
	// as 12345678901234567000; plangate prints the number the JSON holds.
	// Allowed: the same lines but for numbers whose float64 rounding is
	// Terraform's.
	{name: "float64 rounding of old Terraform", allows: floatRoundingExplains},
}

func floatRoundingExplains(a *Analysis, terraform, plangate fidelityBlock) bool {
	if pairsEqualLengthLists(a.TerraformVersion) || len(terraform.lines) != len(plangate.lines) {
		return false // 1.8 and later print the exact number
	}
	differs := false
	for i, tl := range terraform.lines {
		pl := plangate.lines[i]
		if tl == pl {
			continue
		}
		tw, pw := strings.Fields(tl), strings.Fields(pl)
		if len(tw) != len(pw) {
			return false
		}
		for j := range tw {
			if tw[j] == pw[j] {
				continue
			}
			f, err := strconv.ParseFloat(pw[j], 64)
			if err != nil || strconv.FormatFloat(f, 'f', -1, 64) != tw[j] {
				return false
			}
			differs = true
		}
	}
	return differs
}

// maskedValuePattern matches what "(sensitive value)" may stand for: the
// rest of a line's value, or a multi-line object, list, jsonencode( or
// heredoc (checked to be exactly one value by oneValue).
const maskedValuePattern = `((?:[^\n]*?)|(?:(?:\{|\[|jsonencode\(|<<-EOT)(?s:.*?)\n *(?:\}|\]|\)|EOT)[^\n]*?))`

// oneValue reports whether a multi-line text is one rendered value: its
// brackets (and heredoc) open on the first line and close on the last,
// never before, so that a mask cannot stand for lines plangate dropped.
func oneValue(v string) bool {
	lines := strings.Split(v, "\n")
	if len(lines) == 1 {
		return true
	}
	depth, heredoc := 0, false
	for i, line := range lines {
		code, _, _ := strings.Cut(line, " # ")
		trimmed := strings.TrimSpace(code)
		switch {
		case heredoc:
			if strings.HasPrefix(trimmed, "EOT") {
				heredoc = false
				depth--
			}
		default:
			if strings.HasPrefix(trimmed, "}") || strings.HasPrefix(trimmed, "]") || strings.HasPrefix(trimmed, ")") {
				depth--
			}
			if strings.HasSuffix(trimmed, "<<-EOT") {
				heredoc = true
				depth++
			} else if strings.HasSuffix(trimmed, "{") || strings.HasSuffix(trimmed, "[") || strings.HasSuffix(trimmed, "(") {
				depth++
			}
		}
		if depth < 0 || (depth == 0) != (i == len(lines)-1) {
			return false
		}
	}
	return true
}

func maskingExplains(a *Analysis, terraform, plangate fidelityBlock) bool {
	pg := plangate.text()
	if !strings.Contains(pg, SensitiveValue) {
		return false
	}
	parts := strings.Split(pg, SensitiveValue)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	re, err := regexp.Compile(`^` + strings.Join(parts, maskedValuePattern) + `$`)
	if err != nil {
		return false
	}
	m := re.FindStringSubmatch(terraform.text())
	if m == nil {
		return false
	}
	for _, v := range m[1:] {
		if v == SensitiveValue {
			continue // masked by Terraform too
		}
		if !oneValue(v) || !holdsSecret(a, v) {
			return false
		}
	}
	return true
}

// quotedRe finds the quoted strings of a rendered value, numberRe its
// numbers, heredocRe the lines of a heredoc.
var (
	quotedRe  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	numberRe  = regexp.MustCompile(`-?\d[\d.e+]*`)
	heredocRe = regexp.MustCompile(`(?m)^ *[-+~ ] ?(.*)$`)
)

// holdsSecret reports whether a value Terraform printed in clear holds a
// string or number plangate's secret set masks.
func holdsSecret(a *Analysis, rendered string) bool {
	for _, q := range quotedRe.FindAllString(rendered, -1) {
		if s, err := strconv.Unquote(q); err == nil && a.secrets.matches(s) {
			return true
		}
	}
	for _, n := range numberRe.FindAllString(rendered, -1) {
		if a.secrets.matchesNumber(n) {
			return true
		}
	}
	if strings.HasPrefix(rendered, "<<-EOT") {
		for _, m := range heredocRe.FindAllStringSubmatch(rendered, -1) {
			if a.secrets.matches(strings.TrimSpace(m[1])) {
				return true
			}
		}
	}
	return false
}

// fidelityStats counts what one comparison saw.
type fidelityStats struct {
	compared, identical int
	normalized          map[string]int
	// allowed shows each block a normalization allowed, both versions.
	allowed []string
}

func (s *fidelityStats) add(o fidelityStats) {
	s.compared += o.compared
	s.identical += o.identical
	if s.normalized == nil {
		s.normalized = map[string]int{}
	}
	for k, v := range o.normalized {
		s.normalized[k] += v
	}
}

func (s fidelityStats) String() string {
	var names []string
	for k := range s.normalized {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.normalized[k]))
	}
	return fmt.Sprintf("%d blocks compared, %d identical, allowed differences: [%s]", s.compared, s.identical, strings.Join(parts, ", "))
}

// compareFidelity compares plangate's diff of the plan with Terraform's
// text of the same plan and returns what it counted and every divergence,
// each readable on its own.
//
// pending names blocks known to differ for a reason not yet fixed, each
// with the reason: such a block must still differ (a fixed one fails, so
// that its entry is removed), and its difference is counted, not failed.
func compareFidelity(a *Analysis, terraformText, plangateText string, pending map[string]string) (fidelityStats, []string, error) {
	st := fidelityStats{normalized: map[string]int{}}
	diff := bytes.NewBufferString(plangateText)
	tfBlocks, err := splitFidelityBlocks(terraformText)
	if err != nil {
		return st, nil, fmt.Errorf("terraform's text: %w\n%s", err, terraformText)
	}
	pgBlocks, err := splitFidelityBlocks(diff.String())
	if err != nil {
		return st, nil, fmt.Errorf("plangate's diff: %w\n%s", err, diff.String())
	}
	var problems []string
	pgByKey := map[string]fidelityBlock{}
	for _, b := range pgBlocks {
		if _, dup := pgByKey[b.key]; dup {
			problems = append(problems, fmt.Sprintf("plangate renders block %q twice", b.key))
		}
		pgByKey[b.key] = b
	}
	seen := map[string]bool{}
	for _, tb := range tfBlocks {
		seen[tb.key] = true
		pb, ok := pgByKey[tb.key]
		if !ok {
			problems = append(problems, fmt.Sprintf("plangate's diff has no block %q; Terraform shows:\n%s", tb.key, tb.text()))
			continue
		}
		st.compared++
		if tb.text() == pb.text() {
			st.identical++
			if reason, ok := pending[tb.key]; ok {
				problems = append(problems, fmt.Sprintf("block %q is now identical to Terraform's: remove it from the pending list (%s)", tb.key, reason))
			}
			continue
		}
		if reason, ok := pending[tb.key]; ok {
			st.normalized["pending: "+reason]++
			st.allowed = append(st.allowed, fmt.Sprintf("block %q still differs (pending: %s; - terraform, + plangate):\n%s", tb.key, reason, lineDiff(tb.lines, pb.lines)))
			continue
		}
		allowed := ""
		for _, n := range fidelityNormalizations {
			if n.allows(a, tb, pb) {
				allowed = n.name
				break
			}
		}
		if allowed != "" {
			st.normalized[allowed]++
			st.allowed = append(st.allowed, fmt.Sprintf("block %q allowed by %s (- terraform, + plangate):\n%s", tb.key, allowed, lineDiff(tb.lines, pb.lines)))
			continue
		}
		problems = append(problems, fmt.Sprintf("block %q differs from Terraform's (- terraform, + plangate):\n%s", tb.key, lineDiff(tb.lines, pb.lines)))
	}
	for _, pb := range pgBlocks {
		if !seen[pb.key] {
			problems = append(problems, fmt.Sprintf("plangate's diff has a block %q that Terraform does not show:\n%s", pb.key, pb.text()))
		}
	}
	if p := deletionsFirstViolation(pgBlocks); p != "" {
		problems = append(problems, p)
	}
	if tfOrder, pgOrder := sectionOrder(tfBlocks), sectionOrder(pgBlocks); tfOrder != pgOrder {
		problems = append(problems, fmt.Sprintf("sections in another order than Terraform's: terraform %s, plangate %s", tfOrder, pgOrder))
	}
	return st, problems, nil
}

// assertFidelity analyses the plan JSON as plangate does (Digest into a
// plan store), reads its diff back page by page as get_plan does, and
// compares it with Terraform's text (compareFidelity), failing the test on
// each divergence.
func assertFidelity(t *testing.T, planJSON []byte, terraformText string, pending map[string]string, opts ...RenderOption) fidelityStats {
	t.Helper()
	a, text := storedDiff(t, planJSON, opts...)
	st, problems, err := compareFidelity(a, terraformText, text, pending)
	require.NoError(t, err)
	for _, p := range st.allowed {
		t.Log(p)
	}
	for _, p := range problems {
		t.Error(p)
	}
	return st
}

// fidelityPageSize is the get_plan page the test reads the diff in: small,
// so that every fixture's diff spans pages.
const fidelityPageSize = 256

// storedDiff is the diff get_plan shows for the plan: Digest writes it into
// the plan's directory, ReadDiff returns it page by page. Between pages
// get_plan prints truncation notices ("[diff truncated: ...]", "[diff
// continued: ...]"): plangate's bounded results, not part of the plan. They
// are left out by putting the pages together, which is exact because every
// page ends at a line end (checked here), unless one line is longer than a
// page.
//
// opts are Digest's besides the product (SchemasFrom). The diff is
// rendered again as approve renders it, with the schemas Digest kept in
// the plan's directory, and must be the same.
func storedDiff(t *testing.T, planJSON []byte, opts ...RenderOption) (*Analysis, string) {
	t.Helper()
	store, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	const id = "0193f2c4-7d1e-7b3a-9c55-2f4e8d1a6b70"
	require.NoError(t, os.MkdirAll(store.Dir(id), 0o700))
	// As gate.Propose renders it: for the program that made the plan.
	product := ForProduct(tftest.Product(t))
	a, err := Digest(store.Dir(id), planJSON, append([]RenderOption{product}, opts...)...)
	require.NoError(t, err)
	require.Empty(t, a.SchemaProblem)
	kept, err := LoadSchemas(store.Dir(id))
	require.NoError(t, err)
	var sb strings.Builder
	for offset := 0; ; {
		page, err := store.ReadDiff(id, offset, fidelityPageSize)
		require.NoError(t, err)
		sb.WriteString(page.Text)
		if page.Next == 0 {
			break
		}
		require.True(t, strings.HasSuffix(page.Text, "\n") || !strings.Contains(page.Text, "\n"),
			"a get_plan page ends inside a line that it need not cut: %q", page.Text)
		offset = page.Next
	}
	var direct bytes.Buffer
	require.NoError(t, a.RenderDiff(&direct, product, WithSchemas(kept)))
	require.Equal(t, direct.String(), sb.String(), "the stored diff is the rendered one")
	return a, sb.String()
}

// deletionsFirstViolation checks plangate's deliberate order: in the
// actions section every block that destroys an object comes before any
// other. It returns the first block out of place, or "".
func deletionsFirstViolation(blocks []fidelityBlock) string {
	other := ""
	for _, b := range blocks {
		if !strings.HasPrefix(b.key, "actions ") {
			continue
		}
		if !b.destroys {
			if other == "" {
				other = b.key
			}
			continue
		}
		if other != "" {
			return fmt.Sprintf("plangate shows %s (destroys) after %s (does not): deletions must come first", b.key, other)
		}
	}
	return ""
}

// sectionOrder is the order of a text's sections (drift, actions, the
// summary line, outputs): blocks within a section are a set, the sections
// are not.
func sectionOrder(blocks []fidelityBlock) string {
	var out []string
	for _, b := range blocks {
		section, _, _ := strings.Cut(b.key, " ")
		if len(out) == 0 || out[len(out)-1] != section {
			out = append(out, section)
		}
	}
	return strings.Join(out, ", ")
}

// skipUnlessVersion skips a fixture whose requires file names a newer
// Terraform than the one running.
func skipUnlessVersion(t *testing.T, dir, version string) {
	t.Helper()
	if req, err := os.ReadFile(filepath.Join(dir, "requires")); err == nil {
		if want := strings.TrimSpace(string(req)); !versionAtLeast(version, want) {
			t.Skipf("needs terraform >= %s, have %s", want, version)
		}
	}
}

// lineDiff is a readable line diff of two blocks (longest common
// subsequence): "  " same, "- " only Terraform's, "+ " only plangate's.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			sb.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			sb.WriteString("- " + a[i] + "\n")
			i++
		default:
			sb.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return sb.String()
}

// TestFidelity runs every construct fixture under real Terraform (the
// one tfbin finds: $PLANGATE_TERRAFORM, so `make test-terraform-fallback`
// runs it on the fallback too) and compares plangate's diff of each plan
// with Terraform's own text, block by block.
func TestFidelity(t *testing.T) {
	bin := tftest.Find(t)
	env := terraformEnv(t)
	version := terraformVersion(t, bin, env)
	root, names := fixtureNames(t)
	product := tftest.Product(t)
	var mu sync.Mutex
	var total fidelityStats
	t.Cleanup(func() { t.Logf("terraform %s: %s", version, total) })
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if product == tfbin.OpenTofu && (name == "forget" || name == "removed_destroy") {
				// TestFixtures still checks these plans' counts and deletions under OpenTofu.
				t.Skip("OpenTofu 1.10 prints a forgotten instance its own way (\"will be removed from the OpenTofu state but will not be destroyed\", every attribute shown, no \"destroy = false\" line, the closing brace unindented); plangate renders it as Terraform does")
			}
			dir := filepath.Join(root, name)
			skipUnlessVersion(t, dir, version)
			run := runFixture(t, bin, env, dir)
			st := assertFidelity(t, run.planJSON, run.text, nil)
			mu.Lock()
			total.add(st)
			mu.Unlock()
		})
	}
}

// TestFidelityBlocks checks the comparison itself: it must notice what a
// reader would (a changed value, a missing or extra block, a deletion
// shown late) and allow only masking that hides a secret.
func TestFidelityBlocks(t *testing.T) {
	a, err := Analyze(bytes.NewReader(planJSON(t, rc("terraform_data.a", "managed", "create"))))
	require.NoError(t, err)
	a.secrets.add("hunter2-long-secret")
	block := func(lines ...string) fidelityBlock { return fidelityBlock{key: "actions x", lines: lines} }
	tf := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = "hunter2-long-secret" -> "other"`,
		`      ~ output = {`,
		`          ~ pw = "hunter2-long-secret"`,
		`        }`,
		"    }")
	masked := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = (sensitive value)`,
		`      ~ output = (sensitive value)`,
		"    }")
	assert.True(t, maskingExplains(a, tf, masked), "masking secret values is allowed")

	innocent := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = "plain" -> "other"`,
		"    }")
	maskedInnocent := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = (sensitive value)`,
		"    }")
	assert.False(t, maskingExplains(a, innocent, maskedInnocent), "masking a value that holds no secret is a divergence")

	swallowed := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = "hunter2-long-secret"`,
		`      ~ other  = 1`,
		"    }")
	assert.False(t, maskingExplains(a, swallowed, maskedInnocent), "a mask must not stand for a line plangate dropped")
	dropped := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = {`,
		`          ~ pw = "hunter2-long-secret"`,
		`        }`,
		`      ~ other  = 1`,
		`      ~ last   = {`,
		`          ~ a = 2`,
		`        }`,
		"    }")
	maskedDropped := block(
		"  # x will be updated in-place",
		`  ~ resource "terraform_data" "x" {`,
		`      ~ input  = (sensitive value)`,
		`      ~ last   = {`,
		`          ~ a = 2`,
		`        }`,
		"    }")
	assert.False(t, maskingExplains(a, dropped, maskedDropped), "a masked object must not swallow the attributes after it")
	assert.True(t, oneValue("{\n  ~ pw = \"s\"\n}"))
	assert.True(t, oneValue("<<-EOT\n  {\n  EOT"), "a brace inside a heredoc is text")
	assert.False(t, oneValue("{\n}\n~ other = 1\n~ last = {\n}"))

	// A changed list element, rendered the old way, fails with a diff that
	// names both lines.
	d := lineDiff([]string{`          ~ "prod" -> "canary",`}, []string{`          - "prod",`, `          + "canary",`})
	assert.Equal(t, "-           ~ \"prod\" -> \"canary\",\n+           - \"prod\",\n+           + \"canary\",\n", d)

	text := `
Terraform will perform the following actions:

  # terraform_data.b will be created
  + resource "terraform_data" "b" {
      + id = (known after apply)
    }

  # terraform_data.a will be destroyed
  - resource "terraform_data" "a" {
      - id = "1" -> null
    }

 # terraform_data.f will no longer be managed by Terraform, but will not be destroyed
 # (destroy = false is set in the configuration)
 . resource "terraform_data" "f" {
        id = "2"
    }

Plan: 1 to add, 0 to change, 1 to destroy.
`
	blocks, err := splitFidelityBlocks(text)
	require.NoError(t, err)
	var keys []string
	for _, b := range blocks {
		keys = append(keys, b.key)
	}
	assert.Equal(t, []string{"actions terraform_data.b", "actions terraform_data.a", "actions terraform_data.f", "summary"}, keys)
	assert.Len(t, blocks[2].lines, 5)
	assert.True(t, blocks[1].destroys)
	assert.Contains(t, deletionsFirstViolation(blocks), "actions terraform_data.a (destroys) after actions terraform_data.b")
	assert.Empty(t, deletionsFirstViolation([]fidelityBlock{blocks[1], blocks[0], blocks[2]}))

	// compareFidelity: a changed value, a missing block, a pending block
	// that no longer differs each fail, readably.
	blockB := "  # terraform_data.b will be created\n  + resource \"terraform_data\" \"b\" {\n      + id = (known after apply)\n    }\n\n"
	reordered := strings.Replace(strings.Replace(text, blockB, "", 1), "\nPlan: ", "\n"+blockB+"Plan: ", 1)
	st, problems, err := compareFidelity(a, text, reordered, nil)
	require.NoError(t, err)
	assert.Empty(t, problems, "order alone is no divergence when deletions come first")
	assert.Equal(t, 4, st.identical)
	outputs := "\nChanges to Outputs:\n  + x = 1\n"
	outputsFirst := strings.Replace(reordered, "\nPlan: ", outputs+"\nPlan: ", 1)
	_, problems, err = compareFidelity(a, reordered+outputs, outputsFirst, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"sections in another order than Terraform's: terraform actions, summary, outputs, plangate actions, outputs, summary"}, problems)
	changed := strings.Replace(reordered, `- id = "1" -> null`, `- id = "2" -> null`, 1)
	_, problems, err = compareFidelity(a, text, changed, nil)
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "block \"actions terraform_data.a\" differs")
	assert.Contains(t, problems[0], "-       - id = \"1\" -> null\n+       - id = \"2\" -> null")
	_, problems, err = compareFidelity(a, text, strings.Replace(reordered, "terraform_data.f will", "terraform_data.g will", 1), nil)
	require.NoError(t, err)
	assert.Len(t, problems, 2, "one block missing, one extra: %v", problems)
	_, problems, err = compareFidelity(a, text, reordered, map[string]string{"actions terraform_data.a": "a reason"})
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "now identical")
}
