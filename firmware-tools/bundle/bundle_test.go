package bundle

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testKey returns a deterministic maintainer key (seeded), so vectors are stable.
func testKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("captura bundle test maintainer %d", i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func keysOf(t testing.TB, idx ...int) *Keys {
	t.Helper()
	k := NewKeys()
	for _, i := range idx {
		if _, err := k.Add(fmt.Sprintf("m%d", i), testKey(i).Public()); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// pseudo returns n deterministic bytes.
func pseudo(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

type fixture struct {
	path  string
	h     *Header
	files map[string][]byte
}

var created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// makeBundle writes a bundle of an "agent" of n bytes and a small extra file.
func makeBundle(t testing.TB, o Options, n int, signers ...int) fixture {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"captura-agent": pseudo(n, 1), "notes.txt": []byte("release notes\n")}
	var src []Source
	for _, name := range []string{"captura-agent", "notes.txt"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, files[name], 0o755); err != nil {
			t.Fatal(err)
		}
		src = append(src, Source{Name: name, Path: p})
	}
	if o.Version == "" {
		o.Version = "1.2.0"
	}
	if o.Arch == "" {
		o.Arch = "arm64"
	}
	if o.Created.IsZero() {
		o.Created = created
	}
	var keys []crypto.Signer
	for _, i := range signers {
		keys = append(keys, testKey(i))
	}
	out := filepath.Join(dir, "bundle.cbn")
	h, err := CreateFile(out, o, src, keys)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{path: out, h: h, files: files}
}

func arm64() *Target { return &Target{OS: "linux", Arch: "arm64"} }

func TestCreateVerify(t *testing.T) {
	for _, n := range []int{1, MinChunkSize - 1, MinChunkSize, MinChunkSize + 1, 3*MinChunkSize + 77} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := makeBundle(t, Options{ChunkSize: MinChunkSize}, n, 1, 2)
			h, v, err := VerifyFile(f.path, Policy{Keys: keysOf(t, 1, 2, 3), Threshold: 2, Product: ProductAgent, Target: arm64(),
				Installed: "1.1.0", Floor: "1.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Signers) != 2 || len(v.Unknown) != 0 {
				t.Fatalf("signers %v unknown %v", v.Signers, v.Unknown)
			}
			m := h.Manifest
			if m.PayloadSize() != int64(n+len(f.files["notes.txt"])) || len(m.Files) != 2 || m.Files[0].Mode != 0o755 {
				t.Fatalf("manifest %+v", m)
			}
			if want := (m.PayloadSize() + MinChunkSize - 1) / MinChunkSize; int64(len(m.Chunks)) != want {
				t.Fatalf("%d chunks, want %d", len(m.Chunks), want)
			}
			fi, _ := os.Stat(f.path)
			if fi.Size() != h.TotalSize() {
				t.Fatalf("file %d bytes, TotalSize %d", fi.Size(), h.TotalSize())
			}
			// Files can be cut out of the payload at their offsets.
			data, _ := os.ReadFile(f.path)
			payload := data[h.Size():]
			for i, file := range m.Files {
				off := m.FileOffset(i)
				if !bytes.Equal(payload[off:off+int64(file.Size)], f.files[file.Name]) {
					t.Fatalf("file %s not at offset %d", file.Name, off)
				}
			}
			// Every chunk checks against its hash.
			for i := range m.Chunks {
				off, n := m.ChunkRange(i)
				if err := m.CheckChunk(i, payload[off:off+n]); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestSignLater(t *testing.T) {
	f := makeBundle(t, Options{}, 100000, 1)
	pol := Policy{Keys: keysOf(t, 1, 2, 3), Threshold: 2}
	if _, _, err := VerifyFile(f.path, pol); !errors.Is(err, ErrThreshold) {
		t.Fatalf("one signature of two: %v", err)
	}
	h := readHeader(t, f.path)
	if err := h.AddSignature(testKey(3)); err != nil {
		t.Fatal(err)
	}
	if err := h.AddSignature(testKey(3)); err == nil {
		t.Fatal("a key signed twice")
	}
	if err := Resign(f.path, h); err != nil {
		t.Fatal(err)
	}
	_, v, err := VerifyFile(f.path, pol)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signers) != 2 {
		t.Fatalf("signers %v", v.Signers)
	}
	// The first signature was not disturbed: key 1 alone still verifies.
	if _, _, err := VerifyFile(f.path, Policy{Keys: keysOf(t, 1), Threshold: 1}); err != nil {
		t.Fatal(err)
	}
}

func readHeader(t testing.TB, path string) *Header {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h, err := ReadHeader(fh)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mutate returns a copy of the bundle file with f applied.
func mutate(t *testing.T, path string, f func(data []byte, h *Header) []byte) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := readHeader(t, path)
	out := filepath.Join(t.TempDir(), "mutated.cbn")
	if err := os.WriteFile(out, f(bytes.Clone(data), h), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRejects(t *testing.T) {
	f := makeBundle(t, Options{Version: "1.2.0", MinVersion: "1.1.0"}, 70000, 1, 2)
	base := Policy{Keys: keysOf(t, 1, 2, 3), Threshold: 2, Product: ProductAgent, Target: arm64(), Installed: "1.1.5", Floor: "1.1.0"}
	resign := func(mod func(m *Manifest)) func([]byte, *Header) []byte {
		return func(data []byte, h *Header) []byte {
			// Re-encode a changed manifest under the old signatures.
			m := *h.Manifest
			mod(&m)
			raw, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			h2 := *h
			h2.manifestRaw = raw
			h2.Manifest = &m
			return append(h2.Encode(), data[h.Size():]...)
		}
	}
	tests := []struct {
		name   string
		file   string
		pol    func(p *Policy)
		want   error
		reason string
	}{
		{"bad signature", mutate(t, f.path, func(d []byte, h *Header) []byte {
			sig := h.Signatures[1].Sig
			i := bytes.Index(d, sig)
			d[i+10] ^= 0x01
			return d
		}), nil, ErrSignature, "signature"},
		{"manifest altered", mutate(t, f.path, resign(func(m *Manifest) { m.Version = "9.0.0" })), nil, ErrSignature, "signature"},
		{"one short of the threshold", f.path, func(p *Policy) { p.Threshold = 3 }, ErrThreshold, "threshold"},
		{"signers unknown", f.path, func(p *Policy) { p.Keys = keysOf(t, 3, 4) }, ErrThreshold, "threshold"},
		{"one signer known", f.path, func(p *Policy) { p.Keys = keysOf(t, 2, 3) }, ErrThreshold, "threshold"},
		{"wrong arch", f.path, func(p *Policy) { p.Target = &Target{OS: "linux", Arch: "arm", GOARM: 7} }, ErrTarget, "target"},
		{"wrong os", f.path, func(p *Policy) { p.Target = &Target{OS: "windows", Arch: "arm64"} }, ErrTarget, "target"},
		{"wrong product", f.path, func(p *Policy) { p.Product = "captura-gateway" }, ErrProduct, "product"},
		{"downgrade", f.path, func(p *Policy) { p.Installed = "1.3.0" }, ErrDowngrade, "downgrade"},
		{"pre-release below release", f.path, func(p *Policy) { p.Installed = "1.2.1-rc.1" }, ErrDowngrade, "downgrade"},
		{"below the floor", f.path, func(p *Policy) { p.Installed, p.Floor = "", "1.2.1" }, ErrFloor, "floor"},
		{"installed too old", f.path, func(p *Policy) { p.Installed = "1.0.9" }, ErrMinVersion, "min-version"},
		{"truncated", mutate(t, f.path, func(d []byte, _ *Header) []byte { return d[:len(d)-1] }), nil, ErrTruncated, "truncated"},
		{"truncated in the header", mutate(t, f.path, func(d []byte, h *Header) []byte { return d[:h.Size()-5] }), nil, ErrTruncated, "truncated"},
		{"trailing bytes", mutate(t, f.path, func(d []byte, _ *Header) []byte { return append(d, 0) }), nil, ErrSize, "size"},
		{"corrupted payload", mutate(t, f.path, func(d []byte, h *Header) []byte { d[h.Size()+40000] ^= 0x80; return d }), nil, ErrHash, "hash"},
		{"not a bundle", mutate(t, f.path, func(d []byte, _ *Header) []byte { return []byte("#!/bin/sh\necho hello\n") }), nil, ErrMalformed, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			if tc.pol != nil {
				tc.pol(&p)
			}
			_, _, err := VerifyFile(tc.file, p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if r := Reason(err); r != tc.reason {
				t.Fatalf("reason %q, want %q (%v)", r, tc.reason, err)
			}
			t.Log(err)
		})
	}
	// The base policy accepts the unmodified bundle, so each case fails for its reason.
	if _, _, err := VerifyFile(f.path, base); err != nil {
		t.Fatal(err)
	}
	// Same version as installed is not a downgrade.
	p := base
	p.Installed = "1.2.0"
	if _, _, err := VerifyFile(f.path, p); err != nil {
		t.Fatal(err)
	}
}

func TestGOARM(t *testing.T) {
	f := makeBundle(t, Options{Arch: "arm", GOARM: 6}, 1000, 1)
	for _, tc := range []struct {
		station uint
		ok      bool
	}{{5, false}, {6, true}, {7, true}} {
		_, _, err := VerifyFile(f.path, Policy{Keys: keysOf(t, 1), Threshold: 1, Target: &Target{OS: "linux", Arch: "arm", GOARM: tc.station}})
		if (err == nil) != tc.ok {
			t.Errorf("GOARM=6 bundle on a GOARM=%d station: %v", tc.station, err)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644)
	if _, err := CreateFile(filepath.Join(dir, "b"), Options{Version: "1.0.0", Arch: "arm"}, []Source{{Name: "x", Path: filepath.Join(dir, "x")}},
		[]crypto.Signer{testKey(1)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("arm without goarm: %v", err)
	}
}

// TestCOSEInterop checks the header with an independent COSE implementation.
func TestCOSEInterop(t *testing.T) {
	f := makeBundle(t, Options{}, 5000, 1, 2)
	data, _ := os.ReadFile(f.path)
	msg := cose.NewSignMessage()
	if err := msg.UnmarshalCBOR(data[PrefixSize:f.h.Size()]); err != nil {
		t.Fatal(err)
	}
	if len(msg.Signatures) != 2 {
		t.Fatalf("%d signatures", len(msg.Signatures))
	}
	var vs []cose.Verifier
	for _, i := range []int{1, 2} {
		v, err := cose.NewVerifier(cose.AlgorithmEdDSA, testKey(i).Public())
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := msg.Verify(nil, vs...); err != nil {
		t.Fatalf("go-cose rejects the signatures: %v", err)
	}
	if ct, _ := msg.Headers.Protected[cose.HeaderLabelContentType].(string); ct != ContentType {
		t.Fatalf("content type %q", ct)
	}
	// And a signature made by go-cose over our body verifies here.
	s, _ := cose.NewSigner(cose.AlgorithmEdDSA, testKey(3))
	sig := cose.NewSignature()
	sig.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	h := readHeader(t, f.path)
	kid := keysOf(t, 3)
	var k3 [16]byte
	for id := range kid.keys {
		k3 = id
	}
	sig.Headers.Protected[cose.HeaderLabelKeyID] = k3[:]
	prot, err := sig.Headers.Protected.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var protRaw []byte
	if err := decMode.Unmarshal(prot, &protRaw); err != nil {
		t.Fatal(err)
	}
	bodyProt, _ := encMode.Marshal(h.protectedRaw)
	if err := sig.Sign(rand.Reader, s, bodyProt, h.manifestRaw, nil); err != nil {
		t.Fatal(err)
	}
	h.Signatures = append(h.Signatures, Signature{KeyID: k3, Sig: sig.Signature, protectedRaw: protRaw})
	if _, err := h.Verify(Policy{Keys: keysOf(t, 3), Threshold: 1}); err != nil {
		t.Fatalf("go-cose signature rejected: %v", err)
	}
}

func TestGolden(t *testing.T) {
	f := makeBundle(t, Options{Version: "2.0.0-rc.1", MinVersion: "1.0.0", Notes: "golden vector", ChunkSize: MinChunkSize}, 40000, 1, 2)
	data, _ := os.ReadFile(f.path)
	hdr := data[:f.h.Size()]
	golden := filepath.Join("testdata", "header.golden")
	if *update {
		if err := os.WriteFile(golden, hdr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr, want) {
		t.Fatalf("header differs from %s (run with -update if the format changed on purpose)", golden)
	}
	h, err := ParseHeader(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(Policy{Keys: keysOf(t, 1, 2), Threshold: 2}); err != nil {
		t.Fatal(err)
	}
	if h.Manifest.Version != "2.0.0-rc.1" || h.Manifest.Notes != "golden vector" {
		t.Fatalf("%+v", h.Manifest)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	f := makeBundle(t, Options{}, 1000, 1)
	good := f.h.Encode()
	for _, tc := range []struct {
		name string
		mod  func([]byte) []byte
		want error
	}{
		{"empty", func([]byte) []byte { return nil }, ErrTruncated},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrMalformed},
		{"zero length", func(b []byte) []byte { b[8], b[9], b[10], b[11] = 0, 0, 0, 0; return b }, ErrMalformed},
		{"huge length", func(b []byte) []byte { b[8] = 0xff; return b }, ErrMalformed},
		{"short", func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated},
		{"long", func(b []byte) []byte { return append(b, 0) }, ErrMalformed},
		{"not tag 98", func(b []byte) []byte { b[PrefixSize+1] = 18; return b }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.mod(bytes.Clone(good)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestManifestValidate(t *testing.T) {
	good := func() Manifest {
		return Manifest{V: 1, Product: "captura-agent", Version: "1.0.0", OS: "linux", Arch: "arm64", Created: 1,
			Files: []File{{Name: "captura-agent", Size: 10, SHA256: make([]byte, 32), Mode: 0o755}}, ChunkSize: MinChunkSize, Chunks: [][]byte{make([]byte, 32)}}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Manifest)
	}{
		{"v", func(m *Manifest) { m.V = 2 }},
		{"product", func(m *Manifest) { m.Product = "Captura Agent" }},
		{"version", func(m *Manifest) { m.Version = "1.0" }},
		{"min above version", func(m *Manifest) { m.MinVersion = "1.0.1" }},
		{"goarm on arm64", func(m *Manifest) { m.GOARM = 7 }},
		{"file name path", func(m *Manifest) { m.Files[0].Name = "../etc/passwd" }},
		{"file name dot", func(m *Manifest) { m.Files[0].Name = ".hidden" }},
		{"duplicate file", func(m *Manifest) { m.Files = append(m.Files, m.Files[0]) }},
		{"hash size", func(m *Manifest) { m.Files[0].SHA256 = m.Files[0].SHA256[:31] }},
		{"mode", func(m *Manifest) { m.Files[0].Mode = 0o4755 }},
		{"chunk size", func(m *Manifest) { m.ChunkSize = 100 }},
		{"chunk count", func(m *Manifest) { m.Chunks = append(m.Chunks, make([]byte, 32)) }},
		{"no files", func(m *Manifest) { m.Files = nil }},
		{"notes control", func(m *Manifest) { m.Notes = "a\x1b[2Jb" }},
		{"created", func(m *Manifest) { m.Created = 0 }},
	} {
		m := good()
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		tc.mod(&m)
		if err := m.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestELFArch(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	arch, err := ELFArch(exe)
	if err != nil {
		t.Skip(err) // not an ELF host
	}
	if arch != HostTarget().Arch {
		t.Fatalf("test binary is %s, host %s", arch, HostTarget().Arch)
	}
	if _, err := ELFArch("bundle.go"); err == nil {
		t.Fatal("a Go source file passed as ELF")
	}
}
