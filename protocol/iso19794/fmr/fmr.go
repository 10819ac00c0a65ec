// Package fmr reads and writes finger minutiae records: ISO/IEC 19794-2:2005 (record
// format, version " 20"), which Captura writes, and the two ANSI INCITS 378 layouts
// found in the field, 378-2004 (version " 20") and 378-2007 (version "030").
//
// Layouts (big-endian throughout):
//
//	ISO/IEC 19794-2:2005 header, 24 bytes:
//	  "FMR\0"  " 20\0"  record length (4)  capture equipment (2: compliance 4 bits,
//	  device id 12 bits)  image width (2)  image height (2)  x resolution (2)
//	  y resolution (2, pixels per centimetre)  number of finger views (1)  reserved (1)
//	ANSI INCITS 378-2004 header, 26 or 30 bytes:
//	  "FMR\0"  " 20\0"  record length (2, or 0 then 4 when above 65535)
//	  CBEFF product owner (2) and type (2)  capture equipment (2)  width (2)
//	  height (2)  x resolution (2)  y resolution (2)  number of views (1)  reserved (1)
//	ANSI INCITS 378-2007 header, 20 bytes:
//	  "FMR\0"  "030\0"  record length (4)  CBEFF product owner (2) and type (2)
//	  capture equipment (2)  number of views (1)  reserved (1)
//
//	finger view (ISO 2005, ANSI 2004): finger position (1), view number (high 4 bits)
//	  and impression type (low 4 bits) (1), finger quality (1), minutiae count (1)
//	finger view (ANSI 2007): finger position (1), view number (1), impression type (1),
//	  finger quality (1), quality algorithm owner (2) and id (2), width (2), height (2),
//	  x resolution (2), y resolution (2), minutiae count (1)
//	minutia, 6 bytes: type (2 bits: 01 ending, 10 bifurcation, 00 other) and x (14 bits),
//	  reserved (2 bits) and y (14 bits), angle (1), quality (1)
//	  The angle unit is 360/256 degrees in ISO records and 2 degrees (0..179) in ANSI.
//	extended data block length (2), then areas: type (2), length (2, including these
//	  four bytes), data. Type 1 holds ridge counts, type 2 cores and deltas; other types
//	  are vendor data. This package keeps every area's bytes as they are, so a record
//	  read and written again is byte-identical.
//
// Decoding is strict: wrong magic or version, truncation, a record length that does
// not match the data, counts that run past the data and trailing bytes are errors
// that name the field. The package imports nothing from the rest of Captura.
package fmr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Format is the record layout.
type Format uint8

const (
	ISO2005  Format = iota + 1 // ISO/IEC 19794-2:2005
	ANSI2004                   // ANSI INCITS 378-2004
	ANSI2007                   // ANSI INCITS 378-2007
)

