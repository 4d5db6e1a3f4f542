package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// An IAM policy document, as much of it as doctor judges. Statements are
// taken at their widest: a Condition never narrows an Allow, and a Deny
// subtracts only when it covers every resource without a condition.
// Permission boundaries, session policies and organization SCPs are not
// read.
type policyDoc struct {
	Statement statementList `json:"Statement"`
}

type statement struct {
	Effect      string          `json:"Effect"`
	Action      stringList      `json:"Action"`
	NotAction   stringList      `json:"NotAction"`
	Resource    stringList      `json:"Resource"`
	NotResource stringList      `json:"NotResource"`
	Principal   principal       `json:"Principal"`
	NotPrinc    json.RawMessage `json:"NotPrincipal"`
	Condition   json.RawMessage `json:"Condition"`

	source string // the policy it is in, for facts
}

// statementList is one statement or an array of them.
type statementList []statement

func (l *statementList) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var s statement
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = statementList{s}
		return nil
	}
	var ss []statement
	err := json.Unmarshal(b, &ss)
	*l = ss
	return err
}

// stringList is a string or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	}
	var ss []string
	err := json.Unmarshal(b, &ss)
	*l = ss
	return err
}

// principal is "*" or a map of principal kinds ("AWS", "Service",
// "Federated", "CanonicalUser") to their values.
type principal struct {
	anyone bool
	kinds  map[string]stringList
}

func (p *principal) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p.anyone = s == "*"
		if !p.anyone {
			p.kinds = map[string]stringList{"AWS": {s}}
		}
		return nil
	}
	return json.Unmarshal(b, &p.kinds)
}

// parsePolicy decodes a policy document as IAM returns it: URL-encoded
// JSON (or plain JSON).
func parsePolicy(doc, source string) (*policyDoc, error) {
	text := strings.TrimSpace(doc)
	if !strings.HasPrefix(text, "{") {
		dec, err := url.PathUnescape(text)
		if err != nil {
			return nil, fmt.Errorf("policy %s: not URL-encoded JSON: %v", source, err)
		}
		text = dec
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		return nil, fmt.Errorf("policy %s: %v", source, err)
	}
	for i := range p.Statement {
		p.Statement[i].source = source
	}
	return &p, nil
}

// matchAction reports whether the IAM action pattern (with * and ?)
// covers action; both are case-insensitive, as IAM's are.
func matchAction(pattern, action string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(action))
}

