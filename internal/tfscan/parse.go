package tfscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// maxFileSize bounds one configuration file: Terraform files are small,
// and a file named main.tf may be a link to a device that never ends.
const maxFileSize = 8 << 20

// module is what one module directory says about providers and code, its
// files taken together.
type module struct {
	// requirements holds, per local name, the required_providers entries
	// of every file (an override file's entries next to the ones they
	// replace: both are reported).
	requirements map[string][]requirement
	// uses are the local provider names the module's blocks refer to.
	uses []use
	// reads are the data sources and ephemeral resources: they run in
	// their provider at plan time.
	reads []read
	calls []call
}

// requirement is one required_providers entry; source is the normalized
// address, or "" for an entry that sets only a version.
type requirement struct {
	source string
	rng    hcl.Range
}

type use struct {
	local string
	rng   hcl.Range
}

type read struct {
	address string // "data.external.ip", "ephemeral.x_y.z"
	typ     string
	local   string // local name of its provider
	rng     hcl.Range
}

// call is a module block; with override files, the last source wins, as
// in Terraform.
type call struct {
	name    string
	source  string
	version string
	rng     hcl.Range
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "terraform"},
	{Type: "provider", LabelNames: []string{"name"}},
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "data", LabelNames: []string{"type", "name"}},
	{Type: "ephemeral", LabelNames: []string{"type", "name"}},
	{Type: "module", LabelNames: []string{"name"}},
	{Type: "import"},
	{Type: "check", LabelNames: []string{"name"}},
}}

var (
	terraformSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "required_providers"}}}
	providerAttr    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "provider"}}}
	checkSchema     = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "data", LabelNames: []string{"type", "name"}}}}
	moduleSchema    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "source"}, {Name: "version"}}}
)

// configFiles lists a module directory's configuration files in the order
// Terraform reads them: primary files, then override files, each by name.
// Hidden and editor backup files are skipped, as Terraform skips them.
func configFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var primary, override []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || ignoredFile(name) {
			continue
		}
		base, ok := strings.CutSuffix(name, ".tf")
		if !ok {
			if base, ok = strings.CutSuffix(name, ".tf.json"); !ok {
				continue
			}
		}
		if base == "override" || strings.HasSuffix(base, "_override") {
			override = append(override, name)
		} else {
			primary = append(primary, name)
		}
	}
	return append(primary, override...), nil
}

func ignoredFile(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")
}

// readFile reads a regular file of at most maxFileSize bytes. It refuses
// anything else (a FIFO would block the open, a device never ends).
func readFile(path string) ([]byte, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(before, after) || !after.Mode().IsRegular() {
		return nil, fmt.Errorf("%s changed while it was read", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileSize)
	}
	return b, nil
}

// moduleParser reads module directories. display turns a path into the
// name diagnostics and positions show (relative to the scanned stack).
type moduleParser struct {
	parser  *hclparse.Parser
	display func(path string) string
}

// parseModule reads every configuration file of dir. Errors are returned
// as diagnostics: Terraform refuses such a configuration, and so does the
// scan, since it cannot say what the configuration would run.
func (p *moduleParser) parseModule(dir string) (*module, hcl.Diagnostics, error) {
	names, err := configFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	m := &module{requirements: map[string][]requirement{}}
	calls := map[string]int{} // name → index in m.calls
	var diags hcl.Diagnostics
	for _, name := range names {
		path := filepath.Join(dir, name)
		src, err := readFile(path)
		if err != nil {
			return nil, nil, err
		}
		var file *hcl.File
		var d hcl.Diagnostics
		filename := p.display(path)
		if strings.HasSuffix(name, ".json") {
			file, d = p.parser.ParseJSON(src, filename)
		} else {
			file, d = p.parser.ParseHCL(src, filename)
		}
		diags = append(diags, d...)
		if d.HasErrors() || file == nil {
			continue
		}
		f := fileReader{src: src, mod: m, calls: calls}
		diags = append(diags, f.read(file.Body)...)
	}
	return m, diags, nil
}

// fileReader reads one file's blocks into mod.
type fileReader struct {
	src   []byte
	mod   *module
	calls map[string]int
}

