// Package daemon is captura-agent: it loads the configuration, opens the store, keys and
// devices, connects to the broker and runs the station core, as a tree of components
// that stop together when the context is cancelled. Under systemd it reports READY once
// the broker is connected and the devices have been looked for, pings the watchdog
// while the station's loops answer, and reports STOPPING on the way out.
package daemon

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/captura-claim/captura/agent/biometric/facecapture"
	"github.com/captura-claim/captura/agent/biometric/liveness"
	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/broker"
	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/devices"
	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/station"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/agent/sysclock"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/uplink"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/protocol"
)

// Hooks let tests and the demo replace parts of the pipeline.
type Hooks struct {
	Quality   session.FingerQuality
	FingerPAD session.FingerPAD
	Face      session.FaceCapturer // replaces the camera pipeline entirely
	// Camera opens the camera instead of the configured V4L2 device (simulator).
	Camera func() (camera.Camera, error)
	// PanelDev is the panel instead of the configured GPIO pins (simulated board).
	PanelDev    *panel.Dev
	OnCommitted func(store.Entry)
	// Ready is called once the daemon would report READY to systemd.
	Ready func()
	// Launch is what the update launcher decided (slot, trial); zero without updates.
	Launch update.Launched
	// FacePAD reports that the face capture runs the illumination challenge (set by Run).
	FacePAD bool
}

