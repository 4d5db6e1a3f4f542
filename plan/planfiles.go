package plan

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/plangate/plangate/internal/atomicfile"
)

// WriteVarFile writes the agent's variables into the draft as a
// .tfvars.json file for `terraform plan -var-file`, and returns its path.
// Remove it once the plan is made: the plan file carries the values.
func (d *Draft) WriteVarFile(vars map[string]any) (string, error) {
	b, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(d.Dir, VarsFile)
	if err := atomicfile.WriteFile(path, b); err != nil {
		return "", err
	}
	return path, nil
}

// ReadPlanJSON reads Terraform's raw plan JSON (`terraform show -json`,
// as Runner.Plan leaves it): it analyses it, writes the rendered diff and
// the sanitized JSON into the draft, and removes the raw file, which
// carries sensitive values in clear. The JSON is read once, into memory;
// the analysis keeps spans of it, and both files are written as they are
// made.
func (d *Draft) ReadPlanJSON(rawPath string, opts ...RenderOption) (*Analysis, error) {
	defer os.Remove(rawPath)
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return nil, err
	}
	return Digest(d.Dir, raw, opts...)
}

// Digest is all plangate does with a plan's JSON: it analyses raw and
// writes the rendered diff (DiffFile) and the sanitized JSON
// (PlanJSONFile) into dir, as they are made.
func Digest(dir string, raw []byte, opts ...RenderOption) (*Analysis, error) {
	a, err := AnalyzeBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("analysing plan JSON: %w", err)
	}
	opts = a.keepSchemas(dir, opts)
	if err := writeWith(filepath.Join(dir, DiffFile), func(w io.Writer) error { return a.RenderDiff(w, opts...) }); err != nil {
		return nil, fmt.Errorf("rendering diff: %w", err)
	}
	if err := writeWith(filepath.Join(dir, PlanJSONFile), a.WriteSanitized); err != nil {
		return nil, fmt.Errorf("sanitizing plan JSON: %w", err)
	}
	return a, nil
}

// WriteEmptyDiff records that the plan has no diff to show (Terraform
// produced no plan).
func (d *Draft) WriteEmptyDiff() error {
	return atomicfile.WriteFile(filepath.Join(d.Dir, DiffFile), nil)
}

// PlanFile is the path of the draft's saved plan file.
func (d *Draft) PlanFile() string { return filepath.Join(d.Dir, PlanFile) }

func writeWith(path string, fn func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := fn(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FileSHA256 returns the hex SHA-256 of a file: the plan file, hashed when
// recorded and again before it is approved or applied.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PlanJSON returns the sanitized plan JSON of plan id.
func (s *Store) PlanJSON(id string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Dir(id), PlanJSONFile))
}

// PlanFilePath is the saved plan file of plan id.
func (s *Store) PlanFilePath(id string) string { return filepath.Join(s.Dir(id), PlanFile) }

// DiffPage is a window of a plan's rendered diff.
type DiffPage struct {
	Text   string
	Offset int
	Next   int // 0 when this page reaches the end
	Total  int
}

// AllOfIt is a ReadDiff limit that reads the whole diff.
const AllOfIt = 1 << 62

// ReadDiff returns up to limit bytes of the plan's diff starting at offset,
// cut at a line end where possible and never inside a UTF-8 sequence.
func (s *Store) ReadDiff(id string, offset, limit int) (DiffPage, error) {
	f, err := os.Open(filepath.Join(s.Dir(id), DiffFile))
	if err != nil {
		return DiffPage{}, fmt.Errorf("plan %s: diff: %w", id, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return DiffPage{}, err
	}
	total := int(st.Size())
	if offset < 0 || offset > total {
		return DiffPage{}, &InputError{Msg: fmt.Sprintf("offset %d is outside the diff (0..%d): use next_offset from the previous page", offset, total)}
	}
	buf := make([]byte, min(limit, total-offset))
	if _, err := f.ReadAt(buf, int64(offset)); err != nil && err != io.EOF {
		return DiffPage{}, err
	}
	end := len(buf)
	if offset+end < total {
		if i := lastIndexByte(buf, '\n'); i > 0 {
			end = i + 1
		} else {
			// No line end in the window: cut before an incomplete rune.
			i := end - 1
			for i > 0 && !utf8.RuneStart(buf[i]) {
				i--
			}
			if !utf8.FullRune(buf[i:end]) {
				end = i
			}
		}
	}
	page := DiffPage{Text: string(buf[:end]), Offset: offset, Total: total}
	if offset+end < total {
		page.Next = offset + end
	}
	return page, nil
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// keepSchemas gets the schemas of the plan's resource types where opts
// say where from (SchemasFrom), writes them into dir, and returns opts
// that render with them.
func (a *Analysis) keepSchemas(dir string, opts []RenderOption) []RenderOption {
	var probe renderer
	for _, o := range opts {
		o(&probe)
	}
	want := a.SchemaWant()
	if probe.loadSchemas == nil || len(want) == 0 {
		return opts
	}
	s, err := func() (*Schemas, error) {
		raw, err := probe.loadSchemas()
		if err != nil {
			return nil, err
		}
		s, err := ReadSchemas(raw, want)
		if err != nil {
			return nil, err
		}
		return s, s.Write(filepath.Join(dir, SchemaFile))
	}()
	if err != nil {
		a.SchemaProblem = fmt.Sprintf("the diff is rendered without provider schemas (values as JSON): %v", err)
		return opts
	}
	return append(opts, WithSchemas(s))
}
