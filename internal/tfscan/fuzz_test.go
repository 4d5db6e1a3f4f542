package tfscan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// FuzzScan writes a main.tf and a main.tf.json and scans them. Whatever
// they hold, Scan must return (no panic, no hang), a refusal must carry
// its diagnostics, a data "external" block Terraform would read must be
// reported, and every provider terraform-config-inspect finds in the same
// files must be in the report (the scan adds to it, never drops from it).
//
//	go test ./internal/tfscan -run '^$' -fuzz FuzzScan -fuzztime 1m
func FuzzScan(f *testing.F) {
	for _, dir := range []string{"testdata/agree/stack", "testdata/agree/modules/net", "testdata/agree/modules/net/sub"} {
		b, err := os.ReadFile(filepath.Join(dir, "main.tf"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "")
	}
	json, err := os.ReadFile("testdata/agree/stack/extra.tf.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", string(json))
	f.Add("data \"external\" \"x\" {\n  program = [\"sh\"]\n}\n", `{"data": {"external": {"y": {"program": ["sh"]}}}}`)
	f.Add("terraform {\n  required_providers {\n    aws = \"~> 5.0\"\n    x = { source = \"corp/x\" }\n  }\n}\nresource \"aws_instance\" \"i\" { provider = x.west }\n", "")
	f.Add("check \"c\" {\n  data \"external\" \"e\" {}\n}\nephemeral \"external\" \"e\" {}\nimport {\n  to = a_b.c\n  provider = q\n}\n", "")
	f.Add("resource \"x\" \"y\" { provider = \"aws.west\" }\n", `{"resource": {"aws_x": {"y": {"provider": "${aws.west}"}}}}`)
	f.Add("required_providers {}\ncomponent \"c\" {}\n", `{"data": {"external": {"n": null}}}`)
	f.Add("terraform {\n  required_providers {\n    aws = { source = \"${\"a\"}/b\", version = [for a in [1] : a] }\n  }\n}\n", `{"//": "c", "terraform": [{"required_providers": [{"aws": {"source": "Corp/AWS"}}]}]}`)
	f.Add("data \"external\" \"x\" {\n", "{")

	f.Fuzz(func(t *testing.T, src, jsonSrc string) {
		dir := t.TempDir()
		write := func(name, content string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("main.tf", src)
		if jsonSrc != "" {
			write("main.tf.json", jsonSrc)
		}
		r, err := Scan(dir, "")
		if err != nil {
			if r != nil {
				t.Fatalf("Scan returned a report and an error: %v", err)
			}
			var cerr *ConfigError
			if errors.As(err, &cerr) && len(cerr.Diagnostics) == 0 {
				t.Fatal("ConfigError without diagnostics")
			}
			return
		}
		if hasExternal(t, src, jsonSrc) && len(r.External) == 0 {
			t.Fatalf("a data \"external\" block is not reported: %+v", r)
		}
		checkTfconfigSubset(t, dir, src+jsonSrc, r)
	})
}

// hasExternal reports whether either file, parsed on its own, has a
// top-level data "external" block.
func hasExternal(t *testing.T, src, jsonSrc string) bool {
	t.Helper()
	var blocks hcl.Blocks
	if file, diags := hclsyntax.ParseConfig([]byte(src), "main.tf", hcl.InitialPos); !diags.HasErrors() {
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			blocks = append(blocks, b.AsHCLBlock())
		}
	}
	if jsonSrc != "" {
		if file, diags := hcljson.Parse([]byte(jsonSrc), "main.tf.json"); !diags.HasErrors() {
			content, _, _ := file.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "data", LabelNames: []string{"type", "name"}}}})
			blocks = append(blocks, content.Blocks...)
		}
	}
	for _, b := range blocks {
		if b.Type == "data" && len(b.Labels) > 0 && b.Labels[0] == "external" {
			return true
		}
	}
	return false
}

// checkTfconfigSubset checks that every provider requirement
// terraform-config-inspect reads from the files is in the report.
func checkTfconfigSubset(t *testing.T, dir, src string, r *Report) {
	t.Helper()
	if strings.Contains(src, "for") {
		return // tfconfig evaluates expressions; a for expression can take unbounded time
	}
	mod := loadTfconfig(dir)
	if mod == nil {
		return
	}
	found := map[string]bool{}
	for _, p := range r.Providers {
		found[p.Source] = true
	}
	for name, req := range mod.RequiredProviders {
		want := impliedProvider(name)
		if req.Source != "" {
			var err error
			if want, err = parseProviderSource(req.Source); err != nil {
				t.Fatalf("tfconfig reads source %q for %s, which the scan accepted but cannot parse", req.Source, name)
			}
		}
		if !found[want] {
			t.Fatalf("tfconfig finds provider %s (%s); the scan reports only %v", name, want, sources(r))
		}
	}
}

// loadTfconfig is tfconfig.LoadModule, nil when it fails or panics (it
// panics on a top-level required_providers or component block).
func loadTfconfig(dir string) (mod *tfconfig.Module) {
	defer func() {
		if recover() != nil {
			mod = nil
		}
	}()
	m, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return nil
	}
	return m
}
