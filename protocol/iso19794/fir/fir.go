// Package fir reads and writes ISO/IEC 19794-4:2005 finger image records (format
// identifier "FIR\0", version " 10\0") with uncompressed 8-bit or PNG image data.
// Records holding WSQ, JPEG or JPEG 2000 data are read (their bytes are kept) but
// their images cannot be decoded here: Image.Gray reports an unsupported compression.
//
// Layout (big-endian):
//
//	general header, 32 bytes:
//	  "FIR\0"  " 10\0"  record length (6)  capture device id (2)
//	  image acquisition level (2)  number of finger/palm images (1)
//	  scale units (1: 1 pixels per inch, 2 pixels per centimetre)
//	  horizontal and vertical scan resolution (2+2)
//	  horizontal and vertical image resolution (2+2)  pixel depth in bits (1)
//	  image compression algorithm (1)  reserved (2)
//	per image, a 14-byte header then the data:
//	  length of the finger data block, header included (4)  finger/palm position (1)
//	  count of views (1)  view number (1)  image quality (1)  impression type (1)
//	  horizontal line length (2)  vertical line length (2)  reserved (1)
//
// Compression codes (19794-4:2005 table): 0 uncompressed without bit packing,
// 1 uncompressed bit packed, 2 WSQ, 3 JPEG, 4 JPEG 2000, 5 PNG.
//
// Decoding is strict: magic, version, the record and block lengths, the number of
// images, the size of uncompressed data and the reserved fields are all checked, and
// errors name the field. The package imports nothing from the rest of Captura.
package fir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
)

// Compression is the image compression algorithm code.
type Compression uint8

const (
	Uncompressed Compression = 0 // no bit packing
	BitPacked    Compression = 1
	WSQ          Compression = 2
	JPEG         Compression = 3
	JPEG2000     Compression = 4
	PNG          Compression = 5
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case BitPacked:
		return "uncompressed bit-packed"
	case WSQ:
		return "WSQ"
	case JPEG:
		return "JPEG"
	case JPEG2000:
		return "JPEG 2000"
	case PNG:
		return "PNG"
	}
	return fmt.Sprintf("compression code %d", uint8(c))
}

// Scale units.
const (
	PixelsPerInch = 1
	PixelsPerCm   = 2
)

// Header sizes.
const (
	HeaderLen      = 32
	ImageHeaderLen = 14
)

// MaxPixels bounds the images Gray decodes, so that a hostile header cannot make it
// allocate without limit.
const MaxPixels = 32 << 20

// Record is a finger image record.
type Record struct {
	DeviceID         uint16
	AcquisitionLevel uint16 // e.g. 31 for 500 ppi, 8-bit images
	ScaleUnits       uint8  // PixelsPerInch or PixelsPerCm
	ScanXRes         uint16
	ScanYRes         uint16
	ImageXRes        uint16
	ImageYRes        uint16
	PixelDepth       uint8 // bits per pixel, 1..16
	Compression      Compression
	Images           []Image
}

// Image is one finger image (one view) and its data as stored.
type Image struct {
	Position      uint8 // finger/palm position code
	ViewCount     uint8
	ViewNumber    uint8
	Quality       uint8 // 0..100, 254 not computed, 255 failed (as the record says)
	Impression    uint8
	Width, Height uint16
	Data          []byte // raw pixels (row-major) or the compressed stream
}

// Errors. Decoding errors wrap one of these and name the field.
var (
	ErrFormat      = errors.New("not a finger image record")
	ErrTruncated   = errors.New("truncated")
	ErrLength      = errors.New("inconsistent length")
	ErrInvalid     = errors.New("invalid value")
	ErrUnsupported = errors.New("unsupported compression")
)

