package fpsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// LineConfig is the electrical side of a simulated module: speed, pacing and faults.
type LineConfig struct {
	// Link, when set, is a symbolic link to the pty that the simulator keeps up to date
	// (removed on Unplug, recreated on Replug), like a udev rule's /dev/captura-reader.
	Link string
	// Unpaced delivers bytes as fast as the pty takes them and skips the module's
	// processing times. For long agent tests only: nothing measured in this mode says
	// anything about a real line.
	Unpaced bool
	// Noise is the probability, per byte and in each direction, that one bit of the byte
	// is flipped on the wire.
	Noise float64
	// Drop is the probability, per byte and in each direction, that the byte is lost.
	Drop float64
	// StallRate is the probability, per byte the module sends, that the module pauses for
	// Stall before sending it.
	StallRate float64
	Stall     time.Duration
	// Seed makes the faults reproducible.
	Seed uint64
}

// Validate reports a configuration that makes no sense.
func (c *LineConfig) Validate() error {
	for name, p := range map[string]float64{"noise": c.Noise, "drop": c.Drop, "stall rate": c.StallRate} {
		if p < 0 || p > 1 {
			return fmt.Errorf("fpsim: %s rate %g is not a probability", name, p)
		}
	}
	if c.StallRate > 0 && c.Stall <= 0 {
		return errors.New("fpsim: stall rate set without a stall duration")
	}
	return nil
}

// LineStats counts what happened on the line.
type LineStats struct {
	Sent, Received     int64 // bytes, module side
	NoiseTx, NoiseRx   int64 // bytes with a flipped bit
	DropTx, DropRx     int64 // bytes lost
	Stalls             int64
	Overruns           int64 // bytes lost because the host was not reading
	Garbled            int64 // bytes garbled by a speed mismatch
	HostBaudMismatches int64
}

// port is one power-on of the module: a pty pair, a reader and a paced writer. Unplug
// ends it; Replug makes a new one.
type port struct {
	cfg    *LineConfig
	master *os.File
	slave  *os.File // kept open so the pty survives the host closing it
	rx     chan []byte

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []byte
	busy   bool // the writer holds bytes taken from queue
	closed bool
	baud   int
	txFree time.Time
	rxFree time.Time
	rng    *rand.Rand
	// stallNext: a stall was drawn for the first byte still queued (the chunk was cut
	// before it); it happens when that byte goes out.
	stallNext bool
	stats     *LineStats
	statsMu   *sync.Mutex
	done      chan struct{}
}

var baudFlags = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
	460800: unix.B460800, 921600: unix.B921600,
}

// BaudSupported reports whether the simulator can run at baud.
func BaudSupported(baud int) bool { _, ok := baudFlags[baud]; return ok }

func openPort(cfg *LineConfig, baud int, rng *rand.Rand, stats *LineStats, statsMu *sync.Mutex) (*port, error) {
	flag, ok := baudFlags[baud]
	if !ok {
		return nil, fmt.Errorf("fpsim: unsupported speed %d", baud)
	}
	master, slave, err := openPty()
	if err != nil {
		return nil, err
	}
	// Raw mode at the module's speed: no echo, no line editing, no translation. The
	// host's own open (tarm/serial) sets raw mode too; this covers the time before.
	t, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
		t.Cflag |= unix.CS8 | flag
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t)
	}
	if err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("fpsim: set pty raw mode: %w", err)
	}
	p := &port{cfg: cfg, master: master, slave: slave, rx: make(chan []byte, 64), baud: baud,
		rng: rng, stats: stats, statsMu: statsMu, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.readLoop()
	go p.writeLoop()
	return p, nil
}

func (p *port) name() string { return p.slave.Name() }

func (p *port) byteTime() time.Duration {
	return time.Duration(int64(time.Second) * 10 / int64(p.baud))
}

// hostBaudMatches reads the speed the host set on the pty (TCGETS on the master returns
// the slave's termios) and compares it with the module's.
func (p *port) hostBaudMatches() bool {
	t, err := unix.IoctlGetTermios(int(p.masterFd()), unix.TCGETS)
	if err != nil {
		return true
	}
	return t.Cflag&unix.CBAUD == baudFlags[p.baud]
}

func (p *port) masterFd() uintptr {
	var fd uintptr
	if rc, err := p.master.SyscallConn(); err == nil {
		_ = rc.Control(func(f uintptr) { fd = f })
	}
	return fd
}

func (p *port) count(f func(s *LineStats)) {
	p.statsMu.Lock()
	f(p.stats)
	p.statsMu.Unlock()
}

