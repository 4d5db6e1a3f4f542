package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
)

// Live is plangate.hcl as plangate enforces it at each moment: re-read on
// every call (a hash of a few kilobytes), merged with the last accepted
// config so that stricter settings apply at once and looser ones wait for
// an approver (Merge). It is safe for concurrent use, and several
// processes may share one record: writes take a lock and re-read.
type Live struct {
	Path string
	// RecordDir holds the accepted-config record; "" means the config
	// path's default state directory (DefaultStateDir). Only a caller
	// that owns a throwaway config (plangate demo) sets it.
	RecordDir string
	// OnAccept reports every acceptance Live records by itself: the first
	// config it sees (AcceptedFirstUse), and stricter settings of an
	// edited file (AcceptedStricter, with the changes). The caller audits
	// them. It is called before the record is written: an acceptance
	// that cannot be audited (an error) is not recorded; on first use that
	// stops Load, and stricter settings are enforced unrecorded until it
	// can be.
	OnAccept func(a *Accepted, changes []Change) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	key    string
	last   *State
	pinned string
}

// State is one reading of the config.
type State struct {
	// Config is what plangate enforces now.
	Config *Config
	// File is plangate.hcl as written, and FileSHA256 its bytes' hash.
	File       *Config
	FileSHA256 string
	// Accepted is the record of the last accepted config.
	Accepted *Accepted
	// Pending are the file's changes that make plangate less safe: they
	// wait for an approver (plangate config accept).
	Pending []Change
	// RecordPath is where the accepted config is kept.
	RecordPath string
	// Unrecorded says why stricter settings that apply are not recorded
	// as accepted yet; "" when they are.
	Unrecorded string

	fileBytes, recordBytes []byte
	accepted               *Config
}

// NewLive returns the live config of the file at path.
func NewLive(path string) (*Live, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("locate config file %s: %w", path, err)
	}
	return &Live{Path: abs}, nil
}

func (l *Live) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

// Pin fixes the state directory of this process's config to the one it
// opened at start: a running plangate keeps its records in one place, and
// an accepted state_dir change takes effect at the next start.
func (l *Live) Pin(stateDir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pinned, l.key = stateDir, ""
}

// Load reads the file and the accepted record and returns what plangate
// enforces. A file with errors is an error (plangate acts on no half-read
// config); so is a record it cannot read.
func (l *Live) Load() (*State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 4 {
		st, retry, err := l.load()
		if err != nil || !retry {
			return st, err
		}
	}
	return nil, errors.New("the accepted config kept changing while plangate read it (other plangate processes writing it): try again")
}

