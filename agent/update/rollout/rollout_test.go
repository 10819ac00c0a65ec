package rollout

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/protocol"
)

func TestSelect(t *testing.T) {
	var all []string
	for i := 0; i < 40; i++ {
		all = append(all, fmt.Sprintf("st-%02d", i))
	}
	prev := map[string]bool{}
	for _, p := range []int{1, 10, 25, 50, 75, 100} {
		sel := Select(all, p)
		want := (len(all)*p + 99) / 100
		if len(sel) != max(1, want) {
			t.Fatalf("%d%%: %d stations, want %d", p, len(sel), want)
		}
		// A larger wave covers every station of a smaller one.
		for s := range prev {
			if !contains(sel, s) {
				t.Fatalf("%d%% lost %s chosen at a lower percentage", p, s)
			}
		}
		for _, s := range sel {
			prev[s] = true
		}
	}
	// The choice does not depend on the order given.
	rev := append([]string(nil), all...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if strings.Join(Select(all, 30), ",") != strings.Join(Select(rev, 30), ",") {
		t.Fatal("selection depends on input order")
	}
	if len(Select([]string{"a"}, 1)) != 1 {
		t.Fatal("a single station is never selected")
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestRender(t *testing.T) {
	s := Snapshot{Skipped: 2, Failures: 1, Aborted: true, Reason: "1 failure(s), the abort threshold is 1", Stations: []Station{
		{Name: "st-01", State: update.StateSuccessful, Sent: 100, Total: 100},
		{Name: "st-02", State: update.StateDownloading, Sent: 40, Total: 100},
		{Name: "st-03", State: update.StateRolledBack, Reason: "crashed", Total: 100},
		{Name: "st-04", Total: 100},
	}}
	got := strings.Join(Render(s, 10), "\n")
	want := strings.Join([]string{
		"st-01   [##########] 100%  successful",
		"st-02   [####......]  40%  downloading",
		"st-03   [..........]   0%  rolled-back: crashed",
		"st-04   [..........]   0%  not started",
		"overall [######....]  60%  1/4 updated, 1 failed, 1 not started, 2 left for a later wave, 0.0 MB sent — STOPPED: 1 failure(s), the abort threshold is 1",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWriteFleet(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	entries := []Entry{
		{Centre: "c1", Station: "st-1", Verified: true, Status: &protocol.Status{State: "online", Version: "2.0.0", Slot: "b", Health: "ok",
			Session: "idle", At: now.Add(-90 * time.Second).UnixMilli()}, Update: &update.State{State: update.StateSuccessful, Version: "2.0.0"}},
		{Centre: "c1", Station: "st-2", Status: &protocol.Status{State: "offline", Version: "1.0.0", At: now.Add(-3 * time.Hour).UnixMilli()},
			Update: &update.State{State: update.StateDownloading, Version: "2.0.0", Done: 25, Total: 100}},
		{Centre: "c1", Station: "st-3", StatusErr: "signature verification failed"},
	}
	var b bytes.Buffer
	if err := WriteFleet(&b, entries, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`c1 +st-1 +online +2\.0\.0 +b +ok +idle +successful 2\.0\.0 +1m ago +verified`,
		`c1 +st-2 +offline +1\.0\.0 +- +- +- +downloading 2\.0\.0 25% +3h ago +unchecked`,
		`c1 +st-3 +invalid: signature verification failed .* INVALID`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("fleet table lacks %q:\n%s", want, out)
		}
	}
}

func TestKeyDir(t *testing.T) {
	dir := t.TempDir()
	k, _ := protocol.GenerateSigningKey(protocol.KindStation)
	pem, _ := protocol.MarshalPublicKeyPEM(k.Public())
	os.MkdirAll(filepath.Join(dir, "c1"), 0o755)
	os.WriteFile(filepath.Join(dir, "c1", "st-1.pub"), pem, 0o644)
	os.WriteFile(filepath.Join(dir, "st-2.pub"), pem, 0o644)
	kd := &KeyDir{Dir: dir}
	for _, st := range []string{"st-1", "st-2"} {
		if _, err := kd.Ring("c1", st); err != nil {
			t.Errorf("%s: %v", st, err)
		}
	}
	if _, err := kd.Ring("c1", "st-3"); err == nil {
		t.Error("key found for a station without one")
	}
	if _, err := kd.Ring("c1", "../st-1"); err == nil {
		t.Error("path in a station id accepted")
	}
}
