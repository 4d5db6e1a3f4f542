package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
)

// testdata/drift/refresh_only.json is `terraform show -json` of a real
// refresh-only plan (Terraform 1.11, AWS provider 5.100.0 against
// moto_server) of fixtures/aws/stack after a human added an Owner tag to
// the IAM role, retagged the bucket's Environment "prod" and deleted the
// DynamoDB table; refresh_only.terraform.txt is `terraform show` of it.
func readRefreshOnly(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "drift", "refresh_only.json"))
	require.NoError(t, err)
	return raw
}

func TestDriftCheckListsChangedAttributesAndDeletions(t *testing.T) {
	a, err := AnalyzeBytes(readRefreshOnly(t))
	require.NoError(t, err)
	dc := a.DriftCheck()
	assert.Equal(t, DriftCounts{Changed: 2, Deleted: 1}, dc.DriftCounts)
	assert.Equal(t, []DriftedResource{
		{Address: "aws_dynamodb_table.items", Type: "aws_dynamodb_table", Action: DriftDeleted},
		{Address: "aws_iam_role.app", Type: "aws_iam_role", Action: DriftChanged, Attributes: []string{"tags.Owner", "tags_all.Owner"}},
		{Address: "aws_s3_bucket.data", Type: "aws_s3_bucket", Action: DriftChanged, Attributes: []string{"tags.Environment", "tags_all.Environment"}},
	}, dc.Resources)
	assert.Equal(t, Counts{}, a.Counts, "a refresh-only plan plans no change of its own")
	assert.Equal(t, "Drift in web: 2 resources changed outside Terraform, 1 deleted outside Terraform", DriftHeadline(tfbin.Terraform, "web", dc, false))
}

// Each drifted resource renders as Terraform's own refresh-only output
// shows it, header and changed values alike. Rendered here without
// provider schemas (as a plan made before plangate kept them renders):
// map keys unquoted, and what Terraform hides as unchanged may differ;
// TestAWSCheckDrift checks the rendering with them.
func TestRenderDriftShowsWhatTerraformShows(t *testing.T) {
	a, err := AnalyzeBytes(readRefreshOnly(t))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, a.RenderDrift(&b))
	got := b.String()
	tf, err := os.ReadFile(filepath.Join("testdata", "drift", "refresh_only.terraform.txt"))
	require.NoError(t, err)
	for _, line := range []string{
		"Note: Objects have changed outside of Terraform",
		"  # aws_dynamodb_table.items has been deleted",
		`  - resource "aws_dynamodb_table" "items" {`,
		`      - billing_mode                = "PAY_PER_REQUEST" -> null`,
		"  # aws_iam_role.app has changed",
		`  ~ resource "aws_iam_role" "app" {`,
		`        id                    = "pg-x-app"`,
		"  # aws_s3_bucket.data has changed",
	} {
		assert.Contains(t, string(tf), line+"\n", "Terraform shows it")
		assert.Contains(t, got, line+"\n", "plangate shows it")
	}
	// Map entries: Terraform quotes the keys (so does plangate with the
	// schema); the values and arrows agree.
	assert.Contains(t, string(tf), `~ "Environment" = "test" -> "prod"`)
	assert.Contains(t, got, `~ Environment = "test" -> "prod"`)
	assert.Contains(t, string(tf), `+ "Owner"       = "by-hand"`)
	assert.Contains(t, got, `+ Owner       = "by-hand"`)
	assert.Contains(t, got, "plangate never applies it")
	assert.NotContains(t, got, "you can apply this plan", "plangate never applies a drift check")
}

// A sensitive attribute that drifted shows as changed, its value masked in
// the diff and its path cut where the mark starts: no part of the secret
// reaches the report.
func TestDriftMasksSensitiveValues(t *testing.T) {
	var p map[string]any
	require.NoError(t, json.Unmarshal(readRefreshOnly(t), &p))
	const secret = "prod"
	for _, d := range p["resource_drift"].([]any) {
		c := d.(map[string]any)
		if c["address"] == "aws_s3_bucket.data" {
			ch := c["change"].(map[string]any)
			for _, side := range []string{"before_sensitive", "after_sensitive"} {
				ch[side].(map[string]any)["tags"] = true
				ch[side].(map[string]any)["tags_all"] = true
			}
		}
	}
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	dir := t.TempDir()
	a, err := DigestDrift(dir, raw)
	require.NoError(t, err)
	dc := a.DriftCheck()
	assert.Equal(t, []string{"tags", "tags_all"}, dc.Resources[2].Attributes)
	for _, f := range []string{DiffFile, PlanJSONFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.NotContains(t, string(b), `"`+secret+`"`, "%s holds the secret", f)
	}
	diff, _ := os.ReadFile(filepath.Join(dir, DiffFile))
	assert.Contains(t, string(diff), "(sensitive value)")
	b, _ := json.Marshal(dc)
	assert.NotContains(t, string(b), secret)
}

