// Package freeze owns plangate's kill switch: markers under
// <state_dir>/freeze that stop applies to one stack (<stack>.json) or to
// every stack (_all.json) until they are cleared. Anyone may freeze;
// plangate unfreeze clears a marker only with an approver's signature.
//
// The presence of a marker is what freezes; its content only explains.
// A marker that cannot be read or parsed — even an empty file a human
// created with touch — still freezes its stack (fail safe), and the
// Freeze returned says what is wrong with it.
package freeze

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/lazyre"
)

// Dir is the markers' directory inside the state directory.
const Dir = "freeze"

// allStacks is the marker file name (without .json) of a freeze of every
// stack; stack names start with a letter, so no stack can be called this.
const allStacks = "_all"

// ErrReasonRequired: a freeze needs a reason.
var ErrReasonRequired = errors.New(`a freeze needs a reason, for whoever finds the stack frozen: plangate freeze [stack] --reason "..."`)

// Freeze is a kill switch in force.
type Freeze struct {
	// Stack is the frozen stack; "" means every stack.
	Stack  string    `json:"stack"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Refusal says what an agent is told of the freeze: who froze what, when
// and why, and that a human must lift it. It does not name the command:
// lifting a freeze is not the agent's to do.
func (f *Freeze) Refusal() string {
	return f.describe() + ". Nothing is applied while the freeze lasts; only a human can lift it: tell them"
}

// Error is the freeze as a human is told of it: with the command that
// lifts it, which takes an approver's key.
func (f *Freeze) Error() string {
	s := f.describe() + " — run plangate unfreeze"
	if f.Stack != "" {
		s += " " + f.Stack
	}
	return s + " --key <approver key file> to resume applies"
}

// describe says who froze what, when and why.
func (f *Freeze) describe() string {
	var b strings.Builder
	if f.Stack == "" {
		b.WriteString("all stacks are frozen")
	} else {
		fmt.Fprintf(&b, "stack %q is frozen", f.Stack)
	}
	if f.By != "" {
		fmt.Fprintf(&b, " by %s", f.By)
	}
	if !f.At.IsZero() {
		fmt.Fprintf(&b, " since %s", f.At.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ": %q", f.Reason)
	return b.String()
}

var stackRE = lazyre.New(`^[a-z][a-z0-9_-]{0,62}$`)

// markerPath returns the marker file of stack ("" for all stacks).
func markerPath(stateDir, stack string) (string, error) {
	name := allStacks
	if stack != "" {
		if !stackRE.MatchString(stack) {
			return "", fmt.Errorf("invalid stack name %q: stack names are 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter", stack)
		}
		name = stack
	}
	return filepath.Join(stateDir, Dir, name+".json"), nil
}

// Set freezes stack ("" for every stack) and returns the freeze now in
// force. Freezing a frozen stack again replaces the reason, author and
// time with the new ones. by defaults to CurrentUser, now to the current
// time.
func Set(stateDir, stack, reason, by string, now time.Time) (*Freeze, error) {
	path, err := markerPath(stateDir, stack)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, ErrReasonRequired
	}
	if by = strings.TrimSpace(by); by == "" {
		by = CurrentUser()
	}
	if now.IsZero() {
		now = time.Now()
	}
	f := &Freeze{Stack: stack, Reason: reason, By: by, At: now.UTC()}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("freeze: writing %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The first freeze made the directory: make its entry durable too.
		if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, fmt.Errorf("freeze: %w", err)
		}
	}
	return f, nil
}

// Clear removes the freeze of stack ("" for the all-stacks freeze, which
// is separate from each stack's own). It reports whether there was one.
func Clear(stateDir, stack string) (bool, error) {
	path, err := markerPath(stateDir, stack)
	if err != nil {
		return false, err
	}
	if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("unfreeze: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return true, fmt.Errorf("unfreeze: %w", err)
	}
	return true, nil
}

// Check returns the freeze in force for stack — its own, else the
// all-stacks one — or nil when applies may proceed. With stack "" it
// checks the all-stacks freeze alone. A marker that exists but cannot be
// read or parsed counts as a freeze whose Reason says what is wrong; the
// only error is an invalid stack name.
func Check(stateDir, stack string) (*Freeze, error) {
	if stack != "" {
		path, err := markerPath(stateDir, stack)
		if err != nil {
			return nil, err
		}
		if f := read(path, stack); f != nil {
			return f, nil
		}
	}
	path, _ := markerPath(stateDir, "")
	return read(path, ""), nil
}

// List returns every freeze marker, the all-stacks one first, then by
// stack name. Files whose names are not a marker's are ignored: they
// freeze nothing.
func List(stateDir string) ([]*Freeze, error) {
	dir := filepath.Join(stateDir, Dir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	var out []*Freeze
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		stack := name
		if name == allStacks {
			stack = ""
		} else if !stackRE.MatchString(name) {
			continue
		}
		if f := read(filepath.Join(dir, e.Name()), stack); f != nil {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stack < out[j].Stack })
	return out, nil
}

// read returns the freeze that the marker at path puts on stack, nil if
// there is no marker.
func read(path, stack string) *Freeze {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	corrupt := func(what string) *Freeze {
		return &Freeze{Stack: stack, Reason: fmt.Sprintf("freeze marker %s %s; treated as frozen until it is removed", path, what)}
	}
	if err != nil {
		return corrupt("cannot be read (" + err.Error() + ")")
	}
	var f Freeze
	if err := json.Unmarshal(b, &f); err != nil {
		return corrupt("is corrupt (" + err.Error() + ")")
	}
	if f.Stack == "" && stack != "" {
		f.Stack = stack // hand-written marker: its file name says which stack
	}
	switch {
	case f.Stack != stack:
		return corrupt(fmt.Sprintf("names stack %q, not %q", f.Stack, stack))
	case strings.TrimSpace(f.Reason) == "":
		f.Reason = fmt.Sprintf("freeze marker %s gives no reason", path)
	}
	return &f
}

// CurrentUser is the OS user name, for Freeze.By and audit actors.
func CurrentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "unknown"
}
