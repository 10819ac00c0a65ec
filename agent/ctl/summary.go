package ctl

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/captura-claim/captura/protocol"
)

// WriteRecordSummary prints what a technician, gateway operator or auditor may see of a
// record: identifiers, times, each item's quality and PAD, exceptions and the sealed
// body's size. Never biometric content.
func WriteRecordSummary(w io.Writer, r *protocol.Record, env *protocol.Envelope) {
	fmt.Fprintf(w, "record    %s\n", r.ID)
	fmt.Fprintf(w, "station   %s/%s  seq %d  prev %s\n", r.Centre, r.Station, r.Seq, short(r.Prev.String()))
	fmt.Fprintf(w, "txn       %s  operator %s  software %q\n", r.Txn, r.Operator, r.Software)
	st, en := time.UnixMilli(r.Started).UTC(), time.UnixMilli(r.Ended).UTC()
	fmt.Fprintf(w, "time      %s .. %s (%s)\n", st.Format(time.RFC3339), en.Format(time.RFC3339), en.Sub(st).Round(time.Second))
	if env != nil {
		fmt.Fprintf(w, "envelope  sha256 %s  key %s\n", env.Hash, env.KeyID)
	}
	fmt.Fprintf(w, "items     %d captured, %d missing\n", len(r.Items), len(r.Exceptions))
	for _, it := range r.Items {
		fmt.Fprintf(w, "  %s\n", ItemLine(&it))
	}
	for _, e := range r.Exceptions {
		fmt.Fprintf(w, "  %-13s missing: %s (by %s)\n", e.Pos, e.Reason, e.By)
	}
	if si, err := protocol.InspectSealed(r.Body); err == nil {
		fmt.Fprintf(w, "body      sealed %s to key %s, %d bytes\n", si.Suite, si.KeyID, si.Ciphertext)
	}
}

// ItemLine is one item's quality and PAD in a line.
func ItemLine(it *protocol.Item) string {
	name := itemName(it.Mod, it.Pos)
	a := it.Attempts[it.Chosen]
	var b strings.Builder
	verdict := "pass"
	if !a.Q.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%-13s %s %3d %s  attempt %d of %d", name, a.Q.Alg, a.Q.Score, verdict, a.N, len(it.Attempts))
	if it.Forced != nil {
		fmt.Fprintf(&b, "  forced by %s: %q", it.Forced.By, it.Forced.Reason)
	}
	if a.PAD != nil {
		fmt.Fprintf(&b, "  PAD %.2f %s", a.PAD.Score, a.PAD.Decision)
		if len(a.PAD.Cues) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(a.PAD.Cues, " "))
		}
	}
	return b.String()
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
