// Package demo runs a whole CLAIM counter on one machine: a station (captura-agent
// in-process) with a simulated fingerprint reader on a pseudo-terminal, a simulated
// camera and panel, an embedded MQTT broker on loopback, the reference gateway, and a
// simulated technician's tablet that pairs with the station (through the real pairing
// exchange, after a long press on the simulated pairing button) and runs a ten-finger
// and face session. It prints each item's quality as the tablet sees it, then the record
// as the gateway verified it and the formats AIMA finds inside the sealed body.
package demo

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/captura-claim/captura/agent/biometric/liveness/padeval"
	"github.com/captura-claim/captura/agent/broker"
	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/agent/gateway"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/tablet"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
	"github.com/captura-claim/captura/firmware-tools/provision"
	"github.com/captura-claim/captura/protocol"
)

// Options tune the demo.
type Options struct {
	Dir    string // working directory (keys, state, logs); a new temporary one if empty
	Images string // fingerprint images the reader serves (PGM/PNG/TIFF directory)
	Fast   bool   // unpaced reader: bytes as fast as the pty takes them (not the real line rate)
	Seed   uint64 // reader seed
	Reader string // simulated module: R307 (default) or AS608
	// FingerFrames is pad.finger_frames: images per finger placement. Zero means 1 when
	// paced (a second R307 image takes 3.5 s more a finger, and the session would not
	// fit in a minute) and 2 with Fast.
	FingerFrames int
	FaceSeed     uint64 // camera seed: the simulated applicant
	Fingers      []protocol.FingerPos
	Face         bool
	// Printers: Progress prints the tablet's view of each event, Record the verified
	// record.
	Progress func(*protocol.Progress)
	Record   func(rec *protocol.Record, env *protocol.Envelope, body *protocol.Body)
}

