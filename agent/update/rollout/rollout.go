// Package rollout is the maintainer's side of updates: it announces a bundle to
// stations, serves its header and chunks over MQTT to each station that asks, follows
// every station's update state, and stops the rollout by itself once its failure
// threshold is reached. It also collects the fleet's retained status for captura-fw
// fleet.
package rollout

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// MQTT is what a rollout needs of its broker connection (*mqttc.Client).
type MQTT interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
	Subscribe(ctx context.Context, filter string, qos byte, h mqttc.Handler) error
	Unsubscribe(ctx context.Context, filter string) error
}

// Options configure a rollout.
type Options struct {
	Centre   string
	Stations []string // the candidate stations of the centre
	// Percent of the candidates to update now (1-100, default 100), chosen by a hash of
	// their ids, so a later run with a larger percentage is a superset.
	Percent int
	// AbortAfter failures stop the rollout (0: never): stations not yet started are
	// left alone and stations still downloading are cancelled.
	AbortAfter int
	// Parallel is how many stations update at once (0: all selected).
	Parallel int
	// Stall: a station that sends nothing for this long has failed (default 10 min).
	Stall time.Duration
	// StationKeys verifies the stations' signed states; nil accepts them unverified.
	StationKeys *KeyDir
	// Workers serve chunks concurrently (default 4).
	Workers int
	Log     *slog.Logger
	// OnChange is called (from the rollout's goroutine) whenever progress changes.
	OnChange func()
}

// Station is one station's progress.
type Station struct {
	Name    string
	State   string // "" (not started), queued, an update state, cancelled
	Reason  string
	Sent    int64 // payload bytes served to it
	Done    int64 // payload bytes it reports holding
	Total   int64
	Running string // version it runs, as reported
	Started time.Time
	Ended   time.Time

	lastSeen time.Time
	served   map[uint32]bool
}

// Failed reports whether the station's job failed.
func (s *Station) Failed() bool {
	return s.State == update.StateFailed || s.State == update.StateRolledBack
}

// Finished reports whether the station is done with this rollout.
func (s *Station) Finished() bool { return update.Terminal(s.State) || s.State == "cancelled" }

// Progress is the fraction of the payload the station holds (as far as known).
func (s *Station) Progress() float64 {
	if s.Total <= 0 {
		return 0
	}
	n := max(s.Done, min(s.Sent, s.Total))
	if s.State == update.StateVerifying || s.State == update.StateInstalling || s.State == update.StateRestarting || s.State == update.StateSuccessful {
		n = s.Total
	}
	return float64(n) / float64(s.Total)
}

// Snapshot is the rollout's progress at one instant.
type Snapshot struct {
	Job      protocol.ID
	Version  string
	Stations []Station // selected stations, in rollout order
	Skipped  int       // candidates not selected by Percent
	Failures int
	Aborted  bool
	Reason   string
}

// Rollout pushes one bundle.
type Rollout struct {
	mq   MQTT
	o    Options
	log  *slog.Logger
	file *os.File
	hdr  *bundle.Header
	raw  []byte
	job  update.Job

	events chan event
	work   chan work
	done   chan struct{}
	mu     sync.Mutex
	snap   Snapshot
	byName map[string]*Station
}

type event struct {
	station string
	state   *update.State
	req     *update.Request
}

type work struct {
	station string
	index   uint32
}

