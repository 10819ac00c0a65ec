package gateway

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/protocol"
)

const centre = "lisboa-arroios"

type harness struct {
	t     *testing.T
	g     *Gateway
	gwKey *protocol.Signer
	pub   *fakePub
	clock *fakeClock
	cfg   Config
}

// newHarness builds a gateway over store with the given bound station keys.
func newHarness(t *testing.T, store string, keys map[string][]crypto.PublicKey, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, gwKey: newSigner(t, protocol.KindGateway), pub: &fakePub{}, clock: &fakeClock{t: time.UnixMilli(1796000000000)}}
	h.cfg = Config{ID: "gw-test", Centre: centre, Signer: h.gwKey, StationKeys: keys, StoreDir: store, Now: h.clock.Now}
	if mod != nil {
		mod(&h.cfg)
	}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	g, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.g = g
	h.t.Cleanup(g.Close)
}

// handle delivers one message and returns the receipt it published (nil if none).
func (h *harness) handle(topic string, payload []byte) (*protocol.Receipt, Event, error) {
	h.t.Helper()
	n := len(h.pub.sent)
	ev, err := h.g.Handle(context.Background(), h.pub, topic, payload)
	if len(h.pub.sent) == n {
		return nil, ev, err
	}
	if len(h.pub.sent) != n+1 {
		h.t.Fatalf("%d receipts for one message", len(h.pub.sent)-n)
	}
	s := h.pub.sent[n]
	ring, _ := protocol.NewKeyRing(h.gwKey.Public())
	r, _, verr := protocol.VerifyMessage[protocol.Receipt](s.payload, ring)
	if verr != nil {
		h.t.Fatalf("receipt does not verify with the gateway key: %v", verr)
	}
	tp, _ := protocol.ParseTopic(s.topic)
	if tp.Kind != protocol.TopicReceipts || tp.Centre != r.Centre || tp.Station != r.Station {
		h.t.Fatalf("receipt for %s/%s published on %s", r.Centre, r.Station, s.topic)
	}
	if ev.Receipt == nil || *ev.Receipt != *r {
		h.t.Fatalf("event receipt %+v, published %+v", ev.Receipt, r)
	}
	return r, ev, err
}

// expect handles a message and checks the receipt's status and chain verdict.
func (h *harness) expect(topic string, payload []byte, status, chain string) *protocol.Receipt {
	h.t.Helper()
	r, _, err := h.handle(topic, payload)
	if err != nil {
		h.t.Fatalf("handle: %v", err)
	}
	if r == nil {
		h.t.Fatalf("no receipt, want %s/%s", status, chain)
	}
	if r.Status != status || r.Chain != chain {
		h.t.Fatalf("receipt %s chain %q (reason %q), want %s chain %q", r.Status, r.Chain, r.Reason, status, chain)
	}
	if r.Hash != protocol.Hash(sha256.Sum256(payload)) || r.Gateway != "gw-test" || r.At != h.clock.Now().UnixMilli() {
		h.t.Fatalf("receipt hash/gateway/at: %+v", r)
	}
	return r
}

