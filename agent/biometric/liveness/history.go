package liveness

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"math/bits"
	mrand "math/rand/v2"
	"sync"
)

// KV is the durable map the history lives in: the agent's store (bucket "pad") satisfies
// it. Values are copied by the implementation.
type KV interface {
	Put(bucket string, key, value []byte) error
	GetKey(bucket string, key []byte) ([]byte, bool)
	Delete(bucket string, key []byte) error
	ForEach(bucket string, fn func(k, v []byte) error) error
}

const bucket = "pad"

var (
	keyName    = []byte("key")
	entryPref  = byte('e')
	errCorrupt = errors.New("liveness: corrupt history entry")
)

// Hashes identify one captured image without containing it: a keyed hash of the
// pixels and the keyed robust sketch (see below).
type Hashes struct {
	W, H  uint16
	Exact [16]byte // HMAC-SHA-256 of the size and pixels, truncated
	// Sign and FG are the sketch: the ridge/valley sign (masked with a keyed stream) and
	// the foreground flag at the secret positions.
	Sign, FG [sketchWords]uint64
}

// Match is the result of a history lookup.
type Match struct {
	Exact bool
	Near  bool
	// Agreement is the best sketch agreement found (0.5 is chance), with its shift.
	Agreement float64
	Shift     [2]int
	Scale     float64
}

// Probe is a captured image prepared for lookups: its hashes and its sketch at every
// shift and scale searched.
type Probe struct {
	Hashes   Hashes
	variants []sketch
	where    [][3]float64 // dx, dy, scale of each variant
}

// History remembers the hashes of the last Size images captured at the station, to
// recognise an image fed again (a replay or injection). It keeps only keyed hashes,
// never pixels; see the package documentation for why that is acceptable under GDPR.
// It is safe for concurrent use.
type History struct {
	kv   KV
	size int
	key  []byte
	salt [sketchWords]uint64

	mu      sync.Mutex
	entries []histEntry // oldest first
	next    uint64
	pts     map[[2]int][][2]float64
}

type histEntry struct {
	seq uint64
	h   Hashes
}

// NewHistory opens the history in kv (nil: in memory only) keeping size entries (0
// disables it: nothing is kept and nothing matches). key is the secret that keys the
// hashes and places the sketch; nil uses the one stored in kv, made at random on first
// use.
func NewHistory(kv KV, size int, key []byte) (*History, error) {
	if size < 0 {
		return nil, fmt.Errorf("liveness: history size %d", size)
	}
	h := &History{kv: kv, size: size, pts: map[[2]int][][2]float64{}}
	if key == nil && kv != nil {
		if k, ok := kv.GetKey(bucket, keyName); ok && len(k) == 32 {
			key = k
		}
	}
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("liveness: history key: %w", err)
		}
		if kv != nil {
			if err := kv.Put(bucket, keyName, key); err != nil {
				return nil, fmt.Errorf("liveness: history key: %w", err)
			}
		}
	}
	h.key = append([]byte(nil), key...)
	h.salt = h.makeSalt()
	if kv != nil {
		var stale [][]byte
		err := kv.ForEach(bucket, func(k, v []byte) error {
			if len(k) != 9 || k[0] != entryPref {
				return nil
			}
			hs, err := decodeHashes(v)
			if err != nil {
				stale = append(stale, append([]byte(nil), k...))
				return nil
			}
			seq := binary.BigEndian.Uint64(k[1:])
			h.entries = append(h.entries, histEntry{seq: seq, h: hs})
			h.next = max(h.next, seq+1)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("liveness: history: %w", err)
		}
		for _, k := range stale {
			_ = kv.Delete(bucket, k)
		}
		if err := h.trim(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Len is the number of remembered images.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// Prepare hashes img and samples its sketch at every shift and scale searched.
func (h *History) Prepare(img *image.Gray) *Probe {
	b := img.Bounds()
	w, hh := b.Dx(), b.Dy()
	p := &Probe{}
	p.Hashes.W, p.Hashes.H = uint16(min(w, 65535)), uint16(min(hh, 65535))
	mac := hmac.New(sha256.New, h.key)
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(w))
	binary.BigEndian.PutUint32(hdr[4:], uint32(hh))
	mac.Write(hdr[:])
	for y := 0; y < hh; y++ {
		mac.Write(img.Pix[y*img.Stride : y*img.Stride+w])
	}
	copy(p.Hashes.Exact[:], mac.Sum(nil))
	bi := bandPass(img)
	pts := h.points(w, hh)
	self := bi.sample(pts, 1, 0, 0)
	for i := range self.sign {
		p.Hashes.Sign[i] = self.sign[i] ^ h.salt[i]
	}
	p.Hashes.FG = self.fg
	for _, sc := range sketchScales {
		for dy := -sketchShift; dy <= sketchShift; dy++ {
			for dx := -sketchShift; dx <= sketchShift; dx++ {
				s := bi.sample(pts, sc, dx, dy)
				for i := range s.sign {
					s.sign[i] ^= h.salt[i]
				}
				p.variants = append(p.variants, s)
				p.where = append(p.where, [3]float64{float64(dx), float64(dy), sc})
			}
		}
	}
	return p
}

// Lookup compares the probe with the remembered images: an exact match of the pixels,
// or a near copy (sketch agreement of NearAgreement or more at some shift and scale).
func (h *History) Lookup(p *Probe) Match {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := Match{Agreement: 0.5}
	for _, e := range h.entries {
		if e.h.W != p.Hashes.W || e.h.H != p.Hashes.H {
			continue
		}
		if hmac.Equal(e.h.Exact[:], p.Hashes.Exact[:]) {
			m.Exact = true
		}
		stored := sketch{sign: e.h.Sign, fg: e.h.FG}
		// First pass on the first two words; then the whole sketch at the best place.
		best, bi := -1.0, -1
		for i := range p.variants {
			v := &p.variants[i]
			var same, n int
			for k := 0; k < 2; k++ {
				f := v.fg[k] & stored.fg[k]
				n += bits.OnesCount64(f)
				same += bits.OnesCount64(^(v.sign[k] ^ stored.sign[k]) & f)
			}
			if n < 24 {
				continue
			}
			if a := float64(same) / float64(n); a > best {
				best, bi = a, i
			}
		}
		if bi < 0 || best < 0.6 {
			continue
		}
		a, n := agreement(&p.variants[bi], &stored)
		if n >= minOverlap && a > m.Agreement {
			m.Agreement = a
			w := p.where[bi]
			m.Shift, m.Scale = [2]int{int(w[0]), int(w[1])}, w[2]
		}
	}
	m.Near = m.Agreement >= NearAgreement
	return m
}

// Add remembers the probe's hashes, dropping the oldest entries beyond the size.
func (h *History) Add(p *Probe) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.size == 0 {
		return nil
	}
	seq := h.next
	h.next++
	if h.kv != nil {
		if err := h.kv.Put(bucket, entryKey(seq), encodeHashes(p.Hashes)); err != nil {
			return fmt.Errorf("liveness: history: %w", err)
		}
	}
	h.entries = append(h.entries, histEntry{seq: seq, h: p.Hashes})
	return h.trimLocked()
}

func (h *History) trim() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.trimLocked()
}

