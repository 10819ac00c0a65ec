package camera

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
)

// testImage is a smooth colour scene with some texture, like a camera sees.
func testImage(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			n := r.IntN(24)
			i := m.PixOffset(x, y)
			m.Pix[i+0] = sat(40 + 150*fx + float64(n))
			m.Pix[i+1] = sat(30 + 120*fy + 60*math.Sin(9*fx) + float64(n))
			m.Pix[i+2] = sat(90 + 80*math.Cos(7*fy*fx) + float64(n))
			m.Pix[i+3] = 255
		}
	}
	return m
}

func sat(v float64) uint8 { return uint8(max(0, min(255, v))) }

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestYUYVToRGBAKnownColours(t *testing.T) {
	tests := []struct {
		name    string
		y, u, v byte
		want    color.RGBA
	}{
		{"black", 16, 128, 128, color.RGBA{0, 0, 0, 255}},
		{"white", 235, 128, 128, color.RGBA{255, 255, 255, 255}},
		{"mid grey", 126, 128, 128, color.RGBA{128, 128, 128, 255}},
		{"red", 81, 90, 240, color.RGBA{255, 0, 0, 255}},
		{"green", 145, 54, 34, color.RGBA{0, 255, 0, 255}},
		{"blue", 41, 240, 110, color.RGBA{0, 0, 255, 255}},
		{"below black clamps", 0, 128, 128, color.RGBA{0, 0, 0, 255}},
		{"above white clamps", 255, 128, 128, color.RGBA{255, 255, 255, 255}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &Frame{Format: YUYV, Width: 2, Height: 1, Data: []byte{tc.y, tc.u, tc.y, tc.v}}
			m, err := f.RGBA()
			if err != nil {
				t.Fatal(err)
			}
			for x := 0; x < 2; x++ {
				got := m.RGBAAt(x, 0)
				if absDiff(got.R, tc.want.R) > 2 || absDiff(got.G, tc.want.G) > 2 || absDiff(got.B, tc.want.B) > 2 || got.A != 255 {
					t.Errorf("pixel %d = %v, want %v (±2)", x, got, tc.want)
				}
			}
			g, err := f.Gray()
			if err != nil {
				t.Fatal(err)
			}
			if g.GrayAt(1, 0).Y != tc.y {
				t.Errorf("grey = %d, want the Y byte %d", g.GrayAt(1, 0).Y, tc.y)
			}
		})
	}
}

func TestYUYVRoundTrip(t *testing.T) {
	src := testImage(64, 48, 1)
	f, err := FromImage(src, YUYV)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Data) != 64*48*2 {
		t.Fatalf("YUYV data %d bytes, want %d", len(f.Data), 64*48*2)
	}
	got, err := f.RGBA()
	if err != nil {
		t.Fatal(err)
	}
	// Chroma is averaged over pixel pairs, so compare luma-weighted error and bound the
	// per-channel error loosely.
	var sum, n float64
	for i := 0; i < len(src.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			d := absDiff(src.Pix[i+c], got.Pix[i+c])
			sum += float64(d)
			n++
			if d > 40 {
				t.Fatalf("byte %d channel %d: %d vs %d", i, c, src.Pix[i+c], got.Pix[i+c])
			}
		}
	}
	if mean := sum / n; mean > 4 {
		t.Errorf("mean abs error %.2f after YUYV round trip, want <= 4", mean)
	}
	// Image() (YCbCr, expanded to full range) agrees with the direct RGBA conversion.
	img, err := f.Image()
	if err != nil {
		t.Fatal(err)
	}
	ycc, ok := img.(*image.YCbCr)
	if !ok || ycc.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Fatalf("Image() = %T, want 4:2:2 *image.YCbCr", img)
	}
	for y := 0; y < 48; y += 7 {
		for x := 0; x < 64; x += 5 {
			a := color.RGBAModel.Convert(ycc.At(x, y)).(color.RGBA)
			b := got.RGBAAt(x, y)
			if absDiff(a.R, b.R) > 3 || absDiff(a.G, b.G) > 3 || absDiff(a.B, b.B) > 3 {
				t.Fatalf("(%d,%d): Image() %v vs RGBA() %v", x, y, a, b)
			}
		}
	}
}

