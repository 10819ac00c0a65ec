// Package store is the station's durable state in one bbolt database: the outbox of
// sealed, signed records waiting for the gateway's receipts, the audit log waiting for
// its receipts, the counters that chain them, the birth counter, processed commands and
// per-tablet command counters. Every change is one transaction, fsync'd on commit, so a
// power cut leaves either the state before or the state after a change, never a mix: a
// record is in the outbox exactly when the record counter says it was created.
//
// The outbox is the single owner of unsent data. Only sealed records ever enter it; a
// record leaves it on a verified receipt (Ack) or when the retention limit erases it
// (Expire, which commits the erasure's audit entry in the same transaction, and waits
// for a synchronised clock).
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/captura-claim/captura/protocol"
)

// ErrFull means the outbox has no room for another record; the station must refuse new
// sessions until receipts free space. Nothing already accepted is dropped.
var ErrFull = errors.New("store: outbox full")

// Kinds of queued items.
const (
	KindRecord = "record"
	KindAudit  = "audit"
)

var (
	bMeta     = []byte("meta")
	bRecords  = []byte("records") // seq → entry
	bAudit    = []byte("audit")   // seq → entry
	bIDs      = []byte("ids")     // kind|id → seq
	bCommands = []byte("commands")
	bCounters = []byte("counters")
	bTablets  = []byte("tablets")
	bPAD      = []byte("pad")
	bUnsynced = []byte("unsynced") // seq → nothing: records stamped by a clock not yet synchronised

	kRecordSeq  = []byte("record_seq")
	kRecordPrev = []byte("record_prev")
	kAuditSeq   = []byte("audit_seq")
	kAuditPrev  = []byte("audit_prev")
	kBirth      = []byte("birth")
	kBytes      = []byte("outbox_bytes")
)

// ErrClockUnsynced means the retention limit was not applied because the system clock
// is not known to be right: a station without a real-time clock boots with a stale or
// zero time, and judging ages by it would erase records that were never sent.
var ErrClockUnsynced = errors.New("store: system clock not synchronised, retention paused")

// Store is the open database.
type Store struct {
	db       *bolt.DB
	maxBytes int64
	now      func() time.Time
	synced   func() bool
}

// Opts bound the outbox.
type Opts struct {
	MaxBytes int64            // records' total envelope bytes; 0 = unbounded
	Now      func() time.Time // clock; nil = time.Now
	// Synced reports whether the clock is known to be right (e.g. sysclock.Synchronised);
	// nil = always. A record created while it is false is stamped again when it turns
	// true, and Expire does nothing while it is false.
	Synced func() bool
}

// Open opens or creates the database at path (its directory must exist).
func Open(path string, opts *Opts) (*Store, error) {
	if opts == nil {
		opts = &Opts{}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bRecords, bAudit, bIDs, bCommands, bCounters, bTablets, bPAD, bUnsynced} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	s := &Store{db: db, maxBytes: opts.MaxBytes, now: opts.Now, synced: opts.Synced}
	if s.now == nil {
		s.now = time.Now
	}
	if s.synced == nil {
		s.synced = func() bool { return true }
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file.
func (s *Store) Path() string { return s.db.Path() }

// Entry is a queued record or audit entry.
type Entry struct {
	Kind     string
	Seq      uint64
	ID       protocol.ID
	Hash     protocol.Hash // SHA-256 of Envelope
	Created  int64         // Unix ms
	Envelope []byte        // signed COSE_Sign1 (only sealed biometric data inside)
}

// entry encoding: created(8) | id(16) | hash(32) | envelope.
func (e *Entry) marshal() []byte {
	b := make([]byte, 56+len(e.Envelope))
	binary.BigEndian.PutUint64(b, uint64(e.Created))
	copy(b[8:], e.ID[:])
	copy(b[24:], e.Hash[:])
	copy(b[56:], e.Envelope)
	return b
}

func unmarshalEntry(kind string, seq uint64, v []byte, withEnvelope bool) (Entry, error) {
	if len(v) < 56 {
		return Entry{}, fmt.Errorf("store: %s %d: corrupt entry of %d bytes", kind, seq, len(v))
	}
	e := Entry{Kind: kind, Seq: seq, Created: int64(binary.BigEndian.Uint64(v))}
	copy(e.ID[:], v[8:24])
	copy(e.Hash[:], v[24:56])
	if withEnvelope {
		e.Envelope = bytes.Clone(v[56:])
	}
	return e, nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func bucketFor(kind string) []byte {
	if kind == KindAudit {
		return bAudit
	}
	return bRecords
}

// Builder signs the next item of a chain: given its sequence number and the previous
// item's hash, it returns the item's id and signed envelope. It runs inside the write
// transaction, so numbering is gap-free and exactly-once even across power cuts.
type Builder func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error)

// Extra is a key to write in the same transaction as an appended item, e.g. the final
// state of the command that produced a record, so the two can never disagree.
type Extra struct {
	Bucket     string
	Key, Value []byte
}

// Append adds the next record (KindRecord) or audit entry (KindAudit) to its chain and
// queue in one fsync'd transaction, together with extras. Records are refused with
// ErrFull beyond MaxBytes.
func (s *Store) Append(kind string, build Builder, extras ...Extra) (Entry, error) {
	var out Entry
	synced := s.synced()
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = s.appendTx(tx, kind, build, synced, extras...)
		return err
	})
	return out, err
}

