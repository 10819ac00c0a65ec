package gateway

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

// FuzzHandle feeds arbitrary payloads to each topic kind: the gateway never panics,
// never stores what does not verify, and answers only with receipts that name the
// message's hash.
func FuzzHandle(f *testing.F) {
	s := newSim(f, centre, "st-f")
	s.body = 64
	rec, _ := s.next()
	aud, _ := s.nextAudit("capture.start")
	f.Add(uint8(0), rec)
	f.Add(uint8(1), aud)
	f.Add(uint8(2), s.status(protocol.StateOnline, 1, 1))
	f.Add(uint8(0), aud)
	f.Add(uint8(0), []byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Add(uint8(1), []byte{})
	pub := &fakePub{}
	g, err := New(Config{ID: "gw-fuzz", Centre: centre, Signer: newSigner(f, protocol.KindGateway),
		StationKeys: map[string][]crypto.PublicKey{"st-f": {s.pub()}}, StoreDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	defer g.Close()
	kinds := []string{protocol.TopicRecords, protocol.TopicAudit, protocol.TopicStatus}
	f.Fuzz(func(t *testing.T, k uint8, payload []byte) {
		before := g.Stats().Stored
		ev, err := g.Handle(context.Background(), pub, s.topic(kinds[int(k)%len(kinds)]), payload)
		if err != nil {
			t.Fatalf("handle: %v", err)
		}
		if g.Stats().Stored != before && ev.Record == nil && ev.Audit == nil {
			t.Fatal("stored something that did not verify")
		}
		if r := ev.Receipt; r != nil && r.Hash != sha(payload) {
			t.Fatalf("receipt names hash %s", r.Hash)
		}
	})
}

// FuzzIndexLine: parsing an index line never panics and formats back stably.
func FuzzIndexLine(f *testing.F) {
	f.Add("1 7bd87ca67f07e7904cc69653a6b4b41a 1a1d5d2c7a8e0f1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aa ok\n")
	f.Add("42 b7462d6ced2c15add3dbe47755277fa9 0000000000000000000000000000000000000000000000000000000000000000 start\n")
	f.Add("0 x y z")
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseIndexLine(line)
		if err != nil {
			return
		}
		out := fmt.Sprintf("%d %s %s %s\n", e.Seq, e.ID, e.Hash, e.Chain)
		e2, err := parseIndexLine(out)
		if err != nil || e2 != e {
			t.Fatalf("%q -> %q -> %v %+v", line, out, err, e2)
		}
	})
}

func sha(b []byte) protocol.Hash { return sha256.Sum256(b) }
