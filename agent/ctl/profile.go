package ctl

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/tablet"
	"github.com/captura-claim/captura/protocol"
)

// A tablet profile is a directory written by `capturactl pair`: profile.toml (who and
// where), tablet.key (the tablet's P-256 key, 0600), station.pub (the station key pinned
// at pairing) and counter (the last command counter).
type profile struct {
	Name     string `toml:"name"`
	Centre   string `toml:"centre"`
	Station  string `toml:"station"`
	Broker   string `toml:"broker"`
	CAFile   string `toml:"ca_file,omitempty"`
	CertFile string `toml:"cert_file,omitempty"`
	KeyFile  string `toml:"key_file,omitempty"`
	dir      string
}

const (
	profileFile = "profile.toml"
	tabletKey   = "tablet.key"
	stationPub  = "station.pub"
	counterFile = "counter"
)

// defaultProfile is $CAPTURA_PROFILE, else ~/.config/captura/tablet.
func defaultProfile(env func(string) string) string {
	if p := env("CAPTURA_PROFILE"); p != "" {
		return p
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "captura", "tablet")
	}
	return ".captura-tablet"
}

func profileFlag(fs *flag.FlagSet, env func(string) string) *string {
	return fs.String("profile", defaultProfile(env), "tablet profile directory (from capturactl pair; env CAPTURA_PROFILE)")
}

// tlsFlags are the MQTT TLS options shared by the commands that connect.
type tlsFlags struct{ ca, cert, key *string }

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		ca:   fs.String("tls-ca", "", "CA certificate (PEM) to pin for the broker"),
		cert: fs.String("tls-cert", "", "client certificate (PEM)"),
		key:  fs.String("tls-key", "", "client key (PEM)"),
	}
}

func loadProfile(dir string) (*profile, crypto.Signer, crypto.PublicKey, error) {
	var p profile
	if _, err := toml.DecodeFile(filepath.Join(dir, profileFile), &p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("no tablet profile in %s: pair this tablet first (capturactl pair)", dir)
		}
		return nil, nil, nil, fmt.Errorf("profile %s: %w", dir, err)
	}
	p.dir = dir
	kpath := filepath.Join(dir, tabletKey)
	kb, err := os.ReadFile(kpath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile: %w", err)
	}
	k, err := protocol.ParsePrivateKeyPEM(kb)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile: %s: %w", kpath, err)
	}
	spath := filepath.Join(dir, stationPub)
	sb, err := os.ReadFile(spath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile: %w", err)
	}
	spub, err := protocol.ParsePublicKeyPEM(sb)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("profile: %s: %w", spath, err)
	}
	return &p, k, spub, nil
}

func (p *profile) save() error {
	f, err := os.CreateTemp(p.dir, ".profile-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := toml.NewEncoder(f).Encode(p); err != nil {
		f.Close()
		return err
	}
	f.Close()
	b, _ := os.ReadFile(f.Name())
	return fsutil.WriteFileAtomic(filepath.Join(p.dir, profileFile), b, 0o600)
}

func (p *profile) mqttOptions() mqttc.Options {
	return mqttc.Options{Brokers: []string{p.Broker}, ClientID: "captura-tablet-" + p.Name + "-" + protocol.NewID().String()[:8],
		CAFile: p.CAFile, CertFile: p.CertFile, KeyFile: p.KeyFile, ConnectTimeout: 10 * time.Second}
}

// connect opens a one-shot MQTT connection and a tablet client for the profile.
func connectTablet(ctx context.Context, dir string) (*tablet.Client, *mqttc.Client, *profile, error) {
	p, key, spub, err := loadProfile(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	mq, err := mqttc.New(p.mqttOptions())
	if err != nil {
		return nil, nil, nil, err
	}
	if err := mq.Connect(ctx); err != nil {
		return nil, nil, nil, err
	}
	c, err := tablet.New(mq, tablet.Opts{Name: p.Name, Centre: p.Centre, Station: p.Station, Key: key, StationKey: spub,
		CounterFile: filepath.Join(dir, counterFile), Lifetime: 2 * time.Minute})
	if err != nil {
		mq.Close()
		return nil, nil, nil, err
	}
	return c, mq, p, nil
}
