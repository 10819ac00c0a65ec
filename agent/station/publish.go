package station

import (
	"context"
	"errors"
	"time"

	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/agent/version"
	"github.com/captura-claim/captura/protocol"
)

func versionString() string { return version.String() }

// inflightEntry is a published item waiting for its receipt.
type inflightEntry struct {
	sent     time.Time
	rejected bool // the gateway rejected it; resent only rarely
}

// rejectedBackoff is how long a record the gateway rejected waits before it is offered
// again (a configuration fix at the gateway, e.g. a missing station key, may accept it).
const rejectedBackoff = time.Hour

// runPublisher publishes the outbox (records, then audit entries) in sequence order
// while connected, keeps at most Inflight of each kind unacknowledged, and republishes
// any that has waited ResendAfter without a receipt. Receipts remove entries (see
// HandleReceipt) and wake the loop.
func (s *Station) runPublisher(ctx context.Context) error {
	inflight := map[string]map[protocol.ID]*inflightEntry{store.KindRecord: {}, store.KindAudit: {}}
	tick := time.NewTicker(s.cfg.ResendAfter / 4)
	defer tick.Stop()
	for {
		if t := s.tr(); t != nil {
			for _, kind := range []string{store.KindRecord, store.KindAudit} {
				if err := s.publishPending(ctx, t, kind, inflight[kind]); err != nil && ctx.Err() == nil {
					s.log.Warn("publishing paused", "kind", kind, "err", err)
				}
			}
		} else {
			// A new connection starts over: everything unacknowledged goes again.
			clear(inflight[store.KindRecord])
			clear(inflight[store.KindAudit])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.poke:
		case <-tick.C:
		}
	}
}

func (s *Station) publishPending(ctx context.Context, t Transport, kind string, inflight map[protocol.ID]*inflightEntry) error {
	pending, err := s.deps.Store.Pending(kind)
	if err != nil {
		return err
	}
	live := make(map[protocol.ID]bool, len(pending))
	for _, e := range pending {
		live[e.ID] = true
	}
	for id := range inflight {
		if !live[id] {
			delete(inflight, id) // acknowledged or expired
		}
	}
	now := s.now()
	waiting := 0
	for _, in := range inflight {
		if !in.rejected {
			waiting++
		}
	}
	topic := s.topic(protocol.TopicRecords)
	if kind == store.KindAudit {
		topic = s.topic(protocol.TopicAudit)
	}
	for _, e := range pending {
		in, sent := inflight[e.ID]
		switch {
		case sent && in.rejected && now.Sub(in.sent) < rejectedBackoff:
			continue
		case sent && !in.rejected && now.Sub(in.sent) < s.cfg.ResendAfter:
			continue
		case !sent && waiting >= s.cfg.Inflight:
			return nil // window full; receipts will wake us
		}
		full, ok, err := s.deps.Store.Get(kind, e.Seq)
		if err != nil || !ok {
			continue // acknowledged meanwhile
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = t.Publish(pctx, topic, 1, false, full.Envelope)
		cancel()
		if err != nil {
			return err
		}
		if !sent {
			waiting++
		} else {
			s.log.Info("republished without a receipt", "kind", kind, "seq", e.Seq, "id", e.ID)
		}
		inflight[e.ID] = &inflightEntry{sent: now, rejected: sent && in.rejected}
	}
	return nil
}

// HandleReceipt processes a gateway receipt. Only receipts signed by the pinned gateway
// key, for this station, naming a queued item's id and envelope hash, erase anything.
func (s *Station) HandleReceipt(topic string, payload []byte) {
	r, _, err := protocol.VerifyMessage[protocol.Receipt](payload, s.gateway)
	if err != nil {
		s.log.Warn("receipt ignored", "err", err)
		return
	}
	if r.Station != s.cfg.Station || r.Centre != s.cfg.Centre {
		s.log.Warn("receipt for another station ignored", "station", r.Station)
		return
	}
	kind := store.KindRecord
	if r.Kind == "audit" {
		kind = store.KindAudit
	}
	switch r.Status {
	case protocol.ReceiptStored, protocol.ReceiptDuplicate:
		removed, err := s.deps.Store.Ack(kind, r.ID, r.Hash)
		if err != nil {
			s.log.Error("receipt does not match the queued item", "kind", kind, "id", r.ID, "err", err)
			return
		}
		if removed {
			s.log.Info("receipt: erased from the outbox", "kind", kind, "id", r.ID, "seq", r.Seq, "chain", r.Chain)
			if r.Chain == protocol.ChainGap || r.Chain == protocol.ChainFork {
				s.log.Warn("gateway reports a chain problem", "kind", kind, "seq", r.Seq, "chain", r.Chain)
			}
		}
		s.kick()
	case protocol.ReceiptRejected:
		s.log.Error("gateway rejected an item; it stays in the outbox", "kind", kind, "id", r.ID, "reason", r.Reason)
	}
}

// emitProgress returns the session's progress publisher: best effort, QoS 1, never
// blocking the session on the network.
func (s *Station) emitProgress(ctx context.Context) func(protocol.Progress) {
	ch := make(chan protocol.Progress, 64)
	go func() {
		for p := range ch {
			if s.tr() == nil {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := s.publishSigned(pctx, s.topic(protocol.TopicEvents), 1, false, &p); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Debug("progress event not published", "err", err)
			}
			cancel()
		}
	}()
	var closed bool
	return func(p protocol.Progress) {
		if closed {
			return
		}
		p.Station = s.cfg.Station
		if p.Event == protocol.EvSessionDone || p.Event == protocol.EvSessionFail || p.Event == protocol.EvSessionAbort {
			ch <- p
			close(ch)
			closed = true
			return
		}
		select {
		case ch <- p:
		default:
		}
	}
}