// readLoop takes the host's bytes, holds each until its last bit would have arrived at
// the module's speed, applies the line faults and hands them to the module.
func (p *port) readLoop() {
	defer close(p.rx)
	buf := make([]byte, 512)
	for {
		n, err := p.master.Read(buf)
		if n > 0 {
			b := append([]byte(nil), buf[:n]...)
			p.mu.Lock()
			paced := !p.cfg.Unpaced
			bt := p.byteTime()
			now := time.Now()
			if p.rxFree.Before(now) {
				p.rxFree = now
			}
			p.rxFree = p.rxFree.Add(time.Duration(n) * bt)
			arrive := p.rxFree
			match := p.hostBaudMatches()
			b = p.faults(b, match, false)
			p.mu.Unlock()
			if paced {
				if !sleepUntil(arrive, p.done) {
					return
				}
			}
			if len(b) > 0 {
				select {
				case p.rx <- b:
				case <-p.done:
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// faults applies speed-mismatch garbling, drops and noise to b. Called with p.mu held.
func (p *port) faults(b []byte, match, tx bool) []byte {
	out := b[:0]
	var noise, drop, garbled int64
	for _, c := range b {
		if !match {
			// A receiver at the wrong speed sees framing errors and wrong bytes, and
			// not one for one.
			garbled++
			if p.rng.IntN(3) == 0 {
				continue
			}
			c = byte(p.rng.UintN(256))
		}
		if p.cfg.Drop > 0 && p.rng.Float64() < p.cfg.Drop {
			drop++
			continue
		}
		if p.cfg.Noise > 0 && p.rng.Float64() < p.cfg.Noise {
			noise++
			c ^= 1 << p.rng.UintN(8)
		}
		out = append(out, c)
	}
	p.count(func(s *LineStats) {
		if tx {
			s.Sent += int64(len(b))
			s.NoiseTx += noise
			s.DropTx += drop
		} else {
			s.Received += int64(len(b))
			s.NoiseRx += noise
			s.DropRx += drop
		}
		s.Garbled += garbled
		if !match {
			s.HostBaudMismatches++
		}
	})
	return out
}

// send queues b for transmission.
func (p *port) send(b []byte) {
	p.mu.Lock()
	if !p.closed {
		p.queue = append(p.queue, b...)
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

// drain waits until everything queued has been written to the pty.
func (p *port) drain() {
	p.mu.Lock()
	for !p.closed && (len(p.queue) > 0 || p.busy) {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// pending is the number of bytes not yet on the wire.
func (p *port) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// maxLag is how far behind its schedule the paced writer may fall and still catch up.
const maxLag = 20 * time.Millisecond

// writeLoop sends the queue at the module's speed: a chunk of bytes goes to the pty when
// its last bit would have left the module, so the host sees the line rate whatever the
// scheduler does (a late chunk is followed by earlier ones, the average stays exact).
func (p *port) writeLoop() {
	for {
		p.mu.Lock()
		idle := false
		for !p.closed && len(p.queue) == 0 {
			p.busy = false
			idle = true
			p.cond.Broadcast()
			p.cond.Wait()
		}
		if p.closed {
			p.busy = false
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
		bt := p.byteTime()
		chunk := int((2 * time.Millisecond) / bt)
		if chunk < 1 {
			chunk = 1
		}
		if p.cfg.Unpaced {
			chunk = 4096
		}
		chunk = min(chunk, len(p.queue))
		// A stall happens before a byte; cut the chunk there. One drawn for a byte
		// beyond the first is kept for it (each byte is drawn once), so the rate per
		// byte is StallRate at any baud.
		stallAt := -1
		if p.stallNext {
			stallAt, p.stallNext = 0, false
		} else if p.cfg.StallRate > 0 {
			for i := 0; i < chunk; i++ {
				if p.rng.Float64() < p.cfg.StallRate {
					stallAt = i
					break
				}
			}
			if stallAt > 0 {
				p.stallNext = true
			}
		}
		if stallAt == 0 {
			chunk = 1
		} else if stallAt > 0 {
			chunk = stallAt
		}
		b := append([]byte(nil), p.queue[:chunk]...)
		p.queue = p.queue[chunk:]
		p.busy = true
		// The line restarts from now after it was idle; a chunk that a late timer delayed
		// (by up to maxLag) is followed by the next one at once, so the average rate stays
		// exact. Beyond that the schedule restarts: a UART never sends faster than its rate.
		if now := time.Now(); (idle && p.txFree.Before(now)) || p.txFree.Before(now.Add(-maxLag)) {
			p.txFree = now
		}
		if stallAt == 0 {
			p.txFree = p.txFree.Add(p.cfg.Stall)
			p.count(func(s *LineStats) { s.Stalls++ })
		}
		p.txFree = p.txFree.Add(time.Duration(len(b)) * bt)
		at := p.txFree
		paced := !p.cfg.Unpaced
		match := p.hostBaudMatches()
		b = p.faults(b, match, true)
		p.mu.Unlock()
		if paced && !sleepUntil(at, p.done) {
			return
		}
		p.write(b, paced)
	}
}

// write puts b into the pty without blocking the module: on a real line, bytes the host
// does not take are lost (overrun). Unpaced, it waits for room instead, up to a second.
func (p *port) write(b []byte, paced bool) {
	rc, err := p.master.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	for len(b) > 0 {
		var n int
		var werr error
		_ = rc.Write(func(fd uintptr) bool {
			n, werr = unix.Write(int(fd), b)
			return true
		})
		if n > 0 {
			b = b[n:]
			continue
		}
		if errors.Is(werr, unix.EAGAIN) || errors.Is(werr, unix.EINTR) {
			if paced || time.Now().After(deadline) {
				p.count(func(s *LineStats) { s.Overruns += int64(len(b)) })
				return
			}
			if !sleepUntil(time.Now().Add(time.Millisecond), p.done) {
				return
			}
			continue
		}
		return // closed or hung up
	}
}

func (p *port) setBaud(baud int) error {
	flag, ok := baudFlags[baud]
	if !ok {
		return fmt.Errorf("fpsim: unsupported speed %d", baud)
	}
	p.mu.Lock()
	p.baud = baud
	p.mu.Unlock()
	_ = flag
	return nil
}

// close unplugs: the host's fd sees EIO, then a hung-up tty.
func (p *port) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.queue = nil
	close(p.done)
	p.cond.Broadcast()
	p.mu.Unlock()
	p.master.Close()
	p.slave.Close()
}

// openPty opens a pty pair whose master is non-blocking and known to Go's poller, so
// that closing it wakes a pending Read at once (creack/pty leaves it in blocking mode).
func openPty() (master, slave *os.File, err error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("fpsim: open pty: %w", err)
	}
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("fpsim: pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "/dev/ptmx"), s, nil
}

func sleepUntil(t time.Time, done <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-done:
		return false
	}
}
