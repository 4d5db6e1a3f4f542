package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Analysis is what plangate knows of one plan after reading
// `terraform show -json <planfile>`.
type Analysis struct {
	TerraformVersion string
	// FormatVersion is the plan JSON's format_version, such as "1.2".
	FormatVersion string
	// Counts.Add, Change and Destroy equal Terraform's own "Plan: N to add,
	// N to change, N to destroy." line for the same plan.
	Counts Counts
	// Deleted lists every resource instance the plan destroys — plain
	// deletes, both replace orders and deposed objects — sorted by address,
	// then deposed key. len(Deleted) == Counts.Destroy, always.
	Deleted []Deletion
	// Drift lists changes Terraform found outside of Terraform during
	// refresh (resource_drift), apart from the planned changes.
	Drift []Drift
	// Errored is true when planning failed; such a plan cannot be applied.
	Errored bool
	// Applyable is Terraform's own verdict that applying the plan would do
	// something.
	Applyable bool
	// Complete is false when applying the plan would still leave changes
	// for a later plan (deferred changes).
	Complete bool
	// Warnings are failed or undecided check results, one readable line
	// each, with sensitive values masked.
	Warnings []string
	// SchemaProblem says why the diff was rendered without provider
	// schemas where they were asked for ("" when it was not).
	SchemaProblem string
	// OutputChanges counts the root module outputs the plan changes.
	OutputChanges int
	// Code is the code the plan runs besides the providers: provisioners
	// of instances it creates or destroys, external data sources (see
	// CodeRun). Providers are every provider source the configuration
	// uses, sorted; which of them may run is policy's call.
	Code      []CodeRun
	Providers []string

	// applyableKnown and erroredKnown record whether the plan carried the
	// fields at all (Terraform < 1.6 does not write them).
	applyableKnown bool
	erroredKnown   bool
	// managed counts managed resource objects in prior_state.
	managed int
	// changes are the resource changes worth rendering, with their values
	// kept as raw JSON (one copy of the plan's values, decoded only while
	// rendering one change at a time).
	changes []*resourceChange
	drift   []*resourceChange
	// relevant are the plan's relevant_attributes: which drifted
	// attributes bear on its changes (see relevance).
	relevant []relevantAttr
	outputs  []*outputChange
	// outputWidth is the longest output name, unchanged outputs included:
	// Terraform aligns the changed ones to it.
	outputWidth int
	// secrets are the sensitive strings and numbers of the plan, masked
	// wherever they appear (see SensitiveValue): the one secret set of the
	// plan, used by the diff, the sanitized JSON and the Masker.
	secrets *secretSet
	// rootVars are the root module's variables and whether each is
	// sensitive, as the configuration declares them.
	rootVars map[string]bool
	// variables are the root variables' values, spans of raw (sensitive
	// ones in clear: see shownVariable and ClearVariable).
	variables map[string][]byte
	// raw is the plan JSON; sections are its top-level members, spans of
	// raw in the order Terraform wrote them; the sanitizer writes them.
	raw      []byte
	sections []section
	// checks holds the checks section while the plan is read.
	checks any
	// codeCandidates are the changes that may run code, kept until the
	// configuration is read; codeSources say where each Code entry's
	// detail comes from (ReadCodeSource).
	codeCandidates []codeCandidate
	codeSources    []codeSource
}

// resourceChange is one entry of resource_changes or resource_drift.
type resourceChange struct {
	Address         string          `json:"address"`
	PreviousAddress string          `json:"previous_address"`
	ModuleAddress   string          `json:"module_address"`
	Mode            string          `json:"mode"`
	ProviderName    string          `json:"provider_name"`
	Type            string          `json:"type"`
	Name            string          `json:"name"`
	Index           json.RawMessage `json:"index"`
	Deposed         string          `json:"deposed"`
	ActionReason    string          `json:"action_reason"`
	Change          changeJSON      `json:"change"`
}

type changeJSON struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    json.RawMessage `json:"after_unknown"`
	BeforeSensitive json.RawMessage `json:"before_sensitive"`
	AfterSensitive  json.RawMessage `json:"after_sensitive"`
	ReplacePaths    json.RawMessage `json:"replace_paths"`
	Importing       *importing      `json:"importing"`
	GeneratedConfig string          `json:"generated_config"`
}

type importing struct {
	ID string `json:"id"`
}

type outputChange struct {
	Name   string
	Change changeJSON
}

// Terraform's action lists, as plans.Action values are written in JSON.
const (
	actNoOp   = "no-op"
	actCreate = "create"
	actRead   = "read"
	actUpdate = "update"
	actDelete = "delete"
	actForget = "forget"
)

func (c *resourceChange) has(action string) bool { return slices.Contains(c.Change.Actions, action) }

func (c *resourceChange) isData() bool { return c.Mode == "data" }

