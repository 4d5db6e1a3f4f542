package plan

import "strings"

// Multi-line strings, printed as Terraform prints them: <<-EOT blocks, a
// changed one line by line.

// heredoc writes a multi-line string as Terraform does, every line marked
// with the same symbol.
func (r *renderer) heredoc(indent int, o renderOpts, replace bool, act action, lines []string) {
	r.print("<<-EOT")
	r.forcesReplacement(replace, o)
	r.print("\n")
	for _, l := range lines {
		r.heredocLine(indent, aNoOp, l)
	}
	r.printf("%s%s EOT", indentation(indent), r.sym(aNoOp))
	r.nullSuffix(act, o)
}

// heredocLines splits a multi-line string into the lines Terraform shows:
// the string trimmed of the blanks and newlines around it, as Terraform
// trims it.
func heredocLines(s string) []string {
	return strings.Split(strings.TrimSpace(s), "\n")
}

// heredocLine writes one line of a multi-line string (an empty one keeps
// its indentation, as in Terraform's text).
func (r *renderer) heredocLine(indent int, act action, line string) {
	r.print(indentation(indent+1) + r.sym(act) + " " + Printable(line) + "\n")
}

func (r *renderer) multilineUpdate(d *vdiff, indent int, o renderOpts) {
	toLines := func(v any) []any {
		var out []any
		s, ok := v.(string)
		switch {
		case ok && strings.Contains(s, "\n"):
			for _, l := range heredocLines(s) {
				out = append(out, l)
			}
		case ok:
			out = append(out, s)
		default:
			out = append(out, primitiveString(v))
		}
		return out
	}
	b, a := toLines(d.before), toLines(d.after)
	var pairs [][2]int
	switch {
	case !r.lcsOnly && len(b) == len(a) && !isReorder(b, a):
		// Line by line, as Terraform >= 1.8 pairs equal-length lists.
		for i := range b {
			pairs = append(pairs, [2]int{i, i})
		}
	case len(b)*len(a) > maxLCSCells:
		for i := range b {
			pairs = append(pairs, [2]int{i, -1})
		}
		for j := range a {
			pairs = append(pairs, [2]int{-1, j})
		}
	default:
		pairs = alignLists(b, a)
	}
	r.print("<<-EOT")
	r.forcesReplacement(d.replace, o)
	r.print("\n")
	for _, p := range pairs {
		switch {
		case p[0] < 0:
			r.heredocLine(indent, aCreate, a[p[1]].(string))
		case p[1] < 0:
			r.heredocLine(indent, aDelete, b[p[0]].(string))
		case b[p[0]] != a[p[1]]:
			r.heredocLine(indent, aDelete, b[p[0]].(string))
			r.heredocLine(indent, aCreate, a[p[1]].(string))
		default:
			r.heredocLine(indent, aNoOp, b[p[0]].(string))
		}
	}
	r.printf("%s%s EOT", indentation(indent), r.sym(aNoOp))
}
