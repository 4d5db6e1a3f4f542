package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Code kinds: what a CodeRun runs.
const (
	CodeLocalExec  = "local-exec"
	CodeRemoteExec = "remote-exec"
	CodeFile       = "file"
	CodeExternal   = "external"
	CodeProvider   = "provider"
)

// Code phases: when a CodeRun runs.
const (
	PhasePlan  = "plan"
	PhaseApply = "apply"
)

// CodeRun is code a plan runs besides the providers' own create, read,
// update and delete: a provisioner of an instance it creates or destroys,
// an external data source's program, a provider from outside the allowed
// sources. None of it shows in a deletion count.
type CodeRun struct {
	Address string `json:"address" jsonschema:"the resource instance (or data source, or provider) the code belongs to"`
	Kind    string `json:"kind" jsonschema:"local-exec, remote-exec, file, external or provider"`
	Detail  string `json:"detail" jsonschema:"the command, program, file or provider source, sensitive values masked"`
	Phase   string `json:"phase" jsonschema:"plan (it runs while Terraform plans) or apply"`
}

// String is the code in one line: "terraform_data.a local-exec: rm -f x (at apply)".
func (c CodeRun) String() string {
	return fmt.Sprintf("%s %s: %s (at %s)", c.Address, c.Kind, c.Detail, c.Phase)
}

// codeCandidate is a resource change that runs code if its configuration
// has any: an instance created or destroyed, a data source read at apply.
type codeCandidate struct {
	address string
	key     string // configKey of its resource block
	read    bool   // a data source read at apply time
}

// configResource is a resource block of the plan's configuration that
// carries code: its provisioners, or an external program.
type configResource struct {
	module       string // module path without instance keys: "module.a.module.b"
	moduleKey    string // Terraform's module key: "a.b"
	mode, typ    string
	name         string
	provisioners []provisionerJSON
	program      any // data "external": the program expression
}

type provisionerJSON struct {
	Type        string                    `json:"type"`
	Expressions map[string]map[string]any `json:"expressions"`
}

func configKey(module, mode, typ, name string) string {
	return module + "|" + mode + "." + typ + "." + name
}

// address is the resource block's address: "module.a.data.external.x".
func (r *configResource) address() string {
	a := r.typ + "." + r.name
	if r.mode == "data" {
		a = "data." + a
	}
	if r.module != "" {
		a = r.module + "." + a
	}
	return a
}

// noteCode keeps a change that may run code, to be matched with its
// configuration once that is read.
func (a *Analysis) noteCode(c *resourceChange) {
	creates, destroys := c.has(actCreate), c.has(actDelete)
	read := c.isData() && c.has(actRead)
	if !read && (c.isData() || (!creates && !destroys)) {
		return
	}
	a.codeCandidates = append(a.codeCandidates, codeCandidate{
		address: c.Address, key: configKey(moduleConfigPath(c.ModuleAddress), c.Mode, c.Type, c.Name), read: read,
	})
}