// destroys reports whether the change destroys an object: its actions
// contain delete. Data sources are not objects Terraform destroys (it drops
// them from state) and Terraform does not count them; every other mode,
// including an unknown one, counts — when in doubt, count the deletion.
func (c *resourceChange) destroys() bool { return c.has(actDelete) && !c.isData() }

func (c *resourceChange) replaces() bool {
	a := c.Change.Actions
	return len(a) == 2 && slices.Contains(a, actCreate) && (slices.Contains(a, actDelete) || slices.Contains(a, actForget))
}

func (c *resourceChange) moved() bool {
	return c.PreviousAddress != "" && c.PreviousAddress != c.Address
}

func (c *resourceChange) isNoOp() bool {
	for _, a := range c.Change.Actions {
		if a != actNoOp {
			return false
		}
	}
	return true
}

// rendered reports whether Terraform shows the change in its plan output:
// no-ops only when they move or import, never a data source's delete.
func (c *resourceChange) rendered() bool {
	if c.isNoOp() && !c.moved() && c.Change.Importing == nil {
		return false
	}
	if c.has(actDelete) && c.isData() && !c.has(actCreate) {
		return false
	}
	return true
}

// displayAddress is the address with the deposed key, as Terraform shows it.
func (c *resourceChange) displayAddress() string {
	if c.Deposed != "" {
		return fmt.Sprintf("%s (deposed object %s)", c.Address, c.Deposed)
	}
	return c.Address
}

// checkPlanKeys refuses JSON that is not a plan: no format_version, a format
// major version other than 1, or none of the sections only a plan has (a
// state file, say).
func checkPlanKeys(formatVersion any, has func(string) bool) error {
	fv, ok := formatVersion.(string)
	if !ok || fv == "" {
		return fmt.Errorf("no format_version: not a Terraform plan; %s", notPlanHint)
	}
	if major, _, _ := strings.Cut(fv, "."); major != "1" {
		return fmt.Errorf("plan JSON format_version %q is not supported (plangate reads 1.x)", fv)
	}
	for _, k := range []string{"planned_values", "resource_changes", "output_changes", "applyable", "errored", "configuration"} {
		if has(k) {
			return nil
		}
	}
	return fmt.Errorf("no plan sections (planned_values, resource_changes, ...): not a Terraform plan, perhaps a state; %s", notPlanHint)
}

func (a *Analysis) addChange(c *resourceChange) {
	a.collectChangeSecrets(&c.Change)
	a.noteCode(c)
	acts := c.Change.Actions
	if slices.Contains(acts, actCreate) {
		a.Counts.Add++
	}
	if slices.Contains(acts, actUpdate) {
		a.Counts.Change++
	}
	if c.destroys() {
		a.Counts.Destroy++
		d := Deletion{
			Address: c.Address,
			Action:  "delete",
			Actions: slices.Clone(acts),
			Reason:  c.ActionReason,
			Deposed: c.Deposed,
		}
		if c.has(actCreate) {
			d.Action = "replace"
		}
		if c.moved() {
			d.PreviousAddress = c.PreviousAddress
		}
		a.Deleted = append(a.Deleted, d)
	}
	if c.replaces() {
		a.Counts.Replace++
	}
	if c.Change.Importing != nil {
		a.Counts.Import++
	}
	if c.moved() {
		a.Counts.Move++
	}
	if c.has(actForget) {
		a.Counts.Forget++
	}
	if c.has(actRead) {
		a.Counts.Read++
	}
	if c.rendered() {
		a.changes = append(a.changes, c)
	}
}

func (a *Analysis) addDrift(c *resourceChange) {
	a.collectChangeSecrets(&c.Change)
	if c.isNoOp() {
		// Move-only entries: the planned changes show the move.
		return
	}
	addr := c.Address
	if c.Deposed != "" {
		addr = c.displayAddress()
	}
	a.Drift = append(a.Drift, Drift{Address: addr, Actions: slices.Clone(c.Change.Actions)})
	a.drift = append(a.drift, c)
}

func (a *Analysis) addOutput(name string, c changeJSON) {
	a.collectChangeSecrets(&c)
	a.outputWidth = max(a.outputWidth, len(attributeName(name)))
	noop := true
	for _, act := range c.Actions {
		if act != actNoOp {
			noop = false
		}
	}
	if noop {
		return
	}
	a.OutputChanges++
	a.outputs = append(a.outputs, &outputChange{Name: name, Change: c})
}

