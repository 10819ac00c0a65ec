package update

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// Slot names and files in the slots directory:
//
//	a/, b/         install slots: the bundle's files (captura-agent, ...) and bundle.hdr
//	current        symlink to a or b: what the launcher runs
//	state.cbor     State, written atomically (the single source of truth)
//	download/      the job being downloaded (see download.go)
//
// Every change writes state.cbor first and then makes the current link follow it, so
// after a crash at any instant the launcher finds state.cbor old or new, never torn,
// and repairs the link from it.
const (
	SlotA       = "a"
	SlotB       = "b"
	CurrentLink = "current"
	StateFile   = "state.cbor"
	HeaderFile  = "bundle.hdr"
	// Entry is the agent binary in a slot.
	Entry = bundle.ProductAgent
)

// Other returns the slot that is not s.
func Other(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// SlotState is the durable state of the slots.
type SlotState struct {
	V         uint                `cbor:"v"`
	Committed string              `cbor:"committed,omitempty"` // the known-good slot
	Slots     map[string]SlotInfo `cbor:"slots,omitempty"`     // what each slot holds
	Floor     string              `cbor:"floor,omitempty"`     // anti-rollback floor: no bundle below it is installed
	Trial     *Trial              `cbor:"trial,omitempty"`     // a new slot on trial
	Last      *Result             `cbor:"last,omitempty"`      // outcome of the latest job
}

// SlotInfo describes an installed slot.
type SlotInfo struct {
	Version string      `cbor:"version"`
	SHA256  []byte      `cbor:"sha256"`        // of the agent binary
	Job     protocol.ID `cbor:"job,omitempty"` // the job that installed it (zero when seeded)
}

// Trial is a slot that must prove itself healthy.
type Trial struct {
	Slot    string      `cbor:"slot"`
	Job     protocol.ID `cbor:"job"`
	Version string      `cbor:"version"`
	From    string      `cbor:"from"`   // the version it replaces
	Starts  int         `cbor:"starts"` // launcher starts of this trial so far
	Since   int64       `cbor:"since"`  // Unix ms of the switch
}

// Result is a finished job.
type Result struct {
	Job     protocol.ID `cbor:"job"`
	State   string      `cbor:"state"`
	Version string      `cbor:"version"`
	Reason  string      `cbor:"reason,omitempty"`
	At      int64       `cbor:"at"`
}

// Slots is the slots directory.
type Slots struct {
	Dir string
	Log *slog.Logger
	Now func() time.Time
}

// OpenSlots creates dir if needed.
func OpenSlots(dir string, log *slog.Logger) (*Slots, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("update: slots: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Slots{Dir: dir, Log: log, Now: time.Now}, nil
}

func (s *Slots) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Path returns a path inside the slots directory.
func (s *Slots) Path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// Binary is the agent binary of a slot.
func (s *Slots) Binary(slot string) string { return s.Path(slot, Entry) }

// Load reads the state; a missing file is an empty state.
func (s *Slots) Load() (*SlotState, error) {
	data, err := os.ReadFile(s.Path(StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &SlotState{V: 1, Slots: map[string]SlotInfo{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update: slot state: %w", err)
	}
	var st SlotState
	if err := decMode.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("update: slot state %s: %v", s.Path(StateFile), err)
	}
	if st.Slots == nil {
		st.Slots = map[string]SlotInfo{}
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("update: slot state %s: %w", s.Path(StateFile), err)
	}
	return &st, nil
}

func validSlot(x string) bool { return x == SlotA || x == SlotB }

func (st *SlotState) check() error {
	if st.V != 1 {
		return fmt.Errorf("version %d", st.V)
	}
	if st.Committed != "" && !validSlot(st.Committed) {
		return fmt.Errorf("committed slot %q", st.Committed)
	}
	for k := range st.Slots {
		if !validSlot(k) {
			return fmt.Errorf("slot %q", k)
		}
	}
	if t := st.Trial; t != nil && (!validSlot(t.Slot) || t.Slot == st.Committed) {
		return fmt.Errorf("trial slot %q (committed %q)", t.Slot, st.Committed)
	}
	return nil
}

// Save writes the state atomically and durably.
func (s *Slots) Save(st *SlotState) error {
	if err := st.check(); err != nil {
		return fmt.Errorf("update: refusing to save slot state: %w", err)
	}
	data, err := encMode.Marshal(st)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.Path(StateFile), data, 0o644); err != nil {
		return fmt.Errorf("update: slot state: %w", err)
	}
	return nil
}

// Wanted is the slot the current link must name: the trial slot during a trial, else
// the committed slot ("" when none).
func (st *SlotState) Wanted() string {
	if st.Trial != nil {
		return st.Trial.Slot
	}
	return st.Committed
}

// CommittedVersion is the version of the committed slot ("" when none).
func (st *SlotState) CommittedVersion() string {
	if st.Committed == "" {
		return ""
	}
	return st.Slots[st.Committed].Version
}

// Current returns the slot the current link names ("" when there is none).
func (s *Slots) Current() string {
	t, err := os.Readlink(s.Path(CurrentLink))
	if err != nil || !validSlot(t) {
		return ""
	}
	return t
}

// Reconcile makes the current link name st.Wanted(): a new link under a temporary
// name renamed over the old one, then the directory fsync'd.
func (s *Slots) Reconcile(st *SlotState) error {
	want := st.Wanted()
	if want == "" || s.Current() == want {
		return nil
	}
	tmp := s.Path(".current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(want, tmp); err != nil {
		return fmt.Errorf("update: switch to slot %s: %w", want, err)
	}
	if err := os.Rename(tmp, s.Path(CurrentLink)); err != nil {
		return fmt.Errorf("update: switch to slot %s: %w", want, err)
	}
	if err := fsutil.SyncDir(s.Dir); err != nil {
		return fmt.Errorf("update: switch to slot %s: %w", want, err)
	}
	s.Log.Info("current slot switched", "slot", want)
	return nil
}

// Free returns the slot an install may overwrite: neither committed nor on trial nor
// named by the current link.
func (s *Slots) Free(st *SlotState) (string, error) {
	for _, c := range []string{Other(st.Committed), SlotA, SlotB} {
		if c != st.Committed && (st.Trial == nil || c != st.Trial.Slot) && c != s.Current() {
			return c, nil
		}
	}
	return "", fmt.Errorf("update: no free slot (committed %q, current %q)", st.Committed, s.Current())
}

// InstallFile is one file to write into a slot.
type InstallFile struct {
	Name   string
	Mode   os.FileMode
	Size   int64
	SHA256 []byte
	Open   func() (io.ReadCloser, error)
}

// Install writes files into slot, which must be free, each durably (temporary name,
// fsync, rename, directory fsync), then reads every file back and checks its hash.
// A crash at any point leaves the slot free and unreferenced: nothing runs from it
// until BeginTrial names it in the state.
func (s *Slots) Install(st *SlotState, slot string, files []InstallFile, header []byte) error {
	if !validSlot(slot) || slot == st.Committed || (st.Trial != nil && slot == st.Trial.Slot) || slot == s.Current() {
		return fmt.Errorf("update: slot %q is in use and cannot be installed into", slot)
	}
	dir := s.Path(slot)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("update: clearing slot %s: %w", slot, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("update: slot %s: %w", slot, err)
	}
	for _, f := range files {
		if err := writeSlotFile(filepath.Join(dir, f.Name), f); err != nil {
			return fmt.Errorf("update: installing %s into slot %s: %w", f.Name, slot, err)
		}
		crashPoint("install-file")
	}
	if header != nil {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, HeaderFile), header, 0o644); err != nil {
			return fmt.Errorf("update: slot %s: %w", slot, err)
		}
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return err
	}
	if err := fsutil.SyncDir(s.Dir); err != nil {
		return err
	}
	for _, f := range files {
		sum, err := hashFile(filepath.Join(dir, f.Name))
		if err != nil {
			return fmt.Errorf("update: slot %s: %w", slot, err)
		}
		if string(sum) != string(f.SHA256) {
			return fmt.Errorf("update: slot %s: %s reads back with another SHA-256 (storage fault?)", slot, f.Name)
		}
	}
	return nil
}

func writeSlotFile(path string, f InstallFile) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	// Payload file names never start with a dot, so the temporary name collides with none.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.Mode)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(r, f.Size))
	if err == nil && n != f.Size {
		err = fmt.Errorf("%d of %d bytes", n, f.Size)
	}
	if err == nil {
		err = w.Chmod(f.Mode)
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func hashFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// BeginTrial records slot as on trial (state first) and points the current link at it.
// The caller then exits so that the launcher starts the new version under watch.
func (s *Slots) BeginTrial(st *SlotState, slot string, info SlotInfo, job protocol.ID) error {
	if slot == st.Committed || !validSlot(slot) {
		return fmt.Errorf("update: slot %s cannot go on trial (committed %q)", slot, st.Committed)
	}
	if st.Trial != nil {
		return fmt.Errorf("update: slot %s is already on trial", st.Trial.Slot)
	}
	next := st.clone()
	next.Slots[slot] = info
	next.Trial = &Trial{Slot: slot, Job: job, Version: info.Version, From: st.CommittedVersion(), Since: s.now().UnixMilli()}
	next.Last = &Result{Job: job, State: StateRestarting, Version: info.Version, At: s.now().UnixMilli()}
	if err := s.Save(next); err != nil {
		return err
	}
	*st = *next
	crashPoint("trial-saved")
	return s.Reconcile(st)
}

// Commit marks the trial slot good: it becomes the committed slot and its version the
// anti-rollback floor, in one atomic state write.
func (s *Slots) Commit(st *SlotState) error {
	t := st.Trial
	if t == nil {
		return fmt.Errorf("update: no trial to commit")
	}
	next := st.clone()
	next.Committed = t.Slot
	next.Trial = nil
	if bundle.CompareStrings(t.Version, next.Floor) > 0 {
		next.Floor = t.Version
	}
	next.Last = &Result{Job: t.Job, State: StateSuccessful, Version: t.Version, At: s.now().UnixMilli()}
	if err := s.Save(next); err != nil {
		return err
	}
	*st = *next
	crashPoint("committed")
	return s.Reconcile(st)
}

// Rollback abandons the trial: the committed slot comes back (state first, then the
// link) and the job is recorded as rolled back with reason.
func (s *Slots) Rollback(st *SlotState, reason string) error {
	t := st.Trial
	if t == nil {
		return nil
	}
	next := st.clone()
	next.Trial = nil
	next.Last = &Result{Job: t.Job, State: StateRolledBack, Version: t.Version, Reason: reason, At: s.now().UnixMilli()}
	if err := s.Save(next); err != nil {
		return err
	}
	*st = *next
	s.Log.Warn("update rolled back", "version", t.Version, "slot", t.Slot, "back_to", st.Committed, "reason", reason)
	crashPoint("rolled-back-saved")
	return s.Reconcile(st)
}

// Seed installs the binary at exe (the packaged agent) into a free slot and commits it
// directly: it is what the system's package manager installed.
func (s *Slots) Seed(st *SlotState, exe, version string) error {
	slot, err := s.Free(st)
	if err != nil {
		return err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("update: seed: %w", err)
	}
	sum, err := hashFile(exe)
	if err != nil {
		return fmt.Errorf("update: seed: %w", err)
	}
	f := InstallFile{Name: Entry, Mode: 0o755, Size: fi.Size(), SHA256: sum, Open: func() (io.ReadCloser, error) { return os.Open(exe) }}
	if err := s.Install(st, slot, []InstallFile{f}, nil); err != nil {
		return err
	}
	crashPoint("seed-installed")
	next := st.clone()
	next.Slots[slot] = SlotInfo{Version: version, SHA256: sum}
	next.Committed = slot
	if _, err := bundle.ParseVersion(version); err == nil && bundle.CompareStrings(version, next.Floor) > 0 {
		next.Floor = version
	}
	if err := s.Save(next); err != nil {
		return err
	}
	*st = *next
	s.Log.Info("packaged agent installed into a slot", "slot", slot, "version", version)
	return s.Reconcile(st)
}

func (st *SlotState) clone() *SlotState {
	c := *st
	c.Slots = make(map[string]SlotInfo, len(st.Slots))
	for k, v := range st.Slots {
		c.Slots[k] = v
	}
	if st.Trial != nil {
		t := *st.Trial
		c.Trial = &t
	}
	if st.Last != nil {
		l := *st.Last
		c.Last = &l
	}
	return &c
}

// crashHook is set by fault-injection test programs only; production binaries never
// set it. It is called at named points of every crash-sensitive sequence.
var crashHook func(point string)

// SetCrashHook installs a fault-injection hook (test programs only).
func SetCrashHook(f func(point string)) { crashHook = f }

func crashPoint(p string) {
	if crashHook != nil {
		crashHook(p)
	}
}

// shortReason keeps a reason to one printable line of at most 300 bytes.
func shortReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}
