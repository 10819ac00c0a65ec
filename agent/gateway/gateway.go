package gateway

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/protocol"
)

// Config configures a Gateway.
type Config struct {
	// ID is the gateway's id ([a-z0-9-]{1,64}), written into every receipt.
	ID string
	// Centre is the centre id whose stations are served, or "+" for all centres.
	Centre string
	// Signer is the gateway key (Ed25519) that signs receipts; stations pin its
	// public key.
	Signer *protocol.Signer
	// StationKeyDir holds the trusted station public keys (PEM), one file per key
	// named <station>.pub or <station>.<label>.pub: a key is trusted for the station
	// its file names only.
	StationKeyDir string
	// StationKeys are more station keys, bound to the station of their map key.
	StationKeys map[string][]crypto.PublicKey
	// TrustAny is a key ring trusted for every station: for tests and the demo only,
	// since any key in it can sign as any station.
	TrustAny *protocol.KeyRing
	// StoreDir is where verified envelopes and the indexes are stored (see doc.go).
	StoreDir string
	// MQTT is the broker connection. ClientID defaults to "captura-gateway-<ID>";
	// Persistent and ManualAck are always set (see doc.go).
	MQTT mqttc.Options
	// ReceiptTimeout bounds the wait for a receipt's PUBACK (default 30 s); on
	// timeout the message is left unacknowledged and the broker delivers it again.
	ReceiptTimeout time.Duration
	// Logger receives one line per message (ids, seq, verdicts, never payloads).
	Logger *slog.Logger
	// Now is the clock for receipt times (default time.Now).
	Now func() time.Time

	// OnRecord is called for each record stored now (not for duplicates or
	// rejections), after its receipt is published.
	OnRecord func(station string, rec *protocol.Record, verdict string)
	// OnEvent is called after each record, audit entry or status is handled,
	// whatever the outcome.
	OnEvent func(Event)
}

// Event describes how one message was handled.
type Event struct {
	Kind    string // "record", "audit" or "status"
	Centre  string // from the topic
	Station string // from the topic
	// Receipt is the receipt published (nil for status messages, and for rejected
	// messages whose id cannot be read).
	Receipt *protocol.Receipt
	Record  *protocol.Record // the verified record, when stored or duplicate
	Audit   *protocol.Audit  // the verified audit entry, when stored or duplicate
	Status  *protocol.Status // verified status
	// Err is why the message was rejected (the receipt's reason), or why it could not
	// be handled now (storage or publish failure: it will be delivered again).
	Err error
}

// Stats counts what the gateway did since it started.
type Stats struct {
	Stored, Duplicates, Rejected, Failed, Status uint64
}

// Publisher sends receipts; *mqttc.Client is one.
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// Gateway is the reference centre gateway.
type Gateway struct {
	cfg  Config
	log  *slog.Logger
	keys *keyStore

	mu       sync.Mutex
	stations map[string]*station // "<centre>/<station>"
	fleet    map[string]protocol.Status
	ready    chan struct{}
	readyOne sync.Once

	stored, dups, rejected, failed, statuses atomic.Uint64
}

// station is one station's state; mu serialises everything done for it.
type station struct {
	mu              sync.Mutex
	centre, id, dir string
	records, audit  *chain // nil until loaded
}

// Kinds of Event and Receipt.
const (
	KindRecord = "record"
	KindAudit  = "audit"
	KindStatus = "status"
)

