package update

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/captura-claim/captura/protocol"
)

func file(name string, data []byte) InstallFile {
	sum := sha256.Sum256(data)
	return InstallFile{Name: name, Mode: 0o755, Size: int64(len(data)), SHA256: sum[:],
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func openSlots(t *testing.T) *Slots {
	t.Helper()
	s, err := OpenSlots(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	return s
}

func writeExe(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSlotsLifecycle(t *testing.T) {
	s := openSlots(t)
	st, err := s.Load()
	if err != nil || st.Committed != "" || st.Trial != nil {
		t.Fatalf("fresh state %+v %v", st, err)
	}
	exe := writeExe(t, t.TempDir(), "agent", []byte("v1 binary"))
	if err := s.Seed(st, exe, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if st.Committed != SlotA || s.Current() != SlotA || st.Floor != "1.0.0" {
		t.Fatalf("after seed: %+v current %q", st, s.Current())
	}
	if got, _ := os.ReadFile(s.Binary(SlotA)); string(got) != "v1 binary" {
		t.Fatalf("slot a holds %q", got)
	}
	// The committed slot is never installed into.
	if err := s.Install(st, SlotA, []InstallFile{file(Entry, []byte("x"))}, nil); err == nil {
		t.Fatal("install into the committed slot")
	}
	free, err := s.Free(st)
	if err != nil || free != SlotB {
		t.Fatalf("free %q %v", free, err)
	}
	v2 := []byte("v2 binary")
	if err := s.Install(st, SlotB, []InstallFile{file(Entry, v2), file("extra.txt", []byte("notes"))}, []byte("hdr")); err != nil {
		t.Fatal(err)
	}
	job := protocol.NewID()
	sum := sha256.Sum256(v2)
	if err := s.BeginTrial(st, SlotB, SlotInfo{Version: "1.1.0", SHA256: sum[:], Job: job}, job); err != nil {
		t.Fatal(err)
	}
	if s.Current() != SlotB || st.Trial == nil || st.Trial.From != "1.0.0" || st.Last.State != StateRestarting {
		t.Fatalf("after BeginTrial: %+v current %q", st, s.Current())
	}
	if err := s.BeginTrial(st, SlotB, SlotInfo{}, job); err == nil {
		t.Fatal("second trial accepted")
	}
	// Rollback brings a back and records why.
	if err := s.Rollback(st, "crashed"); err != nil {
		t.Fatal(err)
	}
	if s.Current() != SlotA || st.Trial != nil || st.Last.State != StateRolledBack || st.Last.Reason != "crashed" || st.Floor != "1.0.0" {
		t.Fatalf("after rollback: %+v current %q", st, s.Current())
	}
	// Try again and commit: the floor rises to the new version.
	if err := s.BeginTrial(st, SlotB, SlotInfo{Version: "1.1.0", SHA256: sum[:], Job: job}, job); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(st); err != nil {
		t.Fatal(err)
	}
	if st.Committed != SlotB || st.Floor != "1.1.0" || st.Last.State != StateSuccessful || s.Current() != SlotB {
		t.Fatalf("after commit: %+v", st)
	}
	again, err := s.Load()
	if err != nil || again.Committed != SlotB || again.Floor != "1.1.0" {
		t.Fatalf("reloaded: %+v %v", again, err)
	}
	if f, _ := s.Free(again); f != SlotA {
		t.Fatalf("free after commit: %q", f)
	}
}

// TestReconcile covers every state the link can be left in by a crash between the
// state write and the link swap.
func TestReconcile(t *testing.T) {
	for _, tc := range []struct {
		name       string
		link       string
		st         SlotState
		wantLinkTo string
	}{
		{"trial saved, link not yet swapped", SlotA, SlotState{V: 1, Committed: SlotA, Trial: &Trial{Slot: SlotB}}, SlotB},
		{"rollback saved, link still on trial", SlotB, SlotState{V: 1, Committed: SlotA}, SlotA},
		{"commit saved", SlotB, SlotState{V: 1, Committed: SlotB}, SlotB},
		{"seed saved, no link yet", "", SlotState{V: 1, Committed: SlotA}, SlotA},
		{"stale temporary link", SlotB, SlotState{V: 1, Committed: SlotA}, SlotA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSlots(t)
			if tc.link != "" {
				os.Symlink(tc.link, s.Path(CurrentLink))
			}
			os.Symlink("junk", s.Path(".current.tmp"))
			st := tc.st
			if err := s.Reconcile(&st); err != nil {
				t.Fatal(err)
			}
			if got := s.Current(); got != tc.wantLinkTo {
				t.Fatalf("link names %q, want %q", got, tc.wantLinkTo)
			}
		})
	}
}

func TestStateRejectsNonsense(t *testing.T) {
	s := openSlots(t)
	for _, st := range []*SlotState{
		{V: 2},
		{V: 1, Committed: "c"},
		{V: 1, Committed: SlotA, Trial: &Trial{Slot: SlotA}},
		{V: 1, Slots: map[string]SlotInfo{"../x": {}}},
	} {
		if err := s.Save(st); err == nil {
			t.Errorf("saved %+v", st)
		}
	}
	os.WriteFile(s.Path(StateFile), []byte("\xa1\x61v\x02"), 0o644)
	if _, err := s.Load(); err == nil {
		t.Fatal("loaded a state of version 2")
	}
}

// fakeExec records what Launch would exec.
type fakeExec struct {
	path string
	argv []string
	env  []string
}

func (f *fakeExec) exec(path string, argv, env []string) error {
	f.path, f.argv, f.env = path, argv, env
	return os.ErrPermission // as if exec failed: Launch then runs in-process
}

func TestLaunchSeedsAndExecs(t *testing.T) {
	s := openSlots(t)
	self := writeExe(t, t.TempDir(), "captura-agent", []byte("packaged 1.0.0"))
	fx := &fakeExec{}
	l := Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.0.0", Args: []string{"-config", "x.toml"}, Exec: fx.exec})
	if l.Done || l.Slot != "" {
		t.Fatalf("launched %+v", l)
	}
	if fx.path != s.Binary(SlotA) || len(fx.argv) != 3 || fx.argv[1] != "-config" {
		t.Fatalf("exec %q %q", fx.path, fx.argv)
	}
	if !contains(fx.env, EnvSlot+"="+SlotA) {
		t.Fatalf("env lacks the slot: %q", fx.env)
	}
	// A newer package (apt upgrade) is installed into the other slot.
	os.WriteFile(self, []byte("packaged 1.2.0"), 0o755)
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.2.0", Exec: fx.exec})
	st, _ := s.Load()
	if st.Committed != SlotB || st.Slots[SlotB].Version != "1.2.0" || fx.path != s.Binary(SlotB) {
		t.Fatalf("after package upgrade: %+v exec %q", st, fx.path)
	}
	// An older package does not replace a newer committed slot.
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.1.0", Exec: fx.exec})
	if st, _ := s.Load(); st.Committed != SlotB {
		t.Fatalf("older package replaced the slot: %+v", st)
	}
	// A damaged committed binary is replaced by the packaged one.
	os.WriteFile(s.Binary(SlotB), []byte("bit rot"), 0o755)
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.1.0", Exec: fx.exec})
	if st, _ := s.Load(); st.Committed != SlotA || st.Slots[SlotA].Version != "1.1.0" {
		t.Fatalf("damaged slot not repaired: %+v", st)
	}
}

func TestLaunchRollsBackSpentTrial(t *testing.T) {
	s := openSlots(t)
	self := writeExe(t, t.TempDir(), "captura-agent", []byte("packaged 1.0.0"))
	st, _ := s.Load()
	if err := s.Seed(st, self, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	v2 := []byte("v2")
	s.Install(st, SlotB, []InstallFile{file(Entry, v2)}, nil)
	sum := sha256.Sum256(v2)
	job := protocol.NewID()
	s.BeginTrial(st, SlotB, SlotInfo{Version: "1.1.0", SHA256: sum[:], Job: job}, job)
	st.Trial.Starts = DefaultMaxStarts // every start already used
	s.Save(st)
	fx := &fakeExec{}
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.0.0", Exec: fx.exec})
	st, _ = s.Load()
	if st.Trial != nil || st.Last.State != StateRolledBack || s.Current() != SlotA || fx.path != s.Binary(SlotA) {
		t.Fatalf("spent trial not rolled back: %+v exec %q", st, fx.path)
	}
	t.Log(st.Last.Reason)

	// A trial whose binary is damaged is rolled back before it runs.
	s.BeginTrial(st, SlotB, SlotInfo{Version: "1.1.0", SHA256: sum[:], Job: job}, job)
	os.WriteFile(s.Binary(SlotB), []byte("v2 damaged"), 0o755)
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.0.0", Exec: fx.exec})
	st, _ = s.Load()
	if st.Trial != nil || st.Last.State != StateRolledBack || fx.path != s.Binary(SlotA) {
		t.Fatalf("damaged trial not rolled back: %+v", st)
	}
	t.Log(st.Last.Reason)
}

func TestLaunchUnreadableState(t *testing.T) {
	s := openSlots(t)
	self := writeExe(t, t.TempDir(), "captura-agent", []byte("packaged"))
	os.WriteFile(s.Path(StateFile), []byte("garbage"), 0o644)
	fx := &fakeExec{}
	Launch(LaunchConfig{Slots: s, Self: self, SelfVersion: "1.0.0", Exec: fx.exec})
	if fx.path == "" {
		t.Fatal("nothing run after an unreadable state")
	}
	if m, _ := filepath.Glob(s.Path(StateFile + ".bad-*")); len(m) != 1 {
		t.Fatalf("bad state not set aside: %v", m)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeRaw(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }
