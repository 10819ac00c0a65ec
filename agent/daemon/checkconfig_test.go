package daemon_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/protocol"
)

// TestCheckConfigReadsTheFilesItNames: -check-config reads every key file the
// configuration names and reports each problem by key and file, in one pass; with good
// files it says ok; and the daemon creates no station key for a configuration it refuses.
func TestCheckConfigReadsTheFilesItNames(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("junk.txt", "not a key\n")
	cfg := func(aima, gw string) string {
		return write("agent.toml", `[station]
id = "st-1"
centre = "c1"
state_dir = "`+filepath.Join(dir, "state")+`"
[aima]
public_key = "`+aima+`"
[gateway]
public_key = "`+gw+`"
[reader]
enabled = false
[camera]
enabled = false
`)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := daemon.Main(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}

	path := cfg("junk.txt", "missing.pub")
	code, out, errs := run("-check-config", "-config", path)
	if code != daemon.ExitConfig || strings.Contains(out, "ok") {
		t.Fatalf("-check-config with unreadable keys: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"aima.public_key: " + filepath.Join(dir, "junk.txt"), "gateway.public_key: " + filepath.Join(dir, "missing.pub")} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not name %q:\n%s", want, errs)
		}
	}
	// Running it is refused the same way, before a station key exists.
	code, _, errs = run("-config", path)
	if code != daemon.ExitConfig {
		t.Fatalf("agent with unreadable keys: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "station.key")); !os.IsNotExist(err) {
		t.Fatalf("a station key was created for a configuration that cannot run (%v)", err)
	}

	aima, _ := protocol.GenerateRecipientKey("")
	apem := aima.Public().MarshalPEM()
	write("aima.pub", string(apem))
	gwKey, _ := protocol.GenerateSigningKey(protocol.KindGateway)
	gpem, _ := protocol.MarshalPublicKeyPEM(gwKey.Public())
	write("gateway.pub", string(gpem))
	code, out, errs = run("-check-config", "-config", cfg("aima.pub", "gateway.pub"))
	if code != daemon.ExitOK || !strings.Contains(out, ": ok (station st-1, centre c1)") {
		t.Fatalf("-check-config with good keys: exit %d, %q %q", code, out, errs)
	}
}