// New checks cfg, loads the station keys and returns a gateway; Run connects it.
func New(cfg Config) (*Gateway, error) {
	if !protocol.ValidID(cfg.ID) {
		return nil, fmt.Errorf("gateway: id %q: want [a-z0-9-]{1,64}", cfg.ID)
	}
	if cfg.Centre != "+" && !protocol.ValidID(cfg.Centre) {
		return nil, fmt.Errorf("gateway: centre %q: want a centre id or +", cfg.Centre)
	}
	if cfg.Signer == nil {
		return nil, errors.New("gateway: no gateway key to sign receipts")
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("gateway: no store directory")
	}
	if cfg.StationKeyDir == "" && len(cfg.StationKeys) == 0 && cfg.TrustAny == nil {
		return nil, errors.New("gateway: no trusted station keys (station key directory, StationKeys or TrustAny)")
	}
	if cfg.ReceiptTimeout <= 0 {
		cfg.ReceiptTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("gateway", cfg.ID)
	keys, err := newKeyStore(cfg.StationKeyDir, cfg.StationKeys, cfg.TrustAny, log, cfg.Now)
	if err != nil {
		return nil, err
	}
	if err := mkdirDurable(cfg.StoreDir); err != nil {
		return nil, err
	}
	return &Gateway{
		cfg: cfg, log: log, keys: keys,
		stations: map[string]*station{}, fleet: map[string]protocol.Status{},
		ready: make(chan struct{}),
	}, nil
}

func (g *Gateway) String() string {
	return fmt.Sprintf("gateway(%s, centre %s)", g.cfg.ID, g.cfg.Centre)
}

// Ready is closed once the gateway is first connected and subscribed.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Stats returns the counters.
func (g *Gateway) Stats() Stats {
	return Stats{Stored: g.stored.Load(), Duplicates: g.dups.Load(), Rejected: g.rejected.Load(), Failed: g.failed.Load(), Status: g.statuses.Load()}
}

// Fleet returns the latest verified status of each station, sorted by centre and
// station.
func (g *Gateway) Fleet() []protocol.Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]protocol.Status, 0, len(g.fleet))
	for _, s := range g.fleet {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Centre != out[j].Centre {
			return out[i].Centre < out[j].Centre
		}
		return out[i].Station < out[j].Station
	})
	return out
}

