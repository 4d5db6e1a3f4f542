package plan

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/plangate/plangate/internal/tfbin"
)

// RenderOption changes how RenderDiff writes.
type RenderOption func(*renderer)

// WithColour colours the diff for a terminal, as Terraform does: the action
// symbols green, yellow or red, each resource's address bold, "# forces
// replacement" red, "Plan:" bold.
func WithColour() RenderOption { return func(r *renderer) { r.colour = true } }

// ForProduct names the program that made the plan (Terraform or OpenTofu)
// in the diff's sentences, as that program's own `show` does.
//
// OpenTofu (1.10) still aligns every list by longest common subsequence,
// as Terraform before 1.8 did.
func ForProduct(p tfbin.Product) RenderOption {
	return func(r *renderer) {
		r.product = p
		if p == tfbin.OpenTofu {
			r.lcsOnly = true
			r.rules = schemaRules{blockStrings: true, tofuUnknownBlocks: true}
		}
	}
}

// WithSchemas renders the resource types s has a schema for as Terraform
// does with its provider schemas (nil: none).
func WithSchemas(s *Schemas) RenderOption { return func(r *renderer) { r.schemas = s } }

// SchemasFrom has Digest ask load for `providers schema -json` output when
// the plan has resources of a provider's (the built-in one needs none),
// keep the schemas of the plan's resource types in the plan's directory
// (SchemaFile) and render with them. Where load fails the diff is rendered
// without, and Analysis.SchemaProblem says why.
func SchemasFrom(load func() ([]byte, error)) RenderOption {
	return func(r *renderer) { r.loadSchemas = load }
}

type renderer struct {
	loadSchemas func() ([]byte, error)
	// schemas are the provider schemas known (nil: none; see schema.go).
	schemas *Schemas
	// rel is the relevance of the drifted resource being diffed.
	rel relevance
	// rules: the version's rules of rendering with a schema.
	rules   schemaRules
	w       *bufio.Writer
	err     error
	secrets *secretSet
	colour  bool
	// lcsOnly: see differ (set for a plan of Terraform before 1.8).
	lcsOnly bool
	product tfbin.Product
	// slab is where the differ takes its vdiffs from, kept across changes.
	slab []vdiff
	// values decodes one change's values at a time; its maps are taken
	// back (done) once the change is written.
	values *jsonReader
}

func (r *renderer) print(s string) {
	if r.err == nil {
		_, r.err = r.w.WriteString(s)
	}
}

// headerf prints a resource's comment line, its first argument (the
// address) in bold when colouring.
func (r *renderer) headerf(format string, args ...any) {
	i := strings.Index(format, "%s")
	if !r.colour || i < 0 || len(args) == 0 {
		r.printf(format, args...)
		return
	}
	r.print(paint(true, format[:i]+fmt.Sprint(args[0]), ansiBold))
	r.printf(format[i+2:], args[1:]...)
}

// sym is Terraform's action symbol, coloured as Terraform colours it.
func (r *renderer) sym(act action) string {
	if !r.colour {
		return act.symbol()
	}
	switch act {
	case aDeleteThenCreate:
		return paint(true, "-", ansiRed) + "/" + paint(true, "+", ansiGreen)
	case aCreateThenDelete:
		return paint(true, "+", ansiGreen) + "/" + paint(true, "-", ansiRed)
	case aCreate:
		return "  " + paint(true, "+", ansiGreen)
	case aDelete:
		return "  " + paint(true, "-", ansiRed)
	case aForget:
		return " " + paint(true, ".", ansiRed)
	case aCreateThenForget:
		return " " + paint(true, "+", ansiGreen) + "/" + paint(true, ".", ansiRed)
	case aRead:
		return " " + paint(true, "<=", ansiCyan)
	case aUpdate:
		return "  " + paint(true, "~", ansiYellow)
	}
	return act.symbol()
}

func (r *renderer) printf(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, format, args...)
	}
}

func indentation(n int) string {
	if n < len(indents) {
		return indents[n]
	}
	return strings.Repeat("    ", n)
}

// indents are the first levels of indentation, made once.
var indents = func() []string {
	out := make([]string, 16)
	for i := range out {
		out[i] = strings.Repeat("    ", i)
	}
	return out
}()

// done ends one change: the maps of its decoded values are reused for the
// next (nothing of the change is kept past its printing).
func (r *renderer) done() {
	if r.values != nil {
		r.values.pool.recycle()
	}
}
