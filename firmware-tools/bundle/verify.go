package bundle

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/captura-claim/captura/protocol"
)

// Keys is the set of maintainer keys a station trusts, by key id.
type Keys struct {
	keys  map[protocol.KeyID]ed25519.PublicKey
	names map[protocol.KeyID]string
}

// NewKeys returns an empty key set.
func NewKeys() *Keys {
	return &Keys{keys: map[protocol.KeyID]ed25519.PublicKey{}, names: map[protocol.KeyID]string{}}
}

// Add trusts an Ed25519 public key under a display name (usually its file name).
func (k *Keys) Add(name string, pub crypto.PublicKey) (protocol.KeyID, error) {
	ed, ok := pub.(ed25519.PublicKey)
	if !ok {
		return protocol.KeyID{}, fmt.Errorf("bundle: maintainer key %s: %T is not Ed25519", name, pub)
	}
	kid, err := protocol.KeyIDOf(ed)
	if err != nil {
		return kid, err
	}
	k.keys[kid] = ed
	k.names[kid] = name
	return kid, nil
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// Name returns the display name of a key, or its id when unknown.
func (k *Keys) Name(kid protocol.KeyID) string {
	if n, ok := k.names[kid]; ok {
		return n
	}
	return kid.String()
}

// LoadKeys reads every *.pub file (SubjectPublicKeyInfo PEM, Ed25519) in dir.
func LoadKeys(dir string) (*Keys, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("bundle: maintainer keys: %w", err)
	}
	sort.Strings(paths)
	k := NewKeys()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("bundle: maintainer key: %w", err)
		}
		pub, err := protocol.ParsePublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("bundle: maintainer key %s: %w", p, err)
		}
		if _, err := k.Add(strings.TrimSuffix(filepath.Base(p), ".pub"), pub); err != nil {
			return nil, err
		}
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("bundle: no maintainer keys (*.pub) in %s", dir)
	}
	return k, nil
}

// Target is the platform a station runs on.
type Target struct {
	OS    string
	Arch  string
	GOARM uint // ARM architecture version for arch "arm"
}

func (t Target) String() string {
	if t.Arch == "arm" {
		return fmt.Sprintf("%s/%s (GOARM=%d)", t.OS, t.Arch, t.GOARM)
	}
	return t.OS + "/" + t.Arch
}

// HostTarget is the platform of the running binary (GOARM from its build settings,
// 7 when unknown).
func HostTarget() Target {
	t := Target{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if t.Arch == "arm" {
		t.GOARM = 7
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" {
					if n, err := strconv.Atoi(strings.SplitN(s.Value, ",", 2)[0]); err == nil {
						t.GOARM = uint(n)
					}
				}
			}
		}
	}
	return t
}

// Accepts checks that a payload built for m runs on t: same OS and architecture and,
// on arm, a GOARM level the station supports (GOARM=6 code runs on an ARMv7 station).
func (t Target) Accepts(m *Manifest) error {
	bt := Target{OS: m.OS, Arch: m.Arch, GOARM: m.GOARM}
	if m.OS != t.OS || m.Arch != t.Arch || (t.Arch == "arm" && m.GOARM > t.GOARM) {
		return fmt.Errorf("bundle: built for %s, this station is %s: %w", bt, t, ErrTarget)
	}
	return nil
}

// Policy is what a station (or a maintainer checking a bundle) requires of it. Empty
// fields are not checked.
type Policy struct {
	Keys      *Keys // trusted maintainer keys (required)
	Threshold int   // distinct trusted signatures required (at least 1)
	Product   string
	Target    *Target
	Installed string // the running version: the bundle must not be older
	Floor     string // the durable anti-rollback floor: the bundle must not be below
}

// Verified reports whose signatures counted.
type Verified struct {
	Signers []protocol.KeyID // trusted keys whose signatures verify
	Unknown []protocol.KeyID // keys the policy does not trust (ignored)
}

