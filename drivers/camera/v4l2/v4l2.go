package v4l2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/blackjack/webcam"
	"github.com/jonboulle/clockwork"

	"github.com/captura-claim/captura/drivers/camera"
)

// Device is the part of *webcam.Webcam that Dev uses. Open wraps the real one; tests
// pass a fake. WaitForFrame's timeout is in whole seconds, as in package webcam, and a
// timeout is reported as a *webcam.Timeout.
type Device interface {
	GetName() (string, error)
	GetSupportedFormats() map[webcam.PixelFormat]string
	GetSupportedFrameSizes(f webcam.PixelFormat) []webcam.FrameSize
	SetImageFormat(f webcam.PixelFormat, width, height uint32) (webcam.PixelFormat, uint32, uint32, error)
	SetBufferCount(count uint32) error
	SetFramerate(fps float32) error
	StartStreaming() error
	WaitForFrame(timeout uint32) error
	GetFrame() ([]byte, uint32, error)
	ReleaseFrame(index uint32) error
	StopStreaming() error
	Close() error
}

var _ Device = (*webcam.Webcam)(nil)

var _ camera.Camera = (*Dev)(nil)

// Opts configures a Dev. The zero value (or nil) gives the defaults.
type Opts struct {
	// FrameTimeout bounds the wait for one frame; default 2 s. Waits happen in slices of
	// one second (the webcam package's unit), so the effective bound is rounded up.
	FrameTimeout time.Duration
	// Warmup is the number of frames Still discards after starting the stream so that
	// auto-exposure settles; default 3, negative for none.
	Warmup int
	// Buffers is the number of mmap buffers; default 4.
	Buffers uint32
	// Clock stamps frames and measures timeouts; default the real clock.
	Clock clockwork.Clock
	// Logger gets device events (never image content); default slog.Default().
	Logger *slog.Logger
}

func (o *Opts) withDefaults() Opts {
	var r Opts
	if o != nil {
		r = *o
	}
	if r.FrameTimeout <= 0 {
		r.FrameTimeout = 2 * time.Second
	}
	if r.Warmup == 0 {
		r.Warmup = 3
	}
	if r.Warmup < 0 {
		r.Warmup = 0
	}
	if r.Buffers == 0 {
		r.Buffers = 4
	}
	if r.Clock == nil {
		r.Clock = clockwork.NewRealClock()
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}

// Dev is a V4L2 camera.
type Dev struct {
	path string
	name string
	opts Opts

	mu        sync.Mutex // serialises every call into dev
	dev       Device
	reopen    func() (Device, error) // nil when the device was handed to New
	stream    *stream                // the open stream, if any (a still uses one internally)
	closed    bool
	stillSeq  uint64
	curPix    camera.PixelFormat // format last set on the device
	curSize   camera.Size
	formats   []camera.Format
	formatErr error
}

// Open opens the V4L2 device at path (e.g. "/dev/video0"), checks that it can capture
// and stream, and returns it ready for Still or Preview.
func Open(path string, o *Opts) (*Dev, error) {
	open := func() (Device, error) {
		w, err := webcam.Open(path)
		if err != nil {
			return nil, fmt.Errorf("v4l2: open %s: %w", path, mapErr(err))
		}
		return w, nil
	}
	w, err := open()
	if err != nil {
		return nil, err
	}
	d, err := New(w, path, o)
	if err != nil {
		return nil, err
	}
	d.reopen = open
	return d, nil
}

// New wraps an already opened device; path names it in messages.
func New(d Device, path string, o *Opts) (*Dev, error) {
	dv := &Dev{path: path, dev: d, opts: o.withDefaults()}
	if n, err := d.GetName(); err == nil {
		dv.name = n
	}
	return dv, nil
}

// String names the device.
func (d *Dev) String() string {
	if d.name == "" {
		return "v4l2(" + d.path + ")"
	}
	return "v4l2(" + d.path + ": " + d.name + ")"
}

// Formats lists the pixel formats and sizes the device offers, supported ones first.
func (d *Dev) Formats() ([]camera.Format, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, camera.ErrClosed)
	}
	return d.formatsLocked()
}

