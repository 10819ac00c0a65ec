package camerasim

import (
	"context"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/captura-claim/captura/drivers/camera"
)

var _ camera.Camera = (*Dev)(nil)

// Opts configures a simulated camera. The zero value renders a live face from an
// embedded portrait chosen by seed 0, with the LED off.
type Opts struct {
	Species Species
	Seed    uint64
	// Portrait replaces the embedded portraits (e.g. one from ../shared/data/faces);
	// Geometry places the face in it (default DefaultGeometry).
	Portrait image.Image
	Geometry *Geometry
	// Light is the illumination LED; nil means always off. Usually PinLight(pin).
	Light Light
	// Clock paces streams and stamps frames; default the real clock.
	Clock clockwork.Clock
	// FreeRun produces stream frames as fast as Next is called, stamped with virtual
	// times start + n/fps (see the package comment).
	FreeRun bool
	// Nominal switches the seed's natural variation off: every presentation parameter
	// takes its nominal value (the seed still drives noise). Quality tests use it to vary
	// one control at a time.
	Nominal bool

	// Controls on top of the seed's variation.
	Exposure float64 // exposure offset in stops (EV)
	Blur     float64 // extra Gaussian blur, sigma in output pixels
	Noise    float64 // extra Gaussian noise, sigma as a fraction of full scale
	Scale    float64 // face size factor (0 means 1)
	ShiftX   float64 // face offset, fraction of the frame width
	ShiftY   float64 // face offset, fraction of the frame height
	Roll     float64 // head (or sheet) roll, degrees, clockwise in the image
	Yaw      float64 // head yaw, degrees (live and injected: with depth parallax)

	// Sizes offered (default 320x240, 640x480, 1280x720, 1920x1080) in YUYV and MJPEG.
	Sizes []camera.Size
	// FailAfter makes the camera vanish after that many frames (0: never): every later
	// call fails with camera.ErrGone, as a USB camera pulled out would.
	FailAfter int
}

// Dev is a simulated camera.
type Dev struct {
	opts  Opts
	clock clockwork.Clock
	sc    *scene

	mu       sync.Mutex
	stream   *stream
	stillSeq uint64
	frames   int
	closed   bool
}

// New prepares the scene for o (nil: defaults).
func New(o *Opts) (*Dev, error) {
	var opts Opts
	if o != nil {
		opts = *o
	}
	if opts.Species < BonaFide || opts.Species > Injected {
		return nil, fmt.Errorf("camerasim: unknown species %d", int(opts.Species))
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if len(opts.Sizes) == 0 {
		opts.Sizes = []camera.Size{{W: 320, H: 240}, {W: 640, H: 480}, {W: 1280, H: 720}, {W: 1920, H: 1080}}
	}
	for _, s := range opts.Sizes {
		if s.W <= 0 || s.H <= 0 || s.W%2 != 0 {
			return nil, fmt.Errorf("camerasim: size %v: need positive sizes with an even width", s)
		}
	}
	geo := DefaultGeometry
	if opts.Geometry != nil {
		geo = *opts.Geometry
	}
	if geo.RX <= 0 || geo.RY <= 0 {
		return nil, fmt.Errorf("camerasim: face geometry needs positive radii")
	}
	p := drawPresentation(opts.Species, opts.Seed, opts.Nominal)
	var b *base
	if img := opts.Portrait; img != nil {
		if r := img.Bounds(); r.Dx() < 16 || r.Dy() < 16 {
			return nil, fmt.Errorf("camerasim: portrait of %dx%d is too small", r.Dx(), r.Dy())
		}
		b = newBase(img, geo)
	} else {
		names := Portraits()
		p.Portrait = names[splitmix(opts.Seed^0x706f72)%uint64(len(names))]
		var err error
		if b, err = embeddedBase(p.Portrait, geo); err != nil {
			return nil, err
		}
	}
	return &Dev{opts: opts, clock: opts.Clock, sc: newScene(b, p)}, nil
}

type baseKey struct {
	name string
	geo  Geometry
}

var (
	basesMu sync.Mutex
	bases   = map[baseKey]*base{}
)

// embeddedBase prepares an embedded portrait once per geometry.
func embeddedBase(name string, g Geometry) (*base, error) {
	basesMu.Lock()
	defer basesMu.Unlock()
	k := baseKey{name, g}
	if b, ok := bases[k]; ok {
		return b, nil
	}
	img, err := Portrait(name)
	if err != nil {
		return nil, err
	}
	b := newBase(img, g)
	bases[k] = b
	return b, nil
}

// Presentation returns the parameters the seed drew.
func (d *Dev) Presentation() Presentation { return d.sc.p }

// String names the simulated camera.
func (d *Dev) String() string {
	return fmt.Sprintf("camerasim(%s, seed %d)", d.opts.Species, d.opts.Seed)
}

func (d *Dev) controls() controls {
	o := &d.opts
	return controls{exposure: o.Exposure, blur: o.Blur, noise: o.Noise, scale: o.Scale, shiftX: o.ShiftX, shiftY: o.ShiftY, roll: o.Roll, yaw: o.Yaw}
}

// Render draws one frame directly: frame number seq at scene time t with the LED at
// level led in [0, 1] (ignored by Injected, which follows its recording). Frames from
// streams and stills are made by this same function.
func (d *Dev) Render(size camera.Size, seq uint64, t time.Duration, led float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size.W, size.H))
	d.sc.render(img, seq, t.Seconds(), led, d.controls())
	return img
}