// Run runs the demo until the session's record has been verified at the gateway and
// acknowledged, or ctx ends.
func Run(ctx context.Context, out io.Writer, o Options) error {
	start := time.Now()
	dir := o.Dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	} else {
		d, err := os.MkdirTemp("", "captura-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	say := func(format string, a ...any) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// Keys: the station is provisioned as a maintainer would; gateway, AIMA and tablet
	// keys are made here.
	prov, err := provision.Station(filepath.Join(dir, "station"), "demo-centre", "st-demo")
	if err != nil {
		return err
	}
	keys := filepath.Join(dir, "keys")
	os.MkdirAll(filepath.Join(keys, "stations"), 0o700)
	pub, _ := os.ReadFile(filepath.Join(prov.Dir, provision.PubFile))
	os.WriteFile(filepath.Join(keys, "stations", "st-demo.pub"), pub, 0o644)
	gwKey, _ := protocol.GenerateSigningKey(protocol.KindGateway)
	writePub(keys, "gateway.pub", gwKey.Public())
	aima, err := protocol.GenerateRecipientKey("")
	if err != nil {
		return err
	}
	os.WriteFile(filepath.Join(keys, "aima.pub"), aima.Public().MarshalPEM(), 0o644)
	if apriv, err := aima.MarshalPEM(); err == nil { // for capturactl show --aima-key (QA)
		os.WriteFile(filepath.Join(keys, "aima.key"), apriv, 0o600)
	}
	say("provisioned station st-demo (key %s); gateway, AIMA (%s) and tablet keys made", prov.KeyID, aima.Public().Suite())

	// Broker, reader, camera and panel.
	b, err := broker.Start(ctx, "127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	defer b.Close()
	say("embedded MQTT broker on %s (loopback only)", b.URL())
	link := filepath.Join(dir, "captura-reader")
	model := o.Reader
	if model == "" {
		model = "R307"
	}
	frames := o.FingerFrames
	if frames == 0 {
		frames = 1
		if o.Fast {
			frames = 2
		}
	}
	timing, _, err := padeval.ReaderTiming(model)
	if err != nil {
		return err
	}
	var source fpsim.Source
	var fingersReady <-chan struct{}
	if o.Images == "" {
		// Live fingers whose frames change between images as the PAD models expect.
		// Frames 0 to 2: the presence check's image, the captured one, the PAD's
		// second. Spare placements for retries.
		pf := newPrefetch(&presentations.Live{Seed: o.Seed, Timing: timing}, len(orAll(o.Fingers))+4, 3)
		source, fingersReady = pf, pf.done
	}
	sim, err := r30xsim.Start(r30xsim.Config{
		LineConfig: fpsim.LineConfig{Link: link, Unpaced: o.Fast, Seed: o.Seed},
		Model:      model, Baud: 57600, Images: o.Images, Source: source,
		Finger: fpsim.FingerConfig{Mode: fpsim.FingerAuto, ArriveDelay: 200 * time.Millisecond, FramesPerPlacement: frames},
	})
	if err != nil {
		return fmt.Errorf("reader simulator: %w", err)
	}
	defer sim.Close()
	pace := "paced at the line rate"
	if o.Fast {
		pace = "unpaced (--fast)"
	}
	say("simulated %s reader on %s at 57600 baud, %s; finger PAD on %d image(s) a placement", model, link, pace, frames)
	board := panelsim.New()
	pdev, err := panel.New(&panel.Opts{Enabled: true, Config: board.Config(), Lookup: board.Lookup, Logger: log})
	if err != nil {
		return err
	}
	light := camerasim.PinLight(board.Illumination)
	openCam := func() (camera.Camera, error) {
		return camerasim.New(&camerasim.Opts{Species: camerasim.BonaFide, Seed: o.FaceSeed, Light: light})
	}

	// The station's configuration, as a maintainer would write it.
	cfgPath := filepath.Join(dir, "agent.toml")
	cfgText := fmt.Sprintf(`[station]
id = "st-demo"
centre = "demo-centre"
state_dir = "state"
key = %q
[aima]
public_key = "keys/aima.pub"
[gateway]
public_key = "keys/gateway.pub"
[mqtt]
broker = %q
resend_after = "5s"
[reader]
port = %q
[pairing]
secret_file = %q
[capture]
finger_timeout = "15s"
face_timeout = "30s"
# The synthetic fingers are denser in minutiae than real ones (about 70 in an R307
# window against 30-45), so distinct synthetic fingers match each other far more often
# than real fingers do and the sequence check, calibrated on real impressions, would
# raise false alarms.
sequence_check = false
[pad]
finger_frames = %d
`, filepath.Join(prov.Dir, provision.KeyFile), b.URL(), link, filepath.Join(prov.Dir, provision.SecretFile), frames)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}

	// Gateway.
	gwSigner, _ := protocol.NewSigner(gwKey)
	arrived := make(chan *protocol.Record, 1)
	gw, err := gateway.New(gateway.Config{ID: "gw-demo", Centre: "demo-centre", Signer: gwSigner,
		StationKeyDir: filepath.Join(keys, "stations"), StoreDir: filepath.Join(dir, "gateway"),
		MQTT: mqttc.Options{Brokers: []string{b.URL()}}, Logger: log.With("component", "gateway"),
		OnRecord: func(station string, rec *protocol.Record, verdict string) {
			select {
			case arrived <- rec:
			default:
			}
		}})
	if err != nil {
		return err
	}
	defer gw.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	go func() { errc <- gw.Run(ctx) }()

	// The station.
	ready := make(chan struct{})
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- daemon.Run(ctx, cfg, log, daemon.Hooks{Camera: openCam, PanelDev: pdev, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-agentDone:
		return fmt.Errorf("station: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	say("station ready: reader detected and upgraded to 115200 baud, connected to the broker")

	// The tablet pairs: the technician holds the station's pairing button, then scans
	// the label.
	mq, err := mqttc.New(mqttc.Options{Brokers: []string{b.URL()}, ClientID: "demo-tablet", Logger: log})
	if err != nil {
		return err
	}
	if err := mq.Connect(ctx); err != nil {
		return err
	}
	defer mq.Close()
	board.Press(2500*time.Millisecond, time.Sleep)
	tabKey, _ := protocol.GenerateSigningKey(protocol.KindTablet)
	stationKey, err := pair(ctx, mq, tabKey, prov.URI)
	if err != nil {
		return fmt.Errorf("pairing: %w", err)
	}
	say("pairing button held: window open; tablet 'tablet-balcao-1' paired (mutual keys pinned)")
	tab, err := tablet.New(mq, tablet.Opts{Name: "tablet-balcao-1", Centre: "demo-centre", Station: "st-demo", Key: tabKey,
		StationKey: stationKey, CounterFile: filepath.Join(dir, "tablet.counter"), Lifetime: 5 * time.Minute})
	if err != nil {
		return err
	}

	if fingersReady != nil {
		// The applicant's fingers are grown ahead (a nil channel is never ready, hence the
		// check): a module must answer GenImg in about half a second.
		select {
		case <-fingersReady:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	txn := "DEMO-" + time.Now().UTC().Format("20060102-150405")
	say("capture session for transaction %s: %d fingers%s", txn, len(orAll(o.Fingers)), map[bool]string{true: " and the face", false: ""}[o.Face])
	id, err := tab.Capture(ctx, txn, o.Fingers, o.Face, o.Progress)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	say("session committed at the station: record %s sealed, signed and queued", id)
	var rec *protocol.Record
	for rec == nil {
		select {
		case r := <-arrived:
			if r.ID == id {
				rec = r
			}
		case err := <-agentDone:
			return fmt.Errorf("station stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	envPath := gw.EnvelopePath("demo-centre", "st-demo", gateway.KindRecord, rec.Seq, rec.ID)
	envBytes, err := os.ReadFile(envPath)
	if err != nil {
		return err
	}
	ring, _ := protocol.NewKeyRing()
	spub, _ := protocol.ParsePublicKeyPEM(pub)
	ring.Add(spub)
	vr, env, err := protocol.VerifyRecord(envBytes, ring)
	if err != nil {
		return fmt.Errorf("verifying the stored record: %w", err)
	}
	body, err := protocol.OpenBody(aima, vr.Station, vr.ID, vr.Body)
	if err != nil {
		return fmt.Errorf("opening the body with the AIMA key: %w", err)
	}
	say("gateway verified the record, stored it in %s and sent a signed receipt", filepath.Dir(envPath))
	if o.Record != nil {
		o.Record(vr, env, body)
	}
	cancel()
	if err := <-agentDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	say("done in %.1f s; logs in %s", time.Since(start).Seconds(), filepath.Join(dir, "agent.log"))
	return nil
}

func orAll(f []protocol.FingerPos) []protocol.FingerPos {
	if len(f) == 0 {
		return protocol.AllFingers
	}
	return f
}

func writePub(dir, name string, pub crypto.PublicKey) {
	b, _ := protocol.MarshalPublicKeyPEM(pub)
	os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// pair runs the pairing exchange from the label's URI and returns the pinned station key.
func pair(ctx context.Context, mq *mqttc.Client, key crypto.Signer, labelURI string) (crypto.PublicKey, error) {
	centre, station, secret, _, err := provision.ParseLabelURI(labelURI)
	if err != nil {
		return nil, err
	}
	reqEnv, req, err := protocol.NewPairRequest(key, secret, centre, station, "tablet-balcao-1", time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	answer := make(chan []byte, 1)
	if err := mq.Subscribe(ctx, protocol.StationTopic(centre, station, protocol.TopicPair, req.ID.String(), "resp"), 1,
		func(m *mqttc.Message) {
			select {
			case answer <- m.Payload:
			default:
			}
		}); err != nil {
		return nil, err
	}
	if err := mq.Publish(ctx, protocol.StationTopic(centre, station, protocol.TopicPair, req.ID.String(), "req"), 1, false, reqEnv); err != nil {
		return nil, err
	}
	select {
	case env := <-answer:
		resp, pinned, err := protocol.VerifyPairResponse(env, reqEnv, secret, req)
		if err != nil {
			return nil, err
		}
		if resp.Status != protocol.PairPaired {
			return nil, errors.New(strings.TrimSpace(resp.Reason))
		}
		return pinned, nil
	case <-time.After(20 * time.Second):
		return nil, errors.New("no answer from the station")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
