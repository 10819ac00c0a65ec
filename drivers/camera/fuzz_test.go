package camera

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// FuzzFrame feeds arbitrary bytes, sizes and formats to every conversion: they must
// return an image or an error, never panic, and a YUYV/GREY frame that converts must have
// the size it claims.
func FuzzFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, testImage(16, 8, 9), &jpeg.Options{Quality: 50})
	f.Add(uint8(0), 4, 2, 0, []byte{16, 128, 16, 128, 235, 128, 235, 128, 81, 90, 81, 240, 41, 240, 41, 110})
	f.Add(uint8(1), 16, 8, 0, buf.Bytes())
	f.Add(uint8(1), 16, 8, 0, stripDHT(f, buf.Bytes()))
	f.Add(uint8(2), 3, 3, 4, []byte{1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9})
	f.Fuzz(func(t *testing.T, kind uint8, w, h, stride int, data []byte) {
		formats := []PixelFormat{YUYV, MJPEG, GREY, JPEG}
		fr := &Frame{Format: formats[int(kind)%len(formats)], Width: w, Height: h, Stride: stride, Data: data}
		g, errG := fr.Gray()
		_, errR := fr.RGBA()
		_, errI := fr.Image()
		if (errG == nil) != (errR == nil) || (errG == nil) != (errI == nil) {
			t.Fatalf("conversions disagree: gray %v, rgba %v, image %v", errG, errR, errI)
		}
		if errG == nil && fr.Format != MJPEG && fr.Format != JPEG {
			if g.Rect.Dx() != w || g.Rect.Dy() != h {
				t.Fatalf("grey %v for a %dx%d frame", g.Rect, w, h)
			}
		}
	})
}

// FuzzWithStandardHuffman: never panics, and applying it twice changes nothing more
// (the output already has tables).
func FuzzWithStandardHuffman(f *testing.F) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, testImage(16, 8, 9), &jpeg.Options{Quality: 50})
	f.Add(buf.Bytes())
	f.Add(stripDHT(f, buf.Bytes()))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xff, 0xda, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		once, err := WithStandardHuffman(data)
		if err != nil {
			return
		}
		twice, err := WithStandardHuffman(once)
		if err != nil {
			t.Fatalf("second pass failed: %v", err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatal("second pass changed the frame")
		}
	})
}
