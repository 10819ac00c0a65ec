package minutiae

import (
	"math"
	"sort"
)

// nOrient is the number of quantised ridge directions over [0, π).
const nOrient = 24

// Ridge period limits in pixels at 500 ppi (about 20 to 100 ridges per inch... the
// physical range of adult and child fingers with margin).
const (
	minPeriod = 4.0
	maxPeriod = 16.0
	// periodStep quantises periods for the filter bank.
	periodStep = 0.5
)

// dirOf returns the unit ridge tangent (image coordinates, y down) of orientation bin b.
func dirOf(b int) (float64, float64) {
	th := float64(b) * math.Pi / nOrient
	return math.Cos(th), math.Sin(th)
}

// period estimates the ridge period of every foreground block from the grey profile
// across the ridges, then smooths it over neighbouring blocks.
func (x *work) period() {
	w, h, bw, bh := x.w, x.h, x.bw, x.bh
	raw := make([]float32, bw*bh) // 0 = unknown
	const nAcross, nAlong = 32, 7
	// Sample positions relative to the block centre, per orientation bin.
	var offs [nOrient][nAcross][nAlong][2]int
	for b := range nOrient {
		tx, ty := dirOf(b)
		nx, ny := -ty, tx
		for t := range nAcross {
			ft := float64(t - nAcross/2)
			for a := range nAlong {
				fa := float64(2 * (a - nAlong/2))
				offs[b][t][a] = [2]int{int(math.Round(ft*nx + fa*tx)), int(math.Round(ft*ny + fa*ty))}
			}
		}
	}
	var sig [nAcross]float64
	var valid []float64
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			k := by*bw + bx
			if !x.fg[k] {
				continue
			}
			cx := bx*blockSize + blockSize/2
			cy := by*blockSize + blockSize/2
			ob := &offs[x.obin[k]]
			inside := cx-24 >= 0 && cy-24 >= 0 && cx+24 < w && cy+24 < h
			for t := range nAcross {
				s := 0
				for _, o := range ob[t] {
					px, py := cx+o[0], cy+o[1]
					if !inside {
						px = min(max(px, 0), w-1)
						py = min(max(py, 0), h-1)
					}
					s += int(x.grey[py*w+px])
				}
				sig[t] = float64(s)
			}
			// Smooth [1 2 1] and find minima (ridge centres, ridges are dark).
			var sm [nAcross]float64
			for t := range nAcross {
				a := sig[max(t-1, 0)]
				c := sig[min(t+1, nAcross-1)]
				sm[t] = a + 2*sig[t] + c
			}
			first, last, n := -1, -1, 0
			for t := 1; t < nAcross-1; t++ {
				if sm[t] < sm[t-1] && sm[t] <= sm[t+1] {
					if first < 0 {
						first = t
					}
					last = t
					n++
				}
			}
			if n >= 2 {
				per := float64(last-first) / float64(n-1)
				if per >= minPeriod-1 && per <= maxPeriod+2 {
					raw[k] = float32(per)
					valid = append(valid, per)
				}
			}
		}
	}
	global := 9.0 // typical adult ridge period at 500 ppi
	if len(valid) > 0 {
		sort.Float64s(valid)
		global = valid[len(valid)/2]
	}
	const r = 2
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			k := by*bw + bx
			s, n := 0.0, 0.0
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					xx, yy := bx+dx, by+dy
					if xx < 0 || yy < 0 || xx >= bw || yy >= bh {
						continue
					}
					if v := raw[yy*bw+xx]; v > 0 {
						s += float64(v)
						n++
					}
				}
			}
			per := global
			if n >= 3 {
				per = s / n
			}
			x.per[k] = float32(min(max(per, minPeriod), maxPeriod))
		}
	}
}

// filterBank holds the oriented kernels as index offsets into a padded image.
type filterBank struct {
	pad, pw  int
	alongOff [nOrient][]int32
	alongW   []float32
	across   [][]kernel1 // [period bin][orientation]
}

type kernel1 struct {
	off []int32
	wt  []float32
}

func nPeriodBins() int { return int((maxPeriod-minPeriod)/periodStep) + 1 }

