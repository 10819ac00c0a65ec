// Package uart is the host end of a fingerprint module's serial line, shared by the r30x
// and gt521 drivers. It knows nothing of either protocol: it opens the port, reads with
// deadlines and contexts, changes speed, counts bytes and recognises an unplugged device.
//
// It is built around two limits of github.com/tarm/serial:
//   - tarm cannot change the speed of an open port, so SetBaud closes the port and opens
//     it again at the new speed;
//   - tarm's read timeout is the termios VTIME, in steps of 0.1 s. Ports are opened with
//     ReadTick (0.1 s), so a Read returns at least every 0.1 s, and every loop here is
//     bounded by a deadline or a context checked between reads. A call never hangs on a
//     silent device, and Close from another goroutine takes effect within 0.1 s.
//
// An unplugged USB adapter or a vanished pseudo-terminal shows as EIO/ENXIO on read or
// write, or as a hung-up tty whose reads return end-of-file at once, over and over, where a
// live port would wait 0.1 s. Both are reported as errors wrapping
// fingerprint.ErrUnplugged.
package uart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tarm/serial"

	"github.com/captura-claim/captura/drivers/fingerprint"
)

// ReadTick is the read timeout the ports are opened with (tarm's granularity).
const ReadTick = 100 * time.Millisecond

// BitsPerByte is the number of bit times one byte takes on an 8N1 line.
const BitsPerByte = 10

// Errors.
var (
	// ErrTimeout: nothing arrived before the deadline. Drivers turn repeated timeouts
	// into fingerprint.ErrSilent.
	ErrTimeout = errors.New("uart: no data before the deadline")
	// ErrClosed: the line was closed (Close, or a driver's Halt).
	ErrClosed = errors.New("uart: line closed")
)

// Port is an open serial port. *serial.Port from github.com/tarm/serial is one. Read must
// return within about ReadTick when nothing arrives ((0, io.EOF) or (0, nil)).
type Port interface {
	io.Reader
	io.Writer
	io.Closer
}

// Opener opens path at baud. The default is TarmOpener.
type Opener func(path string, baud int) (Port, error)

// TarmOpener opens path with github.com/tarm/serial as 8N1 with a ReadTick read timeout
// and discards whatever the port had buffered.
func TarmOpener(path string, baud int) (Port, error) {
	p, err := serial.OpenPort(&serial.Config{Name: path, Baud: baud, ReadTimeout: ReadTick})
	if err != nil {
		return nil, err
	}
	_ = p.Flush() // stale input from before the open
	return p, nil
}

// Clock is the time source (injected so that tests can see what a driver waits for).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// Opts configure a Line. The zero value is usable.
type Opts struct {
	Opener Opener       // default TarmOpener
	Clock  Clock        // default SystemClock
	Logger *slog.Logger // default: discard
}

// Line is an open serial line at a known speed. Read and Write may be called from one
// goroutine at a time; Close may be called from any goroutine.
type Line struct {
	path  string
	open  Opener
	clock Clock
	log   *slog.Logger

	mu     sync.Mutex
	p      Port
	baud   int
	closed bool

	rx, tx  atomic.Int64
	fastEOF int
}

// Open opens path at baud.
func Open(path string, baud int, opts *Opts) (*Line, error) {
	l := &Line{path: path, open: TarmOpener, clock: SystemClock, log: slog.New(slog.DiscardHandler)}
	if opts != nil {
		if opts.Opener != nil {
			l.open = opts.Opener
		}
		if opts.Clock != nil {
			l.clock = opts.Clock
		}
		if opts.Logger != nil {
			l.log = opts.Logger
		}
	}
	p, err := l.open(path, baud)
	if err != nil {
		return nil, openError(path, err)
	}
	l.p, l.baud = p, baud
	return l, nil
}

func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EIO) {
		return fmt.Errorf("uart: open %s: %w (%v)", path, fingerprint.ErrUnplugged, err)
	}
	return fmt.Errorf("uart: open %s: %w", path, err)
}

