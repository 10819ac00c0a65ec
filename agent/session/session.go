// Package session runs one applicant's capture session: the items of a capture plan one
// by one (fingers, then the face), up to N attempts each with quality and presentation
// attack checks, the best attempt kept, and the technician's decisions (retry, override
// with a reason, missing finger with a reason, cancel) applied as they arrive.
//
// The session holds biometric samples in memory only; its Result carries the standard
// records the caller seals at once. Progress events carry numbers and hints, never
// image content.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// Errors that end a session.
var (
	ErrCancelled = errors.New("session: cancelled by the technician")
	ErrNoReader  = errors.New("session: no fingerprint reader connected")
	ErrNoCamera  = errors.New("session: no camera connected")
)

// Item is one entry of a capture plan.
type Item struct {
	Mod string             // protocol.ModFinger or protocol.ModFace
	Pos protocol.FingerPos // fingers only
}

func (it Item) String() string {
	if it.Mod == protocol.ModFace {
		return "face"
	}
	return it.Pos.String()
}

// Plan returns the capture plan for a start command: the given fingers (all ten when
// empty) in the standard order, then the face when asked.
func Plan(fingers []protocol.FingerPos, face bool) []Item {
	if len(fingers) == 0 {
		fingers = protocol.AllFingers
	}
	var plan []Item
	for _, p := range fingers {
		plan = append(plan, Item{Mod: protocol.ModFinger, Pos: p})
	}
	if face {
		plan = append(plan, Item{Mod: protocol.ModFace})
	}
	return plan
}

// FingerAssessment is the quality of one finger image.
type FingerAssessment struct {
	Quality  protocol.Quality   // Pass is set by the session from its thresholds
	Native   map[string]float64 // the measures behind the score (sealed in the body)
	Hints    []string           // actionable feedback ("press harder")
	Minutiae []minutiae.Minutia
	// Usable is false when the image cannot be scored at all (blank, too small); the
	// attempt is then kept with score 0.
	Usable bool
}

// FingerQuality scores finger images (NFIQ 2).
type FingerQuality interface {
	AssessFinger(img *fingerprint.Image) (*FingerAssessment, error)
}

// FingerPAD judges a finger presentation. It may take more frames from the reader
// during the same placement. A nil result means "no PAD method available".
type FingerPAD interface {
	AssessFinger(ctx context.Context, r fingerprint.Reader, first *fingerprint.Image) (*protocol.PAD, error)
}

// FaceResult is one face capture attempt.
type FaceResult struct {
	Record  []byte // ISO/IEC 19794-5 face image record of the token image
	Quality protocol.Quality
	Native  map[string]float64 // the checks' values (sealed in the body)
	Hints   []string
	PAD     *protocol.PAD
	Device  string
}

// FaceCapturer takes a face photo: it runs the camera's preview, waits for a good,
// stable face (auto-capture) and returns the best it got within ctx. hint is called with
// live guidance for the technician.
type FaceCapturer interface {
	CaptureFace(ctx context.Context, hint func([]string)) (*FaceResult, error)
}

// Guidance is what the station panel shows the applicant.
type Guidance int

const (
	GuideIdle       Guidance = iota
	GuidePlace               // place the finger / look at the camera
	GuideWorking             // hold still, capturing
	GuideGood                // item done
	GuideRetry               // try again
	GuideSessionEnd          // session finished
	GuideError
)

// Panel guides the applicant (LEDs, buzzer). It never shows quality or PAD results.
type Panel interface{ Guide(Guidance) }

// Config is the capture policy.
type Config struct {
	Attempts      int
	FingerTimeout time.Duration
	FaceTimeout   time.Duration
	Thresholds    func(Item) uint // minimum quality score for an item
	PADThreshold  float64         // finger and face PAD alarms are computed by the PAD methods; kept for the record
	// SameFinger reports whether two templates come from the same finger (sequence
	// check); nil disables the check.
	SameFinger func(a, b []minutiae.Minutia) bool
}

