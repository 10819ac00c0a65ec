package r30x

import (
	"math/rand/v2"
	"testing"
)

// TestPlaceNeverMisplaces builds upload streams of n packets, loses random bytes in them
// (which shifts every later offset), keeps the packets a receiver could still verify and
// checks that place never gives a packet an index other than its true one.
func TestPlaceNeverMisplaces(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 3000; trial++ {
		P := 32 << r.IntN(4)
		n := 1 + r.IntN(40)
		stride := int64(P + Overhead)
		ackEnd := int64(12 + r.IntN(5))
		type truth struct {
			rec record
			k   int
		}
		var kept []truth
		off := ackEnd
		lossRate := []float64{0, 0.001, 0.01, 0.05}[r.IntN(4)]
		for k := 0; k < n; k++ {
			pid := byte(PIDData)
			if k == n-1 {
				pid = PIDEndData
			}
			lost := 0
			for i := int64(0); i < stride; i++ {
				if r.Float64() < lossRate {
					lost++
				}
			}
			// A packet that lost bytes fails its checksum: the receiver drops it, and
			// the bytes it lost are missing from every later offset.
			if lost == 0 {
				kept = append(kept, truth{record{start: off, pid: pid, data: make([]byte, P)}, k})
			}
			off += stride - int64(lost)
		}
		recs := make([]record, len(kept))
		for i, k := range kept {
			recs[i] = k.rec
		}
		idx, conflict := place(recs, ackEnd, stride, n)
		for i, k := range idx {
			if k >= 0 && k != kept[i].k {
				t.Fatalf("trial %d: record %d placed at %d, truly %d (P=%d n=%d loss=%g conflict=%v)", trial, i, k, kept[i].k, P, n, lossRate, conflict)
			}
		}
		if lossRate == 0 {
			for i, k := range idx {
				if k != kept[i].k {
					t.Fatalf("trial %d: lossless stream: record %d not placed", trial, i)
				}
			}
		}
	}
}

func TestWinner(t *testing.T) {
	tests := []struct {
		votes map[string]int
		want  string
		ok    bool
	}{
		{map[string]int{"a": 1}, "", false},
		{map[string]int{"a": 2}, "a", true},
		{map[string]int{"a": 2, "b": 1}, "", false},
		{map[string]int{"a": 3, "b": 1}, "a", true},
		{map[string]int{"a": 2, "b": 2}, "", false},
		{map[string]int{"a": 1, "b": 4, "c": 2}, "b", true},
	}
	for _, tc := range tests {
		w, ok := winner(tc.votes)
		if ok != tc.ok || (ok && w != tc.want) {
			t.Errorf("winner(%v) = %q, %v; want %q, %v", tc.votes, w, ok, tc.want, tc.ok)
		}
	}
}
