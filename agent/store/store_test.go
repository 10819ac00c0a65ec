package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/captura-claim/captura/protocol"
)

// fakeClock is a wall clock and its synchronisation state (synced unless unsynced).
type fakeClock struct {
	t        time.Time
	unsynced bool
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) synced() bool   { return !c.unsynced }

func open(t *testing.T, dir string, max int64, clk *fakeClock) *Store {
	t.Helper()
	s, err := Open(filepath.Join(dir, "captura.db"), &Opts{MaxBytes: max, Now: clk.now, Synced: clk.synced})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// builder makes envelopes that record their seq and prev, so chaining is checkable.
func builder(size int) (Builder, *[]protocol.Hash) {
	var prevs []protocol.Hash
	return func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
		prevs = append(prevs, prev)
		env := bytes.Repeat([]byte{byte(seq)}, size)
		return protocol.NewID(), env, nil
	}, &prevs
}

func TestAppendChainsAndPersists(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Unix(1795000000, 0)}
	s := open(t, dir, 0, clk)
	b, prevs := builder(100)
	var entries []Entry
	for i := 0; i < 3; i++ {
		e, err := s.Append(KindRecord, b)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if (*prevs)[0] != (protocol.Hash{}) || (*prevs)[1] != entries[0].Hash || (*prevs)[2] != entries[1].Hash {
		t.Fatal("records are not chained by the previous envelope's hash")
	}
	s.Close()

	s = open(t, dir, 0, clk) // reopen: everything is still there
	defer s.Close()
	pend, err := s.Pending(KindRecord)
	if err != nil || len(pend) != 3 || pend[0].Seq != 1 || pend[2].Seq != 3 || pend[1].ID != entries[1].ID {
		t.Fatalf("pending after reopen = %+v, %v", pend, err)
	}
	got, ok, _ := s.Get(KindRecord, 2)
	if !ok || !bytes.Equal(got.Envelope, bytes.Repeat([]byte{2}, 100)) {
		t.Fatal("envelope lost")
	}
	e4, _ := s.Append(KindRecord, b)
	if e4.Seq != 4 || (*prevs)[3] != entries[2].Hash {
		t.Fatalf("after reopen the chain continues at seq %d", e4.Seq)
	}
	// Audit entries have their own chain.
	a, _ := s.Append(KindAudit, b)
	if a.Seq != 1 {
		t.Fatalf("audit seq = %d", a.Seq)
	}
}

func TestAckNeedsTheRightHash(t *testing.T) {
	s := open(t, t.TempDir(), 0, &fakeClock{t: time.Now()})
	defer s.Close()
	b, _ := builder(10)
	e, _ := s.Append(KindRecord, b)
	if _, err := s.Ack(KindRecord, e.ID, protocol.Hash{9}); err == nil {
		t.Fatal("receipt with the wrong hash erased the record")
	}
	if removed, err := s.Ack(KindRecord, e.ID, e.Hash); err != nil || !removed {
		t.Fatalf("ack: %v %v", removed, err)
	}
	if removed, err := s.Ack(KindRecord, e.ID, e.Hash); err != nil || removed {
		t.Fatalf("second ack: %v %v", removed, err)
	}
	st, _ := s.Stats()
	if st.Records != 0 || st.Bytes != 0 || st.LastSeq != 1 {
		t.Fatalf("stats after ack = %+v", st)
	}
}

