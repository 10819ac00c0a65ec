package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/ctl"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/firmware-tools/fw"
	"github.com/captura-claim/captura/firmware-tools/provision"
	"github.com/captura-claim/captura/protocol"
)

// run runs a CLI program in process and returns its output and exit status.
func run(ctx context.Context, p *cli.Program, args ...string) (string, int) {
	var out bytes.Buffer
	code := p.Main(&cli.Env{Ctx: ctx, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: os.Getenv}, args)
	return out.String(), code
}

// TestProvisionPairCaptureMosquitto is the technician's and maintainer's path with the
// real tools against mosquitto: provision a station, start it and the gateway, open the
// pairing window, pair a tablet from the label, run a capture, and verify the record the
// gateway stored.
func TestProvisionPairCaptureMosquitto(t *testing.T) {
	b := brokertest.Mosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	must := func(p *cli.Program, args ...string) string {
		t.Helper()
		out, code := run(ctx, p, args...)
		if code != 0 {
			t.Fatalf("%s %s: exit %d\n%s", p.Name, strings.Join(args, " "), code, out)
		}
		return out
	}
	prov := filepath.Join(dir, "prov")
	out := must(fw.Program, "provision", "--station", "st-9", "--centre", "c9", "--out", prov)
	if !strings.Contains(out, "provisioned") {
		t.Fatal(out)
	}
	keys := filepath.Join(dir, "keys")
	must(fw.Program, "keygen", "--kind", "gateway", "--out", keys)
	must(fw.Program, "keygen", "--kind", "aima", "--out", keys)
	os.MkdirAll(filepath.Join(dir, "stations"), 0o700)
	pub, _ := os.ReadFile(filepath.Join(prov, provision.PubFile))
	os.WriteFile(filepath.Join(dir, "stations", "st-9.pub"), pub, 0o644)

	link := filepath.Join(dir, "reader")
	sim, err := r30xsim.Start(r30xsim.Config{LineConfig: fpsim.LineConfig{Link: link, Unpaced: true}, Model: "R307", Baud: 115200,
		Source: liveSource(t), Finger: fpsim.FingerConfig{Mode: fpsim.FingerAuto, ArriveDelay: 20 * time.Millisecond, FramesPerPlacement: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfgPath := filepath.Join(dir, "agent.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[station]
id = "st-9"
centre = "c9"
state_dir = "state"
key = "prov/station.key"
[aima]
public_key = "keys/aima.pub"
[gateway]
public_key = "keys/gateway.pub"
[mqtt]
broker = %q
[reader]
port = %q
baud = 115200
[camera]
enabled = false
[capture]
sequence_check = false
[pad]
history = 0
[pairing]
secret_file = "prov/setup-secret"
`, b.URL(), link)), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	gwDone := make(chan struct{})
	go func() {
		defer close(gwDone)
		run(ctx, ctl.Program, "gateway", "--broker", b.URL(), "--centre", "c9", "--station-keys", filepath.Join(dir, "stations"),
			"--key", filepath.Join(keys, "gateway.key"), "--store", filepath.Join(dir, "gwstore"))
	}()
	ready := make(chan struct{})
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- daemon.Run(ctx, cfg, testLogger(t), daemon.Hooks{Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-agentDone:
		t.Fatalf("agent: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready")
	}

	label, _ := os.ReadFile(filepath.Join(prov, provision.LabelText))
	uri := regexp.MustCompile(`captura://pair\?\S+`).FindString(string(label))
	profile := filepath.Join(dir, "tablet")

	// Pairing before the window is open is refused.
	if out, code := run(ctx, ctl.Program, "pair", "--label", uri, "--name", "tab-9", "--broker", b.URL(), "--profile", profile); code == 0 || !strings.Contains(out, "window is closed") {
		t.Fatalf("pairing with the window closed: %d\n%s", code, out)
	}
	var agentOut bytes.Buffer
	if code := daemon.Main(ctx, []string{"-config", cfgPath, "pairing-window"}, &agentOut, &agentOut); code != 0 {
		t.Fatalf("captura-agent pairing-window: %d %s", code, agentOut.String())
	}
	// A wrong secret is refused; the right one pairs.
	other := strings.ReplaceAll(protocol.FormatSecret(protocol.NewSetupSecret()), "-", "")
	wrong := regexp.MustCompile(`k=[A-Z2-7]+`).ReplaceAllString(uri, "k="+other)
	if out, code := run(ctx, ctl.Program, "pair", "--label", wrong, "--name", "tab-9", "--broker", b.URL(), "--profile", profile); code == 0 || !strings.Contains(out, "wrong setup secret") {
		t.Fatalf("pairing with a wrong secret: %d\n%s", code, out)
	}
	out = must(ctl.Program, "pair", "--label", uri, "--name", "tab-9", "--broker", b.URL(), "--profile", profile)
	if !strings.Contains(out, "paired as tab-9 with station c9/st-9") {
		t.Fatal(out)
	}
	out = must(ctl.Program, "capture", "--profile", profile, "--txn", "AIMA-CLI-1", "--fingers", "1,2")
	m := regexp.MustCompile(`(?m)^record ([0-9a-f]{32})$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "right index") {
		t.Fatalf("capture output:\n%s", out)
	}
	// The gateway stored it; the record verifies with the station key and opens with AIMA's.
	var stored string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && stored == ""; time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "gwstore", "*", "st-9", "records", "[0-9]*"+m[1]+".cose"))
		if len(files) > 0 {
			stored = files[0]
		}
	}
	if stored == "" {
		t.Fatal("the gateway never stored the record")
	}
	out = must(ctl.Program, "verify", "--station-key", filepath.Join(prov, provision.PubFile), "--aima-key", filepath.Join(keys, "aima.key"), stored)
	if !strings.Contains(out, "signature valid") || !strings.Contains(out, "txn       AIMA-CLI-1") || !strings.Contains(out, "iso19794-4:2005") {
		t.Fatalf("verify:\n%s", out)
	}
	out = must(ctl.Program, "status", "--profile", profile)
	if !strings.Contains(out, "status: successful") {
		t.Fatal(out)
	}
	out = must(ctl.Program, "unpair", "--profile", profile)
	if out2, code := run(ctx, ctl.Program, "status", "--profile", profile); code == 0 || !strings.Contains(out2, "unknown tablet") {
		t.Fatalf("status after unpair: %d\n%s", code, out2)
	}
	cancel()
	<-gwDone
	<-agentDone
}
