package tfscan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// testDir is Terraform's default directory for test files (terraform init
// -test-directory changes it; plangate does not).
const testDir = "tests"

var (
	testFileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "run", LabelNames: []string{"name"}}}}
	runSchema      = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "module"}}}
)

// walkTests scans the modules that the run blocks of the root module's
// test files call. terraform init installs them and their providers, so a
// provider can arrive through a test file alone. Their manifest keys are
// Terraform's: test.<file path without extension, dots for slashes>.<run>.
func (s *scanner) walkTests() error {
	for _, sub := range []string{"", testDir} {
		dir := filepath.Join(s.root, sub)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) && sub != "" {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			base, ok := strings.CutSuffix(name, ".tftest.hcl")
			if !ok {
				base, ok = strings.CutSuffix(name, ".tftest.json")
			}
			if !ok || e.IsDir() || ignoredFile(name) {
				continue
			}
			fileKey := "test." + strings.ReplaceAll(filepath.ToSlash(filepath.Join(sub, base)), "/", ".")
			if err := s.walkTestFile(filepath.Join(dir, name), fileKey); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *scanner) walkTestFile(path, fileKey string) error {
	src, err := readFile(path)
	if err != nil {
		return err
	}
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		file, diags = s.parser.parser.ParseJSON(src, s.display(path))
	} else {
		file, diags = s.parser.parser.ParseHCL(src, s.display(path))
	}
	if diags.HasErrors() {
		return &ConfigError{Diagnostics: errorsOnly(diags)}
	}
	content, _, diags := file.Body.PartialContent(testFileSchema)
	f := fileReader{src: src, mod: &module{}, calls: map[string]int{}}
	for _, run := range content.Blocks {
		diags = append(diags, checkIdentifiers(run)...)
		rc, _, d := run.Body.PartialContent(runSchema)
		diags = append(diags, d...)
		for _, mb := range rc.Blocks {
			// Shaped like a module block: read it as one, named after its run.
			mb.Labels = run.Labels
			diags = append(diags, f.moduleBlock(mb)...)
		}
	}
	if diags.HasErrors() {
		return &ConfigError{Diagnostics: errorsOnly(diags)}
	}
	for _, c := range f.mod.calls {
		addr := fileKey + ".run." + c.name
		if err := s.walkCall(s.root, c, addr, fileKey+"."+c.name, nil); err != nil {
			return err
		}
	}
	return nil
}