func (l *Live) load() (_ *State, retry bool, _ error) {
	src, err := readConfigFile(l.Path)
	if err != nil {
		return nil, false, err
	}
	recPath, err := l.recordPath()
	if err != nil {
		return nil, false, err
	}
	rec, err := os.ReadFile(recPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read the accepted config %s: %w", recPath, err)
	}
	key := hashHex(src) + hashHex(rec) + l.pinned
	if rec != nil && key == l.key {
		return l.last, false, nil
	}
	file, err := Parse(l.Path, src)
	if err != nil {
		return nil, false, err
	}
	s := &State{File: file, FileSHA256: hashHex(src), RecordPath: recPath, fileBytes: src}
	if rec == nil {
		// The first config this state sees is accepted as it is.
		a := &Accepted{Version: 1, ConfigSHA256: s.FileSHA256, AcceptedAt: l.now(), How: AcceptedFirstUse, Settings: SettingsOf(file), HadApprovers: len(file.Approvers) > 0}
		if l.OnAccept != nil {
			if err := l.OnAccept(a, nil); err != nil {
				return nil, false, fmt.Errorf("plangate cannot accept %s on first use: the audit log could not be written (%v); nothing was accepted", l.Path, err)
			}
		}
		written, err := l.write(recPath, nil, a)
		if err != nil || !written {
			return nil, !written && err == nil, err
		}
		return nil, true, nil
	}
	acc, accCfg, err := ParseAccepted(rec, l.Path)
	if err != nil {
		return nil, false, fmt.Errorf("the accepted config %s is not readable (%v), so plangate does not know which settings were accepted: "+
			"restore it from a backup, or remove it, and the next plangate command accepts plangate.hcl as it is then (check the file first)", recPath, err)
	}
	eff, changes := Merge(accCfg, file)
	if !SettingsOf(eff).Equal(acc.Settings) {
		// The file is stricter somewhere: that applies at once, and
		// for good, so that undoing it waits for an approver too.
		var stricter []Change
		for _, c := range changes {
			if !c.Loosens {
				stricter = append(stricter, c)
			}
		}
		if len(stricter) == 0 {
			return nil, false, fmt.Errorf("plangate.hcl merged with the accepted config %s gives settings that differ from it with no stricter change to name: "+
				"plangate refuses to record it (please report this); remove the record to accept the file as it is", recPath)
		}
		next := *acc
		next.AcceptedAt, next.How, next.Approver, next.Request = l.now(), AcceptedStricter, "", ""
		next.Settings = SettingsOf(eff)
		next.HadApprovers = acc.HadApprovers || len(acc.Settings.Approvers) > 0
		if len(stricter) == len(changes) {
			next.ConfigSHA256 = s.FileSHA256
		}
		var unrecorded error
		if l.OnAccept != nil {
			unrecorded = l.OnAccept(&next, stricter)
		}
		if unrecorded == nil {
			written, err := l.write(recPath, rec, &next)
			if err == nil {
				return nil, written, nil // read again what is recorded now
			}
			unrecorded = err
		}
		// Stricter applies anyway; recording it is retried at the next call.
		s.Unrecorded = fmt.Sprintf("the stricter settings apply, but could not be recorded as accepted yet (%v): plangate retries at every call", unrecorded)
	}
	for _, c := range changes {
		if c.Loosens {
			s.Pending = append(s.Pending, c)
		}
	}
	if l.pinned != "" {
		eff.StateDir = l.pinned
	}
	s.Config, s.Accepted, s.accepted, s.recordBytes = eff, acc, accCfg, rec
	if s.Unrecorded == "" {
		l.key, l.last = key, s
	}
	return s, false, nil
}

// Accept records the file of s as accepted by approver, through the
// signed request with the given fingerprint. It refuses if the file or
// the record changed since s was read: the approver signed what they saw.
func (l *Live) Accept(s *State, approver, requestFingerprint string) (*Accepted, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src, err := readConfigFile(l.Path)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(src, s.fileBytes) {
		return nil, fmt.Errorf("%s changed while you reviewed it: nothing was accepted; run plangate config accept again to review the file as it is now", l.Path)
	}
	a := &Accepted{Version: 1, ConfigSHA256: s.FileSHA256, AcceptedAt: l.now(), How: AcceptedByApprover,
		Approver: approver, Request: requestFingerprint, Settings: SettingsOf(s.File),
		HadApprovers: s.Accepted.HadApprovers || len(s.Accepted.Settings.Approvers) > 0 || len(s.File.Approvers) > 0}
	written, err := l.write(s.RecordPath, s.recordBytes, a)
	if err != nil {
		return nil, err
	}
	if !written {
		return nil, errors.New("the accepted config changed while you reviewed (another plangate recorded it): nothing was accepted; run plangate config accept again")
	}
	l.key = ""
	return a, nil
}

// Revert puts back the record s was read with, in place of a, which
// Accept wrote: an acceptance that cannot be audited is undone.
func (l *Live) Revert(s *State, a *Accepted) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	written, err := l.swap(s.RecordPath, b, s.recordBytes)
	l.key = ""
	if err == nil && !written {
		err = errors.New("the accepted config changed meanwhile")
	}
	return err
}

