package plan

import (
	"bytes"
	"fmt"
	"io"
)

// notPlanHint says what input Analyze expects.
const notPlanHint = "expected the output of `terraform show -json <planfile>`"

// section is one top-level member of the plan document.
type section struct {
	key string
	val []byte
}

// AnalyzeBytes reads the JSON of a saved plan held in memory. The
// Analysis keeps spans of raw (no copy): raw must not change while the
// Analysis is in use.
func AnalyzeBytes(raw []byte) (*Analysis, error) {
	a := &Analysis{secrets: newSecretSet(), raw: raw}
	if err := a.decode(raw); err != nil {
		return nil, fmt.Errorf("analyze plan JSON: %w", err)
	}
	return a, nil
}

// Analyze reads the JSON of a saved plan (`terraform show -json <planfile>`)
// and counts what it does (see AnalyzeBytes).
func Analyze(r io.Reader) (*Analysis, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("analyze plan JSON: %w", err)
	}
	return AnalyzeBytes(raw)
}

// decode reads the plan in one pass with jsontext: counts and deletions,
// the changes worth rendering (their values as spans of raw), and every
// secret the plan holds, from every section that can hold one.
func (a *Analysis) decode(raw []byte) error {
	r := newJSONReader(raw, lenient...)
	switch r.d.PeekKind() {
	case '{':
	case 0:
		return fmt.Errorf("not JSON (%v); %s", r.fail("a JSON object"), notPlanHint)
	default:
		if err := r.skip(); err != nil {
			return fmt.Errorf("not JSON (%v); %s", err, notPlanHint)
		}
		return fmt.Errorf("not a JSON object; %s", notPlanHint)
	}

	var (
		formatVersion any
		variables     []section // name and value, judged once configuration is read
		config        any
		errored       *bool
		apply         *bool
	)
	err := r.objectOnce(func(name []byte) error {
		key := string(name)
		start := r.offset()
		var err error
		switch key {
		case "format_version":
			if formatVersion, err = r.value(); err == nil {
				a.FormatVersion, _ = formatVersion.(string)
			}
		case "terraform_version":
			a.TerraformVersion, err = r.str()
		case "variables":
			err = r.objectOnce(func(name []byte) error {
				var v section
				v.key = string(name)
				err := r.object(func(field []byte) error {
					if string(field) != "value" {
						return r.skip()
					}
					var err error
					v.val, err = r.raw()
					return err
				})
				variables = append(variables, v)
				return err
			})
		case "relevant_attributes":
			err = r.array(func() error {
				var ra relevantAttr
				err := r.object(func(field []byte) error {
					var err error
					switch string(field) {
					case "resource":
						ra.resource, err = r.str()
					case "attribute":
						var raw []byte
						if raw, err = r.raw(); err == nil {
							v, _ := decodeAny(raw)
							ra.path, _ = v.([]any)
						}
					default:
						err = r.skip()
					}
					return err
				})
				a.relevant = append(a.relevant, ra)
				return err
			})
		case "resource_changes":
			err = r.array(func() error {
				c := &resourceChange{}
				if err := r.resourceChange(c); err != nil {
					return err
				}
				a.addChange(c)
				return nil
			})
		case "resource_drift":
			err = r.array(func() error {
				c := &resourceChange{}
				if err := r.resourceChange(c); err != nil {
					return err
				}
				a.addDrift(c)
				return nil
			})
		case "deferred_changes":
			// Not rendered, but their secrets are secrets all the same.
			err = r.array(func() error {
				return r.objectOnce(func(field []byte) error {
					if string(field) != "resource_change" {
						return r.skip()
					}
					var c resourceChange
					if err := r.resourceChange(&c); err != nil {
						return err
					}
					a.collectChangeSecrets(&c.Change)
					return nil
				})
			})
		case "output_changes":
			err = r.objectOnce(func(name []byte) error {
				var c changeJSON
				if err := r.change(&c); err != nil {
					return err
				}
				a.addOutput(string(name), c)
				return nil
			})
		case "prior_state":
			err = r.objectOnce(func(field []byte) error {
				if string(field) != "values" {
					return r.skip()
				}
				return a.stateValues(r, true, nil)
			})
		case "planned_values":
			err = a.stateValues(r, false, nil)
		case "configuration":
			config, err = r.value()
		case "checks":
			var checks any
			if checks, err = r.value(); err == nil {
				a.checks = checks
			}
		case "errored":
			errored, err = r.optionalBool()
		case "applyable":
			apply, err = r.optionalBool()
		case "complete":
			var c *bool
			if c, err = r.optionalBool(); c != nil {
				a.Complete = *c
			}
		default:
			err = r.skip()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		a.sections = append(a.sections, section{key: key, val: bytes.TrimLeft(raw[start:r.offset()], ": \t\r\n")})
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.end("the plan object; " + notPlanHint); err != nil {
		return err
	}
	if err := checkPlanKeys(formatVersion, a.hasSection); err != nil {
		return err
	}

	// Variables come before configuration in the JSON, so their values are
	// judged only now. A variable without a declaration counts as sensitive.
	a.rootVars = collectConfigSecrets(config, a.secrets)
	a.variables = make(map[string][]byte, len(variables))
	for _, v := range variables {
		a.variables[v.key] = v.val
		if a.variableSensitive(v.key) {
			if val, err := decodeAny(v.val); err == nil {
				a.secrets.addAll(val)
			}
		}
	}
	a.collectCode(config)
	if errored != nil {
		a.Errored, a.erroredKnown = *errored, true
	}
	if apply != nil {
		a.Applyable, a.applyableKnown = *apply, true
	}
	a.Warnings = checkWarnings(a.checks, a.secrets)
	a.checks = nil
	a.sortResults()
	return nil
}

func (a *Analysis) hasSection(key string) bool {
	for _, s := range a.sections {
		if s.key == key {
			return true
		}
	}
	return false
}

// variableSensitive reports whether the root variable name is sensitive,
// or has no declaration in the plan (in doubt, it is).
func (a *Analysis) variableSensitive(name string) bool {
	sensitive, declared := a.rootVars[name]
	return sensitive || !declared
}

// optionalBool reads a bool, or null as nil.
func (r *jsonReader) optionalBool() (*bool, error) {
	if null, err := r.null(); null || err != nil {
		return nil, err
	}
	b, err := r.boolean()
	return &b, err
}

// stateVisitor receives what a state's values hold, for show_stack.
type stateVisitor struct {
	resource func(StateResource)
	output   func(name string, sensitive bool, value []byte)
}

// stateValues reads a state's values (planned_values, prior_state's
// values, a state's) resource by resource: it collects the secrets of
// their values and of the sensitive outputs, for the prior state counts
// the managed objects, and hands visit (if any) each resource and output.
func (a *Analysis) stateValues(r *jsonReader, prior bool, visit *stateVisitor) error {
	return r.objectOnce(func(field []byte) error {
		switch string(field) {
		case "outputs":
			return r.objectOnce(func(name []byte) error {
				var sensitive bool
				var value []byte
				err := r.object(func(f []byte) error {
					var err error
					switch string(f) {
					case "sensitive":
						if r.d.PeekKind() == 't' || r.d.PeekKind() == 'f' {
							sensitive, err = r.boolean()
						} else {
							err = r.skip()
						}
					case "value":
						value, err = r.raw()
					default:
						err = r.skip()
					}
					return err
				})
				if err != nil {
					return err
				}
				if sensitive {
					if val, err := decodeAny(value); err == nil {
						a.secrets.addAll(val)
					}
				}
				if visit != nil {
					visit.output(string(name), sensitive, value)
				}
				return nil
			})
		case "root_module":
			return a.stateModule(r, prior, visit, "", 0)
		}
		return r.skip()
	})
}

func (a *Analysis) stateModule(r *jsonReader, prior bool, visit *stateVisitor, address string, depth int) error {
	if depth > maxModuleDepth {
		return r.skip()
	}
	var resources []StateResource
	err := r.objectOnce(func(field []byte) error {
		switch string(field) {
		case "address":
			var err error
			address, err = r.str()
			return err
		case "resources":
			return r.array(func() error {
				var res StateResource
				var values, marks []byte
				err := r.object(func(f []byte) error {
					var err error
					switch string(f) {
					case "address":
						res.Address, err = r.str()
					case "type":
						res.Type, err = r.str()
					case "mode":
						res.Mode, err = r.str()
					case "values":
						values, err = r.raw()
					case "sensitive_values":
						marks, err = r.raw()
					default:
						err = r.skip()
					}
					return err
				})
				if err != nil {
					return err
				}
				if prior && res.Mode != "data" {
					a.managed++
				}
				a.collectChangeSecrets(&changeJSON{Before: values, BeforeSensitive: marks})
				resources = append(resources, res)
				return nil
			})
		case "child_modules":
			return r.array(func() error { return a.stateModule(r, prior, visit, "", depth+1) })
		}
		return r.skip()
	})
	if visit != nil {
		for _, res := range resources {
			// The module's address may follow its resources.
			res.Module = address
			visit.resource(res)
		}
	}
	return err
}

// resourceChange reads one entry of resource_changes, resource_drift or a
// deferred change's resource_change.
func (r *jsonReader) resourceChange(c *resourceChange) error {
	return r.object(func(field []byte) error {
		var err error
		switch string(field) {
		case "address":
			c.Address, err = r.str()
		case "previous_address":
			c.PreviousAddress, err = r.str()
		case "module_address":
			c.ModuleAddress, err = r.str()
		case "mode":
			c.Mode, err = r.str()
		case "provider_name":
			c.ProviderName, err = r.str()
		case "type":
			c.Type, err = r.str()
		case "name":
			c.Name, err = r.str()
		case "index":
			c.Index, err = r.raw()
		case "deposed":
			c.Deposed, err = r.str()
		case "action_reason":
			c.ActionReason, err = r.str()
		case "change":
			err = r.change(&c.Change)
		default:
			err = r.skip()
		}
		return err
	})
}

// change reads a change object (of a resource or an output).
func (r *jsonReader) change(c *changeJSON) error {
	return r.object(func(field []byte) error {
		var err error
		switch string(field) {
		case "actions":
			c.Actions, err = r.strs()
		case "before":
			c.Before, err = r.raw()
		case "after":
			c.After, err = r.raw()
		case "after_unknown":
			c.AfterUnknown, err = r.raw()
		case "before_sensitive":
			c.BeforeSensitive, err = r.raw()
		case "after_sensitive":
			c.AfterSensitive, err = r.raw()
		case "replace_paths":
			c.ReplacePaths, err = r.raw()
		case "importing":
			if null, nerr := r.null(); null || nerr != nil {
				c.Importing = nil
				return nerr
			}
			c.Importing = &importing{}
			err = r.object(func(f []byte) error {
				if string(f) == "id" {
					var err error
					c.Importing.ID, err = r.str()
					return err
				}
				return r.skip()
			})
		case "generated_config":
			c.GeneratedConfig, err = r.str()
		default:
			err = r.skip()
		}
		return err
	})
}