// Verify checks the signatures and the manifest against p. The payload is checked
// separately, as it arrives (CheckChunk, VerifyPayload).
func (h *Header) Verify(p Policy) (*Verified, error) {
	if p.Keys == nil || p.Keys.Len() == 0 {
		return nil, fmt.Errorf("bundle: no trusted maintainer keys: %w", ErrThreshold)
	}
	if p.Threshold < 1 {
		return nil, fmt.Errorf("bundle: threshold %d: want at least 1", p.Threshold)
	}
	v := &Verified{}
	for _, s := range h.Signatures {
		pub, ok := p.Keys.keys[s.KeyID]
		if !ok {
			v.Unknown = append(v.Unknown, s.KeyID)
			continue
		}
		if !h.verifySig(s, pub) {
			return v, fmt.Errorf("bundle: signature by maintainer key %s (%s): manifest or signature altered: %w", p.Keys.Name(s.KeyID), s.KeyID, ErrSignature)
		}
		v.Signers = append(v.Signers, s.KeyID)
	}
	if len(v.Signers) < p.Threshold {
		names := make([]string, len(v.Signers))
		for i, k := range v.Signers {
			names[i] = p.Keys.Name(k)
		}
		who := "none"
		if len(names) > 0 {
			who = strings.Join(names, ", ")
		}
		return v, fmt.Errorf("bundle: %d valid signature(s) by trusted keys (%s), %d required (%d by unknown keys ignored): %w",
			len(v.Signers), who, p.Threshold, len(v.Unknown), ErrThreshold)
	}
	m := h.Manifest
	if p.Product != "" && m.Product != p.Product {
		return v, fmt.Errorf("bundle: product %q, want %q: %w", m.Product, p.Product, ErrProduct)
	}
	if p.Target != nil {
		if err := p.Target.Accepts(m); err != nil {
			return v, err
		}
	}
	ver := MustVersion(m.Version) // validated when parsed
	if p.Installed != "" {
		inst := VersionOrZero(p.Installed)
		if ver.Less(inst) {
			return v, fmt.Errorf("bundle: version %s is older than the installed %s: %w", m.Version, p.Installed, ErrDowngrade)
		}
		if m.MinVersion != "" && inst.Less(MustVersion(m.MinVersion)) {
			return v, fmt.Errorf("bundle: version %s replaces %s or later, installed is %s: %w", m.Version, m.MinVersion, p.Installed, ErrMinVersion)
		}
	}
	if p.Floor != "" && ver.Less(VersionOrZero(p.Floor)) {
		return v, fmt.Errorf("bundle: version %s is below the anti-rollback floor %s: %w", m.Version, p.Floor, ErrFloor)
	}
	return v, nil
}

// CheckChunk checks chunk i of the payload against its signed hash.
func (m *Manifest) CheckChunk(i int, data []byte) error {
	if i < 0 || i >= len(m.Chunks) {
		return fmt.Errorf("bundle: chunk %d of %d: %w", i, len(m.Chunks), ErrSize)
	}
	off, n := m.ChunkRange(i)
	if int64(len(data)) != n {
		return fmt.Errorf("bundle: chunk %d (payload bytes %d-%d): %d bytes, want %d: %w", i, off, off+n-1, len(data), n, ErrSize)
	}
	if sum := sha256.Sum256(data); string(sum[:]) != string(m.Chunks[i]) {
		return fmt.Errorf("bundle: chunk %d (payload bytes %d-%d): %w", i, off, off+n-1, ErrHash)
	}
	return nil
}

