package gateway

import (
	"context"
	"errors"
	"sync"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/protocol"
)

// Run connects to the broker, subscribes and serves until ctx is done; it returns nil
// then. Only configuration errors end it early: broker outages are waited out.
func (g *Gateway) Run(ctx context.Context) error {
	o := g.cfg.MQTT
	if o.ClientID == "" {
		o.ClientID = "captura-gateway-" + g.cfg.ID
	}
	o.Persistent, o.ManualAck = true, true
	if o.Logger == nil {
		o.Logger = g.log
	}
	userConnect := o.OnConnect
	o.OnConnect = func(ctx context.Context, c *mqttc.Client, present bool) error {
		if userConnect != nil {
			if err := userConnect(ctx, c, present); err != nil {
				return err
			}
		}
		g.readyOne.Do(func() { close(g.ready) })
		return nil
	}
	client, err := mqttc.New(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &dispatcher{g: g, pub: client, ctx: ctx, workers: map[string]*worker{}}
	for _, kind := range []string{protocol.TopicRecords, protocol.TopicAudit, protocol.TopicStatus} {
		if err := client.Subscribe(ctx, protocol.Filter(g.cfg.Centre, "+", kind), 1, d.dispatch); err != nil {
			return err
		}
	}
	g.log.Info("gateway starting", "centre", g.cfg.Centre, "brokers", o.Brokers, "client", o.ClientID)
	err = client.Run(ctx)
	cancel()
	d.wg.Wait()
	g.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// dispatcher hands each delivery to its station's worker, which handles messages in
// arrival order and acknowledges each once settled.
type dispatcher struct {
	g   *Gateway
	pub Publisher
	ctx context.Context
	wg  sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*worker
}

type worker struct {
	mu   sync.Mutex
	q    []*mqttc.Message
	wake chan struct{}
}

// dispatch runs on the client's delivery goroutine: it only queues.
func (d *dispatcher) dispatch(m *mqttc.Message) {
	t, err := protocol.ParseTopic(m.Topic)
	if err != nil {
		d.g.log.Warn("message on an unexpected topic dropped", "topic", m.Topic, "err", err)
		m.Ack()
		return
	}
	key := t.Centre + "/" + t.Station
	d.mu.Lock()
	w := d.workers[key]
	if w == nil {
		w = &worker{wake: make(chan struct{}, 1)}
		d.workers[key] = w
		d.wg.Add(1)
		go d.work(w)
	}
	d.mu.Unlock()
	w.mu.Lock()
	w.q = append(w.q, m)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) work(w *worker) {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			if len(w.q) == 0 {
				w.mu.Unlock()
				break
			}
			m := w.q[0]
			w.q[0] = nil
			w.q = w.q[1:]
			w.mu.Unlock()
			if d.ctx.Err() != nil {
				return // unacknowledged: delivered again next time
			}
			if _, err := d.g.Handle(d.ctx, d.pub, m.Topic, m.Payload); err == nil {
				m.Ack()
			}
		}
	}
}