// Run runs the agent with cfg until ctx ends.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, hooks Hooks) error {
	stateDir := cfg.Path(cfg.Station.StateDir)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	// Every file the configuration names is read first: a station key is created only
	// for a configuration that can run.
	kf, err := ReadKeyFiles(cfg)
	if err != nil {
		return err
	}
	aima, gw, tablets := kf.aima, kf.gateway, kf.tablets
	signer, err := stationKey(cfg, log)
	if err != nil {
		return err
	}
	pairing, err := loadPairing(cfg, stateDir, log)
	if err != nil {
		return err
	}
	sopts := &store.Opts{MaxBytes: int64(cfg.Outbox.MaxBytes)}
	if cfg.Outbox.RequireTimeSync {
		sopts.Synced = sysclock.Synchronised
	}
	db, err := store.Open(filepath.Join(stateDir, "captura.db"), sopts)
	if err != nil {
		return err
	}
	defer db.Close()

	var st *station.Station
	var upd *update.Client // remote updates, when update.maintainer_keys is set
	statusChanged := make(chan struct{}, 1)
	sup := devices.New(devices.ReaderOpts{Enabled: cfg.Reader.Enabled, Port: cfg.Reader.Port, Family: cfg.Reader.Family,
		Baud: cfg.Reader.Baud, Upgrade: cfg.Reader.UpgradeBaud}, log.With("component", "devices"), func() {
		select {
		case statusChanged <- struct{}{}:
		default:
		}
	})
	quality := hooks.Quality
	if quality == nil {
		if quality, err = defaultQuality(); err != nil {
			return err
		}
	}
	// Panel: guidance, pairing button, illumination LED.
	var pnl *devices.Panel
	pdev := hooks.PanelDev
	if pdev == nil && cfg.Panel.Enabled {
		if pdev, err = panel.New(&panel.Opts{Enabled: true, Logger: log.With("component", "panel"), Config: panelConfig(cfg.Panel)}); err != nil {
			return fmt.Errorf("panel: %w", err)
		}
	}
	if pdev != nil {
		pnl = devices.NewPanel(pdev, func() {
			if st != nil {
				st.OpenPairing(context.Background(), "station:button")
			}
		})
		sup.AddStatus(pnl.Status)
	}
	// Presentation-attack detection: finger (a second frame of the same placement,
	// replay history in the store) and face (the illumination challenge, when the panel
	// has an illumination LED).
	fingerPAD := hooks.FingerPAD
	if fingerPAD == nil && cfg.Reader.Enabled {
		hkey, err := padHistoryKey(signer)
		if err != nil {
			return fmt.Errorf("pad: %w", err)
		}
		hist, err := liveness.NewHistory(db, cfg.PAD.History, hkey)
		if err != nil {
			return fmt.Errorf("pad: %w", err)
		}
		fp, err := liveness.NewFingerPAD(cfg.PAD.FingerThreshold, hist, &liveness.FingerOpts{
			SingleFrame: cfg.PAD.FingerFrames == 1, Log: log.With("component", "pad")})
		if err != nil {
			return fmt.Errorf("pad: %w", err)
		}
		fingerPAD = fp
	}
	var challenge facecapture.Challenge
	if pdev != nil && (cfg.Panel.Illumination != "" || hooks.PanelDev != nil) {
		ch, err := liveness.NewIlluminationChallenge(pdev, cfg.PAD.FaceThreshold, &liveness.FaceOpts{Log: log.With("component", "pad")})
		if err != nil {
			return fmt.Errorf("pad: %w", err)
		}
		challenge = ch
	}
	hooks.FingerPAD = fingerPAD
	// Camera and face capture.
	face := hooks.Face
	var cam *devices.Camera
	if face == nil && (cfg.Camera.Enabled || hooks.Camera != nil) {
		if hooks.Camera != nil {
			cam = devices.NewCamera("camera", hooks.Camera, log.With("component", "camera"))
		} else {
			cam = devices.NewV4L2Camera(cfg.Camera.Device, log.With("component", "camera"))
		}
		defer cam.Close()
		sup.AddStatus(cam.Status)
		fc, err := facecapture.New(cam.Get, facecapture.Opts{Still: camera.Size{W: cfg.Camera.Width, H: cfg.Camera.Height},
			Challenge: challenge, Log: log.With("component", "face")})
		if err != nil {
			return err
		}
		face = fc
	}
	hooks.Face = face
	hooks.FacePAD = challenge != nil && cam != nil
	var stPanel station.Panel
	if pnl != nil {
		stPanel = pnl
	}
	th := cfg.Capture.Thresholds
	st, err = station.New(station.Config{
		Station: cfg.Station.ID, Centre: cfg.Station.Centre, Signer: signer, AIMA: aima, Gateway: gw, Tablets: tablets,
		Capture: session.Config{Attempts: cfg.Capture.Attempts, FingerTimeout: cfg.Capture.FingerTimeout.D(),
			FaceTimeout: cfg.Capture.FaceTimeout.D(), Thresholds: thresholds(th), PADThreshold: cfg.PAD.FingerThreshold,
			SameFinger: sequenceCheck(cfg.Capture.SequenceCheck)},
		ResendAfter: cfg.MQTT.ResendAfter.D(), Inflight: cfg.MQTT.Inflight, MaxAge: cfg.Outbox.MaxAge.D(),
		StatusInterval: cfg.Health.StatusInterval.D(), TelemetryEvery: cfg.Health.TelemetryInterval.D(),
		Caps: capabilities(cfg, hooks), SessionFlag: sessionFlag(stateDir), Pairing: pairing, Slot: hooks.Launch.Slot,
	}, station.Deps{Store: db, Devices: sup, Quality: quality, FingerPAD: hooks.FingerPAD, Face: face, Panel: stPanel,
		Log: log.With("component", "station"), OnCommitted: hooks.OnCommitted,
		UpdateStatus: func() *protocol.UpdateStatus {
			if upd == nil {
				return nil
			}
			return upd.Status()
		}})
	if err != nil {
		return err
	}

	if err := st.LoadTablets(); err != nil {
		return err
	}

	brokerURL := cfg.MQTT.Broker
	if brokerURL == "" || brokerURL == "embedded" {
		b, err := broker.Start(ctx, cfg.MQTT.EmbeddedListen, &broker.Opts{Logger: log.With("component", "broker")})
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		defer b.Close()
		brokerURL = b.URL()
		log.Warn("no broker configured: embedded broker on loopback (demo only)", "url", brokerURL)
	}
	mopts, err := uplink.Options(cfg, brokerURL)
	if err != nil {
		return err
	}
	up, err := uplink.New(mopts, st, db, log.With("component", "uplink"))
	if err != nil {
		return err
	}
	// The update client subscribes when it is built: before the connection runs.
	if upd, err = newUpdater(cfg, hooks.Launch, st.Signer(), up.Client(), st, log, func() {
		select {
		case statusChanged <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				if errors.Is(err, update.ErrRestart) {
					log.Info("restarting into the new version", "component", name)
				} else {
					log.Error("component failed", "component", name, "err", err)
				}
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	run("devices", sup.Run)
	if pnl != nil {
		run("panel", pnl.Run)
	}
	run("station", st.Run)
	run("uplink", up.Run)
	if upd != nil {
		run("update", upd.Run)
	}
	run("status", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-statusChanged:
				if up.Client().Connected() {
					st.PublishStatus(ctx)
				}
			}
		}
	})
	ready := func() {
		if upd != nil {
			upd.Ready() // a version on trial may now pass its health check
		}
		if hooks.Ready != nil {
			hooks.Ready()
		}
	}
	run("systemd", func(ctx context.Context) error { return notifySystemd(ctx, up, sup, st, log, ready) })
	run("control", func(ctx context.Context) error { return serveControl(ctx, controlPath(cfg), st, log) })
	<-ctx.Done()
	sd.SdNotify(false, sd.SdNotifyStopping)
	log.Info("stopping")
	wg.Wait()
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return nil
}

