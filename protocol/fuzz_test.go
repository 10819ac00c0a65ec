package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFromVectors adds every vector of the given types (valid and invalid) to the corpus.
func seedFromVectors(f *testing.F, types ...string) {
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		f.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		f.Fatal(err)
	}
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	for _, v := range vf.Valid {
		if want[v.Type] {
			b, _ := hex.DecodeString(v.Hex)
			f.Add(b)
		}
	}
	for _, v := range vf.Invalid {
		if want[v.Type] {
			b, _ := hex.DecodeString(v.Hex)
			f.Add(b)
		}
	}
}

// roundTrip checks that whatever decodes re-encodes to bytes that decode to the same
// value and re-encode to the same bytes.
func roundTrip(t *testing.T, typ string, data []byte) {
	v, err := decodeAs(typ, data)
	if err != nil {
		return
	}
	enc1, err := Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding a decoded %s: %v", typ, err)
	}
	v2, err := decodeAs(typ, enc1)
	if err != nil {
		t.Fatalf("decoding our own encoding of a %s: %v", typ, err)
	}
	enc2, _ := Marshal(v2)
	if !bytes.Equal(enc1, enc2) {
		t.Fatalf("%s: decode→encode→decode→encode is not stable", typ)
	}
}

func FuzzRecord(f *testing.F) {
	seedFromVectors(f, "record")
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, "record", data) })
}

func FuzzBody(f *testing.F) {
	seedFromVectors(f, "body")
	f.Add(encodeAs(&testing.T{}, "body", sampleBody(idFrom("x"), 300)))
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, "body", data) })
}

func FuzzCommand(f *testing.F) {
	seedFromVectors(f, "command")
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, "command", data) })
}

func FuzzReceipt(f *testing.F) {
	seedFromVectors(f, "receipt")
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, "receipt", data) })
}

// FuzzMessages covers status, command state, progress, audit and telemetry; the first
// byte picks the type.
func FuzzMessages(f *testing.F) {
	types := []string{"status", "command-state", "progress", "audit", "telemetry"}
	data, _ := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	var vf vectorFile
	json.Unmarshal(data, &vf)
	for _, v := range vf.Valid {
		for i, typ := range types {
			if v.Type == typ {
				b, _ := hex.DecodeString(v.Hex)
				f.Add(append([]byte{byte(i)}, b...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		roundTrip(t, types[int(data[0])%len(types)], data[1:])
	})
}

// FuzzEnvelope parses and verifies COSE_Sign1 envelopes: never a panic, and nothing but
// the committed, validly signed vectors verifies.
func FuzzEnvelope(f *testing.F) {
	seedFromVectors(f, "envelope:record", "envelope:receipt")
	ring := stationRing(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if env, err := ParseEnvelope(data, MaxRecordSize); err == nil {
			if env.ContentType == "" || env.Payload == nil {
				t.Fatal("parsed envelope without content type")
			}
		}
		r, env, err := VerifyRecord(data, ring)
		if err != nil {
			return
		}
		if !strings.HasPrefix(env.ContentType, "application/captura-record") || r.Validate() != nil {
			t.Fatal("verified record is not a valid record")
		}
		enc, _ := r.Encode()
		if !bytes.Equal(enc, env.Payload) {
			// A verified record need not be deterministically encoded, but it must
			// decode the same after re-encoding.
			if _, err := DecodeRecord(enc); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzSealed inspects and opens sealed bodies with the test AIMA key.
func FuzzSealed(f *testing.F) {
	seedFromVectors(f, "sealed")
	key := testAIMAKey(f, "")
	f.Fuzz(func(t *testing.T, data []byte) {
		si, err := InspectSealed(data)
		if err != nil {
			return
		}
		b, err := OpenBody(key, si.Station, si.Record, data)
		if err != nil {
			return
		}
		roundTrip(t, "body", mustEncode(t, b))
	})
}

func mustEncode(t *testing.T, b *Body) []byte {
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
