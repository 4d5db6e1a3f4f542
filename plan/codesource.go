package plan

import (
	"archive/zip"
	"encoding/json"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// codeSource says where in the configuration a CodeRun's detail comes
// from, so that a computed command can be shown as written.
type codeSource struct {
	res         *configResource
	provisioner int // index among the resource block's provisioners
	attrs       []string
}

// maxSourceFile bounds what ReadCodeSource reads of one configuration file.
const maxSourceFile = 4 << 20

// ReadCodeSource replaces the detail of code computed from references
// ("(computed from var.x)") with the expression as written in the
// configuration saved inside the plan file itself (a saved plan is a zip
// holding its configuration under tfconfig/): the human sees the command
// that runs, not a list of names. It reads nothing outside planFile;
// entries it cannot resolve keep their references. Secrets are masked.
func (a *Analysis) ReadCodeSource(planFile string) error {
	if !slices.ContainsFunc(a.Code, func(c CodeRun) bool { return c.Kind != CodeProvider }) {
		return nil
	}
	zr, err := zip.OpenReader(planFile)
	if err != nil {
		return err
	}
	defer zr.Close()
	files := map[string][]*zip.File{} // module key → its .tf files
	for _, f := range zr.File {
		dir, name := path.Split(f.Name)
		mod, ok := strings.CutPrefix(strings.TrimSuffix(dir, "/"), "tfconfig/m-")
		if !ok || !strings.HasSuffix(name, ".tf") || strings.Contains(mod, "/") {
			continue
		}
		files[mod] = append(files[mod], f)
	}
	parsed := map[string][]*hcl.File{}
	for i := range a.Code {
		src := a.codeSources[i]
		if src.res == nil {
			continue
		}
		key := src.res.moduleKey
		if _, ok := parsed[key]; !ok {
			parsed[key] = parseModule(files[key])
		}
		text, destroyTime, ok := a.sourceDetail(parsed[key], src)
		if !ok {
			continue
		}
		if strings.Contains(a.Code[i].Detail, "(computed") {
			a.Code[i].Detail = text
		}
		if destroyTime {
			a.Code[i].Detail += " (when = destroy)"
		}
	}
	return nil
}

func parseModule(files []*zip.File) []*hcl.File {
	var out []*hcl.File
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			continue
		}
		src, err := io.ReadAll(io.LimitReader(rc, maxSourceFile))
		rc.Close()
		if err != nil {
			continue
		}
		file, diags := hclsyntax.ParseConfig(src, f.Name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		out = append(out, file)
	}
	return out
}

// sourceDetail finds the resource block and renders the code's
// arguments as written, and whether the provisioner runs at destroy. A
// block found twice (override files) is not trusted: the references stay.
func (a *Analysis) sourceDetail(files []*hcl.File, src codeSource) (text string, destroyTime, ok bool) {
	kind := "resource"
	if src.res.mode == "data" {
		kind = "data"
	}
	var found *hclsyntax.Block
	var file *hcl.File
	for _, f := range files {
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			if b.Type == kind && len(b.Labels) == 2 && b.Labels[0] == src.res.typ && b.Labels[1] == src.res.name {
				if found != nil {
					return "", false, false
				}
				found, file = b, f
			}
		}
	}
	if found == nil {
		return "", false, false
	}
	body := found.Body
	when := ""
	if src.res.mode != "data" {
		var provs []*hclsyntax.Block
		for _, b := range found.Body.Blocks {
			if b.Type == "provisioner" {
				provs = append(provs, b)
			}
		}
		if len(provs) != len(src.res.provisioners) || src.provisioner >= len(provs) {
			return "", false, false
		}
		body = provs[src.provisioner].Body
		if w, ok := body.Attributes["when"]; ok {
			when = strings.TrimSpace(string(w.Expr.Range().SliceBytes(file.Bytes)))
		}
	}
	var parts []string
	for _, name := range src.attrs {
		attr, ok := body.Attributes[name]
		if !ok {
			continue
		}
		text := strings.TrimSpace(string(attr.Expr.Range().SliceBytes(file.Bytes)))
		bare := name == "program" || src.res.mode != "data" &&
			(name == "command" || src.res.provisioners[src.provisioner].Type == CodeRemoteExec)
		if !bare {
			text = name + " = " + text
		}
		parts = append(parts, a.secrets.maskText(text))
	}
	if len(parts) == 0 {
		return "", false, false
	}
	return strings.Join(parts, ", "), when == "destroy", true
}

// codeJSON re-reads a small part of the configuration into a typed shape.
func codeJSON(v any, dst any) {
	if b, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(b, dst)
	}
}