func TestYCbCrToRGBAMatchesDraw(t *testing.T) {
	src := testImage(37, 29, 2)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		// An odd origin exercises the chroma offset arithmetic.
		m := image.NewYCbCr(image.Rect(3, 5, 40, 34), ratio)
		for y := m.Rect.Min.Y; y < m.Rect.Max.Y; y++ {
			for x := m.Rect.Min.X; x < m.Rect.Max.X; x++ {
				c := src.RGBAAt(x-3, y-5)
				yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				m.Y[m.YOffset(x, y)] = yy
				m.Cb[m.COffset(x, y)] = cb
				m.Cr[m.COffset(x, y)] = cr
			}
		}
		want := image.NewRGBA(image.Rect(0, 0, 37, 29))
		draw.Draw(want, want.Rect, m, m.Rect.Min, draw.Src)
		got := image.NewRGBA(image.Rect(0, 0, 37, 29))
		if !YCbCrToRGBA(got, m) {
			t.Fatalf("%v: not handled", ratio)
		}
		for i := range want.Pix {
			if absDiff(want.Pix[i], got.Pix[i]) > 1 {
				t.Fatalf("%v: byte %d = %d, image/draw gives %d", ratio, i, got.Pix[i], want.Pix[i])
			}
		}
	}
}

// stripDHT removes every DHT segment before the first scan, as many UVC cameras send.
func stripDHT(t testing.TB, data []byte) []byte {
	out := []byte{0xff, 0xd8}
	i := 2
	for {
		m := data[i+1]
		if m == 0xda {
			return append(out, data[i:]...)
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if m != 0xc4 {
			out = append(out, data[i:i+2+n]...)
		}
		i += 2 + n
		if i >= len(data) {
			t.Fatal("no SOS")
		}
	}
}

func TestStandardHuffmanTables(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(96, 64, 3), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	bare := stripDHT(t, full)
	if bytes.Contains(bare[:len(bare)-100], []byte{0xff, 0xc4}) {
		t.Fatal("test setup: DHT still present")
	}
	if _, err := jpeg.Decode(bytes.NewReader(bare)); err == nil {
		t.Fatal("image/jpeg decoded a frame without Huffman tables; test premise wrong")
	}
	// Go's encoder uses the Annex K tables, so a frame fixed with ours decodes to the
	// very same pixels.
	want, err := jpeg.Decode(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeJPEG(bare)
	if err != nil {
		t.Fatalf("DecodeJPEG(no DHT): %v", err)
	}
	wy, gy := want.(*image.YCbCr), got.(*image.YCbCr)
	if !bytes.Equal(wy.Y, gy.Y) || !bytes.Equal(wy.Cb, gy.Cb) || !bytes.Equal(wy.Cr, gy.Cr) {
		t.Fatal("decoded planes differ from the original's")
	}
	// A frame that has tables is returned as is.
	same, err := WithStandardHuffman(full)
	if err != nil || &same[0] != &full[0] {
		t.Fatalf("WithStandardHuffman changed a frame that has tables (err %v)", err)
	}
	// EncodeJPEG of a table-less MJPEG frame writes a file any decoder reads.
	var out bytes.Buffer
	f := &Frame{Format: MJPEG, Width: 96, Height: 64, Data: bare}
	if err := f.EncodeJPEG(&out, 90); err != nil {
		t.Fatal(err)
	}
	if _, err := jpeg.Decode(&out); err != nil {
		t.Fatalf("EncodeJPEG output does not decode: %v", err)
	}
}

func TestFrameMJPEG(t *testing.T) {
	src := testImage(80, 60, 4)
	f, err := FromImage(src, MJPEG)
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.Gray()
	if err != nil {
		t.Fatal(err)
	}
	if g.Rect != image.Rect(0, 0, 80, 60) {
		t.Fatalf("grey bounds %v", g.Rect)
	}
	// Reusing a buffer writes into it.
	buf := image.NewGray(image.Rect(0, 0, 80, 60))
	g2, err := f.GrayTo(buf)
	if err != nil || g2 != buf {
		t.Fatalf("GrayTo did not reuse the buffer (err %v)", err)
	}
	for y := 0; y < 60; y++ {
		for x := 0; x < 80; x++ {
			if g.GrayAt(x, y) != g2.GrayAt(x, y) {
				t.Fatalf("GrayTo and Gray differ at (%d,%d)", x, y)
			}
		}
	}
	rgba, err := f.RGBA()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i := range src.Pix {
		sum += float64(absDiff(src.Pix[i], rgba.Pix[i]))
	}
	if mean := sum / float64(len(src.Pix)); mean > 6 {
		t.Errorf("mean error after JPEG q90 round trip %.2f, want <= 6", mean)
	}
}

func TestFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want string
	}{
		{"short YUYV", Frame{Format: YUYV, Width: 4, Height: 2, Data: make([]byte, 15)}, "has 15 bytes, 4x2 needs 16"},
		{"odd YUYV width", Frame{Format: YUYV, Width: 3, Height: 2, Data: make([]byte, 12)}, "width 3 is odd"},
		{"zero size", Frame{Format: GREY, Width: 0, Height: 2}, "invalid size 0x2"},
		{"stride too small", Frame{Format: GREY, Width: 4, Height: 2, Stride: 3, Data: make([]byte, 8)}, "stride 3"},
		{"not JPEG", Frame{Format: MJPEG, Width: 4, Height: 2, Data: []byte("hello world")}, "SOI"},
		{"truncated JPEG", Frame{Format: MJPEG, Width: 4, Height: 2, Data: []byte{0xff, 0xd8, 0xff, 0xe0, 0x00}}, "truncated"},
		{"unknown format", Frame{Format: Fourcc('N', 'V', '1', '2'), Width: 4, Height: 2, Data: make([]byte, 12)}, "NV12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Gray()
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("Gray() error = %v, want one containing %q", err, tc.want)
			}
			_, err = tc.f.RGBA()
			if err == nil {
				t.Error("RGBA() succeeded on a bad frame")
			}
		})
	}
}

