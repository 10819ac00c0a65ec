package gt521

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// DefaultBaud is the factory speed of the family.
const DefaultBaud = 9600

// Bauds are the speeds the family supports, in the order a probe should try them.
var Bauds = []int{9600, 115200, 57600, 38400, 19200}

// Image geometry of GetImage: 202 pixels per row, 258 rows, 8 bits, 450 ppi. Datasheets
// write it "258x202"; rows are 202 bytes long.
const (
	ImageWidth   = 202
	ImageHeight  = 258
	ImagePPI     = 450
	TemplateSize = 498
	InfoSize     = 24 // Open's device information: firmware, ISO area size, serial number
)

// Opts configure a Dev. The zero value is the factory configuration with the automatic
// upgrade to 115200 baud.
type Opts struct {
	// TargetBaud is the speed to switch to after Open; 0 means 115200, negative keeps the
	// current speed. GT-521 modules forget it at power-off, so it is negotiated at every
	// open.
	TargetBaud int
	// FastCapture captures with CaptureFinger(0) instead of the best-image mode the
	// datasheet recommends for enrollment.
	FastCapture bool
	// Verify is the image and template verification policy (Auto is Strict here).
	Verify uart.Verify
	// MaxUploads bounds the uploads of one image or template (default 12).
	MaxUploads int
	// Retries is the number of times a command is repeated after a timeout or a corrupt
	// answer (default 2).
	Retries int
	// PollInterval is the pause between polls in WaitFinger/WaitLift (default 100 ms).
	PollInterval time.Duration
	// Timeout is the time allowed for an answer beyond its wire time (default 1 s;
	// captures get three times that more).
	Timeout time.Duration
	// ProbeTimeout and ProbeTries bound the first exchange (detection uses short ones).
	ProbeTimeout time.Duration
	ProbeTries   int
	Logger       *slog.Logger
}

