// Package station is the core of captura-agent: it turns tablets' signed commands into
// capture sessions, commits each finished session as a sealed, signed, chained record
// to the outbox, publishes records and audit entries until the gateway's signed receipt
// erases them, and reports status and progress. It talks to MQTT through the small
// Transport interface; the uplink package owns the broker connection.
//
// Crash-only: all state that matters is in the store, written in single transactions.
// After a restart, an interrupted session's command is reported failed, the outbox is
// published again in order, and nothing is captured twice.
package station

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/agent/version"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// Transport publishes to the broker. Publish with QoS 1 returns once the broker has
// acknowledged the message (PUBACK) or ctx ends.
type Transport interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// Devices is what the station needs of the device supervisor.
type Devices interface {
	Reader() (fingerprint.Reader, error)
	Status() []protocol.DeviceStatus
}

// Panel is the station panel: applicant guidance during sessions, and the pairing
// indication.
type Panel interface {
	session.Panel
	Pairing(open bool)
}

// Config is the station's identity, keys and policy.
type Config struct {
	Station, Centre string
	Signer          *protocol.Signer
	AIMA            *protocol.RecipientPublicKey
	Gateway         crypto.PublicKey // receipts must verify against it
	Tablets         *Tablets
	Capture         session.Config
	ResendAfter     time.Duration
	Inflight        int
	MaxAge          time.Duration // outbox retention limit
	StatusInterval  time.Duration
	TelemetryEvery  time.Duration
	Caps            []string
	Slot            string
	// ClockSkew is how far a command's issued time may be in the future.
	ClockSkew time.Duration
	// SessionFlag, when set, is a file that exists exactly while a capture session runs
	// (/run/captura/session): package upgrades wait for it to disappear.
	SessionFlag string
	// Pairing is the pairing window; nil when the station has no setup secret.
	Pairing *Pairing
}

// Deps are the station's collaborators.
type Deps struct {
	Store     *store.Store
	Devices   Devices
	Quality   session.FingerQuality
	FingerPAD session.FingerPAD
	Face      session.FaceCapturer
	Panel     Panel // may be nil
	Log       *slog.Logger
	Now       func() time.Time
	// OnCommitted is called after a record is committed (tests, demo).
	OnCommitted func(store.Entry)
	// UpdateStatus, when set, reports the latest update job for the status message.
	UpdateStatus func() *protocol.UpdateStatus
}

// Station is the running core.
type Station struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	gateway *protocol.KeyRing

	mu        sync.Mutex
	transport Transport
	birth     uint64
	running   *running // the current session, if any
	held      bool     // new sessions are refused (an update is switching slots)

	poke    chan struct{}
	cmds    chan inbound
	started time.Time

	retentionPaused bool // the last expiry found the clock unsynchronised (runMaintenance only)
}

type running struct {
	sess    *session.Session
	cmd     *protocol.Command
	stateCh chan struct{}
}

type inbound struct {
	topic   string
	payload []byte
	pair    bool          // a pairing request
	alive   chan struct{} // a liveness probe instead of a command
}

// New builds a station.
func New(cfg Config, deps Deps) (*Station, error) {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.Inflight <= 0 {
		cfg.Inflight = 8
	}
	if cfg.ResendAfter <= 0 {
		cfg.ResendAfter = 30 * time.Second
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = time.Minute
	}
	if cfg.Tablets == nil {
		cfg.Tablets = NewTablets()
	}
	ring, err := protocol.NewKeyRing(cfg.Gateway)
	if err != nil {
		return nil, fmt.Errorf("station: gateway key: %w", err)
	}
	s := &Station{cfg: cfg, deps: deps, log: deps.Log, gateway: ring, poke: make(chan struct{}, 1),
		cmds: make(chan inbound, 64), started: deps.Now()}
	return s, nil
}

func (s *Station) now() time.Time { return s.deps.Now() }

func (s *Station) topic(kind string, rest ...string) string {
	return protocol.StationTopic(s.cfg.Centre, s.cfg.Station, kind, rest...)
}

// Subscriptions are the filters the uplink subscribes to (QoS 1) after each connect,
// with the handler for each.
func (s *Station) Subscriptions() map[string]func(topic string, payload []byte) {
	return map[string]func(string, []byte){
		protocol.Filter(s.cfg.Centre, s.cfg.Station, protocol.TopicCmd, "+", "+"):    s.HandleCommand,
		s.topic(protocol.TopicReceipts):                                              s.HandleReceipt,
		protocol.Filter(s.cfg.Centre, s.cfg.Station, protocol.TopicPair, "+", "req"): s.HandlePairRequest,
	}
}

