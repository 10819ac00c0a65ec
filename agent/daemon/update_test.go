package daemon

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/protocol"
)

func updateConfig(t *testing.T, keys string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf("[station]\nid = \"st-1\"\ncentre = \"c1\"\nstate_dir = %q\n[aima]\npublic_key = \"aima.pub\"\n[gateway]\npublic_key = \"gw.pub\"\n[update]\nmaintainer_keys = %q\nthreshold = 1\n",
		filepath.Join(dir, "state"), keys)
	cfg, err := config.Parse(text, dir, "agent.toml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestUpdateWiring(t *testing.T) {
	if code, ok := updateExit(fmt.Errorf("update: %w", update.ErrRestart)); !ok || code != update.ExitRestart {
		t.Fatalf("restart maps to %d %v", code, ok)
	}
	if _, ok := updateExit(os.ErrClosed); ok {
		t.Fatal("another error maps to an update exit")
	}
	off := updateConfig(t, "")
	if l := updateLaunch(off, slog.New(slog.DiscardHandler), nil); l.Done || l.Slot != "" || l.Trial != nil {
		t.Fatalf("disabled updates launched %+v", l)
	}
	on := updateConfig(t, "maintainers")
	if got, want := slotsDir(on), filepath.Join(on.Path(on.Station.StateDir), "slots"); got != want {
		t.Fatalf("slots dir %s, want %s", got, want)
	}
	var stderr bytes.Buffer
	if code := updateRollback(on, slog.New(slog.DiscardHandler), &stderr); code != ExitFailed || !strings.Contains(stderr.String(), "nothing to roll back") {
		t.Fatalf("rollback without a trial: %d %q", code, stderr.String())
	}
	// A pending trial is rolled back.
	s, err := update.OpenSlots(slotsDir(on), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load()
	exe := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(exe, []byte("v1"), 0o755)
	if err := s.Seed(st, exe, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	v2 := []byte("v2")
	sum := sha256.Sum256(v2)
	free, _ := s.Free(st)
	s.Install(st, free, []update.InstallFile{{Name: update.Entry, Mode: 0o755, Size: 2, SHA256: sum[:],
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(v2)), nil }}}, nil)
	job := protocol.NewID()
	if err := s.BeginTrial(st, free, update.SlotInfo{Version: "1.1.0", SHA256: sum[:], Job: job}, job); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := updateRollback(on, slog.New(slog.DiscardHandler), &stderr); code != ExitOK {
		t.Fatalf("rollback: %d %q", code, stderr.String())
	}
	st, _ = s.Load()
	if st.Trial != nil || st.Last.State != update.StateRolledBack || s.Current() != st.Committed {
		t.Fatalf("after rollback: %+v", st)
	}
}