func (f Format) String() string {
	switch f {
	case ISO2005:
		return "ISO/IEC 19794-2:2005"
	case ANSI2004:
		return "ANSI INCITS 378-2004"
	case ANSI2007:
		return "ANSI INCITS 378-2007"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Minutia types (2-bit codes).
const (
	TypeOther       = 0
	TypeEnding      = 1
	TypeBifurcation = 2
)

// Extended data area types.
const (
	AreaRidgeCount = 1
	AreaCoreDelta  = 2
)

// MaxCoord is the largest coordinate a minutia can carry (14 bits).
const MaxCoord = 1<<14 - 1

// Record is one finger minutiae record.
type Record struct {
	Format Format
	// CBEFF product identifier (ANSI records only; zero in ISO records).
	CBEFFOwner, CBEFFType uint16
	// Capture equipment: compliance (4 bits) and device id (12 bits).
	Compliance uint8
	DeviceID   uint16
	// Image size in pixels and resolution in pixels per centimetre (197 for 500 ppi).
	// ANSI 2007 records carry these per view; here they are those of the first view.
	Width, Height uint16
	XRes, YRes    uint16
	// LongLength records that an ANSI 2004 record used the 6-byte length form.
	LongLength bool
	Views      []View
}

// View is one finger view.
type View struct {
	Position   uint8 // finger position code (0 unknown, 1 right thumb ... 10 left little)
	ViewNumber uint8 // 0..15 (ISO, ANSI 2004); 0..255 (ANSI 2007)
	Impression uint8 // 0 live-scan plain, 1 live-scan rolled, 2 non-live plain, ...
	Quality    uint8 // 0..100
	// ANSI 2007 only: quality algorithm owner and id, and per-view image geometry.
	QualityOwner, QualityAlgorithm uint16
	Width, Height, XRes, YRes      uint16
	Minutiae                       []Minutia
	Extended                       []Area
	// ExtendedLength is zero, or the extended data block length the record declared
	// when it disagrees with the areas' bytes (see Area.Length); Encode writes it back.
	ExtendedLength uint16
}

// Minutia is one minutia as stored: X and Y in pixels from the top-left corner, Angle
// in the record's units (see Format.AngleDegrees).
type Minutia struct {
	Type    uint8 // TypeOther, TypeEnding, TypeBifurcation (3 is reserved)
	X, Y    uint16
	Angle   uint8
	Quality uint8 // 1..100, 0 unknown
}

// Area is one extended data area, kept byte for byte.
type Area struct {
	Type uint16
	Data []byte
	// Length is zero, or the area length the record declared when it disagrees with
	// 4+len(Data) (tolerated for core/delta areas, see Decode); Encode writes it back.
	Length uint16
}

// maxCoreDeltaSlack bounds how far a core/delta area's declared length may be from its
// content (NIST's sample records are off by one and two bytes).
const maxCoreDeltaSlack = 8

// coreDeltaLen returns the length of core and delta data from its counts. In ISO
// records each point's x field carries its information type in the top two bits
// (01: angles follow); in ANSI records the count byte carries it for all points.
func coreDeltaLen(b []byte, f Format) (int, error) {
	off := 0
	for part, angles := range [2]int{1, 3} { // a core has one angle, a delta three
		what := [2]string{"core", "delta"}[part]
		if off >= len(b) {
			return 0, fmt.Errorf("%s count missing", what)
		}
		c := b[off]
		off++
		n := int(c & 0x0f)
		for i := 0; i < n; i++ {
			if off+4 > len(b) {
				return 0, fmt.Errorf("%s %d of %d truncated", what, i+1, n)
			}
			typ := c >> 6
			if f == ISO2005 {
				typ = b[off] >> 6
			}
			off += 4
			if typ == 1 {
				off += angles
			}
			if off > len(b) {
				return 0, fmt.Errorf("%s %d of %d truncated", what, i+1, n)
			}
		}
	}
	return off, nil
}

// AngleDegrees converts a stored angle to degrees counter-clockwise from the x axis.
func (f Format) AngleDegrees(a uint8) float64 {
	if f == ISO2005 {
		return float64(a) * 360 / 256
	}
	return float64(a) * 2
}

// AngleFromRadians converts an angle in radians to the record's unit, rounding to the
// nearest step.
func (f Format) AngleFromRadians(rad float64) uint8 {
	deg := math.Mod(rad*180/math.Pi, 360)
	if deg < 0 {
		deg += 360
	}
	if f == ISO2005 {
		return uint8(int(math.Round(deg*256/360)) % 256)
	}
	return uint8(int(math.Round(deg/2)) % 180)
}

// Errors. Decoding errors wrap one of these and name the field.
var (
	ErrFormat    = errors.New("not a finger minutiae record")
	ErrTruncated = errors.New("truncated")
	ErrInvalid   = errors.New("invalid value")
	ErrLength    = errors.New("inconsistent length")
)

// FieldError says which field of a record was wrong and where.
type FieldError struct {
	Field  string
	Offset int
	Err    error
	Detail string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("fmr: %s at byte %d: %v", e.Field, e.Offset, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FieldError) Unwrap() error { return e.Err }

// ridgeCounts etc. helpers ---------------------------------------------------------

// RidgeCount is one entry of a ridge count area.
type RidgeCount struct {
	Index1, Index2 uint8 // minutia indices (ISO: 0-based; ANSI: as the record gives)
	Count          uint8
}

// RidgeCounts decodes a ridge count area (type 1): extraction method, then triples.
func (a Area) RidgeCounts() (method uint8, rc []RidgeCount, err error) {
	if a.Type != AreaRidgeCount {
		return 0, nil, fmt.Errorf("fmr: area type %d is not a ridge count area", a.Type)
	}
	if len(a.Data) < 1 || (len(a.Data)-1)%3 != 0 {
		return 0, nil, fmt.Errorf("fmr: ridge count area: %w: %d data bytes is not 1+3n", ErrLength, len(a.Data))
	}
	method = a.Data[0]
	for i := 1; i+3 <= len(a.Data); i += 3 {
		rc = append(rc, RidgeCount{a.Data[i], a.Data[i+1], a.Data[i+2]})
	}
	return method, rc, nil
}

// reader walks the record bytes, recording the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int, field string) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.err = &FieldError{Field: field, Offset: r.off, Err: ErrTruncated,
			Detail: fmt.Sprintf("need %d bytes, %d left", n, len(r.b)-r.off)}
		return false
	}
	return true
}

