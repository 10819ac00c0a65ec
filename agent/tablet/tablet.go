// Package tablet is the technician's side of the command protocol: it signs commands
// with the tablet's key (ES256), publishes them retained on the station's command topic,
// and follows the station's signed command states and progress events. capturactl and
// the demo's simulated tablet use it; a browser tablet does the same with WebCrypto.
package tablet

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/protocol"
)

// Client sends commands to one station.
type Client struct {
	Name            string // the tablet's id as paired
	Centre, Station string
	mq              *mqttc.Client
	signer          *protocol.Signer
	station         *protocol.KeyRing // the station's key, pinned
	counterFile     string
	mu              sync.Mutex
	lifetime        time.Duration
}

// Opts configure a client.
type Opts struct {
	Name            string
	Centre, Station string
	Key             crypto.Signer    // the tablet's P-256 key
	StationKey      crypto.PublicKey // pinned at pairing
	// CounterFile keeps the last command counter so counters keep growing across
	// restarts; counters also never fall below the current time in milliseconds, so a
	// lost file cannot make a tablet replay-fail.
	CounterFile string
	Lifetime    time.Duration // command validity, default 60 s
}

// New returns a client over an MQTT connection (connected, or kept up by Run).
func New(mq *mqttc.Client, o Opts) (*Client, error) {
	s, err := protocol.NewSigner(o.Key)
	if err != nil {
		return nil, err
	}
	ring, err := protocol.NewKeyRing(o.StationKey)
	if err != nil {
		return nil, err
	}
	if o.Lifetime <= 0 {
		o.Lifetime = time.Minute
	}
	return &Client{Name: o.Name, Centre: o.Centre, Station: o.Station, mq: mq, signer: s, station: ring,
		counterFile: o.CounterFile, lifetime: o.Lifetime}, nil
}

// nextCounter returns a counter above every earlier one, persisted before use.
func (c *Client) nextCounter() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last uint64
	if c.counterFile != "" {
		if b, err := os.ReadFile(c.counterFile); err == nil {
			last, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	n := max(last+1, uint64(time.Now().UnixMilli()))
	if c.counterFile != "" {
		if err := fsutil.WriteFileAtomic(c.counterFile, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
			return 0, fmt.Errorf("tablet: counter: %w", err)
		}
	}
	return n, nil
}

// Command builds a signed command of type typ; fill adds the arguments.
func (c *Client) Command(typ string, fill func(*protocol.Command)) (*protocol.Command, []byte, error) {
	n, err := c.nextCounter()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	cmd := &protocol.Command{V: protocol.Version, ID: protocol.NewID(), Type: typ, Centre: c.Centre, Station: c.Station,
		Tablet: c.Name, Counter: n, Issued: now.UnixMilli(), Expires: now.Add(c.lifetime).UnixMilli()}
	if fill != nil {
		fill(cmd)
	}
	env, err := protocol.SignMessage(c.signer, cmd)
	return cmd, env, err
}

// ErrFailed wraps a command's failure reason from the station.
var ErrFailed = errors.New("command failed")

// Send publishes a signed command and waits for its final state (successful or failed);
// onState sees every state. The retained command is cleared once it has an answer.
func (c *Client) Send(ctx context.Context, typ string, fill func(*protocol.Command), onState func(*protocol.CommandState)) (*protocol.CommandState, error) {
	cmd, env, err := c.Command(typ, fill)
	if err != nil {
		return nil, err
	}
	stateTopic := protocol.CommandStateTopic(c.Centre, c.Station, typ, cmd.ID)
	final := make(chan *protocol.CommandState, 1)
	err = c.mq.Subscribe(ctx, stateTopic, 1, func(m *mqttc.Message) {
		if len(m.Payload) == 0 {
			return
		}
		cs, _, err := protocol.VerifyMessage[protocol.CommandState](m.Payload, c.station)
		if err != nil || cs.Command != cmd.ID {
			return // not from our station: ignored
		}
		if onState != nil {
			onState(cs)
		}
		if cs.State == protocol.CmdSuccessful || cs.State == protocol.CmdFailed {
			select {
			case final <- cs:
			default:
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer c.mq.Unsubscribe(context.WithoutCancel(ctx), stateTopic)
	topic := protocol.CommandTopic(c.Centre, c.Station, typ, cmd.ID)
	if err := c.mq.Publish(ctx, topic, 1, true, env); err != nil {
		return nil, fmt.Errorf("tablet: publish %s: %w", typ, err)
	}
	select {
	case cs := <-final:
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.mq.Publish(cctx, topic, 1, true, nil)      // clear the retained command
		c.mq.Publish(cctx, stateTopic, 1, true, nil) // and its state
		cancel()
		if cs.State == protocol.CmdFailed {
			return cs, fmt.Errorf("%s: %s: %w", typ, cs.Reason, ErrFailed)
		}
		return cs, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("tablet: no answer to %s: %w", typ, ctx.Err())
	}
}

// Follow subscribes to the station's progress events and delivers the verified ones to
// fn until stop is called.
func (c *Client) Follow(ctx context.Context, fn func(*protocol.Progress)) (stop func(), err error) {
	topic := protocol.StationTopic(c.Centre, c.Station, protocol.TopicEvents)
	err = c.mq.Subscribe(ctx, topic, 1, func(m *mqttc.Message) {
		p, _, err := protocol.VerifyMessage[protocol.Progress](m.Payload, c.station)
		if err == nil {
			fn(p)
		}
	})
	if err != nil {
		return nil, err
	}
	return func() { c.mq.Unsubscribe(context.WithoutCancel(ctx), topic) }, nil
}

// Capture runs a whole session: it starts watching progress, sends capture-start and
// waits for the session's end. It returns the record id.
func (c *Client) Capture(ctx context.Context, txn string, fingers []protocol.FingerPos, face bool, progress func(*protocol.Progress)) (protocol.ID, error) {
	if progress != nil {
		stop, err := c.Follow(ctx, progress)
		if err != nil {
			return protocol.ID{}, err
		}
		defer stop()
	}
	cs, err := c.Send(ctx, protocol.CmdCaptureStart, func(cmd *protocol.Command) {
		cmd.Start = &protocol.StartArgs{Txn: txn, Fingers: fingers, Face: face}
	}, nil)
	if err != nil {
		return protocol.ID{}, err
	}
	if cs.Record == nil {
		return protocol.ID{}, errors.New("tablet: station answered without a record id")
	}
	return *cs.Record, nil
}
