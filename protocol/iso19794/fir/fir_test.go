package fir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ridges makes a synthetic fingerprint-like grey image.
func ridges(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := math.Hypot(float64(x-w/2), float64(y-h/3))
			g.Pix[y*w+x] = uint8(128 + 100*math.Cos(2*math.Pi*r/9))
		}
	}
	return g
}

func record(c Compression, ims ...Image) *Record {
	return &Record{DeviceID: 0x0102, AcquisitionLevel: 31, ScaleUnits: PixelsPerInch,
		ScanXRes: 500, ScanYRes: 500, ImageXRes: 500, ImageYRes: 500, PixelDepth: 8, Compression: c, Images: ims}
}

func TestRoundTrip(t *testing.T) {
	g := ridges(96, 120)
	for _, c := range []Compression{Uncompressed, PNG} {
		t.Run(c.String(), func(t *testing.T) {
			im, err := ImageOf(g, c)
			if err != nil {
				t.Fatal(err)
			}
			im.Position, im.Quality, im.Impression = 2, 60, 0
			im2, _ := ImageOf(ridges(40, 50), c)
			im2.Position = 7
			r := record(c, im, im2)
			b, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("decoded record differs")
			}
			b2, _ := Encode(r2)
			if !bytes.Equal(b, b2) {
				t.Fatal("write→read→write is not byte-identical")
			}
			back, err := r2.Gray(&r2.Images[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Pix, g.Pix) || back.Bounds() != g.Bounds() {
				t.Error("pixels changed")
			}
		})
	}
}

// TestHeaderBytes pins the layout of the general and image headers.
func TestHeaderBytes(t *testing.T) {
	im, _ := ImageOf(ridges(3, 2), Uncompressed)
	im.Position, im.Quality, im.Impression = 1, 77, 0
	b, err := Encode(record(Uncompressed, im))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{'F', 'I', 'R', 0, ' ', '1', '0', 0,
		0, 0, 0, 0, 0, 52, // record length: 32 + 14 + 6
		0x01, 0x02, 0, 31, 1, 1, 0x01, 0xf4, 0x01, 0xf4, 0x01, 0xf4, 0x01, 0xf4, 8, 0, 0, 0,
		0, 0, 0, 20, 1, 1, 1, 77, 0, 0, 3, 0, 2, 0}
	want = append(want, im.Data...)
	if !bytes.Equal(b, want) {
		t.Errorf("got\n% x\nwant\n% x", b, want)
	}
}

// TestWSQKept: a record holding WSQ data (NIST's sample) reads and writes back, and
// its image is refused with a clear error.
func TestWSQKept(t *testing.T) {
	wsq, err := os.ReadFile(filepath.Join("testdata", "img.wsq"))
	if err != nil {
		t.Fatal(err)
	}
	r := record(WSQ, Image{Position: 1, ViewCount: 1, ViewNumber: 1, Width: 500, Height: 500, Data: wsq})
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Decode(b)
	if err != nil || !bytes.Equal(r2.Images[0].Data, wsq) {
		t.Fatalf("decode: %v", err)
	}
	for _, c := range []Compression{WSQ, JPEG, JPEG2000, BitPacked} {
		r2.Compression = c
		_, err = r2.Gray(&r2.Images[0])
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported compression") {
			t.Errorf("%v: error %v, want unsupported compression", c, err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	im, _ := ImageOf(ridges(20, 10), Uncompressed)
	good, err := Encode(record(Uncompressed, im))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(c []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	setLen := func(c []byte) []byte {
		binary.BigEndian.PutUint32(c[10:], uint32(len(c)))
		return c
	}
	tests := []struct {
		name  string
		in    []byte
		field string
		err   error
	}{
		{"bad magic", mod(func(c []byte) []byte { c[1] = 'M'; return c }), "format identifier", ErrFormat},
		{"bad version", mod(func(c []byte) []byte { c[5] = '2'; return c }), "version", ErrFormat},
		{"short", good[:20], "general header", ErrTruncated},
		{"record length", mod(func(c []byte) []byte { c[13]++; return c }), "record length", ErrLength},
		{"zero images", mod(func(c []byte) []byte { c[18] = 0; return c }), "number of finger images", ErrInvalid},
		{"more images than data", mod(func(c []byte) []byte { c[18] = 2; return c }), "image 2 header", ErrTruncated},
		{"scale units", mod(func(c []byte) []byte { c[19] = 7; return c }), "scale units", ErrInvalid},
		{"compression code", mod(func(c []byte) []byte { c[29] = 9; return c }), "image compression algorithm", ErrInvalid},
		{"block past end", mod(func(c []byte) []byte { c[35] = 0xff; return c }), "image 1 data block length", ErrLength},
		{"pixels missing", mod(func(c []byte) []byte {
			c = c[:len(c)-1]
			binary.BigEndian.PutUint32(c[32:], uint32(len(c)-32))
			return setLen(c)
		}), "image 1 data block length", ErrLength},
		{"trailing", mod(func(c []byte) []byte { return setLen(append(c, 0)) }), "end of record", ErrLength},
		{"view number", mod(func(c []byte) []byte { c[32+6] = 3; return c }), "image 1 view number", ErrInvalid},
		{"reserved", mod(func(c []byte) []byte { c[31] = 1; return c }), "reserved", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "fir: ") {
				t.Errorf("error %q, want %v naming %q", err, tc.err, tc.field)
			}
		})
	}
	for n := range len(good) {
		if _, err := Decode(good[:n]); err == nil {
			t.Errorf("cut at %d bytes decoded", n)
		}
	}
	// A PNG whose size disagrees with the header is refused.
	p, _ := ImageOf(ridges(20, 10), PNG)
	p.Width = 21
	r := record(PNG, p)
	if _, err := r.Gray(&r.Images[0]); !errors.Is(err, ErrLength) {
		t.Errorf("PNG size mismatch: %v", err)
	}
}

func seeds(f *testing.F) {
	for _, c := range []Compression{Uncompressed, PNG} {
		im, _ := ImageOf(ridges(24, 16), c)
		b, err := Encode(record(c, im))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecode: no input panics; whatever decodes is written back byte for byte, and
// decoding its images never panics.
func FuzzDecode(f *testing.F) {
	seeds(f)
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
			t.Fatal("rewrite differs")
		}
		for i := range r.Images {
			_, _ = r.Gray(&r.Images[i])
		}
	})
}