// notifySystemd reports READY once the broker is connected and the reader has been
// looked for (at most readyWait), then pings the watchdog while the station answers. A
// broker that stays unreachable for brokerWait does not hold READY back for ever (the
// station works offline: records queue); the status then says so.
func notifySystemd(ctx context.Context, up *uplink.Uplink, sup *devices.Supervisor, st *station.Station, log *slog.Logger, ready func()) error {
	const readyWait, brokerWait = 30 * time.Second, 90 * time.Second
	wctx, cancel := context.WithTimeout(ctx, brokerWait)
	err := up.Client().WaitConnected(wctx)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	brokerDown := err != nil
	deadline := time.Now().Add(readyWait)
	for time.Now().Before(deadline) {
		if _, err := sup.Reader(); err == nil || errors.Is(err, devices.ErrDisabled) {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	var degraded []string
	if brokerDown {
		degraded = append(degraded, "broker unreachable")
	}
	for _, d := range sup.Status() {
		if d.State != "ok" && d.State != "disabled" {
			degraded = append(degraded, d.Kind+" "+d.State)
		}
	}
	status := "STATUS=ready"
	if len(degraded) > 0 {
		status = "STATUS=ready, degraded: " + strings.Join(degraded, ", ")
	}
	sd.SdNotify(false, sd.SdNotifyReady+"\n"+status)
	log.Info("ready", "broker", up.Client().Broker(), "devices", len(sup.Status()), "degraded", degraded)
	if ready != nil {
		ready()
	}
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			actx, cancel := context.WithTimeout(ctx, interval/3)
			err := st.Alive(actx)
			cancel()
			if err != nil {
				// No ping: systemd will kill and restart a hung agent.
				log.Error("station loops not answering; watchdog not pinged", "err", err)
				continue
			}
			sd.SdNotify(false, sd.SdNotifyWatchdog)
		}
	}
}

func panelConfig(p config.Panel) panel.Config {
	c := panel.DefaultConfig()
	c.Red, c.Green, c.Blue = p.LEDRed, p.LEDGreen, p.LEDBlue
	c.Buzzer, c.Button, c.Touch, c.Illumination = p.Buzzer, p.Button, p.Touch, p.Illumination
	return c
}

// loadPairing reads the setup secret (from captura-fw provision). Without one the
// station cannot pair tablets; configured tablets still work.
func loadPairing(cfg *config.Config, stateDir string, log *slog.Logger) (*station.Pairing, error) {
	path := cfg.Path(cfg.Pairing.SecretFile)
	if path == "" {
		path = filepath.Join(stateDir, "setup-secret")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		log.Warn("no setup secret: tablets cannot pair (captura-fw provision makes one)", "file", path)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pairing.secret_file: %w", err)
	}
	secret, err := protocol.ParseSecret(string(b))
	if err != nil {
		return nil, fmt.Errorf("pairing.secret_file: %s: %w", path, err)
	}
	return &station.Pairing{Secret: secret, Window: cfg.Pairing.Window.D(), MaxFailures: cfg.Pairing.MaxFailures}, nil
}

// sessionFlag is the file that exists while a capture session runs: in systemd's
// RuntimeDirectory (/run/captura) when there is one, else in the state directory.
func sessionFlag(stateDir string) string {
	dir := os.Getenv("RUNTIME_DIRECTORY")
	if dir == "" {
		dir = stateDir
	}
	return filepath.Join(strings.SplitN(dir, ":", 2)[0], "session")
}

// sequenceCheck compares a new finger with the fingers already kept in the session.
func sequenceCheck(on bool) func(a, b []minutiae.Minutia) bool {
	if !on {
		return nil
	}
	return func(a, b []minutiae.Minutia) bool { return minutiae.Similarity(a, b) >= minutiae.SameFingerThreshold }
}

func thresholds(th config.Threshold) func(session.Item) uint {
	return func(it session.Item) uint {
		if it.Mod == protocol.ModFace {
			return uint(th.Face)
		}
		switch it.Pos {
		case 1, 6:
			return uint(th.Thumb)
		case 2, 7:
			return uint(th.Index)
		case 3, 8:
			return uint(th.Middle)
		case 4, 9:
			return uint(th.Ring)
		}
		return uint(th.Little)
	}
}

func capabilities(cfg *config.Config, h Hooks) []string {
	var caps []string
	if cfg.Reader.Enabled {
		caps = append(caps, "finger")
	}
	if h.Face != nil {
		caps = append(caps, "face")
	}
	if h.FingerPAD != nil {
		caps = append(caps, "pad-finger")
	}
	if h.FacePAD {
		caps = append(caps, "pad-face")
	}
	return caps
}

