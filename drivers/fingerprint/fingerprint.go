// Package fingerprint is the interface between the agent and fingerprint reader modules.
// Each module family (r30x, gt521) has its own package implementing Reader over a serial
// port, and a simulator package speaking the same bytes over a pseudo-terminal.
//
// Conventions: images are 8-bit grey with dark ridges on a light background, row-major,
// origin top-left, as ISO/IEC 19794-4 and NIST NFIQ 2 expect. Every blocking call takes a
// context and returns promptly when it is cancelled; a device that stops answering or
// disappears makes the call fail with an error wrapping ErrSilent or ErrUnplugged, never
// hang. Errors never contain image or template bytes.
package fingerprint

import (
	"context"
	"errors"
	"image"
	"time"
)

// Error categories. Driver errors wrap one of these so the agent can decide what to do
// without knowing the module family.
var (
	// ErrUnsupported: the module has no such feature (LED colours, templates, ...).
	ErrUnsupported = errors.New("not supported by this module")
	// ErrUnplugged: the device went away (the port returned EIO/ENXIO or was closed).
	// The reader must be reopened.
	ErrUnplugged = errors.New("device unplugged")
	// ErrSilent: the device did not answer within the protocol's time limit after the
	// bounded retries.
	ErrSilent = errors.New("device not answering")
	// ErrCorrupt: frames kept failing their checksum or framing after the bounded
	// retries; no data from them was used.
	ErrCorrupt = errors.New("corrupt data from device")
	// ErrNoFinger: the operation needs a finger on the sensor and there is none.
	ErrNoFinger = errors.New("no finger on the sensor")
	// ErrBadImage: the module could not take or process an image of the finger
	// (smudged, too dry, too few features: the module's own judgement).
	ErrBadImage = errors.New("module rejected the image")
	// ErrFakeFinger: the module's own presentation-attack signal fired.
	ErrFakeFinger = errors.New("module reports a fake finger")
)

// Features is a set of optional module capabilities.
type Features uint32

const (
	FeatureLEDColour  Features = 1 << iota // RGB/aura LED with patterns (R503)
	FeatureLEDOnOff                        // a single illumination LED (GT-521 CMOS LED)
	FeatureTemplate                        // the module builds its own template
	FeatureFakeFinger                      // the module reports fake fingers
	FeatureTouchWake                       // a touch line the panel can wait on
)

// Info identifies a module and how it is connected.
type Info struct {
	Family        string // "r30x" or "gt521"
	Model         string // as reported or inferred, e.g. "R307", "GT-521F52"
	Firmware      string
	Serial        string // device serial number where the module has one
	Width, Height int    // sensor size in pixels of the delivered image
	PPI           int    // resolution of the delivered image
	BitDepth      int    // bits per pixel on the wire (4 for R30x UpImage, 8 for GT-521)
	Baud          int    // current line speed
	PacketSize    int    // data packet payload size in bytes (R30x), 0 where fixed
	Capacity      int    // template library size
	SecurityLevel int    // module matching security level, 0 where absent
	Features      Features
}

// Image is one captured fingerprint image.
type Image struct {
	Gray     *image.Gray // 8-bit grey, dark ridges on light background
	PPI      int
	Captured time.Time
}

// LEDMode is what a module's LED does.
type LEDMode uint8

const (
	LEDOff LEDMode = iota
	LEDOn
	LEDBreathing
	LEDFlashing
)

// LEDColour is a module LED colour (R503 aura: red, blue, purple; others ignore it).
type LEDColour uint8

const (
	ColourDefault LEDColour = iota
	ColourRed
	ColourBlue
	ColourPurple
)

// LED is a requested LED state.
type LED struct {
	Mode   LEDMode
	Colour LEDColour
}

// Reader is a fingerprint module. Methods must not be called concurrently, except Halt
// and Close, which may be called from another goroutine to stop a call in progress.
type Reader interface {
	// Info describes the module; it does not touch the device.
	Info() Info
	// WaitFinger returns nil once a finger is on the sensor, or the context's error.
	// It must not spin: it paces its polls or waits on an interrupt line.
	WaitFinger(ctx context.Context) error
	// WaitLift returns nil once no finger is on the sensor.
	WaitLift(ctx context.Context) error
	// Capture takes an image of the finger on the sensor and uploads it.
	Capture(ctx context.Context) (*Image, error)
	// Template returns the module's own template of the image last captured, or an
	// error wrapping ErrUnsupported.
	Template(ctx context.Context) ([]byte, error)
	// SetLED sets the module LED, or returns an error wrapping ErrUnsupported.
	SetLED(ctx context.Context, led LED) error
	// String names the device, e.g. "r30x(R307@/dev/ttyUSB0,115200)".
	String() string
	// Halt stops the operation in progress and switches the LED off.
	Halt() error
	// Close releases the port.
	Close() error
}
