package update

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// ErrRestart is returned by Client.Run after a switch to a new slot: the agent must
// exit with ExitRestart so that systemd starts the launcher, which starts the new
// version on trial.
var ErrRestart = errors.New("update: restarting into the new version")

// MQTT is what the client needs of the broker connection (*mqttc.Client).
type MQTT interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
	Subscribe(ctx context.Context, filter string, qos byte, h mqttc.Handler) error
	WaitConnected(ctx context.Context) error
}

// ClientConfig configures the station's update client.
type ClientConfig struct {
	Centre, Station string
	Slots           *Slots
	Keys            *bundle.Keys // trusted maintainer keys
	Threshold       int
	Target          bundle.Target
	Version         string     // the running version
	Slot            string     // the slot this process runs from ("" = packaged binary)
	Trial           *TrialLink // set when this process is on trial
	Signer          *protocol.Signer
	HealthDeadline  time.Duration
	// Window is how many chunks are requested ahead (default 32: 8 MiB of 256 KiB
	// chunks in flight, which keeps the pipe full across request round trips).
	Window int
	// RequestTimeout: requested chunks not received after this long are asked for
	// again (default 10 s).
	RequestTimeout time.Duration
	// MaxChunkFailures: a chunk that fails its hash this many times fails the job
	// (default 3).
	MaxChunkFailures int
	// FlushEvery: chunks written between fsyncs of the download (default 64, 16 MiB
	// of 256 KiB chunks); the download is also made durable every second, so a
	// restart loses at most the last second or FlushEvery chunks.
	FlushEvery int
	Log        *slog.Logger
	Now        func() time.Time
}

// Deps are the client's collaborators.
type Deps struct {
	MQTT MQTT
	// Busy reports whether a capture session runs: nothing is installed and no restart
	// happens while it does.
	Busy func() bool
	// SelfTest is the trial's self-test, run after READY and the broker connection.
	SelfTest func(ctx context.Context) error
	// Hold, when set, is called just before the slot switch: it must refuse new capture
	// sessions from then on (the process exits right after) and report false if one
	// runs. Without it the client checks Busy, which leaves a window of milliseconds.
	Hold func() (release func(), ok bool)
	// StatusChanged is called when Status changes (to republish the station status).
	StatusChanged func()
}

// Client is the station side of updates: it proves a new version healthy (on trial),
// and it fetches, checks and installs bundles announced on its job topic.
type Client struct {
	cfg  ClientConfig
	deps Deps
	log  *slog.Logger

	ready     chan struct{}
	readyOnce sync.Once
	jobs      chan []byte // latest job message (retained); empty = withdrawn
	data      chan []byte
	pub       chan struct{}

	mu      sync.Mutex
	latest  *State
	pending []*State // transitions not yet published, oldest first
}

