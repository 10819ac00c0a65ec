package mqttc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Error categories; returned errors wrap them.
var (
	// ErrNotConnected: there is no connection to a broker right now.
	ErrNotConnected = errors.New("not connected")
	// ErrConnectionLost: the connection died before the broker acknowledged the
	// packet; it may or may not have been delivered (resend, ids make it idempotent).
	ErrConnectionLost = errors.New("connection lost before the broker acknowledged")
	// ErrRefused: the broker refused a subscription (SUBACK failure code).
	ErrRefused = errors.New("refused by the broker")
)

// Message is a received PUBLISH.
type Message struct {
	Topic     string
	Payload   []byte
	QoS       byte
	Retained  bool
	Duplicate bool // the broker says it may have delivered it before

	ack  func()
	once sync.Once
}

// Ack acknowledges the message to the broker (PUBACK for QoS 1). It only matters with
// Options.ManualAck; calling it more than once, or after the connection that carried
// the message died, does nothing (the broker redelivers unacknowledged messages of a
// persistent session on the next connection).
func (m *Message) Ack() {
	if m.ack != nil {
		m.once.Do(m.ack)
	}
}

// Handler receives messages of a subscription. See the package comment for its rules.
type Handler func(*Message)

type subscription struct {
	qos byte
	h   Handler
}

// Client is a connection to a broker that Run keeps up. Its methods are safe for
// concurrent use.
type Client struct {
	o       Options
	brokers []brokerURL
	log     *slog.Logger

	mu      sync.Mutex
	subs    map[string]subscription
	cur     *conn
	up      chan struct{} // closed while connected
	running bool
	jitter  func() float64
	after   func(time.Duration) <-chan time.Time
}

// conn is one connection: a paho client that is never reconnected.
type conn struct {
	pc         mqtt.Client
	broker     string
	at         time.Time
	subscribed map[string]bool // filters subscribed on this connection
	lost       chan struct{}
	lostErr    error
	once       sync.Once
}

func (cn *conn) markLost(err error) {
	cn.once.Do(func() {
		if err == nil {
			err = errors.New("closed")
		}
		cn.lostErr = err
		close(cn.lost)
	})
}

func (cn *conn) isLost() bool {
	select {
	case <-cn.lost:
		return true
	default:
		return false
	}
}

// New validates o and returns a client that is not connected yet: call Run (keeps a
// connection up) or Connect (one attempt).
func New(o Options) (*Client, error) {
	bs, err := o.validate()
	if err != nil {
		return nil, err
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	o.Backoff = o.Backoff.withDefaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		o: o, brokers: bs, log: log.With("client", o.ClientID),
		subs: map[string]subscription{}, up: make(chan struct{}),
		jitter: rand.Float64, after: time.After,
	}, nil
}

func (c *Client) String() string {
	return fmt.Sprintf("mqttc(%s@%s)", c.o.ClientID, strings.Join(c.o.Brokers, ","))
}

// Connected reports whether a connection is up.
func (c *Client) Connected() bool {
	select {
	case <-c.upChan():
		return true
	default:
		return false
	}
}

// Broker returns the URL of the broker of the current connection, or "".
func (c *Client) Broker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return ""
	}
	return c.cur.broker
}

func (c *Client) upChan() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// WaitConnected waits until a connection is up (subscriptions renewed, OnConnect done).
func (c *Client) WaitConnected(ctx context.Context) error {
	select {
	case <-c.upChan():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqttc: waiting for a connection to %s: %w", strings.Join(c.o.Brokers, ", "), ctx.Err())
	}
}

