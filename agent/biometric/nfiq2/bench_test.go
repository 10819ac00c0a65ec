package nfiq2_test

import (
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

// BenchmarkLoad is the cost of nfiq2.Load: decoding the embedded forest (NIST's tool
// takes about 0.54 s to load its YAML model on this kind of machine).
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nfiq2.Load(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/load")
}
