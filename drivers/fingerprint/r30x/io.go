package r30x

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// reader turns the byte stream into verified packets. It resynchronises after noise: a
// bad header or checksum costs one byte, and the search for EF 01 starts again at the
// next byte, so a real frame that began inside the damaged one is still found. It keeps
// the stream offset of every packet, which the upload assembly uses to place packets.
type reader struct {
	line *uart.Line
	addr uint32
	buf  []byte
	off  int64 // stream offset of buf[0]
	errs int   // detected errors since the last count reset
	tmp  [2048]byte
}

func (r *reader) reset() {
	r.off += int64(len(r.buf))
	r.buf = r.buf[:0]
}

func (r *reader) skip(n int) {
	r.buf = r.buf[n:]
	r.off += int64(n)
	if len(r.buf) == 0 {
		r.buf = nil // let the old array go
	}
}

// scan decodes the next verified packet from the buffer.
func (r *reader) scan() (Packet, int64, bool) {
	for len(r.buf) > 0 {
		p, n, err := Decode(r.buf)
		switch {
		case err == nil:
			if p.Addr != r.addr {
				r.errs++ // the address is not covered by the checksum
				r.skip(1)
				continue
			}
			p.Payload = append([]byte(nil), p.Payload...)
			start := r.off
			r.skip(n)
			return p, start, true
		case errors.Is(err, ErrShort):
			return Packet{}, 0, false
		case errors.Is(err, ErrSync):
			r.errs++
			i := bytes.IndexByte(r.buf[1:], 0xEF)
			if i < 0 {
				r.skip(len(r.buf))
			} else {
				r.skip(1 + i)
			}
		default: // header or checksum
			r.errs++
			r.skip(1)
		}
	}
	return Packet{}, 0, false
}

// next returns the next verified packet and its stream offset, reading until deadline.
// When the deadline passes on an incomplete frame, it resynchronises inside the bytes
// already read before giving up with uart.ErrTimeout.
func (r *reader) next(ctx context.Context, deadline time.Time) (Packet, int64, error) {
	timedOut := false
	for {
		if p, start, ok := r.scan(); ok {
			return p, start, nil
		}
		if timedOut {
			if len(r.buf) == 0 {
				return Packet{}, 0, uart.ErrTimeout
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
			return Packet{}, 0, err
		}
		r.buf = append(r.buf, r.tmp[:n]...)
	}
}

// send writes a command packet.
func (d *Dev) send(payload []byte) error {
	return d.line.Write(Packet{Addr: d.opts.Address, PID: PIDCommand, Payload: payload}.Encode())
}

// settle discards bytes left over from an exchange that was cut short, including the
// answer of a command interrupted before it came (see uart.Line.Settle).
func (d *Dev) settle(ctx context.Context) error {
	if !d.dirty {
		return nil
	}
	answerBy := d.answerBy
	d.answerBy = time.Time{}
	if _, err := d.line.Settle(ctx, answerBy, 250*time.Millisecond, 30*time.Second); err != nil {
		return err
	}
	d.rd.reset()
	d.dirty = false
	return nil
}

func (d *Dev) timeout(ins byte) time.Duration {
	t := d.opts.Timeout + uart.WireTime(2*(Overhead+MaxPayload), d.line.Baud())
	switch ins {
	case InsGenImg, InsGetImageEx, InsImg2Tz, InsRegModel, InsSearch, InsEmpty, InsSetSysPara:
		t += 2 * d.opts.Timeout // image acquisition, flash writes
	}
	return t
}

// command sends an instruction and returns the acknowledge payload after the
// confirmation code. A confirmation code other than OK is a *CodeError; the module's
// "error receiving the packet" (our command arrived damaged) and timeouts are retried.
func (d *Dev) command(ctx context.Context, ins byte, params ...byte) ([]byte, error) {
	payload := append([]byte{ins}, params...)
	var lastErr error
	heard := false
	recvErrs := 0
	for attempt := 0; attempt <= d.opts.Retries; attempt++ {
		if err := d.settle(ctx); err != nil {
			return nil, err
		}
		rx0, _ := d.line.Counters()
		if err := d.send(payload); err != nil {
			return nil, err
		}
		deadline := d.line.Clock().Now().Add(d.timeout(ins))
		for {
			p, _, err := d.rd.next(ctx, deadline)
			if rx, _ := d.line.Counters(); rx > rx0 {
				heard = true
			}
			if errors.Is(err, uart.ErrTimeout) {
				d.dirty = true
				lastErr = err
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					d.answerBy = deadline // the module may still answer
				}
				return nil, err
			}
			if p.PID != PIDAck || len(p.Payload) == 0 {
				d.rd.errs++ // a stray data packet: not our answer
				continue
			}
			code := Code(p.Payload[0])
			if code == ErrRecvPacket {
				lastErr = &CodeError{Ins: ins, Code: code}
				recvErrs++
				break
			}
			if code != OK {
				return nil, &CodeError{Ins: ins, Code: code}
			}
			return p.Payload[1:], nil
		}
	}
	if recvErrs == d.opts.Retries+1 {
		// Always "error receiving the packet": some firmware answers so to
		// instructions it does not know.
		return nil, lastErr
	}
	if !heard {
		return nil, fmt.Errorf("r30x: instruction %#02x: no answer after %d tries: %w", ins, d.opts.Retries+1, fingerprint.ErrSilent)
	}
	return nil, fmt.Errorf("r30x: instruction %#02x: no valid answer after %d tries (last: %v): %w", ins, d.opts.Retries+1, lastErr, fingerprint.ErrCorrupt)
}

