// Package tfscan reads a stack's Terraform configuration, without running
// anything, to say which providers it needs and which of its data sources
// run a program at plan time, so that plangate can refuse a configuration
// by policy before it runs terraform init or plan.
//
// What is scanned, in the files Terraform 1.11 reads (*.tf, *.tf.json and
// their _override variants; hidden and editor backup files skipped):
//
//   - the root module in the stack directory;
//   - every module it calls with a local source ("./", "../"), relative to
//     the calling module, recursively;
//   - the modules terraform init downloaded, as listed in
//     DATADIR/modules/modules.json, and the local calls inside them;
//   - the modules named by run blocks in the root module's test files
//     (*.tftest.hcl, *.tftest.json in the stack dir and its tests/ dir):
//     terraform init installs their providers too.
//
// Providers come from required_providers (both the object and Terraform
// 0.12's version-only form), provider blocks, and the blocks that use one
// (resource, data, ephemeral, data inside check, import), by their
// provider argument or their type's prefix. External data sources are the
// data "external" blocks and every data source or ephemeral resource of a
// provider whose type is external.
//
// What is not: the scan evaluates no expression (sources and
// required_providers entries must be literal strings, as Terraform 1.11
// requires), contacts no registry, and reads only the stack directory, the
// data directory and the local module directories the configuration
// names (with the files they link to). Remote modules not yet downloaded
// are listed, not scanned. Provisioners, backends and the code inside
// providers are not its business: the plan shows the first, policy on
// provider sources governs the last.
//
// Where Terraform's semantics are more involved than a static reading, the
// scan reports more, never less: an override file's provider sources are
// reported next to those they replace. What it cannot read with certainty
// is a *ConfigError.
//
// A caller scans twice: Scan(dir, "") before terraform init (remote
// modules are then in RemoteModules), and Scan(dir, dataDir) after it and
// before plan, when modules.json describes exactly what plan will load.
package tfscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Limits that keep a scan finite whatever the configuration: Terraform
// configurations nest a few modules deep, not hundreds.
const (
	maxDepth   = 32
	maxModules = 1000
)

// Report is what a configuration needs and runs at plan time.
type Report struct {
	// Providers are every provider the configuration needs, one entry per
	// source, sorted by source.
	Providers []Provider `json:"providers"`
	// External are the data sources that run a program at plan time,
	// sorted by address. Addresses beginning with "test." are in modules
	// run blocks call: terraform test reads them, plan does not.
	External []Use `json:"external"`
	// RemoteModules are module calls whose source is downloaded by
	// terraform init and is not (yet) in the data directory: not scanned,
	// so the report says nothing of what they need. Sorted by address.
	RemoteModules []Module `json:"remote_modules"`
}

// Provider is a provider the configuration needs.
type Provider struct {
	// Source is the normalized address: "registry.terraform.io/hashicorp/aws",
	// or BuiltinTerraform.
	Source string `json:"source"`
	// Where lists the required_providers entries, provider blocks and
	// uses that name it.
	Where []Pos `json:"where"`
}

// Use is a block of the configuration, by its address.
type Use struct {
	Address string `json:"address"` // module.net.data.external.ip
	Pos     Pos    `json:"pos"`
}

// Module is a module call.
type Module struct {
	Address string `json:"address"` // module.net.module.vpc
	Source  string `json:"source"`
	Version string `json:"version,omitempty"`
	Pos     Pos    `json:"pos"`
}

