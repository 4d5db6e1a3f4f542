package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// addPlanSeeds seeds a fuzz target with the captured fixture plans and a
// few hand-made edge cases.
func addPlanSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(plansDir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(driftPlan))
	for _, s := range []string{
		``, `{}`, `null`, `[]`,
		`{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["delete","create"]}}]}`,
		`{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"data","change":{"actions":["delete"]}}]}`,
		`{"format_version":"1.2","resource_changes":[{"address":"a.b","deposed":"k","change":{"actions":["create","delete"],"before":{"x":[1,{"y":"s"}]},"after":{"x":"str"},"before_sensitive":{"x":[false,{"y":true}]},"after_unknown":{"z":true},"replace_paths":[["x",0]]}}]}`,
		`{"format_version":"1.2","resource_changes":[],"resource_changes":[{"address":"a.b","change":{"actions":["delete"]}}]}`,
		`{"format_version":"1.2","output_changes":{"o":{"actions":["update"],"before":"a\nb","after":"a\nc","before_sensitive":false}}}`,
		// JSON strings, present nulls, a type change inside a value.
		`{"format_version":"1.2","terraform_version":"1.5.7","resource_changes":[{"address":"terraform_data.j","type":"terraform_data","mode":"managed","change":{"actions":["update"],"before":{"input":{"a":null,"j":"{\"k\":[1,null]}","s":"x\n\ny","l":[1,2]}},"after":{"input":{"a":{"b":1},"j":"[1]","s":"{}","l":[2,1]}},"after_unknown":{},"replace_paths":[["input","j"]]}}]}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzAnalyze: no input makes Analyze panic, and on every plan it accepts
// the deletion guarantees hold.
func FuzzAnalyze(f *testing.F) {
	addPlanSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Analyze(bytes.NewReader(in))
		if err != nil {
			return
		}
		c := a.Counts
		for name, n := range map[string]int{"add": c.Add, "change": c.Change, "destroy": c.Destroy, "replace": c.Replace,
			"import": c.Import, "move": c.Move, "forget": c.Forget, "read": c.Read, "outputs": a.OutputChanges, "managed": a.ManagedResourceCount()} {
			if n < 0 {
				t.Fatalf("%s count is negative: %d", name, n)
			}
		}
		if len(a.Deleted) != c.Destroy {
			t.Fatalf("len(Deleted) = %d, Counts.Destroy = %d", len(a.Deleted), c.Destroy)
		}
		// An independent reading of resource_changes: every change whose
		// actions contain delete (data sources aside) is listed.
		listed := map[string]bool{}
		for _, d := range a.Deleted {
			listed[d.Address+"\x00"+d.Deposed] = true
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(in, &top) != nil {
			return
		}
		var changes []struct {
			Address string `json:"address"`
			Mode    string `json:"mode"`
			Deposed string `json:"deposed"`
			Change  struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		}
		if json.Unmarshal(top["resource_changes"], &changes) != nil {
			return
		}
		for _, rc := range changes {
			if slices.Contains(rc.Change.Actions, "delete") && rc.Mode != "data" && !listed[rc.Address+"\x00"+rc.Deposed] {
				t.Fatalf("change %q (deposed %q) deletes but is not in Deleted %v", rc.Address, rc.Deposed, a.Deleted)
			}
		}
	})
}

// FuzzRenderDiff: any plan Analyze accepts renders without panicking.
func FuzzRenderDiff(f *testing.F) {
	addPlanSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Analyze(bytes.NewReader(in))
		if err != nil {
			return
		}
		if err := a.RenderDiff(io.Discard); err != nil {
			t.Fatalf("RenderDiff: %v", err)
		}
	})
}

// FuzzSanitizePlanJSON: no input makes it panic, and what it returns is
// JSON.
func FuzzSanitizePlanJSON(f *testing.F) {
	addPlanSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := SanitizePlanJSON(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatal(fmt.Sprintf("sanitized output is not JSON: %.200s", out))
		}
	})
}

// FuzzMaskText: whatever the text and the secret, no stretch of the text
// MaskText leaves in clear holds the secret (the replacement itself aside),
// and text without secrets comes back unchanged.
func FuzzMaskText(f *testing.F) {
	f.Add(diagnostic, "s3cr3t-PLANTED-diag")
	f.Add(diagnostic, "987654")
	f.Add("pin=987654&x=1", "987654")
	f.Add("abcdefghijk", "defghijk")
	f.Add("spinning pin", "pin")
	f.Add("a\nb \"c\"", "a\nb \"c\"")
	f.Add(`"a\nb \"c\""`, "a\nb \"c\"")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, text, secret string) {
		m := NewMasker()
		m.AddValue(secret)
		m.AddValue("abcdefgh") // a second, overlapping-prone secret
		out := m.MaskText(text)
		if !strings.Contains(text, secret) && !strings.Contains(text, "abcdefgh") && out != text && len(secret) >= minSubstringSecret && !hasEscapes(secret) {
			t.Fatalf("MaskText(%q) = %q: nothing to mask", text, out)
		}
		if len(secret) < minSubstringSecret {
			return // short secrets are masked only where they stand alone
		}
		for _, part := range strings.Split(out, SensitiveValue) {
			if strings.Contains(part, secret) {
				t.Fatalf("MaskText(%q) = %q leaves %q in clear", text, out, secret)
			}
		}
	})
}

// hasEscapes reports whether s is spelled differently when quoted, so the
// masker also knows it by its quoted spelling.
func hasEscapes(s string) bool {
	q, _ := json.Marshal(s)
	return strconv.Quote(s) != `"`+s+`"` || string(q) != `"`+s+`"`
}

// FuzzMaskValue: MaskValue never panics and never modifies its input, on
// any JSON document, with the document's own leaves as secrets.
func FuzzMaskValue(f *testing.F) {
	addPlanSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decodeAny(in)
		if err != nil {
			return
		}
		before, _ := json.Marshal(v)
		m := NewMasker()
		if l, ok := v.([]any); ok && len(l) > 0 {
			m.AddValue(l[0])
		} else if o, ok := v.(map[string]any); ok {
			for _, e := range o {
				m.AddValue(e)
				break
			}
		}
		out := m.MaskValue(v)
		after, _ := json.Marshal(v)
		if !bytes.Equal(before, after) {
			t.Fatalf("MaskValue modified its input")
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("masked value does not encode: %v", err)
		}
	})
}

// FuzzDecodeAny: the one-pass decoder gives what encoding/json gives (with
// UseNumber), and refuses what it refuses.
func FuzzDecodeAny(f *testing.F) {
	addPlanSeeds(f)
	for _, s := range []string{`"a\u00e9\ud83d\ude00"`, `"\xff"`, `-0.5e+10`, `01`, `1.`, `[1,]`, `{"a":1,"a":2}`, ` true `, `"\u12"`, "\"\t\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeAny(in)
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var want any
		werr := dec.Decode(&want)
		if werr == nil {
			if _, terr := dec.Token(); terr != io.EOF {
				werr = fmt.Errorf("trailing data")
			}
		}
		if len(in) == 0 {
			return // decodeAny: absent is nil
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeAny(%q): error %v, encoding/json: %v", in, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeAny(%q) = %#v, encoding/json: %#v", in, got, want)
		}
	})
}

// FuzzJSONReader: the reader, lenient, accepts exactly the documents
// encoding/json accepts and gives each value's bytes whole; strict (as
// plans are read), it accepts only such documents.
func FuzzJSONReader(f *testing.F) {
	addPlanSeeds(f)
	for _, s := range []string{`[1, "a\"b", {"k": [true, false, null]}, -1.5e3]`, `{"a":}`, `[01]`, `"\u00zz"`, `{} {}`, `  `, `{"a":1,"a":2}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		read := func(r *jsonReader) ([]byte, error) {
			raw, err := r.raw()
			if err == nil {
				err = r.end("the value")
			}
			return raw, err
		}
		raw, err := read(newJSONReader(in, lenient...))
		valid := json.Valid(in)
		if (err == nil) != valid {
			t.Fatalf("lenient reader on %q: error %v, json.Valid %v", in, err, valid)
		}
		if err == nil && !bytes.Equal(raw, bytes.TrimSpace(in)) {
			t.Fatalf("read %q of %q", raw, in)
		}
		if _, err := read(newJSONReader(in)); err == nil && !valid {
			t.Fatalf("strict reader accepts %q, which encoding/json refuses", in)
		}
	})
}

// TF_ENCRYPTION comes from the server's environment; whatever it holds,
// every value found is long enough to mask, and a passphrase is always found.
func FuzzEncryptionValues(f *testing.F) {
	for _, s := range []string{
		`key_provider "pbkdf2" "main" { passphrase = "correct-horse-battery-staple" }`,
		`{"key_provider":{"pbkdf2":{"main":{"passphrase":"correct-horse-battery-staple"}}}}`,
		`passphrase = "with \"quotes\" inside it"`, `= "`, ``, `a = "short"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		for _, v := range EncryptionValues(config) {
			if len(v) < minSubstringSecret {
				t.Fatalf("%q is too short to mask by value", v)
			}
		}
		const pass = "fuzz-passphrase-4411"
		got := EncryptionValues("passphrase = \"" + pass + "\"\n" + config)
		if !slices.Contains(got, pass) {
			t.Fatalf("the passphrase before %q was not found: %q", config, got)
		}
	})
}
