package gateway

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/captura-claim/captura/protocol"
)

// keyStore holds the trusted station keys, each bound to its station.
type keyStore struct {
	dir    string
	static map[string][]crypto.PublicKey
	any    *protocol.KeyRing
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	bound   map[string]*protocol.KeyRing
	scanned time.Time
}

// rescanEvery bounds how often an unknown key makes the gateway read the directory.
const rescanEvery = 2 * time.Second

func newKeyStore(dir string, static map[string][]crypto.PublicKey, any *protocol.KeyRing, log *slog.Logger, now func() time.Time) (*keyStore, error) {
	k := &keyStore{dir: dir, static: static, any: any, log: log, now: now}
	if err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// load builds the bound rings from the static keys and the directory.
func (k *keyStore) load() error {
	bound := map[string]*protocol.KeyRing{}
	add := func(station string, pub crypto.PublicKey, from string) error {
		r := bound[station]
		if r == nil {
			r, _ = protocol.NewKeyRing()
			bound[station] = r
		}
		if _, err := r.Add(pub); err != nil {
			return fmt.Errorf("gateway: station key %s: %w", from, err)
		}
		return nil
	}
	for st, pubs := range k.static {
		if !protocol.ValidID(st) {
			return fmt.Errorf("gateway: station key for %q: not a station id ([a-z0-9-]{1,64})", st)
		}
		for _, p := range pubs {
			if err := add(st, p, st); err != nil {
				return err
			}
		}
	}
	if k.dir != "" {
		files, err := filepath.Glob(filepath.Join(k.dir, "*.pub"))
		if err != nil {
			return fmt.Errorf("gateway: station keys: %w", err)
		}
		if _, err := os.Stat(k.dir); err != nil {
			return fmt.Errorf("gateway: station key directory: %w", err)
		}
		for _, f := range files {
			st, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".pub"), ".")
			if !protocol.ValidID(st) {
				k.log.Warn("station key file ignored: its name is not <station>.pub", "file", f)
				continue
			}
			pem, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("gateway: station key: %w", err)
			}
			pub, err := protocol.ParsePublicKeyPEM(pem)
			if err != nil {
				return fmt.Errorf("gateway: station key %s: %w", f, err)
			}
			if err := add(st, pub, f); err != nil {
				return err
			}
		}
	}
	k.mu.Lock()
	k.bound = bound
	k.scanned = k.now()
	k.mu.Unlock()
	return nil
}

// rings returns the key rings trusted for station: its own, then the any-station ring.
func (k *keyStore) rings(station string) []*protocol.KeyRing {
	k.mu.Lock()
	defer k.mu.Unlock()
	var rs []*protocol.KeyRing
	if r := k.bound[station]; r != nil {
		rs = append(rs, r)
	}
	if k.any != nil {
		rs = append(rs, k.any)
	}
	return rs
}

// rescan reads the directory again unless it was read less than rescanEvery ago.
func (k *keyStore) rescan() bool {
	if k.dir == "" {
		return false
	}
	k.mu.Lock()
	fresh := k.now().Sub(k.scanned) < rescanEvery
	k.mu.Unlock()
	if fresh {
		return false
	}
	if err := k.load(); err != nil {
		k.log.Error("station keys not reloaded", "err", err)
		k.mu.Lock()
		k.scanned = k.now()
		k.mu.Unlock()
		return false
	}
	return true
}

// verify runs f with each ring trusted for station until one knows the key; on an
// unknown key it reads the key directory again once.
func (k *keyStore) verify(station string, f func(*protocol.KeyRing) error) error {
	err := k.try(station, f)
	if errors.Is(err, protocol.ErrUnknownKey) && k.rescan() {
		err = k.try(station, f)
	}
	return err
}

func (k *keyStore) try(station string, f func(*protocol.KeyRing) error) error {
	rs := k.rings(station)
	if len(rs) == 0 {
		return fmt.Errorf("no key is trusted for station %q: %w", station, protocol.ErrUnknownKey)
	}
	var err error
	for _, r := range rs {
		if err = f(r); !errors.Is(err, protocol.ErrUnknownKey) {
			return err
		}
	}
	return fmt.Errorf("%w (station %q)", err, station)
}
