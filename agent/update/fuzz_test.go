package update

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

func wireSeeds() (job, req, state []byte) {
	id := protocol.ID{1, 2, 3}
	hdr := bytes.Repeat([]byte{7}, 40)
	job, _ = Encode(&Job{V: 1, ID: id, Version: "1.2.3", Size: 4000, HeaderSize: 40, HeaderHash: sha256.Sum256(hdr), Issued: 1, Header: hdr})
	req, _ = Encode(&Request{V: 1, Job: id, Chunks: []uint32{0, 5, 9}})
	state, _ = Encode(&State{V: 1, Centre: "c", Station: "s", Job: id, State: StateDownloading, Version: "1.2.3", Running: "1.0.0", Done: 10, Total: 20, At: 5})
	return
}

// FuzzWire decodes arbitrary bytes as each wire message: never a panic, and what is
// accepted encodes and decodes again to the same value.
func FuzzWire(f *testing.F) {
	job, req, state := wireSeeds()
	for _, s := range [][]byte{job, req, state, {0xa0}, {0xbf, 0xff}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range []func() validator{func() validator { return &Job{} }, func() validator { return &Request{} }, func() validator { return &State{} }} {
			m := mk()
			if Decode(data, m) != nil {
				continue
			}
			enc, err := Encode(m)
			if err != nil {
				t.Fatalf("%T accepted but not encodable: %v", m, err)
			}
			m2 := mk()
			if err := Decode(enc, m2); err != nil {
				t.Fatalf("%T re-encoding rejected: %v", m, err)
			}
			enc2, _ := Encode(m2)
			if !bytes.Equal(enc, enc2) {
				t.Fatalf("%T round trip unstable", m)
			}
		}
	})
}

// FuzzFrame parses arbitrary data frames: never a panic, and a parsed frame rebuilds
// to the same bytes.
func FuzzFrame(f *testing.F) {
	f.Add(AppendFrame(nil, protocol.ID{9}, 3, []byte("chunk bytes")))
	f.Add(AppendFrame(nil, protocol.ID{}, HeaderIndex, nil))
	f.Add([]byte("CUD1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, idx, data, err := ParseFrame(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendFrame(nil, id, idx, data), b) {
			t.Fatal("frame does not rebuild")
		}
	})
}

// FuzzSlotState loads arbitrary state files: never a panic; a state that loads saves
// and loads again.
func FuzzSlotState(f *testing.F) {
	st := &SlotState{V: 1, Committed: SlotA, Slots: map[string]SlotInfo{SlotA: {Version: "1.0.0", SHA256: make([]byte, 32)}},
		Trial: &Trial{Slot: SlotB, Version: "1.1.0", Starts: 1}, Last: &Result{State: StateRestarting}}
	b, _ := encMode.Marshal(st)
	f.Add(b)
	f.Add([]byte{0xa1, 0x61, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Slots{Dir: t.TempDir()}
		if err := writeRaw(s.Path(StateFile), data); err != nil {
			t.Fatal(err)
		}
		st, err := s.Load()
		if err != nil {
			return
		}
		if err := s.Save(st); err != nil {
			t.Fatalf("loaded state not saved: %v", err)
		}
		if _, err := s.Load(); err != nil {
			t.Fatalf("saved state not loaded: %v", err)
		}
	})
}
