package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// TestOverlappingStateReadsShareOneTerraform: twenty agents polling
// show_stack at once start one `terraform show` of the state, not twenty
// (measured over HTTP: one process each, ~70 MiB apiece, before this).
func TestOverlappingStateReadsShareOneTerraform(t *testing.T) {
	tftest.Setup(t)
	real, err := tfbin.Find()
	require.NoError(t, err)
	// A terraform that logs each show and takes its time, so the reads overlap.
	dir := t.TempDir()
	log := filepath.Join(dir, "shows.log")
	wrapper := filepath.Join(dir, "terraform")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\nif [ \"$1\" = show ]; then echo show >> "+log+"; sleep 1; fi\nexec "+real+" \"$@\"\n"), 0o755))

	stack := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(stack, "main.tf"), []byte(twoResources), 0o600))
	st := &config.Stack{Name: "web", Dir: stack, Workspace: "default", LocalState: config.LocalStateStateDir}
	r := NewRunner(func() (string, error) { return wrapper, nil }, t.TempDir(), nil)
	planAndApply(t, r, st)
	require.NoError(t, os.Remove(log))

	var wg sync.WaitGroup
	views := make([]*StateView, 20)
	errs := make([]error, 20)
	for i := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], errs[i] = r.State(context.Background(), st)
		}()
	}
	wg.Wait()
	for i := range views {
		require.NoError(t, errs[i])
		require.Len(t, views[i].Resources, 2)
	}
	views[0].AWS = &AWSIdentity{}
	require.Nil(t, views[1].AWS, "the callers share one view: a caller's change shows in another's")
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	n := strings.Count(string(b), "show")
	require.LessOrEqual(t, n, 2, "20 overlapping reads ran terraform show %d times", n)

	// A read after they finished runs again: nothing is cached.
	_, err = r.State(context.Background(), st)
	require.NoError(t, err)
	b, _ = os.ReadFile(log)
	require.Equal(t, n+1, strings.Count(string(b), "show"))
}