func (f *fileReader) read(body hcl.Body) hcl.Diagnostics {
	content, _, diags := body.PartialContent(fileSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "terraform":
			diags = append(diags, f.terraformBlock(b)...)
		case "provider":
			local, d := localName(b.Labels[0], b.LabelRanges[0])
			diags = append(diags, d...)
			f.mod.uses = append(f.mod.uses, use{local: local, rng: b.DefRange})
		case "resource":
			diags = append(diags, checkIdentifiers(b)...)
			_, d := f.providerOf(b, true)
			diags = append(diags, d...)
		case "data", "ephemeral":
			diags = append(diags, f.readBlock(b)...)
		case "import":
			_, d := f.providerOf(b, false)
			diags = append(diags, d...)
		case "check":
			c, _, d := b.Body.PartialContent(checkSchema)
			diags = append(diags, d...)
			for _, inner := range c.Blocks {
				diags = append(diags, f.readBlock(inner)...)
			}
		case "module":
			diags = append(diags, checkIdentifiers(b)...)
			diags = append(diags, f.moduleBlock(b)...)
		}
	}
	return diags
}

func (f *fileReader) readBlock(b *hcl.Block) hcl.Diagnostics {
	diags := checkIdentifiers(b)
	local, d := f.providerOf(b, true)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return diags
	}
	addr := b.Type + "." + b.Labels[0] + "." + b.Labels[1]
	if b.Type == "data" {
		addr = "data." + b.Labels[0] + "." + b.Labels[1]
	}
	f.mod.reads = append(f.mod.reads, read{address: addr, typ: b.Labels[0], local: local, rng: b.DefRange})
	return diags
}

// providerOf records the provider a block uses: its provider argument's
// local name, else (for blocks with a type label, when implied is true)
// the type's prefix before the first underscore.
func (f *fileReader) providerOf(b *hcl.Block, implied bool) (string, hcl.Diagnostics) {
	content, _, diags := b.Body.PartialContent(providerAttr)
	local := ""
	rng := b.DefRange
	if attr, ok := content.Attributes["provider"]; ok {
		var d hcl.Diagnostics
		local, d = f.providerRef(attr.Expr)
		diags = append(diags, d...)
		rng = attr.Range
	} else if implied && len(b.Labels) > 0 {
		local, _, _ = strings.Cut(b.Labels[0], "_")
	}
	if local == "" {
		return "", diags
	}
	local, d := localName(local, rng)
	diags = append(diags, d...)
	f.mod.uses = append(f.mod.uses, use{local: local, rng: rng})
	return local, diags
}

// localName checks a provider local name. Terraform requires one to be
// letters, digits and dashes; it lowercases the prefix of a type label
// (and refuses other names that are not lowercase). Non-ASCII names, which
// Terraform maps through IDNA, are refused rather than guessed.
func localName(name string, rng hcl.Range) (string, hcl.Diagnostics) {
	lower := strings.ToLower(name)
	if !validProviderPart(lower) {
		return lower, hcl.Diagnostics{invalid(rng, "Invalid provider local name",
			fmt.Sprintf("%q is not a valid provider local name: it must contain only ASCII letters, digits and dashes, not starting or ending with a dash.", name))}
	}
	return lower, nil
}

// providerRef reads a provider meta-argument: a reference (aws.west) or,
// as Terraform 0.11 wrote it and Terraform still accepts, a string of one.
func (f *fileReader) providerRef(expr hcl.Expression) (string, hcl.Diagnostics) {
	trav, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		s, ok := f.literalString(expr)
		if ok {
			trav, diags = hclsyntax.ParseTraversalAbs([]byte(s), expr.Range().Filename, expr.Range().Start)
		}
	}
	ok := !diags.HasErrors() && len(trav) > 0 && len(trav) <= 2
	if ok && len(trav) == 2 {
		_, ok = trav[1].(hcl.TraverseAttr)
	}
	if !ok || !hclsyntax.ValidIdentifier(trav.RootName()) {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid provider reference",
			Detail:   "The provider argument must be a provider name, optionally followed by an alias, like aws.west.",
			Subject:  expr.Range().Ptr(),
		}}
	}
	return trav.RootName(), nil
}