func TestChainVerdicts(t *testing.T) {
	s := newSim(t, centre, "st-01")
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-01": {s.pub()}}, nil)
	rt := s.topic(protocol.TopicRecords)

	e1, r1 := s.next()
	if r := h.expect(rt, e1, protocol.ReceiptStored, protocol.ChainOK); r.ID != r1.ID || r.Seq != 1 || r.Kind != KindRecord {
		t.Fatalf("receipt %+v", r)
	}
	e2, _ := s.next()
	h.expect(rt, e2, protocol.ReceiptStored, protocol.ChainOK)
	e3, _ := s.next()
	e4, _ := s.next()
	h.expect(rt, e4, protocol.ReceiptStored, protocol.ChainGap) // 3 has not arrived
	h.expect(rt, e3, protocol.ReceiptStored, protocol.ChainOK)  // late, links to 2
	e5, _ := s.next()
	h.expect(rt, e5, protocol.ReceiptStored, protocol.ChainOK)

	// Another record at an occupied seq, and one whose prev is not the stored hash.
	other, _ := s.record(5, sha256.Sum256(e4), nil)
	h.expect(rt, other, protocol.ReceiptStored, protocol.ChainFork)
	bad, _ := s.record(6, sha256.Sum256([]byte("not record 5")), nil)
	h.expect(rt, bad, protocol.ReceiptStored, protocol.ChainFork)
	// seq 1 must have a zero prev.
	s1, _ := s.record(1, sha256.Sum256([]byte("x")), nil)
	h.expect(rt, s1, protocol.ReceiptStored, protocol.ChainFork)

	// A station first seen mid-chain starts there.
	m := newSim(t, centre, "st-02")
	m.seq, m.prev = 41, sha256.Sum256([]byte("record 41 the gateway never saw"))
	h2 := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-02": {m.pub()}}, nil)
	e42, _ := m.next()
	h2.expect(m.topic(protocol.TopicRecords), e42, protocol.ReceiptStored, protocol.ChainStart)
	e43, _ := m.next()
	h2.expect(m.topic(protocol.TopicRecords), e43, protocol.ReceiptStored, protocol.ChainOK)

	// Everything verified was stored, forks and gaps included.
	ents, err := h.g.Records(centre, "st-01", KindRecord)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Chain))
		if _, err := os.Stat(h.g.EnvelopePath(centre, "st-01", KindRecord, e.Seq, e.ID)); err != nil {
			t.Errorf("envelope of seq %d: %v", e.Seq, err)
		}
	}
	if want := "1:ok 1:fork 2:ok 3:ok 4:gap 5:ok 5:fork 6:fork"; !sameSet(got, strings.Fields(want)) {
		t.Fatalf("index %v, want %s", got, want)
	}
	if st := h.g.Stats(); st.Stored != 8 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestVerdictTable(t *testing.T) {
	h := func(s string) protocol.Hash { return sha256.Sum256([]byte(s)) }
	c := &chain{ids: map[protocol.ID]Entry{}, bySeq: map[uint64]protocol.Hash{}}
	for _, tc := range []struct {
		seq  uint64
		prev protocol.Hash
		want string
	}{
		{1, protocol.Hash{}, protocol.ChainOK},
		{1, h("x"), protocol.ChainFork},
		{7, h("6"), protocol.ChainStart},
	} {
		if got := c.verdict(tc.seq, tc.prev); got != tc.want {
			t.Errorf("empty chain: verdict(%d) = %s, want %s", tc.seq, got, tc.want)
		}
	}
	c.add(Entry{Seq: 6, ID: protocol.NewID(), Hash: h("6")})
	c.add(Entry{Seq: 7, ID: protocol.NewID(), Hash: h("7")})
	for _, tc := range []struct {
		seq  uint64
		prev protocol.Hash
		want string
	}{
		{8, h("7"), protocol.ChainOK},
		{8, h("6"), protocol.ChainFork},
		{7, h("6"), protocol.ChainFork}, // seq taken
		{9, h("8"), protocol.ChainGap},
		{5, h("4"), protocol.ChainGap},
		{1, protocol.Hash{}, protocol.ChainOK},
	} {
		if got := c.verdict(tc.seq, tc.prev); got != tc.want {
			t.Errorf("verdict(%d) = %s, want %s", tc.seq, got, tc.want)
		}
	}
	if c.head != 7 {
		t.Errorf("head %d", c.head)
	}
}

func TestDedupe(t *testing.T) {
	s := newSim(t, centre, "st-01")
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-01": {s.pub()}}, nil)
	rt := s.topic(protocol.TopicRecords)
	e1, r1 := s.next()
	h.expect(rt, e1, protocol.ReceiptStored, protocol.ChainOK)
	h.expect(rt, e1, protocol.ReceiptDuplicate, protocol.ChainOK)
	h.expect(rt, e1, protocol.ReceiptDuplicate, protocol.ChainOK)

	// Same id, other content: the station signed two different records with one id.
	again, _ := s.record(1, protocol.Hash{}, func(r *protocol.Record) { r.ID = r1.ID; r.Ended++; r.Body = r1.Body })
	r := h.expect(rt, again, protocol.ReceiptRejected, "")
	if !strings.Contains(r.Reason, "is already stored (seq 1) with envelope hash "+protocol.Hash(sha256.Sum256(e1)).String()) {
		t.Fatalf("reason %q", r.Reason)
	}
	if st := h.g.Stats(); st.Stored != 1 || st.Duplicates != 2 || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	if ents, _ := h.g.Records(centre, "st-01", KindRecord); len(ents) != 1 {
		t.Fatalf("%d stored", len(ents))
	}
}

