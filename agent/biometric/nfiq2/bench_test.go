package nfiq2_test

import (
	"image"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

func benchImage(b *testing.B, path string, workers int) {
	img, err := fpimage.ReadFile(path, nil)
	if err != nil {
		b.Skip(err)
	}
	m, err := nfiq2.New(&nfiq2.Opts{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Compute(img, 500, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}

// BenchmarkCompute416x560 is an SFinGe print (416×560).
func BenchmarkCompute416x560(b *testing.B) {
	benchImage(b, "testdata/sfinge/SFinGe_Test01.pgm", 0)
}

func BenchmarkCompute416x560Serial(b *testing.B) {
	benchImage(b, "testdata/sfinge/SFinGe_Test01.pgm", 1)
}

// BenchmarkCompute388x374 is an FVC2002 DB1_B print (evaluation-only data, skipped
// when absent).
func BenchmarkCompute388x374(b *testing.B) {
	benchImage(b, fvcPath(b, "101_1.tif"), 0)
}

func BenchmarkCompute388x374Serial(b *testing.B) {
	benchImage(b, fvcPath(b, "101_1.tif"), 1)
}

var _ = image.Rect
