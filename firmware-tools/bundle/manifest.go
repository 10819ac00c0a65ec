package bundle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/fxamacker/cbor/v2"

	"github.com/captura-claim/captura/protocol"
)

// Format limits, checked before anything else.
const (
	Magic            = "CAPBNDL1"
	PrefixSize       = len(Magic) + 4
	ContentType      = "application/captura-bundle+cbor"
	MaxHeaderSize    = 128 << 10
	MaxPayloadSize   = 512 << 20
	MinChunkSize     = 16 << 10
	MaxChunkSize     = 4 << 20
	DefaultChunkSize = 256 << 10
	MaxFiles         = 32
	MaxSignatures    = 16
	MaxChunks        = 3072 // keeps the chunk list well inside MaxHeaderSize
	// ProductAgent is the station agent; its bundle must hold a file of that name.
	ProductAgent = "captura-agent"
)

// Reasons: every error of this package wraps one of them, so a station can report why
// a bundle was refused and tests can tell the cases apart.
var (
	ErrMalformed  = errors.New("malformed bundle")
	ErrSignature  = errors.New("signature does not verify")
	ErrThreshold  = errors.New("not enough maintainer signatures")
	ErrProduct    = errors.New("wrong product")
	ErrTarget     = errors.New("wrong target platform")
	ErrDowngrade  = errors.New("older than the installed version")
	ErrFloor      = errors.New("below the anti-rollback floor")
	ErrMinVersion = errors.New("installed version too old for this bundle")
	ErrTruncated  = errors.New("truncated")
	ErrSize       = errors.New("size mismatch")
	ErrHash       = errors.New("SHA-256 mismatch")
)

// Manifest describes a bundle. See the package comment for the schema.
type Manifest struct {
	V          uint     `cbor:"v"`
	Product    string   `cbor:"product"`
	Version    string   `cbor:"version"`
	MinVersion string   `cbor:"min_version,omitempty"`
	OS         string   `cbor:"os"`
	Arch       string   `cbor:"arch"`
	GOARM      uint     `cbor:"goarm,omitempty"`
	Created    int64    `cbor:"created"`
	Files      []File   `cbor:"files"`
	ChunkSize  uint64   `cbor:"chunk_size"`
	Chunks     [][]byte `cbor:"chunks"`
	Notes      string   `cbor:"notes,omitempty"`
}

// File is one payload file; the payload holds the files in manifest order.
type File struct {
	Name   string `cbor:"name"`
	Size   uint64 `cbor:"size"`
	SHA256 []byte `cbor:"sha256"`
	Mode   uint32 `cbor:"mode"`
}

