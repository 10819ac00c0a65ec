package update

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/captura-claim/captura/firmware-tools/bundle"
)

// errWithdrawn cancels a job whose announcement was withdrawn or replaced.
var errWithdrawn = errors.New("the job was withdrawn by the rollout")

type jobRun struct {
	job       Job
	stop      func(cause error)
	done      chan struct{}
	err       error
	switching atomic.Bool
}

// committed reports whether the job passed its point of no return (the slot switch).
func (r *jobRun) committed() bool { return r.switching.Load() }

func (c *Client) start(ctx context.Context, job Job) *jobRun {
	jctx, cancel := context.WithCancelCause(ctx)
	r := &jobRun{job: job, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.runJob(jctx, r)
		if r.err != nil && !errors.Is(r.err, ErrRestart) && !errors.Is(r.err, context.Canceled) {
			c.log.Warn("update: job ended", "job", job.ID, "err", r.err)
		}
	}()
	return r
}

// installed is the version anti-rollback compares with: the committed slot's, or
// this binary's when no slot is committed.
func (c *Client) installed(st *SlotState) string {
	if v := st.CommittedVersion(); v != "" {
		return v
	}
	return c.cfg.Version
}

// runJob takes one job from announcement to the slot switch.
func (c *Client) runJob(ctx context.Context, r *jobRun) error {
	job := r.job
	s := c.cfg.Slots
	st, err := s.Load()
	if err != nil {
		return err
	}
	if l := st.Last; l != nil && l.Job == job.ID {
		// Handled before (finished, failed, or restarted into): report it again.
		c.setState(c.resultState(l))
		return nil
	}
	if st.Trial != nil {
		c.setState(&State{Job: job.ID, State: StateFailed, Version: job.Version, Reason: "another version is on trial"})
		return nil
	}
	c.log.Info("update: job announced", "job", job.ID, "version", job.Version, "bytes", job.Size)
	c.setState(&State{Job: job.ID, State: StateDownloading, Version: job.Version})
	d, err := openDownload(s.Path("download"), job)
	if err != nil {
		return c.finish(job, job.Version, StateFailed, err.Error())
	}
	defer d.close()
	fail := func(version string, err error) error {
		if cause := context.Cause(ctx); ctx.Err() != nil {
			if errors.Is(cause, errWithdrawn) {
				d.remove()
				return c.finish(job, version, StateFailed, "cancelled: "+cause.Error())
			}
			return ctx.Err() // shutting down: resume after the restart
		}
		d.remove()
		return c.finish(job, version, StateFailed, err.Error())
	}
	if d.hdr == nil {
		raw := job.Header
		if raw == nil {
			if raw, err = c.fetchHeader(ctx, d); err != nil {
				return fail(job.Version, err)
			}
		}
		h, err := d.checkHeader(raw)
		if err != nil {
			return fail(job.Version, err)
		}
		d.adopt(raw, h) // the files are created once the first chunks are asked for
	}
	m := d.hdr.Manifest
	version := m.Version
	installed := c.installed(st)
	target := c.cfg.Target
	if _, err := d.hdr.Verify(bundle.Policy{Keys: c.cfg.Keys, Threshold: c.cfg.Threshold, Product: bundle.ProductAgent,
		Target: &target, Installed: installed, Floor: st.Floor}); err != nil {
		return fail(version, err)
	}
	entry, _, ok := m.File(Entry)
	if !ok || entry.Mode&0o100 == 0 {
		return fail(version, fmt.Errorf("update: the bundle holds no executable %s", Entry))
	}
	if _, _, clash := m.File(HeaderFile); clash {
		return fail(version, fmt.Errorf("update: the bundle holds a file named %s, which the slot reserves", HeaderFile))
	}
	if bundle.CompareStrings(version, installed) == 0 {
		d.remove()
		return c.finish(job, version, StateSuccessful, "version "+version+" is already installed")
	}
	total := m.PayloadSize()
	c.setState(&State{Job: job.ID, State: StateDownloading, Version: version, Done: d.held, Total: total})
	for round := 0; ; round++ {
		if err := c.fetchChunks(ctx, d, version); err != nil {
			return fail(version, err)
		}
		c.setState(&State{Job: job.ID, State: StateVerifying, Version: version, Done: total, Total: total})
		crashPoint("downloaded")
		bad, err := d.recheck()
		if err != nil {
			return fail(version, err)
		}
		if bad == 0 {
			break
		}
		if round == 2 {
			return fail(version, fmt.Errorf("update: %d chunks read back damaged after three downloads (storage fault?): %w", bad, bundle.ErrHash))
		}
		c.log.Warn("update: chunks read back damaged; fetching them again", "chunks", bad)
	}
	if err := d.verify(); err != nil {
		return fail(version, err)
	}
	crashPoint("verified")
	if err := c.waitIdle(ctx, job, version); err != nil {
		return fail(version, err)
	}
	c.setState(&State{Job: job.ID, State: StateInstalling, Version: version, Done: total, Total: total})
	slot, err := s.Free(st)
	if err != nil {
		return fail(version, err)
	}
	if err := s.Install(st, slot, d.files(), d.raw); err != nil {
		return fail(version, err)
	}
	crashPoint("installed")
	if err := c.waitIdle(ctx, job, version); err != nil {
		return fail(version, err)
	}
	release := func() {}
	if c.deps.Hold != nil {
		rel, ok := c.deps.Hold()
		if !ok {
			return fail(version, errors.New("update: a capture session started; try again")) // not reached with waitIdle, kept for safety
		}
		release = rel
	}
	if ctx.Err() != nil {
		release()
		return fail(version, ctx.Err())
	}
	r.switching.Store(true)
	info := SlotInfo{Version: version, SHA256: entry.SHA256, Job: job.ID}
	if err := s.BeginTrial(st, slot, info, job.ID); err != nil {
		release()
		r.switching.Store(false)
		return fail(version, err)
	}
	crashPoint("switched")
	d.remove()
	c.setState(&State{Job: job.ID, State: StateRestarting, Version: version, Done: total, Total: total})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	c.publishNow(pctx)
	cancel()
	c.log.Info("update: switched slots; restarting into the new version", "version", version, "slot", slot)
	return ErrRestart
}