func newFilterBank(w int, p *params) *filterBank {
	// Along the ridges the image changes slowly: taps every second pixel to 2σ.
	la := int(math.Ceil(2*p.alongSigma/2)) * 2
	maxLx := int(math.Ceil(2 * p.acrossSigmaFrac * maxPeriod))
	pad := max(la, maxLx) + 1
	pw := w + 2*pad
	fb := &filterBank{pad: pad, pw: pw}
	fb.alongW = make([]float32, la+1)
	sum := 0.0
	for i := range fb.alongW {
		d := float64(2*i - la)
		v := math.Exp(-d * d / (2 * p.alongSigma * p.alongSigma))
		fb.alongW[i] = float32(v)
		sum += v
	}
	for i := range fb.alongW {
		fb.alongW[i] /= float32(sum)
	}
	for b := range nOrient {
		tx, ty := dirOf(b)
		off := make([]int32, la+1)
		for i := range off {
			d := float64(2*i - la)
			off[i] = int32(int(math.Round(d*ty))*pw + int(math.Round(d*tx)))
		}
		fb.alongOff[b] = off
	}
	np := nPeriodBins()
	fb.across = make([][]kernel1, np)
	for pi := range np {
		T := minPeriod + float64(pi)*periodStep
		sig := p.acrossSigmaFrac * T
		lx := int(math.Ceil(2 * sig))
		env := make([]float64, 2*lx+1)
		cv := make([]float64, 2*lx+1)
		se, sc := 0.0, 0.0
		for i := range env {
			d := float64(i - lx)
			env[i] = math.Exp(-d * d / (2 * sig * sig))
			cv[i] = env[i] * math.Cos(2*math.Pi*d/T)
			se += env[i]
			sc += cv[i]
		}
		// Remove the DC response so that only ridge/valley contrast counts.
		wt := make([]float32, 2*lx+1)
		for i := range wt {
			wt[i] = float32(cv[i] - sc/se*env[i])
		}
		ks := make([]kernel1, nOrient)
		for b := range nOrient {
			tx, ty := dirOf(b)
			nx, ny := -ty, tx
			off := make([]int32, 2*lx+1)
			for i := range off {
				d := float64(i - lx)
				off[i] = int32(int(math.Round(d*ny))*pw + int(math.Round(d*nx)))
			}
			ks[b] = kernel1{off: off, wt: wt}
		}
		fb.across[pi] = ks
	}
	return fb
}

// enhance filters the image with the oriented, period-tuned filter bank. The result is
// negative on ridges.
func (x *work) enhance(p *params) {
	w, h, bw := x.w, x.h, x.bw
	fb := newFilterBank(w, p)
	pad, pw := fb.pad, fb.pw
	ph := h + 2*pad
	src := make([]float32, pw*ph)
	for y := range ph {
		sy := min(max(y-pad, 0), h-1)
		row := x.grey[sy*w : sy*w+w]
		d := src[y*pw : y*pw+pw]
		for i := range pad {
			d[i] = float32(row[0])
			d[pad+w+i] = float32(row[w-1])
		}
		for i, v := range row {
			d[pad+i] = float32(v)
		}
	}
	// Blocks that need the along-ridge pass: foreground dilated by the across reach.
	reach := (pad + blockSize - 1) / blockSize
	need := make([]bool, len(x.fg))
	for by := 0; by < x.bh; by++ {
		for bx := 0; bx < bw; bx++ {
			if !x.fg[by*bw+bx] {
				continue
			}
			for yy := max(by-reach, 0); yy <= min(by+reach, x.bh-1); yy++ {
				for xx := max(bx-reach, 0); xx <= min(bx+reach, bw-1); xx++ {
					need[yy*bw+xx] = true
				}
			}
		}
	}
	tmp := make([]float32, len(src))
	copy(tmp, src)
	aw := fb.alongW
	// Each block uses one kernel: filter its rows eight pixels at a time, which keeps
	// the inner loop on contiguous memory with a single bounds check per tap.
	for by := 0; by < x.bh; by++ {
		for bx := 0; bx < bw; bx++ {
			k := by*bw + bx
			if !need[k] {
				continue
			}
			off := fb.alongOff[x.obin[k]]
			n := min(blockSize, w-bx*blockSize)
			for y := by * blockSize; y < min(by*blockSize+blockSize, h); y++ {
				base := (y+pad)*pw + pad + bx*blockSize
				var acc [blockSize]float32
				filterRow(&acc, src, base, off, aw)
				copy(tmp[base:base+n], acc[:n])
			}
		}
	}
	enh := make([]float32, w*h)
	for by := 0; by < x.bh; by++ {
		for bx := 0; bx < bw; bx++ {
			k := by*bw + bx
			if !x.fg[k] {
				continue
			}
			pi := int(math.Round((float64(x.per[k]) - minPeriod) / periodStep))
			kr := &fb.across[pi][x.obin[k]]
			n := min(blockSize, w-bx*blockSize)
			for y := by * blockSize; y < min(by*blockSize+blockSize, h); y++ {
				base := (y+pad)*pw + pad + bx*blockSize
				var acc [blockSize]float32
				filterRow(&acc, tmp, base, kr.off, kr.wt)
				o := y*w + bx*blockSize
				copy(enh[o:o+n], acc[:n])
			}
		}
	}
	x.enh = enh
}

// filterRow accumulates, for the eight pixels from base, the taps off weighted by wt.
func filterRow(acc *[blockSize]float32, src []float32, base int, off []int32, wt []float32) {
	wt = wt[:len(off)]
	for j, o := range off {
		i := base + int(o)
		v := src[i : i+blockSize : i+blockSize]
		c := wt[j]
		acc[0] += c * v[0]
		acc[1] += c * v[1]
		acc[2] += c * v[2]
		acc[3] += c * v[3]
		acc[4] += c * v[4]
		acc[5] += c * v[5]
		acc[6] += c * v[6]
		acc[7] += c * v[7]
	}
}

// binarise marks ridge pixels (negative response) of the foreground.
func (x *work) binarise() {
	w, h := x.w, x.h
	x.skel = make([]uint8, w*h)
	for y := 1; y < h-1; y++ {
		brow := (y / blockSize) * x.bw
		for xx := 1; xx < w-1; xx++ {
			if x.fg[brow+xx/blockSize] && x.enh[y*w+xx] < 0 {
				x.skel[y*w+xx] = 1
			}
		}
	}
}