func (d *Dev) formatsLocked() ([]camera.Format, error) {
	if d.formats != nil || d.formatErr != nil {
		return d.formats, d.formatErr
	}
	var out []camera.Format
	for code, desc := range d.dev.GetSupportedFormats() {
		f := camera.Format{Pixel: camera.PixelFormat(code), Description: desc}
		for _, fs := range d.dev.GetSupportedFrameSizes(code) {
			f.Sizes = append(f.Sizes, expandSizes(fs)...)
		}
		slices.SortFunc(f.Sizes, func(a, b camera.Size) int {
			if a.Pixels() != b.Pixels() {
				return a.Pixels() - b.Pixels()
			}
			return a.W - b.W
		})
		f.Sizes = slices.Compact(f.Sizes)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b camera.Format) int {
		if a.Pixel.Supported() != b.Pixel.Supported() {
			if a.Pixel.Supported() {
				return -1
			}
			return 1
		}
		return int(int64(a.Pixel) - int64(b.Pixel))
	})
	if len(out) == 0 {
		d.formatErr = fmt.Errorf("v4l2: %s lists no pixel formats: %w", d.path, camera.ErrUnsupported)
	}
	d.formats = out
	return out, d.formatErr
}

// commonSizes are offered from a stepwise range when they fit it.
var commonSizes = []camera.Size{sz(320, 240), sz(640, 480), sz(800, 600), sz(1024, 768), sz(1280, 720), sz(1280, 960), sz(1600, 1200), sz(1920, 1080), sz(2592, 1944), sz(3840, 2160)}

func sz[T int | uint32](w, h T) camera.Size { return camera.Size{W: int(w), H: int(h)} }

func expandSizes(fs webcam.FrameSize) []camera.Size {
	if fs.MaxWidth == 0 || fs.MaxHeight == 0 {
		return nil // continuous ranges come back empty from package webcam
	}
	if fs.StepWidth == 0 && fs.StepHeight == 0 {
		return []camera.Size{sz(fs.MaxWidth, fs.MaxHeight)}
	}
	fits := func(v, lo, hi, step uint32) bool {
		return v >= lo && v <= hi && (step == 0 || (v-lo)%step == 0)
	}
	out := []camera.Size{sz(fs.MinWidth, fs.MinHeight), sz(fs.MaxWidth, fs.MaxHeight)}
	for _, s := range commonSizes {
		if fits(uint32(s.W), fs.MinWidth, fs.MaxWidth, fs.StepWidth) && fits(uint32(s.H), fs.MinHeight, fs.MaxHeight, fs.StepHeight) {
			out = append(out, s)
		}
	}
	return out
}

// choose picks pixel format and size for req; def is the size used when req has none
// (zero: the largest).
func (d *Dev) choose(req camera.Request, def camera.Size) (camera.PixelFormat, camera.Size, error) {
	formats, err := d.formatsLocked()
	if err != nil {
		return 0, camera.Size{}, err
	}
	byPix := map[camera.PixelFormat]camera.Format{}
	for _, f := range formats {
		if f.Pixel.Supported() && len(f.Sizes) > 0 {
			byPix[f.Pixel] = f
		}
	}
	want := req.Size
	if want == (camera.Size{}) {
		want = def
	}
	var order []camera.PixelFormat
	switch {
	case req.Format != 0:
		if _, ok := byPix[req.Format]; !ok {
			return 0, camera.Size{}, fmt.Errorf("v4l2: %s does not offer %s: %w", d.path, req.Format, camera.ErrUnsupported)
		}
		order = []camera.PixelFormat{req.Format}
	case want == (camera.Size{}) || want.Pixels() > 640*480:
		order = []camera.PixelFormat{camera.MJPEG, camera.JPEG, camera.YUYV, camera.GREY}
	default:
		order = []camera.PixelFormat{camera.YUYV, camera.MJPEG, camera.JPEG, camera.GREY}
	}
	for _, p := range order {
		f, ok := byPix[p]
		if !ok {
			continue
		}
		if want == (camera.Size{}) {
			return p, f.Sizes[len(f.Sizes)-1], nil
		}
		s, _ := camera.Nearest(f.Sizes, want)
		return p, s, nil
	}
	return 0, camera.Size{}, fmt.Errorf("v4l2: %s offers none of YUYV, MJPEG, GREY: %w", d.path, camera.ErrUnsupported)
}

// start configures and starts streaming; d.mu must be held.
func (d *Dev) start(pix camera.PixelFormat, size camera.Size, fps float64) (*stream, error) {
	if d.closed {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, camera.ErrClosed)
	}
	if d.stream != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, camera.ErrBusy)
	}
	if pix != d.curPix || size != d.curSize {
		if err := d.setFormat(pix, size); err != nil {
			return nil, err
		}
	}
	if fps > 0 {
		// Not every driver lets the rate be set; the stream also drops frames itself.
		if err := d.dev.SetFramerate(float32(fps)); err != nil {
			d.opts.Logger.Debug("v4l2: frame rate not set", "device", d.path, "fps", fps, "err", err)
		}
	}
	if err := d.dev.SetBufferCount(d.opts.Buffers); err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, mapErr(err))
	}
	if err := d.dev.StartStreaming(); err != nil {
		return nil, fmt.Errorf("v4l2: %s: start streaming: %w", d.path, mapErr(err))
	}
	s := &stream{d: d, req: camera.Request{Size: size, Format: pix, FPS: fps}, stop: make(chan struct{})}
	if fps > 0 {
		s.interval = time.Duration(float64(time.Second) / fps)
	}
	d.stream = s
	return s, nil
}