func (f *fileReader) terraformBlock(b *hcl.Block) hcl.Diagnostics {
	content, _, diags := b.Body.PartialContent(terraformSchema)
	for _, rp := range content.Blocks {
		attrs, d := rp.Body.JustAttributes()
		diags = append(diags, d...)
		for name, attr := range attrs {
			name, d := localName(name, attr.NameRange)
			if d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			source, d := f.requirementSource(attr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				f.mod.requirements[name] = append(f.mod.requirements[name], requirement{source: source, rng: attr.Range})
			}
		}
	}
	return diags
}

// requirementSource reads a required_providers entry: a version string
// (Terraform 0.12's form, the source implied by the name) or an object
// whose source, when set, is a provider address.
func (f *fileReader) requirementSource(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	if _, ok := f.literalString(attr.Expr); ok {
		return "", nil
	}
	kvs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return "", hcl.Diagnostics{invalid(attr.Expr.Range(), "Invalid required_providers entry",
			"A required_providers entry must be a version string or an object with a literal source.")}
	}
	source := ""
	for _, kv := range kvs {
		key, ok := f.literalString(kv.Key)
		if !ok {
			return "", hcl.Diagnostics{invalid(kv.Key.Range(), "Invalid required_providers entry",
				"The keys of a required_providers entry must be literal names (source, version, configuration_aliases).")}
		}
		if key != "source" {
			continue
		}
		s, ok := f.literalString(kv.Value)
		if !ok {
			return "", hcl.Diagnostics{invalid(kv.Value.Range(), "Invalid provider source",
				"A provider source must be a literal string, like \"hashicorp/aws\".")}
		}
		addr, err := parseProviderSource(s)
		if err != nil {
			return "", hcl.Diagnostics{invalid(kv.Value.Range(), "Invalid provider source", err.Error())}
		}
		source = addr
	}
	return source, nil
}

func (f *fileReader) moduleBlock(b *hcl.Block) hcl.Diagnostics {
	content, _, diags := b.Body.PartialContent(moduleSchema)
	c := call{name: b.Labels[0], rng: b.DefRange}
	i, seen := f.calls[c.name]
	if seen {
		c = f.mod.calls[i] // an override: it replaces what it sets
	}
	for _, name := range []string{"source", "version"} {
		attr, ok := content.Attributes[name]
		if !ok {
			continue
		}
		s, ok := f.literalString(attr.Expr)
		if !ok {
			diags = append(diags, invalid(attr.Expr.Range(), "Invalid module "+name,
				"A module's "+name+" must be a literal string: the scan, like Terraform 1.11, does not evaluate it."))
			continue
		}
		if name == "source" {
			c.source = s
		} else {
			c.version = s
		}
	}
	if seen {
		f.mod.calls[i] = c
	} else {
		f.calls[c.name] = len(f.mod.calls)
		f.mod.calls = append(f.mod.calls, c)
	}
	return diags
}

// literalString returns the value of a string written literally. Nothing
// else is evaluated: a template or a for expression over literals could
// take unbounded time, and a scan must end.
func (f *fileReader) literalString(expr hcl.Expression) (string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		if !e.IsStringLiteral() {
			return "", false
		}
	case *hclsyntax.LiteralValueExpr:
	case *hclsyntax.ObjectConsKeyExpr:
		if kw := hcl.ExprAsKeyword(e); kw != "" {
			return kw, true
		}
		return f.literalString(e.Wrapped)
	case hclsyntax.Expression:
		return "", false
	default:
		// JSON: a string is a template, evaluated by HCL, unless it has no
		// interpolation once its escapes (\u0024 is "$") are decoded.
		raw := bytes.TrimSpace(expr.Range().SliceBytes(f.src))
		var s string
		if !bytes.HasPrefix(raw, []byte(`"`)) || json.Unmarshal(raw, &s) != nil ||
			strings.Contains(s, "${") || strings.Contains(s, "%{") {
			return "", false
		}
		return s, true
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// checkIdentifiers refuses block labels that are not identifiers, as
// Terraform does: a type label names a provider by its prefix.
func checkIdentifiers(b *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, l := range b.Labels {
		if !hclsyntax.ValidIdentifier(l) {
			diags = append(diags, invalid(b.LabelRanges[i], "Invalid "+b.Type+" label",
				fmt.Sprintf("%q is not a valid name: a name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.", l)))
		}
	}
	return diags
}

func invalid(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
