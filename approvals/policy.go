package approvals

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/plangate/plangate/config"
)

// maxProtectedReasons bounds the blocked reasons listed one per protected
// address; ProtectedHits always lists every one.
const maxProtectedReasons = 20

// Facts are what a stack's policy judges a plan by: every resource
// instance it destroys and the size of the stack it destroys them in. The
// gate derives them from the plan; policy needs nothing else.
type Facts struct {
	// Deleted lists every instance the plan destroys, one entry per
	// destroyed object (a deposed object is an entry of its own).
	Deleted []Deleted
	// Managed is the number of managed resource instances in the state
	// the plan was made against: the base of the mass-deletion ratio.
	Managed int
	// Code is the code the plan runs besides the providers: provisioners
	// and external data sources.
	Code []Code
	// Providers are the provider sources the plan uses.
	Providers []string
}

// Code is one piece of code a plan runs, as policy sees it.
type Code struct {
	Address string
	// Kind is the provisioner type (local-exec, remote-exec, file, …) or
	// "external" for an external data source.
	Kind string
}

// Deleted is one destroyed object, as policy sees it.
type Deleted struct {
	Address string
	// PreviousAddress is the address it had before a moved block (or a
	// module rename) gave it Address; empty when it did not move.
	PreviousAddress string
	// Replace is set when the instance is destroyed to be created anew.
	Replace bool
	// Deposed is the deposed key when the object destroyed is deposed.
	Deposed string
}

// Verdict is what policy says of a plan before anyone approves it.
type Verdict struct {
	// ApprovalsRequired is the number of distinct approvers it needs.
	ApprovalsRequired int
	// ProtectedHits lists every destroyed address that matches a
	// protected pattern.
	ProtectedHits []string
	// BlockedReasons say why the plan can never be approved; empty when
	// it can be.
	BlockedReasons []string
}

// Blocked reports whether policy forbids the plan whatever the approvals.
func (v Verdict) Blocked() bool { return len(v.BlockedReasons) > 0 }

// Evaluate applies the stack's policy to a plan's facts: how many
// approvers it needs, which protected addresses it hits, and why it is
// blocked, if it is. A blocked plan can never be approved or applied.
func Evaluate(st *config.Stack, f Facts) Verdict {
	v := evaluateDeletions(st, f)
	if st != nil {
		v.BlockedReasons = append(v.BlockedReasons, codeReasons(st, f)...)
	}
	return v
}

// evaluateDeletions is Evaluate's judgement of what the plan destroys.
func evaluateDeletions(st *config.Stack, f Facts) Verdict {
	if st == nil {
		return Verdict{ApprovalsRequired: 1, BlockedReasons: []string{"the plan has no stack, so no policy applies to it: plan again through a configured stack"}}
	}
	deleted, managed := f.Deleted, f.Managed
	p := st.Policy
	v := Verdict{ApprovalsRequired: max(p.Approvals, 1)}
	n := len(deleted)
	if n == 0 {
		return v
	}
	v.ApprovalsRequired = max(v.ApprovalsRequired, p.DeletionApprovals)

	// Protected addresses.
	var patterns []*addrPattern
	for _, raw := range p.Protected {
		pat, err := parseAddress(raw, true)
		if err != nil {
			v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
				"protected pattern %q of stack %q is not valid (%v), so plangate cannot tell whether this plan destroys a protected resource: fix the pattern in plangate.hcl",
				raw, st.Name, err))
			continue
		}
		pat.text = raw
		patterns = append(patterns, pat)
	}
	hit := map[string]bool{}
	for _, d := range deleted {
		if hit[d.Address] {
			continue
		}
		// Every address the instance has in the plan: a moved block
		// cannot rename a protected resource out of its protection.
		names := []string{d.Address}
		if d.PreviousAddress != "" && d.PreviousAddress != d.Address {
			names = append(names, d.PreviousAddress)
		}
	patterns:
		for _, pat := range patterns {
			for _, name := range names {
				if !matches(pat, name) {
					continue
				}
				hit[d.Address] = true
				v.ProtectedHits = append(v.ProtectedHits, d.Address)
				if len(v.ProtectedHits) <= maxProtectedReasons {
					what := d.Address
					if name != d.Address {
						what += " (moved from " + name + ")"
					}
					v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
						"%s would be %s, but it matches protected pattern %q: protected resources are never deleted or replaced "+
							"(remove it from `protected` in plangate.hcl if this is really intended)",
						what, deletionVerb(d), pat.text))
				}
				break patterns
			}
		}
	}

	if more := len(v.ProtectedHits) - maxProtectedReasons; more > 0 {
		v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
			"%d more protected resources would be deleted or replaced (protected_hits lists them all): protected resources are never deleted or replaced", more))
	}

	// Absolute limit.
	if p.MaxDeletions >= 0 && n > p.MaxDeletions {
		if p.MaxDeletions == 0 {
			v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
				"the plan destroys %s, but stack %q allows no deletions (max_deletions = 0): change the plan so it destroys nothing, "+
					"or raise max_deletions in the stack's policy block in plangate.hcl",
				instances(n), st.Name))
		} else {
			v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
				"the plan destroys %s, more than the %d that stack %q allows (max_deletions = %d): split the change into smaller plans, "+
					"or raise max_deletions in the stack's policy block in plangate.hcl",
				instances(n), p.MaxDeletions, st.Name, p.MaxDeletions))
		}
	}

	// Mass deletion: the "delete and recreate the environment" case.
	ratio := p.MaxDeletionRatio
	if ratio <= 0 || ratio > 1 || math.IsNaN(ratio) {
		ratio = config.DefaultMaxDeletionRatio
	}
	if managed > 0 && p.RatioApplies(managed) && float64(n)/float64(managed) > ratio {
		v.BlockedReasons = append(v.BlockedReasons, fmt.Sprintf(
			"the plan destroys %d of %d resources (%s) in stack %q, more than max_deletion_ratio = %s (%s) allows: "+
				"this is the delete-and-recreate-the-environment case, which plangate blocks outright; change the plan so it destroys fewer resources, "+
				"or raise max_deletion_ratio in the stack's policy block in plangate.hcl if this is really intended",
			n, managed, percent(float64(n)/float64(managed)), st.Name, strconv.FormatFloat(ratio, 'g', -1, 64), percent(ratio)))
	}
	return v
}

