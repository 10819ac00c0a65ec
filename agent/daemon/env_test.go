package daemon_test

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/agent/gateway"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/tablet"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/protocol"
)

// env is a whole centre on one machine: a simulated reader on a pty, a broker, the
// reference gateway and a tablet; the station itself is started by the tests (in
// process, or as a child process that can be killed).
type env struct {
	t          testing.TB
	dir        string
	cfgPath    string
	brokerURL  string
	sim        *r30xsim.Sim
	gw         *gateway.Gateway
	tab        *tablet.Client
	mq         *mqttc.Client // the tablet's connection
	stationPub crypto.PublicKey
	aima       *protocol.RecipientKey

	mu      sync.Mutex
	records map[protocol.ID]*protocol.Record
	chains  []string
	fleet   chan *protocol.Status
}

func writeKey(t testing.TB, path string, k crypto.Signer) {
	t.Helper()
	priv, err := protocol.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := protocol.MarshalPublicKeyPEM(k.Public())
	if err := os.WriteFile(path+".key", priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newEnv prepares keys, a configuration, the reader simulator and the gateway.
// fingerMaxDwell is how long the simulated person keeps a finger down at most.
const fingerMaxDwell = time.Second

func newEnv(t testing.TB, brokerURL string, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, brokerURL: brokerURL, records: map[protocol.ID]*protocol.Record{}, fleet: make(chan *protocol.Status, 100)}
	keys := filepath.Join(dir, "keys")
	os.MkdirAll(filepath.Join(keys, "stations"), 0o700)
	stKey, _ := protocol.GenerateSigningKey(protocol.KindStation)
	writeKey(t, filepath.Join(keys, "station"), stKey)
	writeKey(t, filepath.Join(keys, "stations", "st-1"), stKey) // the gateway's copy
	e.stationPub = stKey.Public()
	gwKey, _ := protocol.GenerateSigningKey(protocol.KindGateway)
	writeKey(t, filepath.Join(keys, "gateway"), gwKey)
	tabKey, _ := protocol.GenerateSigningKey(protocol.KindTablet)
	writeKey(t, filepath.Join(keys, "tab-1"), tabKey)
	e.aima, _ = protocol.GenerateRecipientKey("")
	os.WriteFile(filepath.Join(keys, "aima.pub"), e.aima.Public().MarshalPEM(), 0o644)

	link := filepath.Join(dir, "reader")
	sim, err := r30xsim.Start(r30xsim.Config{
		LineConfig: fpsim.LineConfig{Link: link, Unpaced: true, Seed: 1},
		Model:      "R307", Baud: 115200, Source: liveSource(t),
		// Two images per placement: the finger PAD takes a second one while the finger
		// stays. An agent killed mid-placement never takes the second: the person lifts
		// anyway (MaxDwell), within the next session's lift timeout (3 s).
		Finger: fpsim.FingerConfig{Mode: fpsim.FingerAuto, ArriveDelay: 20 * time.Millisecond, LiftDelay: 10 * time.Millisecond,
			FramesPerPlacement: 2, MaxDwell: fingerMaxDwell},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e.sim = sim

	e.cfgPath = filepath.Join(dir, "agent.toml")
	cfg := fmt.Sprintf(`
[station]
id = "st-1"
centre = "c1"
state_dir = "state"
key = "keys/station.key"
[aima]
public_key = "keys/aima.pub"
[gateway]
public_key = "keys/gateway.pub"
[mqtt]
broker = %q
resend_after = "2s"
reconnect_max = "500ms"
connect_timeout = "2s"
[reader]
port = %q
baud = 115200
[capture]
attempts = 2
finger_timeout = "3s"
face = false
# Synthetic fingers carry about 70 minutiae (real ones 30-45), so distinct ones often
# look alike to the sequence check, which is calibrated on real prints.
sequence_check = false
[capture.thresholds]
thumb = 1
index = 1
middle = 1
ring = 1
little = 1
[pad]
# The recorded placements come back in a cycle: the replay history would (rightly) flag them.
history = 0
[health]
status_interval = "1s"
[[tablet]]
name = "tab-1"
public_key = "keys/tab-1.pub"
%s`, brokerURL, link, extra)
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	gwSigner, _ := protocol.NewSigner(gwKey)
	e.gw, err = gateway.New(gateway.Config{ID: "gw-1", Centre: "c1", Signer: gwSigner, StationKeyDir: filepath.Join(keys, "stations"),
		StoreDir: filepath.Join(dir, "gateway"), MQTT: mqttc.Options{Brokers: []string{brokerURL}, Backoff: mqttc.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}},
		OnRecord: func(station string, rec *protocol.Record, verdict string) {
			e.mu.Lock()
			e.records[rec.ID] = rec
			e.chains = append(e.chains, verdict)
			e.mu.Unlock()
		},
		OnEvent: func(ev gateway.Event) {
			if ev.Status != nil {
				select {
				case e.fleet <- ev.Status:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gwDone := make(chan struct{})
	go func() { e.gw.Run(ctx); close(gwDone) }()
	t.Cleanup(func() { cancel(); <-gwDone; e.gw.Close() })
	select {
	case <-e.gw.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("gateway not connected")
	}

	mq, err := mqttc.New(mqttc.Options{Brokers: []string{brokerURL}, ClientID: "tablet-tab-1", Persistent: true,
		Backoff: mqttc.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	mqDone := make(chan struct{})
	go func() { mq.Run(ctx); close(mqDone) }()
	t.Cleanup(func() { cancel(); <-mqDone })
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := mq.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	e.mq = mq
	e.tab, err = tablet.New(mq, tablet.Opts{Name: "tab-1", Centre: "c1", Station: "st-1", Key: tabKey, StationKey: stKey.Public(),
		CounterFile: filepath.Join(dir, "tablet.counter"), Lifetime: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// runInProcess starts the daemon in this process; stop cancels it and waits.
func (e *env) runInProcess(t testing.TB, hooks daemon.Hooks) (stop func()) {
	t.Helper()
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	hooks.Ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- daemon.Run(ctx, cfg, log, hooks) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		})
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// waitRecord waits until the gateway has stored the record.
func (e *env) waitRecord(id protocol.ID, within time.Duration) *protocol.Record {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		r := e.records[id]
		e.mu.Unlock()
		if r != nil {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("record %s never reached the gateway", id)
	return nil
}

// waitOutboxEmpty waits for a status that reports an empty outbox.
func (e *env) waitOutboxEmpty(within time.Duration) {
	e.t.Helper()
	timeout := time.After(within)
	since := time.Now().UnixMilli()
	for {
		select {
		case st := <-e.fleet:
			if st.At >= since && st.State == protocol.StateOnline && st.Outbox != nil && st.Outbox.Records == 0 {
				return
			}
		case <-timeout:
			e.t.Fatal("the station's outbox never reported empty")
		}
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// stored returns the records the gateway holds for st-1, in sequence order, with the
// chain verdict each got.
func (e *env) stored() ([]*protocol.Record, []string) {
	e.t.Helper()
	entries, err := e.gw.Records("c1", "st-1", gateway.KindRecord)
	if err != nil {
		e.t.Fatal(err)
	}
	var recs []*protocol.Record
	var chains []string
	for _, en := range entries {
		data, err := os.ReadFile(e.gw.EnvelopePath("c1", "st-1", gateway.KindRecord, en.Seq, en.ID))
		if err != nil {
			e.t.Fatal(err)
		}
		env, err := protocol.ParseEnvelope(data, protocol.MaxRecordSize+(64<<10))
		if err != nil {
			e.t.Fatal(err)
		}
		r, err := protocol.DecodeRecord(env.Payload)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
		chains = append(chains, en.Chain)
	}
	return recs, chains
}
