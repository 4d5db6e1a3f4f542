package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// checkJSONObject checks that data is exactly one JSON object whose keys, at
// every depth, are unique, and whose top-level keys are exactly those in
// required plus any in optional, spelt exactly so. encoding/json alone would
// take the last of two duplicate keys and match keys case-insensitively:
// both let two different texts mean the same thing, or one text mean
// different things to different readers.
func checkJSONObject(data []byte, required, optional []string) error {
	if err := checkUniqueKeys(data); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return errors.New("it is not a JSON object")
	}
	for _, k := range required {
		if _, ok := fields[k]; !ok {
			return fmt.Errorf("field %q is missing", k)
		}
	}
	var unknown []string
	for k := range fields {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("field %q is unknown", unknown[0])
	}
	return nil
}

// checkUniqueKeys walks the JSON value in data and refuses duplicate object
// keys at any depth and anything after the first value.
func checkUniqueKeys(data []byte) error {
	type frame struct {
		object    bool
		expectKey bool
		seen      map[string]bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	started := false
	for {
		if started && len(stack) == 0 {
			// One complete value read: only whitespace may follow.
			if _, err := dec.Token(); err != io.EOF {
				return errors.New("there is data after the JSON value")
			}
			return nil
		}
		tok, err := dec.Token()
		if err == io.EOF {
			return errors.New("it is empty or incomplete JSON")
		}
		if err != nil {
			return errors.New("it is not valid JSON")
		}
		started = true
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, expectKey: true, seen: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{})
			default: // '}' or ']'
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				top := stack[n-1]
				if top.seen[t] {
					return fmt.Errorf("field %q appears twice", t)
				}
				top.seen[t] = true
				top.expectKey = false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