// New opens and checks a bundle (structure, size, every payload hash) and prepares a
// rollout of it.
func New(mq MQTT, path string, o Options) (*Rollout, error) {
	if !protocol.ValidID(o.Centre) {
		return nil, fmt.Errorf("rollout: centre %q is not a valid id", o.Centre)
	}
	if len(o.Stations) == 0 {
		return nil, errors.New("rollout: no stations")
	}
	for _, s := range o.Stations {
		if !protocol.ValidID(s) {
			return nil, fmt.Errorf("rollout: station %q is not a valid id", s)
		}
	}
	if o.Percent == 0 {
		o.Percent = 100
	}
	if o.Percent < 1 || o.Percent > 100 {
		return nil, fmt.Errorf("rollout: percent %d: want 1-100", o.Percent)
	}
	if o.Stall <= 0 {
		o.Stall = 10 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	h, err := bundle.ReadHeader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != h.TotalSize() {
		err = fmt.Errorf("rollout: %s is %d bytes, its manifest describes %d: %w", path, fi.Size(), h.TotalSize(), bundle.ErrTruncated)
	}
	if err == nil {
		err = h.Manifest.VerifyPayload(io.NewSectionReader(f, h.Size(), h.Manifest.PayloadSize()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	raw := h.Encode()
	r := &Rollout{mq: mq, o: o, log: o.Log, file: f, hdr: h, raw: raw,
		job: update.Job{V: 1, ID: protocol.NewID(), Version: h.Manifest.Version, Size: h.TotalSize(), HeaderSize: int64(len(raw)),
			HeaderHash: sha256.Sum256(raw), Issued: time.Now().UnixMilli(), Header: raw},
		events: make(chan event, 256), work: make(chan work, 4096), done: make(chan struct{}), byName: map[string]*Station{}}
	sel := Select(o.Stations, o.Percent)
	r.snap = Snapshot{Job: r.job.ID, Version: h.Manifest.Version, Skipped: len(o.Stations) - len(sel)}
	for _, name := range sel {
		r.snap.Stations = append(r.snap.Stations, Station{Name: name, Total: h.Manifest.PayloadSize(), served: map[uint32]bool{}})
	}
	for i := range r.snap.Stations {
		r.byName[r.snap.Stations[i].Name] = &r.snap.Stations[i]
	}
	return r, nil
}

// Header returns the bundle's header.
func (r *Rollout) Header() *bundle.Header { return r.hdr }

// Job returns the job announced to the stations.
func (r *Rollout) Job() update.Job { return r.job }

// Close releases the bundle file.
func (r *Rollout) Close() error { return r.file.Close() }

// Select returns ceil(percent% of stations), at least one, ordered by SHA-256 of the
// station id: a stable order, so 10% today and 50% tomorrow overlap.
func Select(stations []string, percent int) []string {
	s := append([]string(nil), stations...)
	sort.Slice(s, func(i, j int) bool {
		a, b := sha256.Sum256([]byte(s[i])), sha256.Sum256([]byte(s[j]))
		return string(a[:]) < string(b[:])
	})
	n := int(math.Ceil(float64(len(s)) * float64(percent) / 100))
	return s[:max(1, min(n, len(s)))]
}

// Snapshot returns a copy of the progress.
func (r *Rollout) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.snap
	s.Stations = append([]Station(nil), r.snap.Stations...)
	return s
}

func (r *Rollout) changed() {
	if r.o.OnChange != nil {
		r.o.OnChange()
	}
}

// Run performs the rollout until every selected station has finished, the rollout is
// aborted by its failure rule, or ctx ends; it withdraws every announcement it made
// before returning. The error is nil only if every selected station reports success.
// Run may be called once.
func (r *Rollout) Run(ctx context.Context) (Snapshot, error) {
	defer close(r.done)
	c := r.o.Centre
	getF := protocol.Filter(c, "+", protocol.TopicUpdate, update.TopicGet)
	stateF := protocol.Filter(c, "+", protocol.TopicUpdate, update.TopicState)
	if err := r.mq.Subscribe(ctx, stateF, 1, r.onState); err != nil {
		return r.Snapshot(), err
	}
	defer r.mq.Unsubscribe(context.WithoutCancel(ctx), stateF)
	if err := r.mq.Subscribe(ctx, getF, 1, r.onGet); err != nil {
		return r.Snapshot(), err
	}
	defer r.mq.Unsubscribe(context.WithoutCancel(ctx), getF)
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); r.serve(wctx) }()
	}
	defer func() { stopWorkers(); wg.Wait() }()

	parallel := r.o.Parallel
	if parallel <= 0 {
		parallel = len(r.snap.Stations)
	}
	queue := make([]string, 0, len(r.snap.Stations))
	for _, s := range r.snap.Stations {
		queue = append(queue, s.Name)
	}
	active := map[string]bool{}
	started := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer func() {
		// Withdraw every announcement this rollout made.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for name := range started {
			r.withdraw(cctx, name)
		}
	}()
	for {
		r.mu.Lock()
		aborted := r.snap.Aborted
		r.mu.Unlock()
		for len(active) < parallel && len(queue) > 0 && !aborted {
			name := queue[0]
			queue = queue[1:]
			if err := r.announce(ctx, name); err != nil {
				return r.Snapshot(), err
			}
			active[name], started[name] = true, true
		}
		if len(active) == 0 && (len(queue) == 0 || aborted) {
			break
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.snap.Aborted, r.snap.Reason = true, "interrupted"
			r.mu.Unlock()
			return r.Snapshot(), ctx.Err()
		case ev := <-r.events:
			r.apply(ctx, ev, active)
		case <-tick.C:
			r.checkStalls(ctx, active)
		}
	}
	snap := r.Snapshot()
	var failed []string
	for _, s := range snap.Stations {
		if s.State != update.StateSuccessful {
			failed = append(failed, s.Name)
		}
	}
	switch {
	case snap.Aborted:
		return snap, fmt.Errorf("rollout stopped: %s", snap.Reason)
	case len(failed) > 0:
		return snap, fmt.Errorf("rollout finished with %d station(s) not updated: %s", len(failed), strings.Join(failed, ", "))
	}
	return snap, nil
}

