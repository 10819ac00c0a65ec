package gateway

import (
	"context"
	"crypto"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

// BenchmarkHandleRecord measures the gateway's work per record of a whole session's
// size (a 1.5 MB sealed body): verify (signature, schema, binding), dedupe and chain,
// durable store (atomic write with fsync, index append with fsync) and signing the
// receipt (published to a fake). Record generation is outside the timer.
func BenchmarkHandleRecord(b *testing.B) {
	s := newSim(b, centre, "st-bench")
	s.body = 1536 << 10
	pub := &fakePub{}
	g, err := New(Config{ID: "gw-bench", Centre: centre, Signer: newSigner(b, protocol.KindGateway),
		StationKeys: map[string][]crypto.PublicKey{"st-bench": {s.pub()}}, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	topic := s.topic(protocol.TopicRecords)
	ctx := context.Background()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		b.StopTimer()
		env, _ := s.next()
		size = len(env)
		pub.sent = pub.sent[:0]
		b.StartTimer()
		ev, err := g.Handle(ctx, pub, topic, env)
		if err != nil || ev.Receipt == nil || ev.Receipt.Status != protocol.ReceiptStored || ev.Receipt.Chain != protocol.ChainOK {
			b.Fatalf("handle: %v %+v", err, ev.Receipt)
		}
	}
	b.SetBytes(int64(size))
	b.ReportMetric(float64(size), "record-bytes")
}

// BenchmarkVerifyRecord is the verification share of BenchmarkHandleRecord.
func BenchmarkVerifyRecord(b *testing.B) {
	s := newSim(b, centre, "st-bench")
	s.body = 1536 << 10
	env, _ := s.next()
	ring, _ := protocol.NewKeyRing(s.pub())
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := protocol.VerifyRecord(env, ring); err != nil {
			b.Fatal(err)
		}
	}
}