// VerifyPayload reads the payload from r, which must end right after it, and checks
// every chunk hash and every file's size and hash.
func (m *Manifest) VerifyPayload(r io.Reader) error {
	total := m.PayloadSize()
	buf := make([]byte, m.ChunkSize)
	fi, fileLeft := 0, int64(m.Files[0].Size)
	fh := sha256.New()
	var done int64
	for i := range m.Chunks {
		_, n := m.ChunkRange(i)
		got, err := io.ReadFull(r, buf[:n])
		if err != nil {
			return fmt.Errorf("bundle: payload ends after %d of %d bytes: %w", done+int64(got), total, ErrTruncated)
		}
		if err := m.CheckChunk(i, buf[:n]); err != nil {
			return err
		}
		done += n
		rest := buf[:n]
		for len(rest) > 0 || (fileLeft == 0 && fi < len(m.Files)) {
			take := min(fileLeft, int64(len(rest)))
			fh.Write(rest[:take])
			rest, fileLeft = rest[take:], fileLeft-take
			if fileLeft == 0 {
				if err := checkFile(m.Files[fi], fh); err != nil {
					return err
				}
				fi++
				fh.Reset()
				if fi == len(m.Files) {
					break
				}
				fileLeft = int64(m.Files[fi].Size)
			}
		}
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return fmt.Errorf("bundle: bytes after the %d-byte payload: %w", total, ErrSize)
	}
	return nil
}

func checkFile(f File, h hash.Hash) error {
	if string(h.Sum(nil)) != string(f.SHA256) {
		return fmt.Errorf("bundle: file %s (%d bytes): %w", f.Name, f.Size, ErrHash)
	}
	return nil
}

// FileHash computes the SHA-256 of r, which must hold exactly size bytes.
func FileHash(r io.Reader, size int64) ([]byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, size))
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("bundle: %d of %d bytes: %w", n, size, ErrTruncated)
	}
	return h.Sum(nil), nil
}

// VerifyFile checks a whole bundle file: header, policy, size, payload. When several
// checks fail it reports the one a maintainer must act on first: a bad signature or a
// policy refusal (product, target, version), then damage to the file (truncated, trailing
// bytes, a chunk whose hash does not match), and only then too few signatures — so that
// a damaged copy is not taken for one that merely awaits a second signature.
func VerifyFile(path string, p Policy) (*Header, *Verified, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		return nil, nil, err
	}
	v, perr := h.Verify(p)
	if perr != nil && !errors.Is(perr, ErrThreshold) {
		return h, v, perr
	}
	if err := checkPayload(f, path, h); err != nil {
		return h, v, err
	}
	return h, v, perr
}

// checkPayload checks that the file after the header (f is positioned there) is exactly
// the payload the manifest describes.
func checkPayload(f *os.File, path string, h *Header) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if want := h.TotalSize(); fi.Size() < want {
		return fmt.Errorf("bundle: %s is %d bytes, its manifest describes %d: %w", path, fi.Size(), want, ErrTruncated)
	} else if fi.Size() > want {
		return fmt.Errorf("bundle: %s is %d bytes, its manifest describes %d (trailing bytes): %w", path, fi.Size(), want, ErrSize)
	}
	return h.Manifest.VerifyPayload(f)
}

// CheckPayload checks that the bundle file at path holds exactly the payload its
// manifest describes, without judging signatures: what a maintainer's tool checks before
// adding a signature, so that nobody signs a damaged copy.
func CheckPayload(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		return err
	}
	return checkPayload(f, path, h)
}

// Reason returns a short machine-readable reason for err ("signature", "threshold",
// "target", ...), or "error" for anything else.
func Reason(err error) string {
	for _, r := range []struct {
		e error
		s string
	}{{ErrSignature, "signature"}, {ErrThreshold, "threshold"}, {ErrProduct, "product"}, {ErrTarget, "target"},
		{ErrDowngrade, "downgrade"}, {ErrFloor, "floor"}, {ErrMinVersion, "min-version"}, {ErrTruncated, "truncated"},
		{ErrSize, "size"}, {ErrHash, "hash"}, {ErrMalformed, "malformed"}} {
		if errors.Is(err, r.e) {
			return r.s
		}
	}
	return "error"
}