// appendTx is Append inside tx; synced says whether the clock that stamps the entry is
// known to be right.
func (s *Store) appendTx(tx *bolt.Tx, kind string, build Builder, synced bool, extras ...Extra) (Entry, error) {
	for _, x := range extras {
		if err := tx.Bucket(bucketName(x.Bucket)).Put(x.Key, x.Value); err != nil {
			return Entry{}, err
		}
	}
	meta := tx.Bucket(bMeta)
	kSeq, kPrev := kRecordSeq, kRecordPrev
	if kind == KindAudit {
		kSeq, kPrev = kAuditSeq, kAuditPrev
	}
	seq := getU64(meta, kSeq) + 1
	var prev protocol.Hash
	copy(prev[:], meta.Get(kPrev))
	id, env, err := build(seq, prev)
	if err != nil {
		return Entry{}, err
	}
	total := int64(getU64(meta, kBytes))
	if kind == KindRecord && s.maxBytes > 0 && total+int64(len(env)) > s.maxBytes {
		return Entry{}, fmt.Errorf("%w: %d bytes queued, %d more would exceed %d", ErrFull, total, len(env), s.maxBytes)
	}
	e := Entry{Kind: kind, Seq: seq, ID: id, Hash: protocol.Hash(sha256Sum(env)), Created: s.now().UnixMilli(), Envelope: env}
	type put struct {
		b    *bolt.Bucket
		k, v []byte
	}
	puts := []put{
		{tx.Bucket(bucketFor(kind)), u64(seq), e.marshal()},
		{tx.Bucket(bIDs), idKey(kind, id), u64(seq)},
		{meta, kSeq, u64(seq)},
		{meta, kPrev, e.Hash[:]},
	}
	if kind == KindRecord {
		puts = append(puts, put{meta, kBytes, u64(uint64(total + int64(len(env))))})
		if !synced {
			puts = append(puts, put{tx.Bucket(bUnsynced), u64(seq), []byte{}})
		}
	}
	for _, p := range puts {
		if err := p.b.Put(p.k, p.v); err != nil {
			return Entry{}, err
		}
	}
	return e, nil
}

func idKey(kind string, id protocol.ID) []byte { return append([]byte(kind+"|"), id[:]...) }

// Room reports whether a record of about size bytes fits in the outbox now.
func (s *Store) Room(size int64) error {
	if s.maxBytes <= 0 {
		return nil
	}
	var total int64
	s.db.View(func(tx *bolt.Tx) error {
		total = int64(getU64(tx.Bucket(bMeta), kBytes))
		return nil
	})
	if total+size > s.maxBytes {
		return fmt.Errorf("%w: %d of %d bytes used by records waiting for receipts", ErrFull, total, s.maxBytes)
	}
	return nil
}

