package pico

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
)

// Cascade is a pico object detector: a sequence of binary decision trees whose
// internal nodes compare the intensities of two pixels inside a square window and
// whose leaves hold a real-valued score. Scores are summed tree after tree and the
// window is rejected as soon as the running sum falls to or below that tree's
// threshold (soft cascade). See doc.go for the file layout.
type Cascade struct {
	version int32
	// bbox is the 4-byte training bounding-box descriptor kept verbatim for
	// MarshalBinary (pico uses it only while learning).
	bbox  [4]int8
	depth int
	// codes holds, per tree, 4·2^depth signed bytes: slot 0 is unused so that the
	// node index can start at 1 as in a binary heap; node n's test is
	// codes[4n:4n+4] = (r1, c1, r2, c2) in units of window size/256.
	codes  []int8
	preds  []float32 // per tree, 2^depth leaf scores
	thresh []float32 // per tree, the rejection threshold
}

const (
	cascadeHeaderLen = 16
	maxTreeDepth     = 16
	maxTrees         = 1 << 16
)

// ErrFormat is wrapped by every error about malformed model bytes.
var ErrFormat = errors.New("pico: malformed model")

func formatErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, a...))
}

// ParseCascade decodes a cascade in the binary layout of pico's facefinder.
func ParseCascade(b []byte) (*Cascade, error) {
	if len(b) < cascadeHeaderLen {
		return nil, formatErr("cascade is %d bytes, shorter than its %d-byte header", len(b), cascadeHeaderLen)
	}
	c := &Cascade{version: int32(binary.LittleEndian.Uint32(b[0:]))}
	for i := range c.bbox {
		c.bbox[i] = int8(b[4+i])
	}
	depth := int32(binary.LittleEndian.Uint32(b[8:]))
	ntrees := int32(binary.LittleEndian.Uint32(b[12:]))
	if depth < 1 || depth > maxTreeDepth {
		return nil, formatErr("cascade tree depth %d outside 1..%d", depth, maxTreeDepth)
	}
	if ntrees < 1 || ntrees > maxTrees {
		return nil, formatErr("cascade tree count %d outside 1..%d", ntrees, maxTrees)
	}
	c.depth = int(depth)
	leaves := 1 << c.depth
	treeLen := 4*(leaves-1) + 4*leaves + 4
	want := cascadeHeaderLen + int(ntrees)*treeLen
	if len(b) != want {
		return nil, formatErr("cascade of %d trees of depth %d needs %d bytes, have %d", ntrees, depth, want, len(b))
	}
	c.codes = make([]int8, int(ntrees)*4*leaves)
	c.preds = make([]float32, int(ntrees)*leaves)
	c.thresh = make([]float32, ntrees)
	p := cascadeHeaderLen
	for t := 0; t < int(ntrees); t++ {
		dst := c.codes[t*4*leaves+4 : (t+1)*4*leaves]
		for i := range dst {
			dst[i] = int8(b[p+i])
		}
		p += 4 * (leaves - 1)
		for i := 0; i < leaves; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
			if !finite32(v) {
				return nil, formatErr("cascade tree %d leaf %d is not a finite number", t, i)
			}
			c.preds[t*leaves+i] = v
			p += 4
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
		if !finite32(v) {
			return nil, formatErr("cascade tree %d threshold is not a finite number", t)
		}
		c.thresh[t] = v
		p += 4
	}
	return c, nil
}

// MarshalBinary encodes c in the layout ParseCascade reads.
func (c *Cascade) MarshalBinary() ([]byte, error) {
	leaves := 1 << c.depth
	n := len(c.thresh)
	out := make([]byte, cascadeHeaderLen, cascadeHeaderLen+n*(8*leaves))
	binary.LittleEndian.PutUint32(out[0:], uint32(c.version))
	for i, v := range c.bbox {
		out[4+i] = byte(v)
	}
	binary.LittleEndian.PutUint32(out[8:], uint32(c.depth))
	binary.LittleEndian.PutUint32(out[12:], uint32(n))
	for t := 0; t < n; t++ {
		for _, v := range c.codes[t*4*leaves+4 : (t+1)*4*leaves] {
			out = append(out, byte(v))
		}
		for _, v := range c.preds[t*leaves : (t+1)*leaves] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(c.thresh[t]))
	}
	return out, nil
}

// Depth is the depth of every tree; Trees the number of trees.
func (c *Cascade) Depth() int { return c.depth }