func TestFullRefusesAndKeepsWhatItHas(t *testing.T) {
	s := open(t, t.TempDir(), 250, &fakeClock{t: time.Now()})
	defer s.Close()
	b, _ := builder(100)
	for i := 0; i < 2; i++ {
		if _, err := s.Append(KindRecord, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Room(100); !errors.Is(err, ErrFull) {
		t.Fatalf("Room = %v, want ErrFull", err)
	}
	if _, err := s.Append(KindRecord, b); !errors.Is(err, ErrFull) {
		t.Fatalf("Append = %v, want ErrFull", err)
	}
	st, _ := s.Stats()
	if st.Records != 2 || st.LastSeq != 2 {
		t.Fatalf("a refused record changed the outbox: %+v", st)
	}
	// Audit entries are small and never refused.
	if _, err := s.Append(KindAudit, b); err != nil {
		t.Fatal(err)
	}
}

// auditBuilder makes the audit entry of an expired record; it fails for the record
// numbered failSeq.
func auditBuilder(failSeq uint64, audited *[]uint64) func(Entry) Builder {
	return func(e Entry) Builder {
		return func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
			if e.Seq == failSeq {
				return protocol.ID{}, nil, errors.New("signer unavailable")
			}
			*audited = append(*audited, e.Seq)
			return protocol.NewID(), []byte(fmt.Sprintf("expired %d", e.Seq)), nil
		}
	}
}

func TestExpireErasesOldRecordsOnly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1795000000, 0)}
	s := open(t, t.TempDir(), 0, clk)
	defer s.Close()
	b, _ := builder(10)
	old, _ := s.Append(KindRecord, b)
	clk.t = clk.t.Add(40 * 24 * time.Hour)
	fresh, _ := s.Append(KindRecord, b)
	var audited []uint64
	gone, err := s.Expire(30*24*time.Hour, auditBuilder(0, &audited))
	if err != nil || len(gone) != 1 || gone[0].ID != old.ID {
		t.Fatalf("expired %+v, %v", gone, err)
	}
	pend, _ := s.Pending(KindRecord)
	if len(pend) != 1 || pend[0].ID != fresh.ID {
		t.Fatalf("pending = %+v", pend)
	}
	// The erasure's audit entry was committed with it.
	aud, _ := s.Pending(KindAudit)
	if len(aud) != 1 || len(audited) != 1 || audited[0] != old.Seq {
		t.Fatalf("audit queue %+v after expiring record %d (audited %v)", aud, old.Seq, audited)
	}
}

// TestExpireAuditFailureErasesNothing: a record is never erased without its audit
// entry; if one cannot be built, the whole expiry is rolled back.
func TestExpireAuditFailureErasesNothing(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1795000000, 0)}
	s := open(t, t.TempDir(), 0, clk)
	defer s.Close()
	b, _ := builder(10)
	s.Append(KindRecord, b)
	second, _ := s.Append(KindRecord, b)
	clk.t = clk.t.Add(40 * 24 * time.Hour)
	var audited []uint64
	if gone, err := s.Expire(30*24*time.Hour, auditBuilder(second.Seq, &audited)); err == nil || len(gone) != 0 {
		t.Fatalf("Expire with a failing audit = %d erased, %v; want an error and nothing erased", len(gone), err)
	}
	pend, _ := s.Pending(KindRecord)
	aud, _ := s.Pending(KindAudit)
	if len(pend) != 2 || len(aud) != 0 {
		t.Fatalf("after a failed expiry: %d records, %d audit entries; want 2 and 0", len(pend), len(aud))
	}
}

