package fmr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSamples decodes NIST's libbiomeval records and checks them field by field, and
// that writing them again gives the same bytes.
func TestSamples(t *testing.T) {
	tests := []struct {
		file     string
		format   Format
		cbeff    [2]uint16
		views    []int // minutiae per view
		position []uint8
		ext      []int // extended areas per view
	}{
		{"fmr.iso2005", ISO2005, [2]uint16{0, 0}, []int{27, 22}, []uint8{7, 2}, []int{0, 1}},
		{"fmr.ansi2004", ANSI2004, [2]uint16{0x42, 0x11}, []int{27, 22, 28}, []uint8{7, 2, 3}, []int{0, 1, 2}},
		{"fmr.ansi2007", ANSI2007, [2]uint16{0x42, 0x11}, []int{27, 22}, []uint8{7, 2}, []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b := readSample(t, tc.file)
			r, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tc.format || r.CBEFFOwner != tc.cbeff[0] || r.CBEFFType != tc.cbeff[1] {
				t.Errorf("format %v cbeff %x/%x, want %v %x/%x", r.Format, r.CBEFFOwner, r.CBEFFType, tc.format, tc.cbeff[0], tc.cbeff[1])
			}
			if r.Width != 512 || r.Height != 512 || r.XRes != 197 || r.YRes != 197 || r.DeviceID != 0xb5 {
				t.Errorf("geometry %dx%d at %dx%d px/cm, device %#x", r.Width, r.Height, r.XRes, r.YRes, r.DeviceID)
			}
			if len(r.Views) != len(tc.views) {
				t.Fatalf("%d views, want %d", len(r.Views), len(tc.views))
			}
			for i, v := range r.Views {
				if len(v.Minutiae) != tc.views[i] || v.Position != tc.position[i] || len(v.Extended) != tc.ext[i] {
					t.Errorf("view %d: %d minutiae at position %d, %d areas; want %d at %d, %d", i+1, len(v.Minutiae), v.Position, len(v.Extended), tc.views[i], tc.position[i], tc.ext[i])
				}
			}
			// The first minutia of every sample is the same ridge ending at (100,14), 112°.
			m := r.Views[0].Minutiae[0]
			if m.Type != TypeEnding || m.X != 100 || m.Y != 14 || m.Quality != 90 || math.Abs(r.Format.AngleDegrees(m.Angle)-112.25) > 1 {
				t.Errorf("first minutia %+v (%.2f°)", m, r.Format.AngleDegrees(m.Angle))
			}
			out, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("rewrite differs from the original (%d vs %d bytes)", len(out), len(b))
			}
			r2, err := Decode(out)
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Errorf("read after write differs: %v", err)
			}
		})
	}
}