// setFormat sets pixel format and size; d.mu must be held.
func (d *Dev) setFormat(pix camera.PixelFormat, size camera.Size) error {
	d.curPix, d.curSize = 0, camera.Size{}
	got, _, _, err := d.dev.SetImageFormat(webcam.PixelFormat(pix), uint32(size.W), uint32(size.H))
	if errors.Is(err, syscall.EBUSY) && d.reopen != nil {
		// videobuf2 refuses a new format while buffers from an earlier stream are still
		// allocated, and package webcam never frees them: reopen the node.
		_ = d.dev.Close()
		nd, oerr := d.reopen()
		if oerr != nil {
			d.closed = true
			return oerr
		}
		d.dev = nd
		got, _, _, err = d.dev.SetImageFormat(webcam.PixelFormat(pix), uint32(size.W), uint32(size.H))
	}
	if err != nil {
		return fmt.Errorf("v4l2: %s: set format %s %v: %w", d.path, pix, size, mapErr(err))
	}
	if camera.PixelFormat(got) != pix {
		return fmt.Errorf("v4l2: %s: asked for %s, driver chose %s: %w", d.path, pix, camera.PixelFormat(got), camera.ErrUnsupported)
	}
	d.curPix, d.curSize = pix, size
	return nil
}

// Still captures one frame. A preview stream must not be open (camera.ErrBusy).
func (d *Dev) Still(ctx context.Context, req camera.Request) (*camera.Frame, error) {
	d.mu.Lock()
	pix, size, err := d.choose(req, camera.Size{})
	if err != nil {
		d.mu.Unlock()
		return nil, err
	}
	s, err := d.start(pix, size, 0)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var f *camera.Frame
	for i := 0; i <= d.opts.Warmup; i++ {
		if f, err = s.Next(ctx); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	f.Seq = d.stillSeq
	d.stillSeq++
	d.mu.Unlock()
	return f, nil
}

// Preview starts a stream at req.Size (default 640x480 or nearest) delivering at most
// req.FPS frames/s (default 15). ctx bounds only the start; the stream runs until Close
// or Halt.
func (d *Dev) Preview(ctx context.Context, req camera.Request) (camera.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fps := req.FPS
	if fps <= 0 {
		fps = 15
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	pix, size, err := d.choose(req, camera.Size{W: 640, H: 480})
	if err != nil {
		return nil, err
	}
	return d.start(pix, size, fps)
}

// Halt stops the open stream, if any. A Next waiting on it returns camera.ErrClosed.
func (d *Dev) Halt() error {
	d.mu.Lock()
	s := d.stream
	d.mu.Unlock()
	if s != nil {
		return s.Close()
	}
	return nil
}

// Close halts the camera and closes the device.
func (d *Dev) Close() error {
	err := d.Halt()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return err
	}
	d.closed = true
	if cerr := d.dev.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("v4l2: close %s: %w", d.path, mapErr(cerr))
	}
	return err
}

// stream is an open capture stream.
type stream struct {
	d        *Dev
	req      camera.Request
	interval time.Duration // minimum spacing of delivered frames; 0 = every frame

	next      sync.Mutex // one Next at a time
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Guarded by d.mu.
	seq      uint64 // frames dequeued so far
	last     time.Time
	returned bool
	err      error // sticky: the device is gone
}

func (s *stream) Request() camera.Request { return s.req }

func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.d.mu.Lock()
		defer s.d.mu.Unlock()
		if s.d.stream == s {
			s.d.stream = nil
		}
		if err := s.d.dev.StopStreaming(); err != nil && s.err == nil {
			s.closeErr = fmt.Errorf("v4l2: %s: stop streaming: %w", s.d.path, mapErr(err))
		}
	})
	return s.closeErr
}