func (o *Opts) defaults() Opts {
	var r Opts
	if o != nil {
		r = *o
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

// Dev is a GT-521Fxx/GT-511Cx module on a serial line.
type Dev struct {
	line *uart.Line
	opts Opts
	log  *slog.Logger
	rd   reader

	mu          sync.Mutex
	infoMu      sync.Mutex // info, which Info reads without waiting for an operation
	info        fingerprint.Info
	ledOn       bool
	dirty       bool
	answerBy    time.Time // deadline of a command interrupted before its answer (see settle)
	captured    bool
	contradict  int  // IsPressFinger said pressed, CaptureFinger said not
	pressBroken bool // IsPressFinger is always true on this board
	last        uart.Transfer

	haltMu sync.Mutex
	cancel context.CancelFunc
	halted bool
}

var _ fingerprint.Reader = (*Dev)(nil)
var _ uart.TransferReporter = (*Dev)(nil)

// Open opens path at baud (0: 9600) and identifies the module.
func Open(ctx context.Context, path string, baud int, opts *Opts) (*Dev, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	l, err := uart.Open(path, baud, nil)
	if err != nil {
		return nil, fmt.Errorf("gt521: %w", err)
	}
	d, err := New(ctx, l, opts)
	if err != nil {
		l.Close()
		return nil, err
	}
	return d, nil
}

// New opens the module on line (Open with device information), finds its database size
// and negotiates Opts.TargetBaud. The Dev owns line from then on.
func New(ctx context.Context, line *uart.Line, opts *Opts) (*Dev, error) {
	o := opts.defaults()
	d := &Dev{line: line, opts: o, log: o.Logger}
	d.rd.line = line
	saved := d.opts
	if o.ProbeTimeout > 0 {
		d.opts.Timeout = o.ProbeTimeout
	}
	if o.ProbeTries > 0 {
		d.opts.Retries = o.ProbeTries - 1
	}
	_, err := d.command(ctx, CmdOpen, 0)
	d.opts = saved
	if errors.Is(err, fingerprint.ErrSilent) || errors.Is(err, fingerprint.ErrCorrupt) {
		return nil, fmt.Errorf("%w: %w", uart.ErrNoAnswer, err)
	}
	if err != nil {
		return nil, err
	}
	if err := d.identify(ctx); err != nil {
		return nil, err
	}
	if o.TargetBaud > 0 && o.TargetBaud != line.Baud() {
		if err := d.setBaud(ctx, o.TargetBaud); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Dev) identify(ctx context.Context) error {
	info := fingerprint.Info{Family: "gt521", Width: ImageWidth, Height: ImageHeight, PPI: ImagePPI,
		BitDepth: 8, Baud: d.line.Baud(), Features: fingerprint.FeatureLEDOnOff | fingerprint.FeatureTemplate}
	raw, err := d.data(ctx, "info", CmdOpen, 1, InfoSize, uart.VerifyChecksum)
	if err != nil {
		return err
	}
	info.Firmware = fmt.Sprintf("%08X", binary.LittleEndian.Uint32(raw[0:]))
	info.Serial = hex.EncodeToString(raw[8:24])
	// The database size tells the models apart: id 2999 is outside a 200-print
	// database (NACK_INVALID_POS) and merely unused in a 3000-print one.
	_, err = d.command(ctx, CmdCheckEnrolled, 2999)
	var ne *NackError
	switch {
	case err == nil, errors.As(err, &ne) && ne.Code == NackIsNotUsed:
		info.Model, info.Capacity = "GT-521F52", 3000
	case errors.As(err, &ne) && ne.Code == NackInvalidPos:
		info.Model, info.Capacity = "GT-521F32", 200
	default:
		return err
	}
	d.setInfo(func(i *fingerprint.Info) { *i = info })
	return nil
}

// reader turns the byte stream into verified response packets and raw data.
type reader struct {
	line *uart.Line
	buf  []byte
	off  int64
	errs int
	tmp  [2048]byte
}

func (r *reader) reset() { r.off += int64(len(r.buf)); r.buf = nil }

func (r *reader) skip(n int) {
	r.buf = r.buf[n:]
	r.off += int64(n)
	if len(r.buf) == 0 {
		r.buf = nil
	}
}

// next returns the next verified response packet, resynchronising on noise.
func (r *reader) next(ctx context.Context, deadline time.Time) (Packet, error) {
	timedOut := false
	for {
		for len(r.buf) > 0 {
			p, n, err := Decode(r.buf)
			if err == nil {
				r.skip(n)
				return p, nil
			}
			if errors.Is(err, ErrShort) {
				break
			}
			r.errs++
			if errors.Is(err, ErrSync) {
				if i := bytes.IndexByte(r.buf[1:], 0x55); i >= 0 {
					r.skip(1 + i)
				} else {
					r.skip(len(r.buf))
				}
			} else {
				r.skip(1)
			}
		}
		if timedOut {
			if len(r.buf) == 0 {
				return Packet{}, uart.ErrTimeout
			}
			r.errs++
			r.skip(1)
			continue
		}
		n, err := r.line.Read(ctx, r.tmp[:], deadline)
		if errors.Is(err, uart.ErrTimeout) {
			timedOut = true
			continue
		}
		if err != nil {
			return Packet{}, err
		}
		r.buf = append(r.buf, r.tmp[:n]...)
	}
}

// raw returns the next n bytes of the stream, or fewer if the line goes quiet for gap or
// the hard deadline passes.
func (r *reader) raw(ctx context.Context, n int, gap time.Duration, hard time.Time) ([]byte, error) {
	clock := r.line.Clock()
	for len(r.buf) < n {
		until := clock.Now().Add(gap)
		if until.After(hard) {
			until = hard
		}
		k, err := r.line.Read(ctx, r.tmp[:], until)
		if errors.Is(err, uart.ErrTimeout) {
			break
		}
		if err != nil {
			return nil, err
		}
		r.buf = append(r.buf, r.tmp[:k]...)
	}
	k := min(n, len(r.buf))
	out := append([]byte(nil), r.buf[:k]...)
	r.skip(k)
	return out, nil
}

func (d *Dev) settle(ctx context.Context) error {
	if !d.dirty {
		return nil
	}
	answerBy := d.answerBy
	d.answerBy = time.Time{}
	if _, err := d.line.Settle(ctx, answerBy, 250*time.Millisecond, 120*time.Second); err != nil {
		return err
	}
	d.rd.reset()
	d.dirty = false
	return nil
}

func (d *Dev) timeout(cmd uint16) time.Duration {
	t := d.opts.Timeout + uart.WireTime(2*PacketLen, d.line.Baud())
	switch cmd {
	case CmdCaptureFinger, CmdMakeTemplate, CmdGetRawImage, CmdEnroll1, CmdEnroll2, CmdEnroll3, CmdIdentify, CmdVerify:
		t += 3 * d.opts.Timeout // captures, template extraction
	}
	return t
}

// command sends a command and returns the ACK's parameter. A NACK is a *NackError;
// NACK_COMM_ERR (our packet arrived damaged), timeouts and corrupt answers are retried.
func (d *Dev) command(ctx context.Context, cmd uint16, param uint32) (uint32, error) {
	var lastErr error
	heard := false
	for attempt := 0; attempt <= d.opts.Retries; attempt++ {
		p, h, err := d.exchange(ctx, cmd, param)
		heard = heard || h
		if err == nil {
			return p, nil
		}
		var ne *NackError
		if errors.As(err, &ne) && ne.Code != NackCommErr {
			return 0, err
		}
		if !errors.As(err, &ne) && !errors.Is(err, uart.ErrTimeout) {
			return 0, err
		}
		lastErr = err
	}
	if !heard {
		return 0, fmt.Errorf("gt521: command %#02x: no answer after %d tries: %w", cmd, d.opts.Retries+1, fingerprint.ErrSilent)
	}
	return 0, fmt.Errorf("gt521: command %#02x: no valid answer after %d tries (last: %v): %w", cmd, d.opts.Retries+1, lastErr, fingerprint.ErrCorrupt)
}

// exchange sends one command and reads its response.
func (d *Dev) exchange(ctx context.Context, cmd uint16, param uint32) (uint32, bool, error) {
	if err := d.settle(ctx); err != nil {
		return 0, false, err
	}
	rx0, _ := d.line.Counters()
	if err := d.line.Write(Packet{Param: param, Cmd: cmd}.Encode()); err != nil {
		return 0, false, err
	}
	deadline := d.line.Clock().Now().Add(d.timeout(cmd))
	p, err := d.rd.next(ctx, deadline)
	rx, _ := d.line.Counters()
	heard := rx > rx0
	if errors.Is(err, uart.ErrTimeout) {
		d.dirty = true
		return 0, heard, err
	}
	if err != nil {
		if ctx.Err() != nil {
			d.answerBy = deadline // the module may still answer (see settle)
		}
		return 0, heard, err
	}
	switch p.Cmd {
	case Ack:
		return p.Param, true, nil
	case Nack:
		return 0, true, &NackError{Cmd: cmd, Code: p.Param}
	}
	d.dirty = true
	return 0, true, fmt.Errorf("gt521: command %#02x: response code %#04x is neither ACK nor NACK: %w", cmd, p.Cmd, fingerprint.ErrCorrupt)
}

// data runs a command that answers with a data packet of size bytes, repeating it until
// the data is verified per mode or MaxUploads is reached. The module keeps the image or
// template, so every repetition sends the same bytes. A copy is placed by its offset right
// after the ACK; a copy with lost bytes is too short and is dropped whole. In Strict mode
// every byte (header and checksum included) must have at least two votes and two more than
// any other value, and the voted packet must pass its checksum.
func (d *Dev) data(ctx context.Context, what string, cmd uint16, param uint32, size int, mode uart.Verify) ([]byte, error) {
	n := size + DataOverhead
	var copies [][]byte
	start := d.line.Clock().Now()
	rx0, _ := d.line.Counters()
	tr := uart.Transfer{What: what, Baud: d.line.Baud(), BoundBytes: n}
	defer func() {
		rx, _ := d.line.Counters()
		tr.WireBytes, tr.Elapsed = rx-rx0, d.line.Clock().Now().Sub(start)
		if what != "info" {
			d.last = tr
		}
	}()
	var lastErr error
	for attempt := 1; attempt <= d.opts.MaxUploads; attempt++ {
		tr.Uploads = attempt
		if _, err := d.command(ctx, cmd, param); err != nil {
			var ne *NackError
			if errors.As(err, &ne) {
				return nil, err
			}
			if errors.Is(err, fingerprint.ErrSilent) || errors.Is(err, fingerprint.ErrCorrupt) {
				lastErr = err
				continue
			}
			return nil, err
		}
		hard := d.line.Clock().Now().Add(2*uart.WireTime(n, d.line.Baud()) + 3*time.Second)
		b, err := d.rd.raw(ctx, n, 300*time.Millisecond, hard)
		if err != nil {
			return nil, err
		}
		if len(b) < n {
			d.dirty = true
			lastErr = fmt.Errorf("gt521: %s packet %d bytes short", what, n-len(b))
			continue
		}
		if mode == uart.VerifyChecksum {
			if data, err := DecodeData(b, size); err == nil {
				return append([]byte(nil), data...), nil
			} else {
				lastErr = err
			}
			continue
		}
		copies = append(copies, b)
		if v, ok := vote(copies); ok {
			data, err := DecodeData(v, size)
			if err == nil {
				return data, nil
			}
			lastErr = fmt.Errorf("gt521: voted %s packet: %w", what, err)
		}
	}
	return nil, fmt.Errorf("gt521: %s not verified after %d uploads (last: %v): %w", what, d.opts.MaxUploads, lastErr, fingerprint.ErrCorrupt)
}

// vote resolves each byte position over the copies (all of the same length).
func vote(copies [][]byte) ([]byte, bool) {
	if len(copies) < 2 {
		return nil, false
	}
	n := len(copies[0])
	out := make([]byte, n)
	var counts [256]int
	for i := 0; i < n; i++ {
		first := copies[0][i]
		same := true
		for _, c := range copies[1:] {
			if c[i] != first {
				same = false
				break
			}
		}
		if same {
			out[i] = first
			continue
		}
		var vals [16]byte
		distinct := vals[:0]
		for _, c := range copies {
			if counts[c[i]] == 0 {
				distinct = append(distinct, c[i])
			}
			counts[c[i]]++
		}
		best, bestN, second := byte(0), 0, 0
		for _, v := range distinct {
			k := counts[v]
			counts[v] = 0
			if k > bestN {
				best, bestN, second = v, k, bestN
			} else if k > second {
				second = k
			}
		}
		if bestN < 2 || bestN-second < 2 {
			return nil, false
		}
		out[i] = best
	}
	return out, true
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

// String implements fingerprint.Reader.
func (d *Dev) String() string {
	return fmt.Sprintf("gt521(%s@%s,%d)", d.Info().Model, d.line.Path(), d.line.Baud())
}

// LastTransfer implements uart.TransferReporter.
func (d *Dev) LastTransfer() uart.Transfer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// PressUnreliable reports whether this board's IsPressFinger was caught saying "pressed"
// with no finger (the driver then polls with CaptureFinger instead).
func (d *Dev) PressUnreliable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pressBroken
}

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

func (d *Dev) fail(err error) error {
	if err == nil {
		return nil
	}
	d.haltMu.Lock()
	halted := d.halted
	d.haltMu.Unlock()
	if halted && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("gt521: %w", uart.ErrHalted)
	}
	// Answers the module gave in full, and refusals before any I/O, leave a clean line.
	if !errors.Is(err, fingerprint.ErrNoFinger) && !errors.Is(err, fingerprint.ErrBadImage) && !errors.Is(err, fingerprint.ErrUnsupported) {
		d.dirty = true
	}
	return err
}

func (d *Dev) led(ctx context.Context, on bool) error {
	if d.ledOn == on {
		return nil
	}
	p := uint32(0)
	if on {
		p = 1
	}
	if _, err := d.command(ctx, CmdCmosLed, p); err != nil {
		return err
	}
	d.ledOn = on
	return nil
}

// WaitFinger implements fingerprint.Reader. It switches the CMOS LED on (the optical
// sensor sees nothing without it) and polls IsPressFinger; on boards where IsPressFinger
// is caught lying, it polls CaptureFinger instead.
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
	if err := d.led(ctx, true); err != nil {
		return err
	}
	for {
		pressed, err := d.pressed(ctx)
		if err != nil {
			return err
		}
		if pressed == finger {
			return nil
		}
		if err := uart.Sleep(ctx, d.line.Clock(), d.opts.PollInterval); err != nil {
			return err
		}
	}
}

// pressed asks whether a finger is on the sensor.
func (d *Dev) pressed(ctx context.Context) (bool, error) {
	if !d.pressBroken {
		p, err := d.command(ctx, CmdIsPressFinger, 0)
		if err != nil {
			return false, err
		}
		if p != 0 {
			d.contradict = 0
			return false, nil
		}
		// "Pressed": confirm once with a capture, to catch boards that always say so.
	}
	_, err := d.command(ctx, CmdCaptureFinger, 0)
	var ne *NackError
	switch {
	case err == nil:
		d.captured = true
		d.contradict = 0
		return true, nil
	case errors.As(err, &ne) && ne.Code == NackFingerIsNotPressed:
		if !d.pressBroken {
			d.contradict++
			if d.contradict >= 2 {
				d.pressBroken = true
				d.log.Warn("gt521: IsPressFinger reports a finger that CaptureFinger does not see; polling with captures")
			}
		}
		return false, nil
	}
	return false, err
}

// Capture implements fingerprint.Reader: CaptureFinger, then GetImage, verified per
// Opts.Verify.
func (d *Dev) Capture(ctx context.Context) (*fingerprint.Image, error) {
	ctx, end := d.begin(ctx)
	defer end()
	if err := d.led(ctx, true); err != nil {
		return nil, d.fail(err)
	}
	best := uint32(1)
	if d.opts.FastCapture {
		best = 0
	}
	if _, err := d.command(ctx, CmdCaptureFinger, best); err != nil {
		return nil, d.fail(err)
	}
	d.captured = true
	img, err := d.uploadImage(ctx)
	if err != nil {
		return nil, d.fail(err)
	}
	return &fingerprint.Image{Gray: img, PPI: ImagePPI, Captured: d.line.Clock().Now()}, nil
}

// UploadImage downloads the image of the last capture again without capturing.
func (d *Dev) UploadImage(ctx context.Context) (*image.Gray, error) {
	ctx, end := d.begin(ctx)
	defer end()
	img, err := d.uploadImage(ctx)
	return img, d.fail(err)
}

func (d *Dev) uploadImage(ctx context.Context) (*image.Gray, error) {
	mode := d.opts.Verify
	if mode == uart.VerifyAuto {
		mode = uart.VerifyStrict
	}
	b, err := d.data(ctx, "image", CmdGetImage, 0, ImageWidth*ImageHeight, mode)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, ImageWidth, ImageHeight))
	copy(img.Pix, b)
	return img, nil
}

