package panel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Errors.
var (
	// ErrTimeout means WaitTouch saw no touch within its timeout.
	ErrTimeout = errors.New("panel: timed out")
	// ErrNotFitted means the function's pin is not configured.
	ErrNotFitted = errors.New("panel: not fitted")
)

// Config names the panel's pins (periph names such as "GPIO17"; "" = not fitted) and
// its electrical and timing details. The zero durations and frequencies take defaults.
type Config struct {
	Red, Green, Blue string // status RGB LED
	Buzzer           string
	Button           string // pairing button
	Touch            string // fingerprint reader's touch (wake) output
	Illumination     string // face illumination LED

	LEDActiveLow     bool             // common-anode status LED
	ButtonActiveHigh bool             // button to 3.3 V with a pull-down instead of to ground
	TouchActiveLow   bool             // touch line pulled low by a finger
	BuzzerHz         physic.Frequency // passive buzzer tone via PWM; 0 = active buzzer (on/off)
	IlluminationHz   physic.Frequency // PWM frequency of the illumination LED; default 25 kHz
	Debounce         time.Duration    // default 20 ms
	LongPress        time.Duration    // default 2 s
}

// DefaultConfig is the reference wiring on a Raspberry Pi header: illumination on GPIO18
// (hardware PWM0), buzzer on GPIO13 (PWM1).
func DefaultConfig() Config {
	return Config{Red: "GPIO17", Green: "GPIO27", Blue: "GPIO22", Buzzer: "GPIO13", Button: "GPIO23", Touch: "GPIO24", Illumination: "GPIO18"}
}

// Opts configures New.
type Opts struct {
	Config
	// Enabled turns the panel on. A disabled panel touches no hardware (no host.Init):
	// every output is a no-op, Events never delivers, WaitTouch returns ErrNotFitted.
	Enabled bool
	// Clock drives patterns and debounce; default the real clock.
	Clock clockwork.Clock
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Lookup resolves pin names; default gpioreg.ByName (after host.Init).
	Lookup func(name string) gpio.PinIO
	// HostInit initialises periph's host drivers; default host.Init. Called once by New,
	// only when Enabled and Lookup is nil.
	HostInit func() error
	// WaitSlice bounds one WaitForEdge call, hence how fast cancellation is seen;
	// default 100 ms.
	WaitSlice time.Duration
}

func hostInit() error {
	_, err := host.Init()
	return err
}

// Dev is a station panel.
type Dev struct {
	cfg    Config
	clock  clockwork.Clock
	log    *slog.Logger
	slice  time.Duration
	rgb    [3]gpio.PinIO // red, green, blue; nil when not fitted
	buzzer gpio.PinIO
	button gpio.PinIO
	touch  gpio.PinIO
	illum  gpio.PinIO
	names  []string

	events chan Event
	kick   chan struct{}

	mu      sync.Mutex
	state   State
	entered time.Time
	halted  bool
	color   Color
	buzzing bool
	noPWM   bool // the illumination pin refused PWM
	pwmOn   bool // the illumination pin was last left in PWM mode
	running bool
	touchMu sync.Mutex // one WaitTouch at a time
}

