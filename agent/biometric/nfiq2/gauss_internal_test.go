package nfiq2

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGaussKernels(t *testing.T) {
	for _, n := range []int{41, 91} {
		k := gaussKernel8(n)
		kd := gaussKernelBitExact(n)
		sum := int32(0)
		cum := 0.0 // error diffusion keeps the running quantisation error within 1/2
		for i, v := range k {
			sum += v
			if v != k[n-1-i] || v < 0 {
				t.Fatalf("kernel %d not symmetric and non-negative at %d", n, i)
			}
			if i < n/2 {
				if cum += float64(v) - 256*kd[i]; cum > 0.5 || cum < -0.5 {
					t.Fatalf("kernel %d: running quantisation error %v at %d", n, cum, i)
				}
			}
		}
		if sum != 256 {
			t.Errorf("kernel %d sums to %d, want 256", n, sum)
		}
	}
	// The soft exp agrees with math.Exp to a few ulps where the kernels use it.
	for _, x := range []float64{0, -1e-3, -0.5, -1, -5.17, -10, -20} {
		got, want := softExp(x), mathExp(x)
		if d := (got - want) / want; d > 1e-14 || d < -1e-14 {
			t.Errorf("softExp(%v) = %v, exp %v", x, got, want)
		}
	}
}

// separableBlur is a plain row-then-column convolution with the same fixed-point kernel
// and border, in exact integers.
func separableBlur(src []uint8, w, h int, k []int32) []uint8 {
	r := len(k) / 2
	tmp := make([]uint64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for i := -r; i <= r; i++ {
				tmp[y*w+x] += uint64(k[i+r]) * uint64(src[y*w+reflect101(x+i, w)])
			}
		}
	}
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc uint64
			for j := -r; j <= r; j++ {
				acc += uint64(k[j+r]) * tmp[reflect101(y+j, h)*w+x]
			}
			out[y*w+x] = uint8(min((acc+1<<15)>>16, 255))
		}
	}
	return out
}

// naiveBlur is a direct 2-D convolution with the same fixed-point kernel and border.
func naiveBlur(src []uint8, w, h int, k []int32) []uint8 {
	r := len(k) / 2
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc uint64
			for j := -r; j <= r; j++ {
				yy := reflect101(y+j, h)
				for i := -r; i <= r; i++ {
					xx := reflect101(x+i, w)
					acc += uint64(k[j+r]) * uint64(k[i+r]) * uint64(src[yy*w+xx])
				}
			}
			out[y*w+x] = uint8(min((acc+1<<15)>>16, 255))
		}
	}
	return out
}

func TestGaussBlurMatchesDirectConvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	serial := func(n int, f func(lo, hi int)) { f(0, n) }
	twoWay := func(n int, f func(lo, hi int)) { f(0, n/2); f(n/2, n) }
	for _, sz := range [][2]int{{50, 47}, {61, 60}, {131, 200}} {
		w, h := sz[0], sz[1]
		grey := make([]uint8, w*h)
		bin := make([]uint8, w*h)
		for i := range grey {
			grey[i] = uint8(rng.IntN(256))
			if (i%w)/7%2 == (i/w)/5%2 || rng.IntN(20) == 0 {
				bin[i] = 255
			}
		}
		for _, k := range [][]int32{gaussKernel8(41), gaussKernel8(91)} {
			if len(k)/2 >= min(w, h) {
				continue // OpenCV needs the image larger than the kernel radius
			}
			for name, tc := range map[string]struct {
				src    []uint8
				binary bool
			}{"grey": {grey, false}, "binary": {bin, false}, "binary runs": {bin, true}} {
				want := separableBlur(tc.src, w, h, k)
				if len(k) == 41 && w*h < 3000 {
					if direct := naiveBlur(tc.src, w, h, k); string(direct) != string(want) {
						t.Fatal("separable and direct references differ")
					}
				}
				for _, par := range []func(int, func(int, int)){serial, twoWay} {
					got := make([]uint8, w*h)
					gaussBlur8(tc.src, w, h, k, tc.binary, make([]uint64, h*((w+1)/2)), got, par)
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%dx%d kernel %d %s: pixel (%d,%d) = %d, direct convolution %d",
								w, h, len(k), name, i%w, i/w, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func mathExp(x float64) float64 { return math.Exp(x) }
