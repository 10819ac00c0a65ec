package camerasim

import (
	"embed"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"path"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// Species is what is presented to the camera: a bona fide face or one attack species.
type Species int

// Presentation species (ISO/IEC 30107 terms: bona fide presentation, attack species).
const (
	BonaFide Species = iota // a live face
	Print                   // a printed photo
	Screen                  // a photo or video replayed on a screen
	Injected                // recorded live frames injected into the feed
)

var speciesNames = []string{"live", "print", "screen", "injected"}

// AllSpecies lists every species, bona fide first.
func AllSpecies() []Species { return []Species{BonaFide, Print, Screen, Injected} }

// String returns "live", "print", "screen" or "injected".
func (s Species) String() string {
	if s >= 0 && int(s) < len(speciesNames) {
		return speciesNames[s]
	}
	return fmt.Sprintf("Species(%d)", int(s))
}

// IsAttack reports whether s is an attack species.
func (s Species) IsAttack() bool { return s != BonaFide }

// ParseSpecies accepts the names String returns ("bonafide" and "bona-fide" for live too).
func ParseSpecies(name string) (Species, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "bonafide", "bona-fide", "bona_fide":
		return BonaFide, nil
	}
	for i, s := range speciesNames {
		if n == s {
			return Species(i), nil
		}
	}
	return 0, fmt.Errorf("camerasim: unknown scene %q (want live, print, screen or injected)", name)
}

// Light is the illumination LED as the camera sees it: Level returns its output in [0, 1]
// at the moment of the call.
type Light interface {
	Level() float64
}

// LightFunc adapts a function to Light.
type LightFunc func() float64

// Level calls f.
func (f LightFunc) Level() float64 { return f() }

// PinLight reads the LED from the GPIO line that drives it. For a periph gpiotest.Pin it
// honours a PWM duty cycle (the level is max(High ? 1 : 0, duty)); for any other pin it
// reads the line's level.
func PinLight(p gpio.PinIO) Light { return pinLight{p} }

type pinLight struct{ p gpio.PinIO }

func (l pinLight) Level() float64 {
	if tp, ok := l.p.(*gpiotest.Pin); ok {
		tp.Lock()
		lvl, d := tp.L, tp.D
		tp.Unlock()
		v := 0.0
		if lvl == gpio.High {
			v = 1
		}
		return math.Max(v, math.Min(1, float64(d)/float64(gpio.DutyMax)))
	}
	if l.p.Read() == gpio.High {
		return 1
	}
	return 0
}

// Geometry places the face in a portrait, in fractions of the portrait's width (X) and
// height (Y).
type Geometry struct {
	CX, CY    float64 // centre of the face ellipse
	RX, RY    float64 // semi-axes of the face ellipse
	LeftEyeX  float64 // eye centres (left and right as seen in the image)
	RightEyeX float64
	EyeY      float64
}

// DefaultGeometry fits official head-and-shoulders portraits (ICAO-like framing).
var DefaultGeometry = Geometry{CX: 0.5, CY: 0.45, RX: 0.21, RY: 0.245, LeftEyeX: 0.415, RightEyeX: 0.585, EyeY: 0.40}

//go:embed testdata/portraits/*.jpg
var portraitFS embed.FS

// Portraits lists the names of the embedded portraits (public domain; see
// testdata/portraits/PROVENANCE).
func Portraits() []string {
	ents, _ := portraitFS.ReadDir("testdata/portraits")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".jpg"))
	}
	return out
}

// Portrait decodes an embedded portrait by name (e.g. "T000487").
func Portrait(name string) (image.Image, error) {
	f, err := portraitFS.Open(path.Join("testdata/portraits", name+".jpg"))
	if err != nil {
		return nil, fmt.Errorf("camerasim: no embedded portrait %q", name)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("camerasim: portrait %s: %w", name, err)
	}
	return img, nil
}