func (r *Rollout) announce(ctx context.Context, name string) error {
	b, err := update.Encode(&r.job)
	if err != nil {
		return err
	}
	r.mu.Lock()
	s := r.byName[name]
	s.State, s.Started, s.lastSeen = "queued", time.Now(), time.Now()
	r.mu.Unlock()
	r.changed()
	r.log.Info("rollout: job announced", "station", name, "job", r.job.ID, "version", r.job.Version)
	return r.mq.Publish(ctx, update.Topic(r.o.Centre, name, update.TopicJob), 1, true, b)
}

func (r *Rollout) withdraw(ctx context.Context, name string) {
	if err := r.mq.Publish(ctx, update.Topic(r.o.Centre, name, update.TopicJob), 1, true, nil); err != nil {
		r.log.Warn("rollout: job not withdrawn", "station", name, "err", err)
	}
}

// apply handles an event from a station.
func (r *Rollout) apply(ctx context.Context, ev event, active map[string]bool) {
	r.mu.Lock()
	s, ok := r.byName[ev.station]
	if !ok || !active[ev.station] {
		r.mu.Unlock()
		return
	}
	s.lastSeen = time.Now()
	if ev.req != nil {
		r.mu.Unlock()
		if ev.req.Header {
			r.queue(ev.station, update.HeaderIndex)
		}
		for _, i := range ev.req.Chunks {
			r.queue(ev.station, i)
		}
		return
	}
	st := ev.state
	s.State, s.Reason, s.Running = st.State, st.Reason, st.Running
	if st.Total > 0 {
		s.Done, s.Total = st.Done, st.Total
	}
	var abort bool
	if update.Terminal(st.State) {
		delete(active, ev.station)
		s.Ended = time.Now()
		if s.Failed() {
			r.snap.Failures++
			abort = r.o.AbortAfter > 0 && r.snap.Failures >= r.o.AbortAfter && !r.snap.Aborted
		}
	}
	r.mu.Unlock()
	r.log.Info("rollout: station state", "station", ev.station, "state", st.State, "reason", st.Reason)
	if update.Terminal(st.State) {
		r.withdraw(ctx, ev.station)
	}
	if abort {
		r.abort(ctx, active)
	}
	r.changed()
}

// abort stops the rollout: stations that have not switched yet are cancelled.
func (r *Rollout) abort(ctx context.Context, active map[string]bool) {
	r.mu.Lock()
	r.snap.Aborted = true
	r.snap.Reason = fmt.Sprintf("%d failure(s), the abort threshold is %d", r.snap.Failures, r.o.AbortAfter)
	var cancel []string
	for name := range active {
		if s := r.byName[name]; s.State != update.StateRestarting {
			s.State, s.Reason, s.Ended = "cancelled", "rollout stopped", time.Now()
			cancel = append(cancel, name)
			delete(active, name)
		}
	}
	r.mu.Unlock()
	r.log.Warn("rollout: stopping", "reason", r.snap.Reason, "cancelled", cancel)
	for _, name := range cancel {
		r.withdraw(ctx, name)
	}
}

