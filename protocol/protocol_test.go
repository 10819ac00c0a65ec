package protocol

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// sealedSample seals a small sample body and signs the sample record around it.
func sealedSample(t testing.TB, aima *RecipientKey, bodySize int) (*Record, *Body, []byte) {
	t.Helper()
	rec := sampleRecord(nil)
	body := sampleBody(rec.ID, bodySize)
	sealed, err := body.Seal(aima.Public(), rec.Station)
	if err != nil {
		t.Fatal(err)
	}
	rec.Body = sealed
	env, err := SignRecord(mustSigner(t, testStationKey()), rec)
	if err != nil {
		t.Fatal(err)
	}
	return rec, body, env
}

func stationRing(t testing.TB) *KeyRing {
	kr, err := NewKeyRing(testStationKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealSignVerifyOpen(t *testing.T) {
	for _, suite := range []string{SuiteXWing, SuiteP256} {
		t.Run(suite, func(t *testing.T) {
			aima := testAIMAKey(t, suite)
			rec, body, env := sealedSample(t, aima, 64<<10)
			got, e, err := VerifyRecord(env, stationRing(t))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != rec.ID || got.Txn != rec.Txn || len(got.Items) != 10 || got.Items[3].Forced == nil {
				t.Fatalf("decoded record differs: %+v", got)
			}
			if e.KeyID != mustSigner(t, testStationKey()).KeyID() || e.ContentType != CTRecord {
				t.Errorf("envelope headers: kid %s ct %q", e.KeyID, e.ContentType)
			}
			opened, err := OpenBody(aima, got.Station, got.ID, got.Body)
			if err != nil {
				t.Fatal(err)
			}
			if len(opened.Items) != len(body.Items) || !bytes.Equal(opened.Items[0].Data, body.Items[0].Data) {
				t.Fatal("opened body differs from the sealed one")
			}
			si, err := InspectSealed(got.Body)
			if err != nil {
				t.Fatal(err)
			}
			if si.Suite != suite || si.KeyID != aima.Public().KeyID() || si.Record != rec.ID || si.Station != rec.Station {
				t.Errorf("sealed info = %+v", si)
			}
			// The sealed body does not contain the plaintext.
			if bytes.Contains(got.Body, body.Items[0].Data[:64]) {
				t.Fatal("plaintext visible in the sealed body")
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	aima := testAIMAKey(t, "")
	rec, _, env := sealedSample(t, aima, 4096)
	ring := stationRing(t)

	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(env); err != nil {
		t.Fatal(err)
	}
	remarshal := func(m *cose.Sign1Message) []byte {
		m.Headers.RawProtected, m.Headers.RawUnprotected = nil, nil
		b, err := m.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tamperedPayload := bytes.Clone(env)
	i := bytes.Index(tamperedPayload, []byte(rec.Txn))
	tamperedPayload[i] = 'X'

	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	otherRing, _ := NewKeyRing(otherKey.Public())
	signedByOther, _ := SignRecord(mustSigner(t, otherKey), rec)

	withCrit := cose.NewSign1Message()
	withCrit.UnmarshalCBOR(env)
	withCrit.Headers.Protected[cose.HeaderLabelCritical] = []any{int64(99)}
	withCrit.Headers.Protected[int64(99)] = "x"

	wrongCT := cose.NewSign1Message()
	wrongCT.UnmarshalCBOR(env)
	wrongCT.Headers.Protected[cose.HeaderLabelContentType] = CTReceipt

	wrongAlg := cose.NewSign1Message()
	wrongAlg.UnmarshalCBOR(env)
	wrongAlg.Headers.Protected[cose.HeaderLabelAlgorithm] = cose.AlgorithmES256

	unprot := cose.NewSign1Message()
	unprot.UnmarshalCBOR(env)
	unprot.Headers.Unprotected[cose.HeaderLabelKeyID] = []byte("x")

	tests := []struct {
		name string
		in   []byte
		ring *KeyRing
		is   error
		msg  string
	}{
		{"truncated", env[:len(env)/2], ring, ErrMalformed, "not a COSE_Sign1"},
		{"empty", nil, ring, ErrMalformed, "empty input"},
		{"tampered payload", tamperedPayload, ring, ErrSignature, "payload or protected header altered"},
		{"unknown key", env, otherRing, ErrUnknownKey, "not trusted here"},
		{"signed by another key", signedByOther, ring, ErrUnknownKey, "not trusted here"},
		{"unknown critical header", remarshal(withCrit), ring, ErrCritical, "crit names header 99"},
		{"content type changed", remarshal(wrongCT), ring, ErrContentType, "want \"application/captura-record+cbor\""},
		{"alg changed", remarshal(wrongAlg), ring, ErrAlgorithm, "signs with"},
		{"unprotected header", remarshal(unprot), ring, ErrSchema, "unprotected headers"},
		{"oversize", append(bytes.Clone(env), make([]byte, MaxRecordSize+128<<10)...), ring, ErrTooLarge, "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := VerifyRecord(tt.in, tt.ring)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

func TestBodyMovedToAnotherRecord(t *testing.T) {
	aima := testAIMAKey(t, "")
	signer := mustSigner(t, testStationKey())
	_, _, envA := sealedSample(t, aima, 4096)
	recA, _, err := VerifyRecord(envA, stationRing(t))
	if err != nil {
		t.Fatal(err)
	}
	// A second record, validly signed by the station, carrying A's sealed body.
	recB := sampleRecord(recA.Body)
	recB.ID = idFrom("record-2")
	envB, err := SignRecord(signer, recB)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = VerifyRecord(envB, stationRing(t))
	if !errors.Is(err, ErrBinding) {
		t.Fatalf("VerifyRecord: err = %v, want ErrBinding", err)
	}
	// Even if a gateway skipped the header check, opening fails: the binding is in the AAD.
	forged := forgeBinding(t, recA.Body, recB.ID)
	_, err = OpenBody(aima, recB.Station, recB.ID, forged)
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("OpenBody with rewritten headers: err = %v, want ErrDecrypt", err)
	}
	// Moved to another station.
	_, err = OpenBody(aima, "st-99", recA.ID, recA.Body)
	if !errors.Is(err, ErrBinding) {
		t.Fatalf("other station: err = %v, want ErrBinding", err)
	}
}

// forgeBinding rewrites the rid header of a sealed body without re-encrypting.
func forgeBinding(t *testing.T, sealed []byte, rid ID) []byte {
	t.Helper()
	var tag cbor.RawTag
	if err := coseDecMode.Unmarshal(sealed, &tag); err != nil {
		t.Fatal(err)
	}
	var e encrypt0
	coseDecMode.Unmarshal(tag.Content, &e)
	var p e0Protected
	coseDecMode.Unmarshal(e.Protected, &p)
	p.Record = rid
	e.Protected, _ = encMode.Marshal(p)
	out, err := encMode.Marshal(cbor.Tag{Number: 16, Content: e})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenRejects(t *testing.T) {
	aima := testAIMAKey(t, "")
	rec, _, env := sealedSample(t, aima, 4096)
	r, _, err := VerifyRecord(env, stationRing(t))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateRecipientKey("")
	if _, err := OpenBody(other, rec.Station, rec.ID, r.Body); !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "recipient key") {
		t.Errorf("wrong recipient: %v", err)
	}
	p256 := testAIMAKey(t, SuiteP256)
	if _, err := OpenBody(p256, rec.Station, rec.ID, r.Body); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong suite: %v", err)
	}
	flipped := bytes.Clone(r.Body)
	flipped[len(flipped)-20] ^= 1
	if _, err := OpenBody(aima, rec.Station, rec.ID, flipped); !errors.Is(err, ErrDecrypt) {
		t.Errorf("flipped ciphertext: %v", err)
	}
	if _, err := OpenBody(aima, rec.Station, rec.ID, r.Body[:len(r.Body)-3]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
}

func TestKeysPEMRoundTrip(t *testing.T) {
	for _, kind := range []string{KindStation, KindTablet, KindMaintainer, KindGateway} {
		k, err := GenerateSigningKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := MarshalPublicKeyPEM(k.Public())
		k2, err := ParsePrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		id1, _ := KeyIDOf(k.Public())
		id2, _ := KeyIDOf(k2.Public())
		id3, _ := KeyIDOf(p2)
		if id1 != id2 || id1 != id3 {
			t.Errorf("%s: key ids differ after PEM round trip", kind)
		}
		if _, err := ParsePublicKeyPEM(priv); err == nil {
			t.Errorf("%s: a private key parsed as a public key", kind)
		}
	}
	for _, s := range []string{SuiteXWing, SuiteP256} {
		k, err := GenerateRecipientKey(s)
		if err != nil {
			t.Fatal(err)
		}
		pem, _ := k.MarshalPEM()
		k2, err := ParseRecipientKeyPEM(pem)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParseRecipientPublicKeyPEM(k.Public().MarshalPEM())
		if err != nil {
			t.Fatal(err)
		}
		if k2.Public().KeyID() != k.Public().KeyID() || p2.KeyID() != k.Public().KeyID() || p2.Suite() != s {
			t.Errorf("%s: HPKE key PEM round trip changed the key", s)
		}
	}
	if _, err := GenerateRecipientKey("HPKE-99"); err == nil {
		t.Error("unknown suite accepted")
	}
}

func TestTabletCommandES256(t *testing.T) {
	tk := testTabletKey(t)
	s := mustSigner(t, tk)
	cmd := &Command{V: Version, ID: idFrom("cmd-1"), Type: CmdCaptureStart, Centre: "lisboa-arroios", Station: "st-07",
		Tablet: "tablet-balcao-3", Counter: 7, Issued: 1795000000000, Expires: 1795000060000,
		Start: &StartArgs{Txn: "AIMA-2026-000123", Fingers: []FingerPos{2, 7}, Face: true}}
	env, err := SignMessage(s, cmd)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := NewKeyRing(tk.Public())
	got, e, err := VerifyMessage[Command](env, ring)
	if err != nil {
		t.Fatal(err)
	}
	if e.Alg != cose.AlgorithmES256 || got.Start.Txn != cmd.Start.Txn || len(got.Start.Fingers) != 2 {
		t.Fatalf("got %+v alg %v", got, e.Alg)
	}
	// A command envelope is not a record, and vice versa.
	if _, _, err := VerifyRecord(env, ring); !errors.Is(err, ErrContentType) {
		t.Fatalf("command accepted as record: %v", err)
	}
}

func TestCommandValidate(t *testing.T) {
	base := func() *Command {
		return &Command{V: Version, ID: idFrom("c"), Type: CmdCaptureMissing, Centre: "c1", Station: "s1", Tablet: "t1",
			Counter: 1, Issued: 1000, Expires: 2000, Item: &ItemArgs{Mod: ModFinger, Pos: 3, Reason: MissingBandaged}}
	}
	tests := []struct {
		name   string
		mutate func(c *Command)
		want   string
	}{
		{"ok", func(c *Command) {}, ""},
		{"unknown type", func(c *Command) { c.Type = "format-disk" }, `field "type"`},
		{"bad reason", func(c *Command) { c.Item.Reason = "lazy" }, `field "item.reason"`},
		{"face cannot be missing", func(c *Command) { c.Item = &ItemArgs{Mod: ModFace, Reason: MissingUnable} }, `field "item"`},
		{"args of another type", func(c *Command) { c.Start = &StartArgs{Txn: "ABCD"} }, `field "start": not an argument`},
		{"missing args", func(c *Command) { c.Item = nil }, `field "item": capture-missing needs it`},
		{"expired window too long", func(c *Command) { c.Expires = c.Issued + MaxCommandLifetime + 1 }, `field "expires"`},
		{"counter zero", func(c *Command) { c.Counter = 0 }, `field "counter"`},
		{"station with wildcard", func(c *Command) { c.Station = "s/+" }, `field "station"`},
		{"bad txn", func(c *Command) {
			c.Type, c.Item, c.Start = CmdCaptureStart, nil, &StartArgs{Txn: "x y"}
		}, `field "start.txn"`},
		{"duplicate finger", func(c *Command) {
			c.Type, c.Item, c.Start = CmdCaptureStart, nil, &StartArgs{Txn: "ABCD", Fingers: []FingerPos{2, 2}}
		}, `field "start.fingers[1]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mutate(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrSchema) {
				t.Fatalf("err = %v, want ErrSchema containing %q", err, tt.want)
			}
		})
	}
}

func TestTransactionIDs(t *testing.T) {
	for _, ok := range []string{"ABCD", "AIMA-2026-000123", strings.Repeat("a", 50)} {
		if err := CheckTransaction("txn", ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "abc", strings.Repeat("a", 51), "AIMA 1", "AIMA_1", "AIMA/1", "ÁIMA1", "AIMA-1\n", "+#"} {
		if err := CheckTransaction("txn", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTopics(t *testing.T) {
	id := idFrom("cmd")
	topic := CommandStateTopic("lisboa-arroios", "st-07", CmdCaptureStart, id)
	if topic != "captura/v1/lisboa-arroios/st-07/cmd/capture-start/"+id.String()+"/state" {
		t.Fatalf("topic = %s", topic)
	}
	tp, err := ParseTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Kind != TopicCmdState || tp.Station != "st-07" || tp.Rest[0] != CmdCaptureStart {
		t.Fatalf("parsed %+v", tp)
	}
	if got, _ := tp.CommandID(); got != id {
		t.Fatal("command id lost")
	}
	for _, bad := range []string{
		"captura/v1/c/s", "captura/v2/c/s/status", "captura/v1/c/+/status", "captura/v1/c/#", "captura/v1/C/s/status",
		"captura/v1/c/s/status/extra", "captura/v1/c/s/cmd/rm-rf/" + id.String(), "captura/v1/c/s/cmd/status/xyz",
		"captura/v1/c/s/nope", "captura/v1/c//status",
	} {
		if _, err := ParseTopic(bad); err == nil {
			t.Errorf("ParseTopic(%q) accepted", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("StationTopic accepted a wildcard")
		}
	}()
	StationTopic("c", "+", TopicStatus)
}

func TestMessagesRoundTrip(t *testing.T) {
	s := mustSigner(t, testStationKey())
	ring := stationRing(t)
	msgs := []Message{
		&Status{V: Version, Centre: "c1", Station: "s1", State: StateOnline, Birth: 3, At: 5, Version: "1.0.0",
			Devices: []DeviceStatus{{Kind: "reader", Name: "r30x(R307)", State: "ok"}}, Caps: []string{"finger"},
			Outbox: &OutboxStatus{Records: 2, Bytes: 3000000, Oldest: 4}},
		&CommandState{V: Version, Command: idFrom("c"), Type: CmdStatus, Station: "s1", State: CmdFailed, Reason: "busy", At: 9},
		&Progress{V: Version, Station: "s1", Session: idFrom("r"), Txn: "ABCD", Seq: 3, At: 7, Event: EvAttempt,
			Mod: ModFinger, Pos: 2, Attempt: 1, Score: uintp(0), Pass: boolp(false), Hints: []string{"press harder"}},
		&Audit{V: Version, ID: idFrom("a"), Centre: "c1", Station: "s1", Seq: 1, At: 8, Actor: "tablet:t1",
			Action: "capture.override", Outcome: "ok", Details: map[string]string{"reason": "worn ridges"}},
		&Telemetry{V: Version, Station: "s1", At: 1, Uptime: 60, RSS: 20 << 20, DiskFree: 1 << 30},
	}
	for _, m := range msgs {
		env, err := SignMessage(s, m)
		if err != nil {
			t.Fatalf("%s: %v", m.ContentType(), err)
		}
		e, err := Verify(env, m.ContentType(), ring)
		if err != nil {
			t.Fatalf("%s: %v", m.ContentType(), err)
		}
		again, _ := Marshal(m)
		if !bytes.Equal(e.Payload, again) {
			t.Errorf("%s: payload not deterministic", m.ContentType())
		}
	}
	// A score of zero survives the round trip (pointer, not omitted).
	p, _, err := VerifyMessage[Progress](mustSign(t, s, msgs[2]), ring)
	if err != nil || p.Score == nil || *p.Score != 0 {
		t.Fatalf("progress score lost: %v %v", p, err)
	}
}

func mustSign(t *testing.T, s *Signer, m Message) []byte {
	env, err := SignMessage(s, m)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestBodyAssessments: the sealed detail of each attempt is checked like the rest of the
// body, with errors that name the field.
func TestBodyAssessments(t *testing.T) {
	ok := Assessment{Mod: ModFinger, Pos: 2, N: 1, Native: map[string]float64{"OCL_Bin10_Mean": 0.5}, Hints: []string{"press harder"}}
	manyHints := make([]string, MaxHints+1)
	for i := range manyHints {
		manyHints[i] = "x"
	}
	for _, c := range []struct {
		name string
		mut  func(a *Assessment)
		want string // "" = valid
	}{
		{"valid", func(a *Assessment) {}, ""},
		{"face", func(a *Assessment) { a.Mod, a.Pos = ModFace, 0 }, ""},
		{"no attempt number", func(a *Assessment) { a.N = 0 }, `"assess[0].n"`},
		{"face with a position", func(a *Assessment) { a.Mod = ModFace }, `"assess[0].pos"`},
		{"bad position", func(a *Assessment) { a.Pos = 11 }, `"assess[0].pos"`},
		{"bad modality", func(a *Assessment) { a.Mod = "iris" }, `"assess[0].mod"`},
		{"NaN measure", func(a *Assessment) { a.Native["Mu"] = math.NaN() }, `"assess[0].native.Mu"`},
		{"too many hints", func(a *Assessment) { a.Hints = manyHints }, `"assess[0].hints"`},
		{"empty hint", func(a *Assessment) { a.Hints = []string{""} }, `"assess[0].hints[0]"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := ok
			a.Native = map[string]float64{"OCL_Bin10_Mean": 0.5}
			c.mut(&a)
			b := &Body{V: Version, Record: idFrom("r"), Items: []BodyItem{{Mod: ModFinger, Pos: 2, Format: FormatFIR, Data: []byte{1}}},
				Assessments: []Assessment{a}}
			enc, err := Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeBody(enc)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("valid body refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want one naming %s", err, c.want)
			}
		})
	}
}

// TestKeyFileWithTwoBlocksRefused: a key file holds one key; two pasted together are
// refused rather than the second silently ignored.
func TestKeyFileWithTwoBlocksRefused(t *testing.T) {
	a, _ := GenerateSigningKey(KindStation)
	b, _ := GenerateSigningKey(KindStation)
	pa, _ := MarshalPublicKeyPEM(a.Public())
	pb, _ := MarshalPublicKeyPEM(b.Public())
	if _, err := ParsePublicKeyPEM(pa); err != nil {
		t.Fatal(err)
	}
	_, err := ParsePublicKeyPEM(append(pa, pb...))
	if err == nil || !strings.Contains(err.Error(), "more than one block") {
		t.Fatalf("two keys in one file: %v", err)
	}
}
