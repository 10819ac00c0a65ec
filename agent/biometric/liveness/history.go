package liveness

import (
	"bytes"
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

// Probe is a captured image prepared for lookups: its hashes, and its sketch at a
// coarse grid of shifts (every other pixel, scale 1) with the finer shifts and scales
// sampled on demand.
type Probe struct {
	Hashes Hashes
	bi     *bandImage
	pts    [][2]float64
	salt   *[sketchWords]uint64
	coarse []sketch
	cwhere [][2]int
	fine   []sketch // by scale, dy, dx
	done   []bool
}

// at returns the probe's sketch at shift (dx, dy) and scale index k, |dx|, |dy| ≤
// sketchShift.
func (p *Probe) at(dx, dy, k int) *sketch {
	const side = 2*sketchShift + 1
	if p.fine == nil {
		p.fine = make([]sketch, len(sketchScales)*side*side)
		p.done = make([]bool, len(p.fine))
	}
	i := (k*side+dy+sketchShift)*side + dx + sketchShift
	if !p.done[i] {
		s := p.bi.sample(p.pts, sketchScales[k], dx, dy)
		for j := range s.sign {
			s.sign[j] ^= p.salt[j]
		}
		p.fine[i], p.done[i] = s, true
	}
	return &p.fine[i]
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
// hashes and places the sketch. A station passes one kept outside kv (the daemon
// derives it from the station's signing key), so that a copy of the database alone
// cannot test an image against the history; if kv still holds a secret of its own from
// an earlier version, it and every entry keyed by it are erased. nil uses the secret
// stored in kv, made at random on first use (tools and tests).
func NewHistory(kv KV, size int, key []byte) (*History, error) {
	if size < 0 {
		return nil, fmt.Errorf("liveness: history size %d", size)
	}
	h := &History{kv: kv, size: size, pts: map[[2]int][][2]float64{}}
	if kv != nil {
		if k, ok := kv.GetKey(bucket, keyName); ok {
			if key == nil && len(k) == 32 {
				key = k
			} else if key != nil {
				if err := purge(kv); err != nil {
					return nil, fmt.Errorf("liveness: history: erasing the entries of the stored secret: %w", err)
				}
			}
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

// purge erases the stored secret and every entry of the history.
func purge(kv KV) error {
	var keys [][]byte
	err := kv.ForEach(bucket, func(k, _ []byte) error {
		if bytes.Equal(k, keyName) || (len(k) == 9 && k[0] == entryPref) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := kv.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of remembered images.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// Prepare hashes img and samples its sketch at every shift and scale searched.
func (h *History) Prepare(img *image.Gray) *Probe {
	return h.prepare(img, newStats(img))
}

// prepare is Prepare with the frame's statistics already computed.
func (h *History) prepare(img *image.Gray, st *frameStats) *Probe {
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
	bi := bandPass(st)
	pts := h.points(w, hh)
	self := bi.sample(pts, 1, 0, 0)
	for i := range self.sign {
		p.Hashes.Sign[i] = self.sign[i] ^ h.salt[i]
	}
	p.Hashes.FG = self.fg
	p.bi, p.pts, p.salt = bi, pts, &h.salt
	for dy := -sketchShift + 1; dy <= sketchShift; dy += 2 {
		for dx := -sketchShift + 1; dx <= sketchShift; dx += 2 {
			p.coarse = append(p.coarse, *p.at(dx, dy, 0))
			p.cwhere = append(p.cwhere, [2]int{dx, dy})
		}
	}
	return p
}

// Lookup compares the probe with the remembered images: an exact match of the pixels,
// or a near copy (sketch agreement of NearAgreement or more at some shift and scale).
// A first pass compares the first two words of the sketch on the coarse grid of
// shifts; only entries that agree there well above chance are compared in full at
// every shift and scale around the best coarse place.
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
		best, bi := -1.0, -1
		for i := range p.coarse {
			v := &p.coarse[i]
			f0, f1 := v.fg[0]&stored.fg[0], v.fg[1]&stored.fg[1]
			n := bits.OnesCount64(f0) + bits.OnesCount64(f1)
			if n < 48 {
				continue
			}
			same := bits.OnesCount64(^(v.sign[0]^stored.sign[0])&f0) + bits.OnesCount64(^(v.sign[1]^stored.sign[1])&f1)
			if a := float64(same) / float64(n); a > best {
				best, bi = a, i
			}
		}
		if bi < 0 || best < 0.65 {
			continue
		}
		c := p.cwhere[bi]
		for k := range sketchScales {
			for dy := max(c[1]-1, -sketchShift); dy <= min(c[1]+1, sketchShift); dy++ {
				for dx := max(c[0]-1, -sketchShift); dx <= min(c[0]+1, sketchShift); dx++ {
					a, n := agreement(p.at(dx, dy, k), &stored)
					if n >= minOverlap && a > m.Agreement {
						m.Agreement = a
						m.Shift, m.Scale = [2]int{dx, dy}, sketchScales[k]
					}
				}
			}
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
	NearAgreement = 0.80
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
// contrast of a fingerprint (standard deviation above 15 grey levels).
func bandPass(st *frameStats) *bandImage {
	w, h := st.p.w, st.p.h
	out := &bandImage{w: w, h: h, ridge: make([]bool, w*h), fg: make([]bool, w*h)}
	for i := range st.p.v {
		out.ridge[i] = st.m3[i] < st.m11[i]
		m := st.m11[i]
		out.fg[i] = st.q11[i]-m*m > 15*15
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
