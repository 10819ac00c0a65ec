package daemon_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/agent/tablet"
	"github.com/captura-claim/captura/protocol"
)

var (
	chaosKills = flag.Int("chaos.kills", 50, "kill -9 the agent this many times in TestCrashKill9 (make chaos: 200)")
	chaosSeed  = flag.Uint64("chaos.seed", 0, "seed of the kill timings (0: a fresh one, printed)")
)

const childEnv = "CAPTURA_TEST_AGENT_CONFIG"

// TestMain lets the test binary run as captura-agent itself, for the crash test.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		if os.Getenv(childSimCamera) != "" {
			os.Exit(runWithSimCamera(ctx, cfg))
		}
		os.Exit(daemon.Main(ctx, []string{"-config", cfg}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is captura-agent running as a separate process.
type child struct {
	cmd   *exec.Cmd
	ready chan struct{}
	done  chan error
}

func startChild(t testing.TB, cfgPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, ready: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "msg=ready") {
				once.Do(func() { close(c.ready) })
			}
			if strings.Contains(line, "level=ERROR") && !strings.Contains(line, "connection") {
				t.Logf("agent: %s", line)
			}
		}
		c.done <- cmd.Wait()
	}()
	return c
}

func (c *child) waitReady(t testing.TB) {
	t.Helper()
	select {
	case <-c.ready:
	case err := <-c.done:
		t.Fatalf("agent exited before it was ready (the outbox must open cleanly after every crash): %v", err)
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		t.Fatal("agent not ready within 60 s")
	}
}

func (c *child) kill9() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// outcome is what the tablet learnt about one capture command.
type outcome struct {
	txn    string
	record protocol.ID
	ok     bool
	reason string
}

// TestCrashKill9 kills the agent with SIGKILL at random moments while a tablet runs
// capture sessions back to back, restarts it each time, and then checks at the gateway:
// every session the station reported successful arrived exactly once, no other session
// produced a record, the station's chain is intact (every verdict "ok"), and the outbox
// opened cleanly after every kill and drained at the end.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("crash test: %d kills, seed %d (rerun with -chaos.seed=%d)", *chaosKills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	b := brokertest.Embedded(t)
	e := newEnv(t, b.URL(), "")

	var mu sync.Mutex
	var outcomes []outcome
	stopTablet := make(chan struct{})
	tabletDone := make(chan struct{})
	started := make(chan struct{}, 1) // a session started (its first progress event)
	go func() {
		defer close(tabletDone)
		for n := 1; ; n++ {
			select {
			case <-stopTablet:
				return
			default:
			}
			txn := fmt.Sprintf("CHAOS-%05d", n)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			id, err := e.tab.Capture(ctx, txn, []protocol.FingerPos{1, 6}, false, func(p *protocol.Progress) {
				if p.Event == protocol.EvSessionStart {
					select {
					case started <- struct{}{}:
					default:
					}
				}
			})
			cancel()
			o := outcome{txn: txn, record: id, ok: err == nil}
			if err != nil {
				o.reason = err.Error()
				if !errors.Is(err, tablet.ErrFailed) {
					t.Errorf("%s: no answer: %v", txn, err)
					return
				}
			}
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
			if !o.ok {
				time.Sleep(50 * time.Millisecond) // a technician does not retry instantly either
			}
		}
	}()

	// Measure how long a session takes here (race detector, machine load), so that kills
	// land before, during and after commits rather than always mid-session.
	c0 := startChild(t, e.cfgPath)
	c0.waitReady(t)
	t0 := time.Now()
	accepted := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.ok {
				n++
			}
		}
		return n
	}
	for accepted() < 3 {
		if time.Since(t0) > 2*time.Minute {
			t.Fatal("no session finished in 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	perSession := time.Since(t0) / 3
	c0.kill9()
	// Kills fall uniformly in the two session lengths after a session starts, plus the
	// time a finger left on the sensor by the previous kill may take to lift: some during
	// the session, some after its commit (publishing, receipts, the next start).
	window := 2*perSession + fingerMaxDwell
	t.Logf("crash test: a session takes about %v here; kills fall uniformly in the first %v after a session starts", perSession.Round(time.Millisecond), window.Round(time.Millisecond))
	for i := 0; i < *chaosKills; i++ {
		c := startChild(t, e.cfgPath)
		c.waitReady(t)
		select {
		case <-started: // left over from before the restart
		default:
		}
		// A session waiting for the technician's decision (both attempts short of the
		// PAD or quality bar) starts no other: kill it where it stands after a while.
		select {
		case <-started:
		case <-time.After(5 * time.Second):
		}
		time.Sleep(time.Duration(rng.Int64N(int64(window))))
		c.kill9()
	}
	// Last run: let everything in flight finish, then stop the tablet and drain.
	c := startChild(t, e.cfgPath)
	c.waitReady(t)
	close(stopTablet)
	select {
	case <-tabletDone:
	case <-time.After(3 * time.Minute):
		t.Fatal("the tablet's last command never got an answer")
	}
	e.waitOutboxEmpty(2 * time.Minute)
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-c.done; err != nil {
		t.Errorf("agent did not stop cleanly: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	recs, chains := e.stored()
	storedByID := map[protocol.ID]*protocol.Record{}
	for _, r := range recs {
		storedByID[r.ID] = r
	}
	succeeded := map[protocol.ID]string{}
	failed := 0
	for _, o := range outcomes {
		if o.ok {
			succeeded[o.record] = o.txn
		} else {
			failed++
		}
	}
	txns := map[string]protocol.ID{}
	for id, r := range storedByID {
		if _, ok := succeeded[id]; !ok {
			t.Errorf("record %s (txn %s) at the gateway, but the station never reported it successful", id, r.Txn)
		}
		if other, dup := txns[r.Txn]; dup {
			t.Errorf("transaction %s arrived as two records: %s and %s", r.Txn, other, id)
		}
		txns[r.Txn] = id
	}
	for id, txn := range succeeded {
		if storedByID[id] == nil {
			t.Errorf("session %s (record %s) was accepted but never arrived", txn, id)
		}
	}
	for i, v := range chains {
		if v != protocol.ChainOK {
			t.Errorf("record %d of the chain: verdict %q", i+1, v)
		}
	}
	t.Logf("crash test: %d kills; %d sessions accepted and arrived exactly once, %d interrupted (failed, no record); %d records in an intact chain",
		*chaosKills, len(succeeded), failed, len(recs))
	if len(succeeded) == 0 {
		t.Error("no session survived: the kill timings are too short to exercise commits")
	}
}
