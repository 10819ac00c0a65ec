package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestSetupSecretFormat(t *testing.T) {
	s := NewSetupSecret()
	txt := FormatSecret(s)
	if len(txt) != 26+6 {
		t.Fatalf("label text %q", txt)
	}
	got, err := ParseSecret(" " + txt + " ")
	if err != nil || !bytes.Equal(got, s) {
		t.Fatalf("parse %q: %v", txt, err)
	}
	lower := bytes.ToLower([]byte(txt))
	if got, err := ParseSecret(string(bytes.ReplaceAll(lower, []byte("-"), nil))); err != nil || !bytes.Equal(got, s) {
		t.Fatal("lower case without dashes not accepted")
	}
	for _, bad := range []string{"", "ABCD", txt + "A", "0000-0000-0000-0000-0000-0000-00"} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPairingExchange(t *testing.T) {
	secret := NewSetupSecret()
	tab := testTabletKey(t)
	env, req, err := NewPairRequest(tab, secret, "c1", "st-1", "tab-1", 1795000000000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyPairRequest(env)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := PairingKey(secret, "c1", "st-1")
	if !CheckRequestMAC(k, got) {
		t.Fatal("MAC of a good request rejected")
	}
	other, _ := PairingKey(NewSetupSecret(), "c1", "st-1")
	if CheckRequestMAC(other, got) {
		t.Fatal("MAC accepted under another secret")
	}
	elsewhere, _ := PairingKey(secret, "c1", "st-2")
	if CheckRequestMAC(elsewhere, got) {
		t.Fatal("MAC accepted for another station")
	}
	// A request signed by a key other than the one it carries is refused.
	evil := testTabletKey(t)
	forged, _ := SignMessage(mustSigner(t, evil), req)
	if _, err := VerifyPairRequest(forged); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("forged request: %v", err)
	}

	// The station's answer.
	st := mustSigner(t, testStationKey())
	resp := &PairResponse{V: Version, ID: req.ID, Centre: "c1", Station: "st-1", Status: PairPaired, Nonce: make([]byte, 16), At: 1}
	resp.Key = mustSPKI(t, testStationKey().Public())
	resp.MAC, _ = ResponseMAC(k, env, resp)
	renv, _ := SignMessage(st, resp)
	r, pinned, err := VerifyPairResponse(renv, env, secret, req)
	if err != nil || r.Status != PairPaired {
		t.Fatalf("answer: %v", err)
	}
	if kid, _ := KeyIDOf(pinned); kid != st.KeyID() {
		t.Fatal("pinned the wrong key")
	}
	// An impostor station (no secret) cannot produce the MAC.
	resp.MAC, _ = ResponseMAC(other, env, resp)
	renv, _ = SignMessage(st, resp)
	if _, _, err := VerifyPairResponse(renv, env, secret, req); !errors.Is(err, ErrSignature) {
		t.Fatalf("impostor answer: %v", err)
	}
}

func FuzzPairMessages(f *testing.F) {
	secret := []byte("0123456789abcdef")
	env, _, _ := NewPairRequest(testTabletKey(f), secret, "c1", "st-1", "tab-1", 1)
	f.Add(env)
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := VerifyPairRequest(data); err == nil {
			if r.Validate() != nil {
				t.Fatal("verified request does not validate")
			}
		}
		var resp PairResponse
		if DecodeMessage(data, &resp) == nil {
			enc, _ := Marshal(&resp)
			var again PairResponse
			if err := DecodeMessage(enc, &again); err != nil {
				t.Fatalf("re-decoding: %v", err)
			}
		}
	})
}