// stationKey loads the station's signing key, creating it (mode 0600, with the public
// key beside it) on first start.
func stationKey(cfg *config.Config, log *slog.Logger) (*protocol.Signer, error) {
	path := cfg.StationKeyPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := protocol.GenerateSigningKey(protocol.KindStation)
		if err != nil {
			return nil, err
		}
		priv, _ := protocol.MarshalPrivateKeyPEM(k)
		pub, _ := protocol.MarshalPublicKeyPEM(k.Public())
		if err := fsutil.CreateExclusive(path, priv, 0o600); err != nil {
			return nil, fmt.Errorf("station key: %w", err)
		}
		if err := fsutil.WriteFileAtomic(strings.TrimSuffix(path, ".key")+".pub", pub, 0o644); err != nil {
			return nil, fmt.Errorf("station public key: %w", err)
		}
		s, err := protocol.NewSigner(k)
		if err == nil {
			log.Warn("created the station key; register its public key at the gateway", "kid", s.KeyID(), "file", strings.TrimSuffix(path, ".key")+".pub")
		}
		return s, err
	}
	if err != nil {
		return nil, fmt.Errorf("station key: %w", err)
	}
	k, err := protocol.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("station key %s: %w", path, err)
	}
	return protocol.NewSigner(k)
}

// padHistoryKey derives the secret that keys the finger PAD's replay history from the
// station's signing key, so that the secret never sits in the database beside the
// hashes it keys (a copy of captura.db alone cannot tell whether an image was captured
// here). A new station key voids the history, which is what it should do.
func padHistoryKey(s *protocol.Signer) ([]byte, error) {
	k, ok := s.PrivateKey().(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("history key: station key is %T, want Ed25519", s.PrivateKey())
	}
	return hkdf.Key(sha256.New, k.Seed(), nil, "captura/pad-history/v1", 32)
}

// keyFiles are the keys a configuration names, read and parsed.
type keyFiles struct {
	aima    *protocol.RecipientPublicKey
	gateway crypto.PublicKey
	tablets *station.Tablets
}

// ReadKeyFiles reads every key, certificate and secret file the configuration names
// (the station key only if it exists: the agent creates it on first start) and reports
// every problem, each with its key and file, as config.Errors. captura-agent
// -check-config runs it, so that "ok" means the agent can start with these files.
func ReadKeyFiles(cfg *config.Config) (*keyFiles, error) {
	var errs config.Errors
	bad := func(key, path string, err error) {
		errs = append(errs, fmt.Errorf("%s: %s: %w", key, path, err))
	}
	kf := &keyFiles{tablets: station.NewTablets()}
	var err error
	if p := cfg.Path(cfg.AIMA.PublicKey); p != "" {
		if kf.aima, err = readRecipient(p); err != nil {
			bad("aima.public_key", p, err)
		}
	}
	if p := cfg.Path(cfg.Gateway.PublicKey); p != "" {
		if kf.gateway, err = readPublic(p); err != nil {
			bad("gateway.public_key", p, err)
		}
	}
	for i, t := range cfg.Tablets {
		p := cfg.Path(t.PublicKey)
		pub, err := readPublic(p)
		if err != nil {
			bad(fmt.Sprintf("tablet[%d].public_key", i), p, err)
			continue
		}
		if _, err := kf.tablets.Add(t.Name, pub); err != nil {
			bad(fmt.Sprintf("tablet[%d]", i), p, err)
		}
	}
	if p := cfg.StationKeyPath(); p != "" {
		if data, err := os.ReadFile(p); err == nil {
			if _, err := protocol.ParsePrivateKeyPEM(data); err != nil {
				bad("station key", p, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			bad("station key", p, err)
		}
	}
	if p := cfg.Path(cfg.Pairing.SecretFile); p != "" {
		if data, err := os.ReadFile(p); err != nil {
			bad("pairing.secret_file", p, err)
		} else if _, err := protocol.ParseSecret(string(data)); err != nil {
			bad("pairing.secret_file", p, err)
		}
	}
	if p := cfg.Path(cfg.MQTT.PasswordFile); p != "" {
		if _, err := os.ReadFile(p); err != nil {
			bad("mqtt.password_file", p, err)
		}
	}
	if cfg.MQTT.CAFile != "" || cfg.MQTT.CertFile != "" {
		o := mqttc.Options{CAFile: cfg.Path(cfg.MQTT.CAFile), CertFile: cfg.Path(cfg.MQTT.CertFile), KeyFile: cfg.Path(cfg.MQTT.KeyFile)}
		if _, err := o.TLSConfig(); err != nil {
			errs = append(errs, fmt.Errorf("mqtt TLS files: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return kf, nil
}

func readPublic(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return protocol.ParsePublicKeyPEM(data)
}

func readRecipient(path string) (*protocol.RecipientPublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return protocol.ParseRecipientPublicKeyPEM(data)
}
