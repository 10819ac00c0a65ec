package update_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/update/rollout"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

const centre = "test-centre"

func maintainer(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("update test maintainer %d", i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func trusted(t testing.TB, idx ...int) *bundle.Keys {
	k := bundle.NewKeys()
	for _, i := range idx {
		if _, err := k.Add(fmt.Sprintf("m%d", i), maintainer(i).Public()); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func pseudo(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 7
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

type bundleSpec struct {
	version, min, arch string
	size, chunk        int
	signers            []int
}

// makeBundle writes a bundle whose agent "binary" is size pseudo-random bytes.
func makeBundle(t testing.TB, s bundleSpec) (path string, agent []byte) {
	t.Helper()
	dir := t.TempDir()
	if s.arch == "" {
		s.arch = "arm64"
	}
	if s.size == 0 {
		s.size = 300 << 10
	}
	if s.chunk == 0 {
		s.chunk = 64 << 10
	}
	if s.signers == nil {
		s.signers = []int{1, 2}
	}
	agent = pseudo(s.size, byte(len(s.version)))
	bin := filepath.Join(dir, "captura-agent")
	if err := os.WriteFile(bin, agent, 0o755); err != nil {
		t.Fatal(err)
	}
	var keys []crypto.Signer
	for _, i := range s.signers {
		keys = append(keys, maintainer(i))
	}
	path = filepath.Join(dir, "b.cbn")
	if _, err := bundle.CreateFile(path, bundle.Options{Version: s.version, MinVersion: s.min, Arch: s.arch, ChunkSize: s.chunk},
		[]bundle.Source{{Name: update.Entry, Path: bin, Mode: 0o755}}, keys); err != nil {
		t.Fatal(err)
	}
	return path, agent
}

func connect(t testing.TB, ctx context.Context, url, id string) *mqttc.Client {
	t.Helper()
	c, err := mqttc.New(mqttc.Options{Brokers: []string{url}, ClientID: id, Persistent: true,
		Backoff: mqttc.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}, ConnectTimeout: 2 * time.Second, KeepAlive: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// station is an in-process update client with its slots in a temporary directory.
type station struct {
	name   string
	slots  *update.Slots
	signer *protocol.Signer
	cfg    update.ClientConfig
	busy   atomic.Bool
}

func newStation(t testing.TB, name, version string) *station {
	t.Helper()
	s, err := update.OpenSlots(filepath.Join(t.TempDir(), "slots"), nil)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "captura-agent")
	os.WriteFile(exe, []byte("packaged agent "+version), 0o755)
	st, _ := s.Load()
	if err := s.Seed(st, exe, version); err != nil {
		t.Fatal(err)
	}
	k, _ := protocol.GenerateSigningKey(protocol.KindStation)
	signer, _ := protocol.NewSigner(k)
	return &station{name: name, slots: s, signer: signer, cfg: update.ClientConfig{Centre: centre, Station: name, Slots: s,
		Keys: trusted(t, 1, 2, 3), Threshold: 2, Target: bundle.Target{OS: "linux", Arch: "arm64"}, Version: version, Slot: st.Committed,
		Signer: signer, HealthDeadline: 10 * time.Second, RequestTimeout: 500 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})).With("station", name)}}
}

// testBroker is mosquitto when it is installed (as in CI), else the embedded broker.
// The embedded broker now and then fails to deliver to a fresh subscription (about one
// subscription in two hundred here; reported to the lead), which would make these
// tests flaky; UPDATE_TEST_BROKER=embedded forces it.
func testBroker(t testing.TB) *brokertest.Broker {
	if os.Getenv("UPDATE_TEST_BROKER") != "embedded" {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, err := os.Stat(p); err == nil {
				return brokertest.Mosquitto(t)
			}
		}
	}
	return brokertest.Embedded(t)
}

func logLevel() slog.Level {
	if os.Getenv("UPDATE_TEST_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// run runs the client until it returns (or ctx ends).
func (s *station) run(t testing.TB, ctx context.Context, mq update.MQTT, trial *update.TrialLink) (*update.Client, chan error) {
	cfg := s.cfg
	cfg.Trial = trial
	c, err := update.NewClient(cfg, update.Deps{MQTT: mq, Busy: s.busy.Load})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	return c, errc
}

func (s *station) state(t testing.TB) *update.SlotState {
	st, err := s.slots.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func wait(t testing.TB, errc chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		t.Fatalf("client did not finish within %s", d)
		return nil
	}
}

// tamper wraps the pusher's connection and can alter what it publishes.
type tamper struct {
	rollout.MQTT
	mu        sync.Mutex
	chunk     func(index uint32, data []byte) []byte // alter a chunk frame's bytes
	job       func(j *update.Job)
	delay     atomic.Int64 // time.Duration before each data frame
	published atomic.Int64 // data frames
}

func (w *tamper) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	switch {
	case strings.HasSuffix(topic, "/update/data"):
		w.published.Add(1)
		if d := time.Duration(w.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		w.mu.Lock()
		f := w.chunk
		w.mu.Unlock()
		if f != nil {
			id, idx, data, _ := update.ParseFrame(payload)
			payload = update.AppendFrame(nil, id, idx, f(idx, bytes.Clone(data)))
		}
	case strings.HasSuffix(topic, "/update/job") && len(payload) > 0 && w.job != nil:
		var j update.Job
		if err := update.Decode(payload, &j); err != nil {
			panic(err)
		}
		w.job(&j)
		payload, _ = update.Encode(&j)
	}
	return w.MQTT.Publish(ctx, topic, qos, retained, payload)
}

// push runs a rollout of path to the stations in the background.
func push(t testing.TB, ctx context.Context, mq rollout.MQTT, path string, o rollout.Options) (*rollout.Rollout, chan error) {
	t.Helper()
	o.Centre = centre
	if os.Getenv("UPDATE_TEST_DEBUG") != "" {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.Stall == 0 {
		o.Stall = 30 * time.Second
	}
	r, err := rollout.New(mq, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	errc := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx)
		errc <- err
	}()
	return r, errc
}

// TestUpdateThroughTrial takes one station from announcement to a committed new
// version: downloading, verifying, installing, restarting, successful.
func TestUpdateThroughTrial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := testBroker(t)
	path, agent := makeBundle(t, bundleSpec{version: "1.1.0", size: 700 << 10})
	st := newStation(t, "st-1", "1.0.0")
	smq := connect(t, ctx, b.URL(), "station-1")
	var seen []string
	var mu sync.Mutex
	smq.Subscribe(ctx, update.Topic(centre, "st-1", update.TopicState), 1, func(m *mqttc.Message) {
		s, err := update.VerifyState(m.Payload, nil)
		if err == nil {
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != s.State {
				seen = append(seen, s.State)
			}
			mu.Unlock()
		}
	})
	pmq := connect(t, ctx, b.URL(), "pusher")
	r, perr := push(t, ctx, pmq, path, rollout.Options{Stations: []string{"st-1"}, AbortAfter: 1})
	sctx, scancel := context.WithCancel(ctx)
	_, errc := st.run(t, sctx, smq, nil)
	if err := wait(t, errc, 30*time.Second); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("client: %v", err)
	}
	scancel()
	s := st.state(t)
	if s.Trial == nil || s.Trial.Version != "1.1.0" || s.Trial.From != "1.0.0" || st.slots.Current() != s.Trial.Slot {
		t.Fatalf("no trial after the switch: %+v", s)
	}
	if got, _ := os.ReadFile(st.slots.Binary(s.Trial.Slot)); !bytes.Equal(got, agent) {
		t.Fatal("installed binary differs from the bundle's")
	}
	if _, err := os.Stat(st.slots.Path("download")); !os.IsNotExist(err) {
		t.Fatal("download directory left behind")
	}
	// The restart: the new version on trial proves itself and commits.
	link := &update.TrialLink{Job: s.Trial.Job, Slot: s.Trial.Slot}
	st.cfg.Version, st.cfg.Slot = "1.1.0", s.Trial.Slot
	c, errc := st.run(t, ctx, smq, link)
	c.Ready()
	select {
	case err := <-perr:
		if err != nil {
			t.Fatalf("rollout: %v", err)
		}
	case err := <-errc:
		t.Fatalf("client ended: %v", err)
	case <-ctx.Done():
		t.Fatal("rollout did not finish")
	}
	s = st.state(t)
	if s.Trial != nil || s.Committed != link.Slot || s.Floor != "1.1.0" || s.Last.State != update.StateSuccessful {
		t.Fatalf("not committed: %+v", s)
	}
	snap := r.Snapshot()
	if snap.Stations[0].State != update.StateSuccessful || snap.Stations[0].Sent != snap.Stations[0].Total {
		t.Fatalf("rollout view: %+v", snap.Stations[0])
	}
	var got string
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got = strings.Join(seen, " ")
		mu.Unlock()
		if strings.HasSuffix(got, update.StateSuccessful) {
			break
		}
	}
	for _, want := range []string{update.StateDownloading, update.StateVerifying, update.StateInstalling, update.StateRestarting, update.StateSuccessful} {
		if !strings.Contains(got, want) {
			t.Errorf("state %s never reported (saw %s)", want, got)
		}
	}
	if c.Status() == nil || c.Status().State != update.StateSuccessful {
		t.Errorf("Status() = %+v", c.Status())
	}
}

// TestRejected checks that each bad bundle is refused with its reason before anything
// is installed.
func TestRejected(t *testing.T) {
	flipSig := func(t testing.TB, path string) {
		data, _ := os.ReadFile(path)
		f, _ := os.Open(path)
		h, err := bundle.ReadHeader(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(data, h.Signatures[0].Sig)
		data[i+5] ^= 0x20
		os.WriteFile(path, data, 0o644)
	}
	tests := []struct {
		name    string
		spec    bundleSpec
		mod     func(t testing.TB, path string)
		tamper  func(w *tamper)
		station func(s *station)
		reason  string
	}{
		{name: "bad signature", spec: bundleSpec{version: "1.1.0"}, mod: flipSig, reason: "signature does not verify"},
		{name: "one signature short", spec: bundleSpec{version: "1.1.0", signers: []int{1}}, reason: "1 valid signature(s) by trusted keys (m1), 2 required"},
		{name: "signed by strangers", spec: bundleSpec{version: "1.1.0", signers: []int{7, 8}}, reason: "0 valid signature(s)"},
		{name: "wrong arch", spec: bundleSpec{version: "1.1.0", arch: "amd64"}, reason: "built for linux/amd64, this station is linux/arm64"},
		{name: "downgrade", spec: bundleSpec{version: "0.9.0"}, reason: "older than the installed 1.0.0"},
		{name: "below the floor", spec: bundleSpec{version: "1.0.5"}, station: func(s *station) {
			st := s.state(t)
			st.Floor = "1.0.7"
			s.slots.Save(st)
		}, reason: "below the anti-rollback floor 1.0.7"},
		{name: "installed too old", spec: bundleSpec{version: "2.0.0", min: "1.5.0"}, reason: "replaces 1.5.0 or later"},
		{name: "corrupted chunk", spec: bundleSpec{version: "1.1.0"}, tamper: func(w *tamper) {
			w.chunk = func(i uint32, d []byte) []byte {
				if i == 2 {
					d[100] ^= 1
				}
				return d
			}
		}, reason: "chunk 2 (payload bytes 131072-196607): SHA-256 mismatch (3 times)"},
		{name: "truncated bundle", spec: bundleSpec{version: "1.1.0"}, tamper: func(w *tamper) {
			w.job = func(j *update.Job) { j.Size -= 1000 }
		}, reason: "its manifest describes"},
		{name: "header swapped", spec: bundleSpec{version: "1.1.0"}, tamper: func(w *tamper) {
			w.job = func(j *update.Job) { j.HeaderHash[0] ^= 1 }
		}, reason: "header does not match the job's header hash"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b := testBroker(t)
			path, _ := makeBundle(t, tc.spec)
			if tc.mod != nil {
				tc.mod(t, path)
			}
			name := fmt.Sprintf("rej-%d", i)
			st := newStation(t, name, "1.0.0")
			if tc.station != nil {
				tc.station(st)
			}
			before := st.state(t)
			smq := connect(t, ctx, b.URL(), "s-"+name)
			w := &tamper{MQTT: connect(t, ctx, b.URL(), "p-"+name)}
			if tc.tamper != nil {
				tc.tamper(w)
			}
			r, perr := push(t, ctx, w, path, rollout.Options{Stations: []string{name}})
			_, errc := st.run(t, ctx, smq, nil)
			var err error
			select {
			case err = <-perr:
			case err = <-errc:
				t.Fatalf("client ended: %v", err)
			}
			snap := r.Snapshot().Stations[0]
			if err == nil || snap.State != update.StateFailed || !strings.Contains(snap.Reason, tc.reason) {
				t.Fatalf("rollout %v; station %s %q, want reason %q", err, snap.State, snap.Reason, tc.reason)
			}
			after := st.state(t)
			if after.Trial != nil || after.Committed != before.Committed || after.Floor != before.Floor || after.Last == nil || after.Last.State != update.StateFailed {
				t.Fatalf("slots changed by a rejected bundle: %+v", after)
			}
			if st.slots.Current() != before.Committed {
				t.Fatal("current link moved")
			}
			if _, err := os.Stat(st.slots.Binary(update.Other(before.Committed))); err == nil {
				t.Fatal("something was installed")
			}
			t.Logf("%s: %s", snap.State, snap.Reason)
		})
	}
}

// TestTransientCorruption: a chunk damaged once is fetched again and the update goes on.
func TestTransientCorruption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := testBroker(t)
	path, _ := makeBundle(t, bundleSpec{version: "1.1.0"})
	st := newStation(t, "st-c", "1.0.0")
	w := &tamper{MQTT: connect(t, ctx, b.URL(), "p")}
	var once atomic.Bool
	w.chunk = func(i uint32, d []byte) []byte {
		if i == 3 && once.CompareAndSwap(false, true) {
			d = d[:len(d)-1]
		}
		return d
	}
	push(t, ctx, w, path, rollout.Options{Stations: []string{"st-c"}})
	_, errc := st.run(t, ctx, connect(t, ctx, b.URL(), "s"), nil)
	if err := wait(t, errc, 20*time.Second); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("client: %v", err)
	}
	if !once.Load() {
		t.Fatal("no chunk was damaged")
	}
}

