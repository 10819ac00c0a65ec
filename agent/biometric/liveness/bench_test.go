package liveness

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
)

// BenchmarkFingerPAD is the PAD compute for one finger presentation, device time
// excluded: hashing and sketching both R307 frames, looking them up in a full history
// of 2000 earlier captures, registering the frames and measuring the cues.
func BenchmarkFingerPAD(b *testing.B) {
	// A full history: the hashes of real captures, made under other keys so that they
	// look like 2000 unrelated earlier images.
	hist, _ := NewHistory(nil, 2000, testKey)
	imgs := placements(b, 77, 40, 1)
	for i := 0; i < 2000; i++ {
		key := bytes.Repeat([]byte{byte(i / 40), byte(i % 40)}, 16)
		other, _ := NewHistory(nil, 1, key)
		hist.Add(other.Prepare(imgs[i%len(imgs)]))
	}
	pad, _ := NewFingerPAD(0.5, hist, nil)
	live := &presentations.Live{Seed: 1, Timing: r307Timing}
	fa, fb := frames(b, live, 0)
	start := time.Now()
	for b.Loop() {
		pad.Judge(fa, fb, nil)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/item")
}

// BenchmarkFacePAD is the PAD compute for one face challenge, device time excluded:
// 12 preview frames (640×480 YUYV, already captured) reduced to luma, measured, and
// judged.
func BenchmarkFacePAD(b *testing.B) {
	level := 0.0
	cam, err := camerasim.New(&camerasim.Opts{Seed: 3, Light: camerasim.LightFunc(func() float64 { return level }), FreeRun: true})
	if err != nil {
		b.Fatal(err)
	}
	s, err := cam.Preview(context.Background(), camera.Request{Size: camera.Size{W: 640, H: 480}, FPS: 10})
	if err != nil {
		b.Fatal(err)
	}
	an, _ := face.NewAnalyzer(&face.Options{MinInterEye: 45, AdvisedInterEye: 60})
	f0, _ := s.Next(context.Background())
	img, _ := f0.Image()
	rep, err := an.Analyze(img)
	if err != nil || !rep.Found {
		b.Fatalf("no face: %v", err)
	}
	pattern := Pattern([]byte("bench"), 12)
	var fs []*camera.Frame
	for _, l := range pattern {
		level = l
		f, err := s.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		fs = append(fs, f)
	}
	g, _ := geometry(rep, camera.Size{W: 640, H: 480})
	c, _ := NewIlluminationChallenge(&nopLED{}, 0.5, nil)
	start := time.Now()
	for b.Loop() {
		frames := make([]faceFrame, 0, len(fs))
		for _, f := range fs {
			gray, err := f.Gray()
			if err != nil {
				b.Fatal(err)
			}
			frames = append(frames, g.extract(gray, &lutLimited))
		}
		c.judge(frames, pattern)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/item")
}

type nopLED struct{ levels []float64 }

func (l *nopLED) Illuminate(v float64) error { l.levels = append(l.levels, v); return nil }
