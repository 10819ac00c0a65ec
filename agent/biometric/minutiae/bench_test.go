package minutiae

import (
	"image"
	"path/filepath"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

func benchExtract(b *testing.B, img *image.Gray) {
	b.Helper()
	b.SetBytes(int64(len(img.Pix)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ms, err := Extract(img, 500)
		if err != nil {
			b.Fatal(err)
		}
		n = len(ms)
	}
	b.ReportMetric(float64(n), "minutiae")
}

// BenchmarkExtract416x560 runs on a 416×560 SFinGe print (NIST's example size).
func BenchmarkExtract416x560(b *testing.B) {
	img, err := fpimage.ReadFile(filepath.Join("testdata", "sfinge", "SFinGe_Test01.pgm"), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchExtract(b, img)
}

// BenchmarkExtract388x374 runs on an FVC2002 DB1 image (eval-only, read from
// ../shared; skipped when absent).
func BenchmarkExtract388x374(b *testing.B) {
	sh := sharedDir()
	if sh == "" {
		b.Skip("../shared absent")
	}
	img, err := fpimage.ReadFile(filepath.Join(sh, "data", "fingerprints", "eval-only", "fvc2002-db1b", "102_1.tif"), nil)
	if err != nil {
		b.Skip("FVC2002 image absent: ", err)
	}
	benchExtract(b, img)
}