// collectChangeSecrets adds the values a change marks sensitive.
func (a *Analysis) collectChangeSecrets(c *changeJSON) {
	for _, side := range [][2]json.RawMessage{{c.Before, c.BeforeSensitive}, {c.After, c.AfterSensitive}} {
		mark := bytes.TrimSpace(side[1])
		if len(mark) == 0 || string(mark) == "null" || string(mark) == "false" ||
			(mark[0] == '{' || mark[0] == '[') && !bytes.Contains(mark, []byte("true")) {
			continue // marks nothing
		}
		val, err := decodeAny(side[0])
		if err != nil {
			continue
		}
		switch mask, err := decodeAny(mark); mask.(type) {
		case bool, map[string]any, []any:
			a.secrets.addMarked(val, mask)
		default:
			if err == nil && mask != nil {
				// Marks of a shape Terraform never writes: every value
				// is a secret, in doubt.
				a.secrets.addAll(val)
			}
		}
	}
}

// Masker returns a Masker holding the plan's secrets: every value at a path
// the plan marks sensitive (resource changes, drift, deferred changes,
// output changes, prior state, planned values), the values of sensitive
// variables and of variables without a declaration, sensitive variables'
// defaults and sensitive outputs' constants in the configuration (child
// modules included), and sensitive outputs. Use it on
// what Terraform printed about the plan, its diagnostics above all: they
// quote values that lost their marks. The Masker is a copy: adding to it
// leaves the Analysis alone.
func (a *Analysis) Masker() *Masker { return &Masker{s: a.secrets.clone()} }

// maxModuleDepth bounds recursion over nested modules in untrusted JSON.
const maxModuleDepth = 1000

// checkWarnings turns failed check results (the plan's checks section,
// decoded) into one line each. Check blocks that cannot be decided before
// apply are reported too; unknown results of resource conditions are not
// (they are routine: most postconditions wait for apply).
func checkWarnings(checks any, secrets *secretSet) []string {
	var out []string
	mask := secrets.maskText
	str := func(v any, path ...string) string {
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}
	list, _ := checks.([]any)
	for _, c := range list {
		name := str(c, "address", "to_display")
		kind := str(c, "address", "kind")
		noun := "condition"
		if kind == "check" {
			noun = "check"
		}
		switch str(c, "status") {
		case "fail", "error":
			reported := false
			cm, _ := c.(map[string]any)
			instances, _ := cm["instances"].([]any)
			for _, inst := range instances {
				if st := str(inst, "status"); st != "fail" && st != "error" {
					continue
				}
				at := str(inst, "address", "to_display")
				if at == "" {
					at = name
				}
				im, _ := inst.(map[string]any)
				problems, _ := im["problems"].([]any)
				for _, p := range problems {
					out = append(out, fmt.Sprintf("%s: %s failed: %s", at, noun, mask(str(p, "message"))))
					reported = true
				}
				if len(problems) == 0 {
					out = append(out, fmt.Sprintf("%s: %s failed", at, noun))
					reported = true
				}
			}
			if !reported {
				out = append(out, fmt.Sprintf("%s: %s failed", name, noun))
			}
		case "unknown":
			if kind == "check" {
				out = append(out, fmt.Sprintf("%s: check result unknown until apply", name))
			}
		}
	}
	return out
}

func (a *Analysis) sortResults() {
	sort.SliceStable(a.Deleted, func(i, j int) bool {
		if c := compareAddress(a.Deleted[i].Address, a.Deleted[j].Address); c != 0 {
			return c < 0
		}
		return a.Deleted[i].Deposed < a.Deleted[j].Deposed
	})
	sort.SliceStable(a.Drift, func(i, j int) bool {
		return compareAddress(a.Drift[i].Address, a.Drift[j].Address) < 0
	})
	byAddress := func(list []*resourceChange) {
		sort.SliceStable(list, func(i, j int) bool {
			if c := compareAddress(list[i].Address, list[j].Address); c != 0 {
				return c < 0
			}
			return list[i].Deposed < list[j].Deposed
		})
	}
	byAddress(a.changes)
	byAddress(a.drift)
	sort.SliceStable(a.outputs, func(i, j int) bool { return a.outputs[i].Name < a.outputs[j].Name })
}

// HasChanges reports whether applying the plan would do anything, as
// Terraform decides it: the plan's "applyable" field, which is true when
// there are resource or output changes, or refreshed state to save, and the
// plan did not error. An errored plan reports false: check Errored first.
// For plans without the field (Terraform < 1.6), any resource action other
// than no-op, any move or import, or any output change counts.
func (a *Analysis) HasChanges() bool {
	if a.applyableKnown {
		return a.Applyable && !a.Errored
	}
	if a.Errored {
		return false
	}
	for _, c := range a.changes {
		if !c.isNoOp() || c.moved() || c.Change.Importing != nil {
			return true
		}
	}
	return a.OutputChanges > 0
}

// ManagedResourceCount is the number of managed resource objects in the
// plan's prior state (deposed objects included), the base of the
// mass-deletion ratio: a plan can destroy at most this many objects.
func (a *Analysis) ManagedResourceCount() int { return a.managed }
