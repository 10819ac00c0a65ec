package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the sample files from the generators")

// vectorFile is testdata/vectors.json: one table of CBOR test vectors that drives both the
// encoder tests (expect → bytes) and the decoder tests (bytes → expect or error).
type vectorFile struct {
	Comment string          `json:"comment"`
	Valid   []validVector   `json:"valid"`
	Invalid []invalidVector `json:"invalid"`
}

type validVector struct {
	Name string `json:"name"`
	Type string `json:"type"` // message type, "envelope:<type>" for signed, "sealed" for bodies
	Hex  string `json:"hex"`
	// Expect is the decoded value as JSON (ids and hashes as hex, byte strings base64).
	Expect json.RawMessage `json:"expect"`
	// Deterministic vectors are also checked in the encode direction; sealed bodies are
	// randomised (HPKE), so they are decode-only.
	DecodeOnly bool `json:"decode_only,omitempty"`
}

type invalidVector struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Hex   string `json:"hex"`
	Error string `json:"error"` // substring of the error message
	Class string `json:"class"` // malformed, schema, version, too-large, binding, ...
}

var classes = map[string]error{
	"malformed": ErrMalformed, "schema": ErrSchema, "version": ErrVersion, "too-large": ErrTooLarge,
	"binding": ErrBinding, "signature": ErrSignature, "content-type": ErrContentType, "decrypt": ErrDecrypt,
}

// newOf returns a pointer to a fresh value of the named message type.
func newOf(typ string) any {
	switch typ {
	case "record":
		return new(Record)
	case "body":
		return new(Body)
	case "command":
		return new(Command)
	case "command-state":
		return new(CommandState)
	case "receipt":
		return new(Receipt)
	case "status":
		return new(Status)
	case "progress":
		return new(Progress)
	case "audit":
		return new(Audit)
	case "telemetry":
		return new(Telemetry)
	}
	return nil
}

// decodeAs decodes a vector's bytes according to its type.
func decodeAs(typ string, data []byte) (any, error) {
	switch {
	case typ == "record":
		return DecodeRecord(data)
	case typ == "body":
		return DecodeBody(data)
	case typ == "sealed":
		si, err := InspectSealed(data)
		if err != nil {
			return nil, err
		}
		return OpenBody(testAIMAKey(nil, si.Suite), si.Station, si.Record, data)
	case strings.HasPrefix(typ, "envelope:"):
		inner := strings.TrimPrefix(typ, "envelope:")
		kr, _ := NewKeyRing(testStationKey().Public(), testGatewayKey().Public())
		if inner == "record" {
			r, _, err := VerifyRecord(data, kr)
			return r, err
		}
		m := newOf(inner).(Message)
		env, err := Verify(data, m.ContentType(), kr)
		if err != nil {
			return nil, err
		}
		return m, DecodeMessage(env.Payload, m)
	}
	m, ok := newOf(typ).(Message)
	if !ok {
		return nil, errors.New("unknown vector type " + typ)
	}
	return m, DecodeMessage(data, m)
}

