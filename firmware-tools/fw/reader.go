package fw

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/detect"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

func init() {
	Program.Register(&cli.Command{Name: "reader sim", Args: "",
		Summary: "run a simulated fingerprint reader on a pty linked at --link", Run: readerSim})
	Program.Register(&cli.Command{Name: "reader info", Args: "",
		Summary: "identify the fingerprint reader at --port (family and speed detected)", Run: readerInfo})
	Program.Register(&cli.Command{Name: "reader capture", Args: "",
		Summary: "capture one fingerprint image from the reader at --port", Run: readerCapture})
	Program.Register(&cli.Command{Name: "reader set-baud", Args: "BAUD",
		Summary: "switch the reader at --port to another line speed", Run: readerSetBaud})
	Program.Register(&cli.Command{Name: "reader led", Args: "",
		Summary: "set the LED of the reader at --port", Run: readerLED})
}

// portFlags are the flags of the commands that open a reader.
type portFlags struct {
	port     string
	family   string
	baud     int
	keepBaud bool
	wait     time.Duration
}

func (p *portFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&p.port, "port", "", "serial device of the reader (required)")
	fs.StringVar(&p.family, "family", "", "module family to probe: r30x or gt521 (default: both)")
	fs.IntVar(&p.baud, "baud", 0, "probe only this line speed (default: every speed of the family)")
	fs.BoolVar(&p.keepBaud, "keep-baud", false, "do not upgrade the line to 115200 baud")
	fs.DurationVar(&p.wait, "wait", 0, "wait this long for --port to appear")
}

func (p *portFlags) open(ctx context.Context, verify uart.Verify) (fingerprint.Reader, error) {
	if p.port == "" {
		return nil, cli.Usagef("--port is required")
	}
	end := time.Now().Add(p.wait)
	for {
		_, err := os.Stat(p.port)
		if err == nil || !time.Now().Before(end) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	o := &detect.Opts{Baud: p.baud, R30x: &r30x.Opts{Verify: verify}, GT521: &gt521.Opts{Verify: verify}}
	if p.family != "" {
		o.Families = []string{p.family}
	}
	if p.keepBaud {
		o.R30x.TargetBaud, o.GT521.TargetBaud = -1, -1
	}
	r, err := detect.Open(ctx, p.port, o)
	switch {
	case errors.Is(err, fingerprint.ErrUnplugged):
		return nil, cli.WithHint(err, "is the reader plugged in? check the path (ls -l "+p.port+")")
	case errors.Is(err, fingerprint.ErrSilent):
		return nil, cli.WithHint(err, "check the wiring (TX to RX) and the power; try --family and --baud")
	}
	return r, err
}

func readerInfo(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var p portFlags
	p.define(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	r, err := p.open(env.Ctx, uart.VerifyAuto)
	if err != nil {
		return err
	}
	defer r.Close()
	i := r.Info()
	w := env.Stdout
	fmt.Fprintf(w, "family: %s\nmodel: %s\n", i.Family, i.Model)
	if i.Firmware != "" {
		fmt.Fprintf(w, "firmware: %s\n", i.Firmware)
	}
	if i.Serial != "" {
		fmt.Fprintf(w, "serial: %s\n", i.Serial)
	}
	fmt.Fprintf(w, "sensor: %dx%d, %d ppi, %d bits per pixel on the wire\n", i.Width, i.Height, i.PPI, i.BitDepth)
	fmt.Fprintf(w, "baud: %d\n", i.Baud)
	if i.PacketSize > 0 {
		fmt.Fprintf(w, "packet size: %d\n", i.PacketSize)
	}
	fmt.Fprintf(w, "capacity: %d templates\n", i.Capacity)
	if i.SecurityLevel > 0 {
		fmt.Fprintf(w, "security level: %d\n", i.SecurityLevel)
	}
	var feats []string
	for _, f := range []struct {
		bit  fingerprint.Features
		name string
	}{{fingerprint.FeatureLEDColour, "aura-led"}, {fingerprint.FeatureLEDOnOff, "led"}, {fingerprint.FeatureTemplate, "template"}, {fingerprint.FeatureFakeFinger, "fake-finger"}} {
		if i.Features&f.bit != 0 {
			feats = append(feats, f.name)
		}
	}
	fmt.Fprintf(w, "features: %s\n", strings.Join(feats, " "))
	return nil
}

func readerCapture(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var p portFlags
	p.define(fs)
	out := fs.String("out", "", "image file to write: .png or .pgm (required)")
	tmpl := fs.String("template", "", "also write the module's template to this file")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for a finger")
	verify := fs.String("verify", "auto", "image verification: auto, strict or checksum")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return cli.Usagef("--out is required")
	}
	v, ok := map[string]uart.Verify{"auto": uart.VerifyAuto, "strict": uart.VerifyStrict, "checksum": uart.VerifyChecksum}[*verify]
	if !ok {
		return cli.Usagef("--verify %q: want auto, strict or checksum", *verify)
	}
	r, err := p.open(env.Ctx, v)
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(env.Stderr, "place a finger on %s\n", r)
	ctx, cancel := context.WithTimeout(env.Ctx, *timeout)
	defer cancel()
	if err := r.WaitFinger(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no finger within %v", *timeout)
		}
		return err
	}
	img, err := r.Capture(env.Ctx)
	if err != nil {
		return err
	}
	if err := writeImage(*out, img); err != nil {
		return err
	}
	info := r.Info()
	b := img.Gray.Bounds()
	fmt.Fprintf(env.Stdout, "image: %dx%d, %d ppi, %d bits per pixel on the wire, written to %s\n", b.Dx(), b.Dy(), img.PPI, info.BitDepth, *out)
	if tr, ok := r.(uart.TransferReporter); ok {
		t := tr.LastTransfer()
		fmt.Fprintf(env.Stdout, "wire: %d bytes in %d upload(s) at %d baud\n", t.WireBytes, t.Uploads, t.Baud)
		fmt.Fprintf(env.Stdout, "time: %.3fs (line-rate bound %.3fs for one upload, efficiency %.1f%%)\n",
			t.Elapsed.Seconds(), t.Bound().Seconds(), 100*t.Efficiency())
	}
	if *tmpl != "" {
		t, err := r.Template(env.Ctx)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*tmpl, t, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "template: %d bytes, written to %s\n", len(t), *tmpl)
	}
	return nil
}

