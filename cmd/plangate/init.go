package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/fixtures"
)

func runInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlags("init", "[dir]", "Write a plangate.hcl and a demo stack (terraform_data resources, no cloud needed) into dir (default: the current directory). Existing files are never overwritten.", stdout, stderr)
	if err := parse(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 1 {
		return usageError(fset, "name at most one directory")
	}
	dir := "."
	if fset.NArg() == 1 {
		dir = fset.Arg(0)
	}
	written, err := writeDemo(dir)
	if err != nil {
		return err
	}
	for _, f := range written {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	describeStateDir(stdout, stderr, filepath.Join(dir, "plangate.hcl"))
	fmt.Fprintf(stdout, "\nNext:\n  cd %s\n  plangate keygen --name you --passphrase   # your approver key: add the approver block it prints at the end of plangate.hcl\n  plangate plans            # no plans yet\n  plangate serve            # what an MCP client runs\n", dir)
	return nil
}

// describeStateDir says where the new config keeps plangate's records
// (the user's state directory, since the demo config sets no state_dir),
// or why it cannot.
func describeStateDir(stdout, stderr io.Writer, cfgPath string) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "plangate init: warning: %v\n", err)
		return
	}
	fmt.Fprintf(stdout, "\nPlans, the approvals ledger and the audit log go to %s\n", cfg.StateDir)
	if w := cfg.StateDirWarning(); w != "" {
		fmt.Fprintf(stderr, "plangate init: warning: %s\n", w)
		return
	}
	fmt.Fprintf(stdout, "(outside any git work tree, so an agent that edits the project cannot edit them; set state_dir in plangate.hcl to move them)\n")
}

// writeDemo copies the embedded demo project into dir, refusing to
// overwrite anything: a half-written project is worse than none, so every
// target is checked before the first file is written.
func writeDemo(dir string) ([]string, error) {
	var files []string
	err := fs.WalkDir(fixtures.Demo, fixtures.DemoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	targets := make([]string, len(files))
	for i, f := range files {
		rel, _ := filepath.Rel(fixtures.DemoRoot, filepath.FromSlash(f))
		targets[i] = filepath.Join(dir, rel)
		if _, err := os.Stat(targets[i]); err == nil {
			return nil, fmt.Errorf("%s already exists: plangate init never overwrites files (choose an empty directory)", targets[i])
		}
	}
	for i, f := range files {
		b, err := fixtures.Demo.ReadFile(path.Clean(f))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(targets[i]), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(targets[i], b, 0o644); err != nil {
			return nil, err
		}
	}
	return targets, nil
}
