package pico

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
)

// Localizer is a pico landmark localiser (the puploc and lps files): stages of
// regression trees whose leaves hold a (Δrow, Δcol) displacement in units of the
// current window size. After each stage the estimate moves by the stage's summed
// displacement and the window shrinks by the file's scale multiplier.
type Localizer struct {
	stages, trees, depth int
	scaleMul             float32
	codes                []int8    // per tree 4·(2^depth−1) bytes: node n's test at 4n
	preds                []float32 // per tree 2·2^depth: (Δrow, Δcol) per leaf
}

const localizerHeaderLen = 16

// ParseLocalizer decodes a landmark localiser in the puploc/lps binary layout.
func ParseLocalizer(b []byte) (*Localizer, error) {
	if len(b) < localizerHeaderLen {
		return nil, formatErr("localizer is %d bytes, shorter than its %d-byte header", len(b), localizerHeaderLen)
	}
	stages := int32(binary.LittleEndian.Uint32(b[0:]))
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b[4:]))
	trees := int32(binary.LittleEndian.Uint32(b[8:]))
	depth := int32(binary.LittleEndian.Uint32(b[12:]))
	if stages < 1 || stages > 64 {
		return nil, formatErr("localizer stage count %d outside 1..64", stages)
	}
	if !finite32(scale) || scale <= 0 || scale > 4 {
		return nil, formatErr("localizer scale multiplier %v outside (0, 4]", scale)
	}
	if trees < 1 || trees > 1024 {
		return nil, formatErr("localizer trees per stage %d outside 1..1024", trees)
	}
	if depth < 1 || depth > maxTreeDepth {
		return nil, formatErr("localizer tree depth %d outside 1..%d", depth, maxTreeDepth)
	}
	l := &Localizer{stages: int(stages), trees: int(trees), depth: int(depth), scaleMul: scale}
	leaves := 1 << l.depth
	n := l.stages * l.trees
	if n > maxTrees {
		return nil, formatErr("localizer has %d trees, more than %d", n, maxTrees)
	}
	treeLen := 4*(leaves-1) + 8*leaves
	want := localizerHeaderLen + n*treeLen
	if len(b) != want {
		return nil, formatErr("localizer of %d×%d trees of depth %d needs %d bytes, have %d", stages, trees, depth, want, len(b))
	}
	l.codes = make([]int8, n*4*(leaves-1))
	l.preds = make([]float32, n*2*leaves)
	p := localizerHeaderLen
	for t := 0; t < n; t++ {
		dst := l.codes[t*4*(leaves-1) : (t+1)*4*(leaves-1)]
		for i := range dst {
			dst[i] = int8(b[p+i])
		}
		p += 4 * (leaves - 1)
		for i := 0; i < 2*leaves; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
			if !finite32(v) || math.Abs(float64(v)) > 1e3 {
				return nil, formatErr("localizer tree %d output %d is not a finite displacement", t, i)
			}
			l.preds[t*2*leaves+i] = v
			p += 4
		}
	}
	return l, nil
}

// MarshalBinary encodes l in the layout ParseLocalizer reads.
func (l *Localizer) MarshalBinary() ([]byte, error) {
	leaves := 1 << l.depth
	n := l.stages * l.trees
	out := make([]byte, localizerHeaderLen, localizerHeaderLen+n*(4*(leaves-1)+8*leaves))
	binary.LittleEndian.PutUint32(out[0:], uint32(l.stages))
	binary.LittleEndian.PutUint32(out[4:], math.Float32bits(l.scaleMul))
	binary.LittleEndian.PutUint32(out[8:], uint32(l.trees))
	binary.LittleEndian.PutUint32(out[12:], uint32(l.depth))
	for t := 0; t < n; t++ {
		for _, v := range l.codes[t*4*(leaves-1) : (t+1)*4*(leaves-1)] {
			out = append(out, byte(v))
		}
		for _, v := range l.preds[t*2*leaves : (t+1)*2*leaves] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out, nil
}

func (l *Localizer) String() string {
	return fmt.Sprintf("pico localizer: %d stages × %d trees of depth %d, scale ×%.2f", l.stages, l.trees, l.depth, l.scaleMul)
}

// Locate runs the localiser once from the window of side s centred on (row, col)
// and returns the final estimate. With mirror set, the trees' column offsets and
// column displacements are negated, so a localiser trained on one side of the face
// finds the mirror-image point on the other side. Pixel reads are clamped to img.
func (l *Localizer) Locate(img *image.Gray, row, col, s float64, mirror bool) (float64, float64) {
	img = rebase(img)
	h, w := img.Rect.Dy(), img.Rect.Dx()
	if h == 0 || w == 0 {
		return row, col
	}
	pix, stride := img.Pix, img.Stride
	leaves := 1 << l.depth
	nodes := leaves - 1
	sign := 1
	if mirror {
		sign = -1
	}
	r, c, sz := float32(row), float32(col), float32(s)
	t := 0
	for st := 0; st < l.stages; st++ {
		var dr, dc float32
		ir := int(256 * r)
		ic := int(256 * c)
		is := int(sz)
		for j := 0; j < l.trees; j, t = j+1, t+1 {
			tc := l.codes[t*4*nodes : (t+1)*4*nodes]
			idx := 0
			for d := 0; d < l.depth; d++ {
				q := tc[4*idx : 4*idx+4 : 4*idx+4]
				r1 := clampShift(ir+int(q[0])*is, h)
				c1 := clampShift(ic+sign*int(q[1])*is, w)
				r2 := clampShift(ir+int(q[2])*is, h)
				c2 := clampShift(ic+sign*int(q[3])*is, w)
				idx = 2*idx + 1
				if pix[r1*stride+c1] > pix[r2*stride+c2] {
					idx++
				}
			}
			lp := l.preds[t*2*leaves+2*(idx-nodes):]
			dr += lp[0]
			dc += float32(sign) * lp[1]
		}
		r += dr * sz
		c += dc * sz
		sz *= l.scaleMul
	}
	return float64(r), float64(c)
}

func clampShift(v, n int) int {
	v >>= 8
	if v < 0 {
		return 0
	}
	if v >= n {
		return n - 1
	}
	return v
}

// LocateMedian runs Locate from n randomly perturbed starting windows (position
// jittered by ±7.5% of s, size by −7.5%..+7.5%) and returns the per-axis median.
// The perturbations come from a generator seeded with seed, so the result is
// deterministic for a given image and start.
func (l *Localizer) LocateMedian(img *image.Gray, row, col, s float64, n int, seed uint64, mirror bool) (float64, float64) {
	if n < 1 {
		n = 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	rows := make([]float64, n)
	cols := make([]float64, n)
	for i := 0; i < n; i++ {
		ss := s * (0.925 + 0.15*rng.Float64())
		rr := row + s*0.15*(0.5-rng.Float64())
		cc := col + s*0.15*(0.5-rng.Float64())
		rows[i], cols[i] = l.Locate(img, rr, cc, ss, mirror)
	}
	slices.Sort(rows)
	slices.Sort(cols)
	return rows[n/2], cols[n/2]
}