// Deps are the devices and algorithms a session uses.
type Deps struct {
	Reader    func() (fingerprint.Reader, error) // the current reader, from the device supervisor
	Quality   FingerQuality
	FingerPAD FingerPAD // may be nil
	Face      FaceCapturer
	Panel     Panel // may be nil
	Now       func() time.Time
	Log       *slog.Logger
	// Emit publishes a progress event; the session fills in station-independent fields.
	Emit func(protocol.Progress)
}

// Result is a finished session, ready to be sealed and signed.
type Result struct {
	ID         protocol.ID
	Txn        string
	Operator   string
	Started    time.Time
	Ended      time.Time
	Items      []protocol.Item
	Exceptions []protocol.Exception
	Body       []protocol.BodyItem
	// Assessments are every attempt's measures and hints, sealed with Body.
	Assessments []protocol.Assessment
}

// Session is one running capture session.
type Session struct {
	ID       protocol.ID
	Txn      string
	Operator string

	cfg   Config
	deps  Deps
	plan  []Item
	state map[Item]*itemState

	mu       sync.Mutex
	seq      uint64
	current  *Item
	cancelIt context.CancelCauseFunc
	decide   chan Control
	cancel   context.CancelCauseFunc
	missing  map[protocol.FingerPos]protocol.Exception
	retries  []Item
	done     map[Item]bool
}

type itemState struct {
	attempts []attempt
	forced   *protocol.Override
	missing  *protocol.Exception
}

type attempt struct {
	rec      protocol.Attempt
	native   map[string]float64 // sealed with the samples (protocol.Assessment)
	hints    []string           // likewise
	finger   *fingerprint.Image
	minutiae []minutiae.Minutia
	face     []byte
	usable   bool
}

// New prepares a session.
func New(id protocol.ID, txn, operator string, plan []Item, cfg Config, deps Deps) *Session {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Emit == nil {
		deps.Emit = func(protocol.Progress) {}
	}
	if cfg.Attempts < 1 {
		cfg.Attempts = 3
	}
	s := &Session{ID: id, Txn: txn, Operator: operator, cfg: cfg, deps: deps, plan: plan,
		state: map[Item]*itemState{}, decide: make(chan Control, 8),
		missing: map[protocol.FingerPos]protocol.Exception{}, done: map[Item]bool{}}
	for _, it := range plan {
		s.state[it] = &itemState{}
	}
	return s
}

// ControlKind is a technician's decision during a session.
type ControlKind int

const (
	Cancel ControlKind = iota
	Retry
	Override
	Missing
)

// Control is a technician's decision, from a signed command.
type Control struct {
	Kind   ControlKind
	Item   Item
	Reason string
	By     string // tablet id
}

// errControl is the cause with which an item's wait is interrupted by a decision.
type errControl struct{ c Control }

func (e *errControl) Error() string { return "interrupted by the technician" }