// matches reports whether pattern pat matches the address (an address
// that does not parse is matched only by a pattern that is its text).
func matches(pat *addrPattern, address string) bool {
	addr, err := parseAddress(address, false)
	if err != nil {
		return pat.text == address
	}
	return pat.match(addr)
}

func deletionVerb(d Deleted) string {
	switch {
	case d.Deposed != "":
		return "destroyed (deposed object " + d.Deposed + ")"
	case d.Replace:
		return "replaced"
	default:
		return "destroyed"
	}
}

func instances(n int) string {
	if n == 1 {
		return "1 resource instance"
	}
	return fmt.Sprintf("%d resource instances", n)
}

// percent renders a share, rounded up to a tenth of a percent so that a
// share just above a limit never prints as equal to it.
func percent(share float64) string {
	p := math.Ceil(share*1000-1e-9) / 10
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// MatchAddress reports whether the resource instance address matches the
// protected-address pattern; the package comment gives the rules. A pattern
// that ValidatePattern refuses matches nothing; an address that is not a
// resource instance address is matched only by a pattern equal to it.
func MatchAddress(pattern, address string) bool {
	addr, err := parseAddress(address, false)
	if err != nil {
		return pattern == address
	}
	pat, err := parseAddress(pattern, true)
	if err != nil {
		return false
	}
	return pat.match(addr)
}

// ValidatePattern checks a protected-address pattern, with an error that
// says what is wrong.
func ValidatePattern(pattern string) error {
	if _, err := parseAddress(pattern, true); err != nil {
		return fmt.Errorf("protected address pattern %q is not valid: %v; write an address such as aws_db_instance.main, "+
			"aws_instance.web[*], module.data.* or module.*.aws_db_instance.main", pattern, err)
	}
	return nil
}

// addrStep is one step of an address or pattern: a module call, or the
// resource at the end.
type addrStep struct {
	typ    string // resource type; "" for a module step
	name   string
	key    string // the text between the brackets, quotes included
	hasKey bool
}

// addrPattern is a parsed address or pattern.
type addrPattern struct {
	modules  []addrStep
	resource *addrStep // nil for a subtree pattern
	data     bool      // resource is a data resource
	// subtree: a pattern that matches everything under its modules.
	subtree bool
	text    string
}

// parseAddress splits an address into its steps. With pattern set, '*' is
// allowed in names and keys, and a pattern may end after its module steps
// or with a lone '*' (a subtree).
func parseAddress(s string, pattern bool) (*addrPattern, error) {
	toks, err := splitSteps(s)
	if err != nil {
		return nil, err
	}
	for _, tok := range toks {
		if tok == "" {
			return nil, errors.New("an empty step (two dots in a row, or a dot at an end)")
		}
	}
	a := &addrPattern{}
	for i := 0; i < len(toks); {
		tok := toks[i]
		switch {
		case tok == "module":
			if i+1 >= len(toks) {
				return nil, errors.New(`"module" is not followed by a module name`)
			}
			st, err := parsePart(toks[i+1], true, pattern)
			if err != nil {
				return nil, err
			}
			a.modules = append(a.modules, st)
			i += 2
			continue
		case pattern && tok == "*" && i == len(toks)-1:
			a.subtree = true
			return a, nil
		}
		if tok == "data" {
			a.data = true
			i++
		}
		if i+1 >= len(toks) {
			if a.data {
				return nil, errors.New("a data resource needs a type and a name (data.<type>.<name>)")
			}
			return nil, fmt.Errorf("%q is not followed by a resource name (<type>.<name>)", tok)
		}
		typ, err := parsePart(toks[i], false, pattern)
		if err != nil {
			return nil, err
		}
		res, err := parsePart(toks[i+1], true, pattern)
		if err != nil {
			return nil, err
		}
		res.typ = typ.name
		a.resource = &res
		if i+2 != len(toks) {
			return nil, errors.New("the resource must be the last step (module.<name>. … <type>.<name>[key])")
		}
		return a, nil
	}
	if !pattern {
		return nil, errors.New("it names no resource")
	}
	if len(a.modules) == 0 {
		return nil, errors.New("it is empty")
	}
	a.subtree = true
	return a, nil
}

// splitSteps splits s on the dots between its parts, leaving dots, brackets
// and escaped quotes inside quoted instance keys alone.
func splitSteps(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("it is empty")
	}
	var toks []string
	depth, inQuote, escaped, start := 0, false, false, 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && ch == '\\':
			escaped = true
		case inQuote:
			if ch == '"' {
				inQuote = false
			}
		case ch == '"':
			if depth == 0 {
				return nil, errors.New("a quote outside an instance key")
			}
			inQuote = true
		case ch == '[':
			if depth > 0 {
				return nil, errors.New("brackets inside an instance key must be quoted")
			}
			depth++
		case ch == ']':
			if depth == 0 {
				return nil, errors.New("a ']' without '['")
			}
			depth--
		case ch == '.' && depth == 0:
			toks = append(toks, s[start:i])
			start = i + 1
		}
	}
	if inQuote || depth > 0 {
		return nil, errors.New("an instance key is not closed")
	}
	return append(toks, s[start:]), nil
}