// TestResumeAfterRestart stops the station mid-download and starts it again: it goes
// on from the chunks it already holds.
func TestResumeAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := testBroker(t)
	path, agent := makeBundle(t, bundleSpec{version: "1.1.0", size: 2 << 20, chunk: 32 << 10})
	st := newStation(t, "st-r", "1.0.0")
	st.cfg.FlushEvery, st.cfg.Window = 4, 8
	w := &tamper{MQTT: connect(t, ctx, b.URL(), "p")}
	w.delay.Store(int64(10 * time.Millisecond))
	_, perr := push(t, ctx, w, path, rollout.Options{Stations: []string{"st-r"}})
	smq := connect(t, ctx, b.URL(), "s")
	sctx, scancel := context.WithCancel(ctx)
	_, errc := st.run(t, sctx, smq, nil)
	held := func() int {
		have, _ := os.ReadFile(st.slots.Path("download", "have"))
		n := 0
		for _, b := range have {
			for ; b != 0; b &= b - 1 {
				n++
			}
		}
		return n
	}
	// Stop the station once a third of the chunks are durable.
	for held() < 20 {
		select {
		case <-time.After(5 * time.Millisecond):
		case err := <-errc:
			t.Fatalf("client ended early: %v", err)
		}
	}
	scancel()
	if err := wait(t, errc, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped client: %v", err)
	}
	n := held()
	if n < 20 || n >= 64 {
		t.Fatalf("%d of 64 chunks held after the stop", n)
	}
	before := w.published.Load()
	w.delay.Store(0)
	_, errc = st.run(t, ctx, smq, nil)
	if err := wait(t, errc, 30*time.Second); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("resumed client: %v", err)
	}
	chunks := int64((2 << 20) / (32 << 10))
	after := w.published.Load() - before
	if after > chunks-int64(n)+2*8 {
		t.Fatalf("resume fetched %d chunks; %d of %d were held", after, n, chunks)
	}
	s := st.state(t)
	if got, _ := os.ReadFile(st.slots.Binary(s.Trial.Slot)); !bytes.Equal(got, agent) {
		t.Fatal("installed binary differs")
	}
	t.Logf("held %d of %d chunks at the restart; fetched %d after it", n, chunks, after)
	select {
	case err := <-perr:
		t.Fatalf("rollout ended: %v", err)
	default:
	}
}

