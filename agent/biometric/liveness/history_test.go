package liveness

import (
	"bytes"
	"errors"
	"image"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
)

// The agent's store is the history's durable map.
var _ KV = (*store.Store)(nil)

// memKV is a KV in memory with the store's semantics (copies, ordered iteration).
type memKV struct {
	m    map[string][]byte
	fail bool
}

func newKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Put(b string, key, v []byte) error {
	if k.fail {
		return errors.New("disk full")
	}
	k.m[b+"/"+string(key)] = bytes.Clone(v)
	return nil
}
func (k *memKV) GetKey(b string, key []byte) ([]byte, bool) {
	v, ok := k.m[b+"/"+string(key)]
	return bytes.Clone(v), ok
}
func (k *memKV) Delete(b string, key []byte) error { delete(k.m, b+"/"+string(key)); return nil }
func (k *memKV) ForEach(b string, fn func(k, v []byte) error) error {
	var keys []string
	for key := range k.m {
		if len(key) > len(b) && key[:len(b)+1] == b+"/" {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		if err := fn([]byte(key[len(b)+1:]), k.m[key]); err != nil {
			return err
		}
	}
	return nil
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// placements renders the R307 capture of placements of live fingers.
func placements(t testing.TB, seed uint64, n, perFinger int) []*image.Gray {
	t.Helper()
	live := &presentations.Live{Seed: seed, PerFinger: perFinger, Timing: presentations.R30xTiming(256, 288, 128, 115200, 300*time.Millisecond)}
	var out []*image.Gray
	for p := 0; p < n; p++ {
		img, err := live.Frame(p, 1)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r307(img))
	}
	return out
}

func TestHistoryExactAndNear(t *testing.T) {
	imgs := placements(t, 3, 4, 2) // fingers 0 and 1, two placements each
	h, err := NewHistory(nil, 100, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Add(h.Prepare(imgs[0])); err != nil {
		t.Fatal(err)
	}
	// The same bytes.
	if m := h.Lookup(h.Prepare(imgs[0])); !m.Exact || !m.Near {
		t.Errorf("identical image: %+v", m)
	}
	// A near copy: shifted by 2 pixels, another tone curve, noise.
	near := image.NewGray(imgs[0].Bounds())
	for y := 0; y < 288; y++ {
		for x := 0; x < 256; x++ {
			sx, sy := min(max(x-2, 0), 255), min(max(y+1, 0), 287)
			v := float64(imgs[0].Pix[sy*256+sx])
			v = 255*math.Pow(v/255, 0.9) + float64((x*7+y*13)%9) - 4
			near.Pix[y*256+x] = uint8(math.Max(0, math.Min(255, v)))
		}
	}
	m := h.Lookup(h.Prepare(near))
	if m.Exact || !m.Near || m.Shift != [2]int{2, -1} {
		t.Errorf("near copy: %+v", m)
	}
	// The same finger placed again, and another finger: no match.
	for i, img := range imgs[1:] {
		if m := h.Lookup(h.Prepare(img)); m.Exact || m.Near {
			t.Errorf("placement %d matched placement 0: %+v", i+1, m)
		}
	}
	// Another size never matches.
	small := image.NewGray(image.Rect(0, 0, 192, 192))
	if m := h.Lookup(h.Prepare(small)); m.Exact || m.Near {
		t.Errorf("other size matched: %+v", m)
	}
}

// crafted returns n distinct crafted fingerprint-like images (fast to make).
func crafted(n int) []*image.Gray {
	var out []*image.Gray
	for i := 0; i < n; i++ {
		out = append(out, ridges(256, 288, 0.2+0.4*float64(i), float64(3*i), 0, 3, uint64(i)))
	}
	return out
}

func TestHistoryKeyed(t *testing.T) {
	img := crafted(1)[0]
	a, _ := NewHistory(nil, 10, testKey)
	b, _ := NewHistory(nil, 10, bytes.Repeat([]byte{7}, 32))
	pa, pb := a.Prepare(img), b.Prepare(img)
	if pa.Hashes.Exact == pb.Hashes.Exact || pa.Hashes.Sign == pb.Hashes.Sign {
		t.Error("hashes do not depend on the key")
	}
	// Hashes made under another key do not match.
	if err := a.Add(pb); err != nil {
		t.Fatal(err)
	}
	if m := a.Lookup(pa); m.Exact || m.Near {
		t.Errorf("match across keys: %+v", m)
	}
}

func TestHistoryDurableAndBounded(t *testing.T) {
	kv := newKV()
	h, err := NewHistory(kv, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := kv.GetKey("pad", []byte("key"))
	if !ok || len(key) != 32 {
		t.Fatal("no key stored")
	}
	imgs := crafted(4)
	for _, img := range imgs {
		if err := h.Add(h.Prepare(img)); err != nil {
			t.Fatal(err)
		}
	}
	if h.Len() != 3 || len(kv.m) != 4 { // three entries and the key
		t.Fatalf("len %d, %d stored values", h.Len(), len(kv.m))
	}
	for k, v := range kv.m {
		if k != "pad/key" && len(v) != hashesLen {
			t.Errorf("entry %q of %d bytes", k, len(v))
		}
	}
	// Reopened with the same store: same key, same entries, the oldest gone.
	h2, err := NewHistory(kv, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := h2.Lookup(h2.Prepare(imgs[0])); m.Exact {
		t.Error("evicted entry still matches")
	}
	if m := h2.Lookup(h2.Prepare(imgs[3])); !m.Exact {
		t.Error("entry lost over a reopen")
	}
	// A smaller size on reopen trims; a corrupt entry is dropped.
	kv.m["pad/e\x00\x00\x00\x00\x00\x00\x00\x63"] = []byte("garbage")
	h3, err := NewHistory(kv, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h3.Len() != 1 || len(kv.m) != 2 {
		t.Errorf("after reopen at size 1: len %d, %d stored values", h3.Len(), len(kv.m))
	}
	// Size 0: nothing kept.
	h0, _ := NewHistory(nil, 0, testKey)
	h0.Add(h0.Prepare(imgs[0]))
	if h0.Len() != 0 || h0.Lookup(h0.Prepare(imgs[0])).Exact {
		t.Error("disabled history remembers")
	}
	// A store that fails is reported.
	kv.fail = true
	if err := h2.Add(h2.Prepare(imgs[1])); err == nil {
		t.Error("failed write not reported")
	}
	if _, err := NewHistory(nil, -1, nil); err == nil {
		t.Error("negative size accepted")
	}
}

// TestHistoryKeptOutsideKeyErasesStoredSecret: a station passes its secret in (kept
// out of the database); a history that an earlier version keyed by a secret stored
// beside its entries loses both, and nothing of the secret is written to the store.
func TestHistoryKeptOutsideKeyErasesStoredSecret(t *testing.T) {
	kv := newKV()
	old, err := NewHistory(kv, 5, nil) // the earlier way: secret stored in kv
	if err != nil {
		t.Fatal(err)
	}
	imgs := crafted(2)
	for _, img := range imgs {
		if err := old.Add(old.Prepare(img)); err != nil {
			t.Fatal(err)
		}
	}
	kv.m["other/x"] = []byte("another bucket") // must survive
	h, err := NewHistory(kv, 5, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kv.GetKey("pad", []byte("key")); ok {
		t.Fatal("the stored secret survived")
	}
	if h.Len() != 0 || len(kv.m) != 1 {
		t.Fatalf("after the switch: %d entries, stored %v; want none but the other bucket", h.Len(), kv.m)
	}
	if err := h.Add(h.Prepare(imgs[0])); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv.m {
		if bytes.Contains(v, testKey) {
			t.Fatalf("secret written to the store under %q", k)
		}
	}
	// Reopened with the same outside secret: its entries hold.
	h2, _ := NewHistory(kv, 5, testKey)
	if !h2.Lookup(h2.Prepare(imgs[0])).Exact {
		t.Fatal("entry keyed by the outside secret lost over a reopen")
	}
}

func TestHashesRoundTrip(t *testing.T) {
	h, _ := NewHistory(nil, 1, testKey)
	p := h.Prepare(crafted(1)[0])
	b := encodeHashes(p.Hashes)
	got, err := decodeHashes(b)
	if err != nil || got != p.Hashes {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, b[:10], append(bytes.Clone(b), 0), append([]byte{9}, b[1:]...)} {
		if _, err := decodeHashes(bad); err == nil {
			t.Errorf("decoded %d bad bytes", len(bad))
		}
	}
}

func FuzzDecodeHashes(f *testing.F) {
	var hs Hashes
	hs.W, hs.H = 256, 288
	hs.Sign[3] = 0xdeadbeef
	f.Add(encodeHashes(hs))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHashes(b)
		if err != nil {
			return
		}
		again, err := decodeHashes(encodeHashes(h))
		if err != nil || again != h {
			t.Fatalf("decode→encode→decode unstable: %v", err)
		}
		if !bytes.Equal(encodeHashes(h), b) {
			t.Fatal("encoding differs from the decoded bytes")
		}
	})
}
