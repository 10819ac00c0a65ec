package v4l2

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/blackjack/webcam"
	"github.com/jonboulle/clockwork"

	"github.com/captura-claim/captura/drivers/camera"
)

var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func newTestDev(t *testing.T, o Opts) (*Dev, *fakeDevice, *clockwork.FakeClock) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	fd := newFake(clk)
	o.Clock = clk
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := New(fd, "/dev/video9", &o)
	if err != nil {
		t.Fatal(err)
	}
	return d, fd, clk
}

func frameNumber(f *camera.Frame) uint64 {
	if f.Format == camera.MJPEG {
		return binary.LittleEndian.Uint64(f.Data[2:])
	}
	return binary.LittleEndian.Uint64(f.Data)
}

func TestFormats(t *testing.T) {
	d, fd, _ := newTestDev(t, Opts{})
	fd.sizes[0x56595559] = append(fd.sizes[0x56595559], webcam.FrameSize{
		MinWidth: 160, MaxWidth: 1280, StepWidth: 8, MinHeight: 120, MaxHeight: 960, StepHeight: 8,
	})
	fs, err := d.Formats()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 || fs[2].Pixel.String() != "H264" || fs[2].Pixel.Supported() {
		t.Fatalf("formats = %+v; want the two supported first, H264 last", fs)
	}
	var yuyv camera.Format
	for _, f := range fs {
		if f.Pixel == camera.YUYV {
			yuyv = f
		}
	}
	got := []string{}
	for _, s := range yuyv.Sizes {
		got = append(got, s.String())
	}
	want := "160x120 320x240 640x480 800x600 1024x768 1280x720 1280x960"
	if strings.Join(got, " ") != want {
		t.Errorf("YUYV sizes = %s\nwant         %s", strings.Join(got, " "), want)
	}
	if d.String() != "v4l2(/dev/video9: Fake UVC Camera)" {
		t.Errorf("String() = %q", d.String())
	}
}

func TestStill(t *testing.T) {
	d, fd, _ := newTestDev(t, Opts{Warmup: 3})
	ctx := context.Background()
	f, err := d.Still(ctx, camera.Request{Size: camera.Size{W: 1000, H: 700}})
	if err != nil {
		t.Fatal(err)
	}
	// Nearest covering size, MJPEG because it is above 640x480.
	if f.Format != camera.MJPEG || f.Width != 1280 || f.Height != 720 {
		t.Fatalf("still %s %dx%d, want MJPG 1280x720", f.Format, f.Width, f.Height)
	}
	// Warm-up frames 0..2 were discarded; the still is the device's frame 3.
	if n := frameNumber(f); n != 3 {
		t.Errorf("still is device frame %d, want 3 (after 3 warm-up frames)", n)
	}
	// Data was copied out before the buffer went back to the driver (which poisons it).
	for _, b := range f.Data[10:] {
		if b == 0xee {
			t.Fatal("still data aliases a released mmap buffer")
		}
	}
	if fd.streaming || fd.outstanding() != 0 {
		t.Errorf("after Still: streaming %v, %d buffers not requeued", fd.streaming, fd.outstanding())
	}
	if !f.Time.Equal(epoch.Add(4 * fd.period)) {
		t.Errorf("still time %v, want the fake clock at the 4th frame", f.Time.Sub(epoch))
	}
	// A small YUYV still; the second still has its own sequence number.
	f2, err := d.Still(ctx, camera.Request{Size: camera.Size{W: 320, H: 240}, Format: camera.YUYV})
	if err != nil {
		t.Fatal(err)
	}
	if f2.Format != camera.YUYV || f2.Width != 320 || len(f2.Data) != 320*240*2 || f2.Seq != 1 {
		t.Errorf("second still %s %dx%d %d bytes seq %d", f2.Format, f2.Width, f2.Height, len(f2.Data), f2.Seq)
	}
	if _, err := d.Still(ctx, camera.Request{Format: camera.GREY}); !errors.Is(err, camera.ErrUnsupported) {
		t.Errorf("GREY still: %v, want ErrUnsupported", err)
	}
}

