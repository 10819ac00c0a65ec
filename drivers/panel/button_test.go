package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDebouncer(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// A script of edges: at time, level after the edge (true = pressed). The harness calls
	// settle at every edge and at every deadline, as watchButton does.
	type edge struct {
		at      time.Duration
		pressed bool
	}
	tests := []struct {
		name  string
		edges []edge
		end   time.Duration
		want  string
	}{
		{"clean short press", []edge{{ms(0), true}, {ms(300), false}}, ms(1000), "short@0 held 300ms"},
		{"bouncy short press", []edge{{ms(0), true}, {ms(2), false}, {ms(5), true}, {ms(400), false}, {ms(401), true}, {ms(404), false}}, ms(1000), "short@0 held 400ms"},
		{"glitch shorter than debounce", []edge{{ms(100), true}, {ms(105), false}}, ms(1000), ""},
		{"long press sent while held", []edge{{ms(0), true}, {ms(3000), false}}, ms(4000), "long@0 held 2s"},
		{"two presses", []edge{{ms(0), true}, {ms(100), false}, {ms(500), true}, {ms(2600), false}}, ms(3000), "short@0 held 100ms, long@500 held 2s"},
		{"press never released", []edge{{ms(10), true}}, ms(5000), "long@10 held 2s"},
		{"chatter keeps settling", []edge{{ms(0), true}, {ms(15), false}, {ms(30), true}, {ms(45), false}, {ms(60), true}, {ms(300), false}}, ms(1000), "short@0 held 300ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			b := &debouncer{debounce: ms(20), long: 2 * time.Second}
			level := false
			var got []string
			emit := func(evs []Event) {
				for _, e := range evs {
					kind := "short"
					if e.Kind == LongPress {
						kind = "long"
					}
					got = append(got, fmt.Sprintf("%s@%d held %v", kind, e.At.Sub(t0).Milliseconds(), e.Held))
				}
			}
			now := time.Duration(0)
			i := 0
			for now <= tc.end {
				// Next thing to happen: an edge or the debouncer's deadline.
				next := tc.end + 1
				if i < len(tc.edges) {
					next = tc.edges[i].at
				}
				if dl, ok := b.deadline(); ok && dl.Sub(t0) < next {
					now = dl.Sub(t0)
					emit(b.settle(t0.Add(now), level))
					continue
				}
				if i >= len(tc.edges) {
					break
				}
				now = next
				level = tc.edges[i].pressed
				b.edge(t0.Add(now))
				emit(b.settle(t0.Add(now), level))
				i++
			}
			if g := strings.Join(got, ", "); g != tc.want {
				t.Errorf("events %q, want %q", g, tc.want)
			}
		})
	}
}

func TestPatternTable(t *testing.T) {
	for _, s := range AllStates() {
		p, ok := Patterns[s]
		if !ok || len(p.LED) == 0 {
			t.Errorf("state %v has no LED pattern", s)
		}
		if got, err := ParseState(s.String()); err != nil || got != s {
			t.Errorf("ParseState(%q) = %v, %v", s, got, err)
		}
	}
	// Distinct states look distinct at the start.
	seen := map[string]State{}
	for _, s := range AllStates() {
		c, d := ledAt(Patterns[s].LED, 0)
		key := fmt.Sprint(c, d)
		if o, dup := seen[key]; dup {
			t.Errorf("%v and %v start alike (%s)", s, o, key)
		}
		seen[key] = s
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		s     State
		at    time.Duration
		color Color
		left  time.Duration
	}{
		{Pairing, 0, Blue, ms(500)}, {Pairing, ms(499), Blue, ms(1)}, {Pairing, ms(500), Off, ms(500)}, {Pairing, ms(1250), Blue, ms(250)},
		{Capturing, ms(12345), Yellow, forever}, {Success, time.Hour, Green, forever},
		{Error, ms(310), Red, ms(140)}, {Offline, ms(2050), Red, ms(50)}, {Idle, ms(200), Off, ms(2800)},
	} {
		c, left := ledAt(Patterns[tc.s].LED, tc.at)
		if c != tc.color || left != tc.left {
			t.Errorf("%v at %v: %v for %v, want %v for %v", tc.s, tc.at, c, left, tc.color, tc.left)
		}
	}
	for _, tc := range []struct {
		s    State
		at   time.Duration
		on   bool
		left time.Duration
	}{
		{Success, 0, true, ms(80)}, {Success, ms(100), false, ms(60)}, {Success, ms(170), true, ms(70)}, {Success, ms(240), false, forever},
		{Error, ms(599), true, ms(1)}, {Error, ms(600), false, forever}, {Idle, 0, false, forever}, {Offline, 0, false, forever},
	} {
		on, left := buzzAt(Patterns[tc.s].Buzz, tc.at)
		if on != tc.on || left != tc.left {
			t.Errorf("buzzer %v at %v: %v for %v, want %v for %v", tc.s, tc.at, on, left, tc.on, tc.left)
		}
	}
}
