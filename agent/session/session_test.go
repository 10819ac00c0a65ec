package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/session/sessiontest"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
	"github.com/captura-claim/captura/protocol/iso19794/fir"
	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

type recorder struct {
	mu     sync.Mutex
	events []protocol.Progress
	wait   chan protocol.Progress
}

func (r *recorder) emit(p protocol.Progress) {
	r.mu.Lock()
	r.events = append(r.events, p)
	r.mu.Unlock()
	if r.wait != nil {
		select {
		case r.wait <- p:
		default:
		}
	}
}

func (r *recorder) count(ev string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Event == ev {
			n++
		}
	}
	return n
}

func newTest(t *testing.T, plan []session.Item, rd *sessiontest.Reader, q *sessiontest.Quality, opts ...func(*session.Config, *session.Deps)) (*session.Session, *recorder) {
	t.Helper()
	rec := &recorder{wait: make(chan protocol.Progress, 256)}
	cfg := session.Config{Attempts: 3, FingerTimeout: 200 * time.Millisecond, FaceTimeout: time.Second,
		Thresholds: func(it session.Item) uint {
			if it.Mod == protocol.ModFace {
				return 50
			}
			return 30
		}}
	deps := session.Deps{Reader: func() (fingerprint.Reader, error) { return rd, nil }, Quality: q, Face: &sessiontest.Face{Score: 80}, Emit: rec.emit}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	return session.New(protocol.NewID(), "AIMA-1", "tab-1", plan, cfg, deps), rec
}

// waitEvent waits for a progress event whose message contains msg.
func waitEvent(t *testing.T, rec *recorder, event, msg string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-rec.wait:
			if p.Event == event && strings.Contains(p.Message, msg) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event with %q", event, msg)
		}
	}
}

func TestFullSessionPasses(t *testing.T) {
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{2, 7}, true), &sessiontest.Reader{}, &sessiontest.Quality{Scores: []uint{55}})
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 || len(res.Exceptions) != 0 {
		t.Fatalf("items %d exceptions %d", len(res.Items), len(res.Exceptions))
	}
	for _, it := range res.Items {
		if len(it.Attempts) != 1 || !it.Attempts[0].Q.Pass {
			t.Errorf("%s/%d: %+v", it.Mod, it.Pos, it.Attempts)
		}
	}
	// Body: FIR + FMR per finger, FAC for the face; the records decode.
	if len(res.Body) != 5 {
		t.Fatalf("body has %d records", len(res.Body))
	}
	r, err := fir.Decode(res.Body[0].Data)
	if err != nil || r.Images[0].Position != 2 || r.Compression != fir.PNG {
		t.Fatalf("finger image record: %v %+v", err, r)
	}
	if g, err := r.Gray(&r.Images[0]); err != nil || g.Bounds().Dx() != 64 {
		t.Fatalf("image in the record: %v", err)
	}
	m, err := fmr.Decode(res.Body[1].Data)
	if err != nil || len(m.Views[0].Minutiae) != 2 {
		t.Fatalf("template: %v", err)
	}
	if rec.count(protocol.EvSessionDone) != 1 || rec.count(protocol.EvItemDone) != 3 {
		t.Errorf("events: %d done, %d item-done", rec.count(protocol.EvSessionDone), rec.count(protocol.EvItemDone))
	}
	// Record items validate as the protocol wants them.
	r2 := protocol.Record{V: 1, ID: res.ID, Centre: "c", Station: "s", Seq: 1, Txn: res.Txn, Started: res.Started.UnixMilli(),
		Ended: res.Ended.UnixMilli(), Operator: "tab-1", Items: res.Items, Exceptions: res.Exceptions, Body: []byte{1}}
	if err := r2.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLowQualityThenOverride(t *testing.T) {
	q := &sessiontest.Quality{Scores: []uint{12, 25, 18}}
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{1}, false), &sessiontest.Reader{}, q)
	done := make(chan error, 1)
	var res *session.Result
	go func() {
		var err error
		res, err = s.Run(context.Background())
		done <- err
	}()
	waitEvent(t, rec, protocol.EvItemDone, "decision needed: no attempt reached the threshold")
	if err := s.Apply(session.Control{Kind: session.Override, Item: session.Item{protocol.ModFinger, 1}}); err == nil {
		t.Fatal("override without a reason accepted")
	}
	if err := s.Apply(session.Control{Kind: session.Override, Item: session.Item{protocol.ModFinger, 1}, Reason: "worn ridges", By: "tab-1"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	it := res.Items[0]
	if len(it.Attempts) != 3 || it.Chosen != 1 || it.Forced == nil || it.Forced.Reason != "worn ridges" {
		t.Fatalf("item = %+v", it)
	}
	if rec.count(protocol.EvAttempt) != 3 {
		t.Errorf("%d attempt events", rec.count(protocol.EvAttempt))
	}
}

func TestRetryAfterThreeFailures(t *testing.T) {
	q := &sessiontest.Quality{Scores: []uint{5, 6, 7, 40}}
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{3}, false), &sessiontest.Reader{}, q)
	done := make(chan error, 1)
	var res *session.Result
	go func() { var err error; res, err = s.Run(context.Background()); done <- err }()
	waitEvent(t, rec, protocol.EvItemDone, "decision needed")
	if err := s.Apply(session.Control{Kind: session.Retry, Item: session.Item{protocol.ModFinger, 3}}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if it := res.Items[0]; len(it.Attempts) != 4 || it.Chosen != 3 || it.Forced != nil || !it.Attempts[3].Q.Pass {
		t.Fatalf("item = %+v", it)
	}
}