// Signers are the approvers who may accept the file of s: the accepted
// approvers that the file still names (a key being replaced is accepted
// with the old one). While no approver was ever accepted, the file's own
// approvers may, so that the first approver can be added (an agent that
// edits the file could do the same then: add the approver before the
// first use). Once one was, removing every approver from the file never
// reopens that door: nobody can accept until a human resets the record.
func (s *State) Signers() []*Approver {
	if len(s.accepted.Approvers) == 0 && !s.Accepted.HadApprovers {
		return s.File.Approvers
	}
	var out []*Approver
	for _, a := range s.accepted.Approvers {
		if _, ok := s.File.Approver(a.Name); ok {
			out = append(out, a)
		}
	}
	return out
}

// PendingApprover reports whether name is an approver the file adds (or
// gives a new key) that is not accepted yet.
func (s *State) PendingApprover(name string) bool {
	for _, c := range s.Pending {
		if c.Setting == fmt.Sprintf("approver %q", name) {
			return true
		}
	}
	return false
}

// PendingNote says, in one line, that changes wait for acceptance; ""
// when none do.
func (s *State) PendingNote() string {
	if len(s.Pending) == 0 {
		return ""
	}
	names := make([]string, 0, 3)
	for i, c := range s.Pending {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(s.Pending)-3))
			break
		}
		names = append(names, c.String())
	}
	return fmt.Sprintf("%s has %d change(s) that make plangate less safe (%s); they wait for an approver to accept them "+
		"(plangate config status shows them), and until then plangate enforces the accepted settings",
		filepath.Base(s.File.Path), len(s.Pending), strings.Join(names, "; "))
}

// write replaces the record at path with a if it still holds prev (nil:
// absent), under a lock shared by every plangate process; written is
// false when another process changed it first.
func (l *Live) write(path string, prev []byte, a *Accepted) (written bool, _ error) {
	b, err := a.Marshal()
	if err != nil {
		return false, err
	}
	return l.swap(path, prev, b)
}

// swap replaces the file at path, if it holds prev (nil: absent), by b
// (nil: removes it).
func (l *Live) swap(path string, prev, b []byte) (written bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("record the accepted config: %w", err)
	}
	err = flock.WithFile(path+".lock", func() error {
		cur, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if !bytes.Equal(cur, prev) || (cur == nil) != (prev == nil) {
			return nil
		}
		if b == nil {
			if err := os.Remove(path); err != nil {
				return err
			}
		} else if err := atomicfile.WriteFile(path, b); err != nil {
			return err
		}
		written = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record the accepted config in %s: %w", path, err)
	}
	return written, nil
}

// recordPath is the accepted record's place: the config path's default
// state directory.
func (l *Live) recordPath() (string, error) {
	if l.RecordDir != "" {
		return filepath.Join(l.RecordDir, AcceptedFileName), nil
	}
	dir, err := RecordDir(l.Path)
	if err != nil {
		return "", fmt.Errorf("plangate keeps the accepted config in the user's state directory: %w", err)
	}
	return filepath.Join(dir, AcceptedFileName), nil
}

func readConfigFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist: run plangate init to create one, "+
			"or point --config or $%s at your plangate.hcl: %w", path, EnvVar, err)
	case err != nil:
		return nil, fmt.Errorf("read config file: %w", err)
	case info.IsDir():
		return nil, fmt.Errorf("config file %s is a directory: pass the path of the plangate.hcl file itself", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return src, nil
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// StatusView is a reading of the config as plangate config status shows
// it, locally or from a plangate server.
type StatusView struct {
	Path       string    `json:"path"`
	FileSHA256 string    `json:"file_sha256"`
	Accepted   *Accepted `json:"accepted"`
	RecordPath string    `json:"record_path"`
	Pending    []Change  `json:"pending"`
	// Signers are the approvers who may accept the file now.
	Signers []string `json:"signers"`
}

// View is s as plangate config status shows it.
func (s *State) View() *StatusView {
	v := &StatusView{Path: s.File.Path, FileSHA256: s.FileSHA256, Accepted: s.Accepted, RecordPath: s.RecordPath,
		Pending: append([]Change{}, s.Pending...), Signers: []string{}}
	for _, a := range s.Signers() {
		v.Signers = append(v.Signers, a.Name)
	}
	return v
}
