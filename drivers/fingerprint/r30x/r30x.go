package r30x

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// DefaultBaud is the factory speed of the family.
const DefaultBaud = 57600

// Bauds are the speeds the family supports that a Linux UART (and tarm/serial) can set,
// in the order a probe should try them.
var Bauds = []int{57600, 115200, 9600, 19200, 38400}

// Errors of the baud negotiation.
var (
	// ErrBaudPending: the module stored the new speed but keeps the old one until it is
	// power-cycled (R50x manuals say so of every SetSysPara).
	ErrBaudPending = errors.New("r30x: module stored the new speed; it takes effect after a power cycle")
	// ErrBaudIgnored: the module acknowledged the new speed but neither uses nor stores
	// it (seen on clones).
	ErrBaudIgnored = fmt.Errorf("r30x: module acknowledged the speed change but ignored it: %w", fingerprint.ErrUnsupported)
)

// Opts configure a Dev. The zero value is the factory configuration with the automatic
// upgrade to 115200 baud.
type Opts struct {
	// Address is the module address; 0 means the factory address FFFFFFFF.
	Address uint32
	// Password is the handshake password (factory 0).
	Password uint32
	// Model overrides the model for modules that cannot tell it (R30x without
	// ReadProdInfo): "R307", "AS608", "R503".
	Model string
	// TargetBaud is the speed to negotiate after identification; 0 means 115200, a
	// negative value keeps the current speed. The module stores it in flash.
	TargetBaud int
	// PacketSize, when set (32, 64, 128, 256), is written to the module's register 6.
	PacketSize int
	// Verify is the image and template verification policy.
	Verify uart.Verify
	// MaxUploads bounds the uploads of one image or template (default 12).
	MaxUploads int
	// Retries is the number of times a command is sent again after a timeout or a
	// corrupt answer (default 2).
	Retries int
	// PollInterval is the pause between GenImg polls in WaitFinger/WaitLift (default
	// 100 ms).
	PollInterval time.Duration
	// Timeout is the time allowed for a command's answer beyond its wire time (default
	// 1 s; image acquisition and flash writes get twice that more).
	Timeout time.Duration
	// ProbeTimeout and ProbeTries bound the first handshake (detection uses short
	// ones); defaults Timeout and Retries+1.
	ProbeTimeout time.Duration
	ProbeTries   int
	Logger       *slog.Logger
}

