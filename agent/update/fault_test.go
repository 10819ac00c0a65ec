package update_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/update/rollout"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// The fault tests run real binaries (internal/testagent) under a small supervisor that
// restarts them like systemd does, with their slots in a temporary directory.

var agents struct {
	once sync.Once
	dir  string
	err  error
}

// agentBinary returns the path of the test agent built with the given behaviour and
// version (all variants are built once per test process).
func agentBinary(t testing.TB, behaviour, version string) string {
	t.Helper()
	agents.once.Do(func() {
		dir, err := os.MkdirTemp("", "captura-testagent-")
		if err != nil {
			agents.err = err
			return
		}
		agents.dir = dir
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		for _, v := range []struct{ b, v string }{{"healthy", "1.0.0"}, {"healthy", "2.0.0"}, {"crash", "2.0.0"}, {"hang", "2.0.0"}, {"unhealthy", "2.0.0"}} {
			out := filepath.Join(dir, v.b+"-"+v.v)
			cmd := exec.Command(gobin, "build", "-trimpath", "-o", out, "-ldflags",
				"-s -w -X main.behaviour="+v.b+" -X github.com/captura-claim/captura/agent/version.Version="+v.v, "./internal/testagent")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				agents.err = fmt.Errorf("building the test agent: %v\n%s", err, b)
				return
			}
		}
	})
	if agents.err != nil {
		t.Fatal(agents.err)
	}
	return filepath.Join(agents.dir, behaviour+"-"+version)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if agents.dir != "" {
		os.RemoveAll(agents.dir)
	}
	os.Exit(code)
}

// agentBundle bundles a test agent binary, signed by maintainers 1 and 2.
func agentBundle(t testing.TB, bin, version string, chunk ...int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent-"+version+".cbn")
	o := bundle.Options{Version: version, Arch: runtime.GOARCH, GOARM: goarm()}
	if len(chunk) > 0 {
		o.ChunkSize = chunk[0]
	}
	if _, err := bundle.CreateFile(path, o,
		[]bundle.Source{{Name: update.Entry, Path: bin, Mode: 0o755}}, []crypto.Signer{maintainer(1), maintainer(2)}); err != nil {
		t.Fatal(err)
	}
	return path
}

func goarm() uint {
	if runtime.GOARCH == "arm" {
		return bundle.HostTarget().GOARM
	}
	return 0
}