// FieldError says which field of a record was wrong and where.
type FieldError struct {
	Field  string
	Offset int
	Err    error
	Detail string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("fir: %s at byte %d: %v", e.Field, e.Offset, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FieldError) Unwrap() error { return e.Err }

func ferr(field string, off int, err error, format string, a ...any) error {
	return &FieldError{Field: field, Offset: off, Err: err, Detail: fmt.Sprintf(format, a...)}
}

// rawLen is the number of bytes uncompressed data of this size and depth takes, or -1
// when the compression does not fix it.
func rawLen(c Compression, depth uint8, w, h uint16) int64 {
	px := int64(w) * int64(h)
	switch c {
	case Uncompressed:
		return px * int64((int(depth)+7)/8)
	case BitPacked:
		return (px*int64(depth) + 7) / 8
	}
	return -1
}

// Decode reads one record.
func Decode(b []byte) (*Record, error) {
	if len(b) < HeaderLen {
		if len(b) >= 4 && string(b[:4]) != "FIR\x00" {
			return nil, ferr("format identifier", 0, ErrFormat, "got %q, want \"FIR\\x00\"", b[:4])
		}
		return nil, ferr("general header", 0, ErrTruncated, "%d bytes, need %d", len(b), HeaderLen)
	}
	if string(b[:4]) != "FIR\x00" {
		return nil, ferr("format identifier", 0, ErrFormat, "got %q, want \"FIR\\x00\"", b[:4])
	}
	if string(b[4:8]) != " 10\x00" {
		return nil, ferr("version", 4, ErrFormat, "got %q, want \" 10\\x00\"", b[4:8])
	}
	length := uint64(binary.BigEndian.Uint16(b[8:]))<<32 | uint64(binary.BigEndian.Uint32(b[10:]))
	if length != uint64(len(b)) {
		return nil, ferr("record length", 8, ErrLength, "header says %d bytes, record has %d", length, len(b))
	}
	r := &Record{
		DeviceID:         binary.BigEndian.Uint16(b[14:]),
		AcquisitionLevel: binary.BigEndian.Uint16(b[16:]),
		ScaleUnits:       b[19],
		ScanXRes:         binary.BigEndian.Uint16(b[20:]),
		ScanYRes:         binary.BigEndian.Uint16(b[22:]),
		ImageXRes:        binary.BigEndian.Uint16(b[24:]),
		ImageYRes:        binary.BigEndian.Uint16(b[26:]),
		PixelDepth:       b[28],
		Compression:      Compression(b[29]),
	}
	n := int(b[18])
	switch {
	case n == 0:
		return nil, ferr("number of finger images", 18, ErrInvalid, "zero")
	case r.ScaleUnits != PixelsPerInch && r.ScaleUnits != PixelsPerCm:
		return nil, ferr("scale units", 19, ErrInvalid, "%d (1 inch, 2 cm)", r.ScaleUnits)
	case r.PixelDepth < 1 || r.PixelDepth > 16:
		return nil, ferr("pixel depth", 28, ErrInvalid, "%d bits (1..16)", r.PixelDepth)
	case r.Compression > PNG:
		return nil, ferr("image compression algorithm", 29, ErrInvalid, "code %d (0..5)", b[29])
	case b[30] != 0 || b[31] != 0:
		return nil, ferr("reserved", 30, ErrInvalid, "not zero")
	}
	off := HeaderLen
	for i := 0; i < n; i++ {
		name := func(s string) string { return fmt.Sprintf("image %d %s", i+1, s) }
		if len(b)-off < ImageHeaderLen {
			return nil, ferr(name("header"), off, ErrTruncated, "%d bytes left, need %d", len(b)-off, ImageHeaderLen)
		}
		h := b[off:]
		bl := int64(binary.BigEndian.Uint32(h))
		if bl < ImageHeaderLen || bl > int64(len(b)-off) {
			return nil, ferr(name("data block length"), off, ErrLength, "%d bytes, %d left in the record", bl, len(b)-off)
		}
		im := Image{
			Position: h[4], ViewCount: h[5], ViewNumber: h[6], Quality: h[7], Impression: h[8],
			Width: binary.BigEndian.Uint16(h[9:]), Height: binary.BigEndian.Uint16(h[11:]),
		}
		switch {
		case h[13] != 0:
			return nil, ferr(name("reserved"), off+13, ErrInvalid, "not zero")
		case im.Width == 0 || im.Height == 0:
			return nil, ferr(name("line lengths"), off+9, ErrInvalid, "%dx%d", im.Width, im.Height)
		case im.ViewNumber == 0 || im.ViewCount == 0 || im.ViewNumber > im.ViewCount:
			return nil, ferr(name("view number"), off+6, ErrInvalid, "view %d of %d", im.ViewNumber, im.ViewCount)
		case im.Quality > 100 && im.Quality < 254:
			return nil, ferr(name("quality"), off+7, ErrInvalid, "%d (0..100, 254, 255)", im.Quality)
		}
		dl := bl - ImageHeaderLen
		if want := rawLen(r.Compression, r.PixelDepth, im.Width, im.Height); want >= 0 && want != dl {
			return nil, ferr(name("data block length"), off, ErrLength, "%dx%d pixels of %d bits need %d data bytes, block has %d", im.Width, im.Height, r.PixelDepth, want, dl)
		}
		im.Data = append([]byte(nil), b[off+ImageHeaderLen:off+int(bl)]...)
		r.Images = append(r.Images, im)
		off += int(bl)
	}
	if off != len(b) {
		return nil, ferr("end of record", off, ErrLength, "%d trailing bytes after %d images", len(b)-off, n)
	}
	return r, nil
}

// Encode writes the record. It checks the fields as Decode does.
func Encode(r *Record) ([]byte, error) {
	switch {
	case len(r.Images) == 0 || len(r.Images) > 255:
		return nil, fmt.Errorf("fir: %d images (1..255)", len(r.Images))
	case r.ScaleUnits != PixelsPerInch && r.ScaleUnits != PixelsPerCm:
		return nil, fmt.Errorf("fir: scale units %d (1 inch, 2 cm)", r.ScaleUnits)
	case r.PixelDepth < 1 || r.PixelDepth > 16:
		return nil, fmt.Errorf("fir: pixel depth %d (1..16)", r.PixelDepth)
	case r.Compression > PNG:
		return nil, fmt.Errorf("fir: compression code %d (0..5)", r.Compression)
	}
	size := HeaderLen
	for i, im := range r.Images {
		if im.Width == 0 || im.Height == 0 || im.ViewNumber == 0 || im.ViewNumber > im.ViewCount || (im.Quality > 100 && im.Quality < 254) {
			return nil, fmt.Errorf("fir: image %d: size %dx%d, view %d of %d, quality %d out of range", i+1, im.Width, im.Height, im.ViewNumber, im.ViewCount, im.Quality)
		}
		if want := rawLen(r.Compression, r.PixelDepth, im.Width, im.Height); want >= 0 && want != int64(len(im.Data)) {
			return nil, fmt.Errorf("fir: image %d: %dx%d pixels of %d bits need %d bytes, have %d", i+1, im.Width, im.Height, r.PixelDepth, want, len(im.Data))
		}
		if int64(len(im.Data))+ImageHeaderLen > 0xffffffff {
			return nil, fmt.Errorf("fir: image %d: data too large", i+1)
		}
		size += ImageHeaderLen + len(im.Data)
	}
	b := make([]byte, HeaderLen, size)
	copy(b, "FIR\x00 10\x00")
	binary.BigEndian.PutUint16(b[8:], uint16(uint64(size)>>32))
	binary.BigEndian.PutUint32(b[10:], uint32(size))
	binary.BigEndian.PutUint16(b[14:], r.DeviceID)
	binary.BigEndian.PutUint16(b[16:], r.AcquisitionLevel)
	b[18] = uint8(len(r.Images))
	b[19] = r.ScaleUnits
	binary.BigEndian.PutUint16(b[20:], r.ScanXRes)
	binary.BigEndian.PutUint16(b[22:], r.ScanYRes)
	binary.BigEndian.PutUint16(b[24:], r.ImageXRes)
	binary.BigEndian.PutUint16(b[26:], r.ImageYRes)
	b[28] = r.PixelDepth
	b[29] = uint8(r.Compression)
	for _, im := range r.Images {
		b = binary.BigEndian.AppendUint32(b, uint32(ImageHeaderLen+len(im.Data)))
		b = append(b, im.Position, im.ViewCount, im.ViewNumber, im.Quality, im.Impression)
		b = binary.BigEndian.AppendUint16(b, im.Width)
		b = binary.BigEndian.AppendUint16(b, im.Height)
		b = append(b, 0)
		b = append(b, im.Data...)
	}
	return b, nil
}

// Gray decodes the image of im, stored with the record's compression and pixel depth.
// Only 8-bit uncompressed and PNG data are supported; other compressions give an
// error wrapping ErrUnsupported.
func (r *Record) Gray(im *Image) (*image.Gray, error) {
	w, h := int(im.Width), int(im.Height)
	if w*h > MaxPixels {
		return nil, fmt.Errorf("fir: image of %dx%d pixels is too large", w, h)
	}
	switch r.Compression {
	case Uncompressed:
		if r.PixelDepth != 8 {
			return nil, fmt.Errorf("fir: %w: uncompressed %d-bit pixels (8-bit only)", ErrUnsupported, r.PixelDepth)
		}
		if len(im.Data) != w*h {
			return nil, fmt.Errorf("fir: %w: %d data bytes for %dx%d pixels", ErrLength, len(im.Data), w, h)
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, im.Data)
		return g, nil
	case PNG:
		cfg, err := png.DecodeConfig(bytes.NewReader(im.Data))
		if err != nil {
			return nil, fmt.Errorf("fir: png: %w", err)
		}
		if cfg.Width != w || cfg.Height != h {
			return nil, fmt.Errorf("fir: %w: PNG is %dx%d, header says %dx%d", ErrLength, cfg.Width, cfg.Height, w, h)
		}
		if cfg.ColorModel != color.GrayModel {
			return nil, fmt.Errorf("fir: %w: PNG colour model is not 8-bit grey", ErrUnsupported)
		}
		img, err := png.Decode(bytes.NewReader(im.Data))
		if err != nil {
			return nil, fmt.Errorf("fir: png: %w", err)
		}
		if g, ok := img.(*image.Gray); ok {
			return g, nil
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
		return g, nil
	}
	return nil, fmt.Errorf("fir: %w: %v", ErrUnsupported, r.Compression)
}

// ImageOf makes an Image holding g with the given compression (Uncompressed or PNG).
func ImageOf(g *image.Gray, c Compression) (Image, error) {
	b := g.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > 0xffff || b.Dy() > 0xffff {
		return Image{}, fmt.Errorf("fir: image size %dx%d out of range", b.Dx(), b.Dy())
	}
	im := Image{ViewCount: 1, ViewNumber: 1, Width: uint16(b.Dx()), Height: uint16(b.Dy())}
	// A copy with its own origin and stride.
	own := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(own, own.Bounds(), g, b.Min, draw.Src)
	switch c {
	case Uncompressed:
		im.Data = own.Pix
	case PNG:
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, own); err != nil {
			return Image{}, fmt.Errorf("fir: png: %w", err)
		}
		im.Data = buf.Bytes()
	default:
		return Image{}, fmt.Errorf("fir: %w: cannot write %v", ErrUnsupported, c)
	}
	return im, nil
}