// New resolves and configures the panel's pins. With o.Enabled false it returns a panel
// with nothing fitted.
func New(o *Opts) (*Dev, error) {
	var opts Opts
	if o != nil {
		opts = *o
	}
	c := opts.Config
	if c.Debounce <= 0 {
		c.Debounce = 20 * time.Millisecond
	}
	if c.LongPress <= 0 {
		c.LongPress = 2 * time.Second
	}
	if c.IlluminationHz <= 0 {
		c.IlluminationHz = 25 * physic.KiloHertz
	}
	d := &Dev{cfg: c, clock: opts.Clock, log: opts.Logger, slice: opts.WaitSlice,
		events: make(chan Event, 16), kick: make(chan struct{}, 1)}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.slice <= 0 {
		d.slice = 100 * time.Millisecond
	}
	d.entered = d.clock.Now()
	if !opts.Enabled {
		return d, nil
	}
	lookup := opts.Lookup
	if lookup == nil {
		initf := opts.HostInit
		if initf == nil {
			initf = hostInit
		}
		if err := initf(); err != nil {
			return nil, fmt.Errorf("panel: periph host init: %w", err)
		}
		lookup = gpioreg.ByName
	}
	used := map[string]string{}
	resolve := func(role, name string) (gpio.PinIO, error) {
		if name == "" {
			return nil, nil
		}
		p := lookup(name)
		if p == nil {
			return nil, fmt.Errorf("panel: unknown pin %q for %s", name, role)
		}
		if other, dup := used[p.Name()]; dup {
			return nil, fmt.Errorf("panel: pin %s is configured for both %s and %s", p.Name(), other, role)
		}
		used[p.Name()] = role
		d.names = append(d.names, role+"="+p.Name())
		return p, nil
	}
	var err error
	for i, role := range []string{"red", "green", "blue"} {
		if d.rgb[i], err = resolve(role, []string{c.Red, c.Green, c.Blue}[i]); err != nil {
			return nil, err
		}
	}
	if d.buzzer, err = resolve("buzzer", c.Buzzer); err != nil {
		return nil, err
	}
	if d.button, err = resolve("button", c.Button); err != nil {
		return nil, err
	}
	if d.touch, err = resolve("touch", c.Touch); err != nil {
		return nil, err
	}
	if d.illum, err = resolve("illumination", c.Illumination); err != nil {
		return nil, err
	}
	if d.button != nil {
		pull := gpio.PullUp
		if c.ButtonActiveHigh {
			pull = gpio.PullDown
		}
		if err := d.button.In(pull, gpio.BothEdges); err != nil {
			return nil, fmt.Errorf("panel: button %s: %w", d.button.Name(), err)
		}
	}
	if d.touch != nil {
		edge := gpio.RisingEdge
		if c.TouchActiveLow {
			edge = gpio.FallingEdge
		}
		if err := d.touch.In(gpio.Float, edge); err != nil {
			return nil, fmt.Errorf("panel: touch %s: %w", d.touch.Name(), err)
		}
	}
	if err := d.Halt(); err != nil {
		return nil, err
	}
	return d, nil
}

// String lists the fitted pins, e.g. "panel(red=GPIO17 ... illumination=GPIO18)".
func (d *Dev) String() string {
	if len(d.names) == 0 {
		return "panel(disabled)"
	}
	return "panel(" + strings.Join(d.names, " ") + ")"
}

func (d *Dev) ledLevel(on bool) gpio.Level {
	return gpio.Level(on != d.cfg.LEDActiveLow)
}

// SetLED shows colour c on the status LED now. The Run loop overrides it at the next
// pattern step; SetLED is for tests and the installer's panel test.
func (d *Dev) SetLED(c Color) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setLEDLocked(c)
}

func (d *Dev) setLEDLocked(c Color) error {
	var errs []error
	for i, p := range d.rgb {
		if p == nil {
			continue
		}
		if err := p.Out(d.ledLevel(c&(1<<i) != 0)); err != nil {
			errs = append(errs, fmt.Errorf("panel: %s: %w", p.Name(), err))
		}
	}
	d.color = c
	return errors.Join(errs...)
}

// SetBuzzer switches the buzzer on or off now.
func (d *Dev) SetBuzzer(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setBuzzLocked(on)
}

func (d *Dev) setBuzzLocked(on bool) error {
	d.buzzing = on
	if d.buzzer == nil {
		return nil
	}
	var err error
	switch {
	case on && d.cfg.BuzzerHz > 0:
		if err = d.buzzer.PWM(gpio.DutyHalf, d.cfg.BuzzerHz); err != nil {
			err = d.buzzer.Out(gpio.High) // no PWM here: an active buzzer still sounds
		}
	case on:
		err = d.buzzer.Out(gpio.High)
	default:
		err = d.buzzer.Out(gpio.Low)
	}
	if err != nil {
		return fmt.Errorf("panel: buzzer %s: %w", d.buzzer.Name(), err)
	}
	return nil
}

// Illuminate sets the illumination LED: 0 off, 1 fully on, in between dimmed with
// hardware PWM where the pin has it, else on (any level above 0). It acts at once,
// outside the Run loop, so a liveness challenge controls its timing.
func (d *Dev) Illuminate(level float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.illuminateLocked(level)
}

func (d *Dev) illuminateLocked(level float64) error {
	level = max(0, min(1, level))
	p := d.illum
	if p == nil {
		return nil
	}
	var err error
	switch {
	case level <= 0:
		if d.pwmOn {
			_ = p.PWM(0, d.cfg.IlluminationHz) // stop the PWM unit before going back to plain output
			d.pwmOn = false
		}
		err = p.Out(gpio.Low)
	case level >= 1 || d.noPWM:
		err = p.Out(gpio.High)
	default:
		duty := gpio.Duty(level*float64(gpio.DutyMax) + 0.5)
		perr := p.PWM(duty, d.cfg.IlluminationHz)
		if perr == nil {
			d.pwmOn = true
		} else {
			d.noPWM = true
			d.log.Info("panel: illumination pin has no PWM; using on/off", "pin", p.Name(), "err", perr)
			err = p.Out(gpio.High)
		}
	}
	if err != nil {
		return fmt.Errorf("panel: illumination %s: %w", p.Name(), err)
	}
	return nil
}

