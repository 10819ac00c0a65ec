package daemon

import (
	"bytes"
	"crypto/ecdsa"
	"testing"

	"github.com/captura-claim/captura/protocol"
)

// TestPADHistoryKey: the replay history's secret is a function of the station key only:
// the same after a restart, different per station, not the key's seed itself.
func TestPADHistoryKey(t *testing.T) {
	signer := func(kind string) *protocol.Signer {
		k, err := protocol.GenerateSigningKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		s, err := protocol.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := signer(protocol.KindStation), signer(protocol.KindStation)
	ka, err := padHistoryKey(a)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := padHistoryKey(a)
	kb, _ := padHistoryKey(b)
	if len(ka) != 32 || !bytes.Equal(ka, again) || bytes.Equal(ka, kb) {
		t.Fatalf("keys: %x, again %x, other station %x", ka, again, kb)
	}
	seed, _ := protocol.MarshalPrivateKeyPEM(a.PrivateKey())
	if bytes.Contains(seed, ka) {
		t.Fatal("the history key is part of the station key")
	}
	tab := signer(protocol.KindTablet)
	if _, ok := tab.PrivateKey().(*ecdsa.PrivateKey); !ok {
		t.Skip("tablet keys are not ECDSA any more")
	}
	if _, err := padHistoryKey(tab); err == nil {
		t.Fatal("an ECDSA key gave a history key")
	}
}
