package r30x

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet identifiers (PID).
const (
	PIDCommand = 0x01
	PIDData    = 0x02
	PIDAck     = 0x07
	PIDEndData = 0x08
)

// Frame geometry.
const (
	HeaderLen  = 9   // EF 01, address (4), PID, length (2)
	Overhead   = 11  // header and checksum
	MaxPayload = 256 // largest payload: a 256-byte data packet
	// DefaultAddress is the factory module address.
	DefaultAddress = 0xFFFFFFFF
)

// Decoding errors. Decode wraps them with detail.
var (
	// ErrShort: b holds the beginning of a frame but not all of it.
	ErrShort = errors.New("r30x: incomplete frame")
	// ErrSync: b does not start with the EF 01 header.
	ErrSync = errors.New("r30x: no frame header")
	// ErrHeader: the header has an unknown packet identifier or an impossible length.
	ErrHeader = errors.New("r30x: bad frame header")
	// ErrChecksum: the frame is complete but its checksum does not match.
	ErrChecksum = errors.New("r30x: checksum mismatch")
)

// Packet is one frame: EF 01 | address | PID | length | payload | checksum.
type Packet struct {
	Addr    uint32
	PID     byte
	Payload []byte
}

// Sum is the frame checksum: the 16-bit sum of the PID, both length bytes and the payload
// (the header and the address are not covered).
func Sum(pid byte, payload []byte) uint16 {
	n := len(payload) + 2
	s := uint16(pid) + uint16(n>>8) + uint16(n&0xFF)
	for _, c := range payload {
		s += uint16(c)
	}
	return s
}

// Append encodes p after b.
func (p Packet) Append(b []byte) []byte {
	n := len(p.Payload) + 2
	b = append(b, 0xEF, 0x01)
	b = binary.BigEndian.AppendUint32(b, p.Addr)
	b = append(b, p.PID, byte(n>>8), byte(n))
	b = append(b, p.Payload...)
	return binary.BigEndian.AppendUint16(b, Sum(p.PID, p.Payload))
}

// Encode returns p's bytes.
func (p Packet) Encode() []byte { return p.Append(make([]byte, 0, Overhead+len(p.Payload))) }

// Decode decodes the frame at the start of b. It returns the packet and the number of
// bytes it took. On ErrSync and ErrHeader, the caller skips at least one byte and tries
// again (resynchronisation); on ErrChecksum n is the extent the frame claimed, but the
// length itself may be the damaged field, so callers resynchronise from b[1] too. On
// ErrShort the caller needs more bytes. The payload aliases b.
func Decode(b []byte) (p Packet, n int, err error) {
	if len(b) < 2 {
		if len(b) == 1 && b[0] != 0xEF {
			return p, 0, ErrSync
		}
		return p, 0, ErrShort
	}
	if b[0] != 0xEF || b[1] != 0x01 {
		return p, 0, fmt.Errorf("%w (got % X)", ErrSync, b[:2])
	}
	if len(b) < HeaderLen {
		return p, 0, ErrShort
	}
	pid := b[6]
	switch pid {
	case PIDCommand, PIDData, PIDAck, PIDEndData:
	default:
		return p, 0, fmt.Errorf("%w: packet identifier %#02x", ErrHeader, pid)
	}
	length := int(binary.BigEndian.Uint16(b[7:9]))
	if length < 2 || length > MaxPayload+2 {
		return p, 0, fmt.Errorf("%w: length %d outside 2..%d", ErrHeader, length, MaxPayload+2)
	}
	n = HeaderLen + length
	if len(b) < n {
		return p, 0, ErrShort
	}
	payload := b[HeaderLen : n-2]
	want := binary.BigEndian.Uint16(b[n-2 : n])
	if got := Sum(pid, payload); got != want {
		return p, n, fmt.Errorf("%w: computed %#04x, frame says %#04x", ErrChecksum, got, want)
	}
	return Packet{Addr: binary.BigEndian.Uint32(b[2:6]), PID: pid, Payload: payload}, n, nil
}
