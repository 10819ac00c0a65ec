package protocol

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzKeyPEM: every PEM key parser (files named in configurations and on command lines)
// returns a key or an error, never panics, and a key it accepts survives a round trip.
func FuzzKeyPEM(f *testing.F) {
	st, _ := GenerateSigningKey(KindStation)
	tab, _ := GenerateSigningKey(KindTablet)
	seed := func(b []byte, err error) {
		if err == nil {
			f.Add(b)
		}
	}
	seed(MarshalPrivateKeyPEM(st))
	seed(MarshalPublicKeyPEM(st.Public()))
	seed(MarshalPrivateKeyPEM(tab))
	seed(MarshalPublicKeyPEM(tab.Public()))
	rk, _ := GenerateRecipientKey("")
	f.Add(rk.Public().MarshalPEM())
	seed(rk.MarshalPEM())
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePrivateKeyPEM(data); err == nil {
			b, err := MarshalPrivateKeyPEM(k)
			if err != nil {
				t.Fatalf("re-encoding an accepted private key: %v", err)
			}
			if _, err := ParsePrivateKeyPEM(b); err != nil {
				t.Fatalf("our own private key encoding refused: %v", err)
			}
		}
		if k, err := ParsePublicKeyPEM(data); err == nil {
			b, err := MarshalPublicKeyPEM(k)
			if err != nil {
				t.Fatalf("re-encoding an accepted public key: %v", err)
			}
			if _, err := ParsePublicKeyPEM(b); err != nil {
				t.Fatalf("our own public key encoding refused: %v", err)
			}
		}
		if k, err := ParseRecipientPublicKeyPEM(data); err == nil {
			if _, err := ParseRecipientPublicKeyPEM(k.MarshalPEM()); err != nil {
				t.Fatalf("our own recipient key encoding refused: %v", err)
			}
		}
		if k, err := ParseRecipientKeyPEM(data); err == nil {
			b, err := k.MarshalPEM()
			if err != nil {
				t.Fatalf("re-encoding an accepted recipient key: %v", err)
			}
			if _, err := ParseRecipientKeyPEM(b); err != nil {
				t.Fatalf("our own recipient private key encoding refused: %v", err)
			}
		}
	})
}

// FuzzTextFields: the setup secret a technician types or scans, topics from the broker
// and ids: an error or a value, never a panic; what is accepted formats back to an
// equivalent text.
func FuzzTextFields(f *testing.F) {
	for _, s := range []string{
		"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ", "abcd efgh ijkl mnop qrst uvwx yz", "",
		"captura/v1/c1/st-1/rec", "captura/v1/c1/st-1/cmd/status/0123456789abcdef0123456789abcdef/state",
		"captura/v1/c1/st-1/pair/0123456789abcdef0123456789abcdef/req", "captura/v1//st-1/rec",
		"0123456789abcdef0123456789abcdef", "ffff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := ParseSecret(s); err == nil {
			if again, err := ParseSecret(FormatSecret(b)); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("secret %q: its printed form %q does not read back (%v)", s, FormatSecret(b), err)
			}
		}
		if tp, err := ParseTopic(s); err == nil {
			rest := tp.Rest
			kind := tp.Kind
			if kind == TopicCmdState {
				kind, rest = TopicCmd, append(append([]string{}, rest...), "state")
			}
			if got := StationTopic(tp.Centre, tp.Station, kind, rest...); got != s {
				t.Fatalf("topic %q parsed as %+v, which builds %q", s, tp, got)
			}
		}
		if id, err := ParseID(s); err == nil && id.String() != strings.ToLower(s) {
			t.Fatalf("id %q prints as %q", s, id.String())
		}
	})
}
