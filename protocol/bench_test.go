package protocol

import "testing"

// A full session: ten fingers' image records and templates and a face image, about
// 1.5 MB of body.
const sessionBody = 1536 << 10

// BenchmarkSealSign measures what the station does per session once the capture is
// done: encode the body, seal it to AIMA (HPKE), build the record and sign it (COSE,
// Ed25519). MB/s is over the body size.
func BenchmarkSealSign(b *testing.B) {
	for _, suite := range []string{SuiteXWing, SuiteP256} {
		b.Run(suite, func(b *testing.B) {
			aima := testAIMAKey(b, suite).Public()
			signer := mustSigner(b, testStationKey())
			rec := sampleRecord(nil)
			body := sampleBody(rec.ID, sessionBody)
			b.SetBytes(sessionBody)
			b.ReportAllocs()
			for b.Loop() {
				sealed, err := body.Seal(aima, rec.Station)
				if err != nil {
					b.Fatal(err)
				}
				rec.Body = sealed
				if _, err := SignRecord(signer, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyOpen measures what AIMA does per record: verify the signature and
// schema, check the binding, open the body and decode it. The gateway's share (verify
// only) is BenchmarkVerify.
func BenchmarkVerifyOpen(b *testing.B) {
	for _, suite := range []string{SuiteXWing, SuiteP256} {
		b.Run(suite, func(b *testing.B) {
			aima := testAIMAKey(b, suite)
			rec := sampleRecord(nil)
			sealed, _ := sampleBody(rec.ID, sessionBody).Seal(aima.Public(), rec.Station)
			rec.Body = sealed
			env, _ := SignRecord(mustSigner(b, testStationKey()), rec)
			ring := stationRing(b)
			b.SetBytes(sessionBody)
			b.ReportAllocs()
			for b.Loop() {
				r, _, err := VerifyRecord(env, ring)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := OpenBody(aima, r.Station, r.ID, r.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is the gateway's work per record: signature, schema, chain fields and
// body binding, without the AIMA key.
func BenchmarkVerify(b *testing.B) {
	aima := testAIMAKey(b, "")
	rec := sampleRecord(nil)
	sealed, _ := sampleBody(rec.ID, sessionBody).Seal(aima.Public(), rec.Station)
	rec.Body = sealed
	env, _ := SignRecord(mustSigner(b, testStationKey()), rec)
	ring := stationRing(b)
	b.SetBytes(sessionBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := VerifyRecord(env, ring); err != nil {
			b.Fatal(err)
		}
	}
}