func (s *stream) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Next returns the next frame; see camera.Stream.
func (s *stream) Next(ctx context.Context) (*camera.Frame, error) {
	s.next.Lock()
	defer s.next.Unlock()
	d := s.d
	clk := d.opts.Clock
	deadline := clk.Now().Add(d.opts.FrameTimeout)
	spurious := 0
	for {
		if s.stopped() {
			return nil, fmt.Errorf("v4l2: %s: %w", d.path, camera.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d.mu.Lock()
		if s.err != nil {
			d.mu.Unlock()
			return nil, s.err
		}
		remain := clk.Until(deadline)
		if remain <= 0 {
			d.mu.Unlock()
			return nil, fmt.Errorf("v4l2: %s: no frame for %v: %w", d.path, d.opts.FrameTimeout, camera.ErrTimeout)
		}
		err := d.dev.WaitForFrame(1) // one-second slice: ctx and Close are checked between slices
		if err != nil {
			d.mu.Unlock()
			var to *webcam.Timeout
			if errors.As(err, &to) {
				continue
			}
			return nil, s.fail(fmt.Errorf("v4l2: %s: wait for frame: %w", d.path, mapErr(err)))
		}
		f, got, err := s.dequeueLatest()
		d.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if f == nil && got {
			continue // a frame came but was not due (rate) or was cut short
		}
		if f == nil {
			// poll said ready but nothing to dequeue: back off briefly, within the deadline.
			spurious++
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.stop:
			case <-clk.After(min(time.Duration(spurious)*time.Millisecond, 20*time.Millisecond)):
			}
			continue
		}
		return f, nil
	}
}

// fail records a fatal device error; d.mu must not be held.
func (s *stream) fail(err error) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.failLocked(err)
}

func (s *stream) failLocked(err error) error {
	if errors.Is(err, camera.ErrGone) && s.err == nil {
		s.err = err
		s.d.opts.Logger.Warn("v4l2: camera gone", "device", s.d.path)
	}
	return err
}

// dequeueLatest takes the newest ready frame, releasing older ones, and returns a copy
// when it is due under the stream's rate. got reports whether the device gave any frame.
// d.mu must be held.
func (s *stream) dequeueLatest() (f *camera.Frame, got bool, err error) {
	d := s.d
	buf, idx, err := d.dev.GetFrame()
	if err != nil {
		if isAgain(err) {
			return nil, false, nil
		}
		return nil, false, s.failLocked(fmt.Errorf("v4l2: %s: dequeue: %w", d.path, mapErr(err)))
	}
	s.seq++
	// Drain frames that are already waiting so the caller gets the freshest one.
	for d.dev.WaitForFrame(0) == nil {
		b2, i2, err := d.dev.GetFrame()
		if err != nil {
			if !isAgain(err) {
				// Keep the frame in hand; the error (sticky if the device is gone) comes next time.
				_ = s.failLocked(fmt.Errorf("v4l2: %s: dequeue: %w", d.path, mapErr(err)))
			}
			break
		}
		if err := d.dev.ReleaseFrame(idx); err != nil {
			return nil, true, s.failLocked(fmt.Errorf("v4l2: %s: requeue: %w", d.path, mapErr(err)))
		}
		buf, idx = b2, i2
		s.seq++
	}
	now := d.opts.Clock.Now()
	due := !s.returned || s.interval == 0 || now.Sub(s.last) >= s.interval*4/5
	if due && s.valid(buf) {
		f = &camera.Frame{
			Format: s.req.Format,
			Width:  s.req.Size.W,
			Height: s.req.Size.H,
			Data:   append([]byte(nil), buf...), // copy out of the mmap buffer before requeueing it
			Seq:    s.seq - 1,
			Time:   now,
		}
	}
	if err := d.dev.ReleaseFrame(idx); err != nil {
		err = s.failLocked(fmt.Errorf("v4l2: %s: requeue: %w", d.path, mapErr(err)))
		if f == nil {
			return nil, true, err
		}
		// The frame was copied before the device went: deliver it; the next Next fails.
	}
	if f != nil {
		s.returned, s.last = true, now
	}
	return f, true, nil
}

// valid drops frames a USB error cut short.
func (s *stream) valid(buf []byte) bool {
	switch s.req.Format {
	case camera.YUYV:
		return len(buf) >= 2*s.req.Size.W*s.req.Size.H
	case camera.GREY:
		return len(buf) >= s.req.Size.W*s.req.Size.H
	case camera.MJPEG, camera.JPEG:
		return len(buf) >= 4 && buf[0] == 0xff && buf[1] == 0xd8
	}
	return len(buf) > 0
}

func isAgain(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR)
}

// mapErr marks the errors a vanished device produces with camera.ErrGone.
func mapErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.EIO), errors.Is(err, syscall.EBADF):
		return fmt.Errorf("%w (%w)", camera.ErrGone, err)
	}
	return err
}
