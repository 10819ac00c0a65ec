package nfiq2

import (
	"math"
	"testing"
)

func TestLineQR(t *testing.T) {
	// Exact line: the fit must recover it (to the 10-decimal rounding).
	var y [rvCols]float64
	for i := range y {
		y[i] = 7.25 - 0.375*float64(i+1)
	}
	c0, c1 := theLineQR.solve(&y)
	if round10(c0) != 7.25 || round10(c1) != -0.375 {
		t.Errorf("line: intercept %v slope %v", c0, c1)
	}
	// General data: compare with the normal equations.
	var sx, sy, sxx, sxy float64
	for i := range y {
		x := float64(i + 1)
		y[i] = math.Mod(float64(i*i*37), 101) / 16
		sx, sy, sxx, sxy = sx+x, sy+y[i], sxx+x*x, sxy+x*y[i]
	}
	n := float64(rvCols)
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	icept := (sy - slope*sx) / n
	c0, c1 = theLineQR.solve(&y)
	if math.Abs(c0-icept) > 1e-12 || math.Abs(c1-slope) > 1e-12 {
		t.Errorf("fit %v %v, normal equations %v %v", c0, c1, icept, slope)
	}
}

func TestRidgeValleyClasses(t *testing.T) {
	// 16 rows × 32 columns: columns alternate dark (ridge) and light in runs of 4.
	v := make([]uint8, 16*rvCols)
	for r := 0; r < 16; r++ {
		for c := 0; c < rvCols; c++ {
			if c/4%2 == 0 {
				v[r*rvCols+c] = 40
			} else {
				v[r*rvCols+c] = 200
			}
		}
	}
	var rv ridgeValley
	rv.compute(v, 16)
	for c := 0; c < rvCols; c++ {
		if rv.ridge[c] != (c/4%2 == 0) {
			t.Fatalf("column %d: ridge %v", c, rv.ridge[c])
		}
	}
}
