package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/protocol"
)

// KeyDir finds station public keys in a directory: DIR/<centre>/<station>.pub, else
// DIR/<station>.pub (the file captura-agent writes beside station.key).
type KeyDir struct {
	Dir   string
	mu    sync.Mutex
	cache map[string]*protocol.KeyRing
}

// Ring returns a key ring holding only the station's key.
func (k *KeyDir) Ring(centre, station string) (*protocol.KeyRing, error) {
	if !protocol.ValidID(centre) || !protocol.ValidID(station) {
		return nil, fmt.Errorf("rollout: bad station id %q/%q", centre, station)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if r, ok := k.cache[centre+"/"+station]; ok {
		return r, nil
	}
	var data []byte
	var err error
	for _, p := range []string{filepath.Join(k.Dir, centre, station+".pub"), filepath.Join(k.Dir, station+".pub")} {
		if data, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rollout: no public key for station %s/%s in %s", centre, station, k.Dir)
	}
	pub, err := protocol.ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("rollout: key of station %s/%s: %w", centre, station, err)
	}
	r, err := protocol.NewKeyRing(pub)
	if err != nil {
		return nil, err
	}
	if k.cache == nil {
		k.cache = map[string]*protocol.KeyRing{}
	}
	k.cache[centre+"/"+station] = r
	return r, nil
}

// Entry is one station as the fleet listing sees it.
type Entry struct {
	Centre, Station string
	Status          *protocol.Status
	StatusErr       string // why the status was not accepted
	Update          *update.State
	UpdateErr       string
	Verified        bool // every message shown was verified with the station's key
}

// Collect gathers the retained status and update state of every station of centre
// ("+": every centre). It returns once no message has arrived for quiet, or after
// maxWait.
func Collect(ctx context.Context, mq MQTT, centre string, keys *KeyDir, quiet, maxWait time.Duration) ([]Entry, error) {
	if centre != "+" && !protocol.ValidID(centre) {
		return nil, fmt.Errorf("rollout: centre %q is not a valid id", centre)
	}
	type msg struct {
		topic   protocol.Topic
		payload []byte
	}
	ch := make(chan msg, 1024)
	h := func(m *mqttc.Message) {
		t, err := protocol.ParseTopic(m.Topic)
		if err != nil {
			return
		}
		select {
		case ch <- msg{t, m.Payload}:
		default:
		}
	}
	filters := []string{protocol.Filter(centre, "+", protocol.TopicStatus), protocol.Filter(centre, "+", protocol.TopicUpdate, update.TopicState)}
	for _, f := range filters {
		if err := mq.Subscribe(ctx, f, 1, h); err != nil {
			return nil, err
		}
		defer mq.Unsubscribe(context.WithoutCancel(ctx), f)
	}
	entries := map[string]*Entry{}
	get := func(t protocol.Topic) *Entry {
		k := t.Centre + "/" + t.Station
		if e, ok := entries[k]; ok {
			return e
		}
		e := &Entry{Centre: t.Centre, Station: t.Station, Verified: keys != nil}
		entries[k] = e
		return e
	}
	end := time.NewTimer(maxWait)
	defer end.Stop()
	idle := time.NewTimer(quiet)
	defer idle.Stop()
collect:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-end.C:
			break collect
		case <-idle.C:
			break collect
		case m := <-ch:
			idle.Reset(quiet)
			if len(m.payload) == 0 {
				continue
			}
			e := get(m.topic)
			var ring *protocol.KeyRing
			if keys != nil {
				r, err := keys.Ring(m.topic.Centre, m.topic.Station)
				if err != nil {
					e.Verified = false
				}
				ring = r
			}
			switch m.topic.Kind {
			case protocol.TopicStatus:
				st, err := decodeStatus(m.payload, keys != nil, ring)
				if err == nil && (st.Station != e.Station || st.Centre != e.Centre) {
					err = errors.New("status names another station")
				}
				if err != nil {
					e.StatusErr = err.Error()
					e.Verified = false
					continue
				}
				e.Status = st
			case protocol.TopicUpdate:
				var st *update.State
				var err error
				if keys != nil && ring == nil {
					err = errors.New("no station key")
				} else {
					st, err = update.VerifyState(m.payload, ring)
				}
				if err == nil && (st.Station != e.Station || st.Centre != e.Centre) {
					err = errors.New("update state names another station")
				}
				if err != nil {
					e.UpdateErr = err.Error()
					e.Verified = false
					continue
				}
				e.Update = st
			}
		}
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Centre != out[j].Centre {
			return out[i].Centre < out[j].Centre
		}
		return out[i].Station < out[j].Station
	})
	return out, nil
}

func decodeStatus(data []byte, needKey bool, ring *protocol.KeyRing) (*protocol.Status, error) {
	if needKey {
		if ring == nil {
			return nil, errors.New("no station key")
		}
		st, _, err := protocol.VerifyMessage[protocol.Status](data, ring)
		return st, err
	}
	env, err := protocol.ParseEnvelope(data, protocol.MaxMessageSize)
	if err != nil {
		return nil, err
	}
	if env.ContentType != protocol.CTStatus {
		return nil, fmt.Errorf("envelope holds %q", env.ContentType)
	}
	var st protocol.Status
	if err := protocol.DecodeMessage(env.Payload, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// WriteFleet prints the fleet as a table.
func WriteFleet(w io.Writer, entries []Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CENTRE\tSTATION\tSTATE\tVERSION\tSLOT\tHEALTH\tSESSION\tUPDATE\tSEEN\tSIGNED")
	for _, e := range entries {
		state, version, slot, health, session, seen := "-", "-", "-", "-", "-", "-"
		if s := e.Status; s != nil {
			state, version, slot, health, session = s.State, dash(s.Version), dash(s.Slot), dash(s.Health), dash(s.Session)
			seen = ago(now, time.UnixMilli(s.At))
		} else if e.StatusErr != "" {
			state = "invalid: " + e.StatusErr
		}
		upd := "-"
		if u := e.Update; u != nil {
			upd = u.State + " " + u.Version
			if u.State == update.StateDownloading && u.Total > 0 {
				upd += fmt.Sprintf(" %d%%", u.Done*100/u.Total)
			}
			if u.Reason != "" {
				upd += ": " + u.Reason
			}
		} else if e.UpdateErr != "" {
			upd = "invalid: " + e.UpdateErr
		} else if s := e.Status; s != nil && s.Update != nil {
			upd = s.Update.State + " " + s.Update.Version
			if s.Update.Reason != "" {
				upd += ": " + s.Update.Reason
			}
		}
		signed := "unchecked"
		if e.Verified {
			signed = "verified"
		} else if e.StatusErr != "" || e.UpdateErr != "" {
			signed = "INVALID"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Centre, e.Station, state, version, slot, health, session,
			oneLine(upd, 110), seen, signed)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
