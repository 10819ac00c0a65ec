package devices

import (
	"context"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/protocol"
)

// Panel adapts the GPIO panel to the station: session guidance and the pairing
// indication become panel states, and a long press of the pairing button opens the
// pairing window. It never shows quality or PAD results.
type Panel struct {
	dev       *panel.Dev
	onPairing func() // called on a long press of the pairing button

	mu      sync.Mutex
	pairing bool
	offline bool
	back    *time.Timer
}

// NewPanel wraps dev; onPairingPress is called when the pairing button is held.
func NewPanel(dev *panel.Dev, onPairingPress func()) *Panel {
	return &Panel{dev: dev, onPairing: onPairingPress}
}

// Dev is the panel device (the liveness challenge drives its illumination LED).
func (p *Panel) Dev() *panel.Dev { return p.dev }

// Guide implements session.Panel.
func (p *Panel) Guide(g session.Guidance) {
	switch g {
	case session.GuideIdle:
		p.set(panel.Idle, 0)
	case session.GuidePlace, session.GuideWorking:
		p.set(panel.Capturing, 0)
	case session.GuideGood:
		p.set(panel.Success, 0)
	case session.GuideRetry:
		// A short error signal, then back to capturing.
		p.set(panel.Error, 700*time.Millisecond)
	case session.GuideSessionEnd:
		p.set(panel.Success, 2*time.Second)
	case session.GuideError:
		p.set(panel.Error, 3*time.Second)
	}
}

// set shows s; after d (if not zero) the panel returns to its resting state.
func (p *Panel) set(s panel.State, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.back != nil {
		p.back.Stop()
		p.back = nil
	}
	p.dev.SetState(s)
	if d > 0 {
		p.back = time.AfterFunc(d, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.dev.SetState(p.resting(s))
		})
	}
}

// resting is the state after a transient one: pairing and offline take precedence.
func (p *Panel) resting(after panel.State) panel.State {
	switch {
	case p.pairing:
		return panel.Pairing
	case p.offline:
		return panel.Offline
	case after == panel.Error:
		return panel.Capturing
	}
	return panel.Idle
}

// Pairing implements station.Panel.
func (p *Panel) Pairing(open bool) {
	p.mu.Lock()
	p.pairing = open
	st := p.resting(panel.Idle)
	p.mu.Unlock()
	p.dev.SetState(st)
}

// Offline shows the broker connection state.
func (p *Panel) Offline(off bool) {
	p.mu.Lock()
	p.offline = off
	st := p.resting(panel.Idle)
	cur := p.dev.State()
	p.mu.Unlock()
	if cur == panel.Idle || cur == panel.Offline {
		p.dev.SetState(st)
	}
}

// Run runs the panel and turns button long presses into pairing requests.
func (p *Panel) Run(ctx context.Context) error {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-p.dev.Events():
				if !ok {
					return
				}
				if ev.Kind == panel.LongPress && p.onPairing != nil {
					p.onPairing()
				}
			}
		}
	}()
	p.dev.SetState(panel.Idle)
	return p.dev.Run(ctx)
}

// Status reports the panel for the station's status.
func (p *Panel) Status() protocol.DeviceStatus {
	return protocol.DeviceStatus{Kind: "panel", Name: p.dev.String(), State: "ok"}
}