func TestRejections(t *testing.T) {
	a := newSim(t, centre, "st-a")
	b := newSim(t, centre, "st-b")
	stranger := newSim(t, centre, "st-a") // a key nobody trusts
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-a": {a.pub()}, "st-b": {b.pub()}}, nil)

	good, goodRec := a.record(1, protocol.Hash{}, nil)
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-5] ^= 1 // inside the signature
	// B's key signs a record that claims to be A's, published on A's topic.
	impostor, _ := (&sim{t: t, centre: centre, id: "st-a", signer: b.signer, body: 64, rng: a.rng, startedBase: a.startedBase}).record(1, protocol.Hash{}, nil)
	// A's own record published on B's topic.
	wrongTopic := good
	// A body sealed for another record, moved into a new record.
	moved, _ := a.record(2, protocol.Hash{}, func(r *protocol.Record) { r.Body = goodRec.Body })
	audit, _ := a.nextAudit("capture.start")
	unknown, _ := stranger.record(1, protocol.Hash{}, nil)

	for _, tc := range []struct {
		name, topic string
		payload     []byte
		receipt     bool
		want        string
		is          error
	}{
		{"tampered signature", a.topic(protocol.TopicRecords), tampered, true, "signature verification failed", protocol.ErrSignature},
		{"unknown key", a.topic(protocol.TopicRecords), unknown, true, "not trusted here: unknown key id", protocol.ErrUnknownKey},
		{"other station's key", a.topic(protocol.TopicRecords), impostor, true, "unknown key id (station \"st-a\")", protocol.ErrUnknownKey},
		{"record on another station's topic", b.topic(protocol.TopicRecords), wrongTopic, true, "unknown key id (station \"st-b\")", protocol.ErrUnknownKey},
		{"moved body", a.topic(protocol.TopicRecords), moved, true, "sealed body does not belong here", protocol.ErrBinding},
		{"audit entry on the records topic", a.topic(protocol.TopicRecords), audit, true, "wrong content type", protocol.ErrContentType},
		{"record on the audit topic", a.topic(protocol.TopicAudit), good, true, "wrong content type", protocol.ErrContentType},
		{"not CBOR", a.topic(protocol.TopicRecords), []byte("hello"), false, "malformed CBOR", protocol.ErrMalformed},
		{"empty", a.topic(protocol.TopicRecords), nil, false, "empty input", protocol.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r, ev, err := h.handle(tc.topic, tc.payload)
			if err != nil {
				t.Fatalf("a rejection must settle the message: %v", err)
			}
			if !errors.Is(ev.Err, tc.is) || !strings.Contains(ev.Err.Error(), tc.want) {
				t.Fatalf("event error %v, want %q (%v)", ev.Err, tc.want, tc.is)
			}
			if ev.Record != nil || ev.Audit != nil {
				t.Fatal("a rejected message is reported as verified")
			}
			if !tc.receipt {
				if r != nil {
					t.Fatalf("receipt %+v for a message without a readable id", r)
				}
				return
			}
			if r == nil || r.Status != protocol.ReceiptRejected || !strings.Contains(r.Reason, tc.want) || r.Chain != "" {
				t.Fatalf("receipt %+v, want rejected with %q", r, tc.want)
			}
			if r.Hash != protocol.Hash(sha256.Sum256(tc.payload)) || r.ID.IsZero() {
				t.Fatalf("rejection does not name the message: %+v", r)
			}
		})
	}
	h.t = t
	// Nothing was stored; the good record is still accepted afterwards.
	for _, st := range []string{"st-a", "st-b"} {
		for _, k := range []string{KindRecord, KindAudit} {
			if ents, err := h.g.Records(centre, st, k); err != nil || len(ents) != 0 {
				t.Fatalf("%s %s: %d stored (%v)", st, k, len(ents), err)
			}
		}
	}
	h.expect(a.topic(protocol.TopicRecords), good, protocol.ReceiptStored, protocol.ChainOK)

	// With a ring trusted for every station, a record of A on B's topic verifies but is
	// still refused for naming another station.
	h2 := newHarness(t, t.TempDir(), nil, func(c *Config) { c.TrustAny, _ = protocol.NewKeyRing(a.pub(), b.pub()) })
	r := h2.expect(b.topic(protocol.TopicRecords), good, protocol.ReceiptRejected, "")
	if !strings.Contains(r.Reason, "arrived on the topic of centre lisboa-arroios station st-b") {
		t.Fatalf("reason %q", r.Reason)
	}
	// Topics outside the contract are ignored without a receipt.
	for _, topic := range []string{"captura/v1/" + centre + "/st-a", "other/x", protocol.StationTopic("porto", "st-a", "records")} {
		if r, ev, err := h2.handle(topic, good); r != nil || err != nil || ev.Err == nil {
			t.Errorf("%s: receipt %v, err %v, event %v", topic, r, err, ev.Err)
		}
	}
}

