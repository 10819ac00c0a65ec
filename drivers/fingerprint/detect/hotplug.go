package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// State is the state of a hot-plugged reader.
type State int

const (
	StateAbsent    State = iota // nothing at the path (yet)
	StateReady                  // opened and identified
	StateUnplugged              // it went away
	StateFailed                 // something is at the path but no module answered, or it stopped answering
)

func (s State) String() string {
	switch s {
	case StateAbsent:
		return "absent"
	case StateReady:
		return "ready"
	case StateUnplugged:
		return "unplugged"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Event is a change of state.
type Event struct {
	State State
	Path  string
	Info  fingerprint.Info // of the reader, for StateReady
	Err   error            // why, for StateUnplugged and StateFailed
}

// HotplugOpts configure a Hotplug.
type HotplugOpts struct {
	Opts
	// OnState, if set, is called on every change of state, from the goroutine that saw
	// it. It must return quickly and must not call the Hotplug.
	OnState func(Event)
	// Poll is how often Run looks at the path while no reader is open (default 500 ms).
	Poll time.Duration
	// RetryAfter is how long Run waits before probing a path again after no module
	// answered there (default 5 s).
	RetryAfter time.Duration
}

// Hotplug is a fingerprint.Reader for a device path whose module may come and go. An
// operation on a reader that goes away fails with an error wrapping
// fingerprint.ErrUnplugged (within about 0.1 s of the pty or adapter vanishing); the next
// operation after the path reappears reopens it (probing family and speed again), and so
// does Run in the background. A reader that stops answering (fingerprint.ErrSilent) is
// reopened too: a power-cycled module may come back at another speed.
type Hotplug struct {
	path string
	opts HotplugOpts
	log  *slog.Logger

	openMu sync.Mutex // one open at a time

	mu     sync.Mutex
	r      fingerprint.Reader
	info   fingerprint.Info
	state  State
	busy   bool
	closed bool
	stop   context.CancelFunc
	ctx    context.Context
}

var _ fingerprint.Reader = (*Hotplug)(nil)
var _ uart.TransferReporter = (*Hotplug)(nil)

// NewHotplug returns a Hotplug for path. Nothing is opened until the first operation or
// Run.
func NewHotplug(path string, opts *HotplugOpts) *Hotplug {
	h := &Hotplug{path: path}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Poll <= 0 {
		h.opts.Poll = 500 * time.Millisecond
	}
	if h.opts.RetryAfter <= 0 {
		h.opts.RetryAfter = 5 * time.Second
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.ctx, h.stop = context.WithCancel(context.Background())
	return h
}

// State is the current state.
func (h *Hotplug) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

func (h *Hotplug) setState(ev Event) {
	h.mu.Lock()
	changed := h.state != ev.State
	h.state = ev.State
	if ev.State == StateReady {
		h.info = ev.Info
	}
	h.mu.Unlock()
	if changed {
		h.log.Info("detect: reader state", "path", h.path, "state", ev.State.String(), "err", ev.Err)
		if h.opts.OnState != nil {
			ev.Path = h.path
			h.opts.OnState(ev)
		}
	}
}

// Run watches the path until ctx is done: while no reader is open it looks every Poll
// and opens the reader as soon as the path is there; while one is open and idle it closes
// it if the path vanishes. It returns ctx's error.
func (h *Hotplug) Run(ctx context.Context) error {
	t := time.NewTicker(h.opts.Poll)
	defer t.Stop()
	var failedAt time.Time
	for {
		h.mu.Lock()
		r, busy := h.r, h.busy
		h.mu.Unlock()
		_, statErr := os.Stat(h.path)
		switch {
		case r == nil && statErr == nil:
			// Something is there. After a failed open (no module answered), wait
			// RetryAfter before probing it again.
			if !failedAt.IsZero() && time.Since(failedAt) < h.opts.RetryAfter {
				break
			}
			if _, err := h.open(ctx); err != nil && ctx.Err() == nil {
				failedAt = time.Now()
				h.log.Debug("detect: open failed", "path", h.path, "err", err)
			} else {
				failedAt = time.Time{}
			}
		case r == nil:
			if h.State() == StateReady {
				h.setState(Event{State: StateUnplugged, Err: statErr})
			}
		case statErr != nil && !busy:
			h.drop(r, fmt.Errorf("detect: %s vanished: %w", h.path, fingerprint.ErrUnplugged))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// open opens the reader if none is open.
func (h *Hotplug) open(ctx context.Context) (fingerprint.Reader, error) {
	h.openMu.Lock()
	defer h.openMu.Unlock()
	h.mu.Lock()
	r, closed := h.r, h.closed
	h.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("detect: %w", uart.ErrClosed)
	}
	if r != nil {
		return r, nil
	}
	if _, err := os.Stat(h.path); err != nil {
		st := StateAbsent
		if h.State() != StateAbsent {
			st = StateUnplugged
		}
		h.setState(Event{State: st, Err: err})
		return nil, fmt.Errorf("detect: no reader at %s: %w", h.path, fingerprint.ErrUnplugged)
	}
	r, err := Open(ctx, h.path, &h.opts.Opts)
	if err != nil {
		if errors.Is(err, fingerprint.ErrUnplugged) {
			h.setState(Event{State: StateUnplugged, Err: err})
		} else if ctx.Err() == nil {
			h.setState(Event{State: StateFailed, Err: err})
		}
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		r.Close()
		return nil, fmt.Errorf("detect: %w", uart.ErrClosed)
	}
	h.r = r
	h.mu.Unlock()
	h.setState(Event{State: StateReady, Info: r.Info()})
	return r, nil
}

// drop closes r after it failed with err, if it is still the current reader.
func (h *Hotplug) drop(r fingerprint.Reader, err error) {
	h.mu.Lock()
	if h.r != r {
		h.mu.Unlock()
		return
	}
	h.r = nil
	h.mu.Unlock()
	r.Close()
	st := StateFailed
	if errors.Is(err, fingerprint.ErrUnplugged) {
		st = StateUnplugged
	}
	h.setState(Event{State: st, Err: err})
}

// do runs op on the current reader, opening one if needed.
func (h *Hotplug) do(ctx context.Context, op func(fingerprint.Reader) error) error {
	h.mu.Lock()
	r := h.r
	h.mu.Unlock()
	if r == nil {
		var err error
		if r, err = h.open(ctx); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.busy = true
	h.mu.Unlock()
	err := op(r)
	h.mu.Lock()
	h.busy = false
	h.mu.Unlock()
	if errors.Is(err, fingerprint.ErrUnplugged) || errors.Is(err, fingerprint.ErrSilent) {
		h.drop(r, err)
	}
	return err
}

// Reader is the current driver, or nil.
func (h *Hotplug) Reader() fingerprint.Reader {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.r
}

// Info implements fingerprint.Reader: the current or last reader's.
func (h *Hotplug) Info() fingerprint.Info {
	h.mu.Lock()
	r, info := h.r, h.info
	h.mu.Unlock()
	if r != nil {
		return r.Info() // outside h.mu, which Halt needs
	}
	return info
}

// WaitFinger implements fingerprint.Reader.
func (h *Hotplug) WaitFinger(ctx context.Context) error {
	return h.do(ctx, func(r fingerprint.Reader) error { return r.WaitFinger(ctx) })
}

// WaitLift implements fingerprint.Reader.
func (h *Hotplug) WaitLift(ctx context.Context) error {
	return h.do(ctx, func(r fingerprint.Reader) error { return r.WaitLift(ctx) })
}

// Capture implements fingerprint.Reader.
func (h *Hotplug) Capture(ctx context.Context) (*fingerprint.Image, error) {
	var img *fingerprint.Image
	err := h.do(ctx, func(r fingerprint.Reader) error {
		var err error
		img, err = r.Capture(ctx)
		return err
	})
	return img, err
}

// Template implements fingerprint.Reader.
func (h *Hotplug) Template(ctx context.Context) ([]byte, error) {
	var t []byte
	err := h.do(ctx, func(r fingerprint.Reader) error {
		var err error
		t, err = r.Template(ctx)
		return err
	})
	return t, err
}

// SetLED implements fingerprint.Reader.
func (h *Hotplug) SetLED(ctx context.Context, led fingerprint.LED) error {
	return h.do(ctx, func(r fingerprint.Reader) error { return r.SetLED(ctx, led) })
}

// LastTransfer implements uart.TransferReporter.
func (h *Hotplug) LastTransfer() uart.Transfer {
	if tr, ok := h.Reader().(uart.TransferReporter); ok {
		return tr.LastTransfer()
	}
	return uart.Transfer{}
}

// String implements fingerprint.Reader.
func (h *Hotplug) String() string {
	if r := h.Reader(); r != nil {
		return "hotplug(" + r.String() + ")"
	}
	return fmt.Sprintf("hotplug(%s,%s)", h.path, h.State())
}

// Halt implements fingerprint.Reader.
func (h *Hotplug) Halt() error {
	if r := h.Reader(); r != nil {
		return r.Halt()
	}
	return nil
}

// Close implements fingerprint.Reader: it closes the reader and stops Run.
func (h *Hotplug) Close() error {
	h.stop()
	h.mu.Lock()
	r := h.r
	h.r, h.closed = nil, true
	h.mu.Unlock()
	if r != nil {
		return r.Close()
	}
	return nil
}
