package brokertest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestEachKind starts each broker, passes a record-sized QoS 1 message through it, and
// restarts it on the same port with a persistent session surviving where the broker
// persists (mosquitto, nats-server).
func TestEachKind(t *testing.T) {
	Each(t, func(t *testing.T, b *Broker) {
		payload := bytes.Repeat([]byte{0xa5}, 1536<<10)
		got := make(chan []byte, 4)
		sub := connect(t, b, "brokertest-sub", false, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() })
		if tok := sub.Subscribe("captura/v1/c/s/records", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		pub := connect(t, b, "brokertest-pub", true, nil)
		publish(t, pub, payload)
		expect(t, got, payload)

		// Subscriber away, message queued, broker restarted: the persistent session
		// delivers it (the embedded broker keeps sessions in memory only).
		sub.Disconnect(100)
		publish(t, pub, []byte("queued"))
		pub.Disconnect(100)
		b.Restart()
		if !b.Running() {
			t.Fatal("not running after Restart")
		}
		sub = connect(t, b, "brokertest-sub", false, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() })
		if b.Kind == KindEmbedded {
			select {
			case p := <-got:
				t.Fatalf("embedded broker kept a message across a restart: %q", p)
			case <-time.After(300 * time.Millisecond):
			}
			return
		}
		expect(t, got, []byte("queued"))
	})
}

func connect(t *testing.T, b *Broker, id string, clean bool, h mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetCleanSession(clean).SetAutoReconnect(false)
	if h != nil {
		o.SetDefaultPublishHandler(h)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", b, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(t *testing.T, c mqtt.Client, p []byte) {
	t.Helper()
	if tok := c.Publish("captura/v1/c/s/records", 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

func expect(t *testing.T, got chan []byte, want []byte) {
	t.Helper()
	select {
	case p := <-got:
		if !bytes.Equal(p, want) {
			t.Fatalf("got %d bytes, want %d", len(p), len(want))
		}
	case <-time.After(10 * time.Second):
		t.Fatal(fmt.Sprintf("no message of %d bytes within 10 s", len(want)))
	}
}

// fakeTB records Skip and Fatal instead of ending the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skip(a ...any)                  { f.skipped = fmt.Sprint(a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestMissingBinary(t *testing.T) {
	old := sbinDirs
	sbinDirs = nil
	defer func() { sbinDirs = old }()
	t.Setenv("PATH", t.TempDir())

	t.Setenv(RequireEnv, "")
	f := &fakeTB{TB: t}
	need(f, "mosquitto", "mosquitto")
	if f.skipped != "brokertest: mosquitto is not installed (apt-get install mosquitto)" || f.failed != "" {
		t.Errorf("without %s: skipped %q, failed %q", RequireEnv, f.skipped, f.failed)
	}

	t.Setenv(RequireEnv, "1")
	f = &fakeTB{TB: t}
	need(f, "nats-server", "nats-server")
	if f.skipped != "" || f.failed == "" {
		t.Errorf("with %s=1: skipped %q, failed %q", RequireEnv, f.skipped, f.failed)
	}
}