func (o *Opts) defaults() Opts {
	var r Opts
	if o != nil {
		r = *o
	}
	if r.Address == 0 {
		r.Address = DefaultAddress
	}
	if r.TargetBaud == 0 {
		r.TargetBaud = 115200
	}
	if r.MaxUploads <= 0 {
		r.MaxUploads = 12
	}
	if r.Retries <= 0 {
		r.Retries = 2
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 100 * time.Millisecond
	}
	if r.Timeout <= 0 {
		r.Timeout = time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// SysPara is the module's system parameter block (ReadSysPara).
type SysPara struct {
	Status     uint16
	SystemID   uint16
	Capacity   int
	Security   int
	Address    uint32
	PacketSize int // bytes
	Baud       int // bits per second
}

// ProdInfo is the R50x product information block (ReadProdInfo).
type ProdInfo struct {
	Model, Batch, Serial string
	HWMajor, HWMinor     int
	SensorType           string
	Width, Height        int
	TemplateSize         int
	Capacity             int
}

// Dev is an R30x/R50x/ZFM/AS608 module on a serial line.
type Dev struct {
	line *uart.Line
	opts Opts
	log  *slog.Logger
	rd   reader

	mu     sync.Mutex // one operation at a time
	infoMu sync.Mutex // info, which Info reads without waiting for an operation
	info   fingerprint.Info
	sys    SysPara
	prod   *ProdInfo
	dirty  bool // stale bytes may be in flight: discard before the next command
	// answerBy is the deadline of a command interrupted before its answer came: the
	// module may still send it, so settle waits for it until then.
	answerBy time.Time
	haveImg  bool
	last     uart.Transfer

	haltMu sync.Mutex
	cancel context.CancelFunc
	halted bool
}

var _ fingerprint.Reader = (*Dev)(nil)
var _ uart.TransferReporter = (*Dev)(nil)

// Open opens path at baud (0: the family default) and identifies the module.
func Open(ctx context.Context, path string, baud int, opts *Opts) (*Dev, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	l, err := uart.Open(path, baud, nil)
	if err != nil {
		return nil, fmt.Errorf("r30x: %w", err)
	}
	d, err := New(ctx, l, opts)
	if err != nil {
		l.Close()
		return nil, err
	}
	return d, nil
}

// New identifies the module on line (handshake, system parameters, product information),
// applies Opts.PacketSize and negotiates Opts.TargetBaud. The Dev owns line from then on.
func New(ctx context.Context, line *uart.Line, opts *Opts) (*Dev, error) {
	o := opts.defaults()
	d := &Dev{line: line, opts: o, log: o.Logger}
	d.rd.line = line
	d.rd.addr = o.Address
	pt := o.ProbeTimeout
	if pt <= 0 {
		pt = o.Timeout
	}
	if err := d.probe(ctx, pt, o.ProbeTries); err != nil {
		if errors.Is(err, fingerprint.ErrSilent) || errors.Is(err, fingerprint.ErrCorrupt) {
			return nil, fmt.Errorf("%w: %w", uart.ErrNoAnswer, err)
		}
		return nil, err
	}
	if err := d.identify(ctx); err != nil {
		return nil, err
	}
	if o.PacketSize != 0 && o.PacketSize != d.sys.PacketSize {
		if err := d.setPacketSize(ctx, o.PacketSize); err != nil {
			return nil, err
		}
	}
	if o.TargetBaud > 0 && o.TargetBaud != line.Baud() && d.sys.Baud == o.TargetBaud {
		d.log.Warn("r30x: module has the target speed stored but runs at another; it needs a power cycle", "stored", d.sys.Baud, "baud", line.Baud())
	} else if o.TargetBaud > 0 && o.TargetBaud != line.Baud() {
		err := d.setBaud(ctx, o.TargetBaud)
		switch {
		case errors.Is(err, ErrBaudPending), errors.Is(err, ErrBaudIgnored):
			d.log.Warn("r30x: speed upgrade did not take effect", "target", o.TargetBaud, "baud", line.Baud(), "err", err)
		case err != nil:
			return nil, err
		}
	}
	return d, nil
}

// probe checks that a module of this family answers on the line (VfyPwd), waiting
// timeout for each of tries attempts (0: Opts.Retries+1).
func (d *Dev) probe(ctx context.Context, timeout time.Duration, tries int) error {
	saved := d.opts
	defer func() { d.opts = saved }()
	d.opts.Timeout = timeout
	if tries > 0 {
		d.opts.Retries = tries - 1
	}
	_, err := d.command(ctx, InsVfyPwd, binary.BigEndian.AppendUint32(nil, d.opts.Password)...)
	return err
}

func (d *Dev) identify(ctx context.Context) error {
	sp, err := d.readSysPara(ctx)
	if err != nil {
		return err
	}
	d.sys = sp
	info := fingerprint.Info{Family: "r30x", Baud: d.line.Baud(), PacketSize: sp.PacketSize,
		Capacity: sp.Capacity, SecurityLevel: sp.Security, BitDepth: 4, Features: fingerprint.FeatureTemplate}
	// Old firmware may not answer ReadProdInfo at all: ask with a short timeout. Such a
	// module answers "error receiving the packet" to every try, so a damaged answer
	// among them (noise) leaves the question open: ask once more before giving up.
	saved := d.opts
	d.opts.Timeout, d.opts.Retries = 600*time.Millisecond, 1
	pi, err := d.readProdInfo(ctx)
	if errors.Is(err, fingerprint.ErrCorrupt) {
		d.opts.Retries = 2
		pi, err = d.readProdInfo(ctx)
	}
	d.opts = saved
	var ce *CodeError
	switch {
	case err == nil:
		d.prod = &pi
		info.Model, info.Serial = pi.Model, pi.Serial
		info.Width, info.Height = pi.Width, pi.Height
		info.Firmware = fmt.Sprintf("hw %d.%d", pi.HWMajor, pi.HWMinor)
		info.Features |= fingerprint.FeatureLEDColour
		d.opts.Timeout, d.opts.Retries = 600*time.Millisecond, 1
		fw, err := d.firmware(ctx)
		d.opts = saved
		if err == nil && fw != "" {
			info.Firmware = fw
		}
	case errors.As(err, &ce), errors.Is(err, fingerprint.ErrSilent):
		// Older R30x/AS608 firmware has no ReadProdInfo.
		d.dirty = true
	default:
		return err
	}
	if d.opts.Model != "" {
		info.Model = d.opts.Model
	}
	if info.Model == "" {
		info.Model = "R30x"
	}
	g := geometryOf(info.Model)
	if info.Width == 0 || info.Height == 0 {
		info.Width, info.Height = g.w, g.h
	}
	info.PPI = g.ppi
	if info.Width == 192 && info.Height == 192 {
		info.PPI = 508
	}
	d.setInfo(func(i *fingerprint.Info) { *i = info })
	return nil
}

type geometry struct{ w, h, ppi int }

// geometryOf gives the UpImage geometry of known models: optical R30x/AS608 sensors
// deliver 256×288 at 500 ppi, capacitive R502/R503 192×192 at 508 ppi.
func geometryOf(model string) geometry {
	m := strings.ToUpper(model)
	switch {
	case strings.HasPrefix(m, "R502"), strings.HasPrefix(m, "R503"), strings.HasPrefix(m, "R5XX"):
		return geometry{192, 192, 508}
	}
	return geometry{256, 288, 500}
}

// readSysPara reads the system parameter block.
func (d *Dev) readSysPara(ctx context.Context) (SysPara, error) {
	b, err := d.command(ctx, InsReadSysPara)
	if err != nil {
		return SysPara{}, err
	}
	if len(b) < 16 {
		return SysPara{}, fmt.Errorf("r30x: ReadSysPara answer has %d bytes, want 16: %w", len(b), fingerprint.ErrCorrupt)
	}
	be := binary.BigEndian
	sp := SysPara{Status: be.Uint16(b[0:]), SystemID: be.Uint16(b[2:]), Capacity: int(be.Uint16(b[4:])),
		Security: int(be.Uint16(b[6:])), Address: be.Uint32(b[8:])}
	code := be.Uint16(b[12:])
	if code > 3 {
		return SysPara{}, fmt.Errorf("r30x: ReadSysPara packet size code %d outside 0..3: %w", code, fingerprint.ErrCorrupt)
	}
	sp.PacketSize = 32 << code
	n := int(be.Uint16(b[14:]))
	if n < 1 || n > 12 {
		return SysPara{}, fmt.Errorf("r30x: ReadSysPara baud factor %d outside 1..12: %w", n, fingerprint.ErrCorrupt)
	}
	sp.Baud = 9600 * n
	return sp, nil
}

// readProdInfo reads the R50x product information (an error wrapping a *CodeError or
// fingerprint.ErrSilent on modules without it).
func (d *Dev) readProdInfo(ctx context.Context) (ProdInfo, error) {
	b, err := d.command(ctx, InsReadProdInfo)
	if err != nil {
		return ProdInfo{}, err
	}
	if len(b) < 46 {
		return ProdInfo{}, fmt.Errorf("r30x: ReadProdInfo answer has %d bytes, want 46: %w", len(b), fingerprint.ErrCorrupt)
	}
	be := binary.BigEndian
	pi := ProdInfo{Model: cstr(b[0:16]), Batch: cstr(b[16:20]), Serial: cstr(b[20:28]),
		HWMajor: int(b[28]), HWMinor: int(b[29]), SensorType: cstr(b[30:38]),
		Width: int(be.Uint16(b[38:])), Height: int(be.Uint16(b[40:])),
		TemplateSize: int(be.Uint16(b[42:])), Capacity: int(be.Uint16(b[44:]))}
	if pi.Width <= 0 || pi.Height <= 0 || pi.Width*pi.Height > 1<<20 {
		return ProdInfo{}, fmt.Errorf("r30x: ReadProdInfo sensor %dx%d is implausible: %w", pi.Width, pi.Height, fingerprint.ErrCorrupt)
	}
	return pi, nil
}

func (d *Dev) firmware(ctx context.Context) (string, error) {
	b, err := d.command(ctx, InsGetFwVer)
	if err != nil {
		d.dirty = true
		return "", err
	}
	return cstr(b), nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)))
}

