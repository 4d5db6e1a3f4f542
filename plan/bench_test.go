package plan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/tfbin"
)

// Benchmarks of the analysis, the renderer and the sanitizer on plans of
// generated stacks (internal/gen) of 1,000 and 10,000 terraform_data
// instances: all created, all replaced, and a mix. The plan JSON comes
// from real Terraform, made once per run under $PLANGATE_BENCH_DIR (make
// bench sets it, so its ratio report reuses the plans) or a temporary
// directory removed when the benchmarks end.
//
//	make bench
//	go test -run '^$' -bench . -benchmem ./plan/

var benchSizes = []struct {
	name string
	spec gen.Spec
}{
	{"1k", gen.Spec{Modules: 10, PerModule: 100}},
	{"10k", gen.Spec{Modules: 10, PerModule: 1000}},
}

// benchPlans makes and caches the generated plans for one test binary run.
type benchPlans struct {
	mu      sync.Mutex
	root    string
	tempDir bool
	tf      *gen.Terraform
	json    map[string][]byte
}

var benchCache = &benchPlans{json: map[string][]byte{}}

func TestMain(m *testing.M) {
	code := m.Run()
	benchCache.cleanup()
	os.Exit(code)
}

func (c *benchPlans) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tempDir && c.root != "" {
		_ = os.RemoveAll(c.root)
	}
}

// planJSON returns the plan JSON of a generated stack, planning it with
// Terraform the first time.
func (c *benchPlans) planJSON(b *testing.B, s gen.Spec, sc gen.Scenario) []byte {
	b.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := s.Name() + "-" + string(sc)
	if js, ok := c.json[key]; ok {
		return js
	}
	if c.tf == nil {
		bin, err := tfbin.Find()
		if err != nil {
			b.Fatalf("%v (run `make terraform`)", err)
		}
		root := os.Getenv("PLANGATE_BENCH_DIR")
		if root == "" {
			if root, err = os.MkdirTemp("", "plangate-bench-"); err != nil {
				b.Fatal(err)
			}
			c.tempDir = true
		}
		c.root = root
		if c.tf, err = gen.NewTerraform(bin, root); err != nil {
			b.Fatal(err)
		}
	}
	p, err := gen.Prepare(context.Background(), c.tf, c.root, s, sc)
	if err != nil {
		b.Fatal(err)
	}
	js, err := os.ReadFile(p.JSONFile)
	if err != nil {
		b.Fatal(err)
	}
	c.json[key] = js
	return js
}

// eachBenchPlan runs fn as a sub-benchmark for every size and scenario.
func eachBenchPlan(b *testing.B, fn func(b *testing.B, s gen.Spec, sc gen.Scenario, js []byte)) {
	for _, size := range benchSizes {
		for _, sc := range gen.Scenarios {
			b.Run(fmt.Sprintf("%s/%s", size.name, sc), func(b *testing.B) {
				js := benchCache.planJSON(b, size.spec, sc)
				b.SetBytes(int64(len(js)))
				b.ResetTimer()
				fn(b, size.spec, sc, js)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.spec.Changes(sc)), "ns/change")
			})
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	eachBenchPlan(b, func(b *testing.B, s gen.Spec, sc gen.Scenario, js []byte) {
		for b.Loop() {
			a, err := AnalyzeBytes(js)
			if err != nil {
				b.Fatal(err)
			}
			if want := s.Expected(sc).Destroy; a.Counts.Destroy != want {
				b.Fatalf("destroy = %d, want %d", a.Counts.Destroy, want)
			}
		}
	})
}

func BenchmarkRenderDiff(b *testing.B) {
	eachBenchPlan(b, func(b *testing.B, _ gen.Spec, _ gen.Scenario, js []byte) {
		a, err := AnalyzeBytes(js)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := a.RenderDiff(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriteSanitized is the sanitizer alone, on an analysed plan (as
// plan_change runs it: the analysis has collected the secrets).
func BenchmarkWriteSanitized(b *testing.B) {
	eachBenchPlan(b, func(b *testing.B, s gen.Spec, _ gen.Scenario, js []byte) {
		if s.Resources() <= 1000 {
			// The sanitizer writes what the whole-document one did.
			want, err := sanitizeReference(js)
			if err != nil {
				b.Fatal(err)
			}
			if got, err := SanitizePlanJSON(js); err != nil || !bytes.Equal(got, want) {
				b.Fatalf("SanitizePlanJSON differs from the reference (error %v)", err)
			}
		}
		a, err := AnalyzeBytes(js)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			if err := a.WriteSanitized(&out); err != nil {
				b.Fatal(err)
			}
			if bytes.Contains(out.Bytes(), []byte(gen.Token)) {
				b.Fatal("the sanitized plan JSON holds the stack's secret")
			}
		}
	})
}
