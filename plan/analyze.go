package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	// OutputChanges counts the root module outputs the plan changes.
	OutputChanges int

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
	outputs []*outputChange
	// outputWidth is the longest output name, unchanged outputs included:
	// Terraform aligns the changed ones to it.
	outputWidth int
	// secrets are the sensitive strings and numbers of the plan, masked
	// wherever they appear (see SensitiveValue).
	secrets *secretSet
}

// resourceChange is one entry of resource_changes or resource_drift.
type resourceChange struct {
	Address         string          `json:"address"`
	PreviousAddress string          `json:"previous_address"`
	ModuleAddress   string          `json:"module_address"`
	Mode            string          `json:"mode"`
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
	Importing       *struct {
		ID string `json:"id"`
	} `json:"importing"`
	GeneratedConfig string `json:"generated_config"`
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

// Analyze reads the JSON of a saved plan (`terraform show -json <planfile>`)
// and counts what it does. It streams: values are kept once, as raw JSON,
// only for the changes the diff shows.
func Analyze(r io.Reader) (*Analysis, error) {
	a := &Analysis{secrets: newSecretSet()}
	if err := a.decode(r); err != nil {
		return nil, fmt.Errorf("analyze plan JSON: %w", err)
	}
	return a, nil
}

// notPlanHint says what input Analyze expects.
const notPlanHint = "expected the output of `terraform show -json <planfile>`"

func (a *Analysis) decode(r io.Reader) error {
	s := newJSONStream(r)
	first, err := s.peek()
	if err != nil {
		return fmt.Errorf("not JSON (%v); %s", err, notPlanHint)
	}
	if first != '{' {
		if err := s.skip(); err != nil {
			return fmt.Errorf("not JSON (%v); %s", err, notPlanHint)
		}
		return fmt.Errorf("not a JSON object; %s", notPlanHint)
	}

	seen := map[string]bool{}
	var (
		formatVersion any
		variables     map[string]struct {
			Value json.RawMessage `json:"value"`
		}
		config  configJSON
		checks  []checkJSON
		errored *bool
		apply   *bool
	)
	err = s.object(func(key string) error {
		seen[key] = true
		var err error
		switch key {
		case "format_version":
			err = s.decode(&formatVersion)
			if str, ok := formatVersion.(string); ok {
				a.FormatVersion = str
			}
		case "terraform_version":
			err = s.decode(&a.TerraformVersion)
		case "variables":
			err = s.decode(&variables)
		case "resource_changes":
			err = s.array(func() error {
				var c resourceChange
				if err := s.decodeResourceChange(&c); err != nil {
					return err
				}
				return a.addChange(&c)
			})
		case "resource_drift":
			err = s.array(func() error {
				var c resourceChange
				if err := s.decodeResourceChange(&c); err != nil {
					return err
				}
				return a.addDrift(&c)
			})
		case "deferred_changes":
			// Not rendered, but their secrets are secrets all the same.
			err = s.array(func() error {
				var d struct {
					ResourceChange *resourceChange `json:"resource_change"`
				}
				if err := s.decode(&d); err != nil {
					return err
				}
				if d.ResourceChange != nil {
					a.collectChangeSecrets(&d.ResourceChange.Change)
				}
				return nil
			})
		case "output_changes":
			err = s.object(func(name string) error {
				var c changeJSON
				if err := s.decodeChange(&c); err != nil {
					return err
				}
				return a.addOutput(name, c)
			})
		case "prior_state":
			err = a.decodePriorState(s)
		case "configuration":
			err = s.decode(&config)
		case "checks":
			err = s.decode(&checks)
		case "errored":
			err = s.decode(&errored)
		case "applyable":
			err = s.decode(&apply)
		case "complete":
			err = s.decode(&a.Complete)
		default:
			// planned_values repeats resource_changes' after values; the
			// rest carries nothing plangate reports. Skip without keeping.
			err = s.skip()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if end, err := s.atEnd(); err != nil {
		return err
	} else if !end {
		return fmt.Errorf("unexpected data after the plan object; %s", notPlanHint)
	}
	if err := checkPlanKeys(formatVersion, func(k string) bool { return seen[k] }); err != nil {
		return err
	}

	// Variables come before configuration in the JSON, so their values are
	// judged only now. A variable without a declaration counts as sensitive.
	sensitiveVars := config.collect(a.secrets)
	for name, v := range variables {
		if sensitive, declared := sensitiveVars[name]; sensitive || !declared {
			if val, err := decodeAny(v.Value); err == nil {
				a.secrets.addAll(val)
			}
		}
	}

	if errored != nil {
		a.Errored, a.erroredKnown = *errored, true
	}
	if apply != nil {
		a.Applyable, a.applyableKnown = *apply, true
	}
	a.Warnings = checkWarnings(checks, a.secrets)
	a.sortResults()
	return nil
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

func (a *Analysis) addChange(c *resourceChange) error {
	a.collectChangeSecrets(&c.Change)
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
	return nil
}

func (a *Analysis) addDrift(c *resourceChange) error {
	a.collectChangeSecrets(&c.Change)
	if c.isNoOp() {
		// Move-only entries: the planned changes show the move.
		return nil
	}
	addr := c.Address
	if c.Deposed != "" {
		addr = c.displayAddress()
	}
	a.Drift = append(a.Drift, Drift{Address: addr, Actions: slices.Clone(c.Change.Actions)})
	a.drift = append(a.drift, c)
	return nil
}

func (a *Analysis) addOutput(name string, c changeJSON) error {
	a.collectChangeSecrets(&c)
	a.outputWidth = max(a.outputWidth, len(attributeName(name)))
	noop := true
	for _, act := range c.Actions {
		if act != actNoOp {
			noop = false
		}
	}
	if noop {
		return nil
	}
	a.OutputChanges++
	a.outputs = append(a.outputs, &outputChange{Name: name, Change: c})
	return nil
}

// collectChangeSecrets adds the values a change marks sensitive.
func (a *Analysis) collectChangeSecrets(c *changeJSON) {
	for _, side := range [][2]json.RawMessage{{c.Before, c.BeforeSensitive}, {c.After, c.AfterSensitive}} {
		if !bytes.Contains(side[1], []byte("true")) {
			continue
		}
		val, err1 := decodeAny(side[0])
		mask, err2 := decodeAny(side[1])
		if err1 == nil && err2 == nil {
			a.secrets.addMarked(val, mask)
		}
	}
}

// stateResourceJSON is one resource of a state's values (prior_state).
type stateResourceJSON struct {
	Mode            string          `json:"mode"`
	Values          json.RawMessage `json:"values"`
	SensitiveValues json.RawMessage `json:"sensitive_values"`
}

// decodePriorState reads prior_state resource by resource: it counts the
// managed objects and collects the secrets of their values and of the
// sensitive outputs.
func (a *Analysis) decodePriorState(s *jsonStream) error {
	return s.object(func(key string) error {
		if key != "values" {
			return s.skip()
		}
		return s.object(func(key string) error {
			switch key {
			case "outputs":
				var outs map[string]struct {
					Sensitive bool            `json:"sensitive"`
					Value     json.RawMessage `json:"value"`
				}
				if err := s.decode(&outs); err != nil {
					return err
				}
				for _, o := range outs {
					if o.Sensitive {
						if val, err := decodeAny(o.Value); err == nil {
							a.secrets.addAll(val)
						}
					}
				}
				return nil
			case "root_module":
				return a.decodeStateModule(s, 0)
			}
			return s.skip()
		})
	})
}

func (a *Analysis) decodeStateModule(s *jsonStream, depth int) error {
	if depth > maxModuleDepth {
		return s.skip()
	}
	return s.object(func(key string) error {
		switch key {
		case "resources":
			return s.array(func() error {
				var r stateResourceJSON
				err := s.object(func(key string) error {
					var err error
					switch key {
					case "mode":
						r.Mode, err = s.str()
					case "values":
						r.Values, err = s.rawCopy()
					case "sensitive_values":
						r.SensitiveValues, err = s.rawCopy()
					default:
						err = s.skip()
					}
					return err
				})
				if err != nil {
					return err
				}
				if r.Mode != "data" {
					a.managed++
				}
				a.collectChangeSecrets(&changeJSON{Before: r.Values, BeforeSensitive: r.SensitiveValues})
				return nil
			})
		case "child_modules":
			return s.array(func() error { return a.decodeStateModule(s, depth+1) })
		}
		return s.skip()
	})
}

// Masker returns a Masker holding the plan's secrets: every value at a path
// the plan marks sensitive (resource changes, drift, deferred changes,
// output changes, prior state), the values of sensitive variables and of
// variables without a declaration, sensitive variables' defaults in the
// configuration (child modules included), and sensitive outputs. Use it on
// what Terraform printed about the plan, its diagnostics above all: they
// quote values that lost their marks. The Masker is a copy: adding to it
// leaves the Analysis alone.
func (a *Analysis) Masker() *Masker { return &Masker{s: a.secrets.clone()} }

// maxModuleDepth bounds recursion over nested modules in untrusted JSON.
const maxModuleDepth = 1000

type configJSON struct {
	RootModule *configModuleJSON `json:"root_module"`
}

type configModuleJSON struct {
	Variables map[string]struct {
		Default   json.RawMessage `json:"default"`
		Sensitive bool            `json:"sensitive"`
	} `json:"variables"`
	ModuleCalls map[string]struct {
		Module *configModuleJSON `json:"module"`
	} `json:"module_calls"`
}

// collect adds sensitive variable defaults of every module to secrets and
// returns the root module's variables with whether each is sensitive.
func (c configJSON) collect(secrets *secretSet) map[string]bool {
	root := map[string]bool{}
	var walk func(m *configModuleJSON, depth int)
	walk = func(m *configModuleJSON, depth int) {
		if m == nil || depth > maxModuleDepth {
			return
		}
		for name, v := range m.Variables {
			if depth == 0 {
				root[name] = v.Sensitive
			}
			if v.Sensitive {
				if val, err := decodeAny(v.Default); err == nil {
					secrets.addAll(val)
				}
			}
		}
		for _, call := range m.ModuleCalls {
			walk(call.Module, depth+1)
		}
	}
	walk(c.RootModule, 0)
	return root
}

type checkJSON struct {
	Address struct {
		Kind      string `json:"kind"`
		ToDisplay string `json:"to_display"`
	} `json:"address"`
	Status    string `json:"status"`
	Instances []struct {
		Address struct {
			ToDisplay string `json:"to_display"`
		} `json:"address"`
		Status   string `json:"status"`
		Problems []struct {
			Message string `json:"message"`
		} `json:"problems"`
	} `json:"instances"`
}

// checkWarnings turns failed check results into one line each. Check blocks
// that cannot be decided before apply are reported too; unknown results of
// resource conditions are not (they are routine: most postconditions wait
// for apply).
func checkWarnings(checks []checkJSON, secrets *secretSet) []string {
	var out []string
	mask := secrets.maskText
	for _, c := range checks {
		name := c.Address.ToDisplay
		kind := c.Address.Kind
		noun := "condition"
		if kind == "check" {
			noun = "check"
		}
		switch c.Status {
		case "fail", "error":
			reported := false
			for _, inst := range c.Instances {
				if inst.Status != "fail" && inst.Status != "error" {
					continue
				}
				at := inst.Address.ToDisplay
				if at == "" {
					at = name
				}
				for _, p := range inst.Problems {
					out = append(out, fmt.Sprintf("%s: %s failed: %s", at, noun, mask(p.Message)))
					reported = true
				}
				if len(inst.Problems) == 0 {
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