// Apply hands a technician's decision to the running session. It returns an error when
// the decision does not fit the session's state (unknown item, override of an item that
// passed, ...); the command then fails with that reason.
func (s *Session) Apply(c Control) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Kind == Cancel {
		if s.cancel != nil {
			s.cancel(ErrCancelled)
		}
		return nil
	}
	st, ok := s.state[c.Item]
	if !ok {
		return fmt.Errorf("%s is not in this session's plan", c.Item)
	}
	switch c.Kind {
	case Missing:
		if c.Item.Mod != protocol.ModFinger {
			return errors.New("only a finger can be marked missing")
		}
		if !protocol.ValidMissingReason(c.Reason) {
			return fmt.Errorf("%q is not amputated, bandaged, damaged or unable", c.Reason)
		}
		if s.done[c.Item] {
			return fmt.Errorf("%s is already captured", c.Item)
		}
		ex := protocol.Exception{Pos: c.Item.Pos, Reason: c.Reason, By: c.By, At: s.deps.Now().UnixMilli()}
		if s.current != nil && *s.current == c.Item {
			s.interrupt(c)
			return nil
		}
		s.missing[c.Item.Pos] = ex
		return nil
	case Override:
		if c.Reason == "" {
			return errors.New("an override needs a reason")
		}
		if len(st.attempts) == 0 {
			return fmt.Errorf("%s has no attempt to keep", c.Item)
		}
		if best := bestOf(st.attempts); st.attempts[best].rec.Q.Pass {
			return fmt.Errorf("%s already passed; nothing to override", c.Item)
		}
		if s.current != nil && *s.current == c.Item {
			s.interrupt(c)
			return nil
		}
		st.forced = &protocol.Override{Reason: c.Reason, By: c.By, At: s.deps.Now().UnixMilli()}
		return nil
	case Retry:
		if len(st.attempts)+s.cfg.Attempts > protocol.MaxAttempts {
			return fmt.Errorf("%s already has %d attempts; at most %d are recorded", c.Item, len(st.attempts), protocol.MaxAttempts)
		}
		if s.current != nil && *s.current == c.Item {
			s.interrupt(c)
			return nil
		}
		if st.missing != nil {
			return fmt.Errorf("%s is marked missing", c.Item)
		}
		if !s.done[c.Item] {
			return fmt.Errorf("%s is not captured yet", c.Item)
		}
		s.retries = append(s.retries, c.Item)
		return nil
	}
	return errors.New("unknown decision")
}

// interrupt stops the current item's wait (a finger wait or a pending decision) and
// delivers c to it. s.mu is held.
func (s *Session) interrupt(c Control) {
	select {
	case s.decide <- c:
	default:
	}
	if s.cancelIt != nil {
		s.cancelIt(&errControl{c})
	}
}

func (s *Session) emit(p protocol.Progress) {
	s.mu.Lock()
	s.seq++
	p.Seq = s.seq
	s.mu.Unlock()
	p.V, p.Session, p.Txn, p.At = protocol.Version, s.ID, s.Txn, s.deps.Now().UnixMilli()
	s.deps.Emit(p)
}

func (s *Session) guide(g Guidance) {
	if s.deps.Panel != nil {
		s.deps.Panel.Guide(g)
	}
}

// Run captures every item of the plan and returns the result. It returns ErrCancelled
// when the technician cancels, or ctx's error.
func (s *Session) Run(ctx context.Context) (*Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	res := &Result{ID: s.ID, Txn: s.Txn, Operator: s.Operator, Started: s.deps.Now()}
	total := uint(len(s.plan))
	s.emit(protocol.Progress{Event: protocol.EvSessionStart, Total: total})
	queue := append([]Item(nil), s.plan...)
	for i := 0; i < len(queue); i++ {
		it := queue[i]
		if err := s.runItem(ctx, it, uint(i), total); err != nil {
			if c := context.Cause(ctx); c != nil {
				err = c
			}
			s.guide(GuideError)
			if errors.Is(err, ErrCancelled) {
				s.emit(protocol.Progress{Event: protocol.EvSessionAbort})
			} else {
				s.emit(protocol.Progress{Event: protocol.EvSessionFail, Message: err.Error()})
			}
			return nil, err
		}
		s.mu.Lock()
		queue = append(queue, s.retries...)
		s.retries = nil
		s.mu.Unlock()
	}
	res.Ended = s.deps.Now()
	if err := s.assemble(res); err != nil {
		s.emit(protocol.Progress{Event: protocol.EvSessionFail, Message: err.Error()})
		return nil, err
	}
	s.guide(GuideSessionEnd)
	s.emit(protocol.Progress{Event: protocol.EvSessionDone, Done: total, Total: total})
	return res, nil
}

