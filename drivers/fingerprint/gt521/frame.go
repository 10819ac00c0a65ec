package gt521

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/captura-claim/captura/drivers/fingerprint"
)

// Command codes.
const (
	CmdOpen             = 0x01
	CmdClose            = 0x02
	CmdUsbInternalCheck = 0x03
	CmdChangeBaudrate   = 0x04
	CmdSetIAPMode       = 0x05
	CmdCmosLed          = 0x12
	CmdGetEnrollCount   = 0x20
	CmdCheckEnrolled    = 0x21
	CmdEnrollStart      = 0x22
	CmdEnroll1          = 0x23
	CmdEnroll2          = 0x24
	CmdEnroll3          = 0x25
	CmdIsPressFinger    = 0x26
	CmdDeleteID         = 0x40
	CmdDeleteAll        = 0x41
	CmdVerify           = 0x50
	CmdIdentify         = 0x51
	CmdVerifyTemplate   = 0x52
	CmdIdentifyTemplate = 0x53
	CmdCaptureFinger    = 0x60
	CmdMakeTemplate     = 0x61
	CmdGetImage         = 0x62
	CmdGetRawImage      = 0x63
	CmdGetTemplate      = 0x70
	CmdSetTemplate      = 0x71
	Ack                 = 0x30
	Nack                = 0x31
)

// Frame geometry.
const (
	PacketLen    = 12     // command and response packets
	DataOverhead = 6      // 5A A5, device id (2), checksum (2)
	DeviceID     = 0x0001 // the only device id in use
	MaxData      = 52116  // the largest data packet payload (GetImage)
)

// Decoding errors.
var (
	ErrShort    = errors.New("gt521: incomplete packet")
	ErrSync     = errors.New("gt521: no packet header")
	ErrHeader   = errors.New("gt521: bad packet header")
	ErrChecksum = errors.New("gt521: checksum mismatch")
)

// Packet is a command or response packet: 55 AA | device id | parameter | command or
// ACK/NACK | checksum, all little-endian; the checksum is the 16-bit sum of the ten bytes
// before it.
type Packet struct {
	Param uint32
	Cmd   uint16
}

// Encode returns the packet's 12 bytes.
func (p Packet) Encode() []byte {
	b := make([]byte, 0, PacketLen)
	b = append(b, 0x55, 0xAA)
	b = binary.LittleEndian.AppendUint16(b, DeviceID)
	b = binary.LittleEndian.AppendUint32(b, p.Param)
	b = binary.LittleEndian.AppendUint16(b, p.Cmd)
	return binary.LittleEndian.AppendUint16(b, sum16(b))
}

func sum16(b []byte) uint16 {
	var s uint16
	for _, c := range b {
		s += uint16(c)
	}
	return s
}

// Decode decodes the packet at the start of b and returns it with its length (12). On
// ErrSync and ErrHeader the caller skips a byte and tries again; on ErrChecksum too (the
// packet's first bytes may have been noise that looked like a header).
func Decode(b []byte) (Packet, int, error) {
	if len(b) >= 1 && b[0] != 0x55 {
		return Packet{}, 0, fmt.Errorf("%w (got %#02x)", ErrSync, b[0])
	}
	if len(b) >= 2 && b[1] != 0xAA {
		return Packet{}, 0, fmt.Errorf("%w (got % X)", ErrSync, b[:2])
	}
	if len(b) >= 4 && binary.LittleEndian.Uint16(b[2:]) != DeviceID {
		return Packet{}, 0, fmt.Errorf("%w: device id %#04x", ErrHeader, binary.LittleEndian.Uint16(b[2:]))
	}
	if len(b) < PacketLen {
		return Packet{}, 0, ErrShort
	}
	if got, want := sum16(b[:10]), binary.LittleEndian.Uint16(b[10:]); got != want {
		return Packet{}, PacketLen, fmt.Errorf("%w: computed %#04x, packet says %#04x", ErrChecksum, got, want)
	}
	return Packet{Param: binary.LittleEndian.Uint32(b[4:]), Cmd: binary.LittleEndian.Uint16(b[8:])}, PacketLen, nil
}

