package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// fingerAttempt waits for a finger, captures it, checks PAD and quality, and applies the
// sequence check. An error means no sample was taken (not an attempt).
func (s *Session) fingerAttempt(ctx context.Context, it Item, n int) (*attempt, error) {
	r, err := s.deps.Reader()
	if err != nil {
		return nil, err
	}
	// A finger still on the sensor from the previous attempt must lift first, or the
	// same placement would be captured twice.
	lctx, cancel := context.WithTimeout(ctx, s.cfg.FingerTimeout)
	err = r.WaitLift(lctx)
	cancel()
	if err != nil {
		return nil, s.waitErr(ctx, err, "the finger was not lifted")
	}
	s.guide(GuidePlace)
	s.emit(protocol.Progress{Event: protocol.EvWaitFinger, Mod: it.Mod, Pos: it.Pos, Attempt: uint(n)})
	wctx, cancel := context.WithTimeout(ctx, s.cfg.FingerTimeout)
	err = r.WaitFinger(wctx)
	cancel()
	if err != nil {
		return nil, s.waitErr(ctx, err, "no finger on the sensor")
	}
	s.guide(GuideWorking)
	img, err := r.Capture(ctx)
	switch {
	case err == nil:
	case errors.Is(err, fingerprint.ErrNoFinger):
		return nil, &softError{err: err, hint: "keep the finger on the sensor until the beep"}
	case errors.Is(err, fingerprint.ErrBadImage):
		return nil, &softError{err: err, hint: "place the finger again, flat and centred"}
	default:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("capture failed: %w", err)
	}
	a := &attempt{finger: img, rec: protocol.Attempt{N: uint(n), At: img.Captured.UnixMilli(), Device: r.Info().Model}}
	if a.rec.At <= 0 {
		a.rec.At = s.deps.Now().UnixMilli()
	}
	if s.deps.FingerPAD != nil {
		pad, err := s.deps.FingerPAD.AssessFinger(ctx, r, img)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("presentation attack check failed: %w", err)
		}
		a.rec.PAD = pad
	}
	q, err := s.deps.Quality.AssessFinger(img)
	if err != nil {
		return nil, fmt.Errorf("quality check failed: %w", err)
	}
	a.rec.Q = q.Quality
	a.native = q.Native
	a.rec.Q.Pass = q.Usable && q.Quality.Score >= s.threshold(it)
	if !a.rec.Q.Pass {
		a.hints = q.Hints // guidance matters when the attempt must be repeated
	}
	a.minutiae = q.Minutiae
	a.usable = q.Usable
	if other, same := s.sameAs(it, a); same {
		// Kept as a failed attempt: the technician sees why and may override it (a false
		// alarm) or have the right finger presented.
		a.rec.Q.Pass = false
		a.hints = append([]string{fmt.Sprintf("sequence check: this looks like the %s, already captured; present the %s", other, it)}, a.hints...)
	}
	s.emitAttempt(it, a)
	return a, nil
}

// waitErr turns a failed wait into the reason given to the technician.
func (s *Session) waitErr(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s within %s", what, s.cfg.FingerTimeout)
	}
	return fmt.Errorf("reader: %w", err)
}

func (s *Session) threshold(it Item) uint {
	if s.cfg.Thresholds == nil {
		return 0
	}
	return s.cfg.Thresholds(it)
}

// sameAs applies the sequence check against the other fingers' kept attempts.
func (s *Session) sameAs(it Item, a *attempt) (Item, bool) {
	if s.cfg.SameFinger == nil || len(a.minutiae) == 0 {
		return Item{}, false
	}
	for other, st := range s.state {
		if other == it || other.Mod != protocol.ModFinger || len(st.attempts) == 0 {
			continue
		}
		if s.cfg.SameFinger(a.minutiae, st.attempts[bestOf(st.attempts)].minutiae) {
			return other, true
		}
	}
	return Item{}, false
}

func (s *Session) emitAttempt(it Item, a *attempt) {
	score, pass := a.rec.Q.Score, a.rec.Q.Pass
	s.emit(protocol.Progress{Event: protocol.EvAttempt, Mod: it.Mod, Pos: it.Pos, Attempt: a.rec.N,
		Score: &score, Pass: &pass, Hints: a.hints})
	if a.rec.PAD != nil && a.rec.PAD.Decision == protocol.PADAttack {
		// The technician sees the alarm; the applicant's panel shows nothing of it.
		padScore := a.rec.PAD.Score
		s.emit(protocol.Progress{Event: protocol.EvPADAlarm, Mod: it.Mod, Pos: it.Pos, Attempt: a.rec.N, PAD: &padScore,
			Message: "possible presentation attack; the sample is kept and recorded"})
	}
}

// faceAttempt runs one auto-capture of the face.
func (s *Session) faceAttempt(ctx context.Context, it Item, n int) (*attempt, error) {
	if s.deps.Face == nil {
		return nil, ErrNoCamera
	}
	s.guide(GuidePlace)
	fctx, cancel := context.WithTimeout(ctx, s.cfg.FaceTimeout)
	defer cancel()
	res, err := s.deps.Face.CaptureFace(fctx, func(h []string) {
		s.emit(protocol.Progress{Event: protocol.EvWaitFinger, Mod: it.Mod, Attempt: uint(n), Hints: h})
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("face capture: %w", err)
	}
	a := &attempt{face: res.Record, usable: len(res.Record) > 0, native: res.Native, hints: res.Hints,
		rec: protocol.Attempt{N: uint(n), At: s.deps.Now().UnixMilli(), Q: res.Quality, PAD: res.PAD, Device: res.Device}}
	a.rec.Q.Pass = a.usable && res.Quality.Pass && res.Quality.Score >= s.threshold(it)
	s.emitAttempt(it, a)
	return a, nil
}