// record is a verified data packet and where it started in the stream.
type record struct {
	start int64
	pid   byte
	data  []byte
}

// upload runs an upload instruction (UpImage, UpChar) until the total bytes it delivers
// are verified per Opts.Verify, or MaxUploads is reached.
//
// The module's buffer does not change between uploads, so every upload sends the same
// packets. A packet's place is known from its stream offset: the data packets all have
// the module's packet size P and so start every P+11 bytes after the acknowledge. The
// place is taken only when the distance to the previous placed packet (counting forward
// from the acknowledge) or to the next one (counting back from the end-of-data packet)
// is an exact multiple of P+11, so lost bytes can cost packets but never shift one into
// the wrong place; where both counts place a packet they must agree.
func (d *Dev) upload(ctx context.Context, what string, ins byte, params []byte, total int) ([]byte, error) {
	P := d.info.PacketSize
	if P <= 0 {
		P = 128
	}
	n := (total + P - 1) / P
	lastLen := total - (n-1)*P
	votes := make([]map[string]int, n)
	for i := range votes {
		votes[i] = map[string]int{}
	}
	start := d.line.Clock().Now()
	rx0, _ := d.line.Counters()
	tr := uart.Transfer{What: what, Baud: d.line.Baud(), BoundBytes: total + n*Overhead}
	defer func() {
		rx, _ := d.line.Counters()
		tr.WireBytes = rx - rx0
		tr.Elapsed = d.line.Clock().Now().Sub(start)
		d.last = tr
	}()
	var lastErr error
	for attempt := 1; attempt <= d.opts.MaxUploads; attempt++ {
		tr.Uploads = attempt
		got, clean, err := d.uploadOnce(ctx, ins, params, n, P, lastLen)
		var ce *CodeError
		switch {
		case errors.As(err, &ce) && ce.Code == ErrRecvPacket:
			lastErr = err
			continue
		case errors.Is(err, fingerprint.ErrSilent) || errors.Is(err, fingerprint.ErrCorrupt):
			lastErr = err
			continue
		case err != nil:
			return nil, err
		}
		if clean && (d.opts.Verify == uart.VerifyAuto || d.opts.Verify == uart.VerifyChecksum) {
			return join(got, n), nil
		}
		if d.opts.Verify == uart.VerifyChecksum && len(got) == n {
			return join(got, n), nil
		}
		for k, b := range got {
			votes[k][string(b)]++
		}
		if out, ok := resolve(votes); ok {
			return out, nil
		}
		lastErr = nil
	}
	missing := 0
	for _, v := range votes {
		if _, ok := winner(v); !ok {
			missing++
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("r30x: %s upload: %d of %d packets not confirmed after %d uploads (last: %v): %w", what, missing, n, d.opts.MaxUploads, lastErr, fingerprint.ErrCorrupt)
	}
	return nil, fmt.Errorf("r30x: %s upload: %d of %d packets not confirmed after %d uploads: %w", what, missing, n, d.opts.MaxUploads, fingerprint.ErrCorrupt)
}

func join(got map[int][]byte, n int) []byte {
	var out []byte
	for k := 0; k < n; k++ {
		out = append(out, got[k]...)
	}
	return out
}

// winner is the value with at least two votes and at least two more than any other.
func winner(v map[string]int) (string, bool) {
	best, bestN, second := "", 0, 0
	for s, c := range v {
		switch {
		case c > bestN:
			second, best, bestN = bestN, s, c
		case c > second:
			second = c
		}
	}
	return best, bestN >= 2 && bestN-second >= 2
}

func resolve(votes []map[string]int) ([]byte, bool) {
	var out []byte
	for _, v := range votes {
		w, ok := winner(v)
		if !ok {
			return nil, false
		}
		out = append(out, w...)
	}
	return out, true
}

// uploadOnce runs one upload and returns the packets it could place. clean means every
// packet arrived, verified and in place, with no error detected anywhere in the stream.
func (d *Dev) uploadOnce(ctx context.Context, ins byte, params []byte, n, P, lastLen int) (map[int][]byte, bool, error) {
	if err := d.settle(ctx); err != nil {
		return nil, false, err
	}
	d.rd.errs = 0
	if err := d.send(append([]byte{ins}, params...)); err != nil {
		return nil, false, err
	}
	clock := d.line.Clock()
	var ackEnd int64 = -1
	deadline := clock.Now().Add(d.timeout(ins))
	for ackEnd < 0 {
		p, _, err := d.rd.next(ctx, deadline)
		if errors.Is(err, uart.ErrTimeout) {
			d.dirty = true
			return nil, false, fmt.Errorf("r30x: upload instruction %#02x: no acknowledge: %w", ins, fingerprint.ErrSilent)
		}
		if err != nil {
			return nil, false, err
		}
		if p.PID != PIDAck || len(p.Payload) == 0 {
			continue
		}
		if c := Code(p.Payload[0]); c != OK {
			if c == ErrRecvPacket {
				d.dirty = true
			}
			return nil, false, &CodeError{Ins: ins, Code: c}
		}
		ackEnd = d.rd.off
	}
	// The data: until the end-of-data packet, or the line stays quiet for gap (the end
	// packet was lost, or the module stalled), or far past the expected duration.
	const gap = 300 * time.Millisecond
	stride := int64(P + Overhead)
	hard := clock.Now().Add(2*uart.WireTime(n*int(stride), d.line.Baud()) + 3*time.Second)
	var recs []record
	ended := false
	for !ended {
		until := clock.Now().Add(gap)
		if until.After(hard) {
			until = hard
		}
		p, start, err := d.rd.next(ctx, until)
		if errors.Is(err, uart.ErrTimeout) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		if p.PID != PIDData && p.PID != PIDEndData {
			d.rd.errs++
			continue
		}
		recs = append(recs, record{start, p.PID, p.Payload})
		ended = p.PID == PIDEndData
	}
	if !ended {
		d.dirty = true // the rest may still be coming
	}
	idx, conflict := place(recs, ackEnd, stride, n)
	got := map[int][]byte{}
	bad := conflict
	for i, k := range idx {
		if k < 0 {
			continue
		}
		rc := recs[i]
		want, pid := P, byte(PIDData)
		if k == n-1 {
			want, pid = lastLen, PIDEndData
		}
		if len(rc.data) != want || rc.pid != pid {
			bad = true
			continue
		}
		got[k] = rc.data
	}
	if bad {
		// Placement and content disagree: either the module's image is not the size we
		// think, or bytes were lost in a way that fooled the offsets. Use nothing.
		if d.rd.errs == 0 && ended && len(recs) != n {
			return nil, false, fmt.Errorf("r30x: module sent %d data packets, expected %d for a %dx%d sensor (wrong model? set Opts.Model): %w", len(recs), n, d.info.Width, d.info.Height, fingerprint.ErrCorrupt)
		}
		return map[int][]byte{}, false, nil
	}
	clean := ended && d.rd.errs == 0 && len(recs) == n && len(got) == n
	return got, clean, nil
}

// place gives each record its packet index, or -1, and reports a contradiction.
func place(recs []record, ackEnd, stride int64, n int) ([]int, bool) {
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = -1
	}
	// Forward from the acknowledge.
	anchorEnd, anchorIdx := ackEnd, -1
	for i, rc := range recs {
		d := rc.start - anchorEnd
		if d < 0 || d%stride != 0 {
			break
		}
		k := anchorIdx + 1 + int(d/stride)
		if k >= n {
			break
		}
		idx[i] = k
		anchorEnd, anchorIdx = rc.start+int64(len(rc.data))+Overhead, k
	}
	// Back from the end-of-data packet.
	conflict := false
	if len(recs) > 0 && recs[len(recs)-1].pid == PIDEndData {
		last := len(recs) - 1
		if idx[last] >= 0 && idx[last] != n-1 {
			conflict = true
		}
		idx[last] = n - 1
		anchorStart, anchorIdx := recs[last].start, n-1
		for i := last - 1; i >= 0; i-- {
			e := anchorStart - recs[i].start
			if e <= 0 || e%stride != 0 {
				break
			}
			k := anchorIdx - int(e/stride)
			if k < 0 {
				break
			}
			if idx[i] >= 0 && idx[i] != k {
				conflict = true
			}
			idx[i] = k
			anchorStart, anchorIdx = recs[i].start, k
		}
	}
	return idx, conflict
}
