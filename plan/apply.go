package plan

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/plangate/plangate/config"
)

// ApplyOutput is what `terraform apply <saved plan>` produced.
type ApplyOutput struct {
	Diagnostics []Diagnostic
	Failed      bool
}

// ApplySaved runs `terraform apply` on a saved plan file, never on a fresh
// plan: Terraform itself refuses a saved plan made stale by another apply.
// The caller must hold the stack lock (Runner.Lock) and must have verified
// the approvals; this method checks nothing of the kind.
func (r *Runner) ApplySaved(ctx context.Context, st *config.Stack, planFile string, opts ...ApplyOption) (*ApplyOutput, error) {
	c := applyOptions(opts)
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false, c.creds); err != nil {
		return nil, err
	}
	tf, err := r.newTF(st, c.creds)
	if err != nil {
		return nil, err
	}
	// Cancelling sends Terraform SIGINT: it finishes the operations in
	// flight, writes state and releases the lock. Never kill it mid-apply
	// for being slow about that.
	_ = tf.SetWaitDelay(24 * time.Hour)
	var stderr strings.Builder
	tf.SetStderr(&limitedWriter{w: &stderr, n: 64 << 10})
	out := &ApplyOutput{}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scanUI(pr, func(m UIMessage) {
			if m.Type == "diagnostic" && m.Diagnostic != nil {
				out.Diagnostics = append(out.Diagnostics, m.Diagnostic.toDiagnostic())
			}
			if c.events != nil {
				c.events(m)
			}
		})
	}()
	r.logger.Info("terraform apply", "stack", st.Name, "plan", planFile)
	runErr := tf.ApplyJSON(ctx, pw, tfexec.DirOrPlan(planFile))
	pw.Close()
	<-done
	if runErr != nil {
		out.Failed = true
		hasErr := false
		for _, d := range out.Diagnostics {
			hasErr = hasErr || d.Severity == "error"
		}
		if !hasErr {
			out.Diagnostics = append(out.Diagnostics, Diagnostic{Severity: "error", Summary: "terraform apply failed", Detail: cleanTerraformOutput(stderr.String(), runErr)})
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// scanUI decodes Terraform's machine-readable UI stream line by line,
// skipping lines that are not JSON, and drains the reader.
func scanUI(r io.Reader, fn func(UIMessage)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m UIMessage
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		fn(m)
	}
	_, _ = io.Copy(io.Discard, r)
}
