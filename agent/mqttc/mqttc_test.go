package mqttc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/broker"
	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/mqttc"
)

func TestBackoff(t *testing.T) {
	b := mqttc.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		n        int
		jitter   float64
		min, max time.Duration
	}{
		{0, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{0, 0.999, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 0, 100 * time.Millisecond, 100 * time.Millisecond},
		{3, 0.5, 600 * time.Millisecond, 600 * time.Millisecond},
		{4, 0, 500 * time.Millisecond, 500 * time.Millisecond}, // capped at 1 s
		{60, 0.999, 500 * time.Millisecond, time.Second},       // no overflow
		{2, 7, 400 * time.Millisecond, 400 * time.Millisecond}, // jitter clamped
	} {
		d := b.Delay(tc.n, tc.jitter)
		if d < tc.min || d > tc.max {
			t.Errorf("Delay(%d, %v) = %v, want in [%v, %v]", tc.n, tc.jitter, d, tc.min, tc.max)
		}
	}
	if d := (mqttc.Backoff{}).Delay(100, 0.999); d > 60*time.Second || d < 30*time.Second {
		t.Errorf("default cap: %v", d)
	}
}

func TestOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		name string
		o    mqttc.Options
		want string
	}{
		{"no broker", mqttc.Options{ClientID: "a"}, "no broker URL configured"},
		{"no id", mqttc.Options{Brokers: []string{"tcp://127.0.0.1:1883"}}, "client id is empty"},
		{"scheme", mqttc.Options{Brokers: []string{"http://127.0.0.1"}, ClientID: "a"}, `scheme "http" is not tcp, mqtt, ssl, tls or mqtts`},
		{"no host", mqttc.Options{Brokers: []string{"tcp://"}, ClientID: "a"}, "want scheme://host[:port]"},
		{"creds in url", mqttc.Options{Brokers: []string{"tcp://u:p@h:1"}, ClientID: "a"}, "credentials go in Username/Password"},
		{"tls on plain", mqttc.Options{Brokers: []string{"tcp://h:1"}, ClientID: "a", CAFile: notPEM}, "TLS settings given but no broker is ssl://"},
		{"cert without key", mqttc.Options{Brokers: []string{"ssl://h"}, ClientID: "a", CertFile: "c.pem"}, "needs both a certificate file and a key file"},
		{"ca not pem", mqttc.Options{Brokers: []string{"mqtts://h"}, ClientID: "a", CAFile: notPEM}, "holds no PEM certificate"},
		{"ca missing", mqttc.Options{Brokers: []string{"mqtts://h"}, ClientID: "a", CAFile: filepath.Join(dir, "nope")}, "CA file: open"},
		{"will wildcard", mqttc.Options{Brokers: []string{"tcp://h"}, ClientID: "a", Will: &mqttc.Will{Topic: "a/+"}}, "want a topic without wildcards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mqttc.New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "mqttc: ") {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNotConnected(t *testing.T) {
	c, err := mqttc.New(mqttc.Options{Brokers: []string{"tcp://127.0.0.1:1"}, ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Publish(context.Background(), "a/b", 1, false, []byte("x"))
	if !errors.Is(err, mqttc.ErrNotConnected) || !strings.Contains(err.Error(), "tcp://127.0.0.1:1") {
		t.Fatalf("publish: %v", err)
	}
	// Registering a subscription offline is fine; it is made on connect.
	if err := c.Subscribe(context.Background(), "a/#", 1, func(*mqttc.Message) {}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = c.Connect(ctx)
	if err == nil || !strings.Contains(err.Error(), "connect to tcp://127.0.0.1:1") {
		t.Fatalf("connect: %v", err)
	}
}

// proxy forwards TCP to a broker and can cut or stall every connection, to make a
// connection die without a DISCONNECT (the Will fires) or go silent.
type proxy struct {
	l       net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	stalled atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	t.Cleanup(func() { l.Close(); p.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.stalled.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

func (p *proxy) url() string { return "tcp://" + p.l.Addr().String() }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func newClient(t *testing.T, o mqttc.Options) *mqttc.Client {
	t.Helper()
	if o.Backoff.Min == 0 {
		o.Backoff = mqttc.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	c, err := mqttc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t *testing.T, c *mqttc.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, ch <-chan *mqttc.Message, what string) *mqttc.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		return nil
	}
}

// TestReconnect: the broker goes away and comes back; the client reconnects by itself,
// renews its subscription, runs OnConnect again and asks WillFunc for a new will each time.
func TestReconnect(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b *brokertest.Broker) {
		var connects, wills atomic.Int32
		got := make(chan *mqttc.Message, 8)
		c := newClient(t, mqttc.Options{
			Brokers: []string{b.URL()}, ClientID: "reconnect-" + b.Kind, Persistent: true,
			WillFunc: func() (*mqttc.Will, error) {
				wills.Add(1)
				return &mqttc.Will{Topic: "test/will", Payload: []byte("offline"), QoS: 1, Retained: true}, nil
			},
			OnConnect: func(ctx context.Context, c *mqttc.Client, _ bool) error {
				connects.Add(1)
				return c.Publish(ctx, "test/birth", 1, true, []byte("online"))
			},
		})
		if err := c.Subscribe(context.Background(), "test/in", 1, func(m *mqttc.Message) { got <- m }); err != nil {
			t.Fatal(err)
		}
		run(t, c)
		pub := newClient(t, mqttc.Options{Brokers: []string{b.URL()}, ClientID: "pub-" + b.Kind})
		run(t, pub)
		if err := pub.Publish(context.Background(), "test/in", 1, false, []byte("one")); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, got, "message before the outage"); string(m.Payload) != "one" || m.Topic != "test/in" {
			t.Fatalf("got %q on %q", m.Payload, m.Topic)
		}

		b.Restart()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for connects.Load() < 2 || !c.Connected() || !pub.Connected() {
			if ctx.Err() != nil {
				t.Fatalf("no reconnection: %d connects, connected %v/%v", connects.Load(), c.Connected(), pub.Connected())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := pub.Publish(ctx, "test/in", 1, false, []byte("two")); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, got, "message after the outage"); string(m.Payload) != "two" {
			t.Fatalf("got %q", m.Payload)
		}
		if w := wills.Load(); w < connects.Load() {
			t.Errorf("WillFunc called %d times for %d connections", w, connects.Load())
		}
	})
}

// TestWillAndLoss: a connection cut without DISCONNECT makes the broker publish the
// Will; a publish stalled on a dying connection fails with ErrConnectionLost.
func TestWillAndLoss(t *testing.T) {
	b := brokertest.Embedded(t)
	p := newProxy(t, b.Addr())
	wills := make(chan *mqttc.Message, 4)
	watcher := newClient(t, mqttc.Options{Brokers: []string{b.URL()}, ClientID: "watcher"})
	watcher.Subscribe(context.Background(), "st/status", 1, func(m *mqttc.Message) { wills <- m })
	run(t, watcher)

	var lost atomic.Int32
	c := newClient(t, mqttc.Options{
		Brokers: []string{p.url()}, ClientID: "station", KeepAlive: time.Second,
		Will:             &mqttc.Will{Topic: "st/status", Payload: []byte("offline"), QoS: 1},
		OnConnectionLost: func(error) { lost.Add(1) },
	})
	run(t, c)
	p.stalled.Store(true)
	errc := make(chan error, 1)
	go func() { errc <- c.Publish(context.Background(), "st/records", 1, false, []byte("r")) }()
	time.Sleep(100 * time.Millisecond)
	p.cut()
	p.stalled.Store(false)
	select {
	case err := <-errc:
		if !errors.Is(err, mqttc.ErrConnectionLost) || !strings.Contains(err.Error(), p.url()) {
			t.Fatalf("publish on a dying connection: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("publish did not return when the connection died")
	}
	if m := recv(t, wills, "will"); string(m.Payload) != "offline" {
		t.Fatalf("will payload %q", m.Payload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for lost.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("OnConnectionLost not called")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "st/records", 1, false, []byte("r")); err != nil {
		t.Fatalf("publish after reconnecting: %v", err)
	}
}

// TestManualAck: a QoS 1 message not acknowledged is delivered again on the next
// connection of a persistent session; an acknowledged one is not.
func TestManualAck(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b *brokertest.Broker) {
		p := newProxy(t, b.Addr())
		got := make(chan *mqttc.Message, 8)
		c := newClient(t, mqttc.Options{Brokers: []string{p.url()}, ClientID: "manual-" + b.Kind, Persistent: true, ManualAck: true})
		c.Subscribe(context.Background(), "m/+", 1, func(m *mqttc.Message) { got <- m })
		run(t, c)
		pub := newClient(t, mqttc.Options{Brokers: []string{b.URL()}, ClientID: "mpub-" + b.Kind})
		run(t, pub)
		ctx := context.Background()
		pub.Publish(ctx, "m/acked", 1, false, []byte("a"))
		recv(t, got, "first message").Ack()
		pub.Publish(ctx, "m/unacked", 1, false, []byte("u"))
		if m := recv(t, got, "second message"); m.Topic != "m/unacked" {
			t.Fatalf("got %s", m.Topic)
		}
		time.Sleep(200 * time.Millisecond) // let the first PUBACK reach the broker
		p.cut()
		m := recv(t, got, "redelivery")
		if m.Topic != "m/unacked" || !m.Duplicate && b.Kind != brokertest.KindNATS {
			t.Fatalf("redelivered %s (dup %v)", m.Topic, m.Duplicate)
		}
		m.Ack()
		select {
		case m := <-got:
			if m.Topic == "m/acked" {
				t.Fatalf("acknowledged message delivered again")
			}
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// TestTLS: a pinned CA and a client certificate against a broker that requires one; a
// client pinning another CA is refused, with the broker named in the error.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := makeCA(t, "captura test ca")
	srvCert := makeLeaf(t, ca, caKey, "broker", true)
	cliCert := makeLeaf(t, ca, caKey, "st-07", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	b, err := broker.Start(context.Background(), "127.0.0.1:0", &broker.Opts{TLS: &tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "ssl://") {
		t.Fatalf("URL %s", b.URL())
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "st.pem"), "CERTIFICATE", cliCert.Certificate[0])
	der, _ := x509.MarshalPKCS8PrivateKey(cliCert.PrivateKey)
	writePEM(t, filepath.Join(dir, "st.key"), "PRIVATE KEY", der)

	c := newClient(t, mqttc.Options{Brokers: []string{strings.Replace(b.URL(), "ssl://", "mqtts://", 1)}, ClientID: "tls",
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "st.pem"), KeyFile: filepath.Join(dir, "st.key"), ServerName: "broker"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "t/x", 1, false, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.Close()

	other, _ := makeCA(t, "another ca")
	writePEM(t, filepath.Join(dir, "other.pem"), "CERTIFICATE", other.Raw)
	c2 := newClient(t, mqttc.Options{Brokers: []string{b.URL()}, ClientID: "tls2", CAFile: filepath.Join(dir, "other.pem"), ServerName: "broker"})
	err = c2.Connect(ctx)
	if err == nil || !strings.Contains(err.Error(), "connect to "+b.URL()) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("connect with the wrong CA: %v", err)
	}
}

func makeCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func makeLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.DNSNames = []string{name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