func writeImage(path string, img *fingerprint.Image) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pgm":
		err = fpimage.EncodePGM(f, img.Gray)
	default:
		err = png.Encode(f, img.Gray)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type baudSetter interface {
	SetBaud(ctx context.Context, baud int) error
}

func readerSetBaud(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var p portFlags
	p.define(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want one line speed, e.g. 115200")
	}
	baud, err := strconv.Atoi(fs.Arg(0))
	if err != nil {
		return cli.Usagef("line speed %q is not a number", fs.Arg(0))
	}
	p.keepBaud = true
	r, err := p.open(env.Ctx, uart.VerifyAuto)
	if err != nil {
		return err
	}
	defer r.Close()
	old := r.Info().Baud
	bs, ok := r.(baudSetter)
	if !ok {
		return fmt.Errorf("%s cannot change speed", r)
	}
	err = bs.SetBaud(env.Ctx, baud)
	switch {
	case errors.Is(err, r30x.ErrBaudPending):
		return cli.WithHint(err, "power the reader off and on; it will then answer at "+strconv.Itoa(baud))
	case err != nil:
		return err
	}
	fmt.Fprintf(env.Stdout, "baud: %d -> %d\n", old, r.Info().Baud)
	if r.Info().Family == "gt521" {
		fmt.Fprintln(env.Stdout, "note: GT-521 modules return to 9600 baud at power-on; drivers renegotiate at every open")
	}
	return nil
}

