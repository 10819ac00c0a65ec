// Command testagent is a small stand-in for captura-agent used by the update fault
// tests: it runs the real launcher, slots and update client against a real broker,
// and its behaviour is fixed when it is built, so a test can ship versions that are
// healthy, crash at start, hang, or fail their self-test:
//
//	go build -ldflags "-X main.behaviour=crash -X github.com/captura-claim/captura/agent/version.Version=2.0.0"
//
// TESTAGENT_CRASH=<point> makes the process kill itself with SIGKILL the first time it
// reaches that crash point (TESTAGENT_MARK names the file that records it), which is
// how the tests cut the power at every step of an update.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/version"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// behaviour: healthy, crash (exits at start), hang (wedged: never ready, ignores
// SIGTERM), unhealthy (fails its self-test).
var behaviour = "healthy"

func main() { os.Exit(run()) }

func run() int {
	slots := flag.String("slots", "", "slots directory")
	broker := flag.String("broker", "", "broker URL")
	centre := flag.String("centre", "", "centre id")
	station := flag.String("station", "", "station id")
	keys := flag.String("keys", "", "maintainer public keys directory")
	threshold := flag.Int("threshold", 2, "signatures required")
	deadline := flag.Duration("deadline", 5*time.Second, "health deadline")
	flag.Parse()
	level := slog.LevelInfo
	if os.Getenv("TESTAGENT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("pid", os.Getpid(), "version", version.String())
	if p := os.Getenv("TESTAGENT_CRASH"); p != "" {
		mark := os.Getenv("TESTAGENT_MARK")
		update.SetCrashHook(func(point string) {
			if point != p {
				return
			}
			if err := fsutil.CreateExclusive(mark, []byte(point), 0o644); err != nil {
				return // crashed here once already
			}
			log.Warn("testagent: crash point reached; SIGKILL", "point", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		})
	}
	s, err := update.OpenSlots(*slots, log)
	if err != nil {
		log.Error("slots", "err", err)
		return 1
	}
	l := update.Launch(update.LaunchConfig{Slots: s, SelfVersion: version.String(), Args: os.Args[1:], Deadline: *deadline,
		Grace: time.Second, Log: log})
	if l.Done {
		return l.Exit
	}
	log = log.With("slot", l.Slot, "trial", l.Trial != nil)
	switch behaviour {
	case "crash":
		log.Error("testagent: crashing at start, as built")
		return 3
	case "hang":
		// Wedged: deaf to SIGTERM, never ready. Only the launcher's deadline and
		// SIGKILL end it.
		log.Warn("testagent: hanging, as built")
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		for {
			time.Sleep(time.Hour)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signer, err := stationKey(filepath.Join(filepath.Dir(*slots), "station.key"))
	if err != nil {
		log.Error("station key", "err", err)
		return 1
	}
	mk, err := bundle.LoadKeys(*keys)
	if err != nil {
		log.Error("keys", "err", err)
		return 78
	}
	mq, err := mqttc.New(mqttc.Options{Brokers: []string{*broker}, ClientID: "agent-" + *station, Persistent: true,
		Backoff: mqttc.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}, ConnectTimeout: 2 * time.Second, KeepAlive: 5 * time.Second})
	if err != nil {
		log.Error("mqtt", "err", err)
		return 1
	}
	var c *update.Client
	statusTopic := protocol.StationTopic(*centre, *station, protocol.TopicStatus)
	publishStatus := func() {
		st := &protocol.Status{V: protocol.Version, Centre: *centre, Station: *station, State: protocol.StateOnline, Birth: 1,
			At: time.Now().UnixMilli(), Version: version.String(), Slot: l.Slot, Health: "ok", Session: "idle", Update: c.Status()}
		b, err := protocol.SignMessage(signer, st)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			mq.Publish(pctx, statusTopic, 1, true, b)
			cancel()
		}
	}
	statusCh := make(chan struct{}, 1)
	c, err = update.NewClient(update.ClientConfig{Centre: *centre, Station: *station, Slots: s, Keys: mk, Threshold: *threshold,
		Target: bundle.HostTarget(), Version: version.String(), Slot: l.Slot, Trial: l.Trial, Signer: signer, HealthDeadline: *deadline,
		RequestTimeout: time.Second, Log: log},
		update.Deps{MQTT: mq, SelfTest: func(context.Context) error {
			if behaviour == "unhealthy" {
				return errors.New("reader self-test: no answer from the sensor")
			}
			return nil
		}, StatusChanged: func() {
			select {
			case statusCh <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		log.Error("update client", "err", err)
		return 1
	}
	go mq.Run(ctx)
	go func() {
		if err := mq.WaitConnected(ctx); err != nil {
			return
		}
		c.Ready()
		publishStatus()
		for {
			select {
			case <-ctx.Done():
				return
			case <-statusCh:
				publishStatus()
			}
		}
	}()
	log.Info("testagent running")
	err = c.Run(ctx)
	switch {
	case errors.Is(err, update.ErrRestart):
		log.Info("testagent: restarting into the new version")
		return update.ExitRestart
	case err == nil || errors.Is(err, context.Canceled):
		return 0
	}
	log.Error("testagent: update client failed", "err", err)
	return 1
}

func stationKey(path string) (*protocol.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := protocol.GenerateSigningKey(protocol.KindStation)
		if err != nil {
			return nil, err
		}
		pem, err := protocol.MarshalPrivateKeyPEM(k)
		if err != nil {
			return nil, err
		}
		if err := fsutil.WriteFileAtomic(path, pem, 0o600); err != nil {
			return nil, err
		}
		pub, _ := protocol.MarshalPublicKeyPEM(k.Public())
		if err := fsutil.WriteFileAtomic(path[:len(path)-len(".key")]+".pub", pub, 0o644); err != nil {
			return nil, err
		}
		return protocol.NewSigner(k)
	}
	if err != nil {
		return nil, err
	}
	k, err := protocol.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return protocol.NewSigner(k)
}