func (h *History) trimLocked() error {
	for len(h.entries) > h.size {
		if h.kv != nil {
			if err := h.kv.Delete(bucket, entryKey(h.entries[0].seq)); err != nil {
				return fmt.Errorf("liveness: history: %w", err)
			}
		}
		h.entries = h.entries[1:]
	}
	return nil
}

func entryKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = entryPref
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

const (
	hashesVersion = 1
	hashesLen     = 5 + 16 + 2*sketchWords*8
)

func encodeHashes(hs Hashes) []byte {
	b := make([]byte, 0, hashesLen)
	b = append(b, hashesVersion)
	b = binary.BigEndian.AppendUint16(b, hs.W)
	b = binary.BigEndian.AppendUint16(b, hs.H)
	b = append(b, hs.Exact[:]...)
	for _, v := range hs.Sign {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	for _, v := range hs.FG {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeHashes(b []byte) (Hashes, error) {
	var hs Hashes
	if len(b) != hashesLen || b[0] != hashesVersion {
		return hs, errCorrupt
	}
	hs.W = binary.BigEndian.Uint16(b[1:])
	hs.H = binary.BigEndian.Uint16(b[3:])
	copy(hs.Exact[:], b[5:21])
	o := 21
	for i := range hs.Sign {
		hs.Sign[i] = binary.BigEndian.Uint64(b[o:])
		o += 8
	}
	for i := range hs.FG {
		hs.FG[i] = binary.BigEndian.Uint64(b[o:])
		o += 8
	}
	return hs, nil
}

// The robust sketch: the sign of the band-passed image (ridge or valley) at secret
// positions near the centre of the image, with a foreground flag per position. A probe is
// compared at every shift of up to sketchShift pixels and at a few scales, so a copy
// moved or cropped and rescaled a little still lines up; a new placement of the same
// finger does not (it is rotated, distorted and pressed differently), and agrees at about
// half the positions, like any other image.
const (
	sketchBits  = 512
	sketchWords = sketchBits / 64
	sketchShift = 5
	// NearAgreement is the fraction of positions (among those in the fingerprint in
	// both images) whose ridge/valley sign must agree for a near copy; unrelated images
	// agree at about one half.
	NearAgreement = 0.74
	// minOverlap is the least number of positions in the fingerprint in both images.
	minOverlap = 96
	// sketchRadius places the positions in a disc of this fraction of the image's
	// smaller side around its centre: wide enough that a rotation of a degree or two
	// (a new placement) moves the outer positions off their ridges, narrow enough that
	// a crop does not remove them.
	sketchRadius = 0.4
)

var sketchScales = []float64{1, 1 / 0.985, 1 / 0.97}

type sketch struct {
	sign, fg [sketchWords]uint64
}

// points returns the secret sample positions for images of w×h.
func (h *History) points(w, hh int) [][2]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]int{w, hh}
	if p, ok := h.pts[k]; ok {
		return p
	}
	mac := hmac.New(sha256.New, h.key)
	fmt.Fprintf(mac, "sketch-points/v1/%dx%d", w, hh)
	var seed [32]byte
	copy(seed[:], mac.Sum(nil))
	r := mrand.New(mrand.NewChaCha8(seed))
	rad := sketchRadius * float64(min(w, hh))
	cx, cy := float64(w)/2, float64(hh)/2
	p := make([][2]float64, sketchBits)
	for i := range p {
		for {
			x, y := (r.Float64()*2-1)*rad, (r.Float64()*2-1)*rad
			if x*x+y*y <= rad*rad {
				p[i] = [2]float64{cx + x, cy + y}
				break
			}
		}
	}
	h.pts[k] = p
	return p
}

// makeSalt is the keyed stream the stored sign bits are masked with.
func (h *History) makeSalt() [sketchWords]uint64 {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte("sketch-salt/v1"))
	var seed [32]byte
	copy(seed[:], mac.Sum(nil))
	r := mrand.New(mrand.NewChaCha8(seed))
	var s [sketchWords]uint64
	for i := range s {
		s[i] = r.Uint64()
	}
	return s
}