var (
	productRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	platRE    = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	fileRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`)
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, decMode, err = protocol.StrictCBOR(protocol.CBORLimits{MaxNestedLevels: 8, MaxArrayElements: 4096, MaxMapPairs: 64}); err != nil {
		panic(err)
	}
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("bundle: %s: %w", fmt.Sprintf(format, a...), ErrMalformed)
}

// PayloadSize is the sum of the file sizes.
func (m *Manifest) PayloadSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += int64(f.Size)
	}
	return n
}

// NumChunks is the number of chunk_size pieces of the payload.
func (m *Manifest) NumChunks() int {
	if m.ChunkSize == 0 {
		return 0
	}
	return int((uint64(m.PayloadSize()) + m.ChunkSize - 1) / m.ChunkSize)
}

// ChunkRange returns the offset (within the payload) and length of chunk i.
func (m *Manifest) ChunkRange(i int) (off, n int64) {
	off = int64(i) * int64(m.ChunkSize)
	n = min(int64(m.ChunkSize), m.PayloadSize()-off)
	return off, n
}

// FileOffset returns the offset of file i within the payload.
func (m *Manifest) FileOffset(i int) int64 {
	var off int64
	for _, f := range m.Files[:i] {
		off += int64(f.Size)
	}
	return off
}

// File returns the file named name.
func (m *Manifest) File(name string) (File, int, bool) {
	for i, f := range m.Files {
		if f.Name == name {
			return f, i, true
		}
	}
	return File{}, -1, false
}

// Validate checks the manifest against the schema and the format limits.
func (m *Manifest) Validate() error {
	if m.V != 1 {
		return malformed("manifest version %d (this build reads 1)", m.V)
	}
	if !productRE.MatchString(m.Product) {
		return malformed("product %q is not 1-64 characters of [a-z0-9-]", m.Product)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return malformed("version: %v", trim(err))
	}
	if m.MinVersion != "" {
		mv, err := ParseVersion(m.MinVersion)
		if err != nil {
			return malformed("min_version: %v", trim(err))
		}
		if v.Less(mv) {
			return malformed("min_version %s is above version %s", m.MinVersion, m.Version)
		}
	}
	if !platRE.MatchString(m.OS) || !platRE.MatchString(m.Arch) {
		return malformed("os/arch %q/%q: want GOOS and GOARCH names", m.OS, m.Arch)
	}
	if m.Arch == "arm" {
		if m.GOARM < 5 || m.GOARM > 7 {
			return malformed("arch arm needs goarm 5, 6 or 7 (have %d)", m.GOARM)
		}
	} else if m.GOARM != 0 {
		return malformed("goarm %d given for arch %s", m.GOARM, m.Arch)
	}
	if m.Created <= 0 {
		return malformed("created time missing")
	}
	if len(m.Files) == 0 || len(m.Files) > MaxFiles {
		return malformed("%d files (want 1 to %d)", len(m.Files), MaxFiles)
	}
	seen := map[string]bool{}
	var total uint64
	for i, f := range m.Files {
		if !fileRE.MatchString(f.Name) || strings.Contains(f.Name, "..") {
			return malformed("files[%d]: name %q is not a plain file name of [A-Za-z0-9._-]", i, f.Name)
		}
		if seen[f.Name] {
			return malformed("files[%d]: name %q appears twice", i, f.Name)
		}
		seen[f.Name] = true
		if len(f.SHA256) != sha256.Size {
			return malformed("files[%d] (%s): sha256 is %d bytes, want 32", i, f.Name, len(f.SHA256))
		}
		if f.Mode&^0o777 != 0 {
			return malformed("files[%d] (%s): mode %#o has bits beyond 0777", i, f.Name, f.Mode)
		}
		if f.Size > MaxPayloadSize {
			return malformed("files[%d] (%s): %d bytes exceeds the payload limit", i, f.Name, f.Size)
		}
		total += f.Size
	}
	if total == 0 || total > MaxPayloadSize {
		return malformed("payload of %d bytes (want 1 to %d)", total, MaxPayloadSize)
	}
	if m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize {
		return malformed("chunk_size %d (want %d to %d)", m.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if n := m.NumChunks(); n > MaxChunks {
		return malformed("%d chunks of %d bytes (at most %d: use larger chunks)", n, m.ChunkSize, MaxChunks)
	} else if len(m.Chunks) != n {
		return malformed("%d chunk hashes for %d chunks of %d bytes", len(m.Chunks), n, m.ChunkSize)
	}
	for i, c := range m.Chunks {
		if len(c) != sha256.Size {
			return malformed("chunks[%d] is %d bytes, want 32", i, len(c))
		}
	}
	if len(m.Notes) > 2000 {
		return malformed("notes longer than 2000 bytes")
	}
	for _, r := range m.Notes {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return malformed("notes hold a control character")
		}
	}
	return nil
}

func trim(err error) string { return strings.TrimPrefix(err.Error(), "bundle: ") }

// Encode returns the manifest's deterministic CBOR.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(m)
}

// DecodeManifest decodes and validates a manifest in deterministic CBOR.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decMode.Unmarshal(data, &m); err != nil {
		return nil, malformed("manifest: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	again, err := encMode.Marshal(&m)
	if err != nil || string(again) != string(data) {
		return nil, malformed("manifest is not in deterministic CBOR (or has empty optional fields)")
	}
	return &m, nil
}