// TestExpireWaitsForSynchronisedClock: a station without a real-time clock boots with a
// stale time. Records made then must not be judged by it: no expiry while the clock is
// unsynchronised, and when NTP steps it forward, those records' age counts from then.
func TestExpireWaitsForSynchronisedClock(t *testing.T) {
	stale := time.Unix(1795000000, 0) // what fake-hwclock restored at boot
	clk := &fakeClock{t: stale, unsynced: true}
	dir := t.TempDir()
	s := open(t, dir, 0, clk)
	b, _ := builder(10)
	made, _ := s.Append(KindRecord, b)
	if _, err := s.Expire(time.Hour, nil); !errors.Is(err, ErrClockUnsynced) {
		t.Fatalf("Expire on an unsynchronised clock = %v, want ErrClockUnsynced", err)
	}
	// NTP steps the clock 90 days forward; the station restarts on the way.
	s.Close()
	clk.t, clk.unsynced = stale.Add(90*24*time.Hour), false
	s = open(t, dir, 0, clk)
	defer s.Close()
	synced, _ := s.Append(KindRecord, b)
	gone, err := s.Expire(30*24*time.Hour, nil)
	if err != nil || len(gone) != 0 {
		t.Fatalf("first synchronised expiry erased %d records (%v): a stale boot time made them look old", len(gone), err)
	}
	// From the first synchronised look, the limit runs as usual for both.
	clk.t = clk.t.Add(29 * 24 * time.Hour)
	if gone, _ := s.Expire(30*24*time.Hour, nil); len(gone) != 0 {
		t.Fatalf("erased %d records 29 days after the clock was set", len(gone))
	}
	clk.t = clk.t.Add(2 * 24 * time.Hour)
	gone, err = s.Expire(30*24*time.Hour, nil)
	if err != nil || len(gone) != 2 || gone[0].ID != made.ID || gone[1].ID != synced.ID {
		t.Fatalf("31 days after the clock was set: erased %+v (%v), want both records", gone, err)
	}
}

// TestExpireLooksPastFutureStamps: a record stamped by a clock that ran fast (later
// corrected) must not shield older records behind it from the limit.
func TestExpireLooksPastFutureStamps(t *testing.T) {
	t0 := time.Unix(1795000000, 0)
	clk := &fakeClock{t: t0.Add(365 * 24 * time.Hour)} // a clock a year fast
	s := open(t, t.TempDir(), 0, clk)
	defer s.Close()
	b, _ := builder(10)
	s.Append(KindRecord, b)
	clk.t = t0 // corrected
	old, _ := s.Append(KindRecord, b)
	clk.t = t0.Add(40 * 24 * time.Hour)
	gone, err := s.Expire(30*24*time.Hour, nil)
	if err != nil || len(gone) != 1 || gone[0].ID != old.ID {
		t.Fatalf("expired %+v, %v; want only record %d", gone, err, old.Seq)
	}
}

func TestCountersAndBirth(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0, &fakeClock{t: time.Now()})
	for _, c := range []uint64{1, 5} {
		if err := s.CheckCounter("tab", c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []uint64{5, 4} {
		if err := s.CheckCounter("tab", c); err == nil {
			t.Fatalf("counter %d accepted after 5", c)
		}
	}
	b1, _ := s.NextBirth()
	s.Close()
	s = open(t, dir, 0, &fakeClock{t: time.Now()})
	defer s.Close()
	b2, _ := s.NextBirth()
	if b2 != b1+1 || s.LastCounter("tab") != 5 {
		t.Fatalf("birth %d→%d, counter %d after reopen", b1, b2, s.LastCounter("tab"))
	}
}

func TestBuilderErrorLeavesNoTrace(t *testing.T) {
	s := open(t, t.TempDir(), 0, &fakeClock{t: time.Now()})
	defer s.Close()
	_, err := s.Append(KindRecord, func(uint64, protocol.Hash) (protocol.ID, []byte, error) {
		return protocol.ID{}, nil, fmt.Errorf("sealing failed")
	})
	if err == nil {
		t.Fatal("no error")
	}
	st, _ := s.Stats()
	if st.LastSeq != 0 || st.Records != 0 {
		t.Fatalf("failed build consumed a sequence number: %+v", st)
	}
}

// BenchmarkAppendAck measures outbox throughput with fsync: one ~1.5 MB record committed
// (fsync'd) and acknowledged per op.
func BenchmarkAppendAck(b *testing.B) {
	for _, size := range []int{1536 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "captura.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			env := bytes.Repeat([]byte{1}, size)
			build := func(uint64, protocol.Hash) (protocol.ID, []byte, error) { return protocol.NewID(), env, nil }
			b.SetBytes(int64(size))
			start := time.Now()
			for b.Loop() {
				e, err := s.Append(KindRecord, build)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Ack(KindRecord, e.ID, e.Hash); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
