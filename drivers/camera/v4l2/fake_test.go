package v4l2

import (
	"encoding/binary"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/blackjack/webcam"
	"github.com/jonboulle/clockwork"
)

// vanish says how the fake device fails once it has produced vanishAfter frames.
type vanish int

const (
	stayPlugged vanish = iota
	dqbufENODEV        // poll reports an error condition (ready), DQBUF fails with ENODEV
	pollENODEV         // poll itself fails
	stall              // the device stays but sends nothing more
)

// fakeDevice is a V4L2 device on a fake clock: a frame every period, mmap-like buffers
// that are poisoned on release (so a frame that was not copied out shows it), and the
// failure modes of an unplugged camera.
type fakeDevice struct {
	mu      sync.Mutex
	clock   *clockwork.FakeClock
	period  time.Duration
	formats map[webcam.PixelFormat]string
	sizes   map[webcam.PixelFormat][]webcam.FrameSize

	pix         webcam.PixelFormat
	w, h        uint32
	nbuf        uint32
	buffers     [][]byte
	queued      []bool
	streaming   bool
	nextAt      time.Time
	produced    int
	vanishAfter int // 0: never
	mode        vanish
	short       map[int]bool // frame numbers delivered cut short
	closed      bool
	fpsSet      float32
	starts      int
	maxOut      int // most buffers held by the caller at once
	// vb2Busy models videobuf2: once buffers were requested, a new format is refused
	// until the node is closed (package webcam never frees its buffers).
	vb2Busy   bool
	allocated bool
}

func newFake(clk *clockwork.FakeClock) *fakeDevice {
	return &fakeDevice{
		clock:  clk,
		period: time.Second / 30,
		formats: map[webcam.PixelFormat]string{
			webcam.PixelFormat(0x56595559): "YUYV 4:2:2",
			webcam.PixelFormat(0x47504a4d): "Motion-JPEG",
			webcam.PixelFormat(0x34363248): "H.264", // unsupported, listed last
		},
		sizes: map[webcam.PixelFormat][]webcam.FrameSize{
			0x56595559: {fixed(640, 480), fixed(320, 240), fixed(1280, 720)},
			0x47504a4d: {fixed(640, 480), fixed(1920, 1080), fixed(1280, 720)},
			0x34363248: {fixed(1920, 1080)},
		},
		short: map[int]bool{},
	}
}

func fixed(w, h uint32) webcam.FrameSize {
	return webcam.FrameSize{MinWidth: w, MaxWidth: w, MinHeight: h, MaxHeight: h}
}

func (f *fakeDevice) GetName() (string, error) { return "Fake UVC Camera", nil }

func (f *fakeDevice) GetSupportedFormats() map[webcam.PixelFormat]string { return f.formats }

func (f *fakeDevice) GetSupportedFrameSizes(p webcam.PixelFormat) []webcam.FrameSize {
	return f.sizes[p]
}

func (f *fakeDevice) SetImageFormat(p webcam.PixelFormat, w, h uint32) (webcam.PixelFormat, uint32, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streaming || (f.vb2Busy && f.allocated) {
		return 0, 0, 0, syscall.EBUSY
	}
	f.pix, f.w, f.h = p, w, h
	return p, w, h, nil
}

func (f *fakeDevice) SetBufferCount(n uint32) error { f.nbuf = n; return nil }

func (f *fakeDevice) SetFramerate(fps float32) error { f.fpsSet = fps; return nil }

func (f *fakeDevice) StartStreaming() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streaming {
		return errors.New("already streaming")
	}
	f.streaming = true
	f.allocated = true
	f.starts++
	f.buffers = make([][]byte, f.nbuf)
	f.queued = make([]bool, f.nbuf)
	for i := range f.buffers {
		f.buffers[i] = make([]byte, f.frameLen())
		f.queued[i] = true
	}
	f.nextAt = f.clock.Now().Add(f.period)
	return nil
}

func (f *fakeDevice) frameLen() int {
	if f.pix == 0x47504a4d {
		return 64
	}
	return int(2 * f.w * f.h)
}

func (f *fakeDevice) gone() bool { return f.vanishAfter > 0 && f.produced >= f.vanishAfter }

// WaitForFrame blocks on the fake clock: it advances it to the next frame or by the
// whole timeout, as poll would take that long in real time.
func (f *fakeDevice) WaitForFrame(timeout uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone() {
		switch f.mode {
		case pollENODEV:
			return syscall.ENODEV
		case dqbufENODEV:
			return nil // POLLERR: "ready"
		case stall:
			f.clock.Advance(time.Duration(timeout) * time.Second)
			return new(webcam.Timeout)
		}
	}
	now := f.clock.Now()
	if !now.Before(f.nextAt) && f.anyQueued() {
		return nil
	}
	if timeout == 0 {
		return new(webcam.Timeout)
	}
	limit := now.Add(time.Duration(timeout) * time.Second)
	if f.nextAt.After(limit) || !f.anyQueued() {
		f.clock.Advance(limit.Sub(now))
		return new(webcam.Timeout)
	}
	f.clock.Advance(f.nextAt.Sub(now))
	return nil
}

func (f *fakeDevice) anyQueued() bool {
	for _, q := range f.queued {
		if q {
			return true
		}
	}
	return false
}

func (f *fakeDevice) GetFrame() ([]byte, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone() && f.mode != stall {
		return nil, 0, syscall.ENODEV
	}
	if !f.streaming || f.clock.Now().Before(f.nextAt) {
		return nil, 0, syscall.EAGAIN
	}
	for i, q := range f.queued {
		if !q {
			continue
		}
		f.queued[i] = false
		out := 0
		for _, q := range f.queued {
			if !q {
				out++
			}
		}
		f.maxOut = max(f.maxOut, out)
		n := f.produced
		f.produced++
		f.nextAt = f.nextAt.Add(f.period)
		b := f.buffers[i]
		// Content: the frame number in the first 8 bytes, then a fill derived from it.
		for j := range b {
			b[j] = byte(n + j)
		}
		binary.LittleEndian.PutUint64(b, uint64(n))
		if f.pix == 0x47504a4d {
			b[0], b[1] = 0xff, 0xd8
			binary.LittleEndian.PutUint64(b[2:], uint64(n))
		}
		if f.short[n] {
			return b[:len(b)/2], uint32(i), nil
		}
		return b, uint32(i), nil
	}
	return nil, 0, syscall.EAGAIN
}

func (f *fakeDevice) ReleaseFrame(i uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone() && f.mode != stall {
		return syscall.ENODEV
	}
	for j := range f.buffers[i] {
		f.buffers[i][j] = 0xee // the driver reuses the buffer
	}
	f.queued[i] = true
	return nil
}

func (f *fakeDevice) StopStreaming() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.streaming {
		return errors.New("not streaming")
	}
	f.streaming = false
	if f.gone() && f.mode != stall {
		return syscall.ENODEV
	}
	return nil
}

func (f *fakeDevice) Close() error { f.closed = true; return nil }

func (f *fakeDevice) outstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, q := range f.queued {
		if !q {
			n++
		}
	}
	return n
}