// Run connects and keeps a connection up until ctx is done, reconnecting with backoff.
// Then it disconnects cleanly (DISCONNECT: the broker does not publish the Will) and
// returns nil.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("mqttc: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.Close()
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()
	failures := 0
	for {
		cn := c.current()
		if cn == nil {
			var err error
			cn, err = c.dial1(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d := c.o.Backoff.Delay(failures, c.jitter())
				failures++
				c.log.Warn("mqtt connect failed", "err", err, "attempt", failures, "retry_in", d.Round(time.Millisecond))
				select {
				case <-c.after(d):
				case <-ctx.Done():
					return nil
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-cn.lost:
		}
		c.setDown(cn)
		c.log.Warn("mqtt connection lost", "broker", cn.broker, "err", cn.lostErr, "up_for", time.Since(cn.at).Round(time.Millisecond))
		if c.o.OnConnectionLost != nil {
			c.o.OnConnectionLost(cn.lostErr)
		}
		if time.Since(cn.at) >= c.o.Backoff.Max {
			failures = 0 // a connection that lasted resets the backoff
			continue
		}
		// A connection that dies young (broker kicking us, duplicate client id) must
		// not turn into a tight loop.
		d := c.o.Backoff.Delay(failures, c.jitter())
		failures++
		select {
		case <-c.after(d):
		case <-ctx.Done():
			return nil
		}
	}
}

// Connect makes one connection attempt (each broker in turn), without the reconnect
// loop: for one-shot tools. Close ends it.
func (c *Client) Connect(ctx context.Context) error {
	if c.current() != nil {
		return nil
	}
	_, err := c.dial1(ctx)
	return err
}

// Close disconnects cleanly (the Will is not published). Run's loop, if any, keeps
// going: cancel its context to stop it.
func (c *Client) Close() {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return
	}
	c.setDown(cn)
	cn.pc.Disconnect(250)
	cn.markLost(errors.New("closed by the client"))
	c.log.Info("mqtt disconnected", "broker", cn.broker)
}

func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *Client) setDown(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != cn {
		return
	}
	c.cur = nil
	select {
	case <-c.up:
		c.up = make(chan struct{})
	default:
	}
}

// dial1 is one connection attempt: each broker in turn until one accepts.
func (c *Client) dial1(ctx context.Context) (*conn, error) {
	will := c.o.Will
	if c.o.WillFunc != nil {
		w, err := c.o.WillFunc()
		if err != nil {
			return nil, fmt.Errorf("mqttc: will: %w", err)
		}
		if w != nil {
			if err := w.validate(); err != nil {
				return nil, err
			}
		}
		will = w
	}
	var errs []error
	for _, b := range c.brokers {
		cn, err := c.connectTo(ctx, b, will)
		if err == nil {
			return cn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (c *Client) connectTo(ctx context.Context, b brokerURL, will *Will) (*conn, error) {
	po := mqtt.NewClientOptions().
		AddBroker(b.dial).
		SetClientID(c.o.ClientID).
		SetUsername(c.o.Username).
		SetPassword(c.o.Password).
		SetProtocolVersion(4).
		SetCleanSession(!c.o.Persistent).
		SetOrderMatters(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetKeepAlive(c.o.KeepAlive).
		SetPingTimeout(min(c.o.KeepAlive, 10*time.Second)).
		SetConnectTimeout(c.o.ConnectTimeout).
		SetWriteTimeout(c.o.WriteTimeout).
		SetAutoAckDisabled(c.o.ManualAck)
	if b.secure {
		tc, err := c.o.TLSConfig()
		if err != nil {
			return nil, err
		}
		po.SetTLSConfig(tc)
	}
	if will != nil {
		po.SetBinaryWill(will.Topic, will.Payload, will.QoS, will.Retained)
	}
	cn := &conn{broker: b.raw, lost: make(chan struct{}), subscribed: map[string]bool{}}
	po.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		cn.markLost(err)
		c.setDown(cn) // at once, so Connected and Publish stop using it
	})
	po.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		// A persistent session may hold messages of a filter no longer subscribed.
		c.log.Debug("mqtt message without a handler dropped", "topic", m.Topic())
		m.Ack()
	})
	pc := mqtt.NewClient(po)
	cn.pc = pc
	// Routes first: a persistent session may deliver right after CONNACK.
	c.mu.Lock()
	for f, s := range c.subs {
		pc.AddRoute(f, c.route(s.h))
	}
	c.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, c.o.ConnectTimeout+time.Second)
	defer cancel()
	tok := pc.Connect()
	select {
	case <-tok.Done():
	case <-cctx.Done():
		go func() { <-tok.Done(); pc.Disconnect(0) }()
		return nil, fmt.Errorf("mqttc: connect to %s as %q: %w", b.raw, c.o.ClientID, cctx.Err())
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqttc: connect to %s as %q: %w", b.raw, c.o.ClientID, err)
	}
	cn.at = time.Now()
	present := false
	if ct, ok := tok.(*mqtt.ConnectToken); ok {
		present = ct.SessionPresent()
	}
	fail := func(err error) (*conn, error) {
		pc.Disconnect(0)
		cn.markLost(err)
		return nil, err
	}
	// Renew subscriptions until none was added meanwhile, then publish the connection.
	for {
		c.mu.Lock()
		todo := map[string]byte{}
		for f, s := range c.subs {
			if !cn.subscribed[f] {
				todo[f] = s.qos
				// A filter subscribed while this connection was being set up has no
				// route yet: paho only adds one when given a callback.
				pc.AddRoute(f, c.route(s.h))
			}
		}
		if len(todo) == 0 {
			c.cur = cn
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		st := pc.SubscribeMultiple(todo, nil)
		if err := c.wait(ctx, cn, st, "subscribe"); err != nil {
			return fail(err)
		}
		if err := checkSuback(st, cn.broker); err != nil {
			return fail(err)
		}
		c.mu.Lock()
		for f := range todo {
			cn.subscribed[f] = true
		}
		c.mu.Unlock()
	}
	if c.o.OnConnect != nil {
		if err := c.o.OnConnect(ctx, c, present); err != nil {
			c.setDown(cn)
			return fail(fmt.Errorf("mqttc: on-connect via %s: %w", cn.broker, err))
		}
	}
	c.mu.Lock()
	if c.cur == cn && !cn.isLost() {
		close(c.up)
	}
	c.mu.Unlock()
	c.mu.Lock()
	n := len(cn.subscribed)
	c.mu.Unlock()
	c.log.Info("mqtt connected", "broker", cn.broker, "session_present", present, "subscriptions", n)
	return cn, nil
}