// collectCode reads the code the configuration holds and the providers
// it uses, and lists what this plan runs: every provisioner of an
// instance it creates or destroys (destroy-time ones included: the plan
// JSON does not say when a provisioner runs, so every one is listed) and
// every external data source, read now or at apply.
func (a *Analysis) collectCode(config any) {
	cfg, _ := config.(map[string]any)
	pcs, _ := cfg["provider_config"].(map[string]any)
	for _, pc := range pcs {
		m, _ := pc.(map[string]any)
		if src, _ := m["full_name"].(string); src != "" && !slices.Contains(a.Providers, src) {
			a.Providers = append(a.Providers, src)
		}
	}
	slices.Sort(a.Providers)

	resources := map[string]*configResource{}
	var walk func(mod map[string]any, path, key string, depth int)
	walk = func(mod map[string]any, path, key string, depth int) {
		if depth > maxModuleDepth {
			return
		}
		rs, _ := mod["resources"].([]any)
		for _, raw := range rs {
			rm, _ := raw.(map[string]any)
			r := &configResource{module: path, moduleKey: key}
			r.mode, _ = rm["mode"].(string)
			r.typ, _ = rm["type"].(string)
			r.name, _ = rm["name"].(string)
			if ps, ok := rm["provisioners"]; ok {
				codeJSON(ps, &r.provisioners)
			}
			if r.mode == "data" && a.isExternal(r.typ, rm, pcs) {
				exprs, _ := rm["expressions"].(map[string]any)
				r.program = exprs["program"]
				if r.program == nil {
					r.program = map[string]any{}
				}
			}
			if len(r.provisioners) > 0 || r.program != nil {
				resources[configKey(r.module, r.mode, r.typ, r.name)] = r
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for name, c := range calls {
			cm, _ := c.(map[string]any)
			child, ok := cm["module"].(map[string]any)
			if !ok {
				continue
			}
			childPath, childKey := "module."+name, name
			if path != "" {
				childPath, childKey = path+"."+childPath, key+"."+name
			}
			walk(child, childPath, childKey, depth+1)
		}
	}
	if rm, ok := cfg["root_module"].(map[string]any); ok {
		walk(rm, "", "", 0)
	}

	readAtApply := map[string]bool{}
	for _, c := range a.codeCandidates {
		r := resources[c.key]
		if r == nil {
			continue
		}
		if c.read {
			if r.program != nil {
				readAtApply[c.key] = true
				a.Code = append(a.Code, CodeRun{Address: c.address, Kind: CodeExternal, Detail: Printable(a.codeDetail(r.program, " ")), Phase: PhaseApply})
				a.codeSources = append(a.codeSources, codeSource{res: r, attrs: []string{"program"}})
			}
			continue
		}
		for i, p := range r.provisioners {
			a.Code = append(a.Code, CodeRun{Address: c.address, Kind: p.Type, Detail: Printable(a.provisionerDetail(p)), Phase: PhaseApply})
			a.codeSources = append(a.codeSources, codeSource{res: r, provisioner: i, attrs: provisionerAttrs(p)})
		}
	}
	for key, r := range resources {
		if r.program != nil && !readAtApply[key] {
			a.Code = append(a.Code, CodeRun{Address: r.address(), Kind: CodeExternal, Detail: Printable(a.codeDetail(r.program, " ")), Phase: PhasePlan})
			a.codeSources = append(a.codeSources, codeSource{res: r, attrs: []string{"program"}})
		}
	}
	a.codeCandidates = nil
	a.sortCode()
}

// sortCode orders Code (and its sources with it) by address, then kind,
// keeping the provisioners of one instance in their order.
func (a *Analysis) sortCode() {
	idx := make([]int, len(a.Code))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		return cmp.Or(cmp.Compare(a.Code[x].Address, a.Code[y].Address), cmp.Compare(a.Code[x].Phase, a.Code[y].Phase))
	})
	code, srcs := make([]CodeRun, len(idx)), make([]codeSource, len(idx))
	for i, j := range idx {
		code[i], srcs[i] = a.Code[j], a.codeSources[j]
	}
	a.Code, a.codeSources = code, srcs
}

// isExternal reports whether a data source runs an external program: the
// external provider's one data source, whatever local name it goes by.
func (a *Analysis) isExternal(typ string, rm, pcs map[string]any) bool {
	if typ == "external" {
		return true
	}
	key, _ := rm["provider_config_key"].(string)
	pc, _ := pcs[key].(map[string]any)
	src, _ := pc["full_name"].(string)
	return strings.HasSuffix(src, "/external")
}

// provisionerAttrs are the arguments that say what a provisioner runs.
func provisionerAttrs(p provisionerJSON) []string {
	switch p.Type {
	case CodeLocalExec:
		return []string{"command", "interpreter"}
	case CodeRemoteExec:
		return []string{"inline", "script", "scripts"}
	case CodeFile:
		return []string{"source", "content", "destination"}
	}
	names := make([]string, 0, len(p.Expressions))
	for n := range p.Expressions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// provisionerDetail says what a provisioner runs, from its expressions:
// a local-exec's command (and interpreter), a remote-exec's commands or
// scripts, what a file provisioner copies where.
func (a *Analysis) provisionerDetail(p provisionerJSON) string {
	var parts []string
	for _, name := range provisionerAttrs(p) {
		e, ok := p.Expressions[name]
		if !ok {
			continue
		}
		switch {
		case p.Type == CodeLocalExec && name == "command":
			parts = append(parts, a.codeDetail(e, " "))
		case p.Type == CodeRemoteExec:
			parts = append(parts, a.codeDetail(e, "; "))
		default:
			parts = append(parts, name+" = "+a.codeDetail(e, " "))
		}
	}
	if len(parts) == 0 {
		return "(no arguments)"
	}
	return strings.Join(parts, ", ")
}

// codeDetail renders one expression: its constant value, or the
// references it is computed from (the plan file's own source text
// replaces these when it can be read, see ReadCodeSource). Secrets are
// masked.
func (a *Analysis) codeDetail(expr any, sep string) string {
	e, _ := expr.(map[string]any)
	if v, ok := e["constant_value"]; ok {
		switch v := v.(type) {
		case string:
			return a.secrets.maskText(v)
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = a.secrets.maskText(fmt.Sprint(x))
			}
			return strings.Join(parts, sep)
		default:
			b, _ := json.Marshal(a.secrets.maskCopy(v))
			return string(b)
		}
	}
	refs, _ := e["references"].([]any)
	var names []string
	for _, r := range refs {
		if s, ok := r.(string); ok {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		return "(computed when applied)"
	}
	return "(computed from " + strings.Join(names, ", ") + ")"
}

// moduleConfigPath drops the instance keys of a module address:
// `module.a["x.y"].module.b[0]` is module.a.module.b in the configuration.
func moduleConfigPath(addr string) string {
	if !strings.Contains(addr, "[") {
		return addr
	}
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case quoted:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
		case c == '"' && depth > 0:
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
