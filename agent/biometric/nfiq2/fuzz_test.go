package nfiq2_test

import (
	"errors"
	"image"
	"math"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2"
)

// FuzzCompute: any 8-bit image and any minutiae give a result or an error of one of
// NIST's classes, never a panic, and a score in 0..100.
func FuzzCompute(f *testing.F) {
	f.Add(uint16(0), uint16(0), []byte{0, 255, 128, 7}, []byte{10, 10})
	f.Add(uint16(60), uint16(100), []byte("ridges and valleys"), []byte{})
	f.Add(uint16(604), uint16(804), []byte{255}, []byte{1, 2, 3})
	f.Add(uint16(2), uint16(9), []byte{250, 251, 252, 0}, []byte{200, 200, 0, 0})
	m, err := nfiq2.New(&nfiq2.Opts{Workers: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dw, dh uint16, pattern, minBytes []byte) {
		w, h := 190+int(dw%620), 190+int(dh%820)
		if len(pattern) == 0 {
			pattern = []byte{0}
		}
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			// The pattern, stretched so that it makes structure at several scales.
			img.Pix[i] = pattern[(i/(1+int(pattern[0]%7))+i/w)%len(pattern)]
		}
		var mins []minutiae.Minutia
		for i := 0; i+1 < len(minBytes); i += 2 {
			mins = append(mins, minutiae.Minutia{X: int(minBytes[i]) * 3, Y: int(minBytes[i+1]) * 3})
		}
		res, err := m.Compute(img, 500, mins)
		if err != nil {
			if !errors.Is(err, nfiq2.ErrInvalidImageSize) && !errors.Is(err, nfiq2.ErrMeasure) {
				t.Fatalf("error of no NIST class: %v", err)
			}
			return
		}
		if res.UnifiedQualityScore < 0 || res.UnifiedQualityScore > 100 {
			t.Fatalf("score %d", res.UnifiedQualityScore)
		}
		for i, v := range res.Measures {
			if math.IsInf(v, 0) || (math.IsNaN(v) && !nfiq2.FromMinutiae(i)) {
				t.Fatalf("%s = %v", nfiq2.MeasureName(i), v)
			}
		}
	})
}
