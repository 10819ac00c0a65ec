package r30x_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// vectors are raw packets worked out by hand from the manual's layout: checksum = PID +
// length bytes + payload, big-endian.
var vectors = []struct {
	name string
	raw  string
	p    r30x.Packet
}{
	{"VfyPwd 0", "EF01 FFFFFFFF 01 0007 13 00000000 001B", r30x.Packet{Addr: 0xFFFFFFFF, PID: 1, Payload: unhex("1300000000")}},
	{"GenImg", "EF01 FFFFFFFF 01 0003 01 0005", r30x.Packet{Addr: 0xFFFFFFFF, PID: 1, Payload: []byte{0x01}}},
	{"UpImage", "EF01 FFFFFFFF 01 0003 0A 000E", r30x.Packet{Addr: 0xFFFFFFFF, PID: 1, Payload: []byte{0x0A}}},
	{"SetSysPara baud 12", "EF01 FFFFFFFF 01 0005 0E 04 0C 0024", r30x.Packet{Addr: 0xFFFFFFFF, PID: 1, Payload: unhex("0E040C")}},
	{"ack OK", "EF01 FFFFFFFF 07 0003 00 000A", r30x.Packet{Addr: 0xFFFFFFFF, PID: 7, Payload: []byte{0}}},
	{"ack no finger", "EF01 FFFFFFFF 07 0003 02 000C", r30x.Packet{Addr: 0xFFFFFFFF, PID: 7, Payload: []byte{2}}},
	{"aura blue on, other address", "EF01 12345678 01 0007 35 03 40 02 00 0082", r30x.Packet{Addr: 0x12345678, PID: 1, Payload: unhex("3503400200")}},
	{"end of data, sum wraps", "EF01 FFFFFFFF 08 0006 FF FF FF FF 040A", r30x.Packet{Addr: 0xFFFFFFFF, PID: 8, Payload: unhex("FFFFFFFF")}},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			raw := unhex(v.raw)
			if got := v.p.Encode(); !bytes.Equal(got, raw) {
				t.Fatalf("Encode = % X, want % X", got, raw)
			}
			p, n, err := r30x.Decode(append(raw, 0xEF, 0x01))
			if err != nil || n != len(raw) {
				t.Fatalf("Decode = %v, %d, want nil, %d", err, n, len(raw))
			}
			if p.Addr != v.p.Addr || p.PID != v.p.PID || !bytes.Equal(p.Payload, v.p.Payload) {
				t.Fatalf("Decode = %+v, want %+v", p, v.p)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", r30x.ErrShort},
		{"half header", "EF", r30x.ErrShort},
		{"not a header", "55", r30x.ErrSync},
		{"wrong second byte", "EF 02", r30x.ErrSync},
		{"cut header", "EF01 FFFFFFFF 07", r30x.ErrShort},
		{"bad pid", "EF01 FFFFFFFF 05 0003 00 0008", r30x.ErrHeader},
		{"length 1", "EF01 FFFFFFFF 07 0001 00", r30x.ErrHeader},
		{"length 259", "EF01 FFFFFFFF 02 0103 00", r30x.ErrHeader},
		{"cut payload", "EF01 FFFFFFFF 07 0003 00", r30x.ErrShort},
		{"one flipped bit", "EF01 FFFFFFFF 07 0003 01 000A", r30x.ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := r30x.Decode(unhex(tc.raw))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzDecode: Decode never panics, never reads past what it reports, and a decoded
// packet encodes back to exactly the bytes it came from.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(v.raw))
	}
	f.Add(unhex("EF01 FFFFFFFF 02 0102" + strings.Repeat("00", 258)))
	f.Add(unhex("55 EF EF01 FFFFFFFF 07 0003 00 000A"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := r30x.Decode(b)
		if err != nil {
			if n > len(b) {
				t.Fatalf("error %v with n=%d > len %d", err, n, len(b))
			}
			return
		}
		if n < r30x.Overhead || n > len(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		enc := p.Encode()
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded % X, decoded from % X", enc, b[:n])
		}
		q, m, err := r30x.Decode(enc)
		if err != nil || m != n || q.Addr != p.Addr || q.PID != p.PID || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("decode(encode(p)) = %+v, %d, %v; want %+v", q, m, err, p)
		}
	})
}
