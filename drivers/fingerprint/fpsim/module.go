// Package fpsim is what the fingerprint module simulators (r30xsim, gt521sim) share: a
// pseudo-terminal the simulator owns and the host opens like a serial port, bytes paced at
// the configured speed (10 bit times per 8N1 byte), line faults (bit noise, lost bytes,
// stalls, a host at the wrong speed), unplug and replug (the pty goes away and a new one
// appears behind the same symbolic link), a finger that comes and goes, and the image
// sources the simulated sensors read.
//
// The protocols themselves live in the simulator packages, written apart from the drivers
// so that one misreading of a datasheet cannot hide in both.
package fpsim

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Engine is a module's protocol: what it does with the bytes it receives.
type Engine interface {
	// PowerOn resets the module's volatile state and returns the speed it starts at and
	// the bytes it sends once ready (nil for none). It runs before the line exists.
	PowerOn() (baud int, hello []byte)
	// Feed hands the engine received bytes. It runs on the module's own goroutine and
	// may block (processing time, waiting for its own transmission) through the Module.
	Feed(b []byte)
	// Idle is called when nothing has arrived for IdleTimeout (a real module drops a
	// half-received frame after such a gap).
	Idle()
}

// IdleTimeout is the inter-byte gap after which a module drops a partial frame.
const IdleTimeout = 500 * time.Millisecond

// ErrUnplugged is returned by Module methods while the module is unplugged.
var ErrUnplugged = errors.New("fpsim: module unplugged")

// Module is the common part of a simulated module: line, power and finger.
type Module struct {
	cfg    LineConfig
	eng    Engine
	finger *Finger
	log    *slog.Logger

	mu      sync.Mutex
	p       *port
	stop    chan struct{} // closed when the current power-on ends
	closed  bool
	silent  bool
	powered bool
	rng     *rand.Rand
	stats   LineStats
	statsMu sync.Mutex
	wg      sync.WaitGroup
}

// NewModule powers the module on: it creates the pty (and the link), then runs eng.
func NewModule(cfg LineConfig, finger *Finger, eng Engine, log *slog.Logger) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if finger == nil {
		finger = NewFinger(FingerConfig{}, cfg.Unpaced)
	}
	m := &Module{cfg: cfg, eng: eng, finger: finger, log: log,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	if err := m.powerOn(); err != nil {
		return nil, err
	}
	return m, nil
}

// Finger is the simulated finger.
func (m *Module) Finger() *Finger { return m.finger }

// Unpaced reports whether the line runs unpaced (test-only mode).
func (m *Module) Unpaced() bool { return m.cfg.Unpaced }

// Rand is the module's deterministic random source (call it from the engine only).
func (m *Module) Rand() *rand.Rand { return m.rng }

func (m *Module) powerOn() error {
	baud, hello := m.eng.PowerOn()
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := openPort(&m.cfg, baud, m.rng, &m.stats, &m.statsMu)
	if err != nil {
		return err
	}
	if m.cfg.Link != "" {
		if err := relink(p.name(), m.cfg.Link); err != nil {
			p.close()
			return err
		}
	}
	m.p, m.stop, m.powered = p, make(chan struct{}), true
	m.wg.Add(1)
	go m.run(p, m.stop)
	if len(hello) > 0 && !m.silent {
		p.send(hello)
	}
	m.log.Info("fpsim: powered on", "tty", p.name(), "link", m.cfg.Link, "baud", baud)
	return nil
}

func relink(target, link string) error {
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("fpsim: link: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("fpsim: link: %w", err)
	}
	return nil
}

func (m *Module) run(p *port, stop chan struct{}) {
	defer m.wg.Done()
	idle := time.NewTimer(IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-stop:
			return
		case b, ok := <-p.rx:
			if !ok {
				return
			}
			m.mu.Lock()
			silent := m.silent
			m.mu.Unlock()
			if !silent {
				m.eng.Feed(b)
			}
			idle.Reset(IdleTimeout)
		case <-idle.C:
			m.eng.Idle()
			idle.Reset(IdleTimeout)
		}
	}
}

// Path is the link if one was configured, else the current pty (which changes on Replug).
func (m *Module) Path() string {
	if m.cfg.Link != "" {
		return m.cfg.Link
	}
	return m.TTY()
}

// TTY is the current pty's name, or "" while unplugged.
func (m *Module) TTY() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return ""
	}
	return m.p.name()
}

// Send queues bytes for transmission at the module's speed. Silently dropped while the
// module is unplugged or silent, like a module with no power or a broken TX line.
func (m *Module) Send(b []byte) {
	m.mu.Lock()
	p, silent := m.p, m.silent
	m.mu.Unlock()
	if p != nil && !silent {
		p.send(b)
	}
}

// Drain waits until everything sent so far is on the wire.
func (m *Module) Drain() {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	if p != nil {
		p.drain()
	}
}

// Pending is the number of queued bytes not yet on the wire.
func (m *Module) Pending() int {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	if p == nil {
		return 0
	}
	return p.pending()
}

// SetBaud switches the module's UART speed (after Drain, for a reply at the old speed).
func (m *Module) SetBaud(baud int) error {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	if p == nil {
		return ErrUnplugged
	}
	return p.setBaud(baud)
}

// Baud is the module's current speed (0 while unplugged).
func (m *Module) Baud() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return 0
	}
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	return m.p.baud
}

// Sleep models processing time: it waits d (nothing when unpaced) and returns false if
// the module lost power meanwhile, in which case the engine must abandon the command.
func (m *Module) Sleep(d time.Duration) bool {
	m.mu.Lock()
	stop := m.stop
	m.mu.Unlock()
	if stop == nil {
		return false
	}
	if m.cfg.Unpaced || d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	return sleepUntil(time.Now().Add(d), stop)
}

// SetSilent makes the module stop answering (true) or answer again (false): a module
// whose TX line broke, or a firmware that hung.
func (m *Module) SetSilent(silent bool) {
	m.mu.Lock()
	m.silent = silent
	m.mu.Unlock()
}

// Unplug removes the module: the pty closes (the host sees EIO and a hung-up tty) and
// the link disappears. Volatile state is lost as in a power cut.
func (m *Module) Unplug() {
	m.mu.Lock()
	p, stop := m.p, m.stop
	m.p, m.stop, m.powered = nil, nil, false
	if m.cfg.Link != "" && p != nil {
		if target, err := os.Readlink(m.cfg.Link); err == nil && target == p.name() {
			_ = os.Remove(m.cfg.Link)
		}
	}
	m.mu.Unlock()
	if p == nil {
		return
	}
	close(stop)
	p.close()
	m.wg.Wait()
	m.finger.Unplugged()
	m.log.Info("fpsim: unplugged")
}

// Replug powers the module on again behind a new pty (and the same link).
func (m *Module) Replug() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("fpsim: module closed")
	}
	powered := m.powered
	m.mu.Unlock()
	if powered {
		return nil
	}
	return m.powerOn()
}

// Plugged reports whether the module is plugged in.
func (m *Module) Plugged() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.powered
}

// Stats returns the line counters.
func (m *Module) Stats() LineStats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	return m.stats
}

// Close unplugs the module for good.
func (m *Module) Close() error {
	m.Unplug()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// Place puts the finger on the sensor.
func (m *Module) Place() { m.finger.Place() }

// Lift takes the finger off the sensor.
func (m *Module) Lift() { m.finger.Lift() }