// Pending returns the queued entries of kind in sequence order, without envelopes.
func (s *Store) Pending(kind string) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFor(kind)).ForEach(func(k, v []byte) error {
			e, err := unmarshalEntry(kind, binary.BigEndian.Uint64(k), v, false)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Get returns the queued entry of kind with sequence seq, envelope included.
func (s *Store) Get(kind string, seq uint64) (Entry, bool, error) {
	var e Entry
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFor(kind)).Get(u64(seq))
		if v == nil {
			return nil
		}
		var err error
		e, err = unmarshalEntry(kind, seq, v, true)
		ok = err == nil
		return err
	})
	return e, ok, err
}

// Ack removes the entry of kind with id when hash matches what was queued; it reports
// whether an entry was removed. A receipt for an unknown id (already acknowledged) is not
// an error.
func (s *Store) Ack(kind string, id protocol.ID, hash protocol.Hash) (bool, error) {
	removed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bIDs)
		sv := ids.Get(idKey(kind, id))
		if sv == nil {
			return nil
		}
		b := tx.Bucket(bucketFor(kind))
		v := b.Get(sv)
		if v == nil {
			return ids.Delete(idKey(kind, id))
		}
		e, err := unmarshalEntry(kind, binary.BigEndian.Uint64(sv), v, false)
		if err != nil {
			return err
		}
		if e.Hash != hash {
			return fmt.Errorf("store: receipt for %s %s names hash %s, queued %s", kind, id, hash, e.Hash)
		}
		removed = true
		return s.remove(tx, kind, sv, id, int64(len(v)-56))
	})
	return removed, err
}

func (s *Store) remove(tx *bolt.Tx, kind string, seqKey []byte, id protocol.ID, envLen int64) error {
	if err := tx.Bucket(bucketFor(kind)).Delete(seqKey); err != nil {
		return err
	}
	if err := tx.Bucket(bIDs).Delete(idKey(kind, id)); err != nil {
		return err
	}
	if kind == KindRecord {
		if err := tx.Bucket(bUnsynced).Delete(seqKey); err != nil {
			return err
		}
		meta := tx.Bucket(bMeta)
		total := int64(getU64(meta, kBytes)) - envLen
		if total < 0 {
			total = 0
		}
		return meta.Put(kBytes, u64(uint64(total)))
	}
	return nil
}

