package fw

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "panel test",
		Args:    "",
		Summary: "switch each panel output in turn, then report button presses and reader touches",
		Run:     runPanelTest,
	})
}

func runPanelTest(env *cli.Env, fs *flag.FlagSet, args []string) error {
	def := panel.DefaultConfig()
	var cfg panel.Config
	fs.StringVar(&cfg.Red, "red", def.Red, "status LED red `pin`")
	fs.StringVar(&cfg.Green, "green", def.Green, "status LED green `pin`")
	fs.StringVar(&cfg.Blue, "blue", def.Blue, "status LED blue `pin`")
	fs.StringVar(&cfg.Buzzer, "buzzer", def.Buzzer, "buzzer `pin`")
	fs.StringVar(&cfg.Button, "button", def.Button, "pairing button `pin`")
	fs.StringVar(&cfg.Touch, "touch", def.Touch, "fingerprint reader touch (wake) `pin`")
	fs.StringVar(&cfg.Illumination, "illumination", def.Illumination, "face illumination LED `pin`")
	fs.BoolVar(&cfg.LEDActiveLow, "led-active-low", false, "status LED is common-anode")
	fs.BoolVar(&cfg.ButtonActiveHigh, "button-active-high", false, "button pulls the line high")
	fs.BoolVar(&cfg.TouchActiveLow, "touch-active-low", false, "touch line is pulled low by a finger")
	fs.DurationVar(&cfg.LongPress, "long", 2*time.Second, "long-press time")
	step := fs.Duration("step", 700*time.Millisecond, "how long each output stays on")
	listen := fs.Duration("listen", 15*time.Second, "how long to report button and touch edges")
	sim := fs.Bool("sim", false, "test a simulated panel that presses its own button and touches its reader")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *step <= 0 || *listen < 0 || cfg.LongPress <= 0 {
		return cli.Usagef("--step and --long must be positive, --listen not negative")
	}
	opts := &panel.Opts{Config: cfg, Enabled: true}
	var board *panelsim.Board
	if *sim {
		board = panelsim.New()
		opts.Lookup = board.Lookup
	}
	p, err := panel.New(opts)
	if err != nil {
		if !*sim {
			return cli.WithHint(err, "pin names are periph names such as GPIO17; run as a user in the gpio group")
		}
		return err
	}
	defer p.Halt()
	ctx := env.Ctx
	out := env.Stdout
	fmt.Fprintln(out, p)

	// sleep waits d or until ctx ends.
	sleep := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	simShow := func() {
		if board != nil {
			if ch := board.Changes(); len(ch) > 0 {
				fmt.Fprintf(out, "  sim: %s\n", strings.Join(ch, " "))
			}
		}
	}
	show := func(what string, on func() error, off func() error) error {
		fmt.Fprintf(out, "%s: on\n", what)
		if err := on(); err != nil {
			return err
		}
		simShow()
		if err := sleep(*step); err != nil {
			return err
		}
		if err := off(); err != nil {
			return err
		}
		simShow()
		return nil
	}
	if board != nil {
		board.Changes() // drop New's initial writes
	}

	// 1. Each output in turn.
	for _, c := range []panel.Color{panel.Red, panel.Green, panel.Blue} {
		c := c
		if err := show("status LED "+c.String(), func() error { return p.SetLED(c) }, func() error { return p.SetLED(panel.Off) }); err != nil {
			return err
		}
	}
	if err := show("buzzer", func() error { return p.SetBuzzer(true) }, func() error { return p.SetBuzzer(false) }); err != nil {
		return err
	}
	if err := show("illumination LED full", func() error { return p.Illuminate(1) }, func() error { return p.Illuminate(0) }); err != nil {
		return err
	}
	if err := show("illumination LED half", func() error { return p.Illuminate(0.5) }, func() error { return p.Illuminate(0) }); err != nil {
		return err
	}
	if p.IlluminationPWM() {
		fmt.Fprintln(out, "illumination LED: dimmable (PWM)")
	} else {
		fmt.Fprintln(out, "illumination LED: on/off only (the pin has no PWM)")
	}

	// 2. The state patterns, through the panel's own loop.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(rctx) }()
	for _, s := range panel.AllStates() {
		fmt.Fprintf(out, "state %s\n", s)
		p.SetState(s)
		if err := sleep(2 * *step); err != nil {
			return err
		}
	}
	p.SetState(panel.Idle)
	if board != nil {
		board.Changes()
	}

	// 3. Button and touch edges.
	fmt.Fprintf(out, "listening %v: press the button briefly, hold it %v, touch the reader\n", *listen, cfg.LongPress)
	lctx, lcancel := context.WithTimeout(rctx, *listen)
	defer lcancel()
	type report struct{ line string }
	reports := make(chan report, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // touch: one WaitTouch after another
		defer wg.Done()
		for {
			err := p.WaitTouch(lctx, 0)
			if err != nil {
				if !errors.Is(err, panel.ErrNotFitted) && lctx.Err() == nil {
					reports <- report{"touch: " + err.Error()}
				}
				return
			}
			reports <- report{"touch: finger on the reader"}
		}
	}()
	wg.Add(1)
	go func() { // button events from the Run loop
		defer wg.Done()
		for {
			select {
			case <-lctx.Done():
				return
			case ev := <-p.Events():
				line := "button: " + ev.Kind.String()
				if board == nil {
					line += fmt.Sprintf(" (held %v)", ev.Held.Round(10*time.Millisecond))
				}
				reports <- report{line}
			}
		}
	}()
	progress := make(chan struct{}, 16)
	if board != nil {
		go simInstaller(lctx, board, cfg.LongPress, progress, lcancel)
	}
	go func() { wg.Wait(); close(reports) }()
	var shorts, longs, touches int
	for r := range reports {
		fmt.Fprintln(out, r.line)
		switch {
		case strings.HasPrefix(r.line, "button: short"):
			shorts++
		case strings.HasPrefix(r.line, "button: long"):
			longs++
		case strings.HasPrefix(r.line, "touch: finger"):
			touches++
		}
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	stop()
	if err := <-runErr; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(out, "done: %d short press, %d long press, %d touch\n", shorts, longs, touches)
	return nil
}

// simInstaller plays the installer on the simulated panel: a short press, a long press
// and a touch, each after the previous one was reported; then it ends the listening.
func simInstaller(ctx context.Context, b *panelsim.Board, long time.Duration, progress <-chan struct{}, done func()) {
	defer done()
	wait := func() bool {
		select {
		case <-progress:
			return true
		case <-ctx.Done():
			return false
		}
	}
	b.Press(80*time.Millisecond, time.Sleep)
	if !wait() {
		return
	}
	b.Press(long+300*time.Millisecond, time.Sleep)
	if !wait() {
		return
	}
	b.TouchFinger(50*time.Millisecond, time.Sleep)
	wait()
}
