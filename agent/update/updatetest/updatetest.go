// Package updatetest simulates stations for tests of update tools: each runs the real
// update client against a broker, with its slots in a temporary directory, publishes a
// signed retained status like captura-agent, and "restarts" in-process after a slot
// switch (the new version proves itself and commits, or fails as configured).
package updatetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// Options describe a simulated station.
type Options struct {
	Centre, Station string
	Broker          string // broker URL
	Version         string // installed version (default 1.0.0)
	Keys            *bundle.Keys
	Threshold       int
	Target          bundle.Target // default linux/arm64
	// Unhealthy makes every new version fail its self-test after the restart.
	Unhealthy bool
}

// Station is a running simulated station.
type Station struct {
	o      Options
	Slots  *update.Slots
	Signer *protocol.Signer
	mq     *mqttc.Client

	mu      sync.Mutex
	version string
	client  *update.Client
	done    chan struct{}
}

// Start runs a station until the test ends.
func Start(t testing.TB, o Options) *Station {
	t.Helper()
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	if o.Target.Arch == "" {
		o.Target = bundle.Target{OS: "linux", Arch: "arm64"}
	}
	if o.Threshold == 0 {
		o.Threshold = 1
	}
	dir := t.TempDir()
	s, err := update.OpenSlots(filepath.Join(dir, "slots"), nil)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "packaged-agent")
	os.WriteFile(exe, []byte("packaged agent "+o.Version), 0o755)
	st, _ := s.Load()
	if err := s.Seed(st, exe, o.Version); err != nil {
		t.Fatal(err)
	}
	k, _ := protocol.GenerateSigningKey(protocol.KindStation)
	signer, _ := protocol.NewSigner(k)
	pub, _ := protocol.MarshalPublicKeyPEM(k.Public())
	os.WriteFile(filepath.Join(dir, o.Station+".pub"), pub, 0o644)
	mq, err := mqttc.New(mqttc.Options{Brokers: []string{o.Broker}, ClientID: "sim-" + o.Centre + "-" + o.Station, Persistent: true,
		Backoff: mqttc.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}, ConnectTimeout: 2 * time.Second, KeepAlive: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sim := &Station{o: o, Slots: s, Signer: signer, mq: mq, version: o.Version, done: make(chan struct{})}
	first, err := sim.newClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	go mq.Run(ctx)
	go sim.loop(ctx, first)
	t.Cleanup(func() { cancel(); <-sim.done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := mq.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return sim
}

// PublicKeyFile is the station's public key (for --station-keys directories).
func (s *Station) PublicKeyFile() string {
	return filepath.Join(filepath.Dir(s.Slots.Dir), s.o.Station+".pub")
}

// Version is the version the station runs now.
func (s *Station) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

func (s *Station) newClient(trial *update.TrialLink) (*update.Client, error) {
	var c *update.Client
	c, err := update.NewClient(update.ClientConfig{Centre: s.o.Centre, Station: s.o.Station, Slots: s.Slots, Keys: s.o.Keys,
		Threshold: s.o.Threshold, Target: s.o.Target, Version: s.Version(), Slot: s.Slots.Current(), Trial: trial, Signer: s.Signer,
		HealthDeadline: 5 * time.Second, RequestTimeout: time.Second,
		Log: slog.New(slog.DiscardHandler)},
		update.Deps{MQTT: s.mq, SelfTest: func(context.Context) error {
			if s.o.Unhealthy {
				return errors.New("simulated self-test failure")
			}
			return nil
		}, StatusChanged: func() { go s.publishStatus(c) }})
	return c, err
}

func (s *Station) publishStatus(c *update.Client) {
	if c == nil {
		return
	}
	st := &protocol.Status{V: protocol.Version, Centre: s.o.Centre, Station: s.o.Station, State: protocol.StateOnline, Birth: 1,
		At: time.Now().UnixMilli(), Version: s.Version(), Slot: s.Slots.Current(), Health: "ok", Session: "idle", Update: c.Status()}
	b, err := protocol.SignMessage(s.Signer, st)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mq.Publish(ctx, protocol.StationTopic(s.o.Centre, s.o.Station, protocol.TopicStatus), 1, true, b)
}

// loop runs the client, restarting it after a slot switch as the launcher would: the
// new version on trial, and back to the committed one if the trial fails.
func (s *Station) loop(ctx context.Context, c *update.Client) {
	defer close(s.done)
	for {
		s.mu.Lock()
		s.client = c
		s.mu.Unlock()
		c.Ready()
		go func() {
			if s.mq.WaitConnected(ctx) == nil {
				s.publishStatus(c)
			}
		}()
		err := c.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		st, lerr := s.Slots.Load()
		if lerr != nil {
			return
		}
		var trial *update.TrialLink
		switch {
		case errors.Is(err, update.ErrRestart) && st.Trial != nil:
			// The launcher's part: count the start and run the new version on trial.
			st.Trial.Starts++
			s.Slots.Save(st)
			s.mu.Lock()
			s.version = st.Trial.Version
			s.mu.Unlock()
			trial = &update.TrialLink{Job: st.Trial.Job, Slot: st.Trial.Slot}
		case st.Trial != nil:
			// The trial failed: the launcher rolls back.
			s.Slots.Rollback(st, fmt.Sprintf("version %s failed its trial: %v", st.Trial.Version, err))
			s.mu.Lock()
			s.version = st.CommittedVersion()
			s.mu.Unlock()
		default:
			return
		}
		if c, err = s.newClient(trial); err != nil {
			return
		}
	}
}
