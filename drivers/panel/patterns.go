package panel

import (
	"fmt"
	"strings"
	"time"
)

// State is what the station shows on its status LED and buzzer.
type State int

// Panel states.
const (
	Idle      State = iota // ready, waiting for a capture
	Pairing                // the pairing window is open
	Capturing              // a capture is in progress
	Success                // an item was captured
	Error                  // something failed; the technician should look
	Offline                // no connection to the broker
)

var stateNames = []string{"idle", "pairing", "capturing", "success", "error", "offline"}

// AllStates lists the states in order.
func AllStates() []State { return []State{Idle, Pairing, Capturing, Success, Error, Offline} }

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ParseState parses a state name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if strings.EqualFold(name, n) {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("panel: unknown state %q", name)
}

// Color is a colour of the status RGB LED: a set of the red, green and blue lines.
type Color uint8

// Colours of the status LED.
const (
	Off     Color = 0
	Red     Color = 1
	Green   Color = 2
	Blue    Color = 4
	Yellow        = Red | Green
	Cyan          = Green | Blue
	Magenta       = Red | Blue
	White         = Red | Green | Blue
)

func (c Color) String() string {
	switch c {
	case Off:
		return "off"
	case Red:
		return "red"
	case Green:
		return "green"
	case Blue:
		return "blue"
	case Yellow:
		return "yellow"
	case Cyan:
		return "cyan"
	case Magenta:
		return "magenta"
	case White:
		return "white"
	}
	return fmt.Sprintf("Color(%d)", uint8(c))
}

// LEDStep shows Color for D. A pattern's steps repeat; a single step with D == 0 is a
// steady colour.
type LEDStep struct {
	Color Color
	D     time.Duration
}

// BuzzStep sounds (or not) for D. A buzzer pattern plays once on entering its state.
type BuzzStep struct {
	On bool
	D  time.Duration
}

// Pattern is what a state shows.
type Pattern struct {
	LED  []LEDStep
	Buzz []BuzzStep
}

// Patterns maps every state to its LED and buzzer pattern. The colours follow the usual
// appliance conventions: green is fine, amber is busy, blue is pairing, red is wrong.
var Patterns = map[State]Pattern{
	Idle:      {LED: []LEDStep{{Green, 150 * time.Millisecond}, {Off, 2850 * time.Millisecond}}},
	Pairing:   {LED: []LEDStep{{Blue, 500 * time.Millisecond}, {Off, 500 * time.Millisecond}}, Buzz: []BuzzStep{{true, 80 * time.Millisecond}}},
	Capturing: {LED: []LEDStep{{Yellow, 0}}, Buzz: []BuzzStep{{true, 40 * time.Millisecond}}},
	Success:   {LED: []LEDStep{{Green, 0}}, Buzz: []BuzzStep{{true, 80 * time.Millisecond}, {false, 80 * time.Millisecond}, {true, 80 * time.Millisecond}}},
	Error:     {LED: []LEDStep{{Red, 150 * time.Millisecond}, {Off, 150 * time.Millisecond}}, Buzz: []BuzzStep{{true, 600 * time.Millisecond}}},
	Offline:   {LED: []LEDStep{{Red, 100 * time.Millisecond}, {Off, 1900 * time.Millisecond}}},
}

// forever stands for "no further change".
const forever = time.Duration(1<<63 - 1)

// ledAt returns the LED colour elapsed after entering a pattern and how long it stays.
func ledAt(steps []LEDStep, elapsed time.Duration) (Color, time.Duration) {
	if len(steps) == 0 {
		return Off, forever
	}
	var period time.Duration
	for _, s := range steps {
		if s.D <= 0 {
			if len(steps) == 1 {
				return s.Color, forever
			}
			continue
		}
		period += s.D
	}
	if period == 0 {
		return steps[0].Color, forever
	}
	t := elapsed % period
	for _, s := range steps {
		if s.D <= 0 {
			continue
		}
		if t < s.D {
			return s.Color, s.D - t
		}
		t -= s.D
	}
	return Off, forever // unreachable: t < period
}

// buzzAt returns whether the buzzer sounds elapsed after entering a pattern and how long
// that lasts.
func buzzAt(steps []BuzzStep, elapsed time.Duration) (bool, time.Duration) {
	t := elapsed
	for _, s := range steps {
		if t < s.D {
			return s.On, s.D - t
		}
		t -= s.D
	}
	return false, forever
}