// Records returns the index of a station's stored records (kind KindRecord) or audit
// entries (KindAudit), sorted by seq.
func (g *Gateway) Records(centre, stationID, kind string) ([]Entry, error) {
	if !protocol.ValidID(centre) || !protocol.ValidID(stationID) {
		return nil, fmt.Errorf("gateway: centre %q / station %q: not ids", centre, stationID)
	}
	st := g.station(centre, stationID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := g.load(st); err != nil {
		return nil, err
	}
	if kind == KindAudit {
		return st.audit.entries(), nil
	}
	return st.records.entries(), nil
}

// EnvelopePath is where a stored record (KindRecord) or audit entry is kept.
func (g *Gateway) EnvelopePath(centre, stationID, kind string, seq uint64, id protocol.ID) string {
	dir := chainRecords
	if kind == KindAudit {
		dir = chainAudit
	}
	return filepath.Join(g.cfg.StoreDir, centre, stationID, dir, fmt.Sprintf("%020d-%s.cose", seq, id))
}

func (g *Gateway) station(centre, id string) *station {
	key := centre + "/" + id
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.stations[key]
	if st == nil {
		st = &station{centre: centre, id: id, dir: filepath.Join(g.cfg.StoreDir, centre, id)}
		g.stations[key] = st
	}
	return st
}

// load opens the station's chains if needed; st.mu is held.
func (g *Gateway) load(st *station) error {
	if st.records != nil && st.audit != nil {
		return nil
	}
	var err error
	if st.records == nil {
		if st.records, err = openChain(st.dir, chainRecords, decodeRecordChain); err != nil {
			return err
		}
	}
	if st.audit == nil {
		if st.audit, err = openChain(st.dir, chainAudit, decodeAuditChain); err != nil {
			return err
		}
	}
	g.log.Debug("station loaded", "centre", st.centre, "station", st.id, "records", len(st.records.ids), "audit", len(st.audit.ids))
	return nil
}

// unload drops a station's chains after a storage error, so the next message reloads
// them from disk (cutting any torn index line).
func (st *station) unload() {
	st.records.close()
	st.audit.close()
	st.records, st.audit = nil, nil
}

// Close releases the open index files.
func (g *Gateway) Close() {
	g.mu.Lock()
	sts := make([]*station, 0, len(g.stations))
	for _, st := range g.stations {
		sts = append(sts, st)
	}
	g.mu.Unlock()
	for _, st := range sts {
		st.mu.Lock()
		st.unload()
		st.mu.Unlock()
	}
}

// ErrRetry marks a message that was not handled now (storage or publish failure): it
// must not be acknowledged, so that the broker delivers it again.
var ErrRetry = errors.New("not handled now, deliver again")

// Handle processes one message from topic as the gateway does for MQTT deliveries and
// publishes its receipt with pub. A nil error means the message is settled (stored,
// duplicate, rejected or ignored) and may be acknowledged; an error wrapping ErrRetry
// means it must be delivered again.
func (g *Gateway) Handle(ctx context.Context, pub Publisher, topic string, payload []byte) (Event, error) {
	t, err := protocol.ParseTopic(topic)
	if err != nil {
		g.log.Warn("message on an unexpected topic ignored", "topic", topic, "err", err)
		return Event{Err: err}, nil
	}
	if g.cfg.Centre != "+" && t.Centre != g.cfg.Centre {
		g.log.Warn("message of another centre ignored", "topic", topic)
		return Event{Centre: t.Centre, Station: t.Station, Err: fmt.Errorf("gateway: centre %s is not served here", t.Centre)}, nil
	}
	st := g.station(t.Centre, t.Station)
	st.mu.Lock()
	defer st.mu.Unlock()
	var ev Event
	switch t.Kind {
	case protocol.TopicRecords:
		ev, err = g.handleRecord(ctx, pub, st, payload)
	case protocol.TopicAudit:
		ev, err = g.handleAudit(ctx, pub, st, payload)
	case protocol.TopicStatus:
		ev = g.handleStatus(st, payload)
	default:
		g.log.Debug("message of another kind ignored", "topic", topic)
		return Event{Centre: t.Centre, Station: t.Station}, nil
	}
	if err != nil {
		g.failed.Add(1)
		ev.Err = err
	}
	if g.cfg.OnEvent != nil {
		g.cfg.OnEvent(ev)
	}
	return ev, err
}

// unverifiedHead reads id and seq of a payload that did not verify, to address a
// rejection. Nothing else of it is used.
func unverifiedHead(payload []byte) (protocol.ID, uint64, bool) {
	env, err := protocol.ParseEnvelope(payload, protocol.MaxRecordSize+(64<<10))
	if err != nil {
		return protocol.ID{}, 0, false
	}
	var h struct {
		ID  protocol.ID `cbor:"id"`
		Seq uint64      `cbor:"seq"`
	}
	if err := cbor.Unmarshal(env.Payload, &h); err != nil || h.ID.IsZero() {
		return protocol.ID{}, 0, false
	}
	return h.ID, h.Seq, true
}

func (g *Gateway) receipt(kind string, st *station, id protocol.ID, seq uint64, hash protocol.Hash, status, chain, reason string) *protocol.Receipt {
	return &protocol.Receipt{
		V: protocol.Version, Kind: kind, ID: id, Centre: st.centre, Station: st.id, Seq: seq, Hash: hash,
		Status: status, Chain: chain, Reason: reason, Gateway: g.cfg.ID, At: g.cfg.Now().UnixMilli(),
	}
}

// reason turns an error into a receipt reason: one line, bounded, no control bytes.
func reason(err error) string {
	s := strings.TrimPrefix(err.Error(), "protocol: ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ' '
		}
		return r
	}, s)
	if len(s) > 400 {
		s = s[:400]
		for len(s) > 0 && s[len(s)-1]&0xc0 == 0x80 { // do not cut a UTF-8 sequence
			s = s[:len(s)-1]
		}
		if len(s) > 0 && s[len(s)-1] >= 0xc0 {
			s = s[:len(s)-1]
		}
	}
	return s
}

