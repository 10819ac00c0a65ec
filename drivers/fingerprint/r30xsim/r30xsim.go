// Package r30xsim simulates an R30x/R50x/AS608 fingerprint module on a pseudo-terminal,
// byte for byte: EF 01 framing with the module address, command/ack/data/end packets,
// the 16-bit checksum, packet sizes 32 to 256, confirmation codes, speed changes (with the
// errata of modules that apply them only after a power cycle, or never), a 4-bit image
// upload, and the line faults of package fpsim.
//
// Its framing is written separately from the r30x driver's (a byte-at-a-time state
// machine here, a buffer decoder there) so that a misreading of the protocol in one does
// not silently agree with the other.
//
// Models: "R307" (optical, 256×288, 500 ppi, 1000 templates, no product information,
// answers unknown instructions with 0x01), "AS608" (optical, 256×288, 300 templates,
// silent on unknown instructions), "R503" (capacitive, 192×192, 508 ppi, 200 templates,
// aura LED, ReadProdInfo/GetFwVer, sends 0x55 when powered on, answers unknown
// instructions with 0xFC, applies SetSysPara only after a power cycle as its manual says).
package r30xsim

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

// BaudApply is when a module applies a speed written with SetSysPara.
type BaudApply int

const (
	BaudModelDefault    BaudApply = iota
	BaudImmediate                 // after the acknowledge, at the old speed
	BaudAfterPowerCycle           // stored now, used from the next power-on
	BaudIgnored                   // acknowledged, neither stored nor used (clones)
)

// Model describes a simulated module.
type Model struct {
	Name          string
	Width, Height int
	PPI           int
	Capacity      int
	SystemID      uint16
	Aura          bool // AuraLedConfig
	ProdInfo      bool // ReadProdInfo, GetFwVer, HandShake, CheckSensor
	SensorType    string
	TemplateSize  int
	Hello         bool // sends 0x55 when ready after power-on
	UnknownReply  int  // confirmation code for unknown instructions, -1 for no answer
	BaudApply     BaudApply
	GenImgFinger  time.Duration // GenImg with a finger
	GenImgEmpty   time.Duration // GenImg without one
	Img2Tz        time.Duration
	SetParamDelay time.Duration // flash write
}

// Models are the built-in models.
var Models = map[string]Model{
	"R307": {Name: "R307", Width: 256, Height: 288, PPI: 500, Capacity: 1000, SystemID: 0,
		TemplateSize: 512, UnknownReply: 0x01, BaudApply: BaudImmediate,
		GenImgFinger: 300 * time.Millisecond, GenImgEmpty: 100 * time.Millisecond, Img2Tz: 200 * time.Millisecond,
		SetParamDelay: 30 * time.Millisecond},
	"AS608": {Name: "AS608", Width: 256, Height: 288, PPI: 500, Capacity: 300, SystemID: 0x0009,
		TemplateSize: 512, UnknownReply: -1, BaudApply: BaudImmediate,
		GenImgFinger: 300 * time.Millisecond, GenImgEmpty: 100 * time.Millisecond, Img2Tz: 250 * time.Millisecond,
		SetParamDelay: 30 * time.Millisecond},
	"R503": {Name: "R503", Width: 192, Height: 192, PPI: 508, Capacity: 200, SystemID: 0,
		Aura: true, ProdInfo: true, SensorType: "GR192RGB", TemplateSize: 1536, Hello: true,
		UnknownReply: 0xFC, BaudApply: BaudAfterPowerCycle,
		GenImgFinger: 150 * time.Millisecond, GenImgEmpty: 50 * time.Millisecond, Img2Tz: 300 * time.Millisecond,
		SetParamDelay: 30 * time.Millisecond},
}

// Config configures a simulator.
type Config struct {
	fpsim.LineConfig
	Model      string // default "R307"
	Baud       int    // stored speed at start, default 57600
	PacketSize int    // 32, 64, 128 (default) or 256
	Address    uint32 // 0: FFFFFFFF
	Password   uint32
	Security   int // 1..5, default 3
	// Source is what the sensor sees; Images, a directory of PGM/PNG/TIFF files, is
	// used when Source is nil; a synthetic pattern when both are empty.
	Source fpsim.Source
	Images string
	Finger fpsim.FingerConfig
	// BaudApply overrides the model's behaviour on speed changes.
	BaudApply BaudApply
	// ImageFail is the probability that GenImg with a finger answers 0x03.
	ImageFail float64
	Logger    *slog.Logger
}

// LED is the aura LED state.
type LED struct {
	Control, Speed, Colour, Count byte
}

// Sim is a running simulated module.
type Sim struct {
	*fpsim.Module
	e *engine
}