func (r *reader) u8(field string) uint8 {
	if !r.need(1, field) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16(field string) uint16 {
	if !r.need(2, field) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32(field string) uint32 {
	if !r.need(4, field) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) bytes(n int, field string) []byte {
	if !r.need(n, field) {
		return nil
	}
	v := append([]byte(nil), r.b[r.off:r.off+n]...)
	r.off += n
	return v
}

func (r *reader) fail(field string, off int, err error, detail string, a ...any) {
	if r.err == nil {
		r.err = &FieldError{Field: field, Offset: off, Err: err, Detail: fmt.Sprintf(detail, a...)}
	}
}

// Decode reads one record, detecting its format from the version and header. A
// " 20\0" record is taken as ISO/IEC 19794-2:2005 when its 4-byte record length
// matches the data, and as ANSI INCITS 378-2004 when its 2-byte (or 6-byte) length
// does; use DecodeFormat to insist on one.
func Decode(b []byte) (*Record, error) {
	if len(b) < 8 {
		return nil, &FieldError{Field: "format identifier", Offset: 0, Err: ErrTruncated, Detail: fmt.Sprintf("%d bytes", len(b))}
	}
	if string(b[:4]) != "FMR\x00" {
		return nil, &FieldError{Field: "format identifier", Offset: 0, Err: ErrFormat, Detail: fmt.Sprintf("got %q, want \"FMR\\x00\"", b[:4])}
	}
	switch string(b[4:8]) {
	case "030\x00":
		return DecodeFormat(b, ANSI2007)
	case " 20\x00":
		if len(b) >= 12 && binary.BigEndian.Uint32(b[8:]) == uint32(len(b)) {
			return DecodeFormat(b, ISO2005)
		}
		return DecodeFormat(b, ANSI2004)
	}
	return nil, &FieldError{Field: "version", Offset: 4, Err: ErrFormat, Detail: fmt.Sprintf("got %q, want \" 20\\x00\" or \"030\\x00\"", b[4:8])}
}

// DecodeFormat reads one record in the given format.
func DecodeFormat(b []byte, f Format) (*Record, error) {
	r := &reader{b: b}
	rec := &Record{Format: f}
	if magic := r.bytes(4, "format identifier"); r.err == nil && string(magic) != "FMR\x00" {
		r.fail("format identifier", 0, ErrFormat, "got %q, want \"FMR\\x00\"", magic)
	}
	want := " 20\x00"
	if f == ANSI2007 {
		want = "030\x00"
	} else if f != ISO2005 && f != ANSI2004 {
		return nil, fmt.Errorf("fmr: unknown format %v", f)
	}
	if v := r.bytes(4, "version"); r.err == nil && string(v) != want {
		r.fail("version", 4, ErrFormat, "got %q, want %q for %v", v, want, f)
	}
	lenOff := r.off
	var length uint32
	switch f {
	case ANSI2004:
		length = uint32(r.u16("record length"))
		if r.err == nil && length == 0 {
			rec.LongLength = true
			length = r.u32("record length (long form)")
		}
	default:
		length = r.u32("record length")
	}
	if r.err == nil && length != uint32(len(b)) {
		r.fail("record length", lenOff, ErrLength, "header says %d bytes, record has %d", length, len(b))
	}
	if f != ISO2005 {
		rec.CBEFFOwner = r.u16("CBEFF product owner")
		rec.CBEFFType = r.u16("CBEFF product type")
	}
	ce := r.u16("capture equipment")
	rec.Compliance, rec.DeviceID = uint8(ce>>12), ce&0x0fff
	if f != ANSI2007 {
		rec.Width = r.u16("image width")
		rec.Height = r.u16("image height")
		rec.XRes = r.u16("x resolution")
		rec.YRes = r.u16("y resolution")
	}
	nv := int(r.u8("number of finger views"))
	resOff := r.off
	if res := r.u8("reserved byte"); r.err == nil && res != 0 {
		r.fail("reserved byte", resOff, ErrInvalid, "got %d, want 0", res)
	}
	if r.err == nil && nv == 0 {
		r.fail("number of finger views", resOff-1, ErrInvalid, "zero views")
	}
	for vi := 0; vi < nv && r.err == nil; vi++ {
		v := r.view(f, vi)
		rec.Views = append(rec.Views, v)
	}
	if r.err == nil && r.off != len(b) {
		r.fail("end of record", r.off, ErrLength, "%d trailing bytes after %d views", len(b)-r.off, nv)
	}
	if r.err != nil {
		return nil, r.err
	}
	if f == ANSI2007 && len(rec.Views) > 0 {
		v := rec.Views[0]
		rec.Width, rec.Height, rec.XRes, rec.YRes = v.Width, v.Height, v.XRes, v.YRes
	}
	return rec, nil
}

func (r *reader) view(f Format, vi int) View {
	var v View
	name := func(s string) string { return fmt.Sprintf("view %d %s", vi+1, s) }
	posOff := r.off
	v.Position = r.u8(name("finger position"))
	if r.err == nil && v.Position > 10 {
		r.fail(name("finger position"), posOff, ErrInvalid, "code %d (0..10 for a finger)", v.Position)
	}
	if f == ANSI2007 {
		v.ViewNumber = r.u8(name("view number"))
		v.Impression = r.u8(name("impression type"))
	} else {
		b := r.u8(name("view number and impression type"))
		v.ViewNumber, v.Impression = b>>4, b&0x0f
	}
	qOff := r.off
	v.Quality = r.u8(name("finger quality"))
	if r.err == nil && v.Quality > 100 {
		r.fail(name("finger quality"), qOff, ErrInvalid, "%d (0..100)", v.Quality)
	}
	if f == ANSI2007 {
		v.QualityOwner = r.u16(name("quality algorithm owner"))
		v.QualityAlgorithm = r.u16(name("quality algorithm"))
		v.Width = r.u16(name("image width"))
		v.Height = r.u16(name("image height"))
		v.XRes = r.u16(name("x resolution"))
		v.YRes = r.u16(name("y resolution"))
	}
	cntOff := r.off
	n := int(r.u8(name("number of minutiae")))
	if r.err == nil && len(r.b)-r.off < 6*n {
		r.fail(name("number of minutiae"), cntOff, ErrLength, "%d minutiae need %d bytes, %d left", n, 6*n, len(r.b)-r.off)
	}
	for mi := 0; mi < n && r.err == nil; mi++ {
		mOff := r.off
		field := fmt.Sprintf("view %d minutia %d", vi+1, mi+1)
		tx := r.u16(field)
		ry := r.u16(field)
		a := r.u8(field)
		q := r.u8(field)
		m := Minutia{Type: uint8(tx >> 14), X: tx & MaxCoord, Y: ry & MaxCoord, Angle: a, Quality: q}
		switch {
		case r.err != nil:
		case m.Type == 3:
			r.fail(field+" type", mOff, ErrInvalid, "reserved type code 3")
		case ry>>14 != 0:
			r.fail(field+" reserved bits", mOff+2, ErrInvalid, "non-zero")
		case f != ISO2005 && a >= 180:
			r.fail(field+" angle", mOff+4, ErrInvalid, "%d (ANSI angles are 0..179 in 2-degree units)", a)
		case q > 100:
			r.fail(field+" quality", mOff+5, ErrInvalid, "%d (0..100)", q)
		}
		v.Minutiae = append(v.Minutiae, m)
	}
	extOff := r.off
	ext := int(r.u16(name("extended data block length")))
	if r.err == nil && len(r.b)-r.off < ext && ext-(len(r.b)-r.off) > maxCoreDeltaSlack {
		r.fail(name("extended data block length"), extOff, ErrLength, "%d bytes announced, %d left", ext, len(r.b)-r.off)
	}
	start := r.off
	declared := 0 // sum of the declared area lengths
	for r.err == nil && declared < ext {
		aOff := r.off
		at := r.u16(name("extended data type"))
		al := int(r.u16(name("extended data length")))
		if r.err != nil {
			break
		}
		if al < 4 || declared+al > ext {
			r.fail(name("extended data length"), aOff+2, ErrLength, "area of %d bytes in a block of %d", al, ext)
			break
		}
		if at == 0 {
			r.fail(name("extended data type"), aOff, ErrInvalid, "type 0 is reserved")
			break
		}
		n := al - 4
		if at == AreaCoreDelta {
			// The content says how long it is; NIST's own writer (libbiomeval) is known
			// to declare lengths that disagree with it, so the content decides and the
			// declared length is kept for a byte-identical rewrite.
			cn, err := coreDeltaLen(r.b[r.off:], f)
			if err != nil {
				r.fail(name("core and delta data"), r.off, ErrTruncated, "%v", err)
				break
			}
			if cn-n > maxCoreDeltaSlack || n-cn > maxCoreDeltaSlack {
				r.fail(name("extended data length"), aOff+2, ErrLength, "core/delta area declares %d data bytes, holds %d", n, cn)
				break
			}
			n = cn
		}
		a := Area{Type: at, Data: r.bytes(n, name("extended data"))}
		if al != 4+n {
			a.Length = uint16(al)
		}
		v.Extended = append(v.Extended, a)
		declared += al
	}
	if r.err == nil && r.off-start != ext {
		v.ExtendedLength = uint16(ext)
	}
	return v
}

// Encode writes the record in its Format. It checks that every value fits its field.
func Encode(rec *Record) ([]byte, error) {
	f := rec.Format
	if f != ISO2005 && f != ANSI2004 && f != ANSI2007 {
		return nil, fmt.Errorf("fmr: unknown format %v", f)
	}
	if len(rec.Views) == 0 || len(rec.Views) > 255 {
		return nil, fmt.Errorf("fmr: %d finger views (1..255)", len(rec.Views))
	}
	if rec.Compliance > 15 || rec.DeviceID > 0x0fff {
		return nil, fmt.Errorf("fmr: capture equipment compliance %d (0..15) or device id %d (0..4095) out of range", rec.Compliance, rec.DeviceID)
	}
	b := make([]byte, 0, 64+len(rec.Views)*(32+6*64))
	b = append(b, "FMR\x00"...)
	if f == ANSI2007 {
		b = append(b, "030\x00"...)
	} else {
		b = append(b, " 20\x00"...)
	}
	lenAt := len(b)
	switch {
	case f == ANSI2004 && rec.LongLength:
		b = append(b, 0, 0, 0, 0, 0, 0)
	case f == ANSI2004:
		b = append(b, 0, 0)
	default:
		b = append(b, 0, 0, 0, 0)
	}
	if f != ISO2005 {
		b = binary.BigEndian.AppendUint16(b, rec.CBEFFOwner)
		b = binary.BigEndian.AppendUint16(b, rec.CBEFFType)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(rec.Compliance)<<12|rec.DeviceID)
	if f != ANSI2007 {
		for _, v := range []uint16{rec.Width, rec.Height, rec.XRes, rec.YRes} {
			b = binary.BigEndian.AppendUint16(b, v)
		}
	}
	b = append(b, uint8(len(rec.Views)), 0)
	for vi, v := range rec.Views {
		var err error
		if b, err = appendView(b, f, vi, &v); err != nil {
			return nil, err
		}
	}
	n := len(b)
	switch {
	case f == ANSI2004 && rec.LongLength:
		binary.BigEndian.PutUint32(b[lenAt+2:], uint32(n))
	case f == ANSI2004:
		if n > 0xffff {
			return nil, fmt.Errorf("fmr: record of %d bytes needs the long length form (set LongLength)", n)
		}
		binary.BigEndian.PutUint16(b[lenAt:], uint16(n))
	default:
		binary.BigEndian.PutUint32(b[lenAt:], uint32(n))
	}
	return b, nil
}

func appendView(b []byte, f Format, vi int, v *View) ([]byte, error) {
	bad := func(field string, val any) error {
		return fmt.Errorf("fmr: view %d %s %v out of range", vi+1, field, val)
	}
	if v.Position > 10 {
		return nil, bad("finger position", v.Position)
	}
	if v.Quality > 100 {
		return nil, bad("finger quality", v.Quality)
	}
	if len(v.Minutiae) > 255 {
		return nil, bad("number of minutiae", len(v.Minutiae))
	}
	b = append(b, v.Position)
	if f == ANSI2007 {
		b = append(b, v.ViewNumber, v.Impression, v.Quality)
		for _, x := range []uint16{v.QualityOwner, v.QualityAlgorithm, v.Width, v.Height, v.XRes, v.YRes} {
			b = binary.BigEndian.AppendUint16(b, x)
		}
	} else {
		if v.ViewNumber > 15 || v.Impression > 15 {
			return nil, bad("view number or impression type", fmt.Sprint(v.ViewNumber, "/", v.Impression))
		}
		b = append(b, v.ViewNumber<<4|v.Impression, v.Quality)
	}
	b = append(b, uint8(len(v.Minutiae)))
	for mi, m := range v.Minutiae {
		switch {
		case m.Type > 2:
			return nil, bad(fmt.Sprintf("minutia %d type", mi+1), m.Type)
		case m.X > MaxCoord || m.Y > MaxCoord:
			return nil, bad(fmt.Sprintf("minutia %d position", mi+1), fmt.Sprint(m.X, ",", m.Y))
		case f != ISO2005 && m.Angle >= 180:
			return nil, bad(fmt.Sprintf("minutia %d angle", mi+1), m.Angle)
		case m.Quality > 100:
			return nil, bad(fmt.Sprintf("minutia %d quality", mi+1), m.Quality)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(m.Type)<<14|m.X)
		b = binary.BigEndian.AppendUint16(b, m.Y)
		b = append(b, m.Angle, m.Quality)
	}
	ext := 0
	for ai, a := range v.Extended {
		if a.Type == 0 || len(a.Data) > 0xffff-4 {
			return nil, bad(fmt.Sprintf("extended data area %d", ai+1), fmt.Sprintf("type %d, %d bytes", a.Type, len(a.Data)))
		}
		ext += 4 + len(a.Data)
	}
	if ext > 0xffff {
		return nil, bad("extended data block length", ext)
	}
	if v.ExtendedLength != 0 {
		ext = int(v.ExtendedLength)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(ext))
	for _, a := range v.Extended {
		al := uint16(4 + len(a.Data))
		if a.Length != 0 {
			al = a.Length
		}
		b = binary.BigEndian.AppendUint16(b, a.Type)
		b = binary.BigEndian.AppendUint16(b, al)
		b = append(b, a.Data...)
	}
	return b, nil
}
