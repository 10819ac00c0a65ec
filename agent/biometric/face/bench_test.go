package face

import (
	"image"
	"image/color"
	"path/filepath"
	"testing"
)

// benchFrame is a 1920×1080 YCbCr 4:2:0 frame (as decoded from a camera's MJPEG
// stream) with a testdata portrait scaled to the frame's height in its middle.
func benchFrame(b *testing.B, w, h int) image.Image {
	b.Helper()
	p := toRGBA(loadImage(b, filepath.Join("testdata", "portrait-t000472.jpg")))
	f := float64(h) / float64(p.Rect.Dy())
	return jpegRoundTrip(b, canvas(p, w, h, f, color.RGBA{120, 140, 160, 255}), 90)
}

func benchAnalyze(b *testing.B, w, h int) {
	a, err := NewAnalyzer(nil)
	if err != nil {
		b.Fatal(err)
	}
	img := benchFrame(b, w, h)
	r, err := a.Analyze(img)
	if err != nil || !r.Found {
		b.Fatalf("benchmark frame: found=%v err=%v", r != nil && r.Found, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(w * h))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Analyze(img); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkAnalyze1080p is detection + landmarks + every check on a 1920×1080
// frame (goal ≤ 50 ms on the reference 2-core machine).
func BenchmarkAnalyze1080p(b *testing.B) { benchAnalyze(b, 1920, 1080) }

// BenchmarkAnalyzePreview is the same on a 640×480 preview frame, one
// goroutine: frames/s is what one core sustains (goal ≥ 5).
func BenchmarkAnalyzePreview(b *testing.B) { benchAnalyze(b, 640, 480) }