// Info implements fingerprint.Reader.
func (d *Dev) Info() fingerprint.Info {
	// Not d.mu: Info answers at once, even while an operation (an upload) runs.
	d.infoMu.Lock()
	defer d.infoMu.Unlock()
	return d.info
}

// setInfo changes the identity Info reports; the caller holds d.mu.
func (d *Dev) setInfo(f func(*fingerprint.Info)) {
	d.infoMu.Lock()
	f(&d.info)
	d.infoMu.Unlock()
}

// SysPara returns the parameters read at identification.
func (d *Dev) SysPara() SysPara {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sys
}

// String implements fingerprint.Reader.
func (d *Dev) String() string {
	info := d.Info()
	return fmt.Sprintf("r30x(%s@%s,%d)", info.Model, d.line.Path(), d.line.Baud())
}

// LastTransfer implements uart.TransferReporter.
func (d *Dev) LastTransfer() uart.Transfer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// begin starts an operation: one at a time, cancellable by Halt.
func (d *Dev) begin(ctx context.Context) (context.Context, func()) {
	d.mu.Lock()
	ctx, cancel := context.WithCancel(ctx)
	d.haltMu.Lock()
	d.cancel, d.halted = cancel, false
	d.haltMu.Unlock()
	return ctx, func() {
		d.haltMu.Lock()
		d.cancel = nil
		d.haltMu.Unlock()
		cancel()
		d.mu.Unlock()
	}
}