func checkSuback(t mqtt.Token, broker string) error {
	st, ok := t.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	for f, code := range st.Result() {
		if code == 0x80 {
			return fmt.Errorf("mqttc: subscribe to %s via %s: %w", f, broker, ErrRefused)
		}
	}
	return nil
}

func (c *Client) route(h Handler) mqtt.MessageHandler {
	manual := c.o.ManualAck
	return func(_ mqtt.Client, m mqtt.Message) {
		msg := &Message{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Retained: m.Retained(), Duplicate: m.Duplicate()}
		if manual {
			msg.ack = m.Ack
		}
		h(msg)
	}
}

// wait waits for a paho token under ctx and the connection's life.
func (c *Client) wait(ctx context.Context, cn *conn, t mqtt.Token, what string) error {
	var err error
	select {
	case <-t.Done():
		err = t.Error()
	case <-cn.lost:
		select {
		case <-t.Done():
			err = t.Error()
		default:
			err = ErrConnectionLost
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && err != ErrConnectionLost && ctx.Err() == nil && (cn.isLost() || !cn.pc.IsConnectionOpen()) {
		err = fmt.Errorf("%w (%v)", ErrConnectionLost, err)
	}
	if err != nil {
		return fmt.Errorf("mqttc: %s via %s: %w", what, cn.broker, err)
	}
	return nil
}

// Publish sends payload to topic and waits, under ctx, until the broker acknowledges
// it (QoS 1: PUBACK; QoS 0: written). It fails with ErrNotConnected when no connection
// is up and ErrConnectionLost when the connection dies first.
func (c *Client) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if qos > 2 {
		return fmt.Errorf("mqttc: publish to %s: QoS %d: want 0, 1 or 2", topic, qos)
	}
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return fmt.Errorf("mqttc: publish to %q: want a topic without wildcards", topic)
	}
	cn := c.current()
	if cn == nil {
		return fmt.Errorf("mqttc: publish to %s: %w to %s", topic, ErrNotConnected, strings.Join(c.o.Brokers, ", "))
	}
	return c.wait(ctx, cn, cn.pc.Publish(topic, qos, retained, payload), "publish to "+topic)
}

// Subscribe registers h for filter and subscribes now if connected; the subscription is
// renewed on every later connection. Subscribing a filter again replaces its handler.
// When not connected it only registers and returns nil.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, h Handler) error {
	if filter == "" || qos > 2 || h == nil {
		return fmt.Errorf("mqttc: subscribe to %q (QoS %d): want a filter, QoS 0-2 and a handler", filter, qos)
	}
	c.mu.Lock()
	c.subs[filter] = subscription{qos: qos, h: h}
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	t := cn.pc.Subscribe(filter, qos, c.route(h))
	if err := c.wait(ctx, cn, t, "subscribe to "+filter); err != nil {
		return err
	}
	if err := checkSuback(t, cn.broker); err != nil {
		return err
	}
	c.mu.Lock()
	cn.subscribed[filter] = true
	c.mu.Unlock()
	return nil
}

// Unsubscribe forgets filter and unsubscribes now if connected.
func (c *Client) Unsubscribe(ctx context.Context, filter string) error {
	c.mu.Lock()
	delete(c.subs, filter)
	cn := c.cur
	if cn != nil {
		delete(cn.subscribed, filter)
	}
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	return c.wait(ctx, cn, cn.pc.Unsubscribe(filter), "unsubscribe from "+filter)
}
