package daemon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/agent/gateway"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

// TestBrokerOutageQueuesThenDrains stops mosquitto as soon as each session has started,
// so that the station commits the records while the broker is down: they queue in the
// outbox, and once the broker is back they reach the gateway in sequence order with an
// intact chain, the tablet gets every final state, and the outbox empties.
func TestBrokerOutageQueuesThenDrains(t *testing.T) {
	b := brokertest.Mosquitto(t)
	e := newEnv(t, b.URL(), "")
	committed := make(chan store.Entry, 10)
	stop := e.runInProcess(t, daemon.Hooks{OnCommitted: func(en store.Entry) { committed <- en }})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const sessions = 3
	var results []chan error
	for i := 1; i <= sessions; i++ {
		result := make(chan error, 1)
		results = append(results, result)
		if !b.Running() {
			b.Start()
		}
		if err := e.mq.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		executing := make(chan struct{})
		go func() {
			_, err := e.tab.Send(ctx, protocol.CmdCaptureStart, func(c *protocol.Command) {
				c.Start = &protocol.StartArgs{Txn: fmt.Sprintf("AIMA-OUT-%d", i), Fingers: []protocol.FingerPos{1, 2, 3}}
			}, func(cs *protocol.CommandState) {
				if cs.State == protocol.CmdExecuting {
					select {
					case <-executing:
					default:
						close(executing)
					}
				}
			})
			result <- err
		}()
		select {
		case <-executing:
		case err := <-result:
			t.Fatalf("session %d ended before it started: %v", i, err)
		case <-ctx.Done():
			t.Fatalf("session %d did not start", i)
		}
		b.Stop() // the broker goes away mid-session
		select {
		case en := <-committed:
			if en.Seq != uint64(i) {
				t.Fatalf("committed seq %d, want %d", en.Seq, i)
			}
		case <-ctx.Done():
			t.Fatal("session not committed while the broker was down")
		}
	}
	b.Start()
	for i, r := range results {
		if err := <-r; err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	// A record stored while the broker went away is receipted on redelivery (as a
	// duplicate of what the gateway already stored): count what the gateway holds.
	e.waitOutboxEmpty(60 * time.Second)
	entries, err := e.gw.Records("c1", "st-1", gateway.KindRecord)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != sessions {
		t.Fatalf("%d records stored at the gateway, want %d", len(entries), sessions)
	}
	for i, en := range entries {
		if en.Seq != uint64(i+1) || en.Chain != protocol.ChainOK {
			t.Errorf("record %d: seq %d, chain verdict %q", i+1, en.Seq, en.Chain)
		}
	}
}