// fail maps a context cancelled by Halt to uart.ErrHalted and marks the line dirty when
// an exchange was cut short.
func (d *Dev) fail(err error) error {
	if err == nil {
		return nil
	}
	d.haltMu.Lock()
	halted := d.halted
	d.haltMu.Unlock()
	if halted && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("r30x: %w", uart.ErrHalted)
	}
	// Answers the module gave in full, and refusals before any I/O, leave a clean line.
	if !errors.Is(err, fingerprint.ErrNoFinger) && !errors.Is(err, fingerprint.ErrBadImage) && !errors.Is(err, fingerprint.ErrUnsupported) {
		d.dirty = true
	}
	return err
}

// WaitFinger implements fingerprint.Reader: it polls GenImg every PollInterval. A
// successful GenImg leaves the image in the module's buffer.
func (d *Dev) WaitFinger(ctx context.Context) error {
	ctx, end := d.begin(ctx)
	defer end()
	return d.fail(d.wait(ctx, true))
}

// WaitLift implements fingerprint.Reader.
func (d *Dev) WaitLift(ctx context.Context) error {
	ctx, end := d.begin(ctx)
	defer end()
	return d.fail(d.wait(ctx, false))
}

func (d *Dev) wait(ctx context.Context, finger bool) error {
	for {
		_, err := d.command(ctx, InsGenImg)
		var ce *CodeError
		switch {
		case err == nil:
			d.haveImg = true
			if finger {
				return nil
			}
		case errors.As(err, &ce) && ce.Code == ErrNoFinger:
			if !finger {
				return nil
			}
		case errors.As(err, &ce) && ce.Code == ErrEnrollFail:
			// A finger is there, the image failed: present for WaitFinger.
			if finger {
				return nil
			}
		default:
			return err
		}
		if err := uart.Sleep(ctx, d.line.Clock(), d.opts.PollInterval); err != nil {
			return err
		}
	}
}

// Capture implements fingerprint.Reader: GenImg, then UpImage, verified per Opts.Verify.
// The 4-bit pixels are widened to 8 bits as v×17 (0→0, 15→255).
func (d *Dev) Capture(ctx context.Context) (*fingerprint.Image, error) {
	ctx, end := d.begin(ctx)
	defer end()
	if _, err := d.command(ctx, InsGenImg); err != nil {
		return nil, d.fail(err)
	}
	d.haveImg = true
	img, err := d.uploadImage(ctx)
	if err != nil {
		return nil, d.fail(err)
	}
	return &fingerprint.Image{Gray: img, PPI: d.info.PPI, Captured: d.line.Clock().Now()}, nil
}

