package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/plangate/plangate/internal/tfbin"
)

// StatusDriftCheck is the record of a drift check (check_drift): a
// refresh-only plan, kept for what it found. It can never be approved or
// applied: applying a refresh-only plan would rewrite the state to match
// what was changed outside Terraform. Its plan file is removed when it is
// recorded, so not even a record edited to say otherwise has a plan to
// apply.
const StatusDriftCheck Status = "drift_check"

// Drift actions as DriftedResource reports them: Terraform's own for
// resource_drift entries.
const (
	DriftChanged = "update"
	DriftDeleted = "delete"
)

// MaxDriftAttributes is how many changed attribute paths a drifted
// resource lists; AttributesMore counts the rest.
const MaxDriftAttributes = 8

// DriftCheck is what a drift check found: every resource changed or
// deleted outside Terraform since the state was last written, with the
// paths of the attributes that changed (never their values: the diff
// shows those, masked).
type DriftCheck struct {
	DriftCounts
	Resources []DriftedResource `json:"resources"`
}

// DriftCounts are a drift check's figures: resources changed outside
// Terraform, and resources deleted outside it.
type DriftCounts struct {
	Changed int `json:"changed"`
	Deleted int `json:"deleted"`
}

// DriftedResource is one resource the refresh found changed (update) or
// gone (delete).
type DriftedResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  string `json:"action"`
	// Attributes are the changed attribute paths, such as tags.Owner, at
	// most MaxDriftAttributes; a sensitive value's path stops where the
	// value's mark starts.
	Attributes     []string `json:"attributes,omitempty"`
	AttributesMore int      `json:"attributes_more,omitempty"`
}

// RefreshOnlyOption makes Runner.Plan run `terraform plan -refresh-only`:
// Terraform compares the state with the real objects and plans no change
// of its own.
type RefreshOnlyOption struct{}

// RefreshOnly plans with -refresh-only.
func RefreshOnly() RefreshOnlyOption { return RefreshOnlyOption{} }

func (RefreshOnlyOption) configurePlan(c *planConfig) { c.refreshOnly = true }

// DriftCheck lists what the refresh found changed outside Terraform.
// Entries that only moved are left out (the configuration moved them).
func (a *Analysis) DriftCheck() *DriftCheck {
	out := &DriftCheck{Resources: []DriftedResource{}}
	for _, c := range a.drift {
		r := DriftedResource{Address: c.displayAddress(), Type: c.Type, Action: DriftChanged}
		switch {
		case c.has(actDelete):
			r.Action = DriftDeleted
			out.Deleted++
		default:
			out.Changed++
			paths := a.changedPaths(c)
			if len(paths) > MaxDriftAttributes {
				r.AttributesMore = len(paths) - MaxDriftAttributes
				paths = paths[:MaxDriftAttributes]
			}
			r.Attributes = paths
		}
		out.Resources = append(out.Resources, r)
	}
	return out
}

// changedPaths are the paths of the attributes a drifted resource's change
// touches, in key order. Values are never looked at beyond deciding
// whether they changed; a map key that is itself a secret is masked.
func (a *Analysis) changedPaths(c *resourceChange) []string {
	r := &renderer{secrets: a.secrets}
	d, err := r.diffChange(&c.Change)
	if err != nil || d == nil {
		return nil
	}
	var out []string
	a.walkChanged(d, "", &out)
	return out
}

var driftKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (a *Analysis) walkChanged(d *vdiff, path string, out *[]string) {
	if d.action == aNoOp {
		return
	}
	switch d.kind {
	case kObject:
		if path != "" && (d.action == aCreate || d.action == aDelete) {
			*out = append(*out, path)
			return
		}
		for i, k := range d.keys {
			a.walkChanged(d.fields[i], joinPath(path, k, a.secrets), out)
		}
		if len(d.keys) == 0 && path != "" {
			*out = append(*out, path)
		}
	default:
		if path != "" {
			*out = append(*out, path)
		}
	}
}

// joinPath appends key to path: .key for a name, ["key"] for anything
// else, (sensitive value) for a key that is a secret.
func joinPath(path, key string, secrets *secretSet) string {
	switch {
	case secrets.matches(key):
		key = `["` + SensitiveValue + `"]`
	case driftKeyRE.MatchString(key):
		if path == "" {
			return key
		}
		key = "." + key
	default:
		b, _ := json.Marshal(key)
		key = "[" + string(b) + "]"
	}
	return path + key
}

