package update

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/firmware-tools/bundle"
)

// A download lives in <slots>/download/:
//
//	job       the Job it belongs to (CBOR)
//	header    the bundle header, once fetched and checked
//	payload   the payload, preallocated; chunks are written at their offsets
//	have      bitmap of the chunks that are in payload and fsync'd
//
// A chunk's bit is written (atomically) only after the payload file has been fsync'd
// with the chunk in it, so after a crash every marked chunk is intact and the download
// resumes with the unmarked ones. The job's header hash ties the directory to one
// bundle: a different job starts afresh.
type download struct {
	dir    string
	job    Job
	hdr    *bundle.Header
	raw    []byte // header bytes
	f      *os.File
	have   []byte
	held   int64 // payload bytes marked
	unsync int   // chunks written since the last flush
}

func openDownload(dir string, job Job) (*download, error) {
	d := &download{dir: dir, job: job}
	var old Job
	if b, err := os.ReadFile(filepath.Join(dir, "job")); err == nil && Decode(b, &old) == nil && old.ID == job.ID && old.HeaderHash == job.HeaderHash && old.Size == job.Size {
		if err := d.resume(); err == nil {
			return d, nil
		}
	}
	// A fresh download: nothing durable is written until create (after the first
	// chunks are asked for), so a slow disk does not delay the request.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("update: download directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("update: download directory: %w", err)
	}
	return d, nil
}

// resume loads the header, payload file and bitmap of an earlier run.
func (d *download) resume() error {
	raw, err := os.ReadFile(filepath.Join(d.dir, "header"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // the header had not arrived yet
	}
	if err != nil {
		return err
	}
	h, err := d.checkHeader(raw)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "payload"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != h.Manifest.PayloadSize() {
		f.Close()
		return fmt.Errorf("update: payload file has the wrong size")
	}
	have, err := os.ReadFile(filepath.Join(d.dir, "have"))
	n := h.Manifest.NumChunks()
	if err != nil || len(have) != (n+7)/8 {
		have = make([]byte, (n+7)/8)
	}
	d.hdr, d.raw, d.f, d.have = h, raw, f, have
	for i := 0; i < n; i++ {
		if d.has(i) {
			_, l := h.Manifest.ChunkRange(i)
			d.held += l
		}
	}
	return nil
}

// checkHeader checks header bytes against the job.
func (d *download) checkHeader(raw []byte) (*bundle.Header, error) { return checkHeader(d.job, raw) }

func checkHeader(job Job, raw []byte) (*bundle.Header, error) {
	if int64(len(raw)) != job.HeaderSize {
		return nil, fmt.Errorf("update: header of %d bytes, the job announces %d: %w", len(raw), job.HeaderSize, bundle.ErrSize)
	}
	if sha256.Sum256(raw) != job.HeaderHash {
		return nil, fmt.Errorf("update: header does not match the job's header hash: %w", bundle.ErrHash)
	}
	h, err := bundle.ParseHeader(raw)
	if err != nil {
		return nil, err
	}
	if total := h.TotalSize(); total != job.Size {
		what := bundle.ErrSize
		if job.Size < total {
			what = bundle.ErrTruncated
		}
		return nil, fmt.Errorf("update: the job announces a bundle of %d bytes, its manifest describes %d: %w", job.Size, total, what)
	}
	return h, nil
}

// adopt takes a checked header for a fresh download (in memory; create makes the
// files).
func (d *download) adopt(raw []byte, h *bundle.Header) {
	d.hdr, d.raw = h, raw
	d.have = make([]byte, (h.Manifest.NumChunks()+7)/8)
	d.held = 0
}

// create stores the job and header and creates the payload file.
func (d *download) create() error {
	b, err := Encode(&d.job)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(d.dir, "job"), b, 0o644); err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(d.dir, "header"), d.raw, 0o644); err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "payload"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	if err := f.Truncate(d.hdr.Manifest.PayloadSize()); err != nil {
		f.Close()
		return fmt.Errorf("update: download: %w", err)
	}
	d.f = f
	if err := fsutil.SyncDir(d.dir); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(d.dir))
}

func (d *download) has(i int) bool { return d.have[i/8]&(1<<(i%8)) != 0 }

// put writes a checked chunk.
func (d *download) put(i int, data []byte) error {
	if d.has(i) {
		return nil
	}
	off, _ := d.hdr.Manifest.ChunkRange(i)
	if _, err := d.f.WriteAt(data, off); err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	d.have[i/8] |= 1 << (i % 8)
	d.held += int64(len(data))
	d.unsync++
	return nil
}

// flush makes the written chunks durable and then records them.
func (d *download) flush() error {
	if d.unsync == 0 || d.f == nil {
		return nil
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	crashPoint("download-synced")
	if err := fsutil.WriteFileAtomic(filepath.Join(d.dir, "have"), d.have, 0o644); err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	d.unsync = 0
	crashPoint("download-flushed")
	return nil
}

// unmark forgets chunk i (found bad when read back).
func (d *download) unmark(i int) {
	if d.has(i) {
		d.have[i/8] &^= 1 << (i % 8)
		_, l := d.hdr.Manifest.ChunkRange(i)
		d.held -= l
		d.unsync++
	}
}

// missing lists the chunks not yet held.
func (d *download) missing() []int {
	var out []int
	for i := 0; i < d.hdr.Manifest.NumChunks(); i++ {
		if !d.has(i) {
			out = append(out, i)
		}
	}
	return out
}

// recheck reads every held chunk back and unmarks the bad ones; it returns how many.
func (d *download) recheck() (int, error) {
	m := d.hdr.Manifest
	buf := make([]byte, m.ChunkSize)
	bad := 0
	for i := 0; i < m.NumChunks(); i++ {
		if !d.has(i) {
			continue
		}
		off, n := m.ChunkRange(i)
		if _, err := d.f.ReadAt(buf[:n], off); err != nil {
			return bad, fmt.Errorf("update: reading the download back: %w", err)
		}
		if m.CheckChunk(i, buf[:n]) != nil {
			d.unmark(i)
			bad++
		}
	}
	return bad, d.flush()
}

// verify checks the whole payload (every chunk and every file hash).
func (d *download) verify() error {
	return d.hdr.Manifest.VerifyPayload(io.NewSectionReader(d.f, 0, d.hdr.Manifest.PayloadSize()))
}

// files returns the payload files for Slots.Install.
func (d *download) files() []InstallFile {
	m := d.hdr.Manifest
	out := make([]InstallFile, len(m.Files))
	for i, f := range m.Files {
		off := m.FileOffset(i)
		out[i] = InstallFile{Name: f.Name, Mode: os.FileMode(f.Mode), Size: int64(f.Size), SHA256: f.SHA256,
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(d.f, off, int64(f.Size))), nil
			}}
	}
	return out
}

func (d *download) close() {
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
}

func (d *download) remove() {
	d.close()
	os.RemoveAll(d.dir)
}