// UploadImage uploads the image already in the module's buffer (from the last GenImg)
// without taking a new one. Benchmarks and maintenance tools use it.
func (d *Dev) UploadImage(ctx context.Context) (*image.Gray, error) {
	ctx, end := d.begin(ctx)
	defer end()
	img, err := d.uploadImage(ctx)
	return img, d.fail(err)
}

func (d *Dev) uploadImage(ctx context.Context) (*image.Gray, error) {
	w, h := d.info.Width, d.info.Height
	data, err := d.upload(ctx, "image", InsUpImage, nil, w*h/2)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, c := range data {
		img.Pix[2*i] = (c >> 4) * 17
		img.Pix[2*i+1] = (c & 0x0F) * 17
	}
	return img, nil
}

// Template implements fingerprint.Reader: Img2Tz into CharBuffer 1, then UpChar.
func (d *Dev) Template(ctx context.Context) ([]byte, error) {
	ctx, end := d.begin(ctx)
	defer end()
	if !d.haveImg {
		return nil, errors.New("r30x: no image in the module's buffer: capture first")
	}
	if _, err := d.command(ctx, InsImg2Tz, 1); err != nil {
		return nil, d.fail(err)
	}
	size := 512
	if d.prod != nil && d.prod.TemplateSize > 0 {
		size = d.prod.TemplateSize
	}
	t, err := d.upload(ctx, "template", InsUpChar, []byte{1}, size)
	return t, d.fail(err)
}

// SetLED implements fingerprint.Reader with AuraLedConfig on modules that have it.
func (d *Dev) SetLED(ctx context.Context, led fingerprint.LED) error {
	ctx, end := d.begin(ctx)
	defer end()
	return d.fail(d.setLED(ctx, led))
}

func (d *Dev) setLED(ctx context.Context, led fingerprint.LED) error {
	if d.info.Features&fingerprint.FeatureLEDColour == 0 {
		return fmt.Errorf("r30x: %s has no aura LED: %w", d.info.Model, fingerprint.ErrUnsupported)
	}
	ctrl := map[fingerprint.LEDMode]byte{fingerprint.LEDBreathing: 1, fingerprint.LEDFlashing: 2,
		fingerprint.LEDOn: 3, fingerprint.LEDOff: 4}[led.Mode]
	if ctrl == 0 {
		return fmt.Errorf("r30x: LED mode %d: %w", led.Mode, fingerprint.ErrUnsupported)
	}
	colour := map[fingerprint.LEDColour]byte{fingerprint.ColourDefault: 2, fingerprint.ColourRed: 1,
		fingerprint.ColourBlue: 2, fingerprint.ColourPurple: 3}[led.Colour]
	if colour == 0 {
		return fmt.Errorf("r30x: LED colour %d: %w", led.Colour, fingerprint.ErrUnsupported)
	}
	// Speed 0x40 for breathing/flashing; 0 repeats = for ever.
	_, err := d.command(ctx, InsAuraLedConfig, ctrl, 0x40, colour, 0)
	return err
}

// SetBaud makes the module and the line switch to baud (a multiple of 9600 from 9600 to
// 115200 that the host UART supports). The module stores it. It returns ErrBaudPending
// or ErrBaudIgnored when the module keeps talking at the old speed.
func (d *Dev) SetBaud(ctx context.Context, baud int) error {
	ctx, end := d.begin(ctx)
	defer end()
	return d.fail(d.setBaud(ctx, baud))
}

