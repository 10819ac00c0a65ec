package gateway

import (
	"context"
	"crypto"
	"crypto/sha256"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/protocol"
)

// runningGateway is a gateway served by Run against a broker.
type runningGateway struct {
	g    *Gateway
	stop func()
}

func startGateway(t *testing.T, url, store string, gwKey *protocol.Signer, keys map[string][]crypto.PublicKey) *runningGateway {
	t.Helper()
	g, err := New(Config{ID: "gw-it", Centre: centre, Signer: gwKey, StationKeys: keys, StoreDir: store, ReceiptTimeout: 5 * time.Second,
		MQTT: mqttc.Options{Brokers: []string{url}, Backoff: mqttc.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}, ConnectTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Ready():
	case err := <-done:
		t.Fatalf("gateway Run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("gateway not ready within 15 s")
	}
	var once sync.Once
	rg := &runningGateway{g: g, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway Run: %v", err)
			}
		})
	}}
	t.Cleanup(rg.stop)
	return rg
}

// station publishes records like the agent's uplink: it resends a record until the
// gateway's verified receipt for its id and hash arrives.
type stationClient struct {
	*sim
	c    *mqttc.Client
	ring *protocol.KeyRing

	mu       sync.Mutex
	receipts map[protocol.ID][]*protocol.Receipt
	changed  chan struct{}
}

func newStation(t *testing.T, s *sim, url string, gwKey *protocol.Signer) *stationClient {
	ring, _ := protocol.NewKeyRing(gwKey.Public())
	st := &stationClient{sim: s, ring: ring, receipts: map[protocol.ID][]*protocol.Receipt{}, changed: make(chan struct{})}
	c, err := mqttc.New(mqttc.Options{Brokers: []string{url}, ClientID: "station-" + s.id, Persistent: true,
		Backoff: mqttc.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st.c = c
	c.Subscribe(context.Background(), s.topic(protocol.TopicReceipts), 1, func(m *mqttc.Message) {
		r, _, err := protocol.VerifyMessage[protocol.Receipt](m.Payload, ring)
		if err != nil {
			t.Errorf("receipt does not verify: %v", err)
			return
		}
		st.mu.Lock()
		st.receipts[r.ID] = append(st.receipts[r.ID], r)
		close(st.changed)
		st.changed = make(chan struct{})
		st.mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := c.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// settled returns the receipt that lets the station erase the record, if any.
func (st *stationClient) settled(id protocol.ID, hash protocol.Hash) (*protocol.Receipt, chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.receipts[id] {
		if r.Hash == hash && (r.Status == protocol.ReceiptStored || r.Status == protocol.ReceiptDuplicate) {
			return r, nil
		}
	}
	return nil, st.changed
}

// send publishes env until it is receipted; each wait for a receipt lasts retry.
func (st *stationClient) send(t *testing.T, env []byte, id protocol.ID, retry time.Duration) *protocol.Receipt {
	t.Helper()
	hash := protocol.Hash(sha256.Sum256(env))
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), retry)
		err := st.c.Publish(ctx, st.topic(protocol.TopicRecords), 1, false, env)
		cancel()
		if err == nil {
			if r := st.await(id, hash, retry); r != nil {
				return r
			}
		} else {
			time.Sleep(50 * time.Millisecond) // not connected: the client reconnects by itself
		}
		if r, _ := st.settled(id, hash); r != nil {
			return r
		}
	}
	t.Fatalf("record %s never receipted", id)
	return nil
}

func (st *stationClient) await(id protocol.ID, hash protocol.Hash, d time.Duration) *protocol.Receipt {
	timeout := time.After(d)
	for {
		r, ch := st.settled(id, hash)
		if r != nil {
			return r
		}
		select {
		case <-ch:
		case <-timeout:
			return nil
		}
	}
}

// TestIntegration runs the contract over each broker: records in order with a 1.5 MB
// one, a duplicate, the gateway stopped and restarted while records keep coming, and the
// broker restarted mid-stream. At the end every record is stored exactly once and the
// chain is intact.
func TestIntegration(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b *brokertest.Broker) {
		store := t.TempDir()
		gwKey := newSigner(t, protocol.KindGateway)
		s := newSim(t, centre, "st-07")
		keys := map[string][]crypto.PublicKey{"st-07": {s.pub()}}
		gw := startGateway(t, b.URL(), store, gwKey, keys)
		st := newStation(t, s, b.URL(), gwKey)
		var sent []protocol.ID

		// 1. In order, one record of a whole session's size.
		for i := range 4 {
			if i == 2 {
				s.body = 1536 << 10
			} else {
				s.body = 4096
			}
			env, rec := s.next()
			r := st.send(t, env, rec.ID, 5*time.Second)
			if r.Status != protocol.ReceiptStored || r.Chain != protocol.ChainOK || r.Seq != rec.Seq || r.Kind != KindRecord {
				t.Fatalf("record %d: receipt %+v", rec.Seq, r)
			}
			sent = append(sent, rec.ID)
		}
		s.body = 2048
		// 2. A resend is a duplicate.
		first, _ := gw.g.Records(centre, "st-07", KindRecord)
		dupEnv := mustRead(t, gw.g.EnvelopePath(centre, "st-07", KindRecord, first[1].Seq, first[1].ID))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := st.c.Publish(ctx, s.topic(protocol.TopicRecords), 1, false, dupEnv); err != nil {
			t.Fatal(err)
		}
		cancel()
		waitFor(t, "duplicate receipt", func() bool {
			st.mu.Lock()
			defer st.mu.Unlock()
			rs := st.receipts[first[1].ID]
			return len(rs) == 2 && rs[1].Status == protocol.ReceiptDuplicate && rs[1].Chain == protocol.ChainOK
		})

		// 3. The gateway stops while records keep coming, then starts again on the same
		// store; the broker held them for its persistent session.
		var envs [][]byte
		var ids []protocol.ID
		for range 12 {
			env, rec := s.next()
			envs, ids = append(envs, env), append(ids, rec.ID)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, env := range envs {
				st.send(t, env, ids[i], 4*time.Second)
			}
		}()
		waitFor(t, "the first receipts", func() bool { r, _ := st.settled(ids[2], sha256.Sum256(envs[2])); return r != nil })
		gw.stop()
		time.Sleep(300 * time.Millisecond)
		gw = startGateway(t, b.URL(), store, gwKey, keys)
		wg.Wait()
		sent = append(sent, ids...)

		// 4. The broker restarts mid-stream (the embedded broker loses its sessions:
		// the gateway subscribes again and the station resends).
		envs, ids = nil, nil
		for range 6 {
			env, rec := s.next()
			envs, ids = append(envs, env), append(ids, rec.ID)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, env := range envs {
				st.send(t, env, ids[i], 3*time.Second)
			}
		}()
		waitFor(t, "receipts before the broker restart", func() bool { r, _ := st.settled(ids[1], sha256.Sum256(envs[1])); return r != nil })
		b.Restart()
		wg.Wait()
		sent = append(sent, ids...)

		ents, err := gw.g.Records(centre, "st-07", KindRecord)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != len(sent) {
			t.Fatalf("%d records stored, %d sent", len(ents), len(sent))
		}
		for i, e := range ents {
			if e.Seq != uint64(i+1) || e.ID != sent[i] || e.Chain != protocol.ChainOK {
				t.Fatalf("stored #%d: seq %d id %s chain %s, want seq %d id %s chain ok", i, e.Seq, e.ID, e.Chain, i+1, sent[i])
			}
		}
		t.Logf("%s: %d records stored once each, chain ok; %+v since the last gateway start", b.Kind, len(ents), gw.g.Stats())
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