// Connected is called by the uplink once a connection with the given birth number is
// up and subscribed: the station publishes its birth status and its outbox.
func (s *Station) Connected(ctx context.Context, t Transport, birth uint64) {
	s.mu.Lock()
	s.transport, s.birth = t, birth
	s.mu.Unlock()
	if err := s.publishStatus(ctx, protocol.StateOnline); err != nil {
		s.log.Warn("birth status not published", "err", err)
	}
	s.showOffline(false)
	s.kick()
}

// showOffline tells a panel that can show it whether the broker connection is down.
func (s *Station) showOffline(off bool) {
	if p, ok := s.deps.Panel.(interface{ Offline(bool) }); ok {
		p.Offline(off)
	}
}

// Disconnected is called by the uplink when the connection is lost.
func (s *Station) Disconnected() {
	s.mu.Lock()
	s.transport = nil
	s.mu.Unlock()
	s.showOffline(true)
}

func (s *Station) tr() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

func (s *Station) kick() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run runs the station's loops until ctx ends.
func (s *Station) Run(ctx context.Context) error {
	if err := s.recoverCommands(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, f := range []func(context.Context) error{s.runPublisher, s.runCommands, s.runMaintenance} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	<-ctx.Done()
	s.mu.Lock()
	if r := s.running; r != nil {
		r.sess.Apply(session.Control{Kind: session.Cancel})
	}
	s.mu.Unlock()
	wg.Wait()
	close(errc)
	return <-errc
}

// Hold makes the station refuse new capture sessions until release is called, so that
// an update can switch slots; ok is false (and nothing is held) while a session runs.
func (s *Station) Hold() (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return nil, false
	}
	s.held = true
	return func() {
		s.mu.Lock()
		s.held = false
		s.mu.Unlock()
	}, true
}

// Busy reports whether a capture session is running (updates wait for it).
func (s *Station) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running != nil
}

func (s *Station) statusMsg(state string) (*protocol.Status, error) {
	s.mu.Lock()
	birth, busy := s.birth, s.running != nil
	s.mu.Unlock()
	st := &protocol.Status{V: protocol.Version, Centre: s.cfg.Centre, Station: s.cfg.Station, State: state,
		Birth: birth, At: s.now().UnixMilli(), Version: version.String(), Slot: s.cfg.Slot, Caps: s.cfg.Caps, Health: "ok"}
	if state == protocol.StateOffline {
		return st, nil
	}
	if s.deps.UpdateStatus != nil {
		st.Update = s.deps.UpdateStatus()
	}
	st.Session = "idle"
	if busy {
		st.Session = "capturing"
	}
	if s.deps.Devices != nil {
		st.Devices = s.deps.Devices.Status()
		for _, d := range st.Devices {
			if d.State != "ok" && d.State != "disabled" {
				st.Health = "degraded: " + d.Kind + " " + d.State
			}
		}
	}
	if ob, err := s.deps.Store.Stats(); err == nil {
		st.Outbox = &protocol.OutboxStatus{Records: uint64(ob.Records), Bytes: uint64(ob.Bytes), Oldest: ob.Oldest}
	}
	return st, nil
}

// Will returns the topic and signed payload of the Last Will for a connection with the
// given birth number: the same status with state offline.
func (s *Station) Will(birth uint64) (string, []byte, error) {
	st := &protocol.Status{V: protocol.Version, Centre: s.cfg.Centre, Station: s.cfg.Station, State: protocol.StateOffline,
		Birth: birth, At: s.now().UnixMilli(), Version: version.String()}
	env, err := protocol.SignMessage(s.cfg.Signer, st)
	return s.topic(protocol.TopicStatus), env, err
}

func (s *Station) publishStatus(ctx context.Context, state string) error {
	t := s.tr()
	if t == nil {
		return errors.New("not connected")
	}
	st, err := s.statusMsg(state)
	if err != nil {
		return err
	}
	env, err := protocol.SignMessage(s.cfg.Signer, st)
	if err != nil {
		return err
	}
	return t.Publish(ctx, s.topic(protocol.TopicStatus), 1, true, env)
}

// PublishStatus publishes the current status (retained) now.
func (s *Station) PublishStatus(ctx context.Context) error {
	return s.publishStatus(ctx, protocol.StateOnline)
}

// publishSigned signs m and publishes it.
func (s *Station) publishSigned(ctx context.Context, topic string, qos byte, retained bool, m protocol.Message) error {
	env, err := protocol.SignMessage(s.cfg.Signer, m)
	if err != nil {
		return err
	}
	t := s.tr()
	if t == nil {
		return errors.New("not connected")
	}
	return t.Publish(ctx, topic, qos, retained, env)
}