func TestDriftHeadline(t *testing.T) {
	for _, tt := range []struct {
		counts DriftCounts
		failed bool
		want   string
	}{
		{DriftCounts{}, false, "No drift in web"},
		{DriftCounts{Changed: 1}, false, "Drift in web: 1 resource changed outside Terraform"},
		{DriftCounts{Deleted: 1}, false, "Drift in web: 1 resource deleted outside Terraform"},
		{DriftCounts{Deleted: 3}, false, "Drift in web: 3 resources deleted outside Terraform"},
		{DriftCounts{Changed: 2, Deleted: 1}, false, "Drift in web: 2 resources changed outside Terraform, 1 deleted outside Terraform"},
		{DriftCounts{Changed: 2}, true, "Drift check of web FAILED: Terraform reported errors while refreshing; what is listed may be incomplete"},
	} {
		assert.Equal(t, tt.want, DriftHeadline(tfbin.Terraform, "web", &DriftCheck{DriftCounts: tt.counts}, tt.failed))
		// A record written before plangate told the products apart was Terraform's.
		assert.Equal(t, tt.want, DriftHeadline("", "web", &DriftCheck{DriftCounts: tt.counts}, tt.failed))
		// OpenTofu's drift is named as OpenTofu's.
		assert.Equal(t, strings.ReplaceAll(tt.want, "Terraform", "OpenTofu"), DriftHeadline(tfbin.OpenTofu, "web", &DriftCheck{DriftCounts: tt.counts}, tt.failed))
	}
}

// Attribute paths: names joined with dots, other keys quoted, a map with
// a key that is itself a secret named but not entered; at most
// MaxDriftAttributes, the rest counted.
func TestDriftAttributePaths(t *testing.T) {
	before := map[string]any{"name": "a", "tags": map[string]any{"a b": "1"}, "labels": map[string]any{"hunter2": "x"}}
	after := map[string]any{"name": "b", "tags": map[string]any{"a b": "2"}, "labels": map[string]any{}}
	for i := range 12 {
		after[string(rune('c'+i))+"_attr"] = "new"
	}
	change := map[string]any{"actions": []string{"update"}, "before": before, "after": after,
		"before_sensitive": map[string]any{}, "after_sensitive": map[string]any{}}
	plan := map[string]any{"format_version": "1.2", "applyable": true, "errored": false,
		"variables":      map[string]any{"k": map[string]any{"value": "hunter2"}},
		"configuration":  map[string]any{"root_module": map[string]any{"variables": map[string]any{"k": map[string]any{"sensitive": true}}}},
		"resource_drift": []any{map[string]any{"address": "x_thing.a", "mode": "managed", "type": "x_thing", "name": "a", "change": change}}}
	raw, err := json.Marshal(plan)
	require.NoError(t, err)
	a, err := AnalyzeBytes(raw)
	require.NoError(t, err)
	r := a.DriftCheck().Resources[0]
	assert.Equal(t, []string{"c_attr", "d_attr", "e_attr", "f_attr", "g_attr", "h_attr", "i_attr", "j_attr"}, r.Attributes)
	assert.Equal(t, 12+3-MaxDriftAttributes, r.AttributesMore, "12 new attributes, labels, name and tags[\"a b\"]")
	b, _ := json.Marshal(a.DriftCheck())
	assert.NotContains(t, string(b), "hunter2")

	var all []string
	a.walkChanged(mustDiff(t, a), "", &all)
	assert.Contains(t, all, `tags["a b"]`)
	assert.Contains(t, all, "labels")
	assert.Contains(t, all, "name")
	assert.Len(t, all, 15)
}

func mustDiff(t *testing.T, a *Analysis) *vdiff {
	t.Helper()
	r := &renderer{secrets: a.secrets}
	d, err := r.diffChange(&a.drift[0].Change)
	require.NoError(t, err)
	return d
}

func TestGroupDrift(t *testing.T) {
	got := GroupDrift([]DriftedResource{
		{Type: "b", Action: DriftChanged}, {Type: "a", Action: DriftDeleted}, {Type: "b", Action: DriftChanged}, {Type: "a", Action: DriftChanged},
	})
	assert.Equal(t, []DriftGroup{{"a", DriftDeleted, 1}, {"a", DriftChanged, 1}, {"b", DriftChanged, 2}}, got)
}

// Plan JSON is untrusted: whatever it holds, a drift check neither panics
// nor miscounts.
func FuzzDriftCheck(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "drift", "refresh_only.json"))
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte(`{"format_version":"1.2","applyable":true,"resource_drift":[{"address":"a.b","type":"a","change":{"actions":["update"],"before":{"x":[1,{"y":2}]},"after":{"x":[1]},"before_sensitive":{"x":[false,true]}}}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_drift":[{"address":"a.b","change":{"actions":["delete"],"before":"s","after":null}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := AnalyzeBytes(raw)
		if err != nil {
			return
		}
		dc := a.DriftCheck()
		if dc.Changed+dc.Deleted != len(dc.Resources) {
			t.Fatalf("counts %+v for %d resources", dc.DriftCounts, len(dc.Resources))
		}
		var b strings.Builder
		if err := a.RenderDrift(&b); err != nil {
			t.Fatal(err)
		}
	})
}

// get_plan and plangate show on a drift check say what it is.
func TestDriftCheckReport(t *testing.T) {
	s := (&Record{ID: "0123456789abcdef", Stack: "web", Status: StatusDriftCheck, Drift: []Drift{{Address: "a.b", Actions: []string{"update"}}}}).Summary(time.Now())
	var b strings.Builder
	WriteReport(&b, &s, time.Now())
	assert.Equal(t, "Drift check 01234567… of web: 1 drifted — not a plan: it can never be approved or applied", strings.SplitN(b.String(), "\n", 2)[0])
	assert.Contains(t, b.String(), "Next: this is a drift check (check_drift) and can never be applied.")
	assert.Empty(t, s.ApproveCommand)
}
