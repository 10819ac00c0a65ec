// Package gt521sim simulates a GT-521Fxx fingerprint module on a pseudo-terminal, byte
// for byte: 12-byte command and response packets (55 AA, little-endian parameter and
// command, 16-bit sum), data packets (5A A5, data, sum) of the size the command implies,
// ACK/NACK with the datasheet's error codes, ChangeBaudrate (ACK at the old speed, then
// the new one), the CMOS LED without which the optical sensor sees nothing, an 8-bit
// 202×258 image in one data packet, and the line faults of package fpsim.
//
// Its framing is written separately from the gt521 driver's, as a byte-at-a-time state
// machine.
//
// Models: "GT-521F52" (3000 templates) and "GT-521F32" (200). Behaviours the datasheet
// leaves open are chosen and documented here: a damaged command gets NACK_COMM_ERR;
// GetImage before any capture gets NACK_INVALID_PARAM; IsPressFinger answers ACK with
// parameter 0 when pressed and NACK_FINGER_IS_NOT_PRESSED's code otherwise; the speed
// returns to 9600 at power-on unless BaudPersists.
package gt521sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
)

// Sensor geometry.
const (
	Width, Height = 202, 258
	PPI           = 450
	RawWidth      = 160
	RawHeight     = 120
	TemplateSize  = 498
)

// Model describes a simulated module.
type Model struct {
	Name     string
	Capacity int
	Firmware uint32
}

// Models are the built-in models.
var Models = map[string]Model{
	"GT-521F52": {Name: "GT-521F52", Capacity: 3000, Firmware: 0x20170817},
	"GT-521F32": {Name: "GT-521F32", Capacity: 200, Firmware: 0x20150602},
}

// Timing of the module's own work (zero when unpaced).
type Timing struct {
	Command      time.Duration // most commands: 5 ms
	IsPress      time.Duration // 20 ms
	CaptureFast  time.Duration // 250 ms
	CaptureBest  time.Duration // 500 ms
	MakeTemplate time.Duration // 300 ms
}

// Config configures a simulator.
type Config struct {
	fpsim.LineConfig
	Model string // default "GT-521F52"
	Baud  int    // speed at power-on, default 9600
	// BaudPersists keeps a ChangeBaudrate speed across power cycles.
	BaudPersists bool
	// PressAlwaysTrue simulates boards whose IsPressFinger always reports a finger.
	PressAlwaysTrue bool
	Source          fpsim.Source
	Images          string
	Finger          fpsim.FingerConfig
	Timing          Timing
	Logger          *slog.Logger
}

// Sim is a running simulated module.
type Sim struct {
	*fpsim.Module
	e *engine
}

// Start powers a simulated module on.
func Start(cfg Config) (*Sim, error) {
	if cfg.Model == "" {
		cfg.Model = "GT-521F52"
	}
	model, ok := Models[cfg.Model]
	if !ok {
		return nil, fmt.Errorf("gt521sim: unknown model %q (want GT-521F52 or GT-521F32)", cfg.Model)
	}
	if cfg.Baud == 0 {
		cfg.Baud = 9600
	}
	if !validBaud(cfg.Baud) {
		return nil, fmt.Errorf("gt521sim: speed %d is not one of 9600, 19200, 38400, 57600, 115200", cfg.Baud)
	}
	t := &cfg.Timing
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.Command, 5*time.Millisecond)
	def(&t.IsPress, 20*time.Millisecond)
	def(&t.CaptureFast, 250*time.Millisecond)
	def(&t.CaptureBest, 500*time.Millisecond)
	def(&t.MakeTemplate, 300*time.Millisecond)
	src := cfg.Source
	if src == nil {
		if cfg.Images != "" {
			ds, err := fpsim.NewDirSource(cfg.Images)
			if err != nil {
				return nil, err
			}
			ds.Seed = cfg.Seed
			src = ds
		} else {
			src = fpsim.SyntheticSource{Seed: cfg.Seed}
		}
	}
	e := &engine{model: model, cfg: cfg, src: src, stored: cfg.Baud}
	m, err := fpsim.NewModule(cfg.LineConfig, fpsim.NewFinger(cfg.Finger, cfg.Unpaced), e, cfg.Logger)
	if err != nil {
		return nil, err
	}
	e.m = m
	return &Sim{Module: m, e: e}, nil
}

