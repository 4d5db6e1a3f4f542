package plan

import (
	"strconv"
	"strings"
)

// What the renderer knows of schemas and Terraform versions without asking
// Terraform: plan JSON carries neither provider schemas nor rendering
// rules, and Terraform's text depends on both.

// dynamicAttributes names the top-level attributes of a resource whose
// schema type is dynamic (cty.DynamicPseudoType), for the one provider
// whose schema plangate knows without asking: Terraform's built-in
// terraform_data. Terraform renders a dynamic value as plain JSON, and its
// JSON renderer never notes "# forces replacement", even where
// replace_paths names the attribute (terraform_data's triggers_replace);
// only a dynamic attribute that is sensitive or unknown as a whole gets the
// note, from the attribute's own renderer.
func dynamicAttributes(c *resourceChange) map[string]bool {
	if c.Type == "terraform_data" && !c.isData() {
		return terraformDataDynamic
	}
	return nil
}

var terraformDataDynamic = map[string]bool{"input": true, "output": true, "triggers_replace": true}

// withoutDynamic drops the replace paths inside a dynamic attribute (the
// attribute's own path stays: see differ.dynamic).
func withoutDynamic(paths []any, dynamic map[string]bool) []any {
	if len(dynamic) == 0 {
		return paths
	}
	var out []any
	for _, p := range paths {
		if steps, ok := p.([]any); ok && len(steps) > 0 {
			if name, ok := steps[0].(string); ok && dynamic[name] && len(steps) > 1 {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// pairsEqualLengthLists reports whether the Terraform that wrote the plan
// (its terraform_version) pairs equal-length lists position by position:
// Terraform 1.8 and later. An unreadable version is taken for a recent one.
func pairsEqualLengthLists(version string) bool {
	major, minor, ok := majorMinor(version)
	return !ok || major > 1 || (major == 1 && minor >= 8)
}

// versionAtLeast11 reports whether version is major.minor or later; an
// unreadable version is taken for a recent one.
func versionAtLeast11(version string, wantMajor, wantMinor int) bool {
	major, minor, ok := majorMinor(version)
	return !ok || major > wantMajor || (major == wantMajor && minor >= wantMinor)
}

// schemaRules are the rules of rendering with a schema that changed
// between Terraform versions (OpenTofu 1.10 keeps those of Terraform 1.7).
type schemaRules struct {
	// blockStrings: only a block's own attributes take "" for null, and
	// such an attribute, null then, is left out (before Terraform 1.8;
	// from 1.8 on every value of a legacy schema does, counted unchanged).
	blockStrings bool
	// unknownBlocks: a collection of nested blocks that is unknown shows
	// as "+ name (known after apply)" (Terraform 1.10 on).
	unknownBlocks bool
	// tofuUnknownBlocks: OpenTofu's way with an unknown nested block (of
	// any nesting): one "(known after apply)" block (see diffBlockGroup).
	tofuUnknownBlocks bool
}

func schemaRulesFor(version string) schemaRules {
	return schemaRules{blockStrings: !versionAtLeast11(version, 1, 8), unknownBlocks: versionAtLeast11(version, 1, 10)}
}

func majorMinor(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	var err1, err2 error
	major, err1 = strconv.Atoi(parts[0])
	minor, err2 = strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}
