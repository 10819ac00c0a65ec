package station_test

import (
	"context"
	"crypto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

var testSecret = []byte("0123456789abcdef")

// pair sends a pairing request and returns the verified answer.
func (h *harness) pair(t *testing.T, name string, secret []byte, station string) (*protocol.PairResponse, *protocol.Signer) {
	t.Helper()
	key, _ := protocol.GenerateSigningKey(protocol.KindTablet)
	env, req, err := protocol.NewPairRequest(key, secret, "c1", station, name, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	before := len(h.pairResp)
	h.mu.Unlock()
	h.st.HandlePairRequest(protocol.StationTopic("c1", "st-1", protocol.TopicPair, req.ID.String(), "req"), env)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.pairResp)
		var resp []byte
		if n > before {
			resp = h.pairResp[before]
		}
		h.mu.Unlock()
		if resp != nil {
			r, pinned, err := protocol.VerifyPairResponse(resp, env, secret, req)
			if err != nil {
				t.Fatalf("pair response: %v", err)
			}
			if r.Status == protocol.PairPaired {
				if kid, _ := protocol.KeyIDOf(pinned); kid != mustKid(h) {
					t.Fatal("the tablet pinned a key that is not the station's")
				}
			}
			s, _ := protocol.NewSigner(key)
			return r, s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no pairing answer")
	return nil, nil
}

func mustKid(h *harness) protocol.KeyID {
	for kid := range h.stationKids {
		return kid
	}
	return protocol.KeyID{}
}

func TestPairing(t *testing.T) {
	h := newHarness(t, t.TempDir(), 0)
	// Outside the window.
	if r, _ := h.pair(t, "tab-new", testSecret, "st-1"); r.Status != protocol.PairDenied || !strings.Contains(r.Reason, "window is closed") {
		t.Fatalf("outside the window: %+v", r)
	}
	if _, err := h.st.OpenPairing(context.Background(), "station"); err != nil {
		t.Fatal(err)
	}
	// Addressed to another station.
	if r, _ := h.pair(t, "tab-new", testSecret, "st-2"); r.Status != protocol.PairDenied || !strings.Contains(r.Reason, "wrong station") {
		t.Fatalf("wrong station: %+v", r)
	}
	// The right secret pairs; the new tablet's commands are accepted.
	r, signer := h.pair(t, "tab-new", testSecret, "st-1")
	if r.Status != protocol.PairPaired {
		t.Fatalf("pairing: %+v", r)
	}
	c := &protocol.Command{V: 1, ID: protocol.NewID(), Type: protocol.CmdStatus, Centre: "c1", Station: "st-1", Tablet: "tab-new",
		Counter: 1, Issued: time.Now().UnixMilli(), Expires: time.Now().Add(time.Minute).UnixMilli()}
	h.deliver(signer, c)
	if cs := h.waitState(c.ID); cs.State != protocol.CmdSuccessful {
		t.Fatalf("command from the new tablet: %+v", cs)
	}
	// The window closed with the pairing.
	if r, _ := h.pair(t, "tab-late", testSecret, "st-1"); r.Status != protocol.PairDenied {
		t.Fatalf("window still open after a pairing: %+v", r)
	}
	// Wrong secrets close the window after three attempts.
	h.st.OpenPairing(context.Background(), "station")
	wrong := []byte("fedcba9876543210")
	for i := 1; i <= 3; i++ {
		r, _ := h.pair(t, "tab-evil", wrong, "st-1")
		if r.Status != protocol.PairDenied || !strings.Contains(r.Reason, "wrong setup secret") {
			t.Fatalf("wrong secret %d: %+v", i, r)
		}
		if i == 3 && !strings.Contains(r.Reason, "closed after 3") {
			t.Fatalf("third wrong secret did not close the window: %+v", r)
		}
	}
	if r, _ := h.pair(t, "tab-evil", testSecret, "st-1"); r.Status != protocol.PairDenied || !strings.Contains(r.Reason, "closed") {
		t.Fatalf("the window stayed open after wrong secrets: %+v", r)
	}
	h.waitOutboxEmpty()
	if h.audited("pairing.paired") != 1 || h.audited("pairing.denied") != 7 || h.audited("pairing.window-closed") != 1 {
		t.Errorf("audit: paired %d denied %d closed %d", h.audited("pairing.paired"), h.audited("pairing.denied"), h.audited("pairing.window-closed"))
	}
}

// pairedTablet is a station at dir that has paired the tablet "tab-new" at run time
// and stopped, ready to be started again with the same keys.
type pairedTablet struct {
	dir           string
	stKey, tabKey crypto.Signer
	signer        *protocol.Signer // the paired tablet's
}

func pairAndStop(t *testing.T) pairedTablet {
	t.Helper()
	p := pairedTablet{dir: t.TempDir()}
	p.stKey, _ = protocol.GenerateSigningKey(protocol.KindStation)
	p.tabKey, _ = protocol.GenerateSigningKey(protocol.KindTablet)
	h := startHarness(t, p.dir, 0, p.stKey, p.tabKey)
	h.st.OpenPairing(context.Background(), "station")
	r, signer := h.pair(t, "tab-new", testSecret, "st-1")
	if r.Status != protocol.PairPaired {
		t.Fatal(r.Reason)
	}
	h.stop()
	p.signer = signer
	return p
}

// sendAs signs a command of type typ with counter n as tablet "tab-new" and waits for
// its final state; fill may complete it.
func (h *harness) sendAs(signer *protocol.Signer, typ string, n uint64, fill func(*protocol.Command)) *protocol.CommandState {
	c := &protocol.Command{V: 1, ID: protocol.NewID(), Type: typ, Centre: "c1", Station: "st-1", Tablet: "tab-new",
		Counter: n, Issued: time.Now().UnixMilli(), Expires: time.Now().Add(time.Minute).UnixMilli()}
	if fill != nil {
		fill(c)
	}
	h.deliver(signer, c)
	return h.waitState(c.ID)
}

func TestPairedTabletsSurviveRestartAndUnpair(t *testing.T) {
	p := pairAndStop(t)
	h2 := startHarness(t, p.dir, 0, p.stKey, p.tabKey)
	send := func(typ string, n uint64, fill func(*protocol.Command)) *protocol.CommandState {
		return h2.sendAs(p.signer, typ, n, fill)
	}
	if cs := send(protocol.CmdStatus, 1, nil); cs.State != protocol.CmdSuccessful {
		t.Fatalf("after restart: %+v", cs)
	}
	if cs := send(protocol.CmdUnpair, 2, func(c *protocol.Command) { c.Unpair = &protocol.UnpairArgs{Tablet: "tab-new"} }); cs.State != protocol.CmdSuccessful {
		t.Fatalf("unpair: %+v", cs)
	}
	if cs := send(protocol.CmdStatus, 3, nil); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "unknown tablet") {
		t.Fatalf("after unpair: %+v", cs)
	}
}

// TestDamagedPairedTabletIsSkipped: one unreadable paired-tablet entry is skipped and
// audited; the station starts and the other tablets keep working.
func TestDamagedPairedTabletIsSkipped(t *testing.T) {
	p := pairAndStop(t)
	st, err := store.Open(filepath.Join(p.dir, "captura.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put("tablets", []byte("tab-bad"), []byte{0xff, 0x00, 0x13}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	h2 := startHarness(t, p.dir, 0, p.stKey, p.tabKey) // fails the test if the station refuses to start
	if cs := h2.sendAs(p.signer, protocol.CmdStatus, 1, nil); cs.State != protocol.CmdSuccessful {
		t.Fatalf("the good tablet after a restart beside a damaged entry: %+v", cs)
	}
	h2.waitOutboxEmpty()
	h2.mu.Lock()
	defer h2.mu.Unlock()
	if h2.net.auditedLocked("pairing.skipped") != 1 {
		t.Fatal("the skipped entry was not audited")
	}
}
