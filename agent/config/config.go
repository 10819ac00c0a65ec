// Package config loads and checks the station's TOML configuration. Every key, with its
// default, is documented in example.toml beside this file (installed as the commented
// /etc/captura/agent.toml); a test keeps the two in step.
//
// Errors name the key ("mqtt.resend_after: ..."), and Load reports every problem at
// once, so a maintainer fixes a file in one pass (captura-agent -check-config).
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ExitConfig is the exit status for a configuration error (sysexits EX_CONFIG). The
// systemd unit lists it in RestartPreventExitStatus=, so a broken file is not restarted
// in a loop.
const ExitConfig = 78

//go:embed example.toml
var Example string

// Config is the whole station configuration.
type Config struct {
	Station  Station  `toml:"station"`
	AIMA     AIMA     `toml:"aima"`
	Gateway  Gateway  `toml:"gateway"`
	MQTT     MQTT     `toml:"mqtt"`
	Outbox   Outbox   `toml:"outbox"`
	Reader   Reader   `toml:"reader"`
	Camera   Camera   `toml:"camera"`
	Panel    Panel    `toml:"panel"`
	Capture  Capture  `toml:"capture"`
	PAD      PAD      `toml:"pad"`
	Tablets  []Tablet `toml:"tablet"`
	Log      Log      `toml:"log"`
	Health   Health   `toml:"health"`
	Pairing  Pairing  `toml:"pairing"`
	Update   Update   `toml:"update"`
	BaseDir  string   `toml:"-"` // directory of the config file; relative paths resolve against it
	FilePath string   `toml:"-"`
}

type Station struct {
	ID       string `toml:"id"`
	Centre   string `toml:"centre"`
	StateDir string `toml:"state_dir"`
	Key      string `toml:"key"`
}

type AIMA struct {
	PublicKey string `toml:"public_key"`
}

type Gateway struct {
	PublicKey string `toml:"public_key"`
}

type MQTT struct {
	Broker         string   `toml:"broker"`
	EmbeddedListen string   `toml:"embedded_listen"`
	ClientID       string   `toml:"client_id"`
	Username       string   `toml:"username"`
	PasswordFile   string   `toml:"password_file"`
	CAFile         string   `toml:"ca_file"`
	CertFile       string   `toml:"cert_file"`
	KeyFile        string   `toml:"key_file"`
	ServerName     string   `toml:"server_name"`
	KeepAlive      Duration `toml:"keepalive"`
	ConnectTimeout Duration `toml:"connect_timeout"`
	ReconnectMax   Duration `toml:"reconnect_max"`
	ResendAfter    Duration `toml:"resend_after"`
	Inflight       int      `toml:"inflight"`
}

type Outbox struct {
	MaxBytes Size     `toml:"max_bytes"`
	MaxAge   Duration `toml:"max_age"`
	// RequireTimeSync keeps the retention limit paused until the kernel says the clock is
	// synchronised (NTP). Turn it off only where the clock is right from boot (an RTC).
	RequireTimeSync bool `toml:"require_time_sync"`
}

type Reader struct {
	Enabled     bool   `toml:"enabled"`
	Port        string `toml:"port"`
	Family      string `toml:"family"`
	Baud        int    `toml:"baud"`
	UpgradeBaud bool   `toml:"upgrade_baud"`
}

type Camera struct {
	Enabled bool   `toml:"enabled"`
	Device  string `toml:"device"`
	Width   int    `toml:"width"`
	Height  int    `toml:"height"`
}

type Panel struct {
	Enabled      bool   `toml:"enabled"`
	LEDRed       string `toml:"led_red"`
	LEDGreen     string `toml:"led_green"`
	LEDBlue      string `toml:"led_blue"`
	Buzzer       string `toml:"buzzer"`
	Button       string `toml:"button"`
	Touch        string `toml:"touch"`
	Illumination string `toml:"illumination"`
}

