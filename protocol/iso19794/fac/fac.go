package fac

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// Header and block sizes in bytes.
const (
	HeaderLen       = 14
	FacialInfoLen   = 20
	FeaturePointLen = 8
	ImageInfoLen    = 12
)

var (
	formatID = [4]byte{'F', 'A', 'C', 0}
	version  = [4]byte{'0', '1', '0', 0}
)

// Gender codes.
const (
	GenderUnspecified uint8 = 0x00
	GenderMale        uint8 = 0x01
	GenderFemale      uint8 = 0x02
	GenderUnknown     uint8 = 0xFF
)

// Property mask bits.
const (
	PropSpecified      uint32 = 1 << 0
	PropGlasses        uint32 = 1 << 1
	PropMoustache      uint32 = 1 << 2
	PropBeard          uint32 = 1 << 3
	PropTeeth          uint32 = 1 << 4
	PropBlink          uint32 = 1 << 5
	PropMouthOpen      uint32 = 1 << 6
	PropLeftEyePatch   uint32 = 1 << 7
	PropRightEyePatch  uint32 = 1 << 8
	PropDarkGlasses    uint32 = 1 << 9
	PropMedicalDistort uint32 = 1 << 10
)

// Expression codes.
const (
	ExpressionUnspecified uint16 = 0
	ExpressionNeutral     uint16 = 1
)

// Face image types.
const (
	TypeBasic        uint8 = 0
	TypeFullFrontal  uint8 = 1
	TypeTokenFrontal uint8 = 2
)

// Image data types.
const (
	DataJPEG     uint8 = 0
	DataJPEG2000 uint8 = 1
)

// Colour spaces.
const (
	ColourUnspecified uint8 = 0
	ColourRGB24       uint8 = 1
	ColourYUV422      uint8 = 2
	ColourGrey8       uint8 = 3
	ColourOther       uint8 = 4
)

// Source types.
const (
	SourceUnspecified  uint8 = 0
	SourceStillCamera  uint8 = 2
	SourceDigitalVideo uint8 = 6
)

// MPEG-4 feature point codes of the eye centres (major 3, minor 5 and 6).
const (
	PointLeftEyeCentre  uint8 = 0x35
	PointRightEyeCentre uint8 = 0x36
	PointTypeMPEG4      uint8 = 1
)

// Record is a face image record: one or more facial images.
type Record struct {
	Images []Image
}

// Image is one facial record: the facial information, feature points, image
// information and the encoded image.
type Image struct {
	Gender, EyeColour, HairColour uint8
	// Properties is the 24-bit property mask (Prop… bits).
	Properties uint32
	Expression uint16
	// Pose holds yaw, pitch and roll as encoded (see PoseAngle); 0 = unspecified.
	Pose            [3]uint8
	PoseUncertainty [3]uint8
	FeaturePoints   []FeaturePoint
	FaceImageType   uint8
	ImageDataType   uint8
	Width, Height   uint16
	ColourSpace     uint8
	SourceType      uint8
	DeviceType      uint16
	Quality         uint16
	// Data is the JPEG or JPEG 2000 file.
	Data []byte
}

// FeaturePoint is a landmark: Code holds the major (high nibble) and minor (low
// nibble) MPEG-4 point number, e.g. 0x35 for 3.5.
type FeaturePoint struct {
	Type     uint8
	Code     uint8
	X, Y     uint16
	Reserved uint16
}

// Major and Minor split the point code.
func (p FeaturePoint) Major() uint8 { return p.Code >> 4 }

// Minor is the low nibble of the point code.
func (p FeaturePoint) Minor() uint8 { return p.Code & 0x0F }

func (p FeaturePoint) String() string {
	return fmt.Sprintf("%d.%d(%d,%d)", p.Major(), p.Minor(), p.X, p.Y)
}

// PoseAngle encodes an angle in degrees (−180…180) as the 2005 format stores it:
// 1 + (angle + 180) / 2, rounded.
func PoseAngle(deg float64) uint8 {
	if deg < -180 {
		deg = -180
	}
	if deg > 180 {
		deg = 180
	}
	v := 1 + (deg+180)/2
	return uint8(v + 0.5)
}

// PoseDegrees decodes a pose angle byte; ok is false for 0 (unspecified) and for
// values above 181.
func PoseDegrees(b uint8) (deg int, ok bool) {
	if b == 0 || b > 181 {
		return 0, false
	}
	return (int(b)-1)*2 - 180, true
}

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("fac: malformed ISO/IEC 19794-5 record")

func errf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, a...))
}

