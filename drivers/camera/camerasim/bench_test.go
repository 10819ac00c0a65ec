package camerasim

import (
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/camera"
)

// BenchmarkRender: one frame per species and size (scene time advancing, LED on).
func BenchmarkRender(b *testing.B) {
	for _, size := range []camera.Size{{W: 320, H: 240}, {W: 640, H: 480}, {W: 1920, H: 1080}} {
		for _, sp := range AllSpecies() {
			if size.W == 1920 && sp != BonaFide {
				continue
			}
			b.Run(sp.String()+"-"+size.String(), func(b *testing.B) {
				d, err := New(&Opts{Species: sp, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size.Pixels() * 4))
				start := time.Now()
				seq := uint64(0)
				for b.Loop() {
					d.Render(size, seq, time.Duration(seq)*time.Second/15, 1)
					seq++
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
			})
		}
	}
}