func (d *Dev) setBaud(ctx context.Context, baud int) error {
	ok := false
	for _, b := range Bauds {
		ok = ok || b == baud
	}
	if !ok {
		return fmt.Errorf("r30x: cannot use %d baud (want one of %v)", baud, Bauds)
	}
	old := d.line.Baud()
	if baud == old {
		return nil
	}
	if _, err := d.command(ctx, InsSetSysPara, RegBaud, byte(baud/9600)); err != nil {
		if !errors.Is(err, fingerprint.ErrCorrupt) && !errors.Is(err, fingerprint.ErrSilent) {
			return err
		}
		// The acknowledge was lost or damaged, but the module may have switched
		// (it answers at the old speed, then changes): look for it at the new one.
		if e := d.line.SetBaud(baud); e != nil {
			return fmt.Errorf("r30x: %w", e)
		}
		d.rd.reset()
		d.dirty = true
		if d.probeQuick(ctx) == nil {
			d.log.Warn("r30x: speed change not acknowledged, but the module answers at the new speed", "from", old, "to", baud)
			d.setInfo(func(i *fingerprint.Info) { i.Baud = baud })
			d.sys.Baud = baud
			return nil
		}
		if e := d.line.SetBaud(old); e != nil {
			return fmt.Errorf("r30x: %w", e)
		}
		d.rd.reset()
		d.dirty = true
		return err
	}
	d.log.Info("r30x: speed change acknowledged", "from", old, "to", baud)
	if err := d.line.SetBaud(baud); err != nil {
		return fmt.Errorf("r30x: %w", err)
	}
	d.rd.reset()
	if err := d.probeQuick(ctx); err == nil {
		d.setInfo(func(i *fingerprint.Info) { i.Baud = baud })
		d.sys.Baud = baud
		return nil
	} else if !errors.Is(err, fingerprint.ErrSilent) && !errors.Is(err, fingerprint.ErrCorrupt) {
		return err
	}
	// Not at the new speed: back to the old one and find out why.
	if err := d.line.SetBaud(old); err != nil {
		return fmt.Errorf("r30x: %w", err)
	}
	d.rd.reset()
	d.dirty = true
	sp, err := d.readSysPara(ctx)
	if err != nil {
		return fmt.Errorf("r30x: module answers at neither %d nor %d baud: %w", baud, old, err)
	}
	d.sys = sp
	if sp.Baud == baud {
		return ErrBaudPending
	}
	return ErrBaudIgnored
}

// probeQuick is a handshake with a short timeout, tried twice.
func (d *Dev) probeQuick(ctx context.Context) error {
	return d.probe(ctx, 500*time.Millisecond, 2)
}

func (d *Dev) setPacketSize(ctx context.Context, size int) error {
	code := map[int]byte{32: 0, 64: 1, 128: 2, 256: 3}
	c, ok := code[size]
	if !ok {
		return fmt.Errorf("r30x: packet size %d is not 32, 64, 128 or 256", size)
	}
	if _, err := d.command(ctx, InsSetSysPara, RegPacketSize, c); err != nil {
		return err
	}
	sp, err := d.readSysPara(ctx)
	if err != nil {
		return err
	}
	d.sys = sp
	if sp.PacketSize != size {
		d.log.Warn("r30x: packet size change not in effect (it may need a power cycle)", "want", size, "have", sp.PacketSize)
	}
	d.setInfo(func(i *fingerprint.Info) { i.PacketSize = sp.PacketSize })
	return nil
}

// Halt implements fingerprint.Reader: it stops the operation in progress (which returns
// an error wrapping uart.ErrHalted within about 0.1 s) and switches the aura LED off.
func (d *Dev) Halt() error {
	d.haltMu.Lock()
	if d.cancel != nil {
		d.halted = true
		d.cancel()
	}
	d.haltMu.Unlock()
	if d.Info().Features&fingerprint.FeatureLEDColour == 0 {
		return nil
	}
	// The LED command waits for the line to settle: the rest of an upload that was
	// cut short (up to a whole image) and a late answer must drain first.
	ctx, cancel := context.WithTimeout(context.Background(), uart.HaltBudget(d.line.Baud(), d.opts.Timeout))
	defer cancel()
	return d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOff})
}

// Close implements fingerprint.Reader.
func (d *Dev) Close() error {
	d.haltMu.Lock()
	if d.cancel != nil {
		d.halted = true
		d.cancel()
	}
	d.haltMu.Unlock()
	return d.line.Close()
}