// IlluminationPWM reports whether the illumination LED can be dimmed (false once the pin
// has refused PWM).
func (d *Dev) IlluminationPWM() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.illum != nil && !d.noPWM
}

// SetState switches the panel to s; the Run loop shows its pattern from now on.
func (d *Dev) SetState(s State) {
	d.mu.Lock()
	d.state, d.entered, d.halted = s, d.clock.Now(), false
	d.mu.Unlock()
	d.poke()
}

// State returns the current state.
func (d *Dev) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

func (d *Dev) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Halt switches every output off (status LED, buzzer, illumination) and blanks the
// status pattern until the next SetState.
func (d *Dev) Halt() error {
	d.mu.Lock()
	d.halted = true
	errs := []error{d.setLEDLocked(Off), d.setBuzzLocked(false), d.illuminateLocked(0)}
	d.mu.Unlock()
	d.poke()
	return errors.Join(errs...)
}

// Events delivers debounced button events while Run runs. Events are dropped (and
// logged) when nobody reads them and 16 are queued.
func (d *Dev) Events() <-chan Event { return d.events }

// WaitTouch waits for a finger on the reader's touch line: nil on the edge, ErrTimeout
// after timeout (0: no timeout), ctx.Err() when ctx ends (noticed within WaitSlice).
func (d *Dev) WaitTouch(ctx context.Context, timeout time.Duration) error {
	if d.touch == nil {
		return fmt.Errorf("panel: touch line: %w", ErrNotFitted)
	}
	d.touchMu.Lock()
	defer d.touchMu.Unlock()
	active := gpio.Level(!d.cfg.TouchActiveLow)
	var deadline time.Time
	if timeout > 0 {
		deadline = d.clock.Now().Add(timeout)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := d.slice
		if timeout > 0 {
			rem := deadline.Sub(d.clock.Now())
			if rem <= 0 {
				return fmt.Errorf("panel: no touch on %s within %v: %w", d.touch.Name(), timeout, ErrTimeout)
			}
			wait = min(wait, rem)
		}
		if d.touch.WaitForEdge(wait) && d.touch.Read() == active {
			return nil
		}
	}
}

// Run shows the state patterns and watches the button until ctx ends, then switches
// everything off and returns nil. It returns an error at once if the panel is already
// running.
func (d *Dev) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("panel: Run called twice")
	}
	d.running = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
	var wg sync.WaitGroup
	if d.button != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.watchButton(ctx)
		}()
	}
	d.patterns(ctx)
	wg.Wait()
	return d.Halt()
}

// patterns applies the current state's pattern at each step until ctx ends.
func (d *Dev) patterns(ctx context.Context) {
	for {
		d.mu.Lock()
		next := forever
		if !d.halted {
			p := Patterns[d.state]
			el := d.clock.Since(d.entered)
			c, untilLED := ledAt(p.LED, el)
			on, untilBuzz := buzzAt(p.Buzz, el)
			if c != d.color {
				if err := d.setLEDLocked(c); err != nil {
					d.log.Warn("panel: status LED", "err", err)
				}
			}
			if on != d.buzzing {
				if err := d.setBuzzLocked(on); err != nil {
					d.log.Warn("panel: buzzer", "err", err)
				}
			}
			next = min(untilLED, untilBuzz)
		}
		d.mu.Unlock()
		var tc <-chan time.Time
		var t clockwork.Timer
		if next != forever {
			t = d.clock.NewTimer(next)
			tc = t.Chan()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-d.kick:
		case <-tc:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// watchButton waits for button edges (interrupts, in slices) and feeds the debouncer.
func (d *Dev) watchButton(ctx context.Context) {
	b := &debouncer{debounce: d.cfg.Debounce, long: d.cfg.LongPress}
	active := gpio.Level(d.cfg.ButtonActiveHigh)
	for ctx.Err() == nil {
		wait := d.slice
		if dl, ok := b.deadline(); ok {
			wait = max(time.Millisecond, min(wait, dl.Sub(d.clock.Now())))
		}
		edge := d.button.WaitForEdge(wait)
		now := d.clock.Now()
		if edge {
			b.edge(now)
		}
		for _, ev := range b.settle(now, d.button.Read() == active) {
			select {
			case d.events <- ev:
			default:
				d.log.Warn("panel: button event dropped; nobody reads Events", "event", ev.Kind.String())
			}
		}
	}
}
