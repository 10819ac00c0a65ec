package station

import (
	"crypto"
	"sync"

	"github.com/captura-claim/captura/protocol"
)

// Tablets are the tablets paired with this station: each key is bound to one tablet
// name, so a tablet cannot sign commands in another's name.
type Tablets struct {
	mu    sync.RWMutex
	ring  *protocol.KeyRing
	names map[protocol.KeyID]string
	kids  map[string]protocol.KeyID
}

// NewTablets returns an empty set.
func NewTablets() *Tablets {
	ring, _ := protocol.NewKeyRing()
	return &Tablets{ring: ring, names: map[protocol.KeyID]string{}, kids: map[string]protocol.KeyID{}}
}

// Add pairs a tablet; a name already paired gets the new key.
func (t *Tablets) Add(name string, pub crypto.PublicKey) (protocol.KeyID, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	kid, err := t.ring.Add(pub)
	if err != nil {
		return kid, err
	}
	if old, ok := t.kids[name]; ok && old != kid {
		t.ring.Remove(old)
		delete(t.names, old)
	}
	t.names[kid], t.kids[name] = name, kid
	return kid, nil
}

// Remove unpairs a tablet by name.
func (t *Tablets) Remove(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	kid, ok := t.kids[name]
	if ok {
		t.ring.Remove(kid)
		delete(t.names, kid)
		delete(t.kids, name)
	}
	return ok
}

// Name returns the tablet bound to kid.
func (t *Tablets) Name(kid protocol.KeyID) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.names[kid]
	return n, ok
}

// Names lists the paired tablets.
func (t *Tablets) Names() map[string]protocol.KeyID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string]protocol.KeyID, len(t.kids))
	for n, k := range t.kids {
		out[n] = k
	}
	return out
}

// Ring is the key ring commands are verified against.
func (t *Tablets) Ring() *protocol.KeyRing { return t.ring }

// Tablets returns the station's paired tablets.
func (s *Station) Tablets() *Tablets { return s.cfg.Tablets }

// Signer is the station's signing key.
func (s *Station) Signer() *protocol.Signer { return s.cfg.Signer }