func validBaud(b int) bool {
	switch b {
	case 9600, 19200, 38400, 57600, 115200:
		return true
	}
	return false
}

// LastImage is the image of the last capture as GetImage sends it, or nil.
func (s *Sim) LastImage() *image.Gray {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if s.e.img == nil {
		return nil
	}
	img := image.NewGray(image.Rect(0, 0, Width, Height))
	copy(img.Pix, s.e.img)
	return img
}

// Uploads is the number of complete GetImage transfers.
func (s *Sim) Uploads() int {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.uploads
}

// LEDOn reports the CMOS LED.
func (s *Sim) LEDOn() bool {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.led
}

// Captures is the number of successful CaptureFinger commands.
func (s *Sim) Captures() int {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.captures
}

type engine struct {
	m     *fpsim.Module
	model Model
	cfg   Config
	src   fpsim.Source

	mu       sync.Mutex
	stored   int // speed at the next power-on
	img      []byte
	led      bool
	uploads  int
	captures int

	st  int
	pkt []byte
}

func (e *engine) PowerOn() (int, []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.img, e.led, e.st = nil, false, 0
	if !e.cfg.BaudPersists {
		e.stored = e.cfg.Baud
	}
	return e.stored, nil
}

func (e *engine) Idle() { e.st = 0 }

// Feed: 0 = waiting for 55, 1 = got 55, 2 = collecting the other ten bytes.
func (e *engine) Feed(b []byte) {
	for _, c := range b {
		switch e.st {
		case 0:
			if c == 0x55 {
				e.st = 1
			}
		case 1:
			switch c {
			case 0xAA:
				e.st, e.pkt = 2, append(e.pkt[:0], 0x55, 0xAA)
			case 0x55:
			default:
				e.st = 0
			}
		case 2:
			e.pkt = append(e.pkt, c)
			if len(e.pkt) == 12 {
				e.st = 0
				e.packet(e.pkt)
			}
		}
	}
}

func (e *engine) packet(p []byte) {
	if p[2] != 0x01 || p[3] != 0x00 {
		return // another device id
	}
	var sum int
	for _, c := range p[:10] {
		sum += int(c)
	}
	if uint16(sum) != uint16(p[10])|uint16(p[11])<<8 {
		e.respond(false, 0x1006)
		return
	}
	param := uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16 | uint32(p[7])<<24
	cmd := uint16(p[8]) | uint16(p[9])<<8
	e.command(cmd, param)
}

func (e *engine) respond(ack bool, param uint32) {
	b := []byte{0x55, 0xAA, 0x01, 0x00, byte(param), byte(param >> 8), byte(param >> 16), byte(param >> 24), 0x31, 0x00}
	if ack {
		b[8] = 0x30
	}
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	e.m.Send(append(b, byte(sum), byte(sum>>8)))
}

func (e *engine) sendData(data []byte) {
	b := make([]byte, 0, len(data)+6)
	b = append(b, 0x5A, 0xA5, 0x01, 0x00)
	b = append(b, data...)
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	e.m.Send(append(b, byte(sum), byte(sum>>8)))
}