// Pos is a line of a configuration file; File is relative to the scanned
// stack directory, with forward slashes.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p Pos) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// ConfigError is a configuration the scan refuses: one Terraform would
// reject, or one the scan cannot read with certainty.
type ConfigError struct {
	Diagnostics hcl.Diagnostics
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d: ", d.Subject.Filename, d.Subject.Start.Line)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}

// Scan reads the root module in dir and every module it calls whose source
// is local, recursively, and — when dataDir/modules/modules.json exists
// (dataDir is Terraform's TF_DATA_DIR, relative to dir unless absolute;
// "" for none) — the downloaded modules listed there. Configuration
// problems are a *ConfigError naming file and line.
func Scan(dir, dataDir string) (*Report, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &scanner{
		root:      root,
		parsed:    map[string]*module{},
		providers: map[string]map[Pos]bool{},
		external:  map[string]Pos{},
	}
	s.parser = moduleParser{parser: hclparse.NewParser(), display: s.display}
	if dataDir != "" {
		if !filepath.IsAbs(dataDir) {
			dataDir = filepath.Join(root, dataDir)
		}
		if s.manifest, err = readManifest(root, dataDir); err != nil {
			return nil, err
		}
		if s.manifest != nil {
			if s.dataDir, err = filepath.EvalSymlinks(dataDir); err != nil {
				return nil, err
			}
		}
	}
	if err := s.walk(root, "", "", nil, nil); err != nil {
		return nil, err
	}
	if err := s.walkTests(); err != nil {
		return nil, err
	}
	return s.report(), nil
}

type scanner struct {
	root     string
	dataDir  string            // real path, when a manifest was read
	manifest map[string]string // module key → directory, nil without one
	parser   moduleParser
	parsed   map[string]*module // by real directory
	modules  int

	providers map[string]map[Pos]bool
	external  map[string]Pos
	remote    []Module
}

// walk scans the module in dir, at address addr (module.a.module.b) and
// manifest key key (a.b), called along ancestors (real directories) by
// the module block at from (nil for the root module).
func (s *scanner) walk(dir, addr, key string, ancestors []string, from *hcl.Range) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", orRoot(addr), err)
	}
	for _, a := range ancestors {
		if a == real {
			return callError(from, "Module cycle", fmt.Sprintf(
				"%s is in %s, the directory of a module that calls it: Terraform would recurse without end.", addr, s.display(real)))
		}
	}
	s.modules++
	if s.modules > maxModules || len(ancestors) >= maxDepth {
		return callError(from, "Too many modules", fmt.Sprintf(
			"%s: more than %d module instances or %d levels of modules: refusing to scan further.", addr, maxModules, maxDepth))
	}
	m, ok := s.parsed[real]
	if !ok {
		var diags hcl.Diagnostics
		m, diags, err = s.parser.parseModule(dir)
		if err != nil {
			return err
		}
		if diags.HasErrors() {
			return &ConfigError{Diagnostics: errorsOnly(diags)}
		}
		s.parsed[real] = m
	}
	s.record(m, addr)
	ancestors = append(ancestors, real)
	for _, c := range m.calls {
		childAddr := join(addr, "module."+c.name)
		childKey := c.name
		if key != "" {
			childKey = key + "." + c.name
		}
		if err := s.walkCall(dir, c, childAddr, childKey, ancestors); err != nil {
			return err
		}
	}
	return nil
}

// walkCall scans what module call c loads: its local directory, or the
// directory terraform init downloaded it to.
func (s *scanner) walkCall(parent string, c call, addr, key string, ancestors []string) error {
	if c.source == "" {
		return callError(&c.rng, "Missing module source", addr+" has no source argument.")
	}
	recorded, inManifest := s.manifest[key]
	if !isLocalSource(c.source) {
		if !inManifest {
			s.remote = append(s.remote, Module{Address: addr, Source: c.source, Version: c.version, Pos: pos(c.rng)})
			return nil
		}
		if err := s.checkDownloaded(addr, recorded); err != nil {
			return err
		}
		return s.walk(recorded, addr, key, ancestors, &c.rng)
	}
	dir := filepath.Join(parent, filepath.FromSlash(strings.ReplaceAll(c.source, "\\", "/")))
	if inManifest && recorded != dir {
		return callError(&c.rng, "Module directory differs from modules.json", fmt.Sprintf(
			"%s: source %q resolves to %s, but modules.json records %s, which terraform plan would load: run terraform init to bring modules.json up to date, then scan again.",
			addr, c.source, s.display(dir), s.display(recorded)))
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return callError(&c.rng, "Module directory not found", fmt.Sprintf(
			"%s: source %q resolves to %s, which is not a directory.", addr, c.source, s.display(dir)))
	}
	return s.walk(dir, addr, key, ancestors, &c.rng)
}