// Template implements fingerprint.Reader: MakeTemplate from the last capture.
func (d *Dev) Template(ctx context.Context) ([]byte, error) {
	ctx, end := d.begin(ctx)
	defer end()
	if !d.captured {
		return nil, errors.New("gt521: no captured image: capture first")
	}
	mode := d.opts.Verify
	if mode == uart.VerifyAuto {
		mode = uart.VerifyStrict
	}
	t, err := d.data(ctx, "template", CmdMakeTemplate, 0, TemplateSize, mode)
	return t, d.fail(err)
}

// SetLED implements fingerprint.Reader: the CMOS LED is on or off, in one colour.
func (d *Dev) SetLED(ctx context.Context, led fingerprint.LED) error {
	ctx, end := d.begin(ctx)
	defer end()
	switch led.Mode {
	case fingerprint.LEDOn:
		return d.fail(d.led(ctx, true))
	case fingerprint.LEDOff:
		return d.fail(d.led(ctx, false))
	}
	return fmt.Errorf("gt521: LED mode %d: the CMOS LED is only on or off: %w", led.Mode, fingerprint.ErrUnsupported)
}

// SetBaud switches the module and the line to baud (ChangeBaudrate: the ACK comes at the
// old speed, then both ends reopen at the new one).
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
		return fmt.Errorf("gt521: cannot use %d baud (want one of %v)", baud, Bauds)
	}
	old := d.line.Baud()
	if baud == old {
		return nil
	}
	// A lost or damaged acknowledge does not mean the module stayed: it answers at the
	// old speed, then changes. So it is looked for at the new speed either way.
	_, cerr := d.command(ctx, CmdChangeBaudrate, uint32(baud))
	if cerr != nil && !errors.Is(cerr, fingerprint.ErrCorrupt) && !errors.Is(cerr, fingerprint.ErrSilent) {
		return cerr
	}
	if err := d.line.SetBaud(baud); err != nil {
		return fmt.Errorf("gt521: %w", err)
	}
	d.rd.reset()
	saved := d.opts
	d.opts.Timeout, d.opts.Retries = 500*time.Millisecond, 1
	_, err := d.command(ctx, CmdOpen, 0)
	d.opts = saved
	if err == nil {
		d.setInfo(func(i *fingerprint.Info) { i.Baud = baud })
		if cerr != nil {
			d.log.Warn("gt521: speed change not acknowledged, but the module answers at the new speed", "from", old, "to", baud)
		} else {
			d.log.Info("gt521: speed changed", "from", old, "to", baud)
		}
		return nil
	}
	if err := d.line.SetBaud(old); err != nil {
		return fmt.Errorf("gt521: %w", err)
	}
	d.rd.reset()
	d.dirty = true
	if cerr != nil {
		return cerr
	}
	return fmt.Errorf("gt521: module acknowledged %d baud but does not answer at it: %w", baud, err)
}

// Halt implements fingerprint.Reader: it stops the operation in progress and switches
// the CMOS LED off.
func (d *Dev) Halt() error {
	d.haltMu.Lock()
	if d.cancel != nil {
		d.halted = true
		d.cancel()
	}
	d.haltMu.Unlock()
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