func TestPreviewRateAndSequence(t *testing.T) {
	d, fd, _ := newTestDev(t, Opts{})
	ctx := context.Background()
	s, err := d.Preview(ctx, camera.Request{FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Request(); r.Format != camera.YUYV || r.Size != (camera.Size{W: 640, H: 480}) || fd.fpsSet != 10 {
		t.Fatalf("preview %+v (fps set %v), want YUYV 640x480 at 10", r, fd.fpsSet)
	}
	if _, err := d.Still(ctx, camera.Request{}); !errors.Is(err, camera.ErrBusy) {
		t.Fatalf("Still during preview: %v, want ErrBusy", err)
	}
	var prev *camera.Frame
	for i := 0; i < 8; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if frameNumber(f) != f.Seq {
			t.Fatalf("frame %d: Seq %d but device frame %d", i, f.Seq, frameNumber(f))
		}
		if prev != nil {
			gap := f.Time.Sub(prev.Time)
			// A 30 frames/s device at 10 frames/s: every third frame, 100 ms apart.
			if gap < 80*time.Millisecond || gap > 110*time.Millisecond || f.Seq-prev.Seq != 3 {
				t.Fatalf("frame %d: %v after the previous, seq step %d", i, gap, f.Seq-prev.Seq)
			}
		}
		prev = f
	}
	if fd.maxOut > 1 {
		t.Errorf("held %d buffers at once; frames must be copied and released one at a time", fd.maxOut)
	}
}

func TestPreviewDrainsToNewestFrame(t *testing.T) {
	d, _, clk := newTestDev(t, Opts{})
	ctx := context.Background()
	s, err := d.Preview(ctx, camera.Request{FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	// The consumer is slow: 3 frame periods pass; all 4 buffers fill at most.
	clk.Advance(100 * time.Millisecond)
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq != 3 {
		t.Errorf("after a stall Next gave seq %d, want the newest ready frame (3)", f.Seq)
	}
}

func TestVanishMidStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode vanish
		want error
	}{
		{"DQBUF fails with ENODEV", dqbufENODEV, camera.ErrGone},
		{"poll fails with ENODEV", pollENODEV, camera.ErrGone},
		{"device stops sending", stall, camera.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, fd, clk := newTestDev(t, Opts{FrameTimeout: 3 * time.Second})
			fd.vanishAfter, fd.mode = 5, tc.mode
			ctx := context.Background()
			s, err := d.Preview(ctx, camera.Request{FPS: 30})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			start := clk.Now()
			for {
				_, err = s.Next(ctx)
				if err != nil {
					break
				}
				n++
				if n > 10 {
					t.Fatal("frames keep coming after the device vanished")
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next after vanishing: %v, want %v", err, tc.want)
			}
			if n != 5 {
				t.Errorf("%d frames before the error, want 5", n)
			}
			// Bounded: at most FrameTimeout plus one wait slice on the device's clock.
			if el := clk.Since(start); el > 5*time.Second/30+4*time.Second {
				t.Errorf("error after %v of device time", el)
			}
			if !strings.Contains(err.Error(), "/dev/video9") {
				t.Errorf("error %q does not name the device", err)
			}
			if tc.want == camera.ErrGone {
				// Sticky: the stream stays dead, immediately.
				if _, err2 := s.Next(ctx); !errors.Is(err2, camera.ErrGone) {
					t.Errorf("second Next: %v", err2)
				}
			}
			_ = s.Close()
			if err := d.Close(); err != nil && !errors.Is(err, camera.ErrGone) {
				t.Errorf("Close after vanishing: %v", err)
			}
		})
	}
}

// blockingDevice waits for real, like poll() on a stalled device, so this test shows
// that a real-time wait is bounded too.
type blockingDevice struct{ *fakeDevice }

func (b blockingDevice) WaitForFrame(timeout uint32) error {
	time.Sleep(time.Duration(timeout) * time.Second) // stands in for the kernel's poll
	return new(webcam.Timeout)
}

func TestStallBoundedInRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits one second of real time")
	}
	fd := newFake(clockwork.NewFakeClockAt(epoch))
	d, err := New(blockingDevice{fd}, "/dev/video9", &Opts{FrameTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Preview(context.Background(), camera.Request{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Next(context.Background())
	if !errors.Is(err, camera.ErrTimeout) {
		t.Fatalf("Next on a stalled device: %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("took %v, want at most FrameTimeout (1s) plus one slice", el)
	}
}

func TestContextAndHalt(t *testing.T) {
	d, fd, _ := newTestDev(t, Opts{FrameTimeout: time.Hour})
	fd.vanishAfter, fd.mode = 1, stall
	s, err := d.Preview(context.Background(), camera.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.Next(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: %v", err)
	}
	go func() { _, err := s.Next(context.Background()); done <- err }()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, camera.ErrClosed) {
		t.Errorf("Next after Halt: %v, want ErrClosed", err)
	}
	if fd.streaming {
		t.Error("still streaming after Halt")
	}
	// The camera is usable again after Halt.
	fd.vanishAfter = 0
	if _, err := d.Still(context.Background(), camera.Request{}); err != nil {
		t.Errorf("Still after Halt: %v", err)
	}
	if err := d.Close(); err != nil || !fd.closed {
		t.Errorf("Close: %v, device closed %v", err, fd.closed)
	}
	if _, err := d.Preview(context.Background(), camera.Request{}); !errors.Is(err, camera.ErrClosed) {
		t.Errorf("Preview after Close: %v", err)
	}
}

func TestShortFramesDropped(t *testing.T) {
	d, fd, _ := newTestDev(t, Opts{})
	fd.short[1], fd.short[2] = true, true
	s, err := d.Preview(context.Background(), camera.Request{FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seqs []uint64
	for range 3 {
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Data) != 640*480*2 {
			t.Fatalf("frame of %d bytes delivered", len(f.Data))
		}
		seqs = append(seqs, f.Seq)
	}
	if seqs[0] != 0 || seqs[1] != 3 || seqs[2] != 4 {
		t.Errorf("seqs %v, want [0 3 4] (1 and 2 were cut short)", seqs)
	}
}

func TestOpenMissingDevice(t *testing.T) {
	_, err := Open("/dev/captura-no-such-video", nil)
	if err == nil || !strings.Contains(err.Error(), "/dev/captura-no-such-video") {
		t.Fatalf("Open(missing) = %v, want an error naming the path", err)
	}
}

func TestReopenWhenBuffersPinTheFormat(t *testing.T) {
	d, fd, clk := newTestDev(t, Opts{Warmup: -1})
	fd.vb2Busy = true
	var opened []*fakeDevice
	d.reopen = func() (Device, error) {
		nf := newFake(clk)
		nf.vb2Busy = true
		opened = append(opened, nf)
		return nf, nil
	}
	ctx := context.Background()
	for i, req := range []camera.Request{
		{Size: camera.Size{W: 1280, H: 720}},
		{Size: camera.Size{W: 1280, H: 720}}, // same format: no reopen needed
		{Size: camera.Size{W: 320, H: 240}, Format: camera.YUYV},
	} {
		f, err := d.Still(ctx, req)
		if err != nil {
			t.Fatalf("still %d: %v", i, err)
		}
		if f.Width != req.Size.W {
			t.Fatalf("still %d: %dx%d", i, f.Width, f.Height)
		}
	}
	if len(opened) != 1 || !fd.closed {
		t.Errorf("reopened %d times (want 1), first node closed %v", len(opened), fd.closed)
	}
}