func TestMissingFingers(t *testing.T) {
	rd := &sessiontest.Reader{NoFinger: true}
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{1, 2, 3}, false), rd, &sessiontest.Quality{Scores: []uint{50}})
	// Marked in advance.
	if err := s.Apply(session.Control{Kind: session.Missing, Item: session.Item{protocol.ModFinger, 3}, Reason: protocol.MissingAmputated, By: "tab-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(session.Control{Kind: session.Missing, Item: session.Item{protocol.ModFinger, 2}, Reason: "lazy"}); err == nil {
		t.Fatal("bad reason accepted")
	}
	done := make(chan error, 1)
	var res *session.Result
	go func() { var err error; res, err = s.Run(context.Background()); done <- err }()
	// Finger 1 never arrives: after the timeout the technician marks it bandaged.
	waitEvent(t, rec, protocol.EvItemDone, "no finger on the sensor within 200ms")
	if err := s.Apply(session.Control{Kind: session.Missing, Item: session.Item{protocol.ModFinger, 1}, Reason: protocol.MissingBandaged, By: "tab-1"}); err != nil {
		t.Fatal(err)
	}
	// Finger 2: marked while waiting for the finger.
	waitEventKind(t, rec, protocol.EvWaitFinger, 2)
	if err := s.Apply(session.Control{Kind: session.Missing, Item: session.Item{protocol.ModFinger, 2}, Reason: protocol.MissingUnable, By: "tab-1"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 || len(res.Exceptions) != 3 {
		t.Fatalf("items %v exceptions %v", res.Items, res.Exceptions)
	}
	reasons := map[protocol.FingerPos]string{}
	for _, e := range res.Exceptions {
		reasons[e.Pos] = e.Reason
	}
	if reasons[1] != protocol.MissingBandaged || reasons[2] != protocol.MissingUnable || reasons[3] != protocol.MissingAmputated {
		t.Fatalf("reasons = %v", reasons)
	}
}

func waitEventKind(t *testing.T, rec *recorder, event string, pos protocol.FingerPos) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-rec.wait:
			if p.Event == event && p.Pos == pos {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", event, pos)
		}
	}
}