func TestHugeJPEGRefused(t *testing.T) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, testImage(16, 16, 5), nil)
	data := buf.Bytes()
	// Patch the SOF0 size fields to 60000x60000.
	i := bytes.Index(data, []byte{0xff, 0xc0})
	data[i+5], data[i+6], data[i+7], data[i+8] = 0xea, 0x60, 0xea, 0x60
	if _, err := DecodeJPEG(data); err == nil || !bytes.Contains([]byte(err.Error()), []byte("limit")) {
		t.Fatalf("DecodeJPEG(60000x60000) error = %v, want the pixel limit", err)
	}
}

func TestSizeAndFormat(t *testing.T) {
	if s, err := ParseSize("1920x1080"); err != nil || s != (Size{1920, 1080}) {
		t.Errorf("ParseSize = %v, %v", s, err)
	}
	for _, bad := range []string{"", "1920", "x1080", "0x10", "-1x2", "99999x2", "axb"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	sizes := []Size{{640, 480}, {1280, 720}, {1920, 1080}}
	for _, tc := range []struct{ want, got Size }{
		{Size{640, 480}, Size{640, 480}},
		{Size{800, 600}, Size{1280, 720}},
		{Size{4000, 3000}, Size{1920, 1080}},
		{Size{320, 240}, Size{640, 480}},
	} {
		if got, _ := Nearest(sizes, tc.want); got != tc.got {
			t.Errorf("Nearest(%v) = %v, want %v", tc.want, got, tc.got)
		}
	}
	if YUYV.String() != "YUYV" || MJPEG.String() != "MJPG" || PixelFormat(0x01020304).String() != "0x01020304" {
		t.Errorf("fourcc strings: %s %s %s", YUYV, MJPEG, PixelFormat(0x01020304))
	}
	for in, want := range map[string]PixelFormat{"yuyv": YUYV, "MJPEG": MJPEG, "gray": GREY} {
		if p, err := ParsePixelFormat(in); err != nil || p != want {
			t.Errorf("ParsePixelFormat(%q) = %v, %v", in, p, err)
		}
	}
	if _, err := ParsePixelFormat("h264"); err == nil {
		t.Error("ParsePixelFormat(h264) succeeded")
	}
}