// Start powers a simulated module on.
func Start(cfg Config) (*Sim, error) {
	if cfg.Model == "" {
		cfg.Model = "R307"
	}
	model, ok := Models[cfg.Model]
	if !ok {
		return nil, fmt.Errorf("r30xsim: unknown model %q (want R307, AS608 or R503)", cfg.Model)
	}
	if cfg.BaudApply != BaudModelDefault {
		model.BaudApply = cfg.BaudApply
	}
	if cfg.Baud == 0 {
		cfg.Baud = 57600
	}
	if cfg.Baud%9600 != 0 || cfg.Baud/9600 < 1 || cfg.Baud/9600 > 12 || !fpsim.BaudSupported(cfg.Baud) {
		return nil, fmt.Errorf("r30xsim: speed %d is not one of 9600, 19200, 38400, 57600, 115200", cfg.Baud)
	}
	sizeCode := map[int]int{0: 2, 32: 0, 64: 1, 128: 2, 256: 3}
	code, ok := sizeCode[cfg.PacketSize]
	if !ok {
		return nil, fmt.Errorf("r30xsim: packet size %d is not 32, 64, 128 or 256", cfg.PacketSize)
	}
	if cfg.Address == 0 {
		cfg.Address = 0xFFFFFFFF
	}
	if cfg.Security == 0 {
		cfg.Security = 3
	}
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
	e := &engine{model: model, src: src, cfg: cfg,
		flash: flash{baudN: cfg.Baud / 9600, sizeCode: code, security: cfg.Security, addr: cfg.Address, password: cfg.Password}}
	finger := fpsim.NewFinger(cfg.Finger, cfg.Unpaced)
	m, err := fpsim.NewModule(cfg.LineConfig, finger, e, cfg.Logger)
	if err != nil {
		return nil, err
	}
	e.m = m
	return &Sim{Module: m, e: e}, nil
}

// LastImage is the image in the module's buffer as the host decodes an UpImage: the
// sensor image reduced to 4 bits and widened back as v×17. Nil before the first GenImg.
func (s *Sim) LastImage() *image.Gray {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if s.e.img == nil {
		return nil
	}
	img := image.NewGray(image.Rect(0, 0, s.e.model.Width, s.e.model.Height))
	for i, c := range s.e.img {
		img.Pix[2*i], img.Pix[2*i+1] = (c>>4)*17, (c&15)*17
	}
	return img
}

// Uploads is the number of complete UpImage transfers.
func (s *Sim) Uploads() int {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.uploads
}

// LED is the aura LED state.
func (s *Sim) LED() LED {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.led
}

// Model is the simulated model.
func (s *Sim) Model() Model { return s.e.model }

// StoredBaud is the speed in the module's flash.
func (s *Sim) StoredBaud() int {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.flash.baudN * 9600
}

// flash is what survives a power cut.
type flash struct {
	baudN, sizeCode, security int
	addr, password            uint32
}

type engine struct {
	m     *fpsim.Module
	model Model
	src   fpsim.Source
	cfg   Config

	mu      sync.Mutex
	flash   flash
	running flash // parameters in effect since power-on
	img     []byte
	char    [2][]byte
	led     LED
	uploads int

	// receiver state
	st   int
	hdr  []byte
	body []byte
	need int
}

const (
	stIdle = iota
	stGot1
	stHeader
	stBody
)

func (e *engine) PowerOn() (int, []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running = e.flash
	e.img, e.char = nil, [2][]byte{}
	e.led = LED{}
	e.st = stIdle
	var hello []byte
	if e.model.Hello {
		hello = []byte{0x55}
	}
	return e.running.baudN * 9600, hello
}

func (e *engine) Idle() { e.st = stIdle }

// Feed is the receiver: a byte-at-a-time state machine.
func (e *engine) Feed(b []byte) {
	for _, c := range b {
		switch e.st {
		case stIdle:
			if c == 0xEF {
				e.st = stGot1
			}
		case stGot1:
			switch c {
			case 0x01:
				e.st, e.hdr = stHeader, e.hdr[:0]
			case 0xEF:
			default:
				e.st = stIdle
			}
		case stHeader:
			e.hdr = append(e.hdr, c)
			if len(e.hdr) == 7 { // address, PID, length
				e.need = int(e.hdr[5])<<8 | int(e.hdr[6])
				if e.need < 3 || e.need > 258 {
					e.st = stIdle
					continue
				}
				e.st, e.body = stBody, e.body[:0]
			}
		case stBody:
			e.body = append(e.body, c)
			if len(e.body) == e.need {
				e.st = stIdle
				e.packet()
			}
		}
	}
}