type Capture struct {
	Attempts      int       `toml:"attempts"`
	FingerTimeout Duration  `toml:"finger_timeout"`
	FaceTimeout   Duration  `toml:"face_timeout"`
	Face          bool      `toml:"face"`
	Thresholds    Threshold `toml:"thresholds"`
	SequenceCheck bool      `toml:"sequence_check"`
}

// Threshold is the minimum NFIQ 2 score per finger kind (BSI TR-03121 defaults).
type Threshold struct {
	Thumb  int `toml:"thumb"`
	Index  int `toml:"index"`
	Middle int `toml:"middle"`
	Ring   int `toml:"ring"`
	Little int `toml:"little"`
	Face   int `toml:"face"`
}

type PAD struct {
	FingerThreshold float64 `toml:"finger_threshold"`
	FaceThreshold   float64 `toml:"face_threshold"`
	History         int     `toml:"history"`
	FingerFrames    int     `toml:"finger_frames"`
}

// Tablet is a tablet paired by configuration (the pairing exchange adds more at run time).
type Tablet struct {
	Name      string `toml:"name"`
	PublicKey string `toml:"public_key"`
}

type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

type Health struct {
	TelemetryInterval Duration `toml:"telemetry_interval"`
	StatusInterval    Duration `toml:"status_interval"`
}

type Pairing struct {
	Window      Duration `toml:"window"`
	MaxFailures int      `toml:"max_failures"`
	SecretFile  string   `toml:"secret_file"`
}

type Update struct {
	MaintainerKeys string   `toml:"maintainer_keys"`
	Threshold      int      `toml:"threshold"`
	SlotsDir       string   `toml:"slots_dir"`
	HealthDeadline Duration `toml:"health_deadline"`
}

// Default returns the configuration every key falls back to.
func Default() *Config {
	return &Config{
		Station: Station{StateDir: "/var/lib/captura"},
		MQTT: MQTT{EmbeddedListen: "127.0.0.1:1883", KeepAlive: Duration(30 * time.Second), ConnectTimeout: Duration(10 * time.Second),
			ReconnectMax: Duration(time.Minute), ResendAfter: Duration(30 * time.Second), Inflight: 8},
		Outbox: Outbox{MaxBytes: 512 << 20, MaxAge: Duration(30 * 24 * time.Hour), RequireTimeSync: true},
		Reader: Reader{Enabled: true, Port: "/dev/captura-reader", Family: "auto", UpgradeBaud: true},
		Camera: Camera{Enabled: true, Device: "/dev/video0", Width: 1280, Height: 720},
		Panel:  Panel{},
		Capture: Capture{Attempts: 3, FingerTimeout: Duration(20 * time.Second), FaceTimeout: Duration(30 * time.Second), Face: true, SequenceCheck: true,
			Thresholds: Threshold{Thumb: 30, Index: 30, Middle: 20, Ring: 10, Little: 10, Face: 50}},
		PAD:     PAD{FingerThreshold: 0.5, FaceThreshold: 0.5, History: 2000, FingerFrames: 2},
		Log:     Log{Level: "info", Format: "auto"},
		Health:  Health{TelemetryInterval: Duration(time.Minute), StatusInterval: Duration(5 * time.Minute)},
		Pairing: Pairing{Window: Duration(120 * time.Second), MaxFailures: 3},
		Update:  Update{Threshold: 2, HealthDeadline: Duration(2 * time.Minute)},
	}
}

// Errors is every problem found in a configuration.
type Errors []error

func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// KeyError is a problem with one key.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// Load reads and checks a configuration file. The error is an Errors listing every
// problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{fmt.Errorf("config: %w", err)}
	}
	abs, _ := filepath.Abs(path)
	return Parse(string(data), filepath.Dir(abs), abs)
}