// supervisor restarts its program whenever it exits, as systemd's Restart= does.
type supervisor struct {
	t     testing.TB
	bin   string
	args  []string
	env   []string
	log   *lockedBuffer
	stop  atomic.Bool
	done  chan struct{}
	mu    sync.Mutex
	pid   int
	exits []int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startSupervisor(t testing.TB, bin string, args, env []string) *supervisor {
	s := &supervisor{t: t, bin: bin, args: args, env: env, log: &lockedBuffer{}, done: make(chan struct{})}
	go s.loop()
	t.Cleanup(func() {
		s.shutdown()
		if t.Failed() {
			t.Logf("agent log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *supervisor) loop() {
	defer close(s.done)
	for !s.stop.Load() {
		cmd := exec.Command(s.bin, s.args...)
		cmd.Env = append(os.Environ(), s.env...)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			s.t.Errorf("supervisor: %v", err)
			return
		}
		s.mu.Lock()
		s.pid = cmd.Process.Pid
		s.mu.Unlock()
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		s.mu.Lock()
		s.pid = 0
		s.exits = append(s.exits, code)
		s.mu.Unlock()
		fmt.Fprintf(s.log, "supervisor: exit %d\n", code)
		if s.stop.Load() {
			return
		}
		time.Sleep(100 * time.Millisecond) // RestartSec
	}
}

// powerCut kills the whole process group with SIGKILL.
func (s *supervisor) powerCut() {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	if pid > 0 {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func (s *supervisor) shutdown() {
	if s.stop.Swap(true) {
		return
	}
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	if pid > 0 {
		syscall.Kill(-pid, syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.powerCut()
		<-s.done
	}
}

// watcher follows a station's retained status and update state.
type watcher struct {
	mu     sync.Mutex
	status *protocol.Status
	states []*update.State
}

func watch(t testing.TB, ctx context.Context, mq *mqttc.Client, station string) *watcher {
	w := &watcher{}
	mq.Subscribe(ctx, protocol.StationTopic(centre, station, protocol.TopicStatus), 1, func(m *mqttc.Message) {
		env, err := protocol.ParseEnvelope(m.Payload, protocol.MaxMessageSize)
		if err != nil {
			return
		}
		var st protocol.Status
		if protocol.DecodeMessage(env.Payload, &st) == nil {
			w.mu.Lock()
			w.status = &st
			w.mu.Unlock()
		}
	})
	mq.Subscribe(ctx, update.Topic(centre, station, update.TopicState), 1, func(m *mqttc.Message) {
		if st, err := update.VerifyState(m.Payload, nil); err == nil {
			w.mu.Lock()
			w.states = append(w.states, st)
			w.mu.Unlock()
		}
	})
	return w
}

func (w *watcher) version() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == nil {
		return ""
	}
	return w.status.Version
}

// last returns the latest update state for job.
func (w *watcher) last(job protocol.ID) *update.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.states) - 1; i >= 0; i-- {
		if w.states[i].Job == job {
			return w.states[i]
		}
	}
	return nil
}

// firstAt returns when the station first reported state for job (receive order).
func (w *watcher) first(job protocol.ID, state string) *update.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.states {
		if s.Job == job && s.State == state {
			return s
		}
	}
	return nil
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rig is one station run by the supervisor from a packaged 1.0.0 launcher.
type rig struct {
	name  string
	slots string
	sup   *supervisor
	w     *watcher
}

func newRig(t testing.TB, ctx context.Context, b *brokertest.Broker, obs *mqttc.Client, name string, env ...string) *rig {
	dir := t.TempDir()
	keys := filepath.Join(dir, "maintainers")
	os.MkdirAll(keys, 0o755)
	for _, i := range []int{1, 2, 3} {
		pem, _ := protocol.MarshalPublicKeyPEM(maintainer(i).Public())
		os.WriteFile(filepath.Join(keys, fmt.Sprintf("m%d.pub", i)), pem, 0o644)
	}
	r := &rig{name: name, slots: filepath.Join(dir, "slots"), w: watch(t, ctx, obs, name)}
	if os.Getenv("UPDATE_TEST_DEBUG") != "" {
		env = append(env, "TESTAGENT_DEBUG=1")
	}
	r.sup = startSupervisor(t, agentBinary(t, "healthy", "1.0.0"),
		[]string{"-slots", r.slots, "-broker", b.URL(), "-centre", centre, "-station", name, "-keys", keys, "-deadline", "5s"},
		append([]string{"TESTAGENT_MARK=" + filepath.Join(dir, "crashed")}, env...))
	return r
}

// consistent checks the slots after everything settled: no trial, the link names the
// committed slot, whose binary matches its recorded hash.
func (r *rig) consistent(t testing.TB) *update.SlotState {
	t.Helper()
	s := &update.Slots{Dir: r.slots}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Trial != nil {
		t.Fatalf("a trial is still pending: %+v", st.Trial)
	}
	if cur := s.Current(); cur != st.Committed {
		t.Fatalf("current link names %q, committed is %q", cur, st.Committed)
	}
	f, err := os.Open(s.Binary(st.Committed))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	if !bytes.Equal(h.Sum(nil), st.Slots[st.Committed].SHA256) {
		t.Fatal("committed binary does not match its hash")
	}
	return st
}

func (r *rig) crashed() string {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(r.slots), "crashed"))
	return string(b)
}

// TestKillAtEveryStep cuts the power (SIGKILL) at each step of an update, once, and
// checks that the station always ends on a working version with consistent slots.
func TestKillAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("fault matrix: runs real binaries through many restarts")
	}
	b := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	obs := connect(t, ctx, b.URL(), "observer")
	v2 := agentBundle(t, agentBinary(t, "healthy", "2.0.0"), "2.0.0")
	v2crash := agentBundle(t, agentBinary(t, "crash", "2.0.0"), "2.0.0")
	for i, tc := range []struct {
		point, bundle, want, outcome string
	}{
		{"seed-installed", v2, "2.0.0", update.StateSuccessful},
		{"before-exec", v2, "2.0.0", update.StateSuccessful},
		{"chunk-written", v2, "2.0.0", update.StateSuccessful},
		{"download-synced", v2, "2.0.0", update.StateSuccessful},
		{"download-flushed", v2, "2.0.0", update.StateSuccessful},
		{"downloaded", v2, "2.0.0", update.StateSuccessful},
		{"verified", v2, "2.0.0", update.StateSuccessful},
		{"install-file", v2, "2.0.0", update.StateSuccessful},
		{"installed", v2, "2.0.0", update.StateSuccessful},
		{"trial-saved", v2, "2.0.0", update.StateSuccessful},
		{"switched", v2, "2.0.0", update.StateSuccessful},
		{"trial-start-counted", v2, "2.0.0", update.StateSuccessful},
		{"trial-child-started", v2, "2.0.0", update.StateSuccessful},
		{"trial-healthy", v2, "1.0.0", update.StateRolledBack},
		{"committed", v2, "2.0.0", update.StateSuccessful},
		{"rolled-back-saved", v2crash, "1.0.0", update.StateRolledBack},
	} {
		t.Run(tc.point, func(t *testing.T) {
			name := fmt.Sprintf("kill-%d", i)
			r := newRig(t, ctx, b, obs, name, "TESTAGENT_CRASH="+tc.point)
			waitFor(t, 20*time.Second, "version 1.0.0 up", func() bool { return r.w.version() == "1.0.0" })
			pmq := connect(t, ctx, b.URL(), "pusher-"+name)
			ro, perr := push(t, ctx, pmq, tc.bundle, rollout.Options{Stations: []string{name}, Stall: time.Minute})
			select {
			case <-perr:
			case <-time.After(60 * time.Second):
				t.Fatalf("rollout did not end; station %+v", ro.Snapshot().Stations[0])
			}
			snap := ro.Snapshot().Stations[0]
			if snap.State != tc.outcome {
				t.Fatalf("rollout saw %s (%s), want %s", snap.State, snap.Reason, tc.outcome)
			}
			if got := r.crashed(); got != tc.point {
				t.Fatalf("crash point %q never reached (%q)", tc.point, got)
			}
			waitFor(t, 20*time.Second, "version "+tc.want+" running", func() bool { return r.w.version() == tc.want })
			st := r.consistent(t)
			if st.Slots[st.Committed].Version != tc.want {
				t.Fatalf("committed slot holds %s, want %s", st.Slots[st.Committed].Version, tc.want)
			}
			if tc.want == "2.0.0" && st.Floor != "2.0.0" {
				t.Fatalf("floor %q after the update", st.Floor)
			}
			t.Logf("killed at %s: ends on %s (%s %s)", tc.point, tc.want, snap.State, snap.Reason)
		})
	}
}