// checkDownloaded refuses a downloaded module whose directory is outside
// the data directory and the stack: modules.json lives where an agent can
// edit it, and must not lead the scan (or Terraform) elsewhere unnoticed.
func (s *scanner) checkDownloaded(addr, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%s: downloaded module directory %s: %w (run terraform init)", addr, s.display(dir), err)
	}
	root, err := filepath.EvalSymlinks(s.root)
	if err != nil {
		return err
	}
	if !within(real, s.dataDir) && !within(real, root) {
		return fmt.Errorf("%s: modules.json places the module in %s, outside the data directory %s and the stack: refusing to read it", addr, dir, s.dataDir)
	}
	return nil
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// record adds a module's providers and external data sources to the report.
// A required_providers entry is a position of the source it gives (or
// implies); a use is one of every source its local name stands for.
func (s *scanner) record(m *module, addr string) {
	for local, reqs := range m.requirements {
		for _, r := range reqs {
			src := r.source
			if src == "" {
				src = impliedProvider(local)
			}
			s.addProvider(src, pos(r.rng))
		}
	}
	for _, u := range m.uses {
		for _, src := range m.sources(u.local) {
			s.addProvider(src, pos(u.rng))
		}
	}
	for _, r := range m.reads {
		external := r.typ == "external"
		for _, src := range m.sources(r.local) {
			external = external || providerType(src) == "external"
		}
		a := join(addr, r.address)
		if _, seen := s.external[a]; external && !seen {
			s.external[a] = pos(r.rng)
		}
	}
}

func (s *scanner) addProvider(src string, p Pos) {
	set := s.providers[src]
	if set == nil {
		set = map[Pos]bool{}
		s.providers[src] = set
	}
	set[p] = true
}

// sources are the provider addresses a local name stands for in m: the
// sources its required_providers entries give, and the implied one when
// an entry gives none or there is no entry.
func (m *module) sources(local string) []string {
	reqs := m.requirements[local]
	implied := len(reqs) == 0
	var out []string
	for _, r := range reqs {
		if r.source == "" {
			implied = true
		} else {
			out = append(out, r.source)
		}
	}
	if implied {
		out = append(out, impliedProvider(local))
	}
	return out
}

func (s *scanner) report() *Report {
	r := &Report{Providers: []Provider{}, External: []Use{}, RemoteModules: s.remote}
	for src, set := range s.providers {
		p := Provider{Source: src}
		for pos := range set {
			p.Where = append(p.Where, pos)
		}
		sort.Slice(p.Where, func(i, j int) bool { return lessPos(p.Where[i], p.Where[j]) })
		r.Providers = append(r.Providers, p)
	}
	sort.Slice(r.Providers, func(i, j int) bool { return r.Providers[i].Source < r.Providers[j].Source })
	for a, p := range s.external {
		r.External = append(r.External, Use{Address: a, Pos: p})
	}
	sort.Slice(r.External, func(i, j int) bool { return r.External[i].Address < r.External[j].Address })
	if r.RemoteModules == nil {
		r.RemoteModules = []Module{}
	}
	sort.Slice(r.RemoteModules, func(i, j int) bool { return r.RemoteModules[i].Address < r.RemoteModules[j].Address })
	return r
}

func lessPos(a, b Pos) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

// display is how a path appears in positions and messages: relative to
// the stack directory, with forward slashes.
func (s *scanner) display(path string) string {
	rel, err := filepath.Rel(s.root, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// callError is a *ConfigError at a module block, or a plain error for
// the root module, which no block calls.
func callError(from *hcl.Range, summary, detail string) error {
	if from == nil {
		return errors.New(summary + ": " + detail)
	}
	return &ConfigError{Diagnostics: hcl.Diagnostics{invalid(*from, summary, detail)}}
}

func orRoot(addr string) string {
	if addr == "" {
		return "root module"
	}
	return addr
}

func pos(rng hcl.Range) Pos { return Pos{File: rng.Filename, Line: rng.Start.Line} }

func join(prefix, addr string) string {
	if prefix == "" {
		return addr
	}
	return prefix + "." + addr
}

func errorsOnly(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}

// readManifest reads dataDir/modules/modules.json, the record terraform
// init writes of every module it installed: key → directory, made
// absolute against the stack directory, Terraform's working directory.
// No manifest is a nil map.
func readManifest(root, dataDir string) (map[string]string, error) {
	path := filepath.Join(dataDir, "modules", "modules.json")
	b, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m struct {
		Modules []struct{ Key, Source, Dir string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w (run terraform init to rewrite it)", path, err)
	}
	out := map[string]string{}
	for _, r := range m.Modules {
		dir := filepath.FromSlash(r.Dir)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		out[r.Key] = filepath.Clean(dir)
	}
	return out, nil
}
