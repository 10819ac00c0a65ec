package bundle

import (
	"bufio"
	"crypto"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/captura-claim/captura/agent/fsutil"
)

// Source is a payload file to put in a bundle.
type Source struct {
	Name string // name in the bundle (and in the install slot)
	Path string // file to read
	Mode uint32 // permission bits; 0 takes the file's
}

// Options describe the bundle to create.
type Options struct {
	Product    string // default ProductAgent
	Version    string
	MinVersion string
	OS         string // default "linux"
	Arch       string
	GOARM      uint
	ChunkSize  int // default DefaultChunkSize
	Notes      string
	Created    time.Time // default now
}

// Create writes a bundle of files signed by keys to w. The files are read twice
// (hashes first, then the copy); a file that changes in between is an error.
func Create(w io.Writer, o Options, files []Source, keys []crypto.Signer) (*Header, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("bundle: at least one maintainer key must sign")
	}
	m := &Manifest{V: 1, Product: o.Product, Version: o.Version, MinVersion: o.MinVersion, OS: o.OS, Arch: o.Arch,
		GOARM: o.GOARM, ChunkSize: uint64(o.ChunkSize), Notes: o.Notes, Created: o.Created.UnixMilli()}
	if m.Product == "" {
		m.Product = ProductAgent
	}
	if m.OS == "" {
		m.OS = "linux"
	}
	if m.ChunkSize == 0 {
		m.ChunkSize = DefaultChunkSize
	}
	if o.Created.IsZero() {
		m.Created = time.Now().UnixMilli()
	}
	if m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("bundle: chunk size %d: want %d to %d", m.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	// Pass 1: file hashes and chunk hashes over the concatenation.
	ch := newChunker(int(m.ChunkSize))
	for _, s := range files {
		f, err := os.Open(s.Path)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("bundle: %s is not a regular file", s.Path)
		}
		mode := s.Mode
		if mode == 0 {
			mode = uint32(fi.Mode().Perm())
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(h, ch), f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bundle: reading %s: %w", s.Path, err)
		}
		m.Files = append(m.Files, File{Name: s.Name, Size: uint64(n), SHA256: h.Sum(nil), Mode: mode})
	}
	m.Chunks = ch.finish()
	h, err := NewHeader(m)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := h.AddSignature(k); err != nil {
			return nil, err
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(h.Encode()); err != nil {
		return nil, err
	}
	// Pass 2: copy, checking that nothing changed.
	for i, s := range files {
		f, err := os.Open(s.Path)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		hh := sha256.New()
		n, err := io.Copy(io.MultiWriter(bw, hh), io.LimitReader(f, int64(m.Files[i].Size)+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bundle: copying %s: %w", s.Path, err)
		}
		if uint64(n) != m.Files[i].Size || string(hh.Sum(nil)) != string(m.Files[i].SHA256) {
			return nil, fmt.Errorf("bundle: %s changed while the bundle was written", s.Path)
		}
	}
	return h, bw.Flush()
}

// chunker hashes a stream in fixed-size pieces.
type chunker struct {
	size   int
	filled int
	h      interface {
		io.Writer
		Sum([]byte) []byte
		Reset()
	}
	sums [][]byte
}

func newChunker(size int) *chunker { return &chunker{size: size, h: sha256.New()} }

func (c *chunker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(c.size-c.filled, len(p))
		c.h.Write(p[:take])
		c.filled += take
		p = p[take:]
		if c.filled == c.size {
			c.sums = append(c.sums, c.h.Sum(nil))
			c.h.Reset()
			c.filled = 0
		}
	}
	return n, nil
}

func (c *chunker) finish() [][]byte {
	if c.filled > 0 {
		c.sums = append(c.sums, c.h.Sum(nil))
		c.filled = 0
	}
	return c.sums
}

// CreateFile writes a bundle to path atomically (temporary file, fsync, rename).
func CreateFile(path string, o Options, files []Source, keys []crypto.Signer) (*Header, error) {
	var h *Header
	err := writeAtomic(path, func(w io.Writer) error {
		var err error
		h, err = Create(w, o, files, keys)
		return err
	})
	return h, err
}

// Resign replaces the header of the bundle at path with h (for example after
// AddSignature), keeping its payload, atomically.
func Resign(path string, h *Header) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer src.Close()
	old, err := ReadHeader(src)
	if err != nil {
		return err
	}
	if string(old.manifestRaw) != string(h.manifestRaw) {
		return fmt.Errorf("bundle: the new header signs a different manifest")
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(h.Encode()); err != nil {
			return err
		}
		n, err := io.Copy(w, src)
		if err != nil {
			return err
		}
		if n != h.Manifest.PayloadSize() {
			return fmt.Errorf("bundle: %s has a %d-byte payload, its manifest describes %d: %w", path, n, h.Manifest.PayloadSize(), ErrTruncated)
		}
		return nil
	})
}

func writeAtomic(path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	ok = true
	return fsutil.SyncDir(dir)
}

// ELFArch returns the GOARCH of an ELF executable, so a bundle cannot announce one
// architecture and carry a binary for another.
func ELFArch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("bundle: %s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	switch {
	case f.Machine == elf.EM_X86_64:
		return "amd64", nil
	case f.Machine == elf.EM_AARCH64:
		return "arm64", nil
	case f.Machine == elf.EM_ARM:
		return "arm", nil
	case f.Machine == elf.EM_386:
		return "386", nil
	case f.Machine == elf.EM_RISCV && f.Class == elf.ELFCLASS64:
		return "riscv64", nil
	}
	return "", fmt.Errorf("bundle: %s: ELF machine %v is not a supported architecture", path, f.Machine)
}