func TestAuditChain(t *testing.T) {
	s := newSim(t, centre, "st-01")
	var events []Event
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-01": {s.pub()}}, func(c *Config) {
		c.OnEvent = func(e Event) { events = append(events, e) }
	})
	at := s.topic(protocol.TopicAudit)
	e1, a1 := s.nextAudit("capture.start")
	r := h.expect(at, e1, protocol.ReceiptStored, protocol.ChainOK)
	if r.Kind != KindAudit || r.ID != a1.ID {
		t.Fatalf("receipt %+v", r)
	}
	e2, _ := s.nextAudit("capture.done")
	h.expect(at, e2, protocol.ReceiptStored, protocol.ChainOK)
	h.expect(at, e2, protocol.ReceiptDuplicate, protocol.ChainOK)
	s.nextAudit("lost")
	e4, _ := s.nextAudit("capture.start")
	h.expect(at, e4, protocol.ReceiptStored, protocol.ChainGap)
	// The records chain is separate: its first record is ok at seq 1.
	rec, _ := s.next()
	h.expect(s.topic(protocol.TopicRecords), rec, protocol.ReceiptStored, protocol.ChainOK)
	if len(events) != 5 || events[0].Audit == nil || events[0].Audit.Action != "capture.start" || events[2].Audit == nil || events[2].Receipt.Status != protocol.ReceiptDuplicate {
		t.Fatalf("events %+v", events)
	}
	if ents, _ := h.g.Records(centre, "st-01", KindAudit); len(ents) != 3 {
		t.Fatalf("%d audit entries stored", len(ents))
	}
}

func TestPersistence(t *testing.T) {
	store := t.TempDir()
	s := newSim(t, centre, "st-01")
	keys := map[string][]crypto.PublicKey{"st-01": {s.pub()}}
	h := newHarness(t, store, keys, nil)
	rt := s.topic(protocol.TopicRecords)
	var envs [][]byte
	for range 3 {
		e, _ := s.next()
		envs = append(envs, e)
		h.expect(rt, e, protocol.ReceiptStored, protocol.ChainOK)
	}
	a1, _ := s.nextAudit("capture.start")
	h.expect(s.topic(protocol.TopicAudit), a1, protocol.ReceiptStored, protocol.ChainOK)
	h.g.Close()

	// A restarted gateway keeps dedupe and the chain head.
	h.open()
	h.expect(rt, envs[1], protocol.ReceiptDuplicate, protocol.ChainOK)
	h.expect(s.topic(protocol.TopicAudit), a1, protocol.ReceiptDuplicate, protocol.ChainOK)
	e4, r4 := s.next()
	h.expect(rt, e4, protocol.ReceiptStored, protocol.ChainOK)
	h.g.Close()

	// A crash while appending: a torn index line. A crash between the envelope and the
	// index line: an envelope without a line. Both are repaired on load.
	idx := filepath.Join(store, centre, "st-01", "records.idx")
	f, err := os.OpenFile(idx, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("5 0123")
	f.Close()
	e5, r5 := s.next()
	env5 := filepath.Join(store, centre, "st-01", "records", fmt.Sprintf("%020d-%s.cose", 5, r5.ID))
	if err := os.WriteFile(env5, e5, 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(store, centre, "st-01", "records", ".x.cose.tmp-123"), []byte("partial"), 0o640)
	h.open()
	ents, err := h.g.Records(centre, "st-01", KindRecord)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 5 || ents[3].ID != r4.ID || ents[4].ID != r5.ID || ents[4].Chain != protocol.ChainOK {
		t.Fatalf("index after repair: %+v", ents)
	}
	if _, err := os.Stat(filepath.Join(store, centre, "st-01", "records", ".x.cose.tmp-123")); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	h.expect(rt, e5, protocol.ReceiptDuplicate, protocol.ChainOK)
	e6, _ := s.next()
	h.expect(rt, e6, protocol.ReceiptStored, protocol.ChainOK)
	h.g.Close()
	data, _ := os.ReadFile(idx)
	if lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); len(lines) != 6 {
		t.Fatalf("index has %d lines:\n%s", len(lines), data)
	}

	// A damaged line in the middle is an error naming the file and line, not silence.
	os.WriteFile(idx, []byte(strings.Replace(string(data), " ok\n", " ok?\n", 1)), 0o640)
	h.open()
	_, _, err = h.handle(rt, e6)
	if !errors.Is(err, ErrRetry) || !strings.Contains(err.Error(), "records.idx line 1") {
		t.Fatalf("damaged index: %v", err)
	}
}