// Path is the device path the line was opened with.
func (l *Line) Path() string { return l.path }

// Baud is the current speed.
func (l *Line) Baud() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.baud
}

// Clock returns the line's clock.
func (l *Line) Clock() Clock { return l.clock }

// ByteTime is how long one byte takes on the wire at the current speed.
func (l *Line) ByteTime() time.Duration { return ByteTime(l.Baud()) }

// ByteTime is how long one 8N1 byte takes at baud.
func ByteTime(baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(int64(time.Second) * BitsPerByte / int64(baud))
}

// WireTime is how long n bytes take at baud.
func WireTime(n, baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(int64(n) * BitsPerByte * int64(time.Second) / int64(baud))
}

// SetBaud closes the port and opens it again at baud (tarm/serial cannot change the speed
// of an open port).
func (l *Line) SetBaud(baud int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.p != nil {
		_ = l.p.Close()
		l.p = nil
	}
	p, err := l.open(l.path, baud)
	if err != nil {
		return openError(l.path, err)
	}
	l.p, l.baud, l.fastEOF = p, baud, 0
	l.log.Debug("uart: reopened", "path", l.path, "baud", baud)
	return nil
}

func (l *Line) port() (Port, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.p == nil {
		return nil, ErrClosed
	}
	return l.p, nil
}

// Write writes all of b.
func (l *Line) Write(b []byte) error {
	p, err := l.port()
	if err != nil {
		return err
	}
	for len(b) > 0 {
		n, err := p.Write(b)
		l.tx.Add(int64(n))
		b = b[n:]
		if err != nil {
			return l.ioError("write", err)
		}
	}
	return nil
}

// Read reads at least one byte into buf, waiting until deadline (zero: no deadline) or
// until ctx is done. It returns ErrTimeout when the deadline passes with nothing read. A
// deadline is honoured to within ReadTick.
func (l *Line) Read(ctx context.Context, buf []byte, deadline time.Time) (int, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if !deadline.IsZero() && !l.clock.Now().Before(deadline) {
			return 0, ErrTimeout
		}
		p, err := l.port()
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		n, err := p.Read(buf)
		if n > 0 {
			l.rx.Add(int64(n))
			l.fastEOF = 0
			return n, nil
		}
		switch {
		case err == nil || errors.Is(err, io.EOF):
			// A live port waits ReadTick before reporting nothing; a hung-up tty
			// returns end-of-file at once, every time.
			if time.Since(t0) < ReadTick/5 {
				l.fastEOF++
				if l.fastEOF >= 3 {
					return 0, fmt.Errorf("uart: %s hung up: %w", l.path, fingerprint.ErrUnplugged)
				}
			} else {
				l.fastEOF = 0
			}
		default:
			return 0, l.ioError("read", err)
		}
	}
}

// Discard reads and drops input until the line has been quiet for quiet, or until max
// has passed, and returns the number of bytes dropped.
func (l *Line) Discard(ctx context.Context, quiet, max time.Duration) (int, error) {
	var buf [256]byte
	total := 0
	end := l.clock.Now().Add(max)
	for {
		until := l.clock.Now().Add(quiet)
		if until.After(end) {
			until = end
		}
		n, err := l.Read(ctx, buf[:], until)
		total += n
		if errors.Is(err, ErrTimeout) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if !l.clock.Now().Before(end) {
			return total, nil
		}
	}
}

// Settle drops what is left of an exchange that was cut short. A module still answers
// a command the host stopped waiting for, and a frame carries no request id: an answer
// that came after the next command was sent would be taken for that command's. So
// Settle first waits, until answerBy (the interrupted command's own deadline; zero when
// none is pending), for the answer to begin, then drops input until the line has been
// quiet for quiet, limit in all.
func (l *Line) Settle(ctx context.Context, answerBy time.Time, quiet, limit time.Duration) (int, error) {
	end := l.clock.Now().Add(limit)
	total := 0
	if now := l.clock.Now(); now.Before(answerBy) {
		var buf [256]byte
		n, err := l.Read(ctx, buf[:], minTime(answerBy, end))
		total += n
		if err != nil && !errors.Is(err, ErrTimeout) {
			return total, err
		}
	}
	n, err := l.Discard(ctx, quiet, max(end.Sub(l.clock.Now()), 0))
	return total + n, err
}