// runItem captures one item until it passes, is forced, is marked missing, or the
// session ends.
func (s *Session) runItem(ctx context.Context, it Item, index, total uint) error {
	st := s.state[it]
	s.mu.Lock()
	if ex, ok := s.missing[it.Pos]; ok && it.Mod == protocol.ModFinger {
		st.missing = &ex
		s.done[it] = true
		s.mu.Unlock()
		s.emit(protocol.Progress{Event: protocol.EvItemMissing, Mod: it.Mod, Pos: it.Pos, Message: ex.Reason, Done: index + 1, Total: total})
		return nil
	}
	s.current = &it
	s.done[it] = false
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.current, s.cancelIt = nil, nil
		s.done[it] = true
		s.mu.Unlock()
	}()
	s.emit(protocol.Progress{Event: protocol.EvItemStart, Mod: it.Mod, Pos: it.Pos, Done: index, Total: total})
	budget := s.cfg.Attempts
	softCount := 0 // consecutive placements that produced no sample
loop:
	for {
		if st.forced != nil {
			break
		}
		if budget == 0 {
			// Out of attempts without a pass: the technician decides.
			c, err := s.await(ctx, it, "no attempt reached the threshold: retry, override with a reason, or mark missing")
			if err != nil {
				return err
			}
			if s.decision(it, st, c, &budget) {
				if st.missing != nil {
					return nil // marked missing: no attempt is kept
				}
				break loop
			}
			continue
		}
		itemCtx, cancelIt := context.WithCancelCause(ctx)
		s.mu.Lock()
		s.cancelIt = cancelIt
		s.mu.Unlock()
		var a *attempt
		var err error
		if it.Mod == protocol.ModFace {
			a, err = s.faceAttempt(itemCtx, it, len(st.attempts)+1)
		} else {
			a, err = s.fingerAttempt(itemCtx, it, len(st.attempts)+1)
		}
		cause := context.Cause(itemCtx)
		cancelIt(nil)
		var ec *errControl
		if errors.As(cause, &ec) {
			// Drain the copy of the decision left in the channel by interrupt.
			select {
			case <-s.decide:
			default:
			}
			if s.decision(it, st, ec.c, &budget) {
				if st.missing != nil {
					return nil // marked missing: no attempt is kept
				}
				break loop
			}
			continue
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		var soft *softError
		if errors.As(err, &soft) && softCount < maxSoft {
			// The module rejected the image or the finger left too early: ask again
			// without spending an attempt.
			softCount++
			s.guide(GuideRetry)
			s.emit(protocol.Progress{Event: protocol.EvAttempt, Mod: it.Mod, Pos: it.Pos, Hints: []string{soft.hint}})
			continue
		}
		if err != nil {
			// No sample (timeout, device trouble, sequence check): not an attempt. The
			// technician decides what happens next.
			s.guide(GuideRetry)
			c, werr := s.await(ctx, it, err.Error())
			if werr != nil {
				return werr
			}
			if s.decision(it, st, c, &budget) {
				if st.missing != nil {
					return nil // marked missing: no attempt is kept
				}
				break loop
			}
			continue
		}
		softCount = 0
		st.attempts = append(st.attempts, *a)
		budget--
		if a.rec.Q.Pass && (a.rec.PAD == nil || a.rec.PAD.Decision == protocol.PADBonaFide) {
			break
		}
		if budget > 0 {
			s.guide(GuideRetry)
		}
	}
	best := bestOf(st.attempts)
	s.guide(GuideGood)
	b := st.attempts[best].rec
	s.emit(protocol.Progress{Event: protocol.EvItemDone, Mod: it.Mod, Pos: it.Pos, Attempt: b.N, Score: &b.Q.Score,
		Pass: &b.Q.Pass, Done: index + 1, Total: total})
	return nil
}

// maxSoft bounds consecutive placements without a sample before the technician is asked.
const maxSoft = 5

// softError is a placement that gave no sample for a reason the applicant can fix at
// once (finger lifted too early, the module's own "image too messy").
type softError struct {
	err  error
	hint string
}

func (e *softError) Error() string { return e.err.Error() }
func (e *softError) Unwrap() error { return e.err }

