package protocol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"math/rand/v2"
	"testing"
)

// Test keys are derived from fixed seeds so vectors are reproducible. They are test
// keys only: their private halves are in this file and in testdata.
func testStationKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("captura test station key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testGatewayKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("captura test gateway key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testTabletKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := GenerateSigningKey(KindTablet)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

func testAIMAKey(t testing.TB, suiteName string) *RecipientKey {
	s, err := suiteByName(suiteName)
	if err != nil {
		t.Fatal(err)
	}
	ikm := sha256.Sum256([]byte("captura test aima key " + s.name))
	priv, err := s.kem.DeriveKeyPair(ikm[:])
	if err != nil {
		t.Fatal(err)
	}
	return newRecipientKey(s, priv)
}

func mustSigner(t testing.TB, k crypto.Signer) *Signer {
	t.Helper()
	s, err := NewSigner(k)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	return s
}

func idFrom(s string) ID {
	sum := sha256.Sum256([]byte(s))
	var id ID
	copy(id[:], sum[:])
	return id
}

func uintp(v uint) *uint { return &v }
func boolp(v bool) *bool { return &v }

// sampleRecord is a full session: ten fingers (one forced, one with two attempts) or
// missing, and the face. body is the sealed body to embed.
func sampleRecord(body []byte) *Record {
	const t0 = int64(1795000000000)
	r := &Record{
		V: Version, ID: idFrom("record-1"), Centre: "lisboa-arroios", Station: "st-07", Seq: 42,
		Prev: Hash(sha256.Sum256([]byte("record-0"))), Txn: "AIMA-2026-000123",
		Started: t0, Ended: t0 + 95000, Operator: "tablet-balcao-3", Software: "captura 1.0.0",
		Body: body,
	}
	for i, p := range []FingerPos{1, 2, 3, 4, 5, 6, 7, 8, 9} {
		it := Item{Mod: ModFinger, Pos: p, Attempts: []Attempt{{
			N: 1, At: t0 + int64(i)*8000,
			Q:      Quality{Alg: "NFIQ2", Ver: "2.3", Score: uint(40 + 5*i), Pass: true},
			PAD:    &PAD{Score: 0.05, Decision: PADBonaFide, Method: "captura-finger-temporal/1", Cues: nil},
			Device: "R307",
		}}}
		if p == 4 {
			it.Attempts[0].Q.Pass, it.Attempts[0].Q.Score = false, 5
			it.Attempts = append(it.Attempts, Attempt{N: 2, At: t0 + 40000, Q: Quality{Alg: "NFIQ2", Ver: "2.3", Score: 8, Pass: false}})
			it.Chosen = 1
			it.Forced = &Override{Reason: "worn ridges, applicant is a mason", By: "tablet-balcao-3", At: t0 + 41000}
		}
		r.Items = append(r.Items, it)
	}
	r.Items = append(r.Items, Item{Mod: ModFace, Attempts: []Attempt{{N: 1, At: t0 + 90000,
		Q:   Quality{Alg: "captura-face-icao", Ver: "1", Score: 88, Pass: true},
		PAD: &PAD{Score: 0.91, Decision: PADAttack, Method: "captura-face-illumination/1", Cues: []string{"no-specular", "flat-shading"}}}}})
	r.Exceptions = []Exception{{Pos: 10, Reason: MissingAmputated, By: "tablet-balcao-3", At: t0 + 70000}}
	return r
}

// sampleBody is a body of about size bytes of pseudo-random data spread over the items
// of sampleRecord (a full session is about 1.5 MB).
func sampleBody(rec ID, size int) *Body {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &Body{V: Version, Record: rec}
	chunk := func(n int) []byte {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(rng.Uint32())
		}
		return d
	}
	per := size / 20
	for p := FingerPos(1); p <= 9; p++ {
		b.Items = append(b.Items, BodyItem{Mod: ModFinger, Pos: p, Format: FormatFIR, Data: chunk(per * 2)})
		b.Items = append(b.Items, BodyItem{Mod: ModFinger, Pos: p, Format: FormatFMR, Data: chunk(per / 8)})
		b.Assessments = append(b.Assessments, Assessment{Mod: ModFinger, Pos: p, N: 1,
			Native: map[string]float64{"FingerJetFX_MinutiaeCount": float64(29 + p), "OCL_Bin10_Mean": 0.625}})
	}
	b.Assessments = append(b.Assessments,
		Assessment{Mod: ModFinger, Pos: 4, N: 1, Hints: []string{"press harder"}},
		Assessment{Mod: ModFinger, Pos: 4, N: 2, Hints: []string{"finger too dry"}})
	b.Items = append(b.Items, BodyItem{Mod: ModFace, Format: FormatFAC, Data: chunk(per)})
	return b
}

func mustSPKI(t testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