func (e *engine) command(cmd uint16, param uint32) {
	t := e.cfg.Timing
	switch cmd {
	case 0x01: // Open
		if !e.m.Sleep(t.Command) {
			return
		}
		e.respond(true, 0)
		if param != 0 {
			info := make([]byte, 24)
			binary.LittleEndian.PutUint32(info[0:], e.model.Firmware)
			binary.LittleEndian.PutUint32(info[4:], 0x000001A0)
			serial := sha256.Sum256([]byte(fmt.Sprintf("gt521sim/%d", e.cfg.Seed)))
			copy(info[8:], serial[:16])
			e.sendData(info)
		}
	case 0x02, 0x03: // Close, UsbInternalCheck
		e.respond(true, 0)
	case 0x04: // ChangeBaudrate
		if !validBaud(int(param)) {
			e.respond(false, 0x1011)
			return
		}
		e.respond(true, 0)
		e.m.Drain()
		_ = e.m.SetBaud(int(param))
		e.mu.Lock()
		e.stored = int(param)
		e.mu.Unlock()
	case 0x12: // CmosLed
		e.mu.Lock()
		e.led = param != 0
		e.mu.Unlock()
		if !e.m.Sleep(t.Command) {
			return
		}
		e.respond(true, 0)
	case 0x20: // GetEnrollCount
		e.respond(true, 0)
	case 0x21: // CheckEnrolled
		if int(param) >= e.model.Capacity {
			e.respond(false, 0x1003)
		} else {
			e.respond(false, 0x1004)
		}
	case 0x26: // IsPressFinger
		if !e.m.Sleep(t.IsPress) {
			return
		}
		e.mu.Lock()
		led := e.led
		e.mu.Unlock()
		if e.cfg.PressAlwaysTrue || (led && e.m.Finger().Present()) {
			e.respond(true, 0)
		} else {
			e.respond(true, 0x1012)
		}
	case 0x60: // CaptureFinger
		e.capture(param != 0)
	case 0x62: // GetImage
		e.mu.Lock()
		img := e.img
		e.mu.Unlock()
		if img == nil {
			e.respond(false, 0x1011)
			return
		}
		e.respond(true, 0)
		e.sendData(img)
		e.m.Drain()
		e.mu.Lock()
		e.uploads++
		e.mu.Unlock()
		e.m.Finger().Uploaded()
	case 0x63: // GetRawImage: a fresh capture, QVGA subsampled to 160×120
		e.mu.Lock()
		led := e.led
		e.mu.Unlock()
		placement, frame, ok := e.m.Finger().Capture()
		if !led || !ok {
			e.respond(false, 0x1012)
			return
		}
		src, err := e.src.Frame(placement, frame)
		if err != nil {
			e.respond(false, 0x100F)
			return
		}
		raw := fpsim.Fit(src, fpsim.SourcePPI(e.src), fpsim.Sensor{Width: RawWidth, Height: RawHeight, PPI: PPI / 2})
		e.respond(true, 0)
		e.sendData(raw.Pix)
	case 0x61: // MakeTemplate
		e.mu.Lock()
		img := e.img
		e.mu.Unlock()
		if !e.m.Sleep(t.MakeTemplate) {
			return
		}
		if img == nil || !ridged(img) {
			e.respond(false, 0x100C)
			return
		}
		e.respond(true, 0)
		e.sendData(template(img))
	default:
		e.respond(false, 0x100E)
	}
}

func (e *engine) capture(best bool) {
	d := e.cfg.Timing.CaptureFast
	if best {
		d = e.cfg.Timing.CaptureBest
	}
	e.mu.Lock()
	led := e.led
	e.mu.Unlock()
	placement, frame, ok := e.m.Finger().Capture()
	if !e.m.Sleep(d) {
		return
	}
	if !led || !ok {
		e.respond(false, 0x1012)
		return
	}
	src, err := e.src.Frame(placement, frame)
	if err != nil {
		e.respond(false, 0x100F)
		return
	}
	fit := fpsim.Fit(src, fpsim.SourcePPI(e.src), fpsim.Sensor{Width: Width, Height: Height, PPI: PPI})
	e.mu.Lock()
	e.img = fit.Pix
	e.captures++
	e.mu.Unlock()
	e.respond(true, 0)
}

func ridged(img []byte) bool {
	dark := 0
	for _, c := range img {
		if c < 128 {
			dark++
		}
	}
	return dark*10 > len(img)
}

func template(img []byte) []byte {
	h := sha256.Sum256(img)
	out := make([]byte, 0, TemplateSize)
	for len(out) < TemplateSize {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:TemplateSize]
}