// decision applies a technician's decision to the current item and reports whether the
// item is finished.
func (s *Session) decision(it Item, st *itemState, c Control, budget *int) bool {
	now := s.deps.Now().UnixMilli()
	switch c.Kind {
	case Retry:
		*budget = s.cfg.Attempts
		if room := protocol.MaxAttempts - len(st.attempts); *budget > room {
			*budget = room
		}
		return false
	case Override:
		if len(st.attempts) == 0 {
			return false
		}
		st.forced = &protocol.Override{Reason: c.Reason, By: c.By, At: now}
		return true
	case Missing:
		ex := protocol.Exception{Pos: it.Pos, Reason: c.Reason, By: c.By, At: now}
		st.missing = &ex
		st.attempts = nil
		s.emit(protocol.Progress{Event: protocol.EvItemMissing, Mod: it.Mod, Pos: it.Pos, Message: c.Reason})
		return true
	}
	return false
}

// await publishes why the item is stuck and waits for the technician's decision.
func (s *Session) await(ctx context.Context, it Item, why string) (Control, error) {
	s.emit(protocol.Progress{Event: protocol.EvItemDone, Mod: it.Mod, Pos: it.Pos, Pass: ptr(false), Message: "decision needed: " + why})
	for {
		select {
		case <-ctx.Done():
			return Control{}, context.Cause(ctx)
		case c := <-s.decide:
			if c.Item == it {
				return c, nil
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// bestOf ranks attempts as BSI TR-03121 asks: the best quality wins; a presentation the
// PAD method judged an attack ranks below every bona fide one (it is still recorded);
// on a tie the earlier attempt stays.
func bestOf(as []attempt) int {
	best := 0
	rank := func(a *attempt) (int, uint) {
		ok := 1
		if a.rec.PAD != nil && a.rec.PAD.Decision == protocol.PADAttack {
			ok = 0
		}
		return ok, a.rec.Q.Score
	}
	for i := 1; i < len(as); i++ {
		bo, bs := rank(&as[best])
		o, sc := rank(&as[i])
		if o > bo || (o == bo && sc > bs) {
			best = i
		}
	}
	return best
}

// Wipe overwrites the samples the session still holds (finger images, face records,
// minutiae) once it is over, committed or not, so that they do not linger in memory
// until the garbage collector reuses it. Go gives no stronger guarantee (copies made by
// decoders and encoders are not reached); the unit keeps this memory out of swap.
func (s *Session) Wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.state {
		for i := range st.attempts {
			a := &st.attempts[i]
			if a.finger != nil && a.finger.Gray != nil {
				clear(a.finger.Gray.Pix)
			}
			clear(a.face)
			clear(a.minutiae)
			a.finger, a.face, a.minutiae, a.native, a.hints = nil, nil, nil, nil, nil
		}
	}
}

// assemble builds the record items and the body from the captured state.
func (s *Session) assemble(res *Result) error {
	for _, it := range s.plan {
		st := s.state[it]
		if st.missing != nil {
			res.Exceptions = append(res.Exceptions, *st.missing)
			continue
		}
		if len(st.attempts) == 0 {
			return fmt.Errorf("session: %s has no attempt", it)
		}
		best := bestOf(st.attempts)
		item := protocol.Item{Mod: it.Mod, Pos: it.Pos, Chosen: uint(best), Forced: st.forced}
		for _, a := range st.attempts {
			item.Attempts = append(item.Attempts, a.rec)
			if len(a.native) > 0 || len(a.hints) > 0 {
				res.Assessments = append(res.Assessments, protocol.Assessment{Mod: it.Mod, Pos: it.Pos, N: a.rec.N,
					Native: a.native, Hints: a.hints})
			}
		}
		res.Items = append(res.Items, item)
		body, err := bodyItems(it, &st.attempts[best])
		if err != nil {
			return err
		}
		res.Body = append(res.Body, body...)
	}
	return nil
}
