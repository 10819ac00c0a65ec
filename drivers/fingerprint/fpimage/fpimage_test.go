package fpimage

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

func gradient(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	return g
}

func TestRoundTripPGMAndPNG(t *testing.T) {
	src := gradient(13, 9)
	var pgm bytes.Buffer
	if err := EncodePGM(&pgm, src); err != nil {
		t.Fatal(err)
	}
	var pngb bytes.Buffer
	if err := png.Encode(&pngb, src); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"pgm": pgm.Bytes(), "png": pngb.Bytes()} {
		got, err := Decode(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Pix, src.Pix) || got.Bounds() != src.Bounds() {
			t.Errorf("%s: decoded image differs from the source", name)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opts    *Opts
		want    []uint8
		wantErr string
	}{
		{"plain with comments", "P2\n# made by hand\n3 1 # width height\n255\n0 128\n255\n", nil, []uint8{0, 128, 255}, ""},
		{"maxval 15 scaled", "P2 2 1 15 0 15", nil, []uint8{0, 255}, ""},
		{"16-bit binary", "P5 2 1 65535\n\xff\xff\x80\x00", nil, []uint8{255, 128}, ""},
		{"raw", "\x01\x02\x03\x04", &Opts{Width: 2, Height: 2}, []uint8{1, 2, 3, 4}, ""},
		{"raw too short", "\x01\x02\x03", &Opts{Width: 2, Height: 2}, nil, "raw 2x2 needs 4 bytes, got 3"},
		{"raw too long", "\x01\x02\x03\x04\x05", &Opts{Width: 2, Height: 2}, nil, "longer than"},
		{"truncated raster", "P5 4 4 255\n\x00\x01", nil, nil, "truncated raster: 2 of 16 bytes"},
		{"pixel above maxval", "P5 1 1 100\n\xc8", nil, nil, "above maxval 100"},
		{"bad width", "P5 -4 4 255\n", nil, nil, `header field 1 is "-4"`},
		{"huge", "P5 100000 100000 255\n", nil, nil, "exceeds the limit"},
		{"unknown", "GIF89a....", nil, nil, "unknown format"},
		{"empty", "", nil, nil, "too short"},
		{"truncated header", "P5 12", nil, nil, "header field 2: unexpected end of file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(strings.NewReader(tt.in), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Pix, tt.want) {
				t.Errorf("pixels = %v, want %v", got.Pix, tt.want)
			}
		})
	}
}

func TestToGrayColour(t *testing.T) {
	c := image.NewRGBA(image.Rect(5, 5, 7, 6))
	c.Set(5, 5, color.RGBA{255, 255, 255, 255})
	c.Set(6, 5, color.RGBA{255, 0, 0, 255})
	g := ToGray(c)
	if g.Bounds() != image.Rect(0, 0, 2, 1) {
		t.Fatalf("bounds = %v", g.Bounds())
	}
	if g.Pix[0] != 255 || g.Pix[1] != 76 {
		t.Errorf("luma = %v, want [255 76]", g.Pix)
	}
}

// FuzzDecode: no input may panic; whatever decodes re-encodes as PGM and decodes to the
// same pixels.
func FuzzDecode(f *testing.F) {
	var pgm bytes.Buffer
	EncodePGM(&pgm, gradient(4, 3))
	f.Add(pgm.Bytes())
	f.Add([]byte("P2 2 1 15 0 15"))
	f.Add([]byte("P5 2 1 65535\n\xff\xff\x80\x00"))
	var pngb bytes.Buffer
	png.Encode(&pngb, gradient(3, 3))
	f.Add(pngb.Bytes())
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := EncodePGM(&out, img); err != nil {
			t.Fatal(err)
		}
		again, err := Decode(&out, nil)
		if err != nil {
			t.Fatalf("re-decoding our own PGM: %v", err)
		}
		if !bytes.Equal(again.Pix, img.Pix) {
			t.Fatal("PGM round trip changed pixels")
		}
	})
}