// parsePart reads name[key] (key only when keyed is set).
func parsePart(tok string, keyed, pattern bool) (addrStep, error) {
	var st addrStep
	name, rest, hasKey := strings.Cut(tok, "[")
	if err := checkName(name, pattern); err != nil {
		return st, err
	}
	st.name = name
	if !hasKey {
		return st, nil
	}
	if !keyed {
		return st, fmt.Errorf("a resource type (%s) has no instance key", name)
	}
	key, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return st, fmt.Errorf("text after the instance key of %s", name)
	}
	if err := checkKey(key, pattern); err != nil {
		return st, fmt.Errorf("instance key of %s: %w", name, err)
	}
	st.key, st.hasKey = key, true
	return st, nil
}

func checkName(name string, pattern bool) error {
	if name == "" {
		return errors.New("an empty step (two dots in a row, or a dot at an end)")
	}
	for _, r := range name {
		switch {
		case r == '*' && pattern:
		case r == '*', r == '"', r == '\\', r == ']', unicode.IsSpace(r), unicode.IsControl(r), r == unicode.ReplacementChar:
			return fmt.Errorf("%q is not a name", name)
		}
	}
	return nil
}

// checkKey accepts a number (digits), a quoted string, or with pattern set
// digits and '*'.
func checkKey(key string, pattern bool) error {
	if key == "" {
		return errors.New("it is empty")
	}
	if key[0] == '"' {
		// The string must be the whole key: ["a"] but not ["a"]x or ["a"][0].
		for i := 1; i < len(key); i++ {
			switch key[i] {
			case '\\':
				i++
			case '"':
				if i != len(key)-1 {
					return errors.New("text after the quoted key")
				}
				return nil
			}
		}
		return errors.New("the quoted key is not closed")
	}
	for _, r := range key {
		if !(r >= '0' && r <= '9' || pattern && r == '*') {
			return errors.New("it is neither a number nor a quoted string")
		}
	}
	return nil
}

// match reports whether the pattern p matches the address a.
func (p *addrPattern) match(a *addrPattern) bool {
	if a.resource == nil {
		return false
	}
	if p.subtree {
		if len(a.modules) < len(p.modules) {
			return false
		}
	} else if len(a.modules) != len(p.modules) || p.data != a.data {
		return false
	}
	for i, m := range p.modules {
		if !m.matchStep(a.modules[i]) {
			return false
		}
	}
	if p.subtree {
		return true
	}
	return glob(p.resource.typ, a.resource.typ) && p.resource.matchStep(*a.resource)
}

// matchStep matches name and key; a step without a key matches every
// instance.
func (s addrStep) matchStep(a addrStep) bool {
	if !glob(s.name, a.name) {
		return false
	}
	if !s.hasKey {
		return true
	}
	return glob(s.key, a.key)
}

// glob matches s against pattern, where '*' matches any run of bytes. It
// runs in O(len(pattern)·len(s)) at worst.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
