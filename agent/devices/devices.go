// Package devices is the station's device supervisor: it opens the fingerprint reader,
// camera and panel named in the configuration, reopens them after an unplug, and reports
// their state for the station's status. A missing device is a state, never a crash.
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/detect"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/protocol"
)

// ErrDisabled is returned for a device switched off in the configuration.
var ErrDisabled = errors.New("disabled in the configuration")

// Supervisor owns the station's devices.
type Supervisor struct {
	log    *slog.Logger
	reader *detect.Hotplug // nil when disabled

	mu     sync.Mutex
	states map[string]protocol.DeviceStatus
	extra  []func() protocol.DeviceStatus
	notify func()
}

// ReaderOpts configure the reader.
type ReaderOpts struct {
	Enabled bool
	Port    string
	Family  string // "auto", "r30x", "gt521"
	Baud    int
	Upgrade bool
}

// New builds a supervisor; nothing is opened until Run. onChange, if set, is called
// when a device's state changes (the station republishes its status).
func New(r ReaderOpts, log *slog.Logger, onChange func()) *Supervisor {
	s := &Supervisor{log: log, states: map[string]protocol.DeviceStatus{}, notify: onChange}
	if !r.Enabled {
		s.states["reader"] = protocol.DeviceStatus{Kind: "reader", Name: "-", State: "disabled"}
		return s
	}
	opts := &detect.HotplugOpts{OnState: s.readerEvent}
	opts.Baud = r.Baud
	opts.Logger = log
	if r.Family != "" && r.Family != "auto" {
		opts.Families = []string{r.Family}
	}
	if !r.Upgrade {
		// Keep the module's speed: no flash write of a new baud rate.
		opts.R30x = &r30x.Opts{TargetBaud: -1}
		opts.GT521 = &gt521.Opts{TargetBaud: -1}
	}
	s.reader = detect.NewHotplug(r.Port, opts)
	s.states["reader"] = protocol.DeviceStatus{Kind: "reader", Name: r.Port, State: "absent"}
	return s
}

func (s *Supervisor) readerEvent(e detect.Event) {
	st := protocol.DeviceStatus{Kind: "reader", Name: e.Path}
	switch e.State {
	case detect.StateReady:
		st.State = "ok"
		st.Name = fmt.Sprintf("%s %s@%s,%d", e.Info.Family, e.Info.Model, e.Path, e.Info.Baud)
		s.log.Info("reader ready", "family", e.Info.Family, "model", e.Info.Model, "port", e.Path, "baud", e.Info.Baud)
	case detect.StateAbsent:
		st.State = "absent"
	case detect.StateUnplugged:
		st.State = "absent"
		st.Detail = "unplugged"
		s.log.Warn("reader unplugged", "port", e.Path)
	case detect.StateFailed:
		st.State = "error"
		if e.Err != nil {
			st.Detail = e.Err.Error()
		}
		s.log.Warn("reader not answering", "port", e.Path, "err", e.Err)
	}
	s.mu.Lock()
	s.states["reader"] = st
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
}

// AddStatus registers another device's status source (camera, panel).
func (s *Supervisor) AddStatus(f func() protocol.DeviceStatus) {
	s.mu.Lock()
	s.extra = append(s.extra, f)
	s.mu.Unlock()
}

// Run watches the devices until ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.reader == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	defer s.reader.Close()
	return s.reader.Run(ctx)
}

// Reader returns the reader when one is connected. The returned reader survives
// unplugs (operations fail while it is away and work again once it is back).
func (s *Supervisor) Reader() (fingerprint.Reader, error) {
	if s.reader == nil {
		return nil, ErrDisabled
	}
	if s.reader.State() != detect.StateReady {
		s.mu.Lock()
		st := s.states["reader"]
		s.mu.Unlock()
		return nil, fmt.Errorf("reader %s: %s %s", st.Name, st.State, st.Detail)
	}
	return s.reader, nil
}

// Status reports every device's state.
func (s *Supervisor) Status() []protocol.DeviceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []protocol.DeviceStatus{s.states["reader"]}
	for _, f := range s.extra {
		out = append(out, f())
	}
	return out
}