func glob(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if glob(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			p, s = p[1:], s[1:]
		default:
			if len(s) == 0 || p[0] != s[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
	}
	return len(s) == 0
}

func (s *statement) allow() bool { return strings.EqualFold(s.Effect, "Allow") }

// allows reports whether the statement allows action, and through which
// of its patterns.
func (s *statement) allows(action string) (bool, string) {
	if !s.allow() {
		return false, ""
	}
	if len(s.NotAction) > 0 {
		for _, p := range s.NotAction {
			if matchAction(p, action) {
				return false, ""
			}
		}
		return true, "NotAction " + strings.Join(s.NotAction, ",")
	}
	for _, p := range s.Action {
		if matchAction(p, action) {
			return true, p
		}
	}
	return false, ""
}

// deniesEverywhere reports whether the statement denies action on every
// resource, unconditionally.
func (s *statement) deniesEverywhere(action string) bool {
	if !strings.EqualFold(s.Effect, "Deny") || len(s.Condition) > 0 || len(s.NotResource) > 0 || len(s.NotAction) > 0 {
		return false
	}
	all := false
	for _, r := range s.Resource {
		all = all || r == "*"
	}
	if !all {
		return false
	}
	for _, p := range s.Action {
		if matchAction(p, action) {
			return true
		}
	}
	return false
}

// allowedBy lists, for action, the statements of docs that allow it ("" when
// a Deny removes it everywhere): "<pattern>" in <policy> on <resources>.
func allowedBy(docs []*policyDoc, action string) []string {
	for _, d := range docs {
		for i := range d.Statement {
			if d.Statement[i].deniesEverywhere(action) {
				return nil
			}
		}
	}
	var out []string
	for _, d := range docs {
		for i := range d.Statement {
			s := &d.Statement[i]
			if yes, through := s.allows(action); yes {
				out = append(out, fmt.Sprintf("%q in %s on %s", through, s.source, resources(s)))
			}
		}
	}
	return out
}

func resources(s *statement) string {
	if len(s.NotResource) > 0 {
		return "everything but " + strings.Join(s.NotResource, ",")
	}
	if len(s.Resource) == 0 {
		return "*"
	}
	return strings.Join(s.Resource, ",")
}

// readPrefixes start the action names that only read.
var readPrefixes = []string{"get", "list", "describe", "head"}

// readOnly reports whether an action pattern only reads: its name part
// starts with Get, List, Describe or Head (any * comes after that).
func readOnly(pattern string) bool {
	_, name, ok := strings.Cut(strings.ToLower(pattern), ":")
	if !ok {
		return false
	}
	for _, p := range readPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// stateLock says which writes belong to Terraform's state and its lock.
type stateLock struct {
	bucket, table string // from the stack's s3 backend; "" when unknown
}

var (
	stateObjectWrites = []string{"s3:putobject", "s3:deleteobject"}
	lockTableWrites   = []string{"dynamodb:putitem", "dynamodb:deleteitem", "dynamodb:updateitem"}
)

// stateWrite reports whether the statement's pattern is a write of the
// state bucket's objects or of the lock table's items, on those alone
// (when the backend does not name them, on one named bucket's objects or
// one named table).
func (l stateLock) stateWrite(pattern string, s *statement) bool {
	p := strings.ToLower(pattern)
	if len(s.NotResource) > 0 || len(s.Resource) == 0 {
		return false
	}
	switch {
	case slices.Contains(stateObjectWrites, p):
		for _, r := range s.Resource {
			bucket, _, ok := strings.Cut(strings.TrimPrefix(r, "arn:aws:s3:::"), "/")
			if !strings.HasPrefix(r, "arn:aws:s3:::") || !ok || strings.ContainsAny(bucket, "*?") || (l.bucket != "" && bucket != l.bucket) {
				return false
			}
		}
		return true
	case slices.Contains(lockTableWrites, p):
		for _, r := range s.Resource {
			_, table, ok := strings.Cut(r, ":table/")
			if !strings.HasPrefix(r, "arn:aws:dynamodb:") || !ok || table == "" || strings.ContainsAny(table, "*?/") || (l.table != "" && table != l.table) {
				return false
			}
		}
		return true
	}
	return false
}

// beyondRead lists what the role's policies allow beyond reading and the
// state lock: every "*", s3:DeleteBucket by name, and each other action
// pattern that writes.
func beyondRead(docs []*policyDoc, lock stateLock) []string {
	var out []string
	for _, d := range docs {
		for i := range d.Statement {
			s := &d.Statement[i]
			if !s.allow() {
				continue
			}
			if len(s.NotAction) > 0 {
				out = append(out, fmt.Sprintf("every action but %s (NotAction in %s)", strings.Join(s.NotAction, ","), s.source))
				continue
			}
			for _, p := range s.Action {
				switch {
				case p == "*":
					out = append(out, fmt.Sprintf("every action (\"*\" in %s)", s.source))
				case readOnly(p), lock.stateWrite(p, s), strings.EqualFold(p, "s3:DeleteBucket"): // the last is named below
				default:
					out = append(out, fmt.Sprintf("%q in %s on %s", p, s.source, resources(s)))
				}
			}
		}
	}
	if by := allowedBy(docs, "s3:DeleteBucket"); len(by) > 0 {
		out = append([]string{"s3:DeleteBucket (through " + strings.Join(by, "; ") + ")"}, out...)
	}
	return out
}
