package pico

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math"
	"os"
	"testing"
)

func readModel(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("models/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEmbeddedModels(t *testing.T) {
	m, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if m.Face.Depth() != 6 || m.Face.Trees() != 468 {
		t.Errorf("facefinder: %v", m.Face)
	}
	if m.Pupil.stages != 5 || m.Pupil.trees != 20 || m.Pupil.depth != 10 || math.Abs(float64(m.Pupil.scaleMul)-0.8) > 1e-6 {
		t.Errorf("puploc: %v", m.Pupil)
	}
	for _, n := range LandmarkNames {
		l := m.Landmarks[n]
		if l == nil || l.stages != 6 || l.trees != 20 || l.depth != 9 {
			t.Errorf("%s: %v", n, l)
		}
	}
	if m2, _ := Embedded(); m2 != m {
		t.Error("Embedded decodes more than once")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"facefinder", "puploc", "lps/lp93"} {
		b := readModel(t, name)
		var out []byte
		var err error
		if name == "facefinder" {
			c, perr := ParseCascade(b)
			if perr != nil {
				t.Fatal(perr)
			}
			out, err = c.MarshalBinary()
		} else {
			l, perr := ParseLocalizer(b)
			if perr != nil {
				t.Fatal(perr)
			}
			out, err = l.MarshalBinary()
		}
		if err != nil || !bytes.Equal(out, b) {
			t.Errorf("%s: re-encoding differs (%v)", name, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	ff := readModel(t, "facefinder")
	pl := readModel(t, "puploc")
	set32 := func(b []byte, off int, v uint32) []byte {
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	nan := math.Float32bits(float32(math.NaN()))
	for _, c := range []struct {
		name string
		b    []byte
		loc  bool
	}{
		{"cascade empty", nil, false},
		{"cascade depth 0", set32(ff, 8, 0), false},
		{"cascade depth 40", set32(ff, 8, 40), false},
		{"cascade no trees", set32(ff, 12, 0), false},
		{"cascade truncated", ff[:len(ff)-1], false},
		{"cascade trailing", append(append([]byte(nil), ff...), 0), false},
		{"cascade NaN threshold", set32(ff, 16+252+256, nan), false},
		{"localizer short", pl[:8], true},
		{"localizer no stages", set32(pl, 0, 0), true},
		{"localizer bad scale", set32(pl, 4, nan), true},
		{"localizer depth 0", set32(pl, 12, 0), true},
		{"localizer truncated", pl[:len(pl)-4], true},
		{"localizer NaN output", set32(pl, 16+4*1023, nan), true},
	} {
		var err error
		if c.loc {
			_, err = ParseLocalizer(c.b)
		} else {
			_, err = ParseCascade(c.b)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", c.name, err)
		}
	}
}

// tinyCascade is a one-tree depth-1 cascade comparing the window's left and
// right halves: it accepts windows whose left half is not brighter.
func tinyCascade(t testing.TB) *Cascade {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], 3)
	binary.LittleEndian.PutUint32(b[8:], 1)
	binary.LittleEndian.PutUint32(b[12:], 1)
	b = append(b, 0, 0xC0, 0, 0x40) // node 1: I(r, c−s/4) ≤ I(r, c+s/4)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(-1))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(1))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(0))
	c, err := ParseCascade(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassifyAndScan(t *testing.T) {
	c := tinyCascade(t)
	// Dark left half, bright right half.
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 32; x < 64; x++ {
			img.Pix[y*64+x] = 200
		}
	}
	if q, ok := c.Classify(img, 32, 32, 32); !ok || q != 1 {
		t.Errorf("edge window: %v %v", q, ok)
	}
	if _, ok := c.ClassifyMirrored(img, 32, 32, 32); ok {
		t.Error("mirrored window accepted")
	}
	if _, ok := c.Classify(img, 5, 5, 32); ok {
		t.Error("window outside the image accepted")
	}
	// Sub-image with a non-zero origin is handled.
	sub := img.SubImage(image.Rect(8, 8, 56, 56)).(*image.Gray)
	if _, ok := c.Classify(sub, 24, 24, 20); !ok {
		t.Error("sub-image window rejected")
	}
	dets := c.Scan(nil, img, ScanParams{MinSize: 16, MaxSize: 40})
	if len(dets) == 0 {
		t.Fatal("no detections")
	}
	at := func(r, c int) uint8 { return img.Pix[min(max(r, 0), 63)*64+min(max(c, 0), 63)] }
	for _, d := range dets {
		r, col, s := int(d.Row), int(d.Col), int(d.Size)
		// The single test: I(r, c − s/4) ≤ I(r, c + s/4) in 1/256 units.
		if at(r, (col*256-64*s)>>8) > at(r, (col*256+64*s)>>8) {
			t.Errorf("accepted %+v", d)
		}
	}
	// Windows straddling the edge the other way round are rejected.
	flip := image.NewGray(img.Rect)
	for i, v := range img.Pix {
		flip.Pix[i] = 200 - v
	}
	if _, ok := c.Classify(flip, 32, 32, 32); ok {
		t.Error("bright-left window accepted")
	}
	if n := len(c.Scan(nil, flip, ScanParams{MinSize: 16, MaxSize: 40})); n >= len(dets) {
		t.Errorf("flipped image: %d detections, plain %d", n, len(dets))
	}
	cl := Cluster(append([]Detection(nil), dets...), 0.2)
	if len(cl) == 0 || len(cl) >= len(dets) {
		t.Errorf("%d clusters from %d detections", len(cl), len(dets))
	}
	var n int
	for _, k := range cl {
		n += k.N
	}
	if n != len(dets) {
		t.Errorf("clusters hold %d of %d detections", n, len(dets))
	}
	if ev := c.Evidence(img, Detection{Row: 32, Col: 32, Size: 32}, 0); ev <= 0 {
		t.Errorf("evidence %v", ev)
	}
	if ev := c.Evidence(img, Detection{Row: 32, Col: 32, Size: 32}, 2); ev < 2 || ev > 3 {
		t.Errorf("capped evidence %v", ev)
	}
}

func TestIoU(t *testing.T) {
	a := Detection{Row: 10, Col: 10, Size: 10}
	if v := IoU(a, a); v != 1 {
		t.Errorf("self IoU %v", v)
	}
	if v := IoU(a, Detection{Row: 10, Col: 15, Size: 10}); math.Abs(v-50.0/150) > 1e-9 {
		t.Errorf("half overlap IoU %v", v)
	}
	if v := IoU(a, Detection{Row: 100, Col: 100, Size: 10}); v != 0 {
		t.Errorf("disjoint IoU %v", v)
	}
}

// TestLocateBlob: puploc pulls a start window onto a dark pupil-like blob.
func TestLocateBlob(t *testing.T) {
	m, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 120, 120))
	for y := 0; y < 120; y++ {
		for x := 0; x < 120; x++ {
			v := 190.0
			d := math.Hypot(float64(x)-62, float64(y)-58)
			if d < 7 {
				v = 30
			} else if d < 16 {
				v = 120 // iris
			}
			img.Pix[y*120+x] = uint8(v)
		}
	}
	r, c := m.Pupil.LocateMedian(img, 52, 52, 60, 31, 1, false)
	if math.Hypot(r-58, c-62) > 6 {
		t.Errorf("pupil at (%.1f, %.1f), want near (58, 62)", r, c)
	}
	r2, c2 := m.Pupil.LocateMedian(img, 52, 52, 60, 31, 1, false)
	if r2 != r || c2 != c {
		t.Error("LocateMedian is not deterministic")
	}
}

func FuzzParseCascade(f *testing.F) {
	f.Add(readModel(f, "facefinder")[:16+512*2])
	tc := tinyCascade(f)
	b, _ := tc.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCascade(b)
		if err != nil {
			return
		}
		out, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		img := image.NewGray(image.Rect(0, 0, 40, 40))
		c.Scan(nil, img, ScanParams{MinSize: 10, MaxSize: 40})
	})
}

func FuzzParseLocalizer(f *testing.F) {
	hdr := func(stages, trees, depth uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, stages)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(0.8))
		b = binary.LittleEndian.AppendUint32(b, trees)
		return binary.LittleEndian.AppendUint32(b, depth)
	}
	one := append(hdr(1, 1, 1), 0, 0, 10, 10)
	one = binary.LittleEndian.AppendUint32(one, math.Float32bits(0.1))
	one = binary.LittleEndian.AppendUint32(one, math.Float32bits(-0.1))
	one = binary.LittleEndian.AppendUint32(one, math.Float32bits(0))
	one = binary.LittleEndian.AppendUint32(one, math.Float32bits(0.2))
	f.Add(one)
	f.Add(readModel(f, "lps/lp93")[:64])
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLocalizer(b)
		if err != nil {
			return
		}
		out, err := l.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		img := image.NewGray(image.Rect(0, 0, 16, 16))
		l.Locate(img, 8, 8, 12, false)
		l.Locate(img, -50, 1e6, 1e3, true)
	})
}
