package panel

import (
	"fmt"
	"time"
)

// EventKind tells button events apart.
type EventKind int

// Button events.
const (
	ShortPress EventKind = iota + 1 // released before the long-press time
	LongPress                       // held for the long-press time (sent while still held)
)

func (k EventKind) String() string {
	switch k {
	case ShortPress:
		return "short press"
	case LongPress:
		return "long press"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a debounced button event.
type Event struct {
	Kind EventKind
	At   time.Time     // when the press began (first edge of its bounce)
	Held time.Duration // how long it was held (for LongPress: at least Config.LongPress)
}

// debouncer turns raw edges and level reads into press events. It is a pure state
// machine over times from the clock: the caller reports each edge (edge) and, after every
// wait, the current level (settle), and waits no longer than deadline.
type debouncer struct {
	debounce, long time.Duration

	pressed    bool // the stable (debounced) state
	settling   bool // edges seen, waiting for quiet
	settleAt   time.Time
	burstStart time.Time
	pressAt    time.Time
	longSent   bool
}

// edge records an edge at now.
func (b *debouncer) edge(now time.Time) {
	if !b.settling {
		b.settling = true
		b.burstStart = now
	}
	b.settleAt = now.Add(b.debounce)
}

// settle is called at now with the line's level (pressed or not); it returns the events
// due by now.
func (b *debouncer) settle(now time.Time, pressed bool) []Event {
	var evs []Event
	if b.settling && !now.Before(b.settleAt) {
		b.settling = false
		if pressed != b.pressed {
			b.pressed = pressed
			if pressed {
				b.pressAt, b.longSent = b.burstStart, false
			} else if !b.longSent {
				held := b.burstStart.Sub(b.pressAt)
				kind := ShortPress
				if held >= b.long {
					kind = LongPress
				}
				evs = append(evs, Event{Kind: kind, At: b.pressAt, Held: held})
			}
		}
	}
	if b.pressed && !b.longSent && !b.settling && now.Sub(b.pressAt) >= b.long {
		b.longSent = true
		evs = append(evs, Event{Kind: LongPress, At: b.pressAt, Held: now.Sub(b.pressAt)})
	}
	return evs
}

// deadline is when settle must next be called even without an edge; ok is false when
// nothing is pending.
func (b *debouncer) deadline() (t time.Time, ok bool) {
	switch {
	case b.settling:
		return b.settleAt, true
	case b.pressed && !b.longSent:
		return b.pressAt.Add(b.long), true
	}
	return time.Time{}, false
}
