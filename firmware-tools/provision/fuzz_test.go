package provision

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

// FuzzLabelURI: a scanned label is outside input; it parses or fails with an error, and
// what it accepts makes the same label again.
func FuzzLabelURI(f *testing.F) {
	secret := bytes.Repeat([]byte{0xA5}, protocol.SecretLen)
	f.Add(LabelURI("lisboa-arroios", "st-07", secret, protocol.KeyID{1, 2, 3}))
	f.Add("captura://pair?c=c1&s=st-1&k=AAAA")
	f.Add("captura://pair?c=C1&s=st-1")
	f.Add("https://example.org/")
	f.Add("captura://pair?%zz")
	f.Fuzz(func(t *testing.T, uri string) {
		centre, station, secret, kid, err := ParseLabelURI(uri)
		if err != nil {
			return
		}
		if !protocol.ValidID(centre) || !protocol.ValidID(station) || len(secret) != protocol.SecretLen {
			t.Fatalf("%q accepted with centre %q station %q, %d-byte secret", uri, centre, station, len(secret))
		}
		var k protocol.KeyID
		if kid != "" {
			b, err := hex.DecodeString(kid)
			if err != nil || len(b) != len(k) {
				t.Fatalf("%q accepted with key id %q", uri, kid)
			}
			copy(k[:], b)
		}
		c2, s2, sec2, _, err := ParseLabelURI(LabelURI(centre, station, secret, k))
		if err != nil || c2 != centre || s2 != station || !bytes.Equal(sec2, secret) {
			t.Fatalf("%q: the label made from what it says does not read back: %v", uri, err)
		}
	})
}
