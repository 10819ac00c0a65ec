package station

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/captura-claim/captura/protocol"
)

// Pairing is the station's pairing window: opened by the pairing button or
// `captura-agent pairing-window`, closed after Window, after MaxFailures wrong secrets,
// or after a tablet paired.
type Pairing struct {
	Secret      []byte // the setup secret from the label
	Window      time.Duration
	MaxFailures int

	mu       sync.Mutex
	until    time.Time
	failures int
}

// Open opens the window until now+Window and returns its end.
func (p *Pairing) Open(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until, p.failures = now.Add(p.Window), 0
	return p.until
}

// Close closes the window.
func (p *Pairing) Close() {
	p.mu.Lock()
	p.until = time.Time{}
	p.mu.Unlock()
}

// IsOpen reports whether the window is open at now.
func (p *Pairing) IsOpen(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Before(p.until)
}

// pairedTablet is a tablet as the store keeps it.
type pairedTablet struct {
	Key    []byte `cbor:"key"` // SPKI DER
	Paired int64  `cbor:"paired"`
	By     string `cbor:"by"` // "pairing" or "config"
}

// LoadTablets adds the tablets paired at run time (kept in the store) to the key set. An
// entry that cannot be read is skipped, logged and audited, not fatal: one damaged entry
// must not take the station and every other tablet down; that tablet pairs again.
func (s *Station) LoadTablets() error {
	type skipped struct{ name, reason string }
	var bad []skipped
	err := s.deps.Store.ForEach("tablets", func(k, v []byte) error {
		var pt pairedTablet
		err := cbor.Unmarshal(v, &pt)
		var pub any
		if err == nil {
			pub, err = x509.ParsePKIXPublicKey(pt.Key)
		}
		if err == nil {
			_, err = s.cfg.Tablets.Add(string(k), pub)
		}
		if err != nil {
			bad = append(bad, skipped{string(k), err.Error()})
		}
		return nil
	})
	// Logged and audited once the store's read transaction is over.
	for _, b := range bad {
		s.log.Error("paired tablet skipped: its entry cannot be used; pair it again", "tablet", b.name, "err", b.reason)
		s.audit(context.Background(), "station", "pairing.skipped", "failed", b.name, map[string]string{"reason": b.reason})
	}
	return err
}

// OpenPairing opens the pairing window (button press or control socket) and returns
// when it closes.
func (s *Station) OpenPairing(ctx context.Context, by string) (time.Time, error) {
	p := s.cfg.Pairing
	if p == nil || len(p.Secret) == 0 {
		return time.Time{}, errors.New("no setup secret: provision the station first (captura-fw provision)")
	}
	until := p.Open(s.now())
	s.audit(ctx, by, "pairing.window-opened", "ok", "", map[string]string{"until": until.UTC().Format(time.RFC3339)})
	s.log.Info("pairing window open", "until", until, "by", by)
	if s.deps.Panel != nil {
		s.deps.Panel.Pairing(true)
		time.AfterFunc(until.Sub(s.now()), func() {
			if !p.IsOpen(s.now()) {
				s.deps.Panel.Pairing(false)
			}
		})
	}
	return until, nil
}

// HandlePairRequest receives a message on a pairing request topic; it only queues it.
func (s *Station) HandlePairRequest(topic string, payload []byte) {
	select {
	case s.cmds <- inbound{topic: topic, payload: payload, pair: true}:
	default:
		s.log.Warn("command queue full; pairing request dropped")
	}
}