func (e *engine) packet() {
	addr := uint32(e.hdr[0])<<24 | uint32(e.hdr[1])<<16 | uint32(e.hdr[2])<<8 | uint32(e.hdr[3])
	if addr != e.running.addr {
		return // not for this module
	}
	pid := e.hdr[4]
	var sum uint32 = uint32(pid) + uint32(e.hdr[5]) + uint32(e.hdr[6])
	data := e.body[:len(e.body)-2]
	for _, c := range data {
		sum += uint32(c)
	}
	got := uint32(e.body[len(e.body)-2])<<8 | uint32(e.body[len(e.body)-1])
	if sum&0xFFFF != got {
		e.ack(0x01)
		return
	}
	if pid != 0x01 {
		return // data from the host: no download instruction is simulated
	}
	e.command(data[0], append([]byte(nil), data[1:]...))
}

// frame builds one packet from the module.
func (e *engine) frame(pid byte, payload []byte) []byte {
	n := len(payload) + 2
	out := make([]byte, 0, 11+len(payload))
	a := e.running.addr
	out = append(out, 0xEF, 0x01, byte(a>>24), byte(a>>16), byte(a>>8), byte(a), pid, byte(n>>8), byte(n))
	out = append(out, payload...)
	sum := int(pid) + n>>8 + n&0xFF
	for _, c := range payload {
		sum += int(c)
	}
	return append(out, byte(sum>>8), byte(sum))
}

func (e *engine) ack(code byte, extra ...byte) {
	e.m.Send(e.frame(0x07, append([]byte{code}, extra...)))
}

func (e *engine) packetSize() int { return 32 << e.running.sizeCode }

// sendData sends b as data packets of the module's packet size, the last one marked end.
func (e *engine) sendData(b []byte) {
	p := e.packetSize()
	for len(b) > 0 {
		k := min(p, len(b))
		pid := byte(0x02)
		if k == len(b) {
			pid = 0x08
		}
		e.m.Send(e.frame(pid, b[:k]))
		b = b[k:]
	}
}

