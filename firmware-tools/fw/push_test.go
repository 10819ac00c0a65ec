package fw_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/update/rollout"
	"github.com/captura-claim/captura/agent/update/updatetest"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/firmware-tools/fw"
)

func runFW(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := fw.Program.Main(&cli.Env{Ctx: ctx, Stdout: &out, Stderr: &errb, Getenv: os.Getenv}, args)
	return code, out.String(), errb.String()
}

// TestPushAbortRule is the end-to-end rollout: captura-fw push with --percent to
// stations discovered in a centre on mosquitto; the second station fails (it is an
// ARMv7 box, the bundle is arm64), the abort rule stops the rollout, and captura-fw
// fleet shows the outcome from the retained status.
func TestPushAbortRule(t *testing.T) {
	b := brokertest.Mosquitto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var signers []crypto.Signer
	keys := bundle.NewKeys()
	for i := 0; i < 2; i++ {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		signers = append(signers, k)
		keys.Add("m", k.Public())
	}
	dir := t.TempDir()
	agent := filepath.Join(dir, "captura-agent")
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	os.WriteFile(agent, payload, 0o755)
	path := filepath.Join(dir, "agent-2.0.0.cbn")
	if _, err := bundle.CreateFile(path, bundle.Options{Version: "2.0.0", Arch: "arm64"}, []bundle.Source{{Name: update.Entry, Path: agent}}, signers); err != nil {
		t.Fatal(err)
	}
	names := []string{"st-01", "st-02", "st-03", "st-04"}
	order := rollout.Select(names, 75)
	if len(order) != 3 {
		t.Fatalf("75%% of 4 selected %d", len(order))
	}
	ok, bad, never := order[0], order[1], order[2]
	var skipped string
	for _, n := range names {
		if n != ok && n != bad && n != never {
			skipped = n
		}
	}
	keyDir := filepath.Join(dir, "station-keys")
	os.MkdirAll(keyDir, 0o755)
	sims := map[string]*updatetest.Station{}
	for _, n := range names {
		o := updatetest.Options{Centre: "lisboa", Station: n, Broker: b.URL(), Keys: keys, Threshold: 2}
		if n == bad {
			o.Target = bundle.Target{OS: "linux", Arch: "arm", GOARM: 7}
		}
		sims[n] = updatetest.Start(t, o)
		pub, _ := os.ReadFile(sims[n].PublicKeyFile())
		os.WriteFile(filepath.Join(keyDir, n+".pub"), pub, 0o644)
	}
	code, out, errOut := runFW(t, ctx, "push", "--broker", b.URL(), "--bundle", path, "--centre", "lisboa", "--percent", "75",
		"--abort-after", "1", "--parallel", "1", "--progress", "plain", "--station-keys", keyDir)
	t.Logf("captura-fw push:\n%s%s", out, errOut)
	if code != 1 {
		t.Fatalf("push exit %d, want 1", code)
	}
	for _, re := range []string{
		`rollout [0-9a-f]{32}: captura-agent 2.0.0 to 3 of 4 station\(s\) of lisboa \(abort after 1 failure\(s\)\)`,
		ok + ` +\[#+\] 100%  successful`,
		bad + ` +\[[#.]+\] +\d+%  failed: bundle: built for linux/arm64, this station is linux/arm \(GOARM=7\): wrong target platform`,
		never + ` +\[\.+\]   0%  not started`,
		`overall .* 1/3 updated, 1 failed, 1 not started, 1 left for a later wave, [0-9.]+ MB sent — STOPPED: 1 failure\(s\), the abort threshold is 1`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("push output lacks %q", re)
		}
	}
	if !strings.Contains(errOut, "captura-fw: rollout stopped: 1 failure(s), the abort threshold is 1") {
		t.Errorf("push error: %q", errOut)
	}
	for n, want := range map[string]string{ok: "2.0.0", bad: "1.0.0", never: "1.0.0", skipped: "1.0.0"} {
		if got := sims[n].Version(); got != want {
			t.Errorf("%s runs %s, want %s", n, got, want)
		}
	}
	// The stations that never got the job have no update state; the announcements are
	// withdrawn.
	var fleet string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		code, fleet, errOut = runFW(t, ctx, "fleet", "--broker", b.URL(), "--centre", "lisboa", "--station-keys", keyDir, "--wait", "2s")
		if code == 0 && regexp.MustCompile(ok+` +online +2\.0\.0`).MatchString(fleet) {
			break
		}
	}
	t.Logf("captura-fw fleet:\n%s%s", fleet, errOut)
	for _, re := range []string{
		`CENTRE +STATION +STATE +VERSION +SLOT +HEALTH +SESSION +UPDATE +SEEN +SIGNED`,
		`lisboa +` + ok + ` +online +2\.0\.0 +b +ok +idle +successful 2\.0\.0 .*verified`,
		`lisboa +` + bad + ` +online +1\.0\.0 +a +ok +idle +failed 2\.0\.0: bundle: built for linux/arm64.*verified`,
		`lisboa +` + never + ` +online +1\.0\.0 +a +ok +idle +- .*verified`,
		`lisboa +` + skipped + ` +online +1\.0\.0 +a +ok +idle +- .*verified`,
	} {
		if !regexp.MustCompile(re).MatchString(fleet) {
			t.Errorf("fleet output lacks %q", re)
		}
	}
	// A station key that does not match is flagged.
	os.WriteFile(filepath.Join(keyDir, ok+".pub"), mustRead(t, sims[bad].PublicKeyFile()), 0o644)
	code, fleet, errOut = runFW(t, ctx, "fleet", "--broker", b.URL(), "--centre", "lisboa", "--station-keys", keyDir, "--wait", "2s")
	if code != 1 || !regexp.MustCompile(ok+` +invalid: .*INVALID`).MatchString(fleet) {
		t.Errorf("forged status not flagged (exit %d):\n%s%s", code, fleet, errOut)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushUsage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"push"}, "--bundle and --stations or --centre are required"},
		{[]string{"push", "--bundle", "x", "--stations", "a,b"}, `centre "": give --centre or centre/station ids`},
		{[]string{"push", "--bundle", "x", "--stations", "c1/a,c2/b"}, "station c2/b is not in centre c1"},
		{[]string{"push", "--bundle", "x", "--stations", "A"}, `station "A" is not 1-64 characters`},
		{[]string{"push", "--bundle", "x", "--centre", "c1", "--progress", "fancy"}, `--progress "fancy"`},
		{[]string{"push", "--bundle", "x", "--centre", "c1"}, "--broker is required"},
	} {
		code, _, errOut := runFW(t, ctx, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, %q; want usage error %q", tc.args, code, errOut, tc.want)
		}
	}
}