// Formats lists YUYV and MJPEG at the configured sizes.
func (d *Dev) Formats() ([]camera.Format, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return []camera.Format{
		{Pixel: camera.YUYV, Description: "YUYV 4:2:2 (simulated)", Sizes: d.opts.Sizes},
		{Pixel: camera.MJPEG, Description: "Motion-JPEG (simulated)", Sizes: d.opts.Sizes},
	}, nil
}

func (d *Dev) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.checkLocked()
}

func (d *Dev) checkLocked() error {
	if d.closed {
		return fmt.Errorf("camerasim: %w", camera.ErrClosed)
	}
	if d.opts.FailAfter > 0 && d.frames >= d.opts.FailAfter {
		return fmt.Errorf("camerasim: %w", camera.ErrGone)
	}
	return nil
}

func (d *Dev) pick(req camera.Request, def camera.Size) (camera.PixelFormat, camera.Size, error) {
	pix := req.Format
	switch pix {
	case 0:
		pix = camera.YUYV
	case camera.YUYV, camera.MJPEG:
	case camera.JPEG:
		pix = camera.MJPEG
	default:
		return 0, camera.Size{}, fmt.Errorf("camerasim: %s not offered: %w", req.Format, camera.ErrUnsupported)
	}
	want := req.Size
	if want == (camera.Size{}) {
		want = def
	}
	if want == (camera.Size{}) {
		s, _ := camera.Nearest(d.opts.Sizes, camera.Size{W: 1 << 20, H: 1 << 20})
		return pix, s, nil
	}
	s, _ := camera.Nearest(d.opts.Sizes, want)
	return pix, s, nil
}

// frame renders and packs one frame; d.mu must not be held.
func (d *Dev) frame(pix camera.PixelFormat, size camera.Size, seq uint64, t time.Duration, at time.Time) (*camera.Frame, error) {
	d.mu.Lock()
	if err := d.checkLocked(); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.frames++
	d.mu.Unlock()
	led := 0.0
	if d.opts.Light != nil {
		led = d.opts.Light.Level()
	}
	img := d.Render(size, seq, t, led)
	f, err := camera.FromImage(img, pix)
	if err != nil {
		return nil, fmt.Errorf("camerasim: %w", err)
	}
	f.Seq, f.Time = seq, at
	return f, nil
}

// Still renders one frame at the requested size (default the largest). Scene time for
// still n is n * 0.5 s.
func (d *Dev) Still(ctx context.Context, req camera.Request) (*camera.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pix, size, err := d.pick(req, camera.Size{})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.stream != nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("camerasim: %w", camera.ErrBusy)
	}
	seq := d.stillSeq
	d.stillSeq++
	d.mu.Unlock()
	return d.frame(pix, size, seq, time.Duration(seq)*500*time.Millisecond, d.clock.Now())
}

// Preview opens a stream (default 640x480 YUYV at 15 frames/s).
func (d *Dev) Preview(ctx context.Context, req camera.Request) (camera.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pix, size, err := d.pick(req, camera.Size{W: 640, H: 480})
	if err != nil {
		return nil, err
	}
	fps := req.FPS
	if fps <= 0 {
		fps = 15
	}
	fps = min(fps, 60)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(); err != nil {
		return nil, err
	}
	if d.stream != nil {
		return nil, fmt.Errorf("camerasim: %w", camera.ErrBusy)
	}
	s := &stream{d: d, req: camera.Request{Size: size, Format: pix, FPS: fps}, interval: time.Duration(float64(time.Second) / fps),
		start: d.clock.Now(), stop: make(chan struct{})}
	d.stream = s
	return s, nil
}

// Halt closes the open stream, if any.
func (d *Dev) Halt() error {
	d.mu.Lock()
	s := d.stream
	d.mu.Unlock()
	if s != nil {
		return s.Close()
	}
	return nil
}

// Close halts the camera; later calls fail with camera.ErrClosed.
func (d *Dev) Close() error {
	err := d.Halt()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return err
}

type stream struct {
	d        *Dev
	req      camera.Request
	interval time.Duration
	start    time.Time
	stop     chan struct{}
	once     sync.Once

	mu  sync.Mutex // one Next at a time
	seq uint64
}

func (s *stream) Request() camera.Request { return s.req }

func (s *stream) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.d.mu.Lock()
		if s.d.stream == s {
			s.d.stream = nil
		}
		s.d.mu.Unlock()
	})
	return nil
}

// Next renders the next frame: at once with FreeRun, else at its due time on the clock.
// A caller slower than the frame rate skips frames, as with a real camera; Seq shows it.
func (s *stream) Next(ctx context.Context) (*camera.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return nil, fmt.Errorf("camerasim: %w", camera.ErrClosed)
	default:
	}
	clk := s.d.clock
	seq := s.seq
	var at time.Time
	if s.d.opts.FreeRun {
		at = s.start.Add(time.Duration(seq) * s.interval)
	} else {
		now := clk.Now()
		// Frames the caller missed are skipped.
		if late := now.Sub(s.start.Add(time.Duration(seq) * s.interval)); late > s.interval {
			seq += uint64(late / s.interval)
		}
		at = s.start.Add(time.Duration(seq) * s.interval)
		if wait := at.Sub(now); wait > 0 {
			t := clk.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-s.stop:
				t.Stop()
				return nil, fmt.Errorf("camerasim: %w", camera.ErrClosed)
			case <-t.Chan():
			}
		}
	}
	s.seq = seq + 1
	return s.d.frame(s.req.Format, s.req.Size, seq, time.Duration(seq)*s.interval, at)
}
