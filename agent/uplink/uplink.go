// Package uplink keeps the station's broker connection: a persistent MQTT session whose
// Last Will is the station's signed "offline" status with a fresh birth number for every
// connection, the command and receipt subscriptions, and the hand-over of the live
// connection to the station core.
package uplink

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/station"
	"github.com/captura-claim/captura/agent/store"
)

// Uplink is the station's connection to the centre broker.
type Uplink struct {
	client *mqttc.Client
	birth  atomic.Uint64
}

// Options derives the MQTT options from the station configuration.
func Options(c *config.Config, broker string) (mqttc.Options, error) {
	o := mqttc.Options{
		Brokers:        []string{broker},
		ClientID:       c.MQTT.ClientID,
		Username:       c.MQTT.Username,
		CAFile:         c.Path(c.MQTT.CAFile),
		CertFile:       c.Path(c.MQTT.CertFile),
		KeyFile:        c.Path(c.MQTT.KeyFile),
		ServerName:     c.MQTT.ServerName,
		Persistent:     true,
		KeepAlive:      c.MQTT.KeepAlive.D(),
		ConnectTimeout: c.MQTT.ConnectTimeout.D(),
		Backoff:        mqttc.Backoff{Min: min(c.MQTT.ReconnectMax.D(), 500_000_000), Max: c.MQTT.ReconnectMax.D()},
	}
	if o.ClientID == "" {
		o.ClientID = "captura-" + c.Station.ID
	}
	if c.MQTT.PasswordFile != "" {
		b, err := os.ReadFile(c.Path(c.MQTT.PasswordFile))
		if err != nil {
			return o, fmt.Errorf("mqtt.password_file: %w", err)
		}
		o.Password = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	return o, nil
}

// New connects st to the broker described by o. The store supplies the durable birth
// counter.
func New(o mqttc.Options, st *station.Station, db *store.Store, log *slog.Logger) (*Uplink, error) {
	u := &Uplink{}
	o.Logger = log
	o.WillFunc = func() (*mqttc.Will, error) {
		n, err := db.NextBirth()
		if err != nil {
			return nil, err
		}
		u.birth.Store(n)
		topic, payload, err := st.Will(n)
		if err != nil {
			return nil, err
		}
		return &mqttc.Will{Topic: topic, Payload: payload, QoS: 1, Retained: true}, nil
	}
	o.OnConnect = func(ctx context.Context, c *mqttc.Client, sessionPresent bool) error {
		// Birth status is published from here, before WaitConnected returns; the station
		// republishes its outbox from its own goroutine.
		st.Connected(ctx, c, u.birth.Load())
		return nil
	}
	o.OnConnectionLost = func(error) { st.Disconnected() }
	c, err := mqttc.New(o)
	if err != nil {
		return nil, err
	}
	u.client = c
	for filter, h := range st.Subscriptions() {
		if err := c.Subscribe(context.Background(), filter, 1, func(m *mqttc.Message) { h(m.Topic, m.Payload) }); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Run keeps the connection up until ctx ends.
func (u *Uplink) Run(ctx context.Context) error { return u.client.Run(ctx) }

// Client is the underlying connection (status checks, tests).
func (u *Uplink) Client() *mqttc.Client { return u.client }
