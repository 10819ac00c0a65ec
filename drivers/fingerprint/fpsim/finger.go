package fpsim

import (
	"fmt"
	"sync"
	"time"
)

// FingerMode says who moves the simulated finger.
type FingerMode int

const (
	// FingerAuto: the finger arrives ArriveDelay after the host starts asking for it
	// and lifts LiftDelay after the host has uploaded FramesPerPlacement images, so a
	// whole capture session runs unattended.
	FingerAuto FingerMode = iota
	// FingerManual: the finger moves only on Place and Lift.
	FingerManual
	// FingerPeriodic: on the sensor for On, off for Off, over and over.
	FingerPeriodic
)

// ParseFingerMode parses "auto", "manual" or "periodic".
func ParseFingerMode(s string) (FingerMode, error) {
	switch s {
	case "auto", "":
		return FingerAuto, nil
	case "manual":
		return FingerManual, nil
	case "periodic":
		return FingerPeriodic, nil
	}
	return 0, fmt.Errorf("fpsim: unknown finger mode %q (want auto, manual or periodic)", s)
}

func (m FingerMode) String() string {
	switch m {
	case FingerAuto:
		return "auto"
	case FingerManual:
		return "manual"
	case FingerPeriodic:
		return "periodic"
	}
	return fmt.Sprintf("FingerMode(%d)", int(m))
}

// FingerConfig configures the finger. Zero durations take the defaults shown.
type FingerConfig struct {
	Mode               FingerMode
	ArriveDelay        time.Duration // auto: 400 ms after the first presence query
	LiftDelay          time.Duration // auto: 150 ms after the last upload
	FramesPerPlacement int           // auto: 1 upload per placement
	// MaxDwell (auto): a person keeps a finger on the sensor this long at most, uploads
	// or not — the host may have died mid-placement. Zero: until the uploads are done.
	MaxDwell time.Duration
	// Patience (auto): a person whose finger is on the sensor and has had no image
	// uploaded lifts it after the host has asked this many times whether a finger is
	// there (default 30: 3-10 s of polling, by the module's capture time; negative:
	// never). A station that polls without taking an image is waiting for the finger
	// to go (its "lift" answer may have been lost on the line) or has given up. During
	// an upload the host asks nothing, so slow lines do not count against it.
	Patience int
	On, Off  time.Duration // periodic: 3 s on, 2 s off
}

// Finger is the simulated finger. Placements are numbered from 0; frames (images taken
// during one placement) from 0 too.
type Finger struct {
	mu        sync.Mutex
	cfg       FingerConfig
	present   bool
	placement int // current or last placement, -1 before the first
	frame     int // images taken during the current placement
	uploads   int
	// uploadedFrame is the number of captures when an image was last uploaded: the
	// image uploaded is the latest capture's, so an upload at the same count is a
	// re-read of it.
	uploadedFrame int
	idleQueries   int // presence queries since the placement or its last upload
	arriveAt      time.Time
	liftAt        time.Time
	placedAt      time.Time
	start         time.Time
	now           func() time.Time
}

// NewFinger makes a finger; unpaced makes the auto delays zero.
func NewFinger(cfg FingerConfig, unpaced bool) *Finger {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
		if unpaced && cfg.Mode == FingerAuto {
			*d = time.Microsecond
		}
	}
	def(&cfg.ArriveDelay, 400*time.Millisecond)
	def(&cfg.LiftDelay, 150*time.Millisecond)
	if cfg.FramesPerPlacement <= 0 {
		cfg.FramesPerPlacement = 1
	}
	if cfg.Patience == 0 {
		cfg.Patience = 30
	}
	if cfg.On <= 0 {
		cfg.On = 3 * time.Second
	}
	if cfg.Off <= 0 {
		cfg.Off = 2 * time.Second
	}
	return &Finger{cfg: cfg, placement: -1, now: time.Now, start: time.Now()}
}

// Mode is the finger's mode.
func (f *Finger) Mode() FingerMode { return f.cfg.Mode }

// Present is the module's view of the sensor: is a finger on it now? In auto mode a
// query while no finger is there (and none is coming) makes one arrive ArriveDelay later.
func (f *Finger) Present() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.presentLocked()
}

func (f *Finger) presentLocked() bool {
	now := f.now()
	switch f.cfg.Mode {
	case FingerPeriodic:
		period := f.cfg.On + f.cfg.Off
		n := int(now.Sub(f.start) / period)
		on := now.Sub(f.start)%period < f.cfg.On
		if on && (!f.present || n != f.placement) {
			f.placement, f.frame = n, 0
		}
		f.present = on
	case FingerAuto:
		lift := f.present && !f.liftAt.IsZero() && !now.Before(f.liftAt)
		dwelt := f.present && f.cfg.MaxDwell > 0 && !now.Before(f.placedAt.Add(f.cfg.MaxDwell))
		if f.present {
			f.idleQueries++
		}
		bored := f.present && f.cfg.Patience > 0 && f.idleQueries > f.cfg.Patience
		if lift || dwelt || bored {
			f.present, f.liftAt = false, time.Time{}
		}
		if !f.present {
			if f.arriveAt.IsZero() {
				f.arriveAt = now.Add(f.cfg.ArriveDelay)
			} else if !now.Before(f.arriveAt) {
				f.arriveAt = time.Time{}
				f.place()
			}
		}
	}
	return f.present
}

func (f *Finger) place() {
	if !f.present {
		f.present = true
		f.placement++
		f.frame, f.uploads, f.uploadedFrame, f.idleQueries = 0, 0, 0, 0
		f.liftAt = time.Time{}
		f.placedAt = f.now()
	}
}

// Place puts the finger on the sensor (a new placement if it was off).
func (f *Finger) Place() {
	f.mu.Lock()
	f.place()
	f.arriveAt = time.Time{}
	f.mu.Unlock()
}

// Lift takes the finger off.
func (f *Finger) Lift() {
	f.mu.Lock()
	f.present = false
	f.liftAt, f.arriveAt = time.Time{}, time.Time{}
	f.mu.Unlock()
}

// Capture is called when the module takes an image: it reports whether a finger is there
// and, if so, which placement and frame the image is.
func (f *Finger) Capture() (placement, frame int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.presentLocked() {
		return 0, 0, false
	}
	placement, frame = f.placement, f.frame
	f.frame++
	return placement, frame, true
}

// Uploaded is called when the module has sent an image to the host. In auto mode the
// finger lifts LiftDelay after the FramesPerPlacement-th image of a placement has been
// uploaded. Sending the same image again (a driver that reads every image twice to
// verify it, as the GT-521 driver does, or a retry) is not a new image: the person is
// still waiting for the next beep.
func (f *Finger) Uploaded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg.Mode != FingerAuto || !f.present || f.uploadedFrame == f.frame {
		return
	}
	f.uploadedFrame = f.frame
	f.uploads++
	f.idleQueries = 0
	if f.uploads >= f.cfg.FramesPerPlacement && f.liftAt.IsZero() {
		f.liftAt = f.now().Add(f.cfg.LiftDelay)
	}
}

// Unplugged forgets a pending arrival (the module lost power; the person stays).
func (f *Finger) Unplugged() {
	f.mu.Lock()
	f.arriveAt = time.Time{}
	f.mu.Unlock()
}

// Placements is the number of placements so far.
func (f *Finger) Placements() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.placement + 1
}
