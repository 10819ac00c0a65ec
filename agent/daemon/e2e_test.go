package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/protocol"
)

// TestEndToEnd runs the whole chain on each broker: a tablet's signed command starts a
// session on the simulated reader over a real pty, the record is sealed, signed and
// published, the reference gateway verifies and stores it and sends a signed receipt,
// and the station's outbox empties.
func TestEndToEnd(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b *brokertest.Broker) {
		e := newEnv(t, b.URL(), "")
		stop := e.runInProcess(t, daemon.Hooks{})
		defer stop()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var events []string
		id, err := e.tab.Capture(ctx, "AIMA-E2E-1", []protocol.FingerPos{2, 7}, false, func(p *protocol.Progress) {
			events = append(events, p.Event)
		})
		if err != nil {
			t.Fatal(err)
		}
		r := e.waitRecord(id, 30*time.Second)
		if r.Txn != "AIMA-E2E-1" || len(r.Items) != 2 || r.Items[0].Attempts[r.Items[0].Chosen].Q.Alg != "NFIQ2" {
			t.Fatalf("record at the gateway: %+v", r)
		}
		body, err := protocol.OpenBody(e.aima, r.Station, r.ID, r.Body)
		if err != nil || len(body.Items) != 4 {
			t.Fatalf("AIMA cannot open the body: %v", err)
		}
		e.waitOutboxEmpty(30 * time.Second)
		e.mu.Lock()
		chains := append([]string(nil), e.chains...)
		e.mu.Unlock()
		if len(chains) != 1 || chains[0] != protocol.ChainOK {
			t.Errorf("chain verdicts: %v", chains)
		}
		if len(events) == 0 {
			t.Error("the tablet saw no progress")
		}
	})
}
