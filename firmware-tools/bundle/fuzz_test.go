package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseHeader feeds arbitrary bytes to the header decoder: it must never panic, and
// whatever it accepts must encode back to the same bytes and verify the same way.
func FuzzParseHeader(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "header.golden"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:PrefixSize])
	f.Add(golden[:len(golden)/2])
	f.Add([]byte(Magic + "\x00\x00\x00\x02\xd8\x62"))
	keys := keysOf(f, 1, 2)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			if h != nil {
				t.Fatal("header returned with an error")
			}
			return
		}
		enc := h.Encode()
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted header re-encodes differently")
		}
		h2, err := ParseHeader(enc)
		if err != nil {
			t.Fatalf("re-encoded header rejected: %v", err)
		}
		_, err1 := h.Verify(Policy{Keys: keys, Threshold: 1})
		_, err2 := h2.Verify(Policy{Keys: keys, Threshold: 1})
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("verification differs after a round trip: %v / %v", err1, err2)
		}
		if h.Size() != int64(len(data)) {
			t.Fatalf("Size %d for %d bytes", h.Size(), len(data))
		}
	})
}

// FuzzVerifyPayload checks that payload verification never panics on short, long or
// altered payloads and accepts only the original.
func FuzzVerifyPayload(f *testing.F) {
	fx := makeBundle(f, Options{ChunkSize: MinChunkSize}, 2*MinChunkSize+5, 1)
	data, err := os.ReadFile(fx.path)
	if err != nil {
		f.Fatal(err)
	}
	payload := data[fx.h.Size():]
	f.Add(uint32(0), byte(0), int32(0))
	f.Add(uint32(100), byte(1), int32(0))
	f.Add(uint32(0), byte(0), int32(-1))
	f.Add(uint32(0), byte(0), int32(3))
	f.Fuzz(func(t *testing.T, pos uint32, flip byte, resize int32) {
		p := bytes.Clone(payload)
		if len(p) > 0 {
			p[int(pos)%len(p)] ^= flip
		}
		if resize < 0 {
			p = p[:max(0, len(p)+int(resize%int32(len(p)+1)))]
		} else {
			p = append(p, make([]byte, resize%64)...)
		}
		err := fx.h.Manifest.VerifyPayload(bytes.NewReader(p))
		if same := bytes.Equal(p, payload); same != (err == nil) {
			t.Fatalf("identical=%v but err=%v", same, err)
		}
	})
}