// HaltBudget bounds a driver's Halt switching the LED off after stopping an operation:
// its command must wait for the line to settle, that is for the longest transfer the
// module can be in the middle of (an image, under 64 KiB with framing) and a late answer
// (a few command timeouts) to drain.
func HaltBudget(baud int, timeout time.Duration) time.Duration {
	return 2*time.Second + WireTime(64<<10, baud) + 4*timeout
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (l *Line) ioError(op string, err error) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EBADF) {
		return fmt.Errorf("uart: %s %s: %w (%v)", op, l.path, fingerprint.ErrUnplugged, err)
	}
	return fmt.Errorf("uart: %s %s: %w", op, l.path, err)
}

// Counters returns the bytes received and sent since the line was opened.
func (l *Line) Counters() (rx, tx int64) { return l.rx.Load(), l.tx.Load() }

// Close closes the port. A Read in progress returns ErrClosed within ReadTick.
func (l *Line) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.p == nil {
		return nil
	}
	err := l.p.Close()
	l.p = nil
	return err
}

// Transfer describes one image or template transfer, for the figures a maintainer sees.
type Transfer struct {
	What       string        // "image" or "template"
	Baud       int           // line speed during the transfer
	Uploads    int           // number of times the module sent the data (retries, confirmations)
	WireBytes  int64         // bytes received during the transfer, all uploads included
	BoundBytes int           // bytes one error-free upload needs on the wire (data and framing)
	Elapsed    time.Duration // from the first command to the last byte
}

// Bound is the line-rate bound: the time BoundBytes take at Baud.
func (t Transfer) Bound() time.Duration { return WireTime(t.BoundBytes, t.Baud) }

// Efficiency is Bound/Elapsed (1 = the line was never idle and nothing was sent twice).
func (t Transfer) Efficiency() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Bound()) / float64(t.Elapsed)
}

// TransferReporter is implemented by drivers that report their last transfer.
type TransferReporter interface {
	LastTransfer() Transfer
}

// Sleep waits for d on clock, or until ctx is done.
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clock.After(d):
		return nil
	}
}

// Verify is how much evidence a driver wants before it returns data (an image, a
// template) it received from a module. The modules' 16-bit additive checksums miss some
// multi-byte errors (two flipped bits of the same weight in opposite directions cancel),
// so on a noisy line a frame that passes its checksum is not proof enough.
type Verify int

const (
	// VerifyAuto: accept a single upload when it showed no sign of trouble at all
	// (every frame present, in place, and passing its checksum); otherwise confirm
	// every unit by repetition as VerifyStrict does. For families whose whole image is
	// one frame (GT-521), Auto is Strict: one checksum over 52 KB is too weak.
	VerifyAuto Verify = iota
	// VerifyStrict: every frame (R30x) or byte (GT-521) must have been received
	// identically at least twice, and at least twice more often than any other value.
	VerifyStrict
	// VerifyChecksum: the first copy whose checksums pass is taken, as other drivers
	// do. Fastest; for clean lines and benchmarks.
	VerifyChecksum
)

func (v Verify) String() string {
	switch v {
	case VerifyAuto:
		return "auto"
	case VerifyStrict:
		return "strict"
	case VerifyChecksum:
		return "checksum"
	}
	return fmt.Sprintf("Verify(%d)", int(v))
}

// ErrHalted is returned by an operation that Halt stopped.
var ErrHalted = errors.New("operation halted")

// ErrNoAnswer marks a driver constructor's failure at its very first exchange: no module
// of that family answered at that speed (detection moves on to the next probe).
var ErrNoAnswer = errors.New("no answer to the probe")
