package tools

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// outputSchema is a tool's output schema, lean: the JSON type of each
// top-level field of T, and as required the fields T always writes (no
// omitempty). No
// descriptions (the tool's description and the docs say what a field
// means, once) and no nested shapes: MCP clients use an output schema to
// check that structured content is an object with these fields, and the
// model reads the result itself, not the schema. Every field of T is still
// sent; the schema does not forbid more. Derived from T by a few lines of
// reflection, not a JSON Schema generator: start-up to the tools/list
// answer pays for it (issue 14).
func outputSchema[T any]() mcp.ToolOption {
	return mcp.WithRawOutputSchema(leanSchema(reflect.TypeFor[T](), nil, nil))
}

// outputSchemaOf is outputSchema of the fields required and optional
// name only (of a large type), requiring those of required alone.
func outputSchemaOf[T any](required, optional []string) mcp.ToolOption {
	keep := append(append([]string{}, required...), optional...)
	return mcp.WithRawOutputSchema(leanSchema(reflect.TypeFor[T](), keep, required))
}

func leanSchema(t reflect.Type, keep, requireOnly []string) json.RawMessage {
	key := schemaKey{t, strings.Join(keep, ","), strings.Join(requireOnly, ",")}
	if b, ok := schemas.Load(key); ok {
		return b.(json.RawMessage)
	}
	b := deriveSchema(t, keep, requireOnly)
	schemas.Store(key, b)
	return b
}

// schemas holds every derived schema, by type and field lists: a
// process derives each once (Prepare, then every server.New and every
// session of plangate server), and none is changed once made.
var schemas sync.Map

type schemaKey struct {
	t              reflect.Type
	keep, required string
}

// Prepare derives every tool's output schema, so that the next All is
// quick: plangate serve runs it beside opening its config and state.
// Building tools runs none of their handlers, so empty Deps serve.
func Prepare() { _ = All(&Deps{}) }

func deriveSchema(t reflect.Type, keep, requireOnly []string) json.RawMessage {
	props := map[string]any{}
	var required []string
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				visit(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if len(keep) > 0 && !slices.Contains(keep, name) {
				continue
			}
			omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			prop := map[string]any{} // any value
			if typ := jsonType(f.Type); typ != "" {
				prop["type"] = typ
				if !omit && nilable(f.Type) {
					prop["type"] = []string{typ, "null"}
				}
			}
			props[name] = prop
			if !omit && (requireOnly == nil || slices.Contains(requireOnly, name)) {
				required = append(required, name)
			}
		}
	}
	visit(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // maps of strings: cannot fail
	}
	return b
}

var timeType = reflect.TypeFor[time.Time]()

// jsonType is the JSON Schema type encoding/json writes for t; "" for
// an interface, which may be any.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map:
		return "object"
	case reflect.Struct:
		if t == timeType {
			return "string"
		}
		return "object"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return ""
}

// nilable reports whether encoding/json may write null for a value of t.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}
