package panel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
)

// A panel on the simulated board (on a station: Opts{Config: cfg, Enabled: true} with
// pins named in the config, resolved through periph's gpioreg after host.Init).
func Example() {
	board := panelsim.New()
	p, err := panel.New(&panel.Opts{Config: board.Config(), Enabled: true, Lookup: board.Lookup})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	p.SetState(panel.Pairing) // blue blink and a beep while the pairing window is open
	_ = p.Illuminate(0.5)     // dimmed by PWM on GPIO18
	fmt.Println("illumination:", board.Illumination.State())

	go board.Press(30*time.Millisecond, time.Sleep)
	ev := <-p.Events()
	fmt.Println("button:", ev.Kind)

	cancel()
	fmt.Println("run:", <-done, "illumination:", board.Illumination.State())
	// Output:
	// panel(red=GPIO17 green=GPIO27 blue=GPIO22 buzzer=GPIO13 button=GPIO23 touch=GPIO24 illumination=GPIO18)
	// illumination: PWM 50%
	// button: short press
	// run: <nil> illumination: Low
}

// Waiting for a finger on the reader's touch line, with a timeout and cancellation.
func ExampleDev_WaitTouch() {
	board := panelsim.New()
	p, err := panel.New(&panel.Opts{Config: board.Config(), Enabled: true, Lookup: board.Lookup})
	if err != nil {
		fmt.Println(err)
		return
	}
	go board.TouchFinger(10*time.Millisecond, time.Sleep)
	fmt.Println(p.WaitTouch(context.Background(), time.Second))
	err = p.WaitTouch(context.Background(), 50*time.Millisecond)
	fmt.Println(err)
	// Output:
	// <nil>
	// panel: no touch on GPIO24 within 50ms: panel: timed out
}