// send signs and publishes a receipt.
func (g *Gateway) send(ctx context.Context, pub Publisher, r *protocol.Receipt) error {
	data, err := protocol.SignMessage(g.cfg.Signer, r)
	if err != nil {
		return fmt.Errorf("gateway: sign receipt: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReceiptTimeout)
	defer cancel()
	if err := pub.Publish(ctx, protocol.StationTopic(r.Centre, r.Station, protocol.TopicReceipts), 1, false, data); err != nil {
		return fmt.Errorf("gateway: receipt for %s %s: %w: %w", r.Kind, r.ID, err, ErrRetry)
	}
	return nil
}

// reject answers a message that failed verification.
func (g *Gateway) reject(ctx context.Context, pub Publisher, kind string, st *station, payload []byte, cause error, ev Event) (Event, error) {
	g.rejected.Add(1)
	ev.Err = cause
	hash := protocol.Hash(sha256.Sum256(payload))
	id, seq, ok := unverifiedHead(payload)
	if !ok {
		g.log.Warn(kind+" rejected, no id readable: no receipt", "centre", st.centre, "station", st.id, "bytes", len(payload), "hash", hash, "err", cause)
		return ev, nil
	}
	r := g.receipt(kind, st, id, seq, hash, protocol.ReceiptRejected, "", reason(cause))
	ev.Receipt = r
	g.log.Warn(kind+" rejected", "centre", st.centre, "station", st.id, "id", id, "seq", seq, "hash", hash, "reason", r.Reason)
	return ev, g.send(ctx, pub, r)
}

func (g *Gateway) handleRecord(ctx context.Context, pub Publisher, st *station, payload []byte) (Event, error) {
	ev := Event{Kind: KindRecord, Centre: st.centre, Station: st.id}
	var rec *protocol.Record
	var env *protocol.Envelope
	err := g.keys.verify(st.id, func(r *protocol.KeyRing) error {
		var err error
		rec, env, err = protocol.VerifyRecord(payload, r)
		return err
	})
	if err == nil && (rec.Centre != st.centre || rec.Station != st.id) {
		err = fmt.Errorf("record of centre %s station %s arrived on the topic of centre %s station %s: %w", rec.Centre, rec.Station, st.centre, st.id, protocol.ErrWrongTarget)
	}
	if err != nil {
		return g.reject(ctx, pub, KindRecord, st, payload, err, ev)
	}
	if err := g.load(st); err != nil {
		return ev, fmt.Errorf("%w: %w", err, ErrRetry)
	}
	r, err := g.settle(ctx, pub, KindRecord, st, st.records, rec.ID, rec.Seq, rec.Prev, env, payload)
	ev.Receipt = r
	if err != nil || r == nil {
		return ev, err
	}
	if r.Status == protocol.ReceiptRejected {
		ev.Err = errors.New(r.Reason)
		return ev, nil
	}
	ev.Record = rec
	if r.Status == protocol.ReceiptStored && g.cfg.OnRecord != nil {
		g.cfg.OnRecord(st.id, rec, r.Chain)
	}
	lvl := slog.LevelInfo
	if r.Chain == protocol.ChainGap || r.Chain == protocol.ChainFork {
		lvl = slog.LevelWarn
	}
	g.log.Log(ctx, lvl, "record "+r.Status, "centre", st.centre, "station", st.id, "seq", rec.Seq, "id", rec.ID,
		"txn", rec.Txn, "items", len(rec.Items), "exceptions", len(rec.Exceptions), "bytes", len(payload), "chain", r.Chain)
	return ev, nil
}

func (g *Gateway) handleAudit(ctx context.Context, pub Publisher, st *station, payload []byte) (Event, error) {
	ev := Event{Kind: KindAudit, Centre: st.centre, Station: st.id}
	var a *protocol.Audit
	var env *protocol.Envelope
	err := g.keys.verify(st.id, func(r *protocol.KeyRing) error {
		var err error
		a, env, err = protocol.VerifyMessage[protocol.Audit](payload, r)
		return err
	})
	if err == nil && a.ID.IsZero() {
		err = fmt.Errorf("audit: field \"id\": all zeros: %w", protocol.ErrSchema)
	}
	if err == nil && (a.Centre != st.centre || a.Station != st.id) {
		err = fmt.Errorf("audit entry of centre %s station %s arrived on the topic of centre %s station %s: %w", a.Centre, a.Station, st.centre, st.id, protocol.ErrWrongTarget)
	}
	if err != nil {
		return g.reject(ctx, pub, KindAudit, st, payload, err, ev)
	}
	if err := g.load(st); err != nil {
		return ev, fmt.Errorf("%w: %w", err, ErrRetry)
	}
	r, err := g.settle(ctx, pub, KindAudit, st, st.audit, a.ID, a.Seq, a.Prev, env, payload)
	ev.Receipt = r
	if err != nil || r == nil {
		return ev, err
	}
	if r.Status == protocol.ReceiptRejected {
		ev.Err = errors.New(r.Reason)
		return ev, nil
	}
	ev.Audit = a
	lvl := slog.LevelInfo
	if r.Chain == protocol.ChainGap || r.Chain == protocol.ChainFork {
		lvl = slog.LevelWarn
	}
	g.log.Log(ctx, lvl, "audit "+r.Status, "centre", st.centre, "station", st.id, "seq", a.Seq, "id", a.ID,
		"action", a.Action, "outcome", a.Outcome, "chain", r.Chain)
	return ev, nil
}

// settle dedupes, judges the chain, stores and sends the receipt of a verified entry.
func (g *Gateway) settle(ctx context.Context, pub Publisher, kind string, st *station, c *chain, id protocol.ID, seq uint64, prev protocol.Hash, env *protocol.Envelope, payload []byte) (*protocol.Receipt, error) {
	if e, seen := c.ids[id]; seen {
		if e.Hash == env.Hash {
			g.dups.Add(1)
			r := g.receipt(kind, st, id, seq, env.Hash, protocol.ReceiptDuplicate, e.Chain, "")
			return r, g.send(ctx, pub, r)
		}
		g.rejected.Add(1)
		r := g.receipt(kind, st, id, seq, env.Hash, protocol.ReceiptRejected, "",
			fmt.Sprintf("id %s is already stored (seq %d) with envelope hash %s", id, e.Seq, e.Hash))
		g.log.Warn(kind+" rejected", "centre", st.centre, "station", st.id, "id", id, "seq", seq, "hash", env.Hash, "reason", r.Reason)
		return r, g.send(ctx, pub, r)
	}
	e := Entry{Seq: seq, ID: id, Hash: env.Hash, Chain: c.verdict(seq, prev)}
	if err := c.store(e, payload); err != nil {
		g.log.Error(kind+" not stored: it will be delivered again", "centre", st.centre, "station", st.id, "id", id, "seq", seq, "err", err)
		st.unload()
		return nil, fmt.Errorf("%w: %w", err, ErrRetry)
	}
	g.stored.Add(1)
	r := g.receipt(kind, st, id, seq, env.Hash, protocol.ReceiptStored, e.Chain, "")
	return r, g.send(ctx, pub, r)
}

func (g *Gateway) handleStatus(st *station, payload []byte) Event {
	ev := Event{Kind: KindStatus, Centre: st.centre, Station: st.id}
	if len(payload) == 0 {
		return ev // a cleared retained status
	}
	var s *protocol.Status
	err := g.keys.verify(st.id, func(r *protocol.KeyRing) error {
		var err error
		s, _, err = protocol.VerifyMessage[protocol.Status](payload, r)
		return err
	})
	if err == nil && (s.Centre != st.centre || s.Station != st.id) {
		err = fmt.Errorf("status of centre %s station %s arrived on the topic of centre %s station %s: %w", s.Centre, s.Station, st.centre, st.id, protocol.ErrWrongTarget)
	}
	if err != nil {
		ev.Err = err
		g.log.Warn("status rejected", "centre", st.centre, "station", st.id, "err", err)
		return ev
	}
	g.statuses.Add(1)
	ev.Status = s
	key := st.centre + "/" + st.id
	g.mu.Lock()
	cur, have := g.fleet[key]
	if !have || newerStatus(*s, cur) {
		g.fleet[key] = *s
	}
	g.mu.Unlock()
	g.log.Info("status", "centre", st.centre, "station", st.id, "state", s.State, "birth", s.Birth, "health", s.Health)
	return ev
}

// newerStatus reports whether s replaces cur: a later birth always does; within one
// birth (one connection), offline (its Last Will) ends it, and online updates replace
// each other in time order.
func newerStatus(s, cur protocol.Status) bool {
	switch {
	case s.Birth != cur.Birth:
		return s.Birth > cur.Birth
	case cur.State == protocol.StateOffline:
		return false
	case s.State == protocol.StateOffline:
		return true
	default:
		return s.At >= cur.At
	}
}
