package mqttc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Options configure a Client. The fields above the hooks come from configuration files;
// zero values take the defaults named in each comment.
type Options struct {
	// Brokers are tried in order on every connection attempt: tcp://host:port,
	// mqtt://host:port (plain), ssl://, tls:// or mqtts://host:port (TLS). A missing
	// port means 1883 (plain) or 8883 (TLS).
	Brokers []string
	// ClientID identifies the session at the broker; required. With Persistent it must
	// be stable across restarts.
	ClientID string
	Username string
	Password string

	// CAFile pins the broker's certificate authority (PEM): only certificates it issued
	// are accepted, not the system roots. Empty: the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key (PEM), sent for
	// mutual TLS; brokers derive per-station ACLs from it.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the broker's certificate (default: the
	// host of the broker URL).
	ServerName string

	// Persistent asks for a persistent session (CleanSession=false): the broker keeps
	// the subscriptions and queues QoS 1 messages while the client is away.
	Persistent bool
	// Will is the Last Will, published by the broker when the connection dies without
	// a DISCONNECT. WillFunc, when set, is called before each connection attempt and
	// overrides Will (a station's will carries a new birth number each time).
	Will     *Will
	WillFunc func() (*Will, error)

	KeepAlive      time.Duration // default 30 s
	ConnectTimeout time.Duration // per broker, default 10 s
	WriteTimeout   time.Duration // a packet write that blocks longer fails, default 30 s
	Backoff        Backoff       // reconnect delays, default 1 s doubling to 60 s

	// ManualAck makes QoS 1/2 messages wait for Message.Ack before they are
	// acknowledged to the broker. Default: acknowledged when the handler returns.
	ManualAck bool

	// OnConnect runs after every successful connection, once the subscriptions are
	// renewed and before WaitConnected returns: publish a birth message here. An error
	// drops the connection and counts as a failed attempt.
	OnConnect func(ctx context.Context, c *Client, sessionPresent bool) error
	// OnConnectionLost is told when an established connection dies.
	OnConnectionLost func(err error)

	// Logger receives connection events (never payloads). Default: discarded.
	Logger *slog.Logger
}

// Will is an MQTT Last Will message.
type Will struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Backoff is capped exponential backoff with jitter: attempt n waits a random delay in
// [d/2, d) where d = Min·2ⁿ, capped at Max.
type Backoff struct {
	Min time.Duration // first delay, default 1 s
	Max time.Duration // cap, default 60 s
}

// Delay returns the wait before attempt n+1 after n+1 failures (n from 0); jitter is a
// number in [0, 1).
func (b Backoff) Delay(n int, jitter float64) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	jitter = min(max(jitter, 0), 1)
	return d/2 + time.Duration(float64(d/2)*jitter)
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = time.Second
	}
	if b.Max <= 0 {
		b.Max = 60 * time.Second
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// brokerURL is a validated broker address.
type brokerURL struct {
	raw    string // as configured, for messages
	dial   string // what paho dials: scheme://host:port
	secure bool
}

func parseBroker(s string) (brokerURL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return brokerURL{}, fmt.Errorf("mqttc: broker %q: want scheme://host[:port]", s)
	}
	var secure bool
	var port string
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		port = "1883"
	case "ssl", "tls", "mqtts":
		secure, port = true, "8883"
	default:
		return brokerURL{}, fmt.Errorf("mqttc: broker %q: scheme %q is not tcp, mqtt, ssl, tls or mqtts", s, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return brokerURL{}, fmt.Errorf("mqttc: broker %q: only scheme://host[:port] (credentials go in Username/Password)", s)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return brokerURL{raw: s, dial: strings.ToLower(u.Scheme) + "://" + host, secure: secure}, nil
}

// validate checks o and returns the parsed brokers.
func (o *Options) validate() ([]brokerURL, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("mqttc: no broker URL configured")
	}
	if o.ClientID == "" {
		return nil, errors.New("mqttc: client id is empty")
	}
	if len(o.ClientID) > 65535 {
		return nil, errors.New("mqttc: client id is longer than 65535 bytes")
	}
	var bs []brokerURL
	anyTLS := false
	for _, s := range o.Brokers {
		b, err := parseBroker(s)
		if err != nil {
			return nil, err
		}
		anyTLS = anyTLS || b.secure
		bs = append(bs, b)
	}
	if (o.CertFile != "") != (o.KeyFile != "") {
		return nil, errors.New("mqttc: a client certificate needs both a certificate file and a key file")
	}
	if !anyTLS && (o.CAFile != "" || o.CertFile != "" || o.ServerName != "") {
		return nil, fmt.Errorf("mqttc: TLS settings given but no broker is ssl://, tls:// or mqtts:// (%s)", strings.Join(o.Brokers, ", "))
	}
	if o.Will != nil {
		if err := o.Will.validate(); err != nil {
			return nil, err
		}
	}
	if anyTLS {
		if _, err := o.TLSConfig(); err != nil {
			return nil, err
		}
	}
	return bs, nil
}

func (w *Will) validate() error {
	if w.Topic == "" || strings.ContainsAny(w.Topic, "+#") {
		return fmt.Errorf("mqttc: will topic %q: want a topic without wildcards", w.Topic)
	}
	if w.QoS > 2 {
		return fmt.Errorf("mqttc: will QoS %d: want 0, 1 or 2", w.QoS)
	}
	return nil
}

// TLSConfig builds the TLS client configuration: TLS 1.2 or later, the pinned CA when
// CAFile is set, the client certificate when CertFile/KeyFile are set. Files are read
// again on every connection, so renewed certificates are picked up.
func (o *Options) TLSConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqttc: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqttc: CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqttc: client certificate %s / key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