// Expire erases records older than maxAge (the retention limit) and returns what it
// erased. For each erased record it appends, in the same transaction, the audit entry
// that audit builds (nil: none), so that no record is ever erased unaudited: if a
// builder fails, nothing is erased.
//
// Ages are judged by the wall clock, so Expire returns ErrClockUnsynced and erases
// nothing while the clock is not known to be right (Opts.Synced). Records created
// while it was not are stamped again with the first synchronised time: their age is
// unknown, and counting it from then keeps them longer, never shorter, than the limit.
func (s *Store) Expire(maxAge time.Duration, audit func(Entry) Builder) ([]Entry, error) {
	if !s.synced() {
		return nil, ErrClockUnsynced
	}
	now := s.now().UnixMilli()
	cutoff := now - maxAge.Milliseconds()
	var gone []Entry
	err := s.db.Update(func(tx *bolt.Tx) error {
		gone = nil
		records, unsynced := tx.Bucket(bRecords), tx.Bucket(bUnsynced)
		var restamp [][]byte
		unsynced.ForEach(func(k, _ []byte) error {
			restamp = append(restamp, bytes.Clone(k))
			return nil
		})
		for _, k := range restamp {
			if v := records.Get(k); len(v) >= 8 {
				v = bytes.Clone(v)
				binary.BigEndian.PutUint64(v, uint64(now))
				if err := records.Put(k, v); err != nil {
					return err
				}
			}
			if err := unsynced.Delete(k); err != nil {
				return err
			}
		}
		// Every record is looked at: creation times need not follow sequence order
		// (a clock set back by NTP leaves later records stamped earlier).
		var victims []Entry
		err := records.ForEach(func(k, v []byte) error {
			e, err := unmarshalEntry(KindRecord, binary.BigEndian.Uint64(k), v, false)
			if err != nil {
				return err
			}
			if e.Created < cutoff {
				victims = append(victims, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range victims {
			v := records.Get(u64(e.Seq))
			if err := s.remove(tx, KindRecord, u64(e.Seq), e.ID, int64(len(v)-56)); err != nil {
				return err
			}
			if audit != nil {
				if _, err := s.appendTx(tx, KindAudit, audit(e), true); err != nil {
					return fmt.Errorf("store: audit of expired record %d: %w", e.Seq, err)
				}
			}
		}
		gone = victims
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}

// Stats summarises the record outbox.
type Stats struct {
	Records int
	Bytes   int64
	Oldest  int64 // Unix ms, 0 when empty
	Audit   int
	LastSeq uint64
}

// Stats returns the outbox's counts.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		st.Bytes = int64(getU64(meta, kBytes))
		st.LastSeq = getU64(meta, kRecordSeq)
		b := tx.Bucket(bRecords)
		st.Records = b.Stats().KeyN
		if k, v := b.Cursor().First(); k != nil {
			e, err := unmarshalEntry(KindRecord, binary.BigEndian.Uint64(k), v, false)
			if err != nil {
				return err
			}
			st.Oldest = e.Created
		}
		st.Audit = tx.Bucket(bAudit).Stats().KeyN
		return nil
	})
	return st, err
}

// NextBirth increments and returns the durable birth counter (one per broker
// connection), so an old Last Will can never overwrite a newer birth.
func (s *Store) NextBirth() (uint64, error) {
	var n uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		n = getU64(meta, kBirth) + 1
		return meta.Put(kBirth, u64(n))
	})
	return n, err
}

// CheckCounter records counter as the tablet's latest if it is above the last one seen,
// and fails otherwise (replayed or reordered command).
func (s *Store) CheckCounter(tablet string, counter uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCounters)
		last := getU64(b, []byte(tablet))
		if counter <= last {
			return fmt.Errorf("counter %d is not above the last accepted %d", counter, last)
		}
		return b.Put([]byte(tablet), u64(counter))
	})
}

// LastCounter returns the tablet's last accepted counter.
func (s *Store) LastCounter(tablet string) uint64 {
	var n uint64
	s.db.View(func(tx *bolt.Tx) error {
		n = getU64(tx.Bucket(bCounters), []byte(tablet))
		return nil
	})
	return n
}

// CommandState returns the stored final state of a processed command.
func (s *Store) CommandState(id protocol.ID) ([]byte, bool) {
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bCommands).Get(id[:]))
		return nil
	})
	return v, v != nil
}

// PutCommandState stores a processed command's state (its signed envelope) so a retained
// command delivered again after a restart is answered, not executed twice.
func (s *Store) PutCommandState(id protocol.ID, state []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bCommands).Put(id[:], state) })
}

// Bucket-level access for packages that keep their own small durable maps (paired
// tablets, PAD history): Put, Get, Delete and ForEach on a named bucket.
func (s *Store) Put(bucket string, key, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketName(bucket)).Put(key, value) })
}

// Get returns a copy of the value at key in bucket.
func (s *Store) GetKey(bucket string, key []byte) ([]byte, bool) {
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketName(bucket)).Get(key))
		return nil
	})
	return v, v != nil
}

// Delete removes key from bucket.
func (s *Store) Delete(bucket string, key []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketName(bucket)).Delete(key) })
}

// ForEach calls fn for every key of bucket in order.
func (s *Store) ForEach(bucket string, fn func(k, v []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return tx.Bucket(bucketName(bucket)).ForEach(fn) })
}

func bucketName(name string) []byte {
	switch name {
	case "commands":
		return bCommands
	case "tablets":
		return bTablets
	case "pad":
		return bPAD
	}
	panic("store: unknown bucket " + name)
}

// Exists reports whether a database file exists in dir.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "captura.db"))
	return err == nil
}
