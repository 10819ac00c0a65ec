package station_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/session/sessiontest"
	"github.com/captura-claim/captura/agent/station"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

// TestRetentionErasesWithSignedAudit: the retention limit erases a record that was never
// receipted, and the station's audit chain gets a signed record.expired entry naming it
// (committed with the erasure). While the clock is unsynchronised nothing is erased and
// the log says why, once.
func TestRetentionErasesWithSignedAudit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "captura.db")
	t0 := time.Unix(1795000000, 0)
	var now atomic.Int64
	now.Store(t0.UnixMilli())
	var synced atomic.Bool
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	st, err := store.Open(path, &store.Opts{Now: clock, Synced: synced.Load})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.Append(store.KindRecord, func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
		return protocol.NewID(), []byte("sealed record"), nil
	})
	if err != nil {
		t.Fatal(err)
	}

	stKey, _ := protocol.GenerateSigningKey(protocol.KindStation)
	signer, _ := protocol.NewSigner(stKey)
	_, gwPriv, _ := ed25519.GenerateKey(rand.Reader)
	aima, _ := protocol.GenerateRecipientKey("")
	var logs bytes.Buffer
	run := func() {
		t.Helper()
		cfg := station.Config{Station: "st-1", Centre: "c1", Signer: signer, AIMA: aima.Public(), Gateway: gwPriv.Public(),
			Tablets: station.NewTablets(), MaxAge: 30 * 24 * time.Hour,
			Capture: session.Config{Attempts: 1, Thresholds: func(session.Item) uint { return 20 }}}
		s, err := station.New(cfg, station.Deps{Store: st, Devices: fakeDevices{&sessiontest.Reader{}}, Quality: &sessiontest.Quality{Scores: []uint{60}},
			Face: &sessiontest.Face{Score: 90}, Now: clock, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		s.Run(ctx) // the maintenance loop checks the limit when it starts
	}

	// 90 days later by an unsynchronised clock: nothing goes.
	now.Store(t0.Add(90 * 24 * time.Hour).UnixMilli())
	run()
	if pend, _ := st.Pending(store.KindRecord); len(pend) != 1 {
		t.Fatalf("%d records left after a check on an unsynchronised clock, want 1", len(pend))
	}
	if n := strings.Count(logs.String(), "retention limit paused"); n != 1 {
		t.Fatalf("log says the limit is paused %d times, want once:\n%s", n, logs.String())
	}

	// Synchronised: the record's age counts from now (its stamp was the stale clock's).
	synced.Store(true)
	run()
	if pend, _ := st.Pending(store.KindRecord); len(pend) != 1 {
		t.Fatal("the first synchronised check erased a record stamped by the unsynchronised clock")
	}
	now.Store(t0.Add(121 * 24 * time.Hour).UnixMilli())
	run()
	if pend, _ := st.Pending(store.KindRecord); len(pend) != 0 {
		t.Fatalf("%d records left 31 days after the clock was set, want 0", len(pend))
	}
	aud, _ := st.Pending(store.KindAudit)
	var found bool
	ring, _ := protocol.NewKeyRing(stKey.Public())
	for _, e := range aud {
		full, _, _ := st.Get(store.KindAudit, e.Seq)
		a, _, err := protocol.VerifyMessage[protocol.Audit](full.Envelope, ring)
		if err != nil {
			t.Fatalf("audit entry %d: %v", e.Seq, err)
		}
		if a.Action == "record.expired" && a.Subject == rec.ID.String() && a.Outcome == "erased" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no signed record.expired audit entry for %s among %d entries", rec.ID, len(aud))
	}
	if strings.Contains(logs.String(), "sealed record") {
		t.Fatal("record content in the log")
	}
}
