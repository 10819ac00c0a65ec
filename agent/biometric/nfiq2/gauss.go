package nfiq2

import "math"

// OpenCV's bit-exact 8-bit Gaussian blur (cv::GaussianBlur on CV_8U with sigma 0), as
// NIST's region-of-interest segmentation uses it:
//
//   - the kernel is computed in soft double precision with OpenCV's own exp(), with
//     sigma = 0.15·n + 0.35 (one fused multiply-add), normalised to sum 1;
//   - it is quantised to 8 fractional bits by error diffusion from the outside in, the
//     centre taking whatever makes the sum exactly 256;
//   - rows are filtered first into 16-bit values with 8 fractional bits, then columns
//     into 32-bit values with 16, which are rounded half up to 8 bits; both passes
//     reflect at the border (BORDER_REFLECT_101).
//
// All of it is exact integer arithmetic once the kernel is known, so the order of
// the passes and of the sums does not change the result.

// gaussKernel8 returns OpenCV's 8-bit fixed-point Gaussian kernel of odd size n for
// sigma 0 (derived from n).
func gaussKernel8(n int) []int32 {
	kd := gaussKernelBitExact(n)
	out := make([]int32, n)
	const mult = 256.0
	n2 := n / 2
	errAcc := 0.0
	sum := int32(0)
	for i := 0; i < n2; i++ {
		adj := float64(kd[i]*mult) + errAcc
		v := int32(math.RoundToEven(adj))
		errAcc = adj - float64(v)
		out[i], out[n-1-i] = v, v
		sum += v
	}
	out[n2] = 256 - 2*sum
	return out
}

// gaussKernelBitExact is OpenCV's getGaussianKernelBitExact for sigma <= 0 and n > 9
// (smaller kernels have fixed binomial values and are not used here).
func gaussKernelBitExact(n int) []float64 {
	sigma := math.FMA(float64(n), math.Float64frombits(0x3fc3333333333333), math.Float64frombits(0x3fd6666666666666))
	scale2X := -0.125 / float64(sigma*sigma)
	n2 := (n - 1) / 2
	values := make([]float64, n2)
	sum := 0.0
	for i, x := 0, 1-n; i < n2; i, x = i+1, x+2 {
		t := softExp(float64(x*x) * scale2X)
		values[i] = t
		sum += t
	}
	sum *= 2
	sum += 1
	mul1 := 1 / sum
	res := make([]float64, n)
	for i := 0; i < n2; i++ {
		t := values[i] * mul1
		res[i], res[n-1-i] = t, t
	}
	res[n2] = mul1
	return res
}

// softExp is OpenCV's softfloat exp(): 2^(x·log2 e) split into a power of two, a
// 64-entry table of 2^(k/64) and a degree-5 polynomial, each step rounded to double.
func softExp(x float64) float64 {
	if math.IsNaN(x) {
		return x
	}
	if math.IsInf(x, 0) {
		if x > 0 {
			return x
		}
		return 0
	}
	const tabScale = 6
	a0 := math.Float64frombits(0x3f83ce0f3e46f431)
	prescale := math.Float64frombits(0x3ff71547652b82fe) * float64(1<<tabScale)
	postscale := 1 / float64(1<<tabScale)
	maxVal := float64(3000 * (1 << tabScale))
	A5 := 1 / a0
	A4 := math.Float64frombits(0x3fe62e42fefa39f1) / a0
	A3 := math.Float64frombits(0x3fcebfbdff82a45a) / a0
	A2 := math.Float64frombits(0x3fac6b08d81fec75) / a0
	A1 := math.Float64frombits(0x3f83b2a72b4f3cd3) / a0
	A0 := math.Float64frombits(0x3f55e7aa1566c2a4) / a0

	var x0 float64
	if int(math.Float64bits(x)>>52&0x7FF) > 1023+10 {
		x0 = maxVal
		if x < 0 {
			x0 = -maxVal
		}
	} else {
		x0 = x * prescale
	}
	val0 := int(math.RoundToEven(x0))
	t := (val0 >> tabScale) + 1023
	t = max(0, min(2047, t))
	buf := math.Float64frombits(uint64(t) << 52)
	x0 = (x0 - math.RoundToEven(x0)) * postscale
	poly := float64(A0*x0) + A1
	poly = float64(poly*x0) + A2
	poly = float64(poly*x0) + A3
	poly = float64(poly*x0) + A4
	poly = float64(poly*x0) + A5
	return buf * a0 * math.Float64frombits(expTab[val0&(1<<tabScale-1)]) * poly
}

