// Package lazyre holds regular expressions compiled on first use rather
// than at program start. A pattern with counted repetitions ({0,62},
// {1,256}) compiles into a program as long as its count, and the dozen
// plangate's packages declare took about 10 ms of every start, before
// plangate serve could answer tools/list.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regexp.Regexp compiled by its first MatchString.
type Regexp struct {
	compile func() *regexp.Regexp
}

// New returns expr, to be compiled on first use; it panics then if expr
// does not compile, as regexp.MustCompile does (the patterns are
// constants, checked by every test that uses them).
func New(expr string) *Regexp {
	return &Regexp{compile: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}

// MatchString reports whether s contains any match of the expression.
func (r *Regexp) MatchString(s string) bool { return r.compile().MatchString(s) }