// EncodeData returns a data packet: 5A A5 | device id | data | checksum.
func EncodeData(data []byte) []byte {
	b := make([]byte, 0, len(data)+DataOverhead)
	b = append(b, 0x5A, 0xA5)
	b = binary.LittleEndian.AppendUint16(b, DeviceID)
	b = append(b, data...)
	return binary.LittleEndian.AppendUint16(b, sum16(b))
}

// DecodeData checks a data packet of exactly size data bytes at the start of b and
// returns the data (aliasing b). A data packet has no length field: the size comes from
// the command that asked for it.
func DecodeData(b []byte, size int) ([]byte, error) {
	if size < 0 || size > MaxData {
		return nil, fmt.Errorf("gt521: data size %d outside 0..%d", size, MaxData)
	}
	if len(b) >= 2 && (b[0] != 0x5A || b[1] != 0xA5) {
		return nil, fmt.Errorf("%w (got % X)", ErrSync, b[:2])
	}
	if len(b) >= 4 && binary.LittleEndian.Uint16(b[2:]) != DeviceID {
		return nil, fmt.Errorf("%w: device id %#04x", ErrHeader, binary.LittleEndian.Uint16(b[2:]))
	}
	n := size + DataOverhead
	if len(b) < n {
		return nil, ErrShort
	}
	if got, want := sum16(b[:n-2]), binary.LittleEndian.Uint16(b[n-2:]); got != want {
		return nil, fmt.Errorf("%w: computed %#04x, packet says %#04x", ErrChecksum, got, want)
	}
	return b[4 : n-2], nil
}

// NACK error codes.
const (
	NackTimeout            = 0x1001
	NackInvalidBaudrate    = 0x1002
	NackInvalidPos         = 0x1003
	NackIsNotUsed          = 0x1004
	NackIsAlreadyUsed      = 0x1005
	NackCommErr            = 0x1006
	NackVerifyFailed       = 0x1007
	NackIdentifyFailed     = 0x1008
	NackDBIsFull           = 0x1009
	NackDBIsEmpty          = 0x100A
	NackTurnErr            = 0x100B
	NackBadFinger          = 0x100C
	NackEnrollFailed       = 0x100D
	NackIsNotSupported     = 0x100E
	NackDevErr             = 0x100F
	NackCaptureCanceled    = 0x1010
	NackInvalidParam       = 0x1011
	NackFingerIsNotPressed = 0x1012
)

var nackText = map[uint32]string{
	NackTimeout:            "capture timeout",
	NackInvalidBaudrate:    "invalid baud rate",
	NackInvalidPos:         "id outside the database",
	NackIsNotUsed:          "id not in use",
	NackIsAlreadyUsed:      "id already in use",
	NackCommErr:            "communication error",
	NackVerifyFailed:       "1:1 verification failed",
	NackIdentifyFailed:     "1:N identification failed",
	NackDBIsFull:           "database full",
	NackDBIsEmpty:          "database empty",
	NackTurnErr:            "enrollment out of order",
	NackBadFinger:          "fingerprint too bad",
	NackEnrollFailed:       "enrollment failed",
	NackIsNotSupported:     "command not supported",
	NackDevErr:             "device error",
	NackCaptureCanceled:    "capture cancelled",
	NackInvalidParam:       "invalid parameter",
	NackFingerIsNotPressed: "finger not pressed",
}

// NackError is a module's NACK: the command and the error code (parameter) it answered.
// It wraps the fingerprint category of the code, if any.
type NackError struct {
	Cmd  uint16
	Code uint32
}

func (e *NackError) Error() string {
	t, ok := nackText[e.Code]
	if !ok {
		if e.Code < 0x1000 {
			t = fmt.Sprintf("duplicate of id %d", e.Code)
		} else {
			t = "unknown error"
		}
	}
	return fmt.Sprintf("gt521: command %#02x: NACK %#04x (%s)", e.Cmd, e.Code, t)
}

// Unwrap returns the category: ErrNoFinger, ErrBadImage, ErrUnsupported or nil.
func (e *NackError) Unwrap() error {
	switch e.Code {
	case NackFingerIsNotPressed:
		return fingerprint.ErrNoFinger
	case NackBadFinger:
		return fingerprint.ErrBadImage
	case NackIsNotSupported:
		return fingerprint.ErrUnsupported
	}
	return nil
}
