// Package detect opens "whatever fingerprint reader is at this path": it probes the
// module families (r30x, gt521) across their speed lists and returns the driver that
// answered. Hotplug wraps that in a fingerprint.Reader that survives the device going away
// and coming back (a udev symlink such as /dev/captura-reader), reopening it by itself and
// reporting each change of state.
package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// Families are the module families Open knows, in probe order.
var Families = []string{"r30x", "gt521"}

// Opts configure Open. The zero value probes every family at every speed and upgrades
// the line to 115200 baud.
type Opts struct {
	// Families restricts the probe ("r30x", "gt521").
	Families []string
	// Baud, when set, is the only speed probed.
	Baud int
	// R30x and GT521 are the drivers' options (their probe timeouts are overridden).
	R30x  *r30x.Opts
	GT521 *gt521.Opts
	// ProbeTimeout is how long one probe waits for an answer (default 300 ms); each
	// probe is tried twice.
	ProbeTimeout time.Duration
	// Line configures the serial line (tests inject an opener).
	Line   *uart.Opts
	Logger *slog.Logger
}

type probe struct {
	family string
	baud   int
}

// plan interleaves the families' speed lists, factory speeds first.
func plan(o *Opts) ([]probe, error) {
	fams := o.Families
	if len(fams) == 0 {
		fams = Families
	}
	lists := map[string][]int{"r30x": r30x.Bauds, "gt521": gt521.Bauds}
	var out []probe
	for i := 0; ; i++ {
		more := false
		for _, f := range fams {
			l, ok := lists[f]
			if !ok {
				return nil, fmt.Errorf("detect: unknown family %q (want r30x or gt521)", f)
			}
			if o.Baud != 0 {
				if i == 0 {
					out = append(out, probe{f, o.Baud})
				}
				continue
			}
			if i < len(l) {
				out = append(out, probe{f, l[i]})
				more = true
			}
		}
		if !more {
			return out, nil
		}
	}
}

// Open probes path and returns the driver of the module that answered (a *r30x.Dev or a
// *gt521.Dev). It fails with an error wrapping fingerprint.ErrUnplugged when path does
// not exist, and fingerprint.ErrSilent when nothing answered.
func Open(ctx context.Context, path string, opts *Opts) (fingerprint.Reader, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 300 * time.Millisecond
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	probes, err := plan(&o)
	if err != nil {
		return nil, err
	}
	lo := uart.Opts{Logger: log}
	if o.Line != nil {
		lo = *o.Line
	}
	line, err := uart.Open(path, probes[0].baud, &lo)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	for _, p := range probes {
		if line.Baud() != p.baud {
			if err := line.SetBaud(p.baud); err != nil {
				line.Close()
				return nil, fmt.Errorf("detect: %w", err)
			}
		}
		var r fingerprint.Reader
		switch p.family {
		case "r30x":
			var ro r30x.Opts
			if o.R30x != nil {
				ro = *o.R30x
			}
			ro.ProbeTimeout, ro.ProbeTries = o.ProbeTimeout, 2
			if ro.Logger == nil {
				ro.Logger = log
			}
			var d *r30x.Dev
			d, err = r30x.New(ctx, line, &ro)
			if err == nil {
				r = d
			}
		case "gt521":
			var g gt521.Opts
			if o.GT521 != nil {
				g = *o.GT521
			}
			g.ProbeTimeout, g.ProbeTries = o.ProbeTimeout, 2
			if g.Logger == nil {
				g.Logger = log
			}
			var d *gt521.Dev
			d, err = gt521.New(ctx, line, &g)
			if err == nil {
				r = d
			}
		}
		if err == nil {
			log.Info("detect: found reader", "path", path, "reader", r.String())
			return r, nil
		}
		if !errors.Is(err, uart.ErrNoAnswer) {
			line.Close()
			return nil, fmt.Errorf("detect: %s at %d baud: %w", p.family, p.baud, err)
		}
		log.Debug("detect: no answer", "family", p.family, "baud", p.baud, "err", err)
	}
	line.Close()
	return nil, fmt.Errorf("detect: no fingerprint module answered at %s (tried %d family/speed pairs): %w", path, len(probes), fingerprint.ErrSilent)
}
