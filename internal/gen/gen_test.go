package gen

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

var planLine = regexp.MustCompile(`(?m)^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.`)

// summary is Terraform's own reading of a saved plan.
func summary(t *testing.T, tf *Terraform, dir, planFile string) (Counts, string) {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, tf.Run(context.Background(), dir, &out, "show", "-no-color", planFile))
	m := planLine.FindStringSubmatch(out.String())
	if m == nil {
		return Counts{}, out.String()
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return Counts{Add: n(m[1]), Change: n(m[2]), Destroy: n(m[3])}, out.String()
}

func newTestTerraform(t *testing.T) *Terraform {
	bin := tftest.Setup(t)
	tf, err := NewTerraform(bin, t.TempDir())
	require.NoError(t, err)
	return tf
}

// TestBaseStateIsWhatTerraformWrites: the base configuration planned
// against the written state changes nothing, so the state is what applying
// it would have left.
func TestBaseStateIsWhatTerraformWrites(t *testing.T) {
	tf := newTestTerraform(t)
	ctx := context.Background()
	s := Spec{Modules: 2, PerModule: 10}
	dir := t.TempDir()
	require.NoError(t, s.WriteBaseConfig(dir))
	require.NoError(t, s.WriteState(filepath.Join(dir, "terraform.tfstate")))
	require.NoError(t, tf.Init(ctx, dir))
	_, err := tf.Plan(ctx, dir, "plan.tfplan")
	require.NoError(t, err)
	_, text := summary(t, tf, dir, "plan.tfplan")
	assert.Contains(t, text, "No changes.")
}

// TestScenarios: each scenario's plan is what Expected says, by Terraform's
// own count.
func TestScenarios(t *testing.T) {
	tf := newTestTerraform(t)
	root := t.TempDir()
	for _, s := range []Spec{{Modules: 2, PerModule: 10}, {Modules: 3, PerModule: 20}} {
		for _, sc := range Scenarios {
			t.Run(s.Name()+"/"+string(sc), func(t *testing.T) {
				p, err := Prepare(context.Background(), tf, root, s, sc)
				require.NoError(t, err)
				got, text := summary(t, tf, p.Dir, p.PlanFile)
				assert.Equal(t, s.Expected(sc), got, text)
				js, err := os.ReadFile(p.JSONFile)
				require.NoError(t, err)
				assert.Contains(t, string(js), `"resource_changes"`)

				again, err := Prepare(context.Background(), tf, root, s, sc)
				require.NoError(t, err)
				assert.Equal(t, p.JSONFile, again.JSONFile, "a prepared stack is reused")
			})
		}
	}
}

func TestExpectedChanges(t *testing.T) {
	s := Spec{Modules: 10, PerModule: 100}
	assert.Equal(t, 1000, s.Resources())
	assert.Equal(t, Counts{Add: 1000}, s.Expected(Create))
	assert.Equal(t, Counts{Add: 1000, Destroy: 1000}, s.Expected(Replace))
	// A tenth replaced, a fifth updated, a tenth deleted, a tenth created.
	assert.Equal(t, Counts{Add: 200, Change: 200, Destroy: 200}, s.Expected(Mix))
	assert.Equal(t, 1000, s.Changes(Replace))
	assert.Equal(t, 500, s.Changes(Mix))
}

func TestWriteRefusesNonsense(t *testing.T) {
	assert.Error(t, Spec{Modules: 0, PerModule: 1}.Write(t.TempDir(), Create))
	assert.Error(t, Spec{Modules: 1, PerModule: 1}.Write(t.TempDir(), "destroy-everything"))
}
