package station

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

// runMaintenance enforces the retention limit, and publishes status and telemetry.
func (s *Station) runMaintenance(ctx context.Context) error {
	status := time.NewTicker(orDefault(s.cfg.StatusInterval, 5*time.Minute))
	defer status.Stop()
	tele := time.NewTicker(orDefault(s.cfg.TelemetryEvery, time.Minute))
	defer tele.Stop()
	expire := time.NewTicker(10 * time.Minute)
	defer expire.Stop()
	s.expire(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-status.C:
			if s.tr() != nil {
				s.publishStatus(ctx, protocol.StateOnline)
			}
		case <-tele.C:
			if s.tr() != nil {
				s.publishSigned(ctx, s.topic(protocol.TopicTelemetry), 0, false, s.telemetry())
			}
		case <-expire.C:
			s.expire(ctx)
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// expire erases records older than the retention limit, each with its audit entry in
// the same transaction. While the clock is unsynchronised it waits, and says so once.
func (s *Station) expire(ctx context.Context) {
	if s.cfg.MaxAge <= 0 {
		return
	}
	gone, err := s.deps.Store.Expire(s.cfg.MaxAge, func(e store.Entry) store.Builder {
		return s.auditBuilder("station", "record.expired", "erased", e.ID.String(), map[string]string{
			"seq": strconv.FormatUint(e.Seq, 10), "created": time.UnixMilli(e.Created).UTC().Format(time.RFC3339)})
	})
	switch {
	case errors.Is(err, store.ErrClockUnsynced):
		if !s.retentionPaused {
			s.log.Warn("retention limit paused until the system clock is synchronised (NTP)", "max_age", s.cfg.MaxAge)
		}
		s.retentionPaused = true
		return
	case err != nil:
		s.log.Error("retention check failed", "err", err)
		return
	}
	if s.retentionPaused {
		s.log.Info("system clock synchronised: retention limit applies again")
		s.retentionPaused = false
	}
	for _, e := range gone {
		s.log.Warn("record erased unsent: retention limit reached", "id", e.ID, "seq", e.Seq)
	}
	if len(gone) > 0 {
		s.kick()
	}
}

func (s *Station) telemetry() *protocol.Telemetry {
	t := &protocol.Telemetry{V: protocol.Version, Station: s.cfg.Station, At: s.now().UnixMilli(),
		Uptime: uint64(s.now().Sub(s.started).Seconds()), RSS: rss()}
	if st, err := s.deps.Store.Stats(); err == nil {
		t.Outbox = uint64(st.Records)
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(s.deps.Store.Path(), &fs) == nil {
		t.DiskFree = fs.Bavail * uint64(fs.Bsize)
	}
	return t
}

// rss reads the resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var fields [2]uint64
	n := 0
	start := -1
	for i := 0; i <= len(b) && n < 2; i++ {
		if i == len(b) || b[i] == ' ' || b[i] == '\n' {
			if start >= 0 {
				v, _ := strconv.ParseUint(string(b[start:i]), 10, 64)
				fields[n] = v
				n++
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return fields[1] * uint64(os.Getpagesize())
}