// Decode parses a complete record. The record length field must equal len(b).
func Decode(b []byte) (*Record, error) {
	if len(b) < HeaderLen {
		return nil, errf("%d bytes, shorter than the %d-byte header", len(b), HeaderLen)
	}
	if !bytes.Equal(b[0:4], formatID[:]) {
		return nil, errf("format identifier %q, want \"FAC\\x00\"", b[0:4])
	}
	if !bytes.Equal(b[4:8], version[:]) {
		return nil, errf("version %q, want \"010\\x00\" (2005 edition)", b[4:8])
	}
	total := binary.BigEndian.Uint32(b[8:])
	if uint64(total) != uint64(len(b)) {
		return nil, errf("record length field %d, but %d bytes present", total, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[12:]))
	if n == 0 {
		return nil, errf("number of facial images is 0")
	}
	r := &Record{Images: make([]Image, 0, min(n, 16))}
	p := HeaderLen
	for i := 0; i < n; i++ {
		img, used, err := decodeImage(b[p:])
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i+1, err)
		}
		r.Images = append(r.Images, img)
		p += used
	}
	if p != len(b) {
		return nil, errf("%d bytes after the last facial image", len(b)-p)
	}
	return r, nil
}

func decodeImage(b []byte) (Image, int, error) {
	var im Image
	if len(b) < FacialInfoLen {
		return im, 0, errf("facial information needs %d bytes, %d left", FacialInfoLen, len(b))
	}
	l := binary.BigEndian.Uint32(b[0:])
	nfp := int(binary.BigEndian.Uint16(b[4:]))
	fixed := FacialInfoLen + nfp*FeaturePointLen + ImageInfoLen
	if uint64(l) < uint64(fixed) {
		return im, 0, errf("facial record data length %d shorter than its %d fixed bytes (%d feature points)", l, fixed, nfp)
	}
	if uint64(l) > uint64(len(b)) {
		return im, 0, errf("facial record data length %d but only %d bytes left", l, len(b))
	}
	im.Gender, im.EyeColour, im.HairColour = b[6], b[7], b[8]
	im.Properties = uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	im.Expression = binary.BigEndian.Uint16(b[12:])
	copy(im.Pose[:], b[14:17])
	copy(im.PoseUncertainty[:], b[17:20])
	p := FacialInfoLen
	if nfp > 0 {
		im.FeaturePoints = make([]FeaturePoint, nfp)
	}
	for i := range im.FeaturePoints {
		q := b[p : p+FeaturePointLen]
		im.FeaturePoints[i] = FeaturePoint{Type: q[0], Code: q[1], X: binary.BigEndian.Uint16(q[2:]), Y: binary.BigEndian.Uint16(q[4:]), Reserved: binary.BigEndian.Uint16(q[6:])}
		p += FeaturePointLen
	}
	q := b[p : p+ImageInfoLen]
	im.FaceImageType, im.ImageDataType = q[0], q[1]
	im.Width, im.Height = binary.BigEndian.Uint16(q[2:]), binary.BigEndian.Uint16(q[4:])
	im.ColourSpace, im.SourceType = q[6], q[7]
	im.DeviceType, im.Quality = binary.BigEndian.Uint16(q[8:]), binary.BigEndian.Uint16(q[10:])
	p += ImageInfoLen
	im.Data = append([]byte(nil), b[p:int(l)]...)
	return im, int(l), nil
}

