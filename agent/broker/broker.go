// Package broker is the embedded MQTT broker (github.com/mochi-mqtt/server/v2) that a
// station runs when no broker is configured (make demo) and that tests use. It listens
// on a loopback address only: it has no authentication and is not the centre's broker.
// A centre runs mosquitto or nats-server with TLS client certificates and per-station
// ACLs; see agent/gateway for the contract.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Opts are optional settings; nil means plain TCP and no logging.
type Opts struct {
	// TLS, when set, makes the listener speak TLS only (the URL is then ssl://).
	TLS *tls.Config
	// Logger receives the broker's own log lines (connections, never payloads).
	Logger *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv    *mqtt.Server
	addr   string
	secure bool
	once   sync.Once
	done   chan struct{}
}

// ErrNotLoopback is returned for a listen address that is not on the loopback interface.
var ErrNotLoopback = errors.New("not a loopback address")

// Start listens on addr (host:port on a loopback address; port 0 picks a free one) and
// serves until Close or until ctx is done.
func Start(ctx context.Context, addr string, o *Opts) (*Broker, error) {
	if o == nil {
		o = &Opts{}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	if err := checkLoopback(host); err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := mqtt.New(&mqtt.Options{Logger: log, InlineClient: false})
	// Loopback only, so anyone who can reach it is on this machine.
	if err := srv.AddHook(new(allowLoopback), nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "captura-loopback", Address: net.JoinHostPort(host, port), TLSConfig: o.TLS})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b := &Broker{srv: srv, addr: l.Address(), secure: o.TLS != nil, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			b.Close()
		case <-b.done:
		}
	}()
	return b, nil
}

// allowLoopback admits every client and topic: the listener is on loopback only.
type allowLoopback struct{ mqtt.HookBase }

func (*allowLoopback) ID() string { return "captura-allow-loopback" }

func (*allowLoopback) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (*allowLoopback) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*allowLoopback) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func checkLoopback(host string) error {
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: %w (the embedded broker has no authentication)", host, ErrNotLoopback)
	}
	return nil
}

// Addr returns the address the broker listens on (host:port).
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker's URL for mqttc: tcp://host:port, or ssl:// with TLS.
func (b *Broker) URL() string {
	if b.secure {
		return "ssl://" + b.addr
	}
	return "tcp://" + b.addr
}

func (b *Broker) String() string { return "broker(" + b.URL() + ")" }

// Close stops the broker and disconnects its clients. It is safe to call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		close(b.done)
		b.srv.Close()
	})
	return nil
}