func (r *Rollout) checkStalls(ctx context.Context, active map[string]bool) {
	r.mu.Lock()
	var stalled []string
	for name := range active {
		s := r.byName[name]
		if time.Since(s.lastSeen) > r.o.Stall {
			s.State, s.Reason, s.Ended = update.StateFailed, fmt.Sprintf("no word from the station for %s", r.o.Stall), time.Now()
			r.snap.Failures++
			delete(active, name)
			stalled = append(stalled, name)
		}
	}
	abort := len(stalled) > 0 && r.o.AbortAfter > 0 && r.snap.Failures >= r.o.AbortAfter && !r.snap.Aborted
	r.mu.Unlock()
	for _, name := range stalled {
		r.withdraw(ctx, name)
	}
	if abort {
		r.abort(ctx, active)
	}
	if len(stalled) > 0 {
		r.changed()
	}
}

func (r *Rollout) queue(station string, index uint32) {
	select {
	case r.work <- work{station, index}:
	default:
		// Overloaded: the station asks again after its request timeout.
	}
}

// onGet receives chunk requests (on the client's delivery goroutine: hand over only).
func (r *Rollout) onGet(m *mqttc.Message) {
	t, err := protocol.ParseTopic(m.Topic)
	if err != nil || t.Centre != r.o.Centre {
		return
	}
	var req update.Request
	if err := update.Decode(m.Payload, &req); err != nil || req.Job != r.job.ID {
		r.log.Debug("rollout: request ignored", "station", t.Station, "err", err)
		return
	}
	r.log.Debug("rollout: request", "station", t.Station, "header", req.Header, "chunks", len(req.Chunks))
	r.post(event{station: t.Station, req: &req})
}

func (r *Rollout) onState(m *mqttc.Message) {
	t, err := protocol.ParseTopic(m.Topic)
	if err != nil || t.Centre != r.o.Centre || len(m.Payload) == 0 {
		return
	}
	var keys *protocol.KeyRing
	if r.o.StationKeys != nil {
		if keys, err = r.o.StationKeys.Ring(t.Centre, t.Station); err != nil {
			r.log.Warn("rollout: state of a station without a key ignored", "station", t.Station, "err", err)
			return
		}
	}
	st, err := update.VerifyState(m.Payload, keys)
	if err != nil || st.Station != t.Station || st.Centre != t.Centre {
		r.log.Warn("rollout: station state rejected", "station", t.Station, "err", err)
		return
	}
	if st.Job != r.job.ID {
		return
	}
	r.post(event{station: t.Station, state: st})
}

// post hands an event to the rollout loop without blocking the delivery goroutine
// (which also carries the acknowledgements the loop may be waiting for).
func (r *Rollout) post(ev event) {
	select {
	case r.events <- ev:
	default:
		go func() {
			select {
			case r.events <- ev:
			case <-r.done:
			}
		}()
	}
}

// serve publishes requested chunks.
func (r *Rollout) serve(ctx context.Context) {
	buf := make([]byte, 0, update.FrameOverhead+int(r.hdr.Manifest.ChunkSize))
	data := make([]byte, r.hdr.Manifest.ChunkSize)
	for {
		var w work
		select {
		case <-ctx.Done():
			return
		case w = <-r.work:
		}
		var payload []byte
		var n int64
		if w.index == update.HeaderIndex {
			payload = update.AppendFrame(buf[:0], r.job.ID, w.index, r.raw)
		} else {
			if int(w.index) >= r.hdr.Manifest.NumChunks() {
				continue
			}
			off, l := r.hdr.Manifest.ChunkRange(int(w.index))
			if _, err := r.file.ReadAt(data[:l], r.hdr.Size()+off); err != nil {
				r.log.Error("rollout: reading the bundle", "err", err)
				continue
			}
			payload = update.AppendFrame(buf[:0], r.job.ID, w.index, data[:l])
			n = l
		}
		r.log.Debug("rollout: sending", "station", w.station, "index", w.index, "bytes", len(payload))
		if err := r.mq.Publish(ctx, update.Topic(r.o.Centre, w.station, update.TopicData), 0, false, payload); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("rollout: chunk not sent", "station", w.station, "err", err)
			}
			continue
		}
		if n > 0 {
			r.mu.Lock()
			if s := r.byName[w.station]; s != nil && !s.served[w.index] {
				s.served[w.index] = true
				s.Sent += n
			}
			r.mu.Unlock()
			r.changed()
		}
	}
}