func readerLED(env *cli.Env, fs *flag.FlagSet, args []string) error {
	var p portFlags
	p.define(fs)
	mode := fs.String("mode", "on", "on, off, breathing or flashing")
	colour := fs.String("colour", "default", "default, red, blue or purple (aura LEDs)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	m, ok := map[string]fingerprint.LEDMode{"on": fingerprint.LEDOn, "off": fingerprint.LEDOff,
		"breathing": fingerprint.LEDBreathing, "flashing": fingerprint.LEDFlashing}[*mode]
	if !ok {
		return cli.Usagef("--mode %q: want on, off, breathing or flashing", *mode)
	}
	c, ok := map[string]fingerprint.LEDColour{"default": fingerprint.ColourDefault, "red": fingerprint.ColourRed,
		"blue": fingerprint.ColourBlue, "purple": fingerprint.ColourPurple}[*colour]
	if !ok {
		return cli.Usagef("--colour %q: want default, red, blue or purple", *colour)
	}
	p.keepBaud = true
	r, err := p.open(env.Ctx, uart.VerifyAuto)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.SetLED(env.Ctx, fingerprint.LED{Mode: m, Colour: c}); err != nil {
		if errors.Is(err, fingerprint.ErrUnsupported) {
			return cli.WithHint(err, r.Info().Model+" LEDs: see captura-fw reader info")
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "led: %s %s\n", *mode, *colour)
	return nil
}

// simHandle is what the sim command drives, whatever the family.
type simHandle interface {
	Path() string
	TTY() string
	Baud() int
	Place()
	Lift()
	Unplug()
	Replug() error
	SetSilent(bool)
	Close() error
}

func readerSim(env *cli.Env, fs *flag.FlagSet, args []string) error {
	family := fs.String("family", "r30x", "r30x or gt521")
	link := fs.String("link", "", "symbolic link to create to the pty (required)")
	model := fs.String("model", "", "r30x: R307 (default), AS608, R503; gt521: GT-521F52 (default), GT-521F32")
	baud := fs.Int("baud", 0, "speed at power-on (default: 57600 for r30x, 9600 for gt521)")
	images := fs.String("images", "", "directory of PGM/PNG/TIFF prints to serve (default: a synthetic pattern)")
	noise := fs.Float64("noise", 0, "probability per byte of a flipped bit, each direction")
	drop := fs.Float64("drop", 0, "probability per byte of losing it, each direction")
	finger := fs.String("finger", "auto", "auto (arrives when polled, lifts after upload), manual (commands on stdin) or periodic")
	frames := fs.Int("frames", 2, "auto: images uploaded per placement before the finger lifts (the agent's finger PAD takes two)")
	packet := fs.Int("packet-size", 0, "r30x data packet size: 32, 64, 128 or 256")
	unpaced := fs.Bool("unpaced", false, "deliver bytes as fast as possible (tests only: no line timing)")
	seed := fs.Uint64("seed", 1, "seed of the faults and of the synthetic prints")
	dur := fs.Duration("for", 0, "stop after this long (default: until interrupted or \"quit\")")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *link == "" {
		return cli.Usagef("--link is required")
	}
	fm, err := fpsim.ParseFingerMode(*finger)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	lc := fpsim.LineConfig{Link: *link, Unpaced: *unpaced, Noise: *noise, Drop: *drop, Seed: *seed}
	if *frames < 1 {
		return cli.Usagef("--frames %d: want 1 or more", *frames)
	}
	fc := fpsim.FingerConfig{Mode: fm, FramesPerPlacement: *frames}
	var s simHandle
	switch *family {
	case "r30x":
		var sim *r30xsim.Sim
		sim, err = r30xsim.Start(r30xsim.Config{LineConfig: lc, Model: *model, Baud: *baud, PacketSize: *packet, Images: *images, Finger: fc})
		if err == nil {
			s = sim
		}
	case "gt521":
		var sim *gt521sim.Sim
		sim, err = gt521sim.Start(gt521sim.Config{LineConfig: lc, Model: *model, Baud: *baud, Images: *images, Finger: fc})
		if err == nil {
			s = sim
		}
	default:
		return cli.Usagef("--family %q: want r30x or gt521", *family)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(env.Ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	fmt.Fprintf(env.Stdout, "sim: %s at %s -> %s, %d baud, finger %s\n", *family, s.Path(), s.TTY(), s.Baud(), fm)
	fmt.Fprintln(env.Stdout, "sim: commands on stdin: place, lift, unplug, replug, silent, speak, quit")
	quit := make(chan struct{})
	go simCommands(env.Stdin, env.Stdout, s, quit)
	select {
	case <-ctx.Done():
	case <-quit:
	}
	fmt.Fprintln(env.Stdout, "sim: stopped")
	return nil
}

func simCommands(in io.Reader, out io.Writer, s simHandle, quit chan<- struct{}) {
	if in == nil {
		return
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd := strings.TrimSpace(sc.Text())
		switch cmd {
		case "":
		case "place":
			s.Place()
		case "lift":
			s.Lift()
		case "unplug":
			s.Unplug()
		case "replug":
			if err := s.Replug(); err != nil {
				fmt.Fprintf(out, "sim: replug: %v\n", err)
				continue
			}
		case "silent":
			s.SetSilent(true)
		case "speak":
			s.SetSilent(false)
		case "quit":
			close(quit)
			return
		default:
			fmt.Fprintf(out, "sim: unknown command %q\n", cmd)
			continue
		}
		if cmd != "" {
			fmt.Fprintf(out, "sim: %s\n", cmd)
		}
	}
}