// Trees returns the number of trees in the cascade.
func (c *Cascade) Trees() int { return len(c.thresh) }

func (c *Cascade) String() string {
	return fmt.Sprintf("pico cascade v%d: %d trees of depth %d", c.version, len(c.thresh), c.depth)
}

func finite32(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Classify evaluates the square window of side s pixels centred on (row, col).
// It returns the cascade's confidence (the final sum less the last threshold) and
// true when the window passes every tree. A window that does not fit inside img
// is rejected.
func (c *Cascade) Classify(img *image.Gray, row, col, s int) (float32, bool) {
	img = rebase(img)
	b := img.Rect
	h, w := b.Dy(), b.Dx()
	half := s/2 + 1
	if s <= 0 || row-half < 0 || row+half >= h || col-half < 0 || col+half >= w {
		return 0, false
	}
	return c.classify(img.Pix, img.Stride, row, col, s, 1)
}

// ClassifyMirrored is Classify on the left-right mirror image of the window:
// every test's column offsets are negated. A frontal face is nearly symmetric, so
// a face window tends to pass both, which gives a second, partly independent vote.
func (c *Cascade) ClassifyMirrored(img *image.Gray, row, col, s int) (float32, bool) {
	img = rebase(img)
	b := img.Rect
	h, w := b.Dy(), b.Dx()
	half := s/2 + 1
	if s <= 0 || row-half < 0 || row+half >= h || col-half < 0 || col+half >= w {
		return 0, false
	}
	return c.classify(img.Pix, img.Stride, row, col, s, -1)
}

// classify assumes the window lies inside the image (see Classify).
func (c *Cascade) classify(pix []uint8, stride, row, col, s, sign int) (float32, bool) {
	r := row * 256
	cc := col * 256
	depth := c.depth
	leaves := 1 << depth
	codes := c.codes
	var o float32
	for t, th := range c.thresh {
		tc := codes[t*4*leaves : (t+1)*4*leaves]
		idx := 1
		for d := 0; d < depth; d++ {
			q := tc[4*idx : 4*idx+4 : 4*idx+4]
			p1 := pix[((r+int(q[0])*s)>>8)*stride+((cc+sign*int(q[1])*s)>>8)]
			p2 := pix[((r+int(q[2])*s)>>8)*stride+((cc+sign*int(q[3])*s)>>8)]
			idx <<= 1
			if p1 <= p2 {
				idx++
			}
		}
		o += c.preds[t*leaves+idx-leaves]
		if o <= th {
			return 0, false
		}
	}
	return o - c.thresh[len(c.thresh)-1], true
}

// classifyClamped is classify for a window that may stick out of the image:
// pixel reads are clamped to the border (as if the image were padded by
// repeating its edge pixels).
func (c *Cascade) classifyClamped(pix []uint8, stride, w, h, row, col, s, sign int) (float32, bool) {
	r := row * 256
	cc := col * 256
	depth := c.depth
	leaves := 1 << depth
	codes := c.codes
	at := func(y, x int) uint8 {
		y = min(max(y, 0), h-1)
		x = min(max(x, 0), w-1)
		return pix[y*stride+x]
	}
	var o float32
	for t, th := range c.thresh {
		tc := codes[t*4*leaves : (t+1)*4*leaves]
		idx := 1
		for d := 0; d < depth; d++ {
			q := tc[4*idx : 4*idx+4 : 4*idx+4]
			p1 := at((r+int(q[0])*s)>>8, (cc+sign*int(q[1])*s)>>8)
			p2 := at((r+int(q[2])*s)>>8, (cc+sign*int(q[3])*s)>>8)
			idx <<= 1
			if p1 <= p2 {
				idx++
			}
		}
		o += c.preds[t*leaves+idx-leaves]
		if o <= th {
			return 0, false
		}
	}
	return o - c.thresh[len(c.thresh)-1], true
}

// Detection is one window accepted by the cascade (or a cluster of them):
// centre (Row, Col) and side Size in pixels of the image scanned, Q the confidence
// (summed over the members of a cluster).
type Detection struct {
	Row, Col, Size float64
	Q              float64
	// N is the number of raw windows merged into this one (1 for raw detections).
	N int
}

// ScanParams controls the multi-scale sliding-window scan.
type ScanParams struct {
	MinSize, MaxSize int     // window sides in pixels
	ShiftFactor      float64 // step between windows as a fraction of the side (pico: 0.1)
	ScaleFactor      float64 // ratio between successive window sides (pico: 1.1)
}

// Scan slides windows of every scale over img and appends every accepted window
// to dst. Windows may extend past the image border by up to a quarter of their
// side (pixels there read as the nearest border pixel), so that a face at the
// edge of the picture is still found. Parameters are clamped to sane ranges.
func (c *Cascade) Scan(dst []Detection, img *image.Gray, p ScanParams) []Detection {
	img = rebase(img)
	h, w := img.Rect.Dy(), img.Rect.Dx()
	shift := p.ShiftFactor
	if !(shift > 0) || shift > 1 {
		shift = 0.1
	}
	scale := p.ScaleFactor
	if !(scale > 1.01) || scale > 4 {
		scale = 1.1
	}
	minSize := max(p.MinSize, 8)
	maxSize := p.MaxSize
	if maxSize <= 0 || maxSize > min(w, h) {
		maxSize = min(w, h)
	}
	var t offsets
	for fs := float64(minSize); int(fs) <= maxSize; fs *= scale {
		s := int(fs)
		step := max(int(shift*fs), 1)
		off := s/2 + 1
		edge := 3 * s / 8 // windows may stick out of the image by up to an eighth of their side
		t.reset(c, s, img.Stride, 1)
		// The grid is anchored at the first fully inside window and extended
		// outwards, so interior windows sit where a plain scan puts them.
		first := off - ((off-edge)/step)*step
		for r := first; r+edge < h; r += step {
			rowIn := r >= off && r+off < h
			for col := first; col+edge < w; col += step {
				var q float32
				var ok bool
				if rowIn && col >= off && col+off < w {
					q, ok = c.run(img.Pix, r*img.Stride+col, &t)
				} else {
					q, ok = c.classifyClamped(img.Pix, img.Stride, w, h, r, col, s, 1)
				}
				if ok {
					dst = append(dst, Detection{Row: float64(r), Col: float64(col), Size: float64(s), Q: float64(q), N: 1})
				}
			}
		}
	}
	return dst
}

// offsets holds, for one window size and image stride, the pixel offsets of
// both pixels of every node's test relative to the window centre. Because the
// centre is an integer pixel, (256·row + q·s) >> 8 = row + ((q·s) >> 8), so the
// offsets do not depend on the position and one table serves a whole scale.
type offsets struct {
	s, stride, sign int
	built           int // trees whose offsets are filled in (built lazily: most windows are rejected by the first trees)
	p1, p2          []int32
}

func (t *offsets) reset(c *Cascade, s, stride, sign int) {
	t.s, t.stride, t.sign, t.built = s, stride, sign, 0
	n := len(c.codes) / 4
	if cap(t.p1) < n {
		t.p1 = make([]int32, n)
		t.p2 = make([]int32, n)
	}
	t.p1, t.p2 = t.p1[:n], t.p2[:n]
}

// extend fills in the offsets of tree t.built.
func (t *offsets) extend(c *Cascade) {
	leaves := 1 << c.depth
	lo := t.built * leaves
	for i := lo; i < lo+leaves; i++ {
		q := c.codes[4*i : 4*i+4 : 4*i+4]
		t.p1[i] = int32(((int(q[0])*t.s)>>8)*t.stride + ((t.sign * int(q[1]) * t.s) >> 8))
		t.p2[i] = int32(((int(q[2])*t.s)>>8)*t.stride + ((t.sign * int(q[3]) * t.s) >> 8))
	}
	t.built++
}

// run evaluates the cascade on the window centred at pixel index base.
func (c *Cascade) run(pix []uint8, base int, t *offsets) (float32, bool) {
	depth := c.depth
	leaves := 1 << depth
	var o float32
	for tr, th := range c.thresh {
		if tr >= t.built {
			t.extend(c)
		}
		nodes := tr * leaves
		p1, p2 := t.p1[nodes:nodes+leaves], t.p2[nodes:nodes+leaves]
		idx := 1
		for d := 0; d < depth; d++ {
			n := idx
			idx <<= 1
			if pix[base+int(p1[n])] <= pix[base+int(p2[n])] {
				idx++
			}
		}
		o += c.preds[nodes+idx-leaves]
		if o <= th {
			return 0, false
		}
	}
	return o - c.thresh[len(c.thresh)-1], true
}

// Evidence re-scans densely around a detection: centres within ±15 % of its size
// in steps of 3 % (11×11 positions), sizes from 0.8 to 1.25 times its size in
// steps of 5 % (10 sizes), each window evaluated as is and mirrored — 2420
// windows. It returns the summed confidence of the accepted windows. A true face
// is accepted over much of this neighbourhood in both orientations; a chance
// pattern that fooled the coarse scan rarely is. The windows are visited in a
// fixed scattered order and the scan stops once the sum reaches limit (no limit
// when limit ≤ 0), so a clear face costs a fraction of the full grid.
func (c *Cascade) Evidence(img *image.Gray, d Detection, limit float64) float64 {
	img = rebase(img)
	h, w := img.Rect.Dy(), img.Rect.Dx()
	var sum float64
	for _, g := range evidenceGrid {
		s := int(d.Size * g.scale)
		half := s/2 + 1
		r := int(d.Row + g.dr*d.Size)
		col := int(d.Col + g.dc*d.Size)
		if s < 8 || r < 3*s/8 || r+3*s/8 >= h || col < 3*s/8 || col+3*s/8 >= w {
			continue
		}
		var q float32
		var ok bool
		if r-half >= 0 && r+half < h && col-half >= 0 && col+half < w {
			q, ok = c.classify(img.Pix, img.Stride, r, col, s, g.sign)
		} else {
			q, ok = c.classifyClamped(img.Pix, img.Stride, w, h, r, col, s, g.sign)
		}
		if ok {
			sum += float64(q)
			if limit > 0 && sum >= limit {
				return sum
			}
		}
	}
	return sum
}

type gridPoint struct {
	scale, dr, dc float64
	sign          int
}

// evidenceGrid lists Evidence's windows in a fixed pseudo-random order.
var evidenceGrid = func() []gridPoint {
	var g []gridPoint
	sc := 0.8
	for k := 0; k < 10; k++ {
		for i := -5; i <= 5; i++ {
			for j := -5; j <= 5; j++ {
				for _, sign := range []int{1, -1} {
					g = append(g, gridPoint{scale: sc, dr: float64(i) * 0.03, dc: float64(j) * 0.03, sign: sign})
				}
			}
		}
		sc *= 1.05
	}
	// Fisher–Yates with a fixed linear congruential generator.
	x := uint64(0x2545f4914f6cdd1d)
	for i := len(g) - 1; i > 0; i-- {
		x = x*6364136223846793005 + 1442695040888963407
		j := int((x >> 33) % uint64(i+1))
		g[i], g[j] = g[j], g[i]
	}
	return g
}()

// IoU is the intersection over union of the two detections' squares.
func IoU(a, b Detection) float64 {
	or := math.Max(0, math.Min(a.Row+a.Size/2, b.Row+b.Size/2)-math.Max(a.Row-a.Size/2, b.Row-b.Size/2))
	oc := math.Max(0, math.Min(a.Col+a.Size/2, b.Col+b.Size/2)-math.Max(a.Col-a.Size/2, b.Col-b.Size/2))
	inter := or * oc
	union := a.Size*a.Size + b.Size*b.Size - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// Cluster merges overlapping detections: taking the strongest unassigned
// detection first, every unassigned detection whose IoU with it exceeds
// threshold joins its cluster. A cluster's position and size are the means of its
// members and its Q the sum. dets is reordered (sorted by decreasing Q).
func Cluster(dets []Detection, threshold float64) []Detection {
	sortByQ(dets)
	used := make([]bool, len(dets))
	var out []Detection
	for i := range dets {
		if used[i] {
			continue
		}
		var sum Detection
		m := 0
		for j := i; j < len(dets); j++ {
			if used[j] || (j != i && IoU(dets[i], dets[j]) <= threshold) {
				continue
			}
			used[j] = true
			m++
			sum.Row += dets[j].Row
			sum.Col += dets[j].Col
			sum.Size += dets[j].Size
			sum.Q += dets[j].Q
			sum.N += dets[j].N
		}
		k := float64(m)
		out = append(out, Detection{Row: sum.Row / k, Col: sum.Col / k, Size: sum.Size / k, Q: sum.Q, N: sum.N})
	}
	sortByQ(out)
	return out
}

func sortByQ(d []Detection) {
	slices.SortStableFunc(d, func(a, b Detection) int { return cmp.Compare(b.Q, a.Q) })
}

// rebase returns img with its origin moved to (0, 0), sharing the pixels.
func rebase(img *image.Gray) *image.Gray {
	if img.Rect.Min == (image.Point{}) {
		return img
	}
	if img.Rect.Empty() {
		return &image.Gray{}
	}
	return &image.Gray{Pix: img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y):], Stride: img.Stride, Rect: image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy())}
}
