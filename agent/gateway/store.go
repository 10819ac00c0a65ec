package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/protocol"
)

// Chain kinds, which are also the directory and index names.
const (
	chainRecords = "records"
	chainAudit   = "audit"
)

// Entry is one stored record or audit entry, as the index holds it.
type Entry struct {
	Seq   uint64
	ID    protocol.ID
	Hash  protocol.Hash
	Chain string // verdict given when it was stored
}

// chain is one station's records or audit chain: its index in memory and on disk.
type chain struct {
	kind    string
	dir     string // envelopes
	idxPath string
	idx     *os.File // opened for appending
	ids     map[protocol.ID]Entry
	bySeq   map[uint64]protocol.Hash // the first entry stored at each seq
	head    uint64
}

// verdict judges a new id at seq with prev against what is stored (see doc.go).
func (c *chain) verdict(seq uint64, prev protocol.Hash) string {
	if _, taken := c.bySeq[seq]; taken {
		return protocol.ChainFork
	}
	if seq == 1 {
		if prev == (protocol.Hash{}) {
			return protocol.ChainOK
		}
		return protocol.ChainFork
	}
	if len(c.ids) == 0 {
		return protocol.ChainStart
	}
	h, ok := c.bySeq[seq-1]
	switch {
	case !ok:
		return protocol.ChainGap
	case h == prev:
		return protocol.ChainOK
	default:
		return protocol.ChainFork
	}
}

func (c *chain) add(e Entry) {
	c.ids[e.ID] = e
	if _, taken := c.bySeq[e.Seq]; !taken {
		c.bySeq[e.Seq] = e.Hash
	}
	c.head = max(c.head, e.Seq)
}

func (c *chain) envelopePath(seq uint64, id protocol.ID) string {
	return filepath.Join(c.dir, fmt.Sprintf("%020d-%s.cose", seq, id))
}

// store writes the envelope durably, then appends its index line durably.
func (c *chain) store(e Entry, envelope []byte) error {
	if err := fsutil.WriteFileAtomic(c.envelopePath(e.Seq, e.ID), envelope, 0o640); err != nil {
		return fmt.Errorf("gateway: store %s %s: %w", c.kind, e.ID, err)
	}
	if err := c.appendIndex(e); err != nil {
		return err
	}
	c.add(e)
	return nil
}

func (c *chain) appendIndex(e Entry) error {
	line := fmt.Sprintf("%d %s %s %s\n", e.Seq, e.ID, e.Hash, e.Chain)
	if _, err := c.idx.Write([]byte(line)); err != nil {
		return fmt.Errorf("gateway: append to %s: %w", c.idxPath, err)
	}
	if err := c.idx.Sync(); err != nil {
		return fmt.Errorf("gateway: fsync %s: %w", c.idxPath, err)
	}
	return nil
}

func (c *chain) close() {
	if c != nil && c.idx != nil {
		c.idx.Close()
		c.idx = nil
	}
}

// entries returns the index sorted by seq, then id.
func (c *chain) entries() []Entry {
	out := make([]Entry, 0, len(c.ids))
	for _, e := range c.ids {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0
	})
	return out
}

func parseIndexLine(line string) (Entry, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return Entry{}, fmt.Errorf("want 4 fields, got %d", len(f))
	}
	var e Entry
	var err error
	if e.Seq, err = strconv.ParseUint(f[0], 10, 64); err != nil || e.Seq == 0 {
		return Entry{}, fmt.Errorf("seq %q", f[0])
	}
	if e.ID, err = protocol.ParseID(f[1]); err != nil {
		return Entry{}, err
	}
	if err := e.Hash.UnmarshalText([]byte(f[2])); err != nil {
		return Entry{}, fmt.Errorf("hash: %v", err)
	}
	switch f[3] {
	case protocol.ChainOK, protocol.ChainStart, protocol.ChainGap, protocol.ChainFork:
		e.Chain = f[3]
	default:
		return Entry{}, fmt.Errorf("verdict %q", f[3])
	}
	return e, nil
}

