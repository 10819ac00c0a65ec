// Package brokertest starts MQTT brokers for tests of any package: a real mosquitto, a
// nats-server with MQTT (and JetStream, which NATS's MQTT needs), or the embedded broker
// of agent/broker. Each listens on a free loopback port, keeps its files in
// t.TempDir(), is stopped when the test ends, and can be stopped, killed and started
// again on the same port for outage tests.
//
// A test whose broker binary is not installed is skipped with a message naming the
// Debian package, unless CAPTURA_REQUIRE_BROKERS=1 (CI sets it): then it fails.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/captura-claim/captura/agent/broker"
)

// RequireEnv is the environment variable that turns a missing broker binary from a
// skip into a failure.
const RequireEnv = "CAPTURA_REQUIRE_BROKERS"

// Broker kinds.
const (
	KindEmbedded  = "embedded"
	KindMosquitto = "mosquitto"
	KindNATS      = "nats"
)

// MaxPayload is the largest message the brokers started here accept (records are up to
// protocol.MaxRecordSize plus the envelope).
const MaxPayload = 24 << 20

// Broker is a broker started for a test.
type Broker struct {
	Kind string
	t    testing.TB
	port int
	dir  string

	mu      sync.Mutex
	running bool
	// process brokers
	bin  string
	args []string
	cmd  *exec.Cmd
	exit chan struct{}
	// embedded broker
	emb *broker.Broker
}

// URL is the broker's URL for mqttc (tcp://127.0.0.1:port).
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Addr is host:port.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port is the TCP port.
func (b *Broker) Port() int { return b.port }

// Dir is the broker's working directory (configuration, persistence, log).
func (b *Broker) Dir() string { return b.dir }

func (b *Broker) String() string { return b.Kind + "@" + b.Addr() }

// Kind names a broker kind and how to start it.
type Kind struct {
	Name  string
	Start func(testing.TB) *Broker
}

// Kinds are every broker kind, for tests that must pass on each.
var Kinds = []Kind{{KindEmbedded, Embedded}, {KindMosquitto, Mosquitto}, {KindNATS, NATS}}

// Each runs f as a subtest against each broker kind (a missing binary skips only its
// subtest).
func Each(t *testing.T, f func(t *testing.T, b *Broker)) {
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) { f(t, k.Start(t)) })
	}
}

// Embedded starts agent/broker. Its sessions live in memory: Stop or Kill loses them.
func Embedded(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{Kind: KindEmbedded, t: t, dir: t.TempDir()}
	b.startFresh()
	return b
}

// Mosquitto starts the mosquitto binary (Debian package mosquitto) with persistence in
// its directory, so a restart keeps sessions and queued messages; Stop lets it save
// them, Kill may lose the last second.
func Mosquitto(t testing.TB) *Broker {
	t.Helper()
	bin := need(t, "mosquitto", "mosquitto")
	b := &Broker{Kind: KindMosquitto, t: t, dir: t.TempDir(), bin: bin}
	b.startFresh()
	return b
}

// NATS starts nats-server (Debian package nats-server) with JetStream (file storage in
// its directory, so sessions survive a restart) and the MQTT listener.
func NATS(t testing.TB) *Broker {
	t.Helper()
	bin := need(t, "nats-server", "nats-server")
	b := &Broker{Kind: KindNATS, t: t, dir: t.TempDir(), bin: bin}
	b.startFresh()
	return b
}

// need finds bin or skips (fails under CAPTURA_REQUIRE_BROKERS=1).
func need(t testing.TB, bin, pkg string) string {
	t.Helper()
	if p, ok := findBinary(bin, sbinDirs); ok {
		return p
	}
	msg := fmt.Sprintf("brokertest: %s is not installed (apt-get install %s)", bin, pkg)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s and %s=1 requires it", msg, RequireEnv)
		return ""
	}
	t.Skip(msg)
	return ""
}

// sbinDirs are searched after PATH: Debian installs brokers in /usr/sbin, which a
// non-root PATH may lack.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"}

