package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/plangate/plangate/internal/atomicfile"
)

// Provider schemas: what Terraform's own renderer knows and plan JSON does
// not carry. With a resource type's schema plangate renders its change as
// Terraform does: a map's keys quoted, nested blocks as blocks, sets as
// sets, a legacy provider's "" as null. Without one (no schema could be
// had, or a plan made before plangate kept them) it renders every value
// as JSON, which says the same with other punctuation.
//
// A schema only shapes the text. It is never trusted with what the text
// says: a value the schema does not describe (an attribute it lacks, a
// type that does not fit the value) is rendered without it, every changed
// value is shown whatever the schema says, and the counts and the
// deletions never come from it.

// SchemaFile is the file in a plan's directory holding the provider
// schemas of the resource types the plan touches, trimmed from
// `terraform providers schema -json` (the same format), so that the diff
// renders the same when it is rendered again for review.
const SchemaFile = "schema.json"

// Schemas are provider schemas, in the format of `terraform providers
// schema -json`, reduced to what rendering needs.
type Schemas struct {
	FormatVersion string                     `json:"format_version"`
	Providers     map[string]*ProviderSchema `json:"provider_schemas"`
}

// ProviderSchema is one provider's resource and data source schemas.
type ProviderSchema struct {
	Resources   map[string]*resourceSchema `json:"resource_schemas,omitempty"`
	DataSources map[string]*resourceSchema `json:"data_source_schemas,omitempty"`
}

type resourceSchema struct {
	Version int          `json:"version"`
	Block   *schemaBlock `json:"block"`
}

type schemaBlock struct {
	Attributes map[string]*schemaAttribute `json:"attributes,omitempty"`
	BlockTypes map[string]*schemaBlockType `json:"block_types,omitempty"`
	// names: the attribute names, then the block type names, each sorted
	// (set by prepare).
	attrNames, blockNames []string
	nonLegacy             bool
}

type schemaAttribute struct {
	Type       json.RawMessage   `json:"type,omitempty"`
	NestedType *schemaNestedType `json:"nested_type,omitempty"`
	WriteOnly  bool              `json:"write_only,omitempty"`
	Sensitive  bool              `json:"sensitive,omitempty"`
	ty         *ctyType
}

type schemaNestedType struct {
	Attributes  map[string]*schemaAttribute `json:"attributes"`
	NestingMode string                      `json:"nesting_mode"`
	names       []string
}

type schemaBlockType struct {
	NestingMode string       `json:"nesting_mode"`
	Block       *schemaBlock `json:"block"`
	MinItems    int          `json:"min_items,omitempty"`
	MaxItems    int          `json:"max_items,omitempty"`
}

// SchemaWant names the resource types whose schemas a plan needs:
// provider source address → "resource.TYPE" or "data.TYPE".
type SchemaWant map[string]map[string]bool

// SchemaWant is the resource types of the plan's changes and drift that
// come from a provider (Terraform's built-in one is known without asking).
func (a *Analysis) SchemaWant() SchemaWant {
	want := SchemaWant{}
	for _, group := range [][]*resourceChange{a.changes, a.drift} {
		for _, c := range group {
			if c.ProviderName == "" || c.ProviderName == builtinProvider {
				continue
			}
			if want[c.ProviderName] == nil {
				want[c.ProviderName] = map[string]bool{}
			}
			want[c.ProviderName][c.modeKey()] = true
		}
	}
	return want
}

const builtinProvider = "terraform.io/builtin/terraform"

func (c *resourceChange) modeKey() string {
	if c.isData() {
		return "data." + c.Type
	}
	return "resource." + c.Type
}

// maxSchemaDepth bounds how deep blocks, nested attributes and types may
// nest in a schema plangate reads (Terraform's deepest are a dozen).
const maxSchemaDepth = 32

// ReadSchemas reads `terraform providers schema -json` output and keeps
// the schemas want names (all of them when want is nil). It refuses a
// document that is not one, or whose kept schemas do not parse.
func ReadSchemas(raw []byte, want SchemaWant) (*Schemas, error) {
	out := &Schemas{Providers: map[string]*ProviderSchema{}}
	r := newJSONReader(raw, lenient...)
	err := r.object(func(field []byte) error {
		switch string(field) {
		case "format_version":
			v, err := r.str()
			out.FormatVersion = v
			return err
		case "provider_schemas":
			return r.object(func(name []byte) error {
				provider := string(name)
				types := want[provider]
				if want != nil && types == nil {
					return r.skip()
				}
				ps := &ProviderSchema{}
				err := r.object(func(field []byte) error {
					var mode string
					var dst *map[string]*resourceSchema
					switch string(field) {
					case "resource_schemas":
						mode, dst = "resource.", &ps.Resources
					case "data_source_schemas":
						mode, dst = "data.", &ps.DataSources
					default:
						return r.skip()
					}
					return r.object(func(name []byte) error {
						typ := string(name)
						if want != nil && !types[mode+typ] {
							return r.skip()
						}
						span, err := r.raw()
						if err != nil {
							return err
						}
						var rs resourceSchema
						if err := json.Unmarshal(span, &rs); err != nil {
							return fmt.Errorf("schema of %s %s: %w", provider, typ, err)
						}
						if rs.Block == nil {
							return fmt.Errorf("schema of %s %s has no block", provider, typ)
						}
						if *dst == nil {
							*dst = map[string]*resourceSchema{}
						}
						(*dst)[typ] = &rs
						return nil
					})
				})
				if err != nil {
					return err
				}
				if len(ps.Resources)+len(ps.DataSources) > 0 {
					out.Providers[provider] = ps
				}
				return nil
			})
		}
		return r.skip()
	})
	if err == nil {
		err = r.end("provider schemas")
	}
	if err != nil {
		return nil, fmt.Errorf("reading provider schemas: %w", err)
	}
	if out.FormatVersion == "" {
		return nil, errors.New("reading provider schemas: no format_version: this is not `providers schema -json` output")
	}
	if err := out.prepare(); err != nil {
		return nil, fmt.Errorf("reading provider schemas: %w", err)
	}
	return out, nil
}