func TestCancel(t *testing.T) {
	s, rec := newTest(t, session.Plan(nil, true), &sessiontest.Reader{NoFinger: true}, &sessiontest.Quality{Scores: []uint{50}})
	done := make(chan error, 1)
	go func() { _, err := s.Run(context.Background()); done <- err }()
	waitEventKind(t, rec, protocol.EvWaitFinger, 1)
	s.Apply(session.Control{Kind: session.Cancel})
	if err := <-done; !errors.Is(err, session.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	if rec.count(protocol.EvSessionAbort) != 1 {
		t.Error("no session-cancelled event")
	}
}

func TestBadImagesDoNotSpendAttempts(t *testing.T) {
	rd := &sessiontest.Reader{Reject: 2}
	s, _ := newTest(t, session.Plan([]protocol.FingerPos{6}, false), rd, &sessiontest.Quality{Scores: []uint{50}})
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Items[0].Attempts; len(a) != 1 || a[0].N != 1 {
		t.Fatalf("attempts = %+v", a)
	}
}

type alarmPAD struct{ n int }

func (p *alarmPAD) AssessFinger(ctx context.Context, r fingerprint.Reader, img *fingerprint.Image) (*protocol.PAD, error) {
	p.n++
	if p.n == 1 {
		return &protocol.PAD{Score: 0.9, Decision: protocol.PADAttack, Method: "test", Cues: []string{"static"}}, nil
	}
	return &protocol.PAD{Score: 0.1, Decision: protocol.PADBonaFide, Method: "test"}, nil
}

func TestPADAlarmKeepsSampleAndRanksBelow(t *testing.T) {
	q := &sessiontest.Quality{Scores: []uint{90, 40}}
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{2}, false), &sessiontest.Reader{}, q,
		func(_ *session.Config, d *session.Deps) { d.FingerPAD = &alarmPAD{} })
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	it := res.Items[0]
	if len(it.Attempts) != 2 || it.Chosen != 1 || it.Attempts[0].PAD.Decision != protocol.PADAttack {
		t.Fatalf("item = %+v", it)
	}
	if rec.count(protocol.EvPADAlarm) != 1 {
		t.Error("no PAD alarm for the technician")
	}
}

func TestSequenceCheck(t *testing.T) {
	s, rec := newTest(t, session.Plan([]protocol.FingerPos{1, 2}, false), &sessiontest.Reader{}, &sessiontest.Quality{Scores: []uint{50}},
		func(c *session.Config, _ *session.Deps) {
			c.SameFinger = func(a, b []minutiae.Minutia) bool { return true } // every finger "matches"
		})
	done := make(chan error, 1)
	go func() { _, err := s.Run(context.Background()); done <- err }()
	// Each attempt at the right index is flagged; after three the technician decides.
	waitEvent(t, rec, protocol.EvItemDone, "decision needed: no attempt reached the threshold")
	var flagged int
	rec.mu.Lock()
	for _, e := range rec.events {
		if e.Event == protocol.EvAttempt && e.Pos == 2 && len(e.Hints) > 0 && strings.Contains(e.Hints[0], "sequence check: this looks like the right thumb") {
			flagged++
		}
	}
	rec.mu.Unlock()
	if flagged != 3 {
		t.Errorf("%d attempts flagged by the sequence check, want 3", flagged)
	}
	s.Apply(session.Control{Kind: session.Cancel})
	<-done
}

// keepingReader remembers the images it returns.
type keepingReader struct {
	*sessiontest.Reader
	mu   sync.Mutex
	imgs []*fingerprint.Image
}

func (k *keepingReader) Capture(ctx context.Context) (*fingerprint.Image, error) {
	img, err := k.Reader.Capture(ctx)
	if err == nil {
		k.mu.Lock()
		k.imgs = append(k.imgs, img)
		k.mu.Unlock()
	}
	return img, err
}

// TestWipeClearsSamples: once a session is over, the samples it held are overwritten.
func TestWipeClearsSamples(t *testing.T) {
	rd := &keepingReader{Reader: &sessiontest.Reader{}}
	plan := []session.Item{{Mod: protocol.ModFinger, Pos: 2}, {Mod: protocol.ModFinger, Pos: 7}}
	s, _ := newTest(t, plan, nil, &sessiontest.Quality{Scores: []uint{60}}, func(c *session.Config, d *session.Deps) {
		d.Reader = func() (fingerprint.Reader, error) { return rd, nil }
	})
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.imgs) != 2 || len(res.Body) == 0 {
		t.Fatalf("%d images captured, %d body items", len(rd.imgs), len(res.Body))
	}
	nonzero := func() int {
		n := 0
		for _, img := range rd.imgs {
			for _, v := range img.Gray.Pix {
				if v != 0 {
					n++
				}
			}
		}
		return n
	}
	if nonzero() == 0 {
		t.Fatal("captured images are blank before the wipe; the test proves nothing")
	}
	s.Wipe()
	if n := nonzero(); n != 0 {
		t.Fatalf("%d pixels of the captured images survived Wipe", n)
	}
}