// TestWaitsForCaptureSession: nothing is installed while a capture session runs.
func TestWaitsForCaptureSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := testBroker(t)
	path, _ := makeBundle(t, bundleSpec{version: "1.1.0"})
	st := newStation(t, "st-b", "1.0.0")
	st.busy.Store(true)
	r, _ := push(t, ctx, connect(t, ctx, b.URL(), "p"), path, rollout.Options{Stations: []string{"st-b"}})
	_, errc := st.run(t, ctx, connect(t, ctx, b.URL(), "s"), nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := r.Snapshot().Stations[0]
		if s.State == update.StateInstalling && strings.Contains(s.Reason, "capture session") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("station state %q %q", s.State, s.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if st.state(t).Trial != nil {
		t.Fatal("switched during a capture session")
	}
	if _, err := os.Stat(st.slots.Binary(update.Other(st.state(t).Committed))); err == nil {
		t.Fatal("installed during a capture session")
	}
	st.busy.Store(false)
	if err := wait(t, errc, 10*time.Second); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("client: %v", err)
	}
}

// TestResumeAfterBrokerOutage stops the broker mid-download and starts it again: both
// sides reconnect and the download finishes from where it was.
func TestResumeAfterBrokerOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := testBroker(t)
	path, agent := makeBundle(t, bundleSpec{version: "1.1.0", size: 2 << 20, chunk: 32 << 10})
	st := newStation(t, "st-o", "1.0.0")
	st.cfg.FlushEvery, st.cfg.Window = 4, 8
	w := &tamper{MQTT: connect(t, ctx, b.URL(), "p")}
	w.delay.Store(int64(10 * time.Millisecond))
	r, perr := push(t, ctx, w, path, rollout.Options{Stations: []string{"st-o"}})
	_, errc := st.run(t, ctx, connect(t, ctx, b.URL(), "s"), nil)
	for r.Snapshot().Stations[0].Sent < 1<<20 {
		select {
		case <-time.After(5 * time.Millisecond):
		case err := <-errc:
			t.Fatalf("client ended early: %v", err)
		}
	}
	b.Stop()
	time.Sleep(300 * time.Millisecond)
	b.Start()
	w.delay.Store(0)
	if err := wait(t, errc, 40*time.Second); !errors.Is(err, update.ErrRestart) {
		t.Fatalf("client: %v", err)
	}
	s := st.state(t)
	if got, _ := os.ReadFile(st.slots.Binary(s.Trial.Slot)); !bytes.Equal(got, agent) {
		t.Fatal("installed binary differs")
	}
	select {
	case err := <-perr:
		t.Fatalf("rollout ended: %v", err)
	default:
	}
	t.Logf("%d data frames sent for %d chunks", w.published.Load(), (2<<20)/(32<<10))
}
