package lazyre

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatchesAsRegexpDoes(t *testing.T) {
	re := New(`^[a-z][a-z0-9_-]{0,62}$`)
	assert.True(t, re.MatchString("web"))
	assert.False(t, re.MatchString("Web"))
	assert.False(t, re.MatchString("a"+string(make([]byte, 63))))
}

func TestBadExpressionPanicsOnFirstUse(t *testing.T) {
	re := New(`(`)
	assert.Panics(t, func() { re.MatchString("x") })
}