// bandImage is the ridge/valley sign and the foreground flag of every pixel.
type bandImage struct {
	w, h  int
	ridge []bool
	fg    []bool
}

// bandPass computes, per pixel, whether it is darker than its neighbourhood (a ridge)
// from a 3×3 mean against an 11×11 mean, and whether the 11×11 neighbourhood has the
// contrast of a fingerprint.
func bandPass(img *image.Gray) *bandImage {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	W := w + 1
	s1 := make([]int64, W*(h+1))
	s2 := make([]int64, W*(h+1))
	for y := 0; y < h; y++ {
		var r1, r2 int64
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		for x, v := range row {
			r1 += int64(v)
			r2 += int64(v) * int64(v)
			s1[(y+1)*W+x+1] = s1[y*W+x+1] + r1
			s2[(y+1)*W+x+1] = s2[y*W+x+1] + r2
		}
	}
	box := func(s []int64, x, y, r int) (int64, int64) {
		x0, y0 := max(0, x-r), max(0, y-r)
		x1, y1 := min(w, x+r+1), min(h, y+r+1)
		return s[y1*W+x1] - s[y0*W+x1] - s[y1*W+x0] + s[y0*W+x0], int64((x1 - x0) * (y1 - y0))
	}
	out := &bandImage{w: w, h: h, ridge: make([]bool, w*h), fg: make([]bool, w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a, na := box(s1, x, y, 1)
			c, nc := box(s1, x, y, 5)
			q, _ := box(s2, x, y, 5)
			out.ridge[y*w+x] = a*nc < c*na
			mean := float64(c) / float64(nc)
			v := float64(q)/float64(nc) - mean*mean
			out.fg[y*w+x] = v > 15*15
		}
	}
	return out
}

// sample reads the sketch of bi at the positions p, scaled about the centre by sc and
// shifted by (dx, dy).
func (bi *bandImage) sample(p [][2]float64, sc float64, dx, dy int) sketch {
	var s sketch
	cx, cy := float64(bi.w)/2, float64(bi.h)/2
	for i, q := range p {
		x := int(math.Floor(cx+(q[0]-cx)*sc)) + dx
		y := int(math.Floor(cy+(q[1]-cy)*sc)) + dy
		if x < 0 || y < 0 || x >= bi.w || y >= bi.h {
			continue
		}
		j := y*bi.w + x
		if bi.fg[j] {
			s.fg[i/64] |= 1 << (i % 64)
		}
		if bi.ridge[j] {
			s.sign[i/64] |= 1 << (i % 64)
		}
	}
	return s
}

// agreement is the fraction of shared foreground positions where a and b agree, and
// the number of shared positions.
func agreement(a, b *sketch) (float64, int) {
	var same, n int
	for i := 0; i < sketchWords; i++ {
		v := a.fg[i] & b.fg[i]
		n += bits.OnesCount64(v)
		same += bits.OnesCount64(^(a.sign[i] ^ b.sign[i]) & v)
	}
	if n == 0 {
		return 0, 0
	}
	return float64(same) / float64(n), n
}