func TestPublishFailure(t *testing.T) {
	s := newSim(t, centre, "st-01")
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-01": {s.pub()}}, nil)
	rt := s.topic(protocol.TopicRecords)
	e1, _ := s.next()
	h.pub.fail = errors.New("broker gone")
	_, err := h.g.Handle(context.Background(), h.pub, rt, e1)
	if !errors.Is(err, ErrRetry) || !strings.Contains(err.Error(), "broker gone") {
		t.Fatalf("publish failure: %v", err)
	}
	// Stored before the receipt: the redelivery is answered as a duplicate.
	h.pub.fail = nil
	h.expect(rt, e1, protocol.ReceiptDuplicate, protocol.ChainOK)
}

func TestStorageFailure(t *testing.T) {
	s := newSim(t, centre, "st-01")
	store := t.TempDir()
	h := newHarness(t, store, map[string][]crypto.PublicKey{"st-01": {s.pub()}}, nil)
	rt := s.topic(protocol.TopicRecords)
	e1, _ := s.next()
	h.expect(rt, e1, protocol.ReceiptStored, protocol.ChainOK)
	// The records directory replaced by a file: writes fail, even for root.
	dir := filepath.Join(store, centre, "st-01", "records")
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir, []byte("in the way"), 0o640)
	e2, _ := s.next()
	r, ev, err := h.handle(rt, e2)
	if !errors.Is(err, ErrRetry) || r != nil || !errors.Is(ev.Err, ErrRetry) {
		t.Fatalf("storage failure: receipt %v, err %v", r, err)
	}
	if st := h.g.Stats(); st.Failed != 1 || st.Stored != 1 {
		t.Fatalf("stats %+v", st)
	}
	os.Remove(dir)
	os.Rename(dir+".away", dir)
	h.expect(rt, e2, protocol.ReceiptStored, protocol.ChainOK)
	h.expect(rt, e1, protocol.ReceiptDuplicate, protocol.ChainOK)
}