// TestRandomPowerCuts cuts the power at random instants during an update, several
// times in a row, then lets the station finish.
func TestRandomPowerCuts(t *testing.T) {
	b := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("UPDATE_TEST_SEED"), 10, 64); err == nil {
		seed = v // replay a failure
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	obs := connect(t, ctx, b.URL(), "observer")
	v2 := agentBundle(t, agentBinary(t, "healthy", "2.0.0"), "2.0.0", 64<<10)
	r := newRig(t, ctx, b, obs, "cuts")
	waitFor(t, 20*time.Second, "version 1.0.0 up", func() bool { return r.w.version() == "1.0.0" })
	// One chunk at a time, slowed down, so that the update takes a few seconds and the
	// cuts land in every phase.
	w := &tamper{MQTT: connect(t, ctx, b.URL(), "pusher")}
	w.delay.Store(int64(8 * time.Millisecond))
	ro, perr := push(t, ctx, w, v2, rollout.Options{Stations: []string{"cuts"}, Stall: time.Minute, Workers: 1})
	cuts := 5
	if testing.Short() {
		cuts = 2
	}
	for i := 0; i < cuts; i++ {
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		s := ro.Snapshot().Stations[0]
		t.Logf("power cut %d during %q (%d of %d bytes sent)", i+1, s.State, s.Sent, s.Total)
		r.sup.powerCut()
	}
	w.delay.Store(0)
	select {
	case err := <-perr:
		s := ro.Snapshot().Stations[0]
		t.Logf("rollout: %v (%s %s)", err, s.State, s.Reason)
	case <-time.After(90 * time.Second):
		t.Fatalf("rollout did not end: %+v", ro.Snapshot().Stations[0])
	}
	// Whatever the cuts hit, the station runs a committed version: 2.0.0, or 1.0.0
	// after a rolled-back trial (a cut during the trial may use up its starts).
	var v string
	waitFor(t, 20*time.Second, "a running version", func() bool { v = r.w.version(); return v == "1.0.0" || v == "2.0.0" })
	st := r.consistent(t)
	if st.Slots[st.Committed].Version != v {
		t.Fatalf("runs %s, committed slot holds %s", v, st.Slots[st.Committed].Version)
	}
	t.Logf("after %d power cuts the station runs %s", cuts, v)
}