// Encode writes the record. It fails when a length does not fit its field.
func (r *Record) Encode() ([]byte, error) {
	if len(r.Images) == 0 || len(r.Images) > 0xFFFF {
		return nil, fmt.Errorf("fac: a record holds 1 to 65535 images, not %d", len(r.Images))
	}
	total := uint64(HeaderLen)
	for i := range r.Images {
		im := &r.Images[i]
		if len(im.FeaturePoints) > 0xFFFF {
			return nil, fmt.Errorf("fac: image %d: %d feature points, at most 65535", i+1, len(im.FeaturePoints))
		}
		if im.Properties > 0xFFFFFF {
			return nil, fmt.Errorf("fac: image %d: property mask %#x wider than 24 bits", i+1, im.Properties)
		}
		total += uint64(FacialInfoLen + len(im.FeaturePoints)*FeaturePointLen + ImageInfoLen + len(im.Data))
	}
	if total > 0xFFFFFFFF {
		return nil, fmt.Errorf("fac: record of %d bytes exceeds the 32-bit length field", total)
	}
	out := make([]byte, 0, total)
	out = append(out, formatID[:]...)
	out = append(out, version[:]...)
	out = binary.BigEndian.AppendUint32(out, uint32(total))
	out = binary.BigEndian.AppendUint16(out, uint16(len(r.Images)))
	for i := range r.Images {
		im := &r.Images[i]
		l := FacialInfoLen + len(im.FeaturePoints)*FeaturePointLen + ImageInfoLen + len(im.Data)
		out = binary.BigEndian.AppendUint32(out, uint32(l))
		out = binary.BigEndian.AppendUint16(out, uint16(len(im.FeaturePoints)))
		out = append(out, im.Gender, im.EyeColour, im.HairColour, byte(im.Properties>>16), byte(im.Properties>>8), byte(im.Properties))
		out = binary.BigEndian.AppendUint16(out, im.Expression)
		out = append(out, im.Pose[:]...)
		out = append(out, im.PoseUncertainty[:]...)
		for _, fp := range im.FeaturePoints {
			out = append(out, fp.Type, fp.Code)
			out = binary.BigEndian.AppendUint16(out, fp.X)
			out = binary.BigEndian.AppendUint16(out, fp.Y)
			out = binary.BigEndian.AppendUint16(out, fp.Reserved)
		}
		out = append(out, im.FaceImageType, im.ImageDataType)
		out = binary.BigEndian.AppendUint16(out, im.Width)
		out = binary.BigEndian.AppendUint16(out, im.Height)
		out = append(out, im.ColourSpace, im.SourceType)
		out = binary.BigEndian.AppendUint16(out, im.DeviceType)
		out = binary.BigEndian.AppendUint16(out, im.Quality)
		out = append(out, im.Data...)
	}
	return out, nil
}

// Encode is a shorthand for r.Encode().
func Encode(r *Record) ([]byte, error) { return r.Encode() }

// MaxPixels bounds the image a face record's data may declare before it is decoded
// (32 Mpixel: more than any camera a capture station uses, and still under 100 MB to
// decode on a Pi-class box). A JPEG of a few hundred bytes can declare 60000×60000.
const MaxPixels = 32 << 20

// DecodeImage decodes the image data. Only JPEG is supported (JPEG 2000 has no
// decoder in the standard library). Data declaring more than MaxPixels is refused
// before decoding.
func (im *Image) DecodeImage() (image.Image, error) {
	switch im.ImageDataType {
	case DataJPEG:
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(im.Data))
		if err != nil {
			return nil, fmt.Errorf("fac: image data: %w", err)
		}
		if cfg.Width*cfg.Height > MaxPixels {
			return nil, fmt.Errorf("fac: image data declares %dx%d pixels, over the limit of %d", cfg.Width, cfg.Height, MaxPixels)
		}
		m, err := jpeg.Decode(bytes.NewReader(im.Data))
		if err != nil {
			return nil, fmt.Errorf("fac: image data: %w", err)
		}
		return m, nil
	case DataJPEG2000:
		return nil, errors.New("fac: JPEG 2000 image data is not supported")
	}
	return nil, fmt.Errorf("fac: unknown image data type %d", im.ImageDataType)
}

// NewJPEGImage builds a facial image from a JPEG file: width, height and colour
// space are taken from the JPEG header; eye centres, when given (image pixels,
// the subject's left eye first), become feature points 3.5 and 3.6.
func NewJPEGImage(data []byte, faceType uint8, leftEye, rightEye *image.Point) (Image, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Image{}, fmt.Errorf("fac: %w", err)
	}
	if cfg.Width > 0xFFFF || cfg.Height > 0xFFFF {
		return Image{}, fmt.Errorf("fac: image %dx%d too large for the record", cfg.Width, cfg.Height)
	}
	im := Image{FaceImageType: faceType, ImageDataType: DataJPEG, Width: uint16(cfg.Width), Height: uint16(cfg.Height),
		ColourSpace: ColourRGB24, SourceType: SourceStillCamera, Data: data}
	if cfg.ColorModel == color.GrayModel {
		im.ColourSpace = ColourGrey8
	}
	add := func(code uint8, p *image.Point) error {
		if p == nil {
			return nil
		}
		if p.X < 0 || p.Y < 0 || p.X > 0xFFFF || p.Y > 0xFFFF {
			return fmt.Errorf("fac: feature point %d.%d at (%d,%d) outside the coordinate range", code>>4, code&15, p.X, p.Y)
		}
		im.FeaturePoints = append(im.FeaturePoints, FeaturePoint{Type: PointTypeMPEG4, Code: code, X: uint16(p.X), Y: uint16(p.Y)})
		return nil
	}
	if err := add(PointLeftEyeCentre, leftEye); err != nil {
		return Image{}, err
	}
	if err := add(PointRightEyeCentre, rightEye); err != nil {
		return Image{}, err
	}
	return im, nil
}