// expTab[k] = 2^(k/64), as in OpenCV's softfloat.
var expTab = [64]uint64{
	0x3ff0000000000000, 0x3ff02c9a3e778061, 0x3ff059b0d3158574, 0x3ff0874518759bc8,
	0x3ff0b5586cf9890f, 0x3ff0e3ec32d3d1a2, 0x3ff11301d0125b51, 0x3ff1429aaea92de0,
	0x3ff172b83c7d517b, 0x3ff1a35beb6fcb75, 0x3ff1d4873168b9aa, 0x3ff2063b88628cd6,
	0x3ff2387a6e756238, 0x3ff26b4565e27cdd, 0x3ff29e9df51fdee1, 0x3ff2d285a6e4030b,
	0x3ff306fe0a31b715, 0x3ff33c08b26416ff, 0x3ff371a7373aa9cb, 0x3ff3a7db34e59ff7,
	0x3ff3dea64c123422, 0x3ff4160a21f72e2a, 0x3ff44e086061892d, 0x3ff486a2b5c13cd0,
	0x3ff4bfdad5362a27, 0x3ff4f9b2769d2ca7, 0x3ff5342b569d4f82, 0x3ff56f4736b527da,
	0x3ff5ab07dd485429, 0x3ff5e76f15ad2148, 0x3ff6247eb03a5585, 0x3ff6623882552225,
	0x3ff6a09e667f3bcd, 0x3ff6dfb23c651a2f, 0x3ff71f75e8ec5f74, 0x3ff75feb564267c9,
	0x3ff7a11473eb0187, 0x3ff7e2f336cf4e62, 0x3ff82589994cce13, 0x3ff868d99b4492ed,
	0x3ff8ace5422aa0db, 0x3ff8f1ae99157736, 0x3ff93737b0cdc5e5, 0x3ff97d829fde4e50,
	0x3ff9c49182a3f090, 0x3ffa0c667b5de565, 0x3ffa5503b23e255d, 0x3ffa9e6b5579fdbf,
	0x3ffae89f995ad3ad, 0x3ffb33a2b84f15fb, 0x3ffb7f76f2fb5e47, 0x3ffbcc1e904bc1d2,
	0x3ffc199bdd85529c, 0x3ffc67f12e57d14b, 0x3ffcb720dcef9069, 0x3ffd072d4a07897c,
	0x3ffd5818dcfba487, 0x3ffda9e603db3285, 0x3ffdfc97337b9b5f, 0x3ffe502ee78b3ff6,
	0x3ffea4afa2a490da, 0x3ffefa1bee615a27, 0x3fff50765b6e4540, 0x3fffa7c1819e90d8,
}

// reflect101 maps an index outside 0..n-1 into it as BORDER_REFLECT_101 does
// (…, 2, 1 | 0, 1, 2, … n-2, n-1 | n-2, …).
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		} else {
			i = 2*n - 2 - i
		}
	}
	return i
}

// gaussBlur8 blurs src (w×h) into dst with the symmetric fixed-point kernel k. tmp must
// hold h*((w+1)/2) words (the row-filtered image, two pixels to a word). par runs a pass over row ranges, possibly in parallel. When
// binary is set, src holds only 0 and 255 and the row pass sums the kernel over runs.
func gaussBlur8(src []uint8, w, h int, k []int32, binary bool, tmp []uint64, dst []uint8, par func(n int, f func(lo, hi int))) {
	// Horizontal pass: tmp = Σ k[i]·src (8 fractional bits, at most 255·256).
	if binary {
		hlineBinary(src, w, h, k, tmp, par)
	} else {
		hline(src, w, h, k, tmp, par)
	}
	vline(w, h, k, tmp, dst, par)
}

// The passes run two pixels at a time in the two 32-bit halves of a uint64: every
// partial sum of a pixel stays below 255·256·256 < 2^32, so the halves never carry
// into each other.