func TestKeyDirectory(t *testing.T) {
	dir := t.TempDir()
	a := newSim(t, centre, "st-a")
	b := newSim(t, centre, "st-b")
	writeKey := func(name string, s *sim) {
		pem, _ := protocol.MarshalPublicKeyPEM(s.pub())
		if err := os.WriteFile(filepath.Join(dir, name), pem, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeKey("st-a.pub", a)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a key"), 0o644)
	h := newHarness(t, t.TempDir(), nil, func(c *Config) { c.StationKeyDir = dir })
	ea, _ := a.next()
	h.expect(a.topic(protocol.TopicRecords), ea, protocol.ReceiptStored, protocol.ChainOK)
	eb, _ := b.next()
	h.expect(b.topic(protocol.TopicRecords), eb, protocol.ReceiptRejected, "")

	// A key added to the directory is picked up without a restart, but the directory
	// is not read again more than every 2 s.
	writeKey("st-b.2026.pub", b)
	h.expect(b.topic(protocol.TopicRecords), eb, protocol.ReceiptRejected, "")
	h.clock.Add(3 * time.Second)
	h.expect(b.topic(protocol.TopicRecords), eb, protocol.ReceiptStored, protocol.ChainOK)

	// A file that is not a key is a clear error at start.
	os.WriteFile(filepath.Join(dir, "st-c.pub"), []byte("garbage"), 0o644)
	_, err := New(Config{ID: "gw", Centre: centre, Signer: h.gwKey, StationKeyDir: dir, StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "st-c.pub") {
		t.Fatalf("bad key file: %v", err)
	}
	_, err = New(Config{ID: "gw", Centre: centre, Signer: h.gwKey, StationKeyDir: filepath.Join(dir, "nope"), StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "station key directory") {
		t.Fatalf("missing key directory: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	gw := newSigner(t, protocol.KindGateway)
	ring, _ := protocol.NewKeyRing()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ID: "GW", Centre: centre, Signer: gw, TrustAny: ring, StoreDir: "x"}, "id \"GW\""},
		{Config{ID: "gw", Centre: "a/b", Signer: gw, TrustAny: ring, StoreDir: "x"}, "centre \"a/b\""},
		{Config{ID: "gw", Centre: centre, TrustAny: ring, StoreDir: "x"}, "no gateway key"},
		{Config{ID: "gw", Centre: centre, Signer: gw, TrustAny: ring}, "no store directory"},
		{Config{ID: "gw", Centre: "+", Signer: gw, StoreDir: "x"}, "no trusted station keys"},
		{Config{ID: "gw", Centre: "+", Signer: gw, StoreDir: "x", StationKeys: map[string][]crypto.PublicKey{"A B": nil}}, "not a station id"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gateway: ") {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestFleet(t *testing.T) {
	a := newSim(t, centre, "st-a")
	b := newSim(t, centre, "st-b")
	h := newHarness(t, t.TempDir(), map[string][]crypto.PublicKey{"st-a": {a.pub()}, "st-b": {b.pub()}}, nil)
	st := a.topic(protocol.TopicStatus)
	state := func() string {
		for _, s := range h.g.Fleet() {
			if s.Station == "st-a" {
				return fmt.Sprintf("%s/%d", s.State, s.Birth)
			}
		}
		return "none"
	}
	for _, step := range []struct {
		payload []byte
		want    string
	}{
		{a.status(protocol.StateOnline, 3, 100), "online/3"},
		{a.status(protocol.StateOnline, 3, 200), "online/3"},
		{a.status(protocol.StateOnline, 2, 300), "online/3"},  // an older connection
		{a.status(protocol.StateOffline, 2, 50), "online/3"},  // a late will of an older connection
		{a.status(protocol.StateOffline, 3, 90), "offline/3"}, // this connection's will
		{a.status(protocol.StateOnline, 3, 400), "offline/3"}, // the connection is over
		{a.status(protocol.StateOnline, 4, 500), "online/4"},  // reconnected
		{b.status(protocol.StateOffline, 9, 500), "online/4"}, // B's key, A's topic
		{nil, "online/4"},            // retained status cleared
		{[]byte("junk"), "online/4"}, // garbage
	} {
		if r, _, err := h.handle(st, step.payload); r != nil || err != nil {
			t.Fatalf("status: receipt %v, err %v", r, err)
		}
		if got := state(); got != step.want {
			t.Fatalf("fleet says %s, want %s", got, step.want)
		}
	}
	h.handle(b.topic(protocol.TopicStatus), b.status(protocol.StateOnline, 1, 1))
	if f := h.g.Fleet(); len(f) != 2 || f[0].Station != "st-a" || f[1].Station != "st-b" {
		t.Fatalf("fleet %+v", f)
	}
}

// TestConcurrentHandle: stations handled from many goroutines at once, with
// redeliveries racing the originals; run with -race.
func TestConcurrentHandle(t *testing.T) {
	const stations, perStation = 4, 15
	var sims []*sim
	keys := map[string][]crypto.PublicKey{}
	for i := range stations {
		s := newSim(t, centre, fmt.Sprintf("st-%d", i))
		s.body = 512
		sims = append(sims, s)
		keys[s.id] = []crypto.PublicKey{s.pub()}
	}
	var mu sync.Mutex
	verdicts := map[string]int{}
	h := newHarness(t, t.TempDir(), keys, func(c *Config) {
		c.OnRecord = func(_ string, _ *protocol.Record, v string) { mu.Lock(); verdicts[v]++; mu.Unlock() }
	})
	var wg sync.WaitGroup
	for _, s := range sims {
		envs := make([][]byte, perStation)
		for i := range envs {
			envs[i], _ = s.next()
		}
		wg.Add(2)
		go func() { // the station, in order
			defer wg.Done()
			for _, e := range envs {
				if _, err := h.g.Handle(context.Background(), h.pub, s.topic(protocol.TopicRecords), e); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() { // redeliveries, racing
			defer wg.Done()
			for i := len(envs) - 1; i >= 0; i -= 3 {
				h.g.Handle(context.Background(), h.pub, s.topic(protocol.TopicRecords), envs[i])
			}
		}()
	}
	wg.Wait()
	st := h.g.Stats()
	if st.Stored != stations*perStation || st.Rejected != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, s := range sims {
		ents, _ := h.g.Records(centre, s.id, KindRecord)
		if len(ents) != perStation || ents[0].Seq != 1 || ents[perStation-1].Seq != perStation {
			t.Fatalf("%s: %d stored", s.id, len(ents))
		}
	}
	// A redelivery that overtakes the original is stored first, as a gap or start.
	if verdicts[protocol.ChainFork] != 0 || verdicts[protocol.ChainOK] < stations*(perStation-5) {
		t.Fatalf("verdicts %v", verdicts)
	}
}
