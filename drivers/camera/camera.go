package camera

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors every implementation returns (wrapped) so callers can tell cases apart with
// errors.Is.
var (
	// ErrGone means the device went away (unplugged, driver unbound) while in use.
	ErrGone = errors.New("camera: device gone")
	// ErrTimeout means no frame arrived within the configured frame timeout.
	ErrTimeout = errors.New("camera: timed out waiting for a frame")
	// ErrBusy means a preview stream is open; close it before taking a still.
	ErrBusy = errors.New("camera: busy with a preview stream")
	// ErrClosed means the camera or stream was halted or closed.
	ErrClosed = errors.New("camera: closed")
	// ErrUnsupported means the device offers no usable pixel format or size.
	ErrUnsupported = errors.New("camera: unsupported format or size")
)

// PixelFormat is a V4L2 fourcc code.
type PixelFormat uint32

// Fourcc builds a PixelFormat from its four characters.
func Fourcc(a, b, c, d byte) PixelFormat {
	return PixelFormat(uint32(a) | uint32(b)<<8 | uint32(c)<<16 | uint32(d)<<24)
}

// Pixel formats this package converts.
var (
	YUYV  = Fourcc('Y', 'U', 'Y', 'V') // packed 4:2:2 Y0 U Y1 V
	MJPEG = Fourcc('M', 'J', 'P', 'G') // motion JPEG, one baseline JPEG per frame
	JPEG  = Fourcc('J', 'P', 'E', 'G') // still JPEG; handled as MJPEG
	GREY  = Fourcc('G', 'R', 'E', 'Y') // 8-bit luma
)

// String returns the fourcc, e.g. "YUYV".
func (p PixelFormat) String() string {
	b := []byte{byte(p), byte(p >> 8), byte(p >> 16), byte(p >> 24)}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(p))
		}
	}
	return strings.TrimRight(string(b), " ")
}

// Supported reports whether this package can convert frames of p.
func (p PixelFormat) Supported() bool {
	switch p {
	case YUYV, MJPEG, JPEG, GREY:
		return true
	}
	return false
}

// ParsePixelFormat accepts "yuyv", "mjpeg"/"mjpg", "jpeg" and "grey"/"gray" in any case.
func ParsePixelFormat(s string) (PixelFormat, error) {
	switch strings.ToLower(s) {
	case "yuyv", "yuy2":
		return YUYV, nil
	case "mjpeg", "mjpg":
		return MJPEG, nil
	case "jpeg", "jpg":
		return JPEG, nil
	case "grey", "gray", "y8":
		return GREY, nil
	}
	return 0, fmt.Errorf("camera: unknown pixel format %q (want yuyv, mjpeg or grey)", s)
}

// Size is a frame size in pixels.
type Size struct{ W, H int }

// String returns "WxH".
func (s Size) String() string { return strconv.Itoa(s.W) + "x" + strconv.Itoa(s.H) }

// Pixels returns W*H.
func (s Size) Pixels() int { return s.W * s.H }

// ParseSize parses "WxH", e.g. "1920x1080".
func ParseSize(s string) (Size, error) {
	w, h, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok {
		return Size{}, fmt.Errorf("camera: size %q: want WxH, e.g. 1920x1080", s)
	}
	wi, err1 := strconv.Atoi(w)
	hi, err2 := strconv.Atoi(h)
	if err1 != nil || err2 != nil || wi <= 0 || hi <= 0 || wi > 16384 || hi > 16384 {
		return Size{}, fmt.Errorf("camera: size %q: want WxH with 1..16384 each", s)
	}
	return Size{wi, hi}, nil
}

// Nearest returns the size in sizes closest to want: the smallest one that covers want
// if any does, else the largest. It returns false when sizes is empty.
func Nearest(sizes []Size, want Size) (Size, bool) {
	if len(sizes) == 0 {
		return Size{}, false
	}
	best, found := Size{}, false
	for _, s := range sizes {
		if s.W >= want.W && s.H >= want.H && (!found || s.Pixels() < best.Pixels()) {
			best, found = s, true
		}
	}
	if found {
		return best, true
	}
	best = sizes[0]
	for _, s := range sizes[1:] {
		if s.Pixels() > best.Pixels() {
			best = s
		}
	}
	return best, true
}

// Format is one pixel format a camera offers and the frame sizes it offers it at.
type Format struct {
	Pixel       PixelFormat
	Description string // as the driver names it, e.g. "Motion-JPEG"
	Sizes       []Size // discrete sizes, smallest first
}

// Request says what a still or a stream should deliver. Zero fields mean "the camera's
// default": the largest size for a still, 640x480 (or nearest) for a preview, the
// camera's preferred format, 15 frames/s.
type Request struct {
	Size   Size
	Format PixelFormat // 0: prefer MJPEG at large sizes, YUYV at small ones
	FPS    float64     // streams only: the rate frames are delivered at (at most)
}

// Camera is a station camera. Methods may be called from several goroutines; a Camera
// serves one stream or one still at a time.
type Camera interface {
	// String names the device, e.g. "v4l2(/dev/video0: HD USB Camera)".
	String() string
	// Formats lists the pixel formats and sizes the device offers.
	Formats() ([]Format, error)
	// Still captures one frame at the requested size (or the nearest the device offers;
	// Frame.Width/Height tell). It returns ErrBusy while a preview stream is open.
	Still(ctx context.Context, req Request) (*Frame, error)
	// Preview opens a stream of frames at req.Size and at most req.FPS frames/s.
	Preview(ctx context.Context, req Request) (Stream, error)
	// Halt stops any stream and any capture in progress; the camera stays usable.
	Halt() error
	// Close halts the camera and releases the device.
	Close() error
}

// Stream is an open preview stream.
type Stream interface {
	// Next returns the next frame, waiting at most the camera's frame timeout
	// (ErrTimeout), or until ctx is done (ctx.Err()). A frame the caller was too slow to
	// take is dropped; Frame.Seq shows the gap. After the device vanished, Next returns
	// an error wrapping ErrGone; after Close or Halt, ErrClosed.
	Next(ctx context.Context) (*Frame, error)
	// Request returns what the stream actually delivers (size, format, rate).
	Request() Request
	// Close stops the stream. It is safe to call more than once.
	Close() error
}

// Frame is one captured image. Data is owned by the Frame.
type Frame struct {
	Format PixelFormat
	Width  int
	Height int
	// Stride is the number of bytes per row for YUYV and GREY (0 means packed:
	// 2*Width for YUYV, Width for GREY). Unused for MJPEG.
	Stride int
	Data   []byte
	// Seq counts frames the device produced since the stream started, from 0; stills
	// have their own count.
	Seq uint64
	// Time is when the frame was taken from the device, on the camera's clock. With the
	// real clock it carries a monotonic reading, so Time.Sub between frames is exact.
	Time time.Time
}

// Size returns the frame's size.
func (f *Frame) Size() Size { return Size{f.Width, f.Height} }

// Clone returns a deep copy of f.
func (f *Frame) Clone() *Frame {
	g := *f
	g.Data = append([]byte(nil), f.Data...)
	return &g
}