func findBinary(bin string, dirs []string) (string, bool) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, true
	}
	for _, d := range dirs {
		p := filepath.Join(d, bin)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// startFresh picks a free port and starts the broker; a port taken between the probe
// and the bind is retried on another port.
func (b *Broker) startFresh() {
	b.t.Helper()
	var err error
	for try := 0; try < 3; try++ {
		b.port, err = freePort()
		if err != nil {
			continue
		}
		if err = b.start(); err == nil {
			b.t.Cleanup(b.Stop)
			return
		}
	}
	b.t.Fatalf("brokertest: start %s: %v", b.Kind, err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts a stopped broker again on the same port.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("brokertest: restart %s: %v", b, err)
	}
}

// Restart stops the broker gracefully and starts it again on the same port.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.Start()
}

// Stop stops the broker gracefully (SIGTERM; persistent brokers save their state).
func (b *Broker) Stop() { b.stop(false) }

// Kill stops the broker abruptly (SIGKILL), as a crash or power cut would.
func (b *Broker) Kill() { b.stop(true) }

// Running reports whether the broker is started.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		return nil
	}
	switch b.Kind {
	case KindEmbedded:
		emb, err := broker.Start(context.Background(), b.Addr(), nil)
		if err != nil {
			return err
		}
		b.emb = emb
	default:
		if err := b.startProcess(); err != nil {
			return err
		}
	}
	b.running = true
	return nil
}

func (b *Broker) stop(kill bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return
	}
	b.running = false
	if b.emb != nil {
		b.emb.Close()
		b.emb = nil
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = b.cmd.Process.Signal(sig)
	select {
	case <-b.exit:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exit
	}
}

func (b *Broker) writeConfig() (string, error) {
	var conf, name string
	switch b.Kind {
	case KindMosquitto:
		name = "mosquitto.conf"
		user := ""
		if os.Getuid() == 0 {
			user = "user root\n" // else mosquitto drops to user mosquitto, who cannot write here
		}
		conf = fmt.Sprintf(`# generated by brokertest
%sper_listener_settings false
allow_anonymous true
listener %d 127.0.0.1
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 20
max_packet_size %d
log_dest stderr
log_type error
log_type warning
log_type notice
`, user, b.port, b.dir, MaxPayload+1024)
		b.args = []string{"-c", filepath.Join(b.dir, name)}
	case KindNATS:
		name = "nats.conf"
		conf = fmt.Sprintf(`# generated by brokertest
server_name: brokertest
listen: "127.0.0.1:-1"
max_payload: %d
max_pending: %d
jetstream {
  store_dir: "%s/jetstream"
  max_memory_store: 268435456
  max_file_store: 2147483648
}
mqtt {
  listen: "127.0.0.1:%d"
  ack_wait: "2s"
}
`, MaxPayload, 4*MaxPayload, b.dir, b.port)
		b.args = []string{"-c", filepath.Join(b.dir, name)}
	}
	path := filepath.Join(b.dir, name)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

var probeN atomic.Int64

func (b *Broker) startProcess() error {
	if _, err := b.writeConfig(); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(b.dir, b.Kind+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(b.bin, b.args...)
	cmd.Dir = b.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	if err := b.waitReady(exit, 20*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-exit
		return fmt.Errorf("%w\n%s", err, b.logTail())
	}
	b.cmd, b.exit = cmd, exit
	return nil
}

// waitReady connects with MQTT until CONNACK: an open port alone does not mean that
// nats-server's MQTT (which waits for JetStream) is ready.
func (b *Broker) waitReady(exit <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			return fmt.Errorf("%s exited while starting", b.Kind)
		default:
		}
		if last = probe(b.URL()); last == nil {
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("%s exited while starting", b.Kind)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not accepting MQTT connections on %s after %v: %v", b.Kind, b.Addr(), limit, last)
}

func probe(url string) error {
	o := mqtt.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("brokertest-probe-%d-%d", os.Getpid(), probeN.Add(1))).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(2 * time.Second) {
		return errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	c.Disconnect(0)
	return nil
}

func (b *Broker) logTail() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, b.Kind+".log"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
