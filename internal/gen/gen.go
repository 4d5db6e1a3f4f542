// Package gen writes large Terraform stacks of terraform_data resources,
// and the state Terraform would hold for them, so that plangate can be
// measured on plans with thousands of changes without a provider download,
// a network or minutes of `terraform apply`.
//
// A stack is Spec.Modules module calls (module.m00, module.m01, ...) of one
// child module holding Spec.PerModule instances of terraform_data.item
// (count). Write puts a scenario's configuration and the base state in a
// directory; `terraform plan` there produces the scenario's plan:
//
//   - Create: empty state, every instance is created;
//   - Replace: every instance is replaced (its triggers_replace changes);
//   - Mix: per module, a tenth of the instances replaced, a fifth updated in
//     place, a tenth deleted (count shrinks) and a tenth as many new
//     terraform_data.extra instances created; the rest unchanged.
//
// The base state is written the way Terraform 1.x writes a state after
// applying the base configuration (the tests plan the base configuration
// against it and get "No changes"), so the plan is Terraform's own.
package gen

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Scenario names the change a generated stack's plan makes.
type Scenario string

// The scenarios.
const (
	Create  Scenario = "create"
	Replace Scenario = "replace"
	Mix     Scenario = "mix"
)

// Scenarios lists every scenario, in the order reports show them.
var Scenarios = []Scenario{Create, Replace, Mix}

// Spec is the shape of a generated stack.
type Spec struct {
	Modules   int // module calls
	PerModule int // terraform_data.item instances in each
}

// Resources is the number of terraform_data.item instances of the base stack.
func (s Spec) Resources() int { return s.Modules * s.PerModule }

// Name is a short name for the spec, such as "10x100".
func (s Spec) Name() string { return fmt.Sprintf("%dx%d", s.Modules, s.PerModule) }

// Counts are what Terraform's "Plan: N to add, N to change, N to destroy."
// line says of a scenario's plan.
type Counts struct {
	Add, Change, Destroy int
}

// mix is how Mix changes one module of PerModule instances.
type mix struct {
	replace, update, remove, create int
}

func (s Spec) mix() mix {
	tenth := s.PerModule / 10
	if tenth == 0 && s.PerModule >= 5 {
		tenth = 1
	}
	return mix{replace: tenth, update: 2 * tenth, remove: tenth, create: tenth}
}

// Expected returns the counts Terraform reports for the scenario's plan.
func (s Spec) Expected(sc Scenario) Counts {
	n := s.Resources()
	switch sc {
	case Create:
		return Counts{Add: n}
	case Replace:
		return Counts{Add: n, Destroy: n}
	case Mix:
		m := s.mix()
		return Counts{
			Add:     s.Modules * (m.replace + m.create),
			Change:  s.Modules * m.update,
			Destroy: s.Modules * (m.replace + m.remove),
		}
	}
	return Counts{}
}

// Changes is the number of resource changes (creates, updates, deletes,
// replacements: one each) of the scenario's plan.
func (s Spec) Changes(sc Scenario) int {
	c := s.Expected(sc)
	return c.Add + c.Change + c.Destroy - s.replaced(sc)
}

func (s Spec) replaced(sc Scenario) int {
	switch sc {
	case Replace:
		return s.Resources()
	case Mix:
		return s.Modules * s.mix().replace
	}
	return 0
}

// moduleArgs are the child module's arguments in one configuration.
type moduleArgs struct {
	n, extra                int
	replaceBelow            int    // instances [0, replaceBelow) get generation gen
	gen                     string // triggers_replace of those
	updateFrom, updateBelow int    // instances [updateFrom, updateBelow) get revision 2
}

func (s Spec) base() moduleArgs { return moduleArgs{n: s.PerModule, gen: baseGeneration} }

func (s Spec) args(sc Scenario) moduleArgs {
	a := s.base()
	switch sc {
	case Replace:
		a.replaceBelow, a.gen = s.PerModule, "g2"
	case Mix:
		m := s.mix()
		a.replaceBelow, a.gen = m.replace, "g2"
		a.updateFrom, a.updateBelow = m.replace, m.replace+m.update
		a.n = s.PerModule - m.remove
		a.extra = m.create
	}
	return a
}

const (
	baseGeneration = "g1"
	// Token is the default of the stack's sensitive variable: plangate must
	// mask it, so every plan of a generated stack carries a secret and the
	// masking paths are measured too.
	Token = "bench-s3cr3t-token-0123456789"
	// ModuleDir is the child module's directory inside a generated stack.
	ModuleDir = "item"
)

// The child module. input is an object with a few attributes, nested
// tags, and a revision, like a small cloud resource.
const moduleTF = `variable "name" {
  type = string
}

variable "n" {
  type = number
}

variable "extra" {
  type = number
}

variable "generation" {
  type = string
}

variable "replace_below" {
  type = number
}

variable "update_from" {
  type = number
}

variable "update_below" {
  type = number
}

resource "terraform_data" "item" {
  count = var.n
  input = {
    name = "${var.name}-${count.index}"
    size = "small"
    rev  = count.index >= var.update_from && count.index < var.update_below ? 2 : 1
    tags = {
      env    = "bench"
      module = var.name
      index  = count.index
    }
  }
  triggers_replace = count.index < var.replace_below ? var.generation : "g1"
}

resource "terraform_data" "extra" {
  count = var.extra
  input = "${var.name}-extra-${count.index}"
}
`

func moduleName(i int) string { return fmt.Sprintf("m%02d", i) }