func (e *engine) command(ins byte, p []byte) {
	switch ins {
	case 0x13: // VfyPwd
		if len(p) != 4 {
			e.ack(0x01)
		} else if binary.BigEndian.Uint32(p) != e.running.password {
			e.ack(0x13)
		} else {
			e.ack(0x00)
		}
	case 0x0F: // ReadSysPara
		e.mu.Lock()
		f := e.flash
		e.mu.Unlock()
		b := make([]byte, 16)
		status := uint16(0)
		if e.img != nil {
			status |= 1 << 3
		}
		binary.BigEndian.PutUint16(b[0:], status)
		binary.BigEndian.PutUint16(b[2:], e.model.SystemID)
		binary.BigEndian.PutUint16(b[4:], uint16(e.model.Capacity))
		binary.BigEndian.PutUint16(b[6:], uint16(f.security))
		binary.BigEndian.PutUint32(b[8:], e.running.addr)
		binary.BigEndian.PutUint16(b[12:], uint16(e.running.sizeCode))
		binary.BigEndian.PutUint16(b[14:], uint16(f.baudN))
		e.ack(0x00, b...)
	case 0x0E: // SetSysPara
		e.setSysPara(p)
	case 0x01, 0x28: // GenImg, GetImageEx
		e.genImg()
	case 0x0A: // UpImage
		if e.img == nil {
			e.ack(0x0F)
			return
		}
		e.ack(0x00)
		e.sendData(e.img)
		e.m.Drain()
		e.mu.Lock()
		e.uploads++
		e.mu.Unlock()
		e.m.Finger().Uploaded()
	case 0x02: // Img2Tz
		if len(p) != 1 || (p[0] != 1 && p[0] != 2) {
			e.ack(0x01)
			return
		}
		if !e.m.Sleep(e.model.Img2Tz) {
			return
		}
		if e.img == nil {
			e.ack(0x15)
			return
		}
		if !ridged(e.img) {
			e.ack(0x07)
			return
		}
		e.char[p[0]-1] = e.template()
		e.ack(0x00)
	case 0x08: // UpChar
		if len(p) != 1 || (p[0] != 1 && p[0] != 2) {
			e.ack(0x01)
			return
		}
		if e.char[p[0]-1] == nil {
			e.ack(0x0D)
			return
		}
		e.ack(0x00)
		e.sendData(e.char[p[0]-1])
	case 0x1D: // TemplateNum
		e.ack(0x00, 0, 0)
	case 0x14: // GetRandomCode
		r := e.m.Rand().Uint32()
		e.ack(0x00, byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
	case 0x3C: // ReadProdInfo
		if !e.model.ProdInfo {
			e.unknown()
			return
		}
		b := make([]byte, 46)
		copy(b[0:16], e.model.Name)
		copy(b[16:20], "1111")
		copy(b[20:28], fmt.Sprintf("%08d", e.cfg.Seed%100000000))
		b[28], b[29] = 1, 1
		copy(b[30:38], e.model.SensorType)
		binary.BigEndian.PutUint16(b[38:], uint16(e.model.Width))
		binary.BigEndian.PutUint16(b[40:], uint16(e.model.Height))
		binary.BigEndian.PutUint16(b[42:], uint16(e.model.TemplateSize))
		binary.BigEndian.PutUint16(b[44:], uint16(e.model.Capacity))
		e.ack(0x00, b...)
	case 0x3A: // GetFwVer
		if !e.model.ProdInfo {
			e.unknown()
			return
		}
		b := make([]byte, 32)
		copy(b, "SIM-"+e.model.Name+"-1.0")
		e.ack(0x00, b...)
	case 0x40, 0x36: // HandShake, CheckSensor
		if !e.model.ProdInfo {
			e.unknown()
			return
		}
		e.ack(0x00)
	case 0x35: // AuraLedConfig
		if !e.model.Aura {
			e.unknown()
			return
		}
		if len(p) != 4 || p[0] < 1 || p[0] > 6 || p[2] < 1 || p[2] > 7 {
			e.ack(0x01)
			return
		}
		e.mu.Lock()
		e.led = LED{Control: p[0], Speed: p[1], Colour: p[2], Count: p[3]}
		e.mu.Unlock()
		e.ack(0x00)
	default:
		e.unknown()
	}
}

func (e *engine) unknown() {
	if e.model.UnknownReply >= 0 {
		e.ack(byte(e.model.UnknownReply))
	}
}

func (e *engine) setSysPara(p []byte) {
	if len(p) != 2 {
		e.ack(0x01)
		return
	}
	reg, v := p[0], int(p[1])
	if !e.m.Sleep(e.model.SetParamDelay) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	later := e.model.BaudApply == BaudAfterPowerCycle
	switch reg {
	case 4:
		if v < 1 || v > 12 || !fpsim.BaudSupported(v*9600) {
			e.ack(0x1B)
			return
		}
		switch e.model.BaudApply {
		case BaudIgnored:
			e.ack(0x00)
		case BaudAfterPowerCycle:
			e.flash.baudN = v
			e.ack(0x00)
		default:
			e.flash.baudN = v
			e.running.baudN = v
			e.ack(0x00)
			e.mu.Unlock()
			e.m.Drain() // the acknowledge leaves at the old speed
			_ = e.m.SetBaud(v * 9600)
			e.mu.Lock()
		}
	case 5:
		if v < 1 || v > 5 {
			e.ack(0x1B)
			return
		}
		e.flash.security = v
		e.ack(0x00)
	case 6:
		if v > 3 {
			e.ack(0x1B)
			return
		}
		e.flash.sizeCode = v
		if !later {
			e.running.sizeCode = v
		}
		e.ack(0x00)
	default:
		e.ack(0x1A)
	}
}

func (e *engine) genImg() {
	f := e.m.Finger()
	placement, frame, ok := f.Capture()
	d := e.model.GenImgEmpty
	if ok {
		d = e.model.GenImgFinger
	}
	if !e.m.Sleep(d) {
		return
	}
	if !ok {
		e.ack(0x02)
		return
	}
	if e.cfg.ImageFail > 0 && e.m.Rand().Float64() < e.cfg.ImageFail {
		e.ack(0x03)
		return
	}
	img, err := e.src.Frame(placement, frame)
	if err != nil {
		e.cfg.logger().Error("r30xsim: image source", "err", err)
		e.ack(0x03)
		return
	}
	fit := fpsim.Fit(img, fpsim.SourcePPI(e.src), fpsim.Sensor{Width: e.model.Width, Height: e.model.Height, PPI: e.model.PPI})
	packed := make([]byte, len(fit.Pix)/2)
	for i := range packed {
		packed[i] = fit.Pix[2*i]>>4<<4 | fit.Pix[2*i+1]>>4
	}
	e.mu.Lock()
	e.img = packed
	e.mu.Unlock()
	e.ack(0x00)
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ridged is the simulator's stand-in for feature extraction: enough dark pixels in the
// middle of the image.
func ridged(img []byte) bool {
	dark := 0
	for _, c := range img {
		if c>>4 < 8 {
			dark++
		}
		if c&15 < 8 {
			dark++
		}
	}
	return dark*20 > len(img)*2
}

// template is an opaque, deterministic stand-in for a character file.
func (e *engine) template() []byte {
	h := sha256.Sum256(e.img)
	out := make([]byte, 0, e.model.TemplateSize)
	for len(out) < e.model.TemplateSize {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:e.model.TemplateSize]
}
