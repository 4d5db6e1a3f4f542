package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// ctyType is an attribute's type as provider schemas write it (cty's JSON
// type notation): "string", "number", "bool", "dynamic", ["list", T],
// ["set", T], ["map", T], ["object", {name: T}] (with an optional third
// element naming optional attributes), ["tuple", [T, ...]].
type ctyType struct {
	kind  tyKind
	elem  *ctyType            // list, set, map
	attrs map[string]*ctyType // object
	names []string            // object: attrs' names, sorted
	elems []*ctyType          // tuple
}

type tyKind uint8

const (
	tyString tyKind = iota
	tyNumber
	tyBool
	tyDynamic
	tyList
	tySet
	tyMap
	tyObject
	tyTuple
)

func (t *ctyType) primitive() bool {
	return t.kind == tyString || t.kind == tyNumber || t.kind == tyBool
}

func (t *ctyType) hasDynamic() bool {
	switch t.kind {
	case tyDynamic:
		return true
	case tyList, tySet, tyMap:
		return t.elem.hasDynamic()
	case tyObject:
		for _, a := range t.attrs {
			if a.hasDynamic() {
				return true
			}
		}
	case tyTuple:
		for _, e := range t.elems {
			if e.hasDynamic() {
				return true
			}
		}
	}
	return false
}

var primitiveTypes = map[string]*ctyType{
	"string":  {kind: tyString},
	"number":  {kind: tyNumber},
	"bool":    {kind: tyBool},
	"dynamic": {kind: tyDynamic},
}

// parseCtyType reads a type in cty's JSON notation.
func parseCtyType(raw json.RawMessage, depth int) (*ctyType, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("type nests too deep")
	}
	if len(raw) == 0 {
		return nil, errors.New("no type")
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if t := primitiveTypes[name]; t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("unknown type %q", name)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 2 {
		return nil, fmt.Errorf("type %.40s is neither a name nor [kind, ...]", raw)
	}
	if err := json.Unmarshal(parts[0], &name); err != nil {
		return nil, fmt.Errorf("type %.40s: its kind is not a string", raw)
	}
	switch name {
	case "list", "set", "map":
		if len(parts) != 2 {
			return nil, fmt.Errorf("%s type takes one element type", name)
		}
		e, err := parseCtyType(parts[1], depth+1)
		if err != nil {
			return nil, err
		}
		k := map[string]tyKind{"list": tyList, "set": tySet, "map": tyMap}[name]
		return &ctyType{kind: k, elem: e}, nil
	case "object":
		if len(parts) > 3 {
			return nil, errors.New("object type takes attributes and optional names")
		}
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(parts[1], &attrs); err != nil {
			return nil, fmt.Errorf("object type: %w", err)
		}
		t := &ctyType{kind: tyObject, attrs: make(map[string]*ctyType, len(attrs))}
		for n, a := range attrs {
			at, err := parseCtyType(a, depth+1)
			if err != nil {
				return nil, fmt.Errorf("object attribute %s: %w", n, err)
			}
			t.attrs[n] = at
			t.names = append(t.names, n)
		}
		sort.Strings(t.names)
		return t, nil
	case "tuple":
		if len(parts) != 2 {
			return nil, errors.New("tuple type takes a list of element types")
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(parts[1], &elems); err != nil {
			return nil, fmt.Errorf("tuple type: %w", err)
		}
		t := &ctyType{kind: tyTuple}
		for _, e := range elems {
			et, err := parseCtyType(e, depth+1)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, et)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown type kind %q", name)
}