// prepare parses every type and orders every name, once.
func (s *Schemas) prepare() error {
	for p, ps := range s.Providers {
		for _, m := range []map[string]*resourceSchema{ps.Resources, ps.DataSources} {
			for typ, rs := range m {
				if err := rs.Block.prepare(0); err != nil {
					return fmt.Errorf("schema of %s %s: %w", p, typ, err)
				}
			}
		}
	}
	return nil
}

func (b *schemaBlock) prepare(depth int) error {
	if depth > maxSchemaDepth {
		return errors.New("blocks nest too deep")
	}
	b.attrNames, b.blockNames = nil, nil
	for name, a := range b.Attributes {
		if a == nil {
			return fmt.Errorf("attribute %s: no schema", name)
		}
		if err := a.prepare(depth + 1); err != nil {
			return fmt.Errorf("attribute %s: %w", name, err)
		}
		b.attrNames = append(b.attrNames, name)
	}
	for name, bt := range b.BlockTypes {
		if bt == nil || bt.Block == nil {
			return fmt.Errorf("block %s: no schema", name)
		}
		switch bt.NestingMode {
		case "single", "group", "list", "set", "map":
		default:
			return fmt.Errorf("block %s: unknown nesting mode %q", name, bt.NestingMode)
		}
		if err := bt.Block.prepare(depth + 1); err != nil {
			return fmt.Errorf("block %s: %w", name, err)
		}
		b.blockNames = append(b.blockNames, name)
	}
	sort.Strings(b.attrNames)
	sort.Strings(b.blockNames)
	b.nonLegacy = b.containsNonLegacyFeatures()
	return nil
}

func (a *schemaAttribute) prepare(depth int) error {
	if a.NestedType != nil {
		n := a.NestedType
		switch n.NestingMode {
		case "single", "group", "list", "set", "map":
		default:
			return fmt.Errorf("unknown nesting mode %q", n.NestingMode)
		}
		if depth > maxSchemaDepth {
			return errors.New("attributes nest too deep")
		}
		n.names = nil
		for name, c := range n.Attributes {
			if c == nil {
				return fmt.Errorf("attribute %s: no schema", name)
			}
			if err := c.prepare(depth + 1); err != nil {
				return fmt.Errorf("attribute %s: %w", name, err)
			}
			n.names = append(n.names, name)
		}
		sort.Strings(n.names)
		return nil
	}
	ty, err := parseCtyType(a.Type, depth)
	if err != nil {
		return err
	}
	a.ty = ty
	return nil
}

// containsNonLegacyFeatures is Terraform's test for a schema the legacy
// SDK could not have made: only a legacy schema's "" is taken for null.
func (b *schemaBlock) containsNonLegacyFeatures() bool {
	for _, bt := range b.BlockTypes {
		if bt.NestingMode == "map" || bt.NestingMode == "group" {
			return true
		}
	}
	for _, a := range b.Attributes {
		if a.NestedType != nil {
			return true
		}
		switch t := a.ty; {
		case t.hasDynamic():
			return true
		case t.kind == tyTuple || t.kind == tyObject:
			return true
		case t.kind == tyList || t.kind == tySet || t.kind == tyMap:
			if e := t.elem; (e.kind == tyList || e.kind == tySet || e.kind == tyMap) && !e.elem.primitive() {
				return true
			}
		}
	}
	return false
}

// lookup returns the schema of a change's resource type, or nil.
func (s *Schemas) lookup(c *resourceChange) *schemaBlock {
	if s == nil {
		return nil
	}
	ps := s.Providers[c.ProviderName]
	if ps == nil {
		return nil
	}
	m := ps.Resources
	if c.isData() {
		m = ps.DataSources
	}
	if rs := m[c.Type]; rs != nil {
		return rs.Block
	}
	return nil
}

// Write writes the schemas to path (SchemaFile in a plan's directory).
func (s *Schemas) Write(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

// LoadSchemas reads the schemas kept in a plan's directory; nil (and no
// error) when the plan has none.
func LoadSchemas(dir string) (*Schemas, error) {
	raw, err := os.ReadFile(filepath.Join(dir, SchemaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ReadSchemas(raw, nil)
}
