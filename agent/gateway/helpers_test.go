package gateway

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/protocol"
)

var (
	aimaOnce sync.Once
	aimaKey  *protocol.RecipientKey
)

// testAIMA is the recipient key bodies are sealed to (HPKE-7: cheap to generate).
func testAIMA(t testing.TB) *protocol.RecipientKey {
	aimaOnce.Do(func() {
		var err error
		if aimaKey, err = protocol.GenerateRecipientKey(protocol.SuiteP256); err != nil {
			panic(err)
		}
	})
	return aimaKey
}

func newSigner(t testing.TB, kind string) *protocol.Signer {
	t.Helper()
	k, err := protocol.GenerateSigningKey(kind)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sim is a station as the gateway sees it: a key and its two hash chains.
type sim struct {
	t           testing.TB
	centre, id  string
	signer      *protocol.Signer
	seq         uint64
	prev        protocol.Hash
	aseq        uint64
	aprev       protocol.Hash
	body        int // sealed body size
	rng         *rand.Rand
	startedBase int64
}

func newSim(t testing.TB, centre, id string) *sim {
	return &sim{t: t, centre: centre, id: id, signer: newSigner(t, protocol.KindStation), body: 2048,
		rng: rand.New(rand.NewPCG(uint64(len(id)), 7)), startedBase: 1795000000000}
}

// record builds a signed record at seq with prev (not advancing the chain).
func (s *sim) record(seq uint64, prev protocol.Hash, mutate func(*protocol.Record)) ([]byte, *protocol.Record) {
	s.t.Helper()
	id := protocol.NewID()
	data := make([]byte, s.body)
	for i := range data {
		data[i] = byte(s.rng.Uint32())
	}
	body := &protocol.Body{V: protocol.Version, Record: id, Items: []protocol.BodyItem{
		{Mod: protocol.ModFinger, Pos: 1, Format: protocol.FormatFIR, Data: data},
	}}
	sealed, err := body.Seal(testAIMA(s.t).Public(), s.id)
	if err != nil {
		s.t.Fatal(err)
	}
	t0 := s.startedBase + int64(seq)*100000
	r := &protocol.Record{
		V: protocol.Version, ID: id, Centre: s.centre, Station: s.id, Seq: seq, Prev: prev,
		Txn: "AIMA-2026-000001", Started: t0, Ended: t0 + 60000, Operator: "tablet-1", Software: "captura test",
		Items: []protocol.Item{{Mod: protocol.ModFinger, Pos: 1, Attempts: []protocol.Attempt{{
			N: 1, At: t0 + 1000, Q: protocol.Quality{Alg: "NFIQ2", Ver: "2.3", Score: 55, Pass: true}}}}},
		Body: sealed,
	}
	if mutate != nil {
		mutate(r)
	}
	env, err := protocol.SignRecord(s.signer, r)
	if err != nil {
		s.t.Fatal(err)
	}
	return env, r
}

// next builds the next record of the chain and advances it.
func (s *sim) next() ([]byte, *protocol.Record) {
	s.seq++
	env, r := s.record(s.seq, s.prev, nil)
	s.prev = sha256.Sum256(env)
	return env, r
}

// nextAudit builds the next audit entry of the chain and advances it.
func (s *sim) nextAudit(action string) ([]byte, *protocol.Audit) {
	s.t.Helper()
	s.aseq++
	a := &protocol.Audit{V: protocol.Version, ID: protocol.NewID(), Centre: s.centre, Station: s.id, Seq: s.aseq, Prev: s.aprev,
		At: s.startedBase + int64(s.aseq), Actor: "tablet:tablet-1", Action: action, Outcome: "ok"}
	env, err := protocol.SignMessage(s.signer, a)
	if err != nil {
		s.t.Fatal(err)
	}
	s.aprev = sha256.Sum256(env)
	return env, a
}

func (s *sim) status(state string, birth uint64, at int64) []byte {
	s.t.Helper()
	env, err := protocol.SignMessage(s.signer, &protocol.Status{V: protocol.Version, Centre: s.centre, Station: s.id, State: state, Birth: birth, At: at})
	if err != nil {
		s.t.Fatal(err)
	}
	return env
}

func (s *sim) topic(kind string) string { return protocol.StationTopic(s.centre, s.id, kind) }

func (s *sim) pub() crypto.PublicKey { return s.signer.Public() }

// fakePub collects published receipts and fails while fail is set.
type fakePub struct {
	mu   sync.Mutex
	fail error
	sent []sent
}

type sent struct {
	topic   string
	payload []byte
}

func (p *fakePub) Publish(_ context.Context, topic string, qos byte, retained bool, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	if qos != 1 || retained {
		return errors.New("receipts must be QoS 1, not retained")
	}
	p.sent = append(p.sent, sent{topic, append([]byte(nil), payload...)})
	return nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