// TestSameContent: the three samples describe the same fingers, so their minutiae
// agree across formats (positions exactly, angles within the coarser unit).
func TestSameContent(t *testing.T) {
	iso, err := Decode(readSample(t, "fmr.iso2005"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fmr.ansi2004", "fmr.ansi2007"} {
		a, err := Decode(readSample(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for vi := range iso.Views {
			for mi, m := range iso.Views[vi].Minutiae {
				n := a.Views[vi].Minutiae[mi]
				d := math.Abs(ISO2005.AngleDegrees(m.Angle) - a.Format.AngleDegrees(n.Angle))
				if m.X != n.X || m.Y != n.Y || m.Type != n.Type || min(d, 360-d) > 2 {
					t.Errorf("%s view %d minutia %d: %+v vs ISO %+v", f, vi+1, mi+1, n, m)
				}
			}
		}
	}
	rc := iso.Views[1].Extended[0]
	if rc.Type != AreaCoreDelta {
		t.Errorf("ISO view 2 area type %d, want core/delta", rc.Type)
	}
	a, _ := Decode(readSample(t, "fmr.ansi2007"))
	method, counts, err := a.Views[1].Extended[0].RidgeCounts()
	if err != nil || method != 1 || !reflect.DeepEqual(counts, []RidgeCount{{0x12, 0x14, 3}, {0x15, 0x13, 1}}) {
		t.Errorf("ridge counts: %d %v %v", method, counts, err)
	}
}

// TestWriteISO builds a record as the agent does and checks the bytes of the header.
func TestWriteISO(t *testing.T) {
	r := &Record{Format: ISO2005, DeviceID: 0x123, Compliance: 1, Width: 256, Height: 288, XRes: 197, YRes: 197,
		Views: []View{{Position: 2, Impression: 0, Quality: 60, Minutiae: []Minutia{
			{Type: TypeEnding, X: 10, Y: 20, Angle: ISO2005.AngleFromRadians(math.Pi / 2), Quality: 80},
			{Type: TypeBifurcation, X: 255, Y: 287, Angle: ISO2005.AngleFromRadians(2*math.Pi - 0.001), Quality: 1},
		}}}}
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("FMR\x00 20\x00" +
		"\x00\x00\x00\x30" + // 24 + 4 + 12 + 2 + 6? record length checked below
		"\x11\x23\x01\x00\x01\x20\x00\xc5\x00\xc5\x01\x00" +
		"\x02\x00\x3c\x02" +
		"\x40\x0a\x00\x14\x40\x50" +
		"\x80\xff\x01\x1f\x00\x01" +
		"\x00\x00")
	binary.BigEndian.PutUint32(want[8:], uint32(len(want)))
	if !bytes.Equal(b, want) {
		t.Errorf("encoded\n% x\nwant\n% x", b, want)
	}
	r2, err := Decode(b)
	if err != nil || !reflect.DeepEqual(r, r2) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, r, r2)
	}
	// Values that do not fit are refused.
	bad := *r
	bad.Views = []View{{Minutiae: []Minutia{{X: MaxCoord + 1}}}}
	if _, err := Encode(&bad); err == nil {
		t.Error("x beyond 14 bits accepted")
	}
	bad.Views = []View{{Quality: 101}}
	if _, err := Encode(&bad); err == nil {
		t.Error("finger quality 101 accepted")
	}
}

// TestCorrupt: each kind of damage gives an error naming the field.
func TestCorrupt(t *testing.T) {
	iso := readSample(t, "fmr.iso2005")
	ansi := readSample(t, "fmr.ansi2004")
	mod := func(b []byte, f func(c []byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name  string
		in    []byte
		field string
		err   error
	}{
		{"bad magic", mod(iso, func(c []byte) []byte { c[0] = 'X'; return c }), "format identifier", ErrFormat},
		{"bad version", mod(iso, func(c []byte) []byte { c[5] = '9'; return c }), "version", ErrFormat},
		{"short", iso[:6], "format identifier", ErrTruncated},
		{"length mismatch", mod(iso, func(c []byte) []byte { c[11]++; return c }), "record length", ErrLength},
		{"truncated record", mod(iso, func(c []byte) []byte {
			c = c[:100]
			binary.BigEndian.PutUint32(c[8:], 100)
			return c
		}), "view 1 number of minutiae", ErrLength},
		{"trailing bytes", mod(iso, func(c []byte) []byte {
			c = append(c, 0, 0)
			binary.BigEndian.PutUint32(c[8:], uint32(len(c)))
			return c
		}), "end of record", ErrLength},
		{"zero views", mod(iso, func(c []byte) []byte { c[22] = 0; return c }), "number of finger views", ErrInvalid},
		{"more views than data", mod(iso, func(c []byte) []byte { c[22] = 3; return c }), "view 3", ErrTruncated},
		{"reserved minutia type", mod(iso, func(c []byte) []byte { c[28] |= 0xc0; return c }), "view 1 minutia 1 type", ErrInvalid},
		{"minutia quality", mod(iso, func(c []byte) []byte { c[33] = 200; return c }), "view 1 minutia 1 quality", ErrInvalid},
		{"finger position", mod(iso, func(c []byte) []byte { c[24] = 42; return c }), "view 1 finger position", ErrInvalid},
		{"ansi angle", mod(ansi, func(c []byte) []byte { c[30+4] = 200; return c }), "view 1 minutia 1 angle", ErrInvalid},
		{"extended block past end", mod(iso, func(c []byte) []byte { c[190] = 0x40; return c }), "view 1 extended data block length", ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "fmr: ") {
				t.Errorf("error %q, want %v naming %q", err, tc.err, tc.field)
			}
		})
	}
	// Every truncation of every sample fails cleanly.
	for _, f := range []string{"fmr.iso2005", "fmr.ansi2004", "fmr.ansi2007"} {
		b := readSample(t, f)
		for n := range len(b) {
			if _, err := Decode(b[:n]); err == nil {
				t.Errorf("%s cut at %d bytes decoded", f, n)
			}
		}
	}
}

// FuzzDecode: no input panics, and whatever decodes is written back byte for byte.
func FuzzDecode(f *testing.F) {
	for _, n := range []string{"fmr.iso2005", "fmr.ansi2004", "fmr.ansi2007"} {
		f.Add(readSample(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("rewrite differs:\n% x\n% x", b, out)
		}
		r2, err := Decode(out)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}

// FuzzDecodeANSI drives the ANSI INCITS 378 readers directly (2004 and 2007 layouts),
// whatever the version bytes say, so that their header paths are explored too.
func FuzzDecodeANSI(f *testing.F) {
	f.Add(readSample(f, "fmr.ansi2004"))
	f.Add(readSample(f, "fmr.ansi2007"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []Format{ANSI2004, ANSI2007} {
			r, err := DecodeFormat(b, format)
			if err != nil {
				continue
			}
			out, err := Encode(r)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("%v: rewrite differs or fails: %v", format, err)
			}
		}
	})
}