// Parse reads a configuration from TOML text; relative paths resolve against baseDir.
func Parse(text, baseDir, name string) (*Config, error) {
	c := Default()
	c.BaseDir, c.FilePath = baseDir, name
	md, err := toml.Decode(text, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			// The TOML decoder stops at its first error: say so, so that a maintainer
			// does not take it for the only problem.
			return nil, Errors{fmt.Errorf("%s:%d: %s (the file is read no further: fix this first, then check again)", name, perr.Position.Line, perr.Message)}
		}
		return nil, Errors{fmt.Errorf("%s: %w", name, err)}
	}
	var errs Errors
	for _, k := range md.Undecoded() {
		errs = append(errs, &KeyError{Key: k.String(), Msg: "unknown key"})
	}
	errs = append(errs, c.check()...)
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

var idRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func (c *Config) check() Errors {
	var errs Errors
	bad := func(key, format string, a ...any) {
		errs = append(errs, &KeyError{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if !idRE.MatchString(c.Station.ID) {
		bad("station.id", "%q must be 1-64 characters of [a-z0-9-] (required)", c.Station.ID)
	}
	if !idRE.MatchString(c.Station.Centre) {
		bad("station.centre", "%q must be 1-64 characters of [a-z0-9-] (required)", c.Station.Centre)
	}
	if c.Station.StateDir == "" {
		bad("station.state_dir", "required")
	}
	if c.AIMA.PublicKey == "" {
		bad("aima.public_key", "required: the AIMA HPKE public key every biometric body is sealed to")
	}
	if c.Gateway.PublicKey == "" {
		bad("gateway.public_key", "required: receipts are accepted only when signed by this key")
	}
	if b := c.MQTT.Broker; b != "" && b != "embedded" {
		if !strings.HasPrefix(b, "tcp://") && !strings.HasPrefix(b, "ssl://") && !strings.HasPrefix(b, "mqtts://") && !strings.HasPrefix(b, "tls://") {
			bad("mqtt.broker", "%q: want tcp://, ssl://, mqtts:// or tls:// host:port, or \"embedded\"", b)
		}
	}
	if (c.MQTT.CertFile == "") != (c.MQTT.KeyFile == "") {
		bad("mqtt.cert_file", "cert_file and key_file go together")
	}
	for _, d := range []struct {
		key string
		v   Duration
		min time.Duration
	}{{"mqtt.keepalive", c.MQTT.KeepAlive, time.Second}, {"mqtt.connect_timeout", c.MQTT.ConnectTimeout, 100 * time.Millisecond},
		{"mqtt.reconnect_max", c.MQTT.ReconnectMax, 100 * time.Millisecond}, {"mqtt.resend_after", c.MQTT.ResendAfter, 100 * time.Millisecond},
		{"outbox.max_age", c.Outbox.MaxAge, time.Minute}, {"capture.finger_timeout", c.Capture.FingerTimeout, time.Second},
		{"capture.face_timeout", c.Capture.FaceTimeout, time.Second}, {"health.telemetry_interval", c.Health.TelemetryInterval, time.Second},
		{"health.status_interval", c.Health.StatusInterval, time.Second}, {"pairing.window", c.Pairing.Window, time.Second},
		{"update.health_deadline", c.Update.HealthDeadline, time.Second}} {
		if time.Duration(d.v) < d.min {
			bad(d.key, "%s is below the minimum of %s", time.Duration(d.v), d.min)
		}
	}
	if c.MQTT.Inflight < 1 || c.MQTT.Inflight > 64 {
		bad("mqtt.inflight", "%d: want 1-64", c.MQTT.Inflight)
	}
	if c.Outbox.MaxBytes < 16<<20 {
		bad("outbox.max_bytes", "%s is below the minimum of 16MiB (a session is about 1.5 MB)", c.Outbox.MaxBytes)
	}
	switch c.Reader.Family {
	case "auto", "r30x", "gt521":
	default:
		bad("reader.family", "%q: want auto, r30x or gt521", c.Reader.Family)
	}
	switch c.Reader.Baud {
	case 0, 9600, 19200, 38400, 57600, 115200:
	default:
		bad("reader.baud", "%d: want 0 (auto) or 9600, 19200, 38400, 57600, 115200", c.Reader.Baud)
	}
	if c.Reader.Enabled && c.Reader.Port == "" {
		bad("reader.port", "required when the reader is enabled")
	}
	if c.Capture.Attempts < 1 || c.Capture.Attempts > 10 {
		bad("capture.attempts", "%d: want 1-10", c.Capture.Attempts)
	}
	for _, t := range []struct {
		k string
		v int
	}{{"thumb", c.Capture.Thresholds.Thumb}, {"index", c.Capture.Thresholds.Index}, {"middle", c.Capture.Thresholds.Middle},
		{"ring", c.Capture.Thresholds.Ring}, {"little", c.Capture.Thresholds.Little}, {"face", c.Capture.Thresholds.Face}} {
		if t.v < 0 || t.v > 100 {
			bad("capture.thresholds."+t.k, "%d: want 0-100", t.v)
		}
	}
	for _, p := range []struct {
		k string
		v float64
	}{{"pad.finger_threshold", c.PAD.FingerThreshold}, {"pad.face_threshold", c.PAD.FaceThreshold}} {
		if !(p.v > 0 && p.v <= 1) {
			bad(p.k, "%v: want a value in (0, 1]", p.v)
		}
	}
	if c.PAD.History < 0 || c.PAD.History > 100000 {
		bad("pad.history", "%d: want 0-100000", c.PAD.History)
	}
	if c.PAD.FingerFrames != 1 && c.PAD.FingerFrames != 2 {
		bad("pad.finger_frames", "%d: want 1 or 2", c.PAD.FingerFrames)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json", "journal":
	default:
		bad("log.format", "%q: want auto, text, json or journal", c.Log.Format)
	}
	seen := map[string]bool{}
	for i, t := range c.Tablets {
		k := fmt.Sprintf("tablet[%d]", i)
		if !idRE.MatchString(t.Name) {
			bad(k+".name", "%q must be 1-64 characters of [a-z0-9-]", t.Name)
		}
		if seen[t.Name] {
			bad(k+".name", "%q appears twice", t.Name)
		}
		seen[t.Name] = true
		if t.PublicKey == "" {
			bad(k+".public_key", "required")
		}
	}
	if c.Pairing.MaxFailures < 1 {
		bad("pairing.max_failures", "%d: want at least 1", c.Pairing.MaxFailures)
	}
	if c.Update.Threshold < 1 {
		bad("update.threshold", "%d: want at least 1", c.Update.Threshold)
	}
	if c.Panel.Enabled {
		for _, p := range []struct{ k, v string }{{"panel.led_red", c.Panel.LEDRed}, {"panel.led_green", c.Panel.LEDGreen}, {"panel.led_blue", c.Panel.LEDBlue}} {
			if p.v == "" {
				bad(p.k, "required when the panel is enabled")
			}
		}
	}
	return errs
}

// Path resolves a configured path: absolute as is, relative against the config file's
// directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.BaseDir, p)
}

// StationKeyPath is the station's private key file.
func (c *Config) StationKeyPath() string {
	if c.Station.Key != "" {
		return c.Path(c.Station.Key)
	}
	return filepath.Join(c.Path(c.Station.StateDir), "station.key")
}

// Duration is a time.Duration written as "30s", "5m", "720h".
type Duration time.Duration

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s, 5m or 720h", b)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as "512MiB", "16MB", "1GiB" or a plain number.
type Size int64

var sizeRE = regexp.MustCompile(`^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)

func (s *Size) UnmarshalText(b []byte) error {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(string(b)))
	if m == nil {
		return fmt.Errorf("%q is not a size like 512MiB or 2GB", b)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%q: %v", b, err)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "KiB": 1 << 10, "MB": 1e6, "MiB": 1 << 20, "GB": 1e9, "GiB": 1 << 30}[m[2]]
	*s = Size(n * mult)
	return nil
}

func (s Size) String() string {
	switch {
	case s%(1<<30) == 0 && s >= 1<<30:
		return fmt.Sprintf("%dGiB", s>>30)
	case s%(1<<20) == 0 && s >= 1<<20:
		return fmt.Sprintf("%dMiB", s>>20)
	}
	return fmt.Sprintf("%dB", int64(s))
}

func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
