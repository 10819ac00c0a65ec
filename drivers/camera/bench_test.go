package camera_test

import (
	"image"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
)

var (
	benchOnce            sync.Once
	benchYUYV, benchJPEG *camera.Frame
)

// benchFrames renders one 1920x1080 face frame (camerasim, LED on) as YUYV and MJPEG.
func benchFrames(b *testing.B) (*camera.Frame, *camera.Frame) {
	benchOnce.Do(func() {
		d, err := camerasim.New(&camerasim.Opts{Seed: 1, Nominal: true})
		if err != nil {
			b.Fatal(err)
		}
		img := d.Render(camera.Size{W: 1920, H: 1080}, 0, 0, 1)
		if benchYUYV, err = camera.FromImage(img, camera.YUYV); err != nil {
			b.Fatal(err)
		}
		if benchJPEG, err = camera.FromImage(img, camera.MJPEG); err != nil {
			b.Fatal(err)
		}
	})
	return benchYUYV, benchJPEG
}

func report(b *testing.B, start time.Time) {
	fps := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(fps, "frames/s")
	b.ReportMetric(fps*1920*1080/1e6, "Mpx/s")
}

func BenchmarkYUYVToGray1080p(b *testing.B) {
	f, _ := benchFrames(b)
	dst := image.NewGray(image.Rect(0, 0, 1920, 1080))
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := f.GrayTo(dst); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}

func BenchmarkYUYVToRGBA1080p(b *testing.B) {
	f, _ := benchFrames(b)
	dst := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := f.RGBATo(dst); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}

func BenchmarkYUYVToYCbCr1080p(b *testing.B) {
	f, _ := benchFrames(b)
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := f.Image(); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}

func BenchmarkMJPEGDecode1080p(b *testing.B) {
	_, f := benchFrames(b)
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := camera.DecodeJPEG(f.Data); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}

func BenchmarkMJPEGToGray1080p(b *testing.B) {
	_, f := benchFrames(b)
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := f.Gray(); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}

func BenchmarkMJPEGToRGBA1080p(b *testing.B) {
	_, f := benchFrames(b)
	dst := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	b.SetBytes(int64(len(f.Data)))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := f.RGBATo(dst); err != nil {
			b.Fatal(err)
		}
	}
	report(b, start)
}