// NewClient builds the update client and registers its subscriptions (job and data
// topics). Build it before the broker connection starts running.
func NewClient(cfg ClientConfig, deps Deps) (*Client, error) {
	if cfg.Slots == nil || cfg.Signer == nil || deps.MQTT == nil {
		return nil, errors.New("update: client needs slots, a signer and a broker connection")
	}
	if cfg.Keys == nil || cfg.Keys.Len() == 0 || cfg.Threshold < 1 {
		return nil, errors.New("update: client needs maintainer keys and a threshold of at least 1")
	}
	if cfg.Threshold > cfg.Keys.Len() {
		return nil, fmt.Errorf("update: threshold %d but only %d maintainer keys", cfg.Threshold, cfg.Keys.Len())
	}
	if cfg.Window <= 0 {
		cfg.Window = 32
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxChunkFailures <= 0 {
		cfg.MaxChunkFailures = 3
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 64
	}
	if cfg.HealthDeadline <= 0 {
		cfg.HealthDeadline = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if deps.Busy == nil {
		deps.Busy = func() bool { return false }
	}
	c := &Client{cfg: cfg, deps: deps, log: cfg.Log, ready: make(chan struct{}), jobs: make(chan []byte, 1),
		data: make(chan []byte, 2*cfg.Window), pub: make(chan struct{}, 1)}
	// Subscribe now, before the connection is started: mqttc routes a subscription made
	// while a connection is being set up to no handler (see the report to the lead).
	if err := deps.MQTT.Subscribe(context.Background(), c.topic(TopicJob), 1, c.onJob); err != nil {
		return nil, err
	}
	if err := deps.MQTT.Subscribe(context.Background(), c.topic(TopicData), 1, c.onData); err != nil {
		return nil, err
	}
	return c, nil
}

// Ready tells the client that the agent reached READY (devices looked for, broker
// connected); a trial waits for it.
func (c *Client) Ready() { c.readyOnce.Do(func() { close(c.ready) }) }

// Status is the latest job's state for the station's status message (nil if none).
func (c *Client) Status() *protocol.UpdateStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest == nil {
		return nil
	}
	return &protocol.UpdateStatus{Job: c.latest.Job, State: c.latest.State, Version: c.latest.Version, Reason: c.latest.Reason}
}

func (c *Client) topic(kind string) string { return Topic(c.cfg.Centre, c.cfg.Station, kind) }

// Run runs until ctx ends. It returns ErrRestart after switching slots, and an error
// when this process is on trial and fails its health check (the launcher then rolls
// back).
func (c *Client) Run(ctx context.Context) error {
	st, err := c.cfg.Slots.Load()
	if err != nil {
		if c.cfg.Trial != nil {
			c.cfg.Trial.Failed(err.Error())
		}
		return err
	}
	go c.publisher(ctx)
	if c.cfg.Trial != nil {
		if err := c.prove(ctx, st); err != nil {
			return err
		}
	} else if st.Last != nil {
		c.setState(c.resultState(st.Last))
	}
	var cur *jobRun
	defer func() {
		if cur != nil {
			cur.stop(context.Canceled) // shutting down: the download resumes after the restart
			<-cur.done
		}
	}()
	for {
		var done <-chan struct{}
		if cur != nil {
			done = cur.done
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			if errors.Is(cur.err, ErrRestart) {
				return ErrRestart
			}
			cur = nil
		case msg := <-c.jobs:
			var job *Job
			if len(msg) > 0 {
				var j Job
				if err := Decode(msg, &j); err != nil {
					c.log.Warn("update: job message rejected", "err", err)
					continue
				}
				job = &j
			}
			if cur != nil {
				if job != nil && job.ID == cur.job.ID {
					continue
				}
				if cur.committed() {
					continue // switching already; the new job is seen after the restart
				}
				cur.stop(errWithdrawn)
				<-cur.done
				if errors.Is(cur.err, ErrRestart) {
					return ErrRestart
				}
				cur = nil
			}
			if job == nil {
				continue
			}
			cur = c.start(ctx, *job)
		}
	}
}

func (c *Client) onJob(m *mqttc.Message) {
	c.log.Debug("update: job message", "bytes", len(m.Payload), "retained", m.Retained)
	// Keep only the latest announcement.
	for {
		select {
		case c.jobs <- m.Payload:
			return
		default:
		}
		select {
		case <-c.jobs:
		default:
		}
	}
}

func (c *Client) onData(m *mqttc.Message) {
	c.log.Debug("update: data frame", "bytes", len(m.Payload))
	select {
	case c.data <- m.Payload:
	default:
		// Full: the chunk is requested again after the request timeout.
	}
}

// prove runs the trial's health check: READY, a broker round trip and the self-test,
// within the health deadline; then it commits the slot and tells the launcher.
func (c *Client) prove(ctx context.Context, st *SlotState) error {
	t := c.cfg.Trial
	if st.Trial == nil || st.Trial.Job != t.Job || st.Trial.Slot != t.Slot {
		// Rolled back meanwhile (captura-agent -update-rollback): this version must not
		// keep running; exiting lets the launcher start the committed slot.
		t.Failed("the trial is no longer pending")
		return fmt.Errorf("update: started on trial of job %s, which is no longer pending", t.Job)
	}
	tr := st.Trial
	c.setState(&State{Job: tr.Job, State: StateRestarting, Version: tr.Version, Reason: "proving itself healthy"})
	dctx, cancel := context.WithTimeout(ctx, c.cfg.HealthDeadline*9/10)
	defer cancel()
	fail := func(format string, a ...any) error {
		reason := fmt.Sprintf(format, a...)
		c.log.Error("update: trial failed", "version", tr.Version, "reason", reason)
		t.Failed(reason)
		return fmt.Errorf("update: trial of %s failed: %s", tr.Version, reason)
	}
	select {
	case <-c.ready:
	case <-dctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail("version %s did not reach READY within %s", tr.Version, c.cfg.HealthDeadline*9/10)
	}
	if err := c.deps.MQTT.WaitConnected(dctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail("version %s did not connect to the broker", tr.Version)
	}
	if err := c.publishNow(dctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail("version %s: no broker round trip: %v", tr.Version, err)
	}
	if c.deps.SelfTest != nil {
		if err := c.deps.SelfTest(dctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fail("version %s failed its self-test: %v", tr.Version, err)
		}
	}
	crashPoint("trial-healthy")
	if err := c.cfg.Slots.Commit(st); err != nil {
		return fail("commit: %v", err)
	}
	t.Healthy()
	c.log.Info("update: new version committed", "version", tr.Version, "slot", tr.Slot)
	c.setState(c.resultState(st.Last))
	return nil
}

func (c *Client) resultState(r *Result) *State {
	return &State{Job: r.Job, State: r.State, Version: r.Version, Reason: r.Reason}
}

// setState records the latest state and has it published. Every transition is
// published in order (like a command's states); progress within a state is coalesced.
func (c *Client) setState(s *State) {
	c.mu.Lock()
	c.latest = s
	if n := len(c.pending); n > 0 && c.pending[n-1].State == s.State && c.pending[n-1].Job == s.Job {
		c.pending[n-1] = s
	} else {
		c.pending = append(c.pending, s)
		if len(c.pending) > 16 {
			c.pending = append(c.pending[:1], c.pending[len(c.pending)-15:]...)
		}
	}
	c.mu.Unlock()
	select {
	case c.pub <- struct{}{}:
	default:
	}
	if c.deps.StatusChanged != nil {
		c.deps.StatusChanged()
	}
}

func (c *Client) sign(s State) ([]byte, error) {
	s.V, s.Centre, s.Station = 1, c.cfg.Centre, c.cfg.Station
	s.Running, s.Slot, s.At = c.cfg.Version, c.cfg.Slot, c.cfg.Now().UnixMilli()
	s.Reason = shortReason(s.Reason)
	return SignState(c.cfg.Signer, &s)
}

// publishNow publishes the pending transitions and waits for the broker's
// acknowledgements.
func (c *Client) publishNow(ctx context.Context) error {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return nil
		}
		s := *c.pending[0]
		c.mu.Unlock()
		b, err := c.sign(s)
		if err != nil {
			return err
		}
		if err := c.deps.MQTT.Publish(ctx, c.topic(TopicState), 1, true, b); err != nil {
			return err
		}
		c.mu.Lock()
		if len(c.pending) > 0 && *c.pending[0] == s {
			c.pending = c.pending[1:]
		}
		c.mu.Unlock()
	}
}

// publisher publishes the latest state whenever it changes, retrying every few
// seconds while the broker is unreachable.
func (c *Client) publisher(ctx context.Context) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.pub:
		case <-retry:
		}
		retry = nil
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := c.publishNow(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			retry = time.After(3 * time.Second)
		}
	}
}