// encodeAs encodes a value for a deterministic vector.
func encodeAs(t *testing.T, typ string, v any) []byte {
	t.Helper()
	var out []byte
	var err error
	switch {
	case typ == "record":
		out, err = v.(*Record).Encode()
	case typ == "body":
		out, err = v.(*Body).Encode()
	case typ == "envelope:record":
		out, err = SignRecord(mustSigner(t, testStationKey()), v.(*Record))
	case typ == "envelope:receipt":
		out, err = SignMessage(mustSigner(t, testGatewayKey()), v.(Message))
	case strings.HasPrefix(typ, "envelope:"):
		out, err = SignMessage(mustSigner(t, testStationKey()), v.(Message))
	default:
		if err = v.(Message).Validate(); err == nil {
			out, err = Marshal(v)
		}
	}
	if err != nil {
		t.Fatalf("encode %s: %v", typ, err)
	}
	return out
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	var file vectorFile
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatal(err)
		}
	} else if !*update {
		t.Fatal(err)
	}
	gen := generateVectors(t, &file)
	if *update {
		out, _ := json.MarshalIndent(gen, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		writeSamples(t, gen)
		file = *gen
	} else {
		// The generators must still produce exactly the committed deterministic vectors.
		for i, v := range gen.Valid {
			if v.DecodeOnly {
				continue
			}
			if i >= len(file.Valid) || file.Valid[i].Hex != v.Hex {
				t.Errorf("vector %s: the encoder no longer produces the committed bytes (run go test -run TestVectors -update and review the diff)", v.Name)
			}
		}
	}

	for _, v := range file.Valid {
		t.Run("valid/"+v.Name, func(t *testing.T) {
			data, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeAs(v.Type, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := newOf(strings.TrimPrefix(strings.TrimPrefix(v.Type, "envelope:"), "sealed"))
			if v.Type == "sealed" {
				want = new(Body)
			}
			if err := json.Unmarshal(v.Expect, want); err != nil {
				t.Fatalf("expect: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Fatalf("decoded value differs from expect:\n got %s\nwant %s", g, v.Expect)
			}
			if v.DecodeOnly {
				return
			}
			if enc := encodeAs(t, v.Type, want); !bytes.Equal(enc, data) {
				t.Fatalf("encoding expect gives\n%x\nwant\n%x", enc, data)
			}
		})
	}
	for _, v := range file.Invalid {
		t.Run("invalid/"+v.Name, func(t *testing.T) {
			data, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeAs(v.Type, data)
			class := classes[v.Class]
			if err == nil || !strings.Contains(err.Error(), v.Error) || !errors.Is(err, class) {
				t.Fatalf("err = %v, want %s error containing %q", err, v.Class, v.Error)
			}
		})
	}
}

// writeSamples writes the sample keys and a sample signed record used by the CLI tests,
// the README and `make demo` before the agent exists.
func writeSamples(t *testing.T, f *vectorFile) {
	dir := filepath.Join("testdata", "sample")
	os.MkdirAll(dir, 0o755)
	write := func(name string, data []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			t.Fatal(err)
		}
	}
	spriv, _ := MarshalPrivateKeyPEM(testStationKey())
	spub, _ := MarshalPublicKeyPEM(testStationKey().Public())
	apriv, _ := testAIMAKey(t, "").MarshalPEM()
	write("station.key", spriv, 0o600)
	write("station.pub", spub, 0o644)
	write("aima.key", apriv, 0o600)
	write("aima.pub", testAIMAKey(t, "").Public().MarshalPEM(), 0o644)
	var good []byte
	for _, v := range f.Valid {
		if v.Name == "envelope/record-full-session" {
			good, _ = hex.DecodeString(v.Hex)
			write("record.cose", good, 0o644)
		}
	}
	// Bad records for the CLI tests: each must fail with its own error.
	bad := func(name string, data []byte) { write(filepath.Join("bad", name), data, 0o644) }
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	signer := mustSigner(t, testStationKey())
	env, err := ParseEnvelope(good, MaxRecordSize+(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	bad("truncated.cose", good[:len(good)/2])
	tampered := bytes.Clone(good)
	i := bytes.Index(tampered, []byte("AIMA-2026-000123"))
	tampered[i+len("AIMA-2026-0001")] = '9'
	bad("tampered-payload.cose", tampered)
	// Header tampering: the protected alg rewritten from EdDSA to ES256 (a downgrade
	// attempt), the rest of the message untouched.
	hdr := bytes.Clone(good)
	j := bytes.Index(hdr, []byte{0x01, 0x27}) // {1: -8}
	hdr[j+1] = 0x26                           // -7
	bad("tampered-header.cose", hdr)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	otherSigned, _ := SignRecord(mustSigner(t, other), sampleRecordWithBody(env.Payload))
	bad("other-station.cose", otherSigned)
	// Duplicate key: a second "txn" appended to the record map, validly signed.
	dup := append([]byte{env.Payload[0] + 1}, env.Payload[1:]...)
	dupExtra, _ := Marshal("txn")
	dupVal, _ := Marshal("AIMA-2026-999999")
	dup = append(append(dup, dupExtra...), dupVal...)
	dupEnv, _ := signer.Sign(CTRecord, dup)
	bad("duplicate-key.cose", dupEnv)
	var m map[string]any
	decMode.Unmarshal(env.Payload, &m)
	m["v"] = 2
	v2, _ := Marshal(m)
	v2Env, _ := signer.Sign(CTRecord, v2)
	bad("version-2.cose", v2Env)
	moved := sampleRecordWithBody(env.Payload)
	moved.ID = idFrom("record-2")
	movedEnv, _ := SignRecord(signer, moved)
	bad("moved-body.cose", movedEnv)
}

// sampleRecordWithBody is sampleRecord carrying the sealed body of an encoded record.
func sampleRecordWithBody(payload []byte) *Record {
	r, _ := DecodeRecord(payload)
	return sampleRecord(r.Body)
}