// TestBadVersionRollsBack ships versions that crash at start, hang, or fail their
// self-test: each is rolled back by itself within the deadline and reported.
func TestBadVersionRollsBack(t *testing.T) {
	b := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	obs := connect(t, ctx, b.URL(), "observer")
	const deadline = 5 * time.Second
	for _, tc := range []struct {
		behaviour, reason string
		within            time.Duration
	}{
		{"crash", "exited with status 3 before it proved itself healthy", deadline},
		{"unhealthy", "failed its self-test: reader self-test: no answer from the sensor", deadline},
		{"hang", "was not healthy within 5s", deadline + 3*time.Second}, // deadline, then SIGTERM, 1 s grace, SIGKILL
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			name := "bad-" + tc.behaviour
			r := newRig(t, ctx, b, obs, name)
			waitFor(t, 20*time.Second, "version 1.0.0 up", func() bool { return r.w.version() == "1.0.0" })
			ro, perr := push(t, ctx, connect(t, ctx, b.URL(), "pusher-"+name), agentBundle(t, agentBinary(t, tc.behaviour, "2.0.0"), "2.0.0"),
				rollout.Options{Stations: []string{name}, AbortAfter: 1})
			var err error
			select {
			case err = <-perr:
			case <-time.After(60 * time.Second):
				t.Fatalf("rollout did not end: %+v", ro.Snapshot().Stations[0])
			}
			job := ro.Job().ID
			s := ro.Snapshot().Stations[0]
			if err == nil || s.State != update.StateRolledBack || !strings.Contains(s.Reason, tc.reason) {
				t.Fatalf("rollout %v; station %s %q, want rolled-back %q", err, s.State, s.Reason, tc.reason)
			}
			waitFor(t, 5*time.Second, "rolled-back seen by the observer", func() bool {
				l := r.w.last(job)
				return l != nil && l.State == update.StateRolledBack
			})
			restarting, rolled := r.w.first(job, update.StateRestarting), r.w.last(job)
			if restarting == nil || rolled == nil || rolled.State != update.StateRolledBack {
				t.Fatalf("states not reported: restarting %v, last %+v", restarting, rolled)
			}
			took := time.UnixMilli(rolled.At).Sub(time.UnixMilli(restarting.At))
			if took > tc.within {
				t.Fatalf("rolled back %s after the switch, deadline %s", took, tc.within)
			}
			waitFor(t, 10*time.Second, "version 1.0.0 back", func() bool { return r.w.version() == "1.0.0" })
			st := r.consistent(t)
			if st.Floor != "1.0.0" || st.Last.State != update.StateRolledBack {
				t.Fatalf("state after rollback: %+v", st)
			}
			t.Logf("%s: rolled back %s after the switch: %s", tc.behaviour, took.Round(10*time.Millisecond), s.Reason)
		})
	}
}
