package fac

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"reflect"
	"testing"
)

func readVector(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/face01.iso2005")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeNISTVector(t *testing.T) {
	b := readVector(t)
	r, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Images) != 1 {
		t.Fatalf("images = %d, want 1", len(r.Images))
	}
	im := r.Images[0]
	want := Image{
		Gender: GenderFemale, EyeColour: 1, HairColour: 6, Properties: 0x00044d, Expression: 3,
		Pose: [3]uint8{5, 10, 15}, PoseUncertainty: [3]uint8{21, 26, 31},
		FeaturePoints: []FeaturePoint{
			{Type: 1, Code: 0x36, X: 95, Y: 117},
			{Type: 1, Code: 0x35, X: 168, Y: 109},
			{Type: 1, Code: 0x93, X: 139, Y: 133},
			{Type: 1, Code: 0xb5, X: 136, Y: 50},
		},
		FaceImageType: TypeBasic, ImageDataType: DataJPEG, Width: 280, Height: 320,
		ColourSpace: ColourRGB24, SourceType: SourceStillCamera, DeviceType: 0x4947, Quality: 0,
	}
	got := im
	got.Data = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
	}
	if len(im.Data) != len(b)-HeaderLen-FacialInfoLen-4*FeaturePointLen-ImageInfoLen {
		t.Errorf("image data %d bytes", len(im.Data))
	}
	m, err := im.DecodeImage()
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounds().Dx() != int(im.Width) || m.Bounds().Dy() != int(im.Height) {
		t.Errorf("JPEG is %v, record says %dx%d", m.Bounds(), im.Width, im.Height)
	}
	if fp := im.FeaturePoints[1]; fp.Major() != 3 || fp.Minor() != 5 || fp.String() != "3.5(168,109)" {
		t.Errorf("feature point %v", fp)
	}
	out, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, b) {
		t.Error("Encode(Decode(vector)) differs from the vector")
	}
}

func TestDecodeErrors(t *testing.T) {
	good := readVector(t)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short header", good[:10]},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version 2011", mod(func(b []byte) []byte { copy(b[4:], "030\x00"); return b })},
		{"record length too big", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], uint32(len(b)+1)); return b })},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", mod(func(b []byte) []byte { b = append(b, 0); binary.BigEndian.PutUint32(b[8:], uint32(len(b))); return b })},
		{"zero images", mod(func(b []byte) []byte { b[12], b[13] = 0, 0; return b })},
		{"two images announced", mod(func(b []byte) []byte { b[13] = 2; return b })},
		{"facial length too small", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], 40); return b })},
		{"facial length too big", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], uint32(len(b))); return b })},
		{"too many feature points", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[18:], 4000); return b })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Decode(c.in)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", r)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		})
	}
}

func testJPEG(t testing.TB, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeDecodeTwoImages(t *testing.T) {
	a, err := NewJPEGImage(testJPEG(t, 48, 64), TypeTokenFrontal, &image.Point{30, 29}, &image.Point{18, 29})
	if err != nil {
		t.Fatal(err)
	}
	a.Pose = [3]uint8{PoseAngle(0), PoseAngle(-4), PoseAngle(6)}
	a.Properties = PropSpecified | PropGlasses
	g := image.NewGray(image.Rect(0, 0, 8, 8))
	var buf bytes.Buffer
	jpeg.Encode(&buf, g, nil)
	b, err := NewJPEGImage(buf.Bytes(), TypeFullFrontal, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.ColourSpace != ColourGrey8 {
		t.Errorf("grey JPEG colour space %d", b.ColourSpace)
	}
	rec := &Record{Images: []Image{a, b}}
	enc, err := Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(enc[8:]); int(got) != len(enc) {
		t.Errorf("length field %d, record %d bytes", got, len(enc))
	}
	dec, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, rec) {
		t.Errorf("round trip:\n%+v\n%+v", dec, rec)
	}
	if a.Width != 48 || a.Height != 64 || len(a.FeaturePoints) != 2 || a.FeaturePoints[0].Code != PointLeftEyeCentre {
		t.Errorf("NewJPEGImage: %+v", a)
	}
}

func TestEncodeLimits(t *testing.T) {
	if _, err := (&Record{}).Encode(); err == nil {
		t.Error("empty record encoded")
	}
	if _, err := (&Record{Images: []Image{{Properties: 1 << 24}}}).Encode(); err == nil {
		t.Error("25-bit property mask encoded")
	}
	if _, err := NewJPEGImage([]byte("not a jpeg"), TypeBasic, nil, nil); err == nil {
		t.Error("NewJPEGImage accepted non-JPEG data")
	}
	if _, err := NewJPEGImage(testJPEG(t, 8, 8), TypeBasic, &image.Point{-1, 0}, nil); err == nil {
		t.Error("negative feature point accepted")
	}
	im := Image{ImageDataType: DataJPEG2000}
	if _, err := im.DecodeImage(); err == nil {
		t.Error("JPEG 2000 decoded")
	}
	_ = color.Gray{}
}

func TestPoseAngle(t *testing.T) {
	for _, c := range []struct {
		deg  float64
		code uint8
	}{{-180, 1}, {0, 91}, {180, 181}, {10, 96}, {-10, 86}, {999, 181}} {
		if got := PoseAngle(c.deg); got != c.code {
			t.Errorf("PoseAngle(%v) = %d, want %d", c.deg, got, c.code)
		}
		if d, ok := PoseDegrees(c.code); !ok || float64(d) != max(-180, min(180, c.deg)) {
			t.Errorf("PoseDegrees(%d) = %d, %v", c.code, d, ok)
		}
	}
	if _, ok := PoseDegrees(0); ok {
		t.Error("0 is unspecified")
	}
	if _, ok := PoseDegrees(200); ok {
		t.Error("200 is out of range")
	}
}

// FuzzDecode: the decoder never panics, and whatever it accepts re-encodes to the
// same bytes and decodes to the same record.
func FuzzDecode(f *testing.F) {
	f.Add(readVector(f))
	a, _ := NewJPEGImage(testJPEG(f, 8, 8), TypeTokenFrontal, &image.Point{5, 3}, &image.Point{2, 3})
	if enc, err := Encode(&Record{Images: []Image{a, a}}); err == nil {
		f.Add(enc)
	}
	f.Add([]byte("FAC\x00010\x00\x00\x00\x00\x2e\x00\x01\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs")
		}
		r2, err := Decode(enc)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("second decode: %v", err)
		}
	})
}

// TestDecodeImageRefusesHugeDeclaredSize: a JPEG of a few hundred bytes may declare an
// image too large to decode on a station; the declared size is checked first.
func TestDecodeImageRefusesHugeDeclaredSize(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	sof := bytes.Index(data, []byte{0xFF, 0xC0})
	if sof < 0 {
		t.Fatal("no SOF0 marker")
	}
	// SOF0: marker, length(2), precision(1), height(2), width(2).
	binary.BigEndian.PutUint16(data[sof+5:], 60000)
	binary.BigEndian.PutUint16(data[sof+7:], 60000)
	im := &Image{ImageDataType: DataJPEG, Data: data}
	_, err := im.DecodeImage()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("60000x60000")) {
		t.Fatalf("DecodeImage of a JPEG declaring 60000x60000 = %v, want a refusal naming the size", err)
	}
}