func hline(src []uint8, w, h int, k []int32, tmp []uint64, par func(n int, f func(lo, hi int))) {
	r := len(k) / 2
	pairs := (w + 1) / 2
	n := w + 2*r // extended row length
	idx := make([]int, n+1)
	for e := range idx {
		if e < n {
			idx[e] = reflect101(e-r, w)
		} else {
			idx[e] = -1 // beyond the extended row: 0
		}
	}
	par(h, func(y0, y1 int) {
		// even[q] and odd[q] hold the extended row's pixels 2q, 2q+1 and 2q+1, 2q+2, so
		// that the pair of outputs 2p, 2p+1 reads tap o from one contiguous slice.
		half := n/2 + 1
		even := make([]uint64, half+1)
		odd := make([]uint64, half+1)
		acc := make([]uint64, pairs)
		px := func(row []uint8, e int) uint64 {
			if e > n || idx[e] < 0 {
				return 0
			}
			return uint64(row[idx[e]])
		}
		tap := func(o int) []uint64 {
			if o&1 == 0 {
				return even[o/2 : o/2+pairs]
			}
			return odd[o/2 : o/2+pairs]
		}
		for y := y0; y < y1; y++ {
			row := src[y*w : (y+1)*w]
			for q := range even {
				even[q] = px(row, 2*q) | px(row, 2*q+1)<<32
				odd[q] = px(row, 2*q+1) | px(row, 2*q+2)<<32
			}
			kc := uint64(k[r])
			c := tap(r)
			c = c[:len(acc)]
			for p := range acc {
				acc[p] = kc * c[p]
			}
			for i := 0; i < r; i++ {
				ki := uint64(k[i])
				if ki == 0 {
					continue
				}
				a, b := tap(i), tap(2*r-i)
				a, b = a[:len(acc)], b[:len(acc)]
				for p := range acc {
					acc[p] += ki * (a[p] + b[p])
				}
			}
			copy(tmp[y*pairs:(y+1)*pairs], acc)
		}
	})
}

// hlineBinary is hline for an image of 0 and 255: with K the prefix sums of the kernel,
// each run of 255 in the reflected row adds 255·(K[end] - K[start]) over the part of
// the run inside the window.
func hlineBinary(src []uint8, w, h int, k []int32, tmp []uint64, par func(n int, f func(lo, hi int))) {
	r := len(k) / 2
	n := len(k)
	pairs := (w + 1) / 2
	K := make([]uint32, n+1)
	for i, v := range k {
		K[i+1] = K[i] + uint32(v)
	}
	par(h, func(y0, y1 int) {
		starts := make([]int, 0, 16)
		ends := make([]int, 0, 16)
		for y := y0; y < y1; y++ {
			row := src[y*w : (y+1)*w]
			starts, ends = starts[:0], ends[:0]
			in := false
			for e := 0; e < w+2*r; e++ {
				on := row[reflect101(e-r, w)] != 0
				if on && !in {
					starts = append(starts, e)
				} else if !on && in {
					ends = append(ends, e)
				}
				in = on
			}
			if in {
				ends = append(ends, w+2*r)
			}
			out := tmp[y*pairs : (y+1)*pairs]
			first := 0
			for x := 0; x < w; x++ {
				for first < len(ends) && ends[first] <= x {
					first++
				}
				acc := uint32(0)
				for j := first; j < len(starts) && starts[j] < x+n; j++ {
					a, b := max(starts[j], x)-x, min(ends[j], x+n)-x
					acc += K[b] - K[a]
				}
				out[x/2] = out[x/2]&^(0xFFFFFFFF<<(32*(x&1))) | uint64(255*acc)<<(32*(x&1))
			}
		}
	})
}

// vline is the vertical pass: Σ k[j]·tmp (16 fractional bits), rounded half up to 8
// bits.
func vline(w, h int, k []int32, packed []uint64, dst []uint8, par func(n int, f func(lo, hi int))) {
	r := len(k) / 2
	pairs := (w + 1) / 2
	par(h, func(y0, y1 int) {
		acc := make([]uint64, pairs)
		for y := y0; y < y1; y++ {
			kc := uint64(k[r])
			c := packed[y*pairs : (y+1)*pairs]
			for p := range acc {
				acc[p] = kc * c[p]
			}
			for i := 0; i < r; i++ {
				ki := uint64(k[i])
				if ki == 0 {
					continue
				}
				a := packed[reflect101(y-r+i, h)*pairs:][:pairs]
				b := packed[reflect101(y+r-i, h)*pairs:][:pairs]
				a, b = a[:len(acc)], b[:len(acc)]
				for p := range acc {
					acc[p] += ki * (a[p] + b[p])
				}
			}
			out := dst[y*w : (y+1)*w]
			const half = 1 << 15
			for p, v := range acc {
				out[2*p] = uint8(min((v&0xFFFFFFFF+half)>>16, 255))
				if 2*p+1 < w {
					out[2*p+1] = uint8(min((v>>32+half)>>16, 255))
				}
			}
		}
	})
}