// finish records a job's outcome durably (so it is not run again) and reports it.
func (c *Client) finish(job Job, version, state, reason string) error {
	s := c.cfg.Slots
	st, err := s.Load()
	if err == nil {
		st.Last = &Result{Job: job.ID, State: state, Version: version, Reason: shortReason(reason), At: c.cfg.Now().UnixMilli()}
		err = s.Save(st)
	}
	if err != nil {
		c.log.Error("update: job outcome not recorded", "err", err)
	}
	if state == StateFailed {
		c.log.Warn("update: job failed", "job", job.ID, "version", version, "reason", reason)
	}
	c.setState(&State{Job: job.ID, State: state, Version: version, Reason: reason})
	return nil
}

// waitIdle waits until no capture session runs.
func (c *Client) waitIdle(ctx context.Context, job Job, version string) error {
	if !c.deps.Busy() {
		return nil
	}
	c.setState(&State{Job: job.ID, State: StateInstalling, Version: version, Reason: "waiting for the capture session to end"})
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for c.deps.Busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (c *Client) send(ctx context.Context, req Request) {
	req.V = 1
	b, err := Encode(&req)
	if err != nil {
		c.log.Error("update: request", "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if err := c.deps.MQTT.Publish(pctx, c.topic(TopicGet), 1, false, b); err != nil && ctx.Err() == nil {
		c.log.Debug("update: request not sent; asking again later", "err", err)
	} else {
		c.log.Debug("update: request sent", "header", req.Header, "chunks", len(req.Chunks))
	}
}

// fetchHeader asks for the header until a copy matching the job's header hash
// arrives (jobs from older pushers do not carry it).
func (c *Client) fetchHeader(ctx context.Context, d *download) ([]byte, error) {
	req := Request{Job: d.job.ID, Header: true}
	failures := 0
	c.send(ctx, req)
	timer := time.NewTimer(c.cfg.RequestTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			c.send(ctx, req)
			timer.Reset(c.cfg.RequestTimeout)
		case b := <-c.data:
			id, idx, data, err := ParseFrame(b)
			if err != nil || id != d.job.ID || idx != HeaderIndex {
				continue
			}
			if int64(len(data)) != d.job.HeaderSize || sha256.Sum256(data) != d.job.HeaderHash {
				failures++
				if failures >= c.cfg.MaxChunkFailures {
					return nil, fmt.Errorf("update: header does not match the job's header hash (%d times): %w", failures, bundle.ErrHash)
				}
				c.send(ctx, req)
				timer.Reset(c.cfg.RequestTimeout)
				continue
			}
			return append([]byte(nil), data...), nil
		}
	}
}

// fetchChunks fetches the missing chunks with a window of outstanding requests,
// checking each against its signed hash before it is written.
func (c *Client) fetchChunks(ctx context.Context, d *download, version string) error {
	m := d.hdr.Manifest
	n := m.NumChunks()
	total := m.PayloadSize()
	missing := d.missing()
	next := 0
	outstanding := map[int]time.Time{}
	failures := map[int]int{}
	var lastReport time.Time
	lastFlush := time.Now()
	tick := time.NewTicker(max(c.cfg.RequestTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	defer d.flush()
	// Requests go out from their own goroutine: waiting for each request's PUBACK
	// (queued behind the chunks the broker is writing to us) would drain the window.
	reqs := make(chan []uint32, 64)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for batch := range reqs {
			c.send(ctx, Request{Job: d.job.ID, Chunks: batch})
		}
	}()
	defer func() { close(reqs); <-sent }()
	ask := func(batch []uint32) {
		select {
		case reqs <- batch:
		default: // backlog: the request timeout asks again
		}
	}
	topUp := max(1, c.cfg.Window/4) // ask for chunks a few at a time
	for first := true; d.held < total; first = false {
		var batch []uint32
		if c.cfg.Window-len(outstanding) >= topUp {
			for len(outstanding) < c.cfg.Window && next < len(missing) {
				i := missing[next]
				next++
				if d.has(i) {
					continue
				}
				outstanding[i] = time.Now()
				batch = append(batch, uint32(i))
			}
		}
		if len(batch) > 0 {
			ask(batch)
		}
		if first && d.f == nil {
			// A fresh download: create its files while the first chunks travel.
			if err := d.create(); err != nil {
				return err
			}
		}
		if len(outstanding) == 0 && next >= len(missing) {
			// Everything requested arrived but bytes are missing: ask again for the rest.
			missing, next = d.missing(), 0
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			var again []uint32
			for i, at := range outstanding {
				if time.Since(at) >= c.cfg.RequestTimeout {
					outstanding[i] = time.Now()
					again = append(again, uint32(i))
				}
			}
			for len(again) > 0 {
				k := min(len(again), MaxRequestChunks)
				ask(again[:k])
				again = again[k:]
			}
			if d.unsync > 0 && time.Since(lastFlush) >= time.Second {
				if err := d.flush(); err != nil {
					return err
				}
				lastFlush = time.Now()
			}
		case b := <-c.data:
			id, idx, data, err := ParseFrame(b)
			if err != nil || id != d.job.ID || idx == HeaderIndex || int(idx) >= n {
				continue
			}
			i := int(idx)
			if d.has(i) {
				delete(outstanding, i)
				continue
			}
			if err := m.CheckChunk(i, data); err != nil {
				failures[i]++
				c.log.Warn("update: chunk rejected", "chunk", i, "err", err, "times", failures[i])
				if failures[i] >= c.cfg.MaxChunkFailures {
					return fmt.Errorf("%w (%d times)", err, failures[i])
				}
				outstanding[i] = time.Now()
				ask([]uint32{idx})
				continue
			}
			if err := d.put(i, data); err != nil {
				return err
			}
			delete(outstanding, i)
			crashPoint("chunk-written")
			if d.unsync >= c.cfg.FlushEvery {
				if err := d.flush(); err != nil {
					return err
				}
				lastFlush = time.Now()
			}
			if time.Since(lastReport) >= time.Second {
				lastReport = time.Now()
				c.setState(&State{Job: d.job.ID, State: StateDownloading, Version: version, Done: d.held, Total: total})
			}
		}
	}
	return d.flush()
}