// processPairing answers one pairing request.
func (s *Station) processPairing(ctx context.Context, in inbound) {
	if len(in.payload) == 0 {
		return
	}
	req, err := protocol.VerifyPairRequest(in.payload)
	if err != nil {
		s.log.Warn("pairing request rejected", "err", err)
		s.audit(ctx, "unknown", "pairing.denied", "denied", "", map[string]string{"reason": "malformed request: " + err.Error()})
		return
	}
	actor := "tablet-candidate:" + req.Tablet
	deny := func(reason string) {
		s.audit(ctx, actor, "pairing.denied", "denied", req.ID.String(), map[string]string{"reason": reason})
		s.log.Warn("pairing denied", "tablet", req.Tablet, "reason", reason)
		s.answerPairing(ctx, req, in.payload, protocol.PairDenied, reason, nil)
	}
	p := s.cfg.Pairing
	switch {
	case req.Station != s.cfg.Station || req.Centre != s.cfg.Centre:
		deny(fmt.Sprintf("wrong station: addressed to %s/%s", req.Centre, req.Station))
		return
	case p == nil || !p.IsOpen(s.now()):
		deny("the pairing window is closed: press the station's pairing button first")
		return
	}
	key, err := protocol.PairingKey(p.Secret, s.cfg.Centre, s.cfg.Station)
	if err != nil {
		deny("internal error")
		return
	}
	if !protocol.CheckRequestMAC(key, req) {
		p.mu.Lock()
		p.failures++
		n := p.failures
		if n >= p.MaxFailures {
			p.until = time.Time{}
		}
		p.mu.Unlock()
		reason := "wrong setup secret"
		if n >= p.MaxFailures {
			reason += "; the pairing window is closed after " + strconv.Itoa(n) + " wrong secrets"
			s.audit(ctx, "station", "pairing.window-closed", "failed", "", map[string]string{"failures": strconv.Itoa(n)})
		}
		deny(reason)
		return
	}
	pub, _ := req.PublicKey()
	kid, err := s.cfg.Tablets.Add(req.Tablet, pub)
	if err != nil {
		deny("tablet key not accepted: " + err.Error())
		return
	}
	rec, _ := cbor.Marshal(pairedTablet{Key: req.Key, Paired: s.now().UnixMilli(), By: "pairing"})
	if err := s.deps.Store.Put("tablets", []byte(req.Tablet), rec); err != nil {
		s.cfg.Tablets.Remove(req.Tablet)
		deny("could not store the pairing")
		return
	}
	p.Close()
	if s.deps.Panel != nil {
		s.deps.Panel.Pairing(false)
	}
	s.audit(ctx, "tablet:"+req.Tablet, "pairing.paired", "ok", kid.String(), map[string]string{"tablet": req.Tablet})
	s.log.Info("tablet paired", "tablet", req.Tablet, "kid", kid)
	s.answerPairing(ctx, req, in.payload, protocol.PairPaired, "", key)
}

func (s *Station) answerPairing(ctx context.Context, req *protocol.PairRequest, reqEnv []byte, status, reason string, key []byte) {
	resp := &protocol.PairResponse{V: protocol.Version, ID: req.ID, Centre: s.cfg.Centre, Station: s.cfg.Station,
		Status: status, Reason: reason, Nonce: protocol.NewID().Bytes(), At: s.now().UnixMilli()}
	if status == protocol.PairPaired {
		der, err := x509.MarshalPKIXPublicKey(s.cfg.Signer.Public())
		if err != nil {
			return
		}
		resp.Key = der
		if resp.MAC, err = protocol.ResponseMAC(key, reqEnv, resp); err != nil {
			return
		}
	}
	env, err := protocol.SignMessage(s.cfg.Signer, resp)
	if err != nil {
		s.log.Error("pairing answer not signed", "err", err)
		return
	}
	if t := s.tr(); t != nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		t.Publish(pctx, s.topic(protocol.TopicPair, req.ID.String(), "resp"), 1, false, env)
	}
}

// Unpair removes a paired tablet durably.
func (s *Station) Unpair(ctx context.Context, name, by string) error {
	if !s.cfg.Tablets.Remove(name) {
		return fmt.Errorf("no tablet %q is paired", name)
	}
	if err := s.deps.Store.Delete("tablets", []byte(name)); err != nil {
		return err
	}
	s.audit(ctx, by, "pairing.unpaired", "ok", name, nil)
	return nil
}