func (s Spec) rootTF(a moduleArgs) string {
	var b strings.Builder
	fmt.Fprintf(&b, `variable "api_token" {
  type      = string
  sensitive = true
  default   = %q
}

output "api_token" {
  value     = var.api_token
  sensitive = true
}
`, Token)
	for i := range s.Modules {
		fmt.Fprintf(&b, `
module %q {
  source        = "./%s"
  name          = %q
  n             = %d
  extra         = %d
  generation    = %q
  replace_below = %d
  update_from   = %d
  update_below  = %d
}
`, moduleName(i), ModuleDir, moduleName(i), a.n, a.extra, a.gen, a.replaceBelow, a.updateFrom, a.updateBelow)
	}
	return b.String()
}

// WriteConfig writes the scenario's configuration (main.tf and the child
// module) into dir, which must exist.
func (s Spec) WriteConfig(dir string, sc Scenario) error {
	return s.writeConfig(dir, s.args(sc))
}

// WriteBaseConfig writes the configuration the base state was applied from.
func (s Spec) WriteBaseConfig(dir string) error { return s.writeConfig(dir, s.base()) }

func (s Spec) writeConfig(dir string, a moduleArgs) error {
	if err := os.MkdirAll(filepath.Join(dir, ModuleDir), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ModuleDir, "main.tf"), []byte(moduleTF), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.tf"), []byte(s.rootTF(a)), 0o644)
}

// Write writes the scenario into dir (created if needed): its
// configuration, and for every scenario but Create the base stack's state
// (terraform.tfstate, local backend).
func (s Spec) Write(dir string, sc Scenario) error {
	switch sc {
	case Create, Replace, Mix:
	default:
		return fmt.Errorf("unknown scenario %q (have create, replace, mix)", sc)
	}
	if s.Modules <= 0 || s.PerModule <= 0 || s.Modules > 100 {
		return fmt.Errorf("spec %s: need 1..100 modules and at least one instance per module", s.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := s.WriteConfig(dir, sc); err != nil {
		return err
	}
	if sc == Create {
		return nil
	}
	return s.WriteState(filepath.Join(dir, "terraform.tfstate"))
}

// State file types, as Terraform's statefile version 4 writes them.
type stateFile struct {
	Version          int                    `json:"version"`
	TerraformVersion string                 `json:"terraform_version"`
	Serial           int                    `json:"serial"`
	Lineage          string                 `json:"lineage"`
	Outputs          map[string]stateOutput `json:"outputs"`
	Resources        []stateResource        `json:"resources"`
	CheckResults     any                    `json:"check_results"`
}

type stateOutput struct {
	Value     any  `json:"value"`
	Type      any  `json:"type"`
	Sensitive bool `json:"sensitive,omitempty"`
}

type stateResource struct {
	Module    string          `json:"module,omitempty"`
	Mode      string          `json:"mode"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Provider  string          `json:"provider"`
	Instances []stateInstance `json:"instances"`
}

type stateInstance struct {
	IndexKey            int            `json:"index_key"`
	SchemaVersion       int            `json:"schema_version"`
	Attributes          itemAttributes `json:"attributes"`
	SensitiveAttributes []any          `json:"sensitive_attributes"`
}

type itemAttributes struct {
	ID              string       `json:"id"`
	Input           dynamicValue `json:"input"`
	Output          dynamicValue `json:"output"`
	TriggersReplace dynamicValue `json:"triggers_replace"`
}

// dynamicValue is how a state stores a value of a dynamically typed
// attribute: the value with its cty type.
type dynamicValue struct {
	Value any `json:"value"`
	Type  any `json:"type"`
}

type itemInput struct {
	Name string   `json:"name"`
	Rev  int      `json:"rev"`
	Size string   `json:"size"`
	Tags itemTags `json:"tags"`
}

type itemTags struct {
	Env    string `json:"env"`
	Index  int    `json:"index"`
	Module string `json:"module"`
}

var itemInputType = []any{"object", map[string]any{
	"name": "string", "rev": "number", "size": "string",
	"tags": []any{"object", map[string]any{"env": "string", "index": "number", "module": "string"}},
}}

// WriteState writes the state of the applied base configuration.
func (s Spec) WriteState(path string) error {
	st := stateFile{
		Version:          4,
		TerraformVersion: "1.11.4",
		Serial:           1,
		Lineage:          fakeUUID("lineage/" + s.Name()),
		Outputs:          map[string]stateOutput{"api_token": {Value: Token, Type: "string", Sensitive: true}},
	}
	for m := range s.Modules {
		name := moduleName(m)
		r := stateResource{
			Module:   "module." + name,
			Mode:     "managed",
			Type:     "terraform_data",
			Name:     "item",
			Provider: `provider["terraform.io/builtin/terraform"]`,
		}
		for i := range s.PerModule {
			in := dynamicValue{Value: itemInput{
				Name: fmt.Sprintf("%s-%d", name, i), Rev: 1, Size: "small",
				Tags: itemTags{Env: "bench", Index: i, Module: name},
			}, Type: itemInputType}
			r.Instances = append(r.Instances, stateInstance{
				IndexKey: i,
				Attributes: itemAttributes{
					ID:              fakeUUID(fmt.Sprintf("module.%s.terraform_data.item[%d]", name, i)),
					Input:           in,
					Output:          in,
					TriggersReplace: dynamicValue{Value: baseGeneration, Type: "string"},
				},
				SensitiveAttributes: []any{},
			})
		}
		st.Resources = append(st.Resources, r)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fakeUUID is a stable UUID-shaped id derived from seed, so generated
// states (and the plans made from them) are the same from run to run.
func fakeUUID(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
