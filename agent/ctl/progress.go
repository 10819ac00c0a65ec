package ctl

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/captura-claim/captura/protocol"
)

// progressPrinter writes a session's progress as a technician reads it: a line per
// attempt with a quality bar, the hints, and each item's result.
type progressPrinter struct {
	mu        sync.Mutex
	w         io.Writer
	lastHints string // face guidance is printed when it changes
}

func itemName(mod string, pos protocol.FingerPos) string {
	if mod == protocol.ModFace {
		return "face"
	}
	return pos.String()
}

// bar draws a 0-100 score as ten cells.
func bar(score uint) string {
	n := int(score+5) / 10
	return strings.Repeat("█", n) + strings.Repeat("·", 10-n)
}

func (p *progressPrinter) event(e *protocol.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := itemName(e.Mod, e.Pos)
	hints := ""
	if len(e.Hints) > 0 {
		hints = "  → " + strings.Join(e.Hints, "; ")
	}
	switch e.Event {
	case protocol.EvSessionStart:
		fmt.Fprintf(p.w, "session started: %d items\n", e.Total)
	case protocol.EvItemStart:
		fmt.Fprintf(p.w, "[%d/%d] %s\n", e.Done+1, e.Total, name)
	case protocol.EvWaitFinger:
		if e.Mod == protocol.ModFace {
			if hints != "" && hints != p.lastHints {
				fmt.Fprintf(p.w, "  %-13s %s\n", name, strings.TrimPrefix(hints, "  "))
			}
			p.lastHints = hints
			return
		}
		fmt.Fprintf(p.w, "  %-13s attempt %d: place the finger\n", name, e.Attempt)
	case protocol.EvAttempt:
		if e.Score == nil {
			fmt.Fprintf(p.w, "  %-13s no image%s\n", name, hints)
			return
		}
		verdict := "below threshold"
		if e.Pass != nil && *e.Pass {
			verdict = "pass"
		}
		fmt.Fprintf(p.w, "  %-13s attempt %d: quality %3d %s %s%s\n", name, e.Attempt, *e.Score, bar(*e.Score), verdict, hints)
	case protocol.EvPADAlarm:
		fmt.Fprintf(p.w, "  %-13s ALARM possible presentation attack (PAD %.2f): the sample is kept and recorded\n", name, deref(e.PAD))
	case protocol.EvItemDone:
		if e.Message != "" {
			fmt.Fprintf(p.w, "  %-13s %s\n", name, e.Message)
			return
		}
		fmt.Fprintf(p.w, "  %-13s done: attempt %d kept, quality %d\n", name, e.Attempt, derefU(e.Score))
	case protocol.EvItemMissing:
		fmt.Fprintf(p.w, "  %-13s missing: %s\n", name, e.Message)
	case protocol.EvSessionDone:
		fmt.Fprintf(p.w, "session done: %d items\n", e.Total)
	case protocol.EvSessionFail:
		fmt.Fprintf(p.w, "session failed: %s\n", e.Message)
	case protocol.EvSessionAbort:
		fmt.Fprintln(p.w, "session cancelled")
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func derefU(u *uint) uint {
	if u == nil {
		return 0
	}
	return *u
}

func sortStrings(s []string) { sort.Strings(s) }
