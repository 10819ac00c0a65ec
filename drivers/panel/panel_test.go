package panel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newSim(t *testing.T, clk clockwork.Clock, mod func(*panel.Config)) (*panel.Dev, *panelsim.Board) {
	t.Helper()
	b := panelsim.New()
	cfg := b.Config()
	if mod != nil {
		mod(&cfg)
	}
	d, err := panel.New(&panel.Opts{Config: cfg, Enabled: true, Lookup: b.Lookup, Clock: clk, Logger: quiet, WaitSlice: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d, b
}

// eventually polls cond (pins change from another goroutine) for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func levels(b *panelsim.Board) string {
	return strings.Join([]string{b.Red.State(), b.Green.State(), b.Blue.State(), b.Buzzer.State()}, " ")
}

func TestStatePatternsOnPins(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Unix(0, 0))
	d, b := newSim(t, clk, func(c *panel.Config) { c.Button, c.Touch = "", "" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	// Each step: advance the fake clock, then the pins (red green blue buzzer) must show.
	steps := []struct {
		state   panel.State
		advance time.Duration
		want    string
	}{
		{panel.Pairing, 0, "Low Low High High"},          // blue on, beep
		{-1, 80 * time.Millisecond, "Low Low High Low"},  // beep over
		{-1, 420 * time.Millisecond, "Low Low Low Low"},  // blink off at 500 ms
		{-1, 500 * time.Millisecond, "Low Low High Low"}, // on again at 1 s
		{panel.Success, 0, "Low High Low High"},          // green, first beep
		{-1, 80 * time.Millisecond, "Low High Low Low"},  // gap
		{-1, 80 * time.Millisecond, "Low High Low High"}, // second beep
		{-1, 80 * time.Millisecond, "Low High Low Low"},  // done, green stays
		{panel.Error, 0, "High Low Low High"},            // red blink, long beep
		{-1, 150 * time.Millisecond, "Low Low Low High"}, // blink off, still beeping
		{-1, 450 * time.Millisecond, "High Low Low Low"}, // 600 ms: beep over, red on (period 300)
		{panel.Capturing, 0, "High High Low High"},       // amber, tick
		{-1, 40 * time.Millisecond, "High High Low Low"},
		{panel.Offline, 0, "High Low Low Low"},
		{-1, 100 * time.Millisecond, "Low Low Low Low"},
		{-1, 1900 * time.Millisecond, "High Low Low Low"},
		{panel.Idle, 0, "Low High Low Low"},
		{-1, 150 * time.Millisecond, "Low Low Low Low"},
	}
	for i, s := range steps {
		if s.state >= 0 {
			d.SetState(s.state)
		} else {
			if err := clk.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal(err)
			}
			clk.Advance(s.advance)
		}
		eventually(t, "step "+string(rune('0'+i)), func() bool { return levels(b) == s.want })
	}
	if d.State() != panel.Idle {
		t.Errorf("State() = %v", d.State())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := levels(b); got != "Low Low Low Low" {
		t.Errorf("after Run returned: %s, want everything off", got)
	}
}

func TestHaltSwitchesEverythingOff(t *testing.T) {
	d, b := newSim(t, clockwork.NewFakeClock(), func(c *panel.Config) { c.LEDActiveLow = true })
	if err := d.SetLED(panel.White); err != nil {
		t.Fatal(err)
	}
	if got := levels(b); got != "Low Low Low Low" { // active low: on = Low
		t.Fatalf("white on a common-anode LED: %s", got)
	}
	_ = d.SetBuzzer(true)
	_ = d.Illuminate(1)
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if got := levels(b) + " " + b.Illumination.State(); got != "High High High Low Low" {
		t.Errorf("after Halt: %s", got)
	}
}

func TestIllumination(t *testing.T) {
	d, b := newSim(t, clockwork.NewFakeClock(), nil)
	for _, tc := range []struct {
		level float64
		want  string
	}{{0.5, "PWM 50%"}, {1, "High"}, {0, "Low"}, {0.25, "PWM 25%"}, {0, "Low"}} {
		if err := d.Illuminate(tc.level); err != nil {
			t.Fatal(err)
		}
		if got := b.Illumination.State(); got != tc.want {
			t.Errorf("Illuminate(%v): pin %s, want %s", tc.level, got, tc.want)
		}
	}
	if !d.IlluminationPWM() {
		t.Error("IlluminationPWM false on a PWM pin")
	}
	// A pin without PWM: dimmed levels fall back to on.
	d2, b2 := newSim(t, clockwork.NewFakeClock(), nil)
	b2.Illumination.NoPWM = true
	if err := d2.Illuminate(0.3); err != nil {
		t.Fatal(err)
	}
	if got := b2.Illumination.State(); got != "High" || d2.IlluminationPWM() {
		t.Errorf("no-PWM pin at 0.3: %s, PWM reported %v", got, d2.IlluminationPWM())
	}
	_ = d2.Illuminate(0)
	if got := b2.Illumination.State(); got != "Low" {
		t.Errorf("no-PWM pin off: %s", got)
	}
}

func TestButtonEndToEnd(t *testing.T) {
	d, b := newSim(t, nil, func(c *panel.Config) {
		c.Debounce, c.LongPress = 5*time.Millisecond, 150*time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	next := func() panel.Event {
		select {
		case ev := <-d.Events():
			return ev
		case <-time.After(3 * time.Second):
			t.Fatal("no button event")
		}
		return panel.Event{}
	}
	b.Press(40*time.Millisecond, time.Sleep)
	if ev := next(); ev.Kind != panel.ShortPress || ev.Held < 30*time.Millisecond || ev.Held > 140*time.Millisecond {
		t.Errorf("short press: %v held %v", ev.Kind, ev.Held)
	}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.Press(400*time.Millisecond, time.Sleep) }()
	ev := next()
	if ev.Kind != panel.LongPress || ev.Held < 150*time.Millisecond {
		t.Errorf("long press: %v held %v", ev.Kind, ev.Held)
	}
	if time.Since(start) > 380*time.Millisecond {
		t.Errorf("long press reported after %v, want while still held", time.Since(start))
	}
	wg.Wait()
	select {
	case ev := <-d.Events():
		t.Errorf("extra event after a long press's release: %v", ev.Kind)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitTouch(t *testing.T) {
	d, b := newSim(t, nil, nil)
	ctx := context.Background()
	b.Edge(b.Touch, gpio.High)
	if err := d.WaitTouch(ctx, time.Second); err != nil {
		t.Fatalf("WaitTouch with a finger: %v", err)
	}
	// A release edge alone is not a touch; the wait ends by its timeout.
	b.Edge(b.Touch, gpio.Low)
	start := time.Now()
	err := d.WaitTouch(ctx, 50*time.Millisecond)
	if !errors.Is(err, panel.ErrTimeout) {
		t.Fatalf("WaitTouch without a finger: %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el < 50*time.Millisecond || el > time.Second {
		t.Errorf("timeout after %v", el)
	}
	// Cancellation is seen within one wait slice (10 ms here).
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	start = time.Now()
	if err := d.WaitTouch(cctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled WaitTouch: %v", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("cancellation took %v", el)
	}
	// Active-low wiring: the falling edge is the touch.
	d2, b2 := newSim(t, nil, func(c *panel.Config) { c.TouchActiveLow = true })
	b2.Edge(b2.Touch, gpio.Low)
	if err := d2.WaitTouch(ctx, time.Second); err != nil {
		t.Errorf("active-low touch: %v", err)
	}
	d3, _ := newSim(t, nil, func(c *panel.Config) { c.Touch = "" })
	if err := d3.WaitTouch(ctx, time.Millisecond); !errors.Is(err, panel.ErrNotFitted) {
		t.Errorf("WaitTouch without a touch pin: %v", err)
	}
}

func TestPinResolution(t *testing.T) {
	b := panelsim.New()
	for _, tc := range []struct {
		name string
		mod  func(*panel.Config)
		want string
	}{
		{"unknown pin", func(c *panel.Config) { c.Button = "GPIO99" }, `panel: unknown pin "GPIO99" for button`},
		{"unknown illumination", func(c *panel.Config) { c.Illumination = "P9_99" }, `"P9_99" for illumination`},
		{"pin used twice", func(c *panel.Config) { c.Buzzer = c.Red }, "GPIO17 is configured for both red and buzzer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := b.Config()
			tc.mod(&cfg)
			_, err := panel.New(&panel.Opts{Config: cfg, Enabled: true, Lookup: b.Lookup, Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHostInitOnlyWhenEnabled(t *testing.T) {
	calls := 0
	initf := func() error { calls++; return nil }
	d, err := panel.New(&panel.Opts{Config: panel.DefaultConfig(), Enabled: false, HostInit: initf})
	if err != nil || calls != 0 {
		t.Fatalf("disabled panel: err %v, host init called %d times", err, calls)
	}
	if d.String() != "panel(disabled)" || d.SetLED(panel.Red) != nil || d.Illuminate(1) != nil {
		t.Error("a disabled panel must accept and ignore outputs")
	}
	if err := d.WaitTouch(context.Background(), time.Millisecond); !errors.Is(err, panel.ErrNotFitted) {
		t.Errorf("disabled WaitTouch: %v", err)
	}
	// Enabled: host init runs, pins resolve through gpioreg by name.
	for _, n := range []string{"CAPTURA_T_LED", "CAPTURA_T_BTN"} {
		p := &gpiotest.Pin{N: n, Num: -1, EdgesChan: make(chan gpio.Level, 4)}
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gpioreg.Unregister(n) })
	}
	d, err = panel.New(&panel.Opts{Config: panel.Config{Red: "CAPTURA_T_LED", Button: "CAPTURA_T_BTN"}, Enabled: true, HostInit: initf, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || d.String() != "panel(red=CAPTURA_T_LED button=CAPTURA_T_BTN)" {
		t.Errorf("host init calls %d, panel %s", calls, d)
	}
	_, err = panel.New(&panel.Opts{Config: panel.Config{Red: "CAPTURA_T_NOPE"}, Enabled: true, HostInit: initf})
	if err == nil || !strings.Contains(err.Error(), `"CAPTURA_T_NOPE"`) {
		t.Errorf("unknown gpioreg pin: %v", err)
	}
	if _, err := panel.New(&panel.Opts{Enabled: true, HostInit: func() error { return errors.New("no /dev/gpiomem") }}); err == nil || !strings.Contains(err.Error(), "no /dev/gpiomem") {
		t.Errorf("host init failure: %v", err)
	}
}

func TestRunTwice(t *testing.T) {
	d, _ := newSim(t, clockwork.NewFakeClock(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if err := d.Run(ctx); err == nil {
		t.Error("second Run did not fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
