package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
)

// The diff and the report speak as the program that made the plan: its
// name in every sentence, and OpenTofu's own wording where it differs
// from Terraform's (TestFixtures checks both against the real `show`).
func TestTextsSpeakAsTheProduct(t *testing.T) {
	render := func(t *testing.T, fixture string, opts ...RenderOption) string {
		raw, err := os.ReadFile(filepath.Join("testdata", "plans", fixture+".json"))
		require.NoError(t, err)
		a, err := AnalyzeBytes(raw)
		require.NoError(t, err)
		var b strings.Builder
		require.NoError(t, a.RenderDiff(&b, opts...))
		return b.String()
	}
	tests := []struct {
		name    string
		fixture string
		product tfbin.Product
		want    []string
		notWant []string
	}{
		{"terraform by default", "tainted", "", []string{"Terraform will perform the following actions:", "is tainted, so must be replaced"}, []string{"OpenTofu"}},
		{"opentofu", "tainted", tfbin.OpenTofu, []string{"OpenTofu will perform the following actions:", "is tainted, so it must be replaced"}, []string{"Terraform"}},
		{"terraform forget line", "forget", tfbin.Terraform, []string{"Plan: 0 to add, 1 to change, 0 to destroy.\n"}, []string{"to forget"}},
		{"opentofu forget line", "forget", tfbin.OpenTofu, []string{"Plan: 0 to add, 1 to change, 0 to destroy, 1 to forget.\n", "will no longer be managed by OpenTofu"}, []string{"Terraform"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []RenderOption
			if tt.product != "" {
				opts = append(opts, ForProduct(tt.product))
			}
			diff := render(t, tt.fixture, opts...)
			for _, w := range tt.want {
				assert.Contains(t, diff, w)
			}
			for _, w := range tt.notWant {
				assert.NotContains(t, diff, w)
			}
		})
	}

	t.Run("report", func(t *testing.T) {
		now := time.Now()
		rec := &Record{ID: "0123456789abcdef", Stack: "web", Status: StatusFailed, Errors: []string{"boom"}, Product: tfbin.OpenTofu, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		s := rec.Summary(now)
		var b strings.Builder
		WriteReport(&b, &s, now)
		assert.Contains(t, b.String(), "FAILED: OpenTofu reported errors")
		assert.Contains(t, b.String(), "OpenTofu errors:")
		assert.NotContains(t, b.String(), "Terraform")
	})
}