// openChain loads (or creates) a chain of a station directory: it reads the index,
// cuts a torn last line, and indexes envelopes that were stored but not indexed.
func openChain(stationDir, kind string, decode func(payload []byte) (seq uint64, id protocol.ID, prev protocol.Hash, err error)) (*chain, error) {
	c := &chain{
		kind: kind, dir: filepath.Join(stationDir, kind), idxPath: filepath.Join(stationDir, kind+".idx"),
		ids: map[protocol.ID]Entry{}, bySeq: map[uint64]protocol.Hash{},
	}
	if err := mkdirDurable(c.dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(c.idxPath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	good, err := c.readIndex(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() != good {
		// A crash while appending leaves a partial last line: nothing was receipted for
		// it, and its envelope (if any) is re-indexed below.
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("gateway: cut torn line of %s: %w", c.idxPath, err)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	c.idx = f
	if err := c.reconcile(decode); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// readIndex loads index lines and returns the offset after the last complete line.
func (c *chain) readIndex(f *os.File) (int64, error) {
	r := bufio.NewReader(f)
	var off int64
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return off, nil // a partial last line (no newline) is dropped
		}
		if err != nil {
			return 0, fmt.Errorf("gateway: read %s: %w", c.idxPath, err)
		}
		e, perr := parseIndexLine(line)
		if perr != nil {
			if _, err := r.Peek(1); err == io.EOF {
				return off, nil // torn last line
			}
			return 0, fmt.Errorf("gateway: %s line %d: %v (the index is damaged; restore it or remove it to rebuild from the envelopes)", c.idxPath, n, perr)
		}
		c.add(e)
		off += int64(len(line))
	}
}

// reconcile indexes envelopes stored without an index line and removes temporary files
// of interrupted writes.
func (c *chain) reconcile(decode func([]byte) (uint64, protocol.ID, protocol.Hash, error)) error {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	for _, de := range des { // sorted by name, hence by seq
		name := de.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			os.Remove(filepath.Join(c.dir, name))
			continue
		}
		seq, id, ok := parseEnvelopeName(name)
		if !ok {
			continue
		}
		if _, known := c.ids[id]; known {
			continue
		}
		path := filepath.Join(c.dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		env, err := protocol.ParseEnvelope(data, protocol.MaxRecordSize+(64<<10))
		if err != nil {
			return fmt.Errorf("gateway: unindexed envelope %s: %w", path, err)
		}
		s, gotID, prev, err := decode(env.Payload)
		if err != nil {
			return fmt.Errorf("gateway: unindexed envelope %s: %w", path, err)
		}
		if s != seq || gotID != id {
			return fmt.Errorf("gateway: unindexed envelope %s holds seq %d id %s", path, s, gotID)
		}
		e := Entry{Seq: seq, ID: id, Hash: env.Hash, Chain: c.verdict(seq, prev)}
		if err := c.appendIndex(e); err != nil {
			return err
		}
		c.add(e)
	}
	return nil
}

func parseEnvelopeName(name string) (uint64, protocol.ID, bool) {
	base, ok := strings.CutSuffix(name, ".cose")
	if !ok || len(base) != 20+1+32 || base[20] != '-' {
		return 0, protocol.ID{}, false
	}
	seq, err := strconv.ParseUint(base[:20], 10, 64)
	if err != nil {
		return 0, protocol.ID{}, false
	}
	id, err := protocol.ParseID(base[21:])
	if err != nil {
		return 0, protocol.ID{}, false
	}
	return seq, id, true
}

// mkdirDurable creates dir and its missing parents, fsyncing each parent so the new
// entries survive a power cut.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := fsutil.SyncDir(parent); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

func decodeRecordChain(payload []byte) (uint64, protocol.ID, protocol.Hash, error) {
	r, err := protocol.DecodeRecord(payload)
	if err != nil {
		return 0, protocol.ID{}, protocol.Hash{}, err
	}
	return r.Seq, r.ID, r.Prev, nil
}

func decodeAuditChain(payload []byte) (uint64, protocol.ID, protocol.Hash, error) {
	var a protocol.Audit
	if err := protocol.DecodeMessage(payload, &a); err != nil {
		return 0, protocol.ID{}, protocol.Hash{}, err
	}
	return a.Seq, a.ID, a.Prev, nil
}
