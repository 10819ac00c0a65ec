// Package panelsim is a simulated station panel: periph gpiotest pins under the names of
// panel.DefaultConfig, which record what the panel drives and let a test or the
// installer's "panel test --sim" press the button and touch the reader.
package panelsim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/captura-claim/captura/drivers/panel"
)

// Pin is a gpiotest.Pin that reports output changes and can refuse PWM like a pin
// without a PWM unit.
type Pin struct {
	gpiotest.Pin
	NoPWM    bool
	onChange func(p *Pin)
}

var _ gpio.PinIO = (*Pin)(nil)

// Out implements gpio.PinOut.
func (p *Pin) Out(l gpio.Level) error {
	if err := p.Pin.Out(l); err != nil {
		return err
	}
	if p.onChange != nil {
		p.onChange(p)
	}
	return nil
}

// PWM implements gpio.PinOut; it fails when NoPWM is set.
func (p *Pin) PWM(duty gpio.Duty, f physic.Frequency) error {
	if p.NoPWM {
		return errors.New("panelsim: " + p.N + " has no PWM")
	}
	if err := p.Pin.PWM(duty, f); err != nil {
		return err
	}
	if p.onChange != nil {
		p.onChange(p)
	}
	return nil
}

// State describes the pin's output: "High", "Low" or "PWM 50%".
func (p *Pin) State() string {
	p.Lock()
	defer p.Unlock()
	if p.D > 0 && p.L == gpio.Low {
		return "PWM " + p.D.String()
	}
	return p.L.String()
}

// Board is a simulated panel.
type Board struct {
	Red, Green, Blue, Buzzer, Button, Touch, Illumination *Pin

	mu       sync.Mutex
	changes  []string
	OnChange func(name, state string) // optional, called on every output change
}

// New returns a board wired as panel.DefaultConfig. The buzzer pin has no PWM (an active
// buzzer on a plain GPIO); the illumination pin has PWM.
func New() *Board {
	c := panel.DefaultConfig()
	b := &Board{}
	mk := func(name string, num int) *Pin {
		p := &Pin{Pin: gpiotest.Pin{N: name, Num: num, EdgesChan: make(chan gpio.Level, 64)}}
		p.onChange = b.record
		return p
	}
	b.Red, b.Green, b.Blue = mk(c.Red, 17), mk(c.Green, 27), mk(c.Blue, 22)
	b.Buzzer, b.Button, b.Touch, b.Illumination = mk(c.Buzzer, 13), mk(c.Button, 23), mk(c.Touch, 24), mk(c.Illumination, 18)
	b.Buzzer.NoPWM = true
	return b
}

func (b *Board) record(p *Pin) {
	st := p.State()
	b.mu.Lock()
	b.changes = append(b.changes, p.N+"="+st)
	f := b.OnChange
	b.mu.Unlock()
	if f != nil {
		f(p.N, st)
	}
}

// Changes returns and clears the recorded output changes ("GPIO17=High", ...).
func (b *Board) Changes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.changes
	b.changes = nil
	return c
}

// Config returns the configuration matching the board (panel.DefaultConfig).
func (b *Board) Config() panel.Config { return panel.DefaultConfig() }

// Lookup resolves the board's pin names, for panel.Opts.Lookup.
func (b *Board) Lookup(name string) gpio.PinIO {
	for _, p := range []*Pin{b.Red, b.Green, b.Blue, b.Buzzer, b.Button, b.Touch, b.Illumination} {
		if p.N == name {
			return p
		}
	}
	return nil
}

// Edge queues a raw edge to level l on p (the panel sees it at its next WaitForEdge).
func (b *Board) Edge(p *Pin, l gpio.Level) {
	select {
	case p.EdgesChan <- l:
	default:
		panic(fmt.Sprintf("panelsim: edge queue of %s full", p.N))
	}
}

// Press presses the (active-low) button for hold, with bounce edges at both transitions,
// sleeping with sleep (time.Sleep or a fake clock's Sleep).
func (b *Board) Press(hold time.Duration, sleep func(time.Duration)) {
	for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low} { // contact bounce
		b.Edge(b.Button, l)
	}
	sleep(hold)
	for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
		b.Edge(b.Button, l)
	}
}

// TouchFinger raises the touch line for hold and lowers it again.
func (b *Board) TouchFinger(hold time.Duration, sleep func(time.Duration)) {
	b.Edge(b.Touch, gpio.High)
	sleep(hold)
	b.Edge(b.Touch, gpio.Low)
}
