package station_test

import (
	"bytes"
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/biometric/facecapture"
	"github.com/captura-claim/captura/agent/biometric/fingerq"
	"github.com/captura-claim/captura/agent/biometric/liveness"
	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/protocol"
	"github.com/captura-claim/captura/protocol/iso19794/fir"
	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

// BenchmarkSessionCompute is the station's computing per session, device time excluded:
// for ten R307-sized fingers NFIQ 2 with minutiae and the two standard records each, the
// face checks on one 1280x720 still and its token record, then sealing, signing and
// committing the record (fsync), and the finger PAD on two frames of each finger (the
// second a shifted, re-noised copy). The face challenge's PAD compute is measured apart
// (liveness.BenchmarkFacePAD): it runs on preview frames before the still.
func BenchmarkSessionCompute(b *testing.B) {
	q, err := fingerq.New()
	if err != nil {
		b.Fatal(err)
	}
	src, err := fpsim.NewDirSource("../../drivers/fingerprint/fpsim/testdata/sfinge")
	if err != nil {
		b.Fatal(err)
	}
	var fingers, seconds []*image.Gray
	sensor := fpsim.Sensor{Width: 256, Height: 288, PPI: 500}
	for i := 0; i < 10; i++ {
		g, err := src.Frame(i, 0)
		if err != nil {
			b.Fatal(err)
		}
		g2, err := src.Frame(i, 1)
		if err != nil {
			b.Fatal(err)
		}
		fingers = append(fingers, fpsim.Fit(g, fpsim.SourcePPI(src), sensor))
		seconds = append(seconds, fpsim.Fit(g2, fpsim.SourcePPI(src), sensor))
	}
	hist, err := liveness.NewHistory(nil, 2000, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	pad, err := liveness.NewFingerPAD(0.5, hist, nil)
	if err != nil {
		b.Fatal(err)
	}
	cam, _ := camerasim.New(&camerasim.Opts{Seed: 3})
	still, err := cam.Still(b.Context(), camera.Request{Size: camera.Size{W: 1280, H: 720}})
	if err != nil {
		b.Fatal(err)
	}
	stillImg, _ := still.Image()
	an, _ := face.NewAnalyzer(nil)
	st, _ := store.Open(filepath.Join(b.TempDir(), "captura.db"), nil)
	defer st.Close()
	aima, _ := protocol.GenerateRecipientKey("")
	key, _ := protocol.GenerateSigningKey(protocol.KindStation)
	signer, _ := protocol.NewSigner(key)
	var bodyBytes int
	b.ReportAllocs()
	for b.Loop() {
		rec := &protocol.Record{V: 1, ID: protocol.NewID(), Centre: "c1", Station: "st-1", Txn: "AIMA-BENCH", Started: 1, Ended: 2, Operator: "tab-1", Software: "bench"}
		body := &protocol.Body{V: 1, Record: rec.ID}
		for i, g := range fingers {
			pos := protocol.FingerPos(i + 1)
			d := pad.Judge(g, seconds[i], nil)
			a, err := q.AssessFinger(&fingerprint.Image{Gray: g, PPI: 500, Captured: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			im, _ := fir.ImageOf(g, fir.PNG)
			im.Position = uint8(pos)
			firBytes, _ := fir.Encode(&fir.Record{AcquisitionLevel: 31, ScaleUnits: fir.PixelsPerInch, ScanXRes: 500, ScanYRes: 500, ImageXRes: 500, ImageYRes: 500,
				PixelDepth: 8, Compression: fir.PNG, Images: []fir.Image{im}})
			t, err := minutiae.FMR(a.Minutiae, 256, 288, uint8(pos), uint8(a.Quality.Score))
			if err != nil {
				b.Fatal(err)
			}
			fmrBytes, _ := fmr.Encode(t)
			body.Items = append(body.Items, protocol.BodyItem{Mod: protocol.ModFinger, Pos: pos, Format: protocol.FormatFIR, Data: firBytes},
				protocol.BodyItem{Mod: protocol.ModFinger, Pos: pos, Format: protocol.FormatFMR, Data: fmrBytes})
			rec.Items = append(rec.Items, protocol.Item{Mod: protocol.ModFinger, Pos: pos, Attempts: []protocol.Attempt{{N: 1, At: 1, Q: a.Quality, PAD: d.PAD}}})
		}
		rep, err := an.Analyze(stillImg)
		if err != nil || !rep.Found {
			b.Fatalf("face: %v", err)
		}
		tok, err := face.TokenRecord(stillImg, rep, 480)
		if err != nil {
			b.Fatal(err)
		}
		body.Items = append(body.Items, protocol.BodyItem{Mod: protocol.ModFace, Format: protocol.FormatFAC, Data: tok})
		rec.Items = append(rec.Items, protocol.Item{Mod: protocol.ModFace, Attempts: []protocol.Attempt{{N: 1, At: 1, Q: facecapture.Quality(rep)}}})
		_, err = st.Append(store.KindRecord, func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
			sealed, err := body.Seal(aima.Public(), "st-1")
			if err != nil {
				return protocol.ID{}, nil, err
			}
			bodyBytes = len(sealed)
			rec.Seq, rec.Prev, rec.Body = seq, prev, sealed
			env, err := protocol.SignRecord(signer, rec)
			return rec.ID, env, err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bodyBytes)/1e6, "sealed-MB")
}
