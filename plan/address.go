package plan

import (
	"sort"
	"strings"
)

// compareAddress orders addresses the way a reader expects: digit runs
// compare as numbers, so web[2] comes before web[10].
func compareAddress(x, y string) int {
	for x != "" && y != "" {
		xd, yd := isDigit(x[0]), isDigit(y[0])
		if xd && yd {
			xn, xr := digitRun(x)
			yn, yr := digitRun(y)
			xt := strings.TrimLeft(xn, "0")
			yt := strings.TrimLeft(yn, "0")
			if len(xt) != len(yt) {
				return cmpInt(len(xt), len(yt))
			}
			if c := strings.Compare(xt, yt); c != 0 {
				return c
			}
			if c := cmpInt(len(xn), len(yn)); c != 0 {
				return c
			}
			x, y = xr, yr
			continue
		}
		if x[0] != y[0] {
			return cmpInt(int(x[0]), int(y[0]))
		}
		x, y = x[1:], y[1:]
	}
	return cmpInt(len(x), len(y))
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// GroupDeletions counts deletions by module path and resource type, for
// plans that delete too many instances to list one by one. The module path
// drops instance keys (module.web[0] and module.web[1] are both
// "module.web"); groups are sorted by module, then type.
func GroupDeletions(d []Deletion) []Group {
	counts := map[Group]int{}
	for _, del := range d {
		module, typ := splitAddress(del.Address)
		counts[Group{Module: module, Type: typ}]++
	}
	out := make([]Group, 0, len(counts))
	for g, n := range counts {
		g.Count = n
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Module != out[j].Module {
			return out[i].Module < out[j].Module
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// splitAddress returns the module path (without instance keys) and the
// resource type of a resource instance address.
func splitAddress(addr string) (module, typ string) {
	steps := addressSteps(addr)
	var mods []string
	i := 0
	for i+1 < len(steps) && steps[i] == "module" {
		mods = append(mods, "module."+stripKey(steps[i+1]))
		i += 2
	}
	if i < len(steps) && steps[i] == "data" && i+1 < len(steps) {
		typ = "data." + steps[i+1]
	} else if i < len(steps) {
		typ = steps[i]
	}
	return strings.Join(mods, "."), typ
}

// addressSteps splits an address on the dots that separate its steps,
// leaving dots inside instance keys (["a.b"]) alone.
func addressSteps(addr string) []string {
	var steps []string
	depth, inQuote, escaped, start := 0, false, false, 0
	for i := 0; i < len(addr); i++ {
		ch := addr[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && ch == '\\':
			escaped = true
		case ch == '"':
			inQuote = !inQuote
		case inQuote:
		case ch == '[':
			depth++
		case ch == ']':
			depth--
		case ch == '.' && depth == 0:
			steps = append(steps, addr[start:i])
			start = i + 1
		}
	}
	return append(steps, addr[start:])
}

func stripKey(step string) string {
	if i := strings.IndexByte(step, '['); i >= 0 {
		return step[:i]
	}
	return step
}
