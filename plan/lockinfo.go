package plan

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/internal/tfbin"
)

// LockInfo is who holds a stack's Terraform state lock, as Terraform
// reports it when it cannot acquire the lock ("Lock Info:" in the
// diagnostic's detail).
type LockInfo struct {
	ID        string `json:"id,omitempty"`
	Path      string `json:"path,omitempty"`
	Operation string `json:"operation,omitempty"`
	Who       string `json:"who,omitempty"`
	Version   string `json:"version,omitempty"`
	Created   string `json:"created,omitempty"`
	Info      string `json:"info,omitempty"`
}

// lockSummary is the summary of Terraform's diagnostic for a state lock
// held by someone else.
const lockSummary = "Error acquiring the state lock"

// ParseLockInfo reads the "Lock Info:" block of a Terraform diagnostic's
// detail. ok is false when the detail has no such block. Values are clipped
// to 256 bytes and stripped of control characters (the detail is
// Terraform's, but the lock's Who and Info fields are whatever the other
// run wrote).
func ParseLockInfo(detail string) (info LockInfo, ok bool) {
	_, rest, found := strings.Cut(detail, "Lock Info:\n")
	if !found {
		return LockInfo{}, false
	}
	fields := map[string]*string{
		"ID": &info.ID, "Path": &info.Path, "Operation": &info.Operation, "Who": &info.Who,
		"Version": &info.Version, "Created": &info.Created, "Info": &info.Info,
	}
	for _, line := range strings.Split(rest, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		key, value, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found {
			continue
		}
		if dst, known := fields[key]; known && *dst == "" {
			*dst = cleanField(value)
			ok = true
		}
	}
	return info, ok
}

// cleanField drops control and format characters (C0, C1, bidi overrides,
// zero-width marks) and clips the value.
func cleanField(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	return Truncate(s, 256)
}

// lockIDPattern is what a lock ID must look like for plangate to print it
// inside a command a human may paste: Terraform's lock IDs are UUIDs, but
// whoever can write the lock object chooses the ID.
var lockIDPattern = lazyre.New(`^[0-9A-Za-z._-]{1,128}$`)

// StateLockError is a plan that did not run because another run holds the
// stack's state lock. Nothing was recorded.
type StateLockError struct {
	Stack string
	Dir   string
	Lock  LockInfo
	// Product is the program that found the lock (Terraform when not known).
	Product tfbin.Product
}

func (e *StateLockError) Error() string {
	l := e.Lock
	var b strings.Builder
	fmt.Fprintf(&b, "stack %q: the %s state is locked by another run, so nothing ran", e.Stack, e.Product)
	if l.Who != "" {
		fmt.Fprintf(&b, ": held by %s", l.Who)
	}
	if l.Created != "" {
		fmt.Fprintf(&b, " since %s", l.Created)
	}
	id := l.ID
	if id != "" && !lockIDPattern.MatchString(id) {
		id = fmt.Sprintf("%q (not a lock ID Terraform makes)", id)
	}
	var details []string
	for _, f := range []struct{ name, v string }{
		{"operation", l.Operation}, {"lock ID", id}, {e.Product.String(), l.Version}, {"path", l.Path}, {"info", l.Info},
	} {
		if f.v != "" {
			details = append(details, f.name+" "+f.v)
		}
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
	}
	b.WriteString(". Wait for that run to finish and try again. If it died and left the lock behind, a human (not the agent) checks that nothing is running and releases it with `" + e.Product.Command() + " force-unlock ")
	if lockIDPattern.MatchString(l.ID) {
		b.WriteString(l.ID)
	} else {
		b.WriteString("<lock ID>")
	}
	fmt.Fprintf(&b, "` in %s", e.Dir)
	return b.String()
}

// LockErrorFrom returns the StateLockError of a stack whose Terraform
// diagnostics say another run holds the state lock, nil otherwise.
// Terraform gives every failure to lock the same summary (access denied on
// the lock object or table, the network...): only a diagnostic that names
// the holder's lock counts; the others stay Terraform's errors.
func LockErrorFrom(stack, dir string, diags []Diagnostic) *StateLockError {
	for _, d := range diags {
		if d.Severity != "error" || d.Summary != lockSummary {
			continue
		}
		if info, ok := ParseLockInfo(d.Detail); ok && info.ID != "" {
			return &StateLockError{Stack: stack, Dir: dir, Lock: info}
		}
	}
	return nil
}