// RenderDrift writes a drift check as a reviewer reads it, in the style of
// `terraform plan -refresh-only`: every drifted resource, in address order,
// values masked as in RenderDiff, then what plangate will and will not do
// about it.
func (a *Analysis) RenderDrift(w io.Writer, opts ...RenderOption) error {
	r := &renderer{w: bufio.NewWriter(w), secrets: a.secrets, lcsOnly: !pairsEqualLengthLists(a.TerraformVersion), rules: schemaRulesFor(a.TerraformVersion)}
	for _, o := range opts {
		o(r)
	}
	switch {
	case a.Errored:
		r.printf("\nRefreshing failed. %s encountered an error while reading the real objects.\n", r.product)
	case len(a.drift) == 0:
		r.printf("\nNo changes. Your infrastructure still matches the state %s recorded.\n", r.product)
	default:
		r.printf("\nNote: Objects have changed outside of %s\n\n", r.product)
		r.printf("%s detected the following changes made outside of %s since the\nlast \"%s apply\":\n", r.product, r.product, r.product.Command())
		for _, c := range a.drift {
			r.print("\n")
			r.resource(c, true)
		}
		r.print("\nThis is a refresh-only check: plangate never applies it, so neither the state\nnor the infrastructure changes. A plan_change plan undoes these changes (it\nrecreates what was deleted); to keep them, change the configuration instead.\n")
	}
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}

// ReadDriftJSON is ReadPlanJSON for a drift check: the diff it writes is
// the drift (RenderDrift), not the planned changes (a refresh-only plan
// has none).
func (d *Draft) ReadDriftJSON(rawPath string, opts ...RenderOption) (*Analysis, error) {
	defer os.Remove(rawPath)
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return nil, err
	}
	return DigestDrift(d.Dir, raw, opts...)
}

// DigestDrift is Digest for a drift check: it analyses raw and writes the
// rendered drift (DiffFile) and the sanitized JSON (PlanJSONFile) into dir.
func DigestDrift(dir string, raw []byte, opts ...RenderOption) (*Analysis, error) {
	a, err := AnalyzeBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("analysing plan JSON: %w", err)
	}
	opts = a.keepSchemas(dir, opts)
	if err := writeWith(filepath.Join(dir, DiffFile), func(w io.Writer) error { return a.RenderDrift(w, opts...) }); err != nil {
		return nil, fmt.Errorf("rendering drift: %w", err)
	}
	if err := writeWith(filepath.Join(dir, PlanJSONFile), a.WriteSanitized); err != nil {
		return nil, fmt.Errorf("sanitizing plan JSON: %w", err)
	}
	return a, nil
}

// DriftGroup counts drifted resources of one type and action, for checks
// that find more than a result lists one by one.
type DriftGroup struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	Count  int    `json:"count"`
}

// GroupDrift counts resources by type and action, sorted by type then action.
func GroupDrift(rs []DriftedResource) []DriftGroup {
	counts := map[[2]string]int{}
	for _, r := range rs {
		counts[[2]string{r.Type, r.Action}]++
	}
	out := make([]DriftGroup, 0, len(counts))
	for k, n := range counts {
		out = append(out, DriftGroup{Type: k[0], Action: k[1], Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// DriftHeadline is the first line of a drift check's report: its counts,
// naming the program that refreshed (product; Terraform when unknown).
func DriftHeadline(product tfbin.Product, stack string, dc *DriftCheck, failed bool) string {
	if failed {
		return fmt.Sprintf("Drift check of %s FAILED: %s reported errors while refreshing; what is listed may be incomplete", stack, product)
	}
	if dc == nil || dc.Changed+dc.Deleted == 0 {
		return "No drift in " + stack
	}
	var parts []string
	if dc.Changed > 0 {
		parts = append(parts, fmt.Sprintf("%d %s changed outside %s", dc.Changed, plural(dc.Changed, "resource", "resources"), product))
	}
	if dc.Deleted > 0 {
		noun := ""
		if dc.Changed == 0 {
			noun = " " + plural(dc.Deleted, "resource", "resources")
		}
		parts = append(parts, fmt.Sprintf("%d%s deleted outside %s", dc.Deleted, noun, product))
	}
	return "Drift in " + stack + ": " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
