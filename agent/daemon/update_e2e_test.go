package daemon_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/firmware-tools/fw"
)

// TestUpdateRealAgent updates a running captura-agent, built as version 1.0.0, to 1.1.0
// with the maintainer's tools against mosquitto: bundle create (two maintainer keys, a
// threshold of two), push; the agent fetches and checks the bundle, installs it in the
// free slot, exits 75, and its packaged binary — started again as systemd would — runs
// the new version on trial, which proves healthy and commits. A process-supervisor loop
// plays systemd (Restart= on any exit).
func TestUpdateRealAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two agents")
	}
	b := brokertest.Mosquitto(t)
	dir := t.TempDir()
	build := func(version string) string {
		out := filepath.Join(dir, "v"+version, "captura-agent")
		cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X github.com/captura-claim/captura/agent/version.Version="+version, "../cmd/captura-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		return out
	}
	packaged, next := build("1.0.0"), build("1.1.0")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must := func(args ...string) string {
		t.Helper()
		out, code := run(ctx, fw.Program, args...)
		if code != 0 {
			t.Fatalf("captura-fw %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	keys := filepath.Join(dir, "keys")
	must("keygen", "--kind", "maintainer", "--name", "m1", "--out", filepath.Join(keys, "maintainers"))
	must("keygen", "--kind", "maintainer", "--name", "m2", "--out", filepath.Join(keys, "maintainers"))
	must("keygen", "--kind", "gateway", "--out", keys)
	must("keygen", "--kind", "aima", "--out", keys)
	cfg := filepath.Join(dir, "agent.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[station]
id = "st-u"
centre = "cu"
state_dir = "state"
[aima]
public_key = "keys/aima.pub"
[gateway]
public_key = "keys/gateway.pub"
[mqtt]
broker = %q
reconnect_max = "500ms"
[reader]
enabled = false
[camera]
enabled = false
[update]
maintainer_keys = "keys/maintainers"
threshold = 2
health_deadline = "30s"
`, b.URL())), 0o644)

	// systemd: start the packaged binary, again after every exit, until the test ends.
	var mu sync.Mutex
	var exits []int
	var cur *exec.Cmd
	supervisor := make(chan struct{})
	go func() {
		defer close(supervisor)
		for ctx.Err() == nil {
			cmd := exec.Command(packaged, "-config", cfg)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Errorf("start: %v", err)
				return
			}
			mu.Lock()
			cur = cmd
			mu.Unlock()
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			mu.Lock()
			exits = append(exits, code)
			mu.Unlock()
			if err != nil && code != 75 && ctx.Err() == nil {
				t.Logf("agent exited: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() {
		cancel()
		mu.Lock()
		if cur != nil && cur.Process != nil {
			cur.Process.Signal(syscall.SIGTERM)
		}
		mu.Unlock()
		<-supervisor
	}()

	bundle := filepath.Join(dir, "agent-1.1.0.bundle")
	must("bundle", "create", "--binary", next, "--version", "1.1.0", "--key", filepath.Join(keys, "maintainers", "m1.key"),
		"--key", filepath.Join(keys, "maintainers", "m2.key"), "--out", bundle)
	// Wait until the station announced itself, then push.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := run(ctx, fw.Program, "fleet", "--broker", b.URL(), "--centre", "cu")
		if strings.Contains(out, "st-u") && strings.Contains(out, "1.0.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the station never appeared in the fleet:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	out := must("push", "--broker", b.URL(), "--bundle", bundle, "--centre", "cu", "--stations", "st-u", "--progress", "plain")
	t.Logf("push:\n%s", out)
	deadline = time.Now().Add(60 * time.Second)
	for {
		fleet, _ := run(ctx, fw.Program, "fleet", "--broker", b.URL(), "--centre", "cu")
		if strings.Contains(fleet, "1.1.0") && strings.Contains(fleet, "online") {
			t.Logf("fleet:\n%s", fleet)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the station does not report 1.1.0:\n%s", fleet)
		}
		time.Sleep(500 * time.Millisecond)
	}
	mu.Lock()
	pid := cur.Process.Pid
	seen := append([]int(nil), exits...)
	mu.Unlock()
	// The new version runs from its slot: either the process itself (exec'd) or, while
	// the launcher that watched its trial stays, the launcher's child.
	exes := []string{}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		exes = append(exes, exe)
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid)) // any thread may have forked it
	for _, task := range tasks {
		kids, _ := os.ReadFile(task)
		for _, k := range strings.Fields(string(kids)) {
			if exe, err := os.Readlink("/proc/" + k + "/exe"); err == nil {
				exes = append(exes, exe)
			}
		}
	}
	fromSlot := false
	for _, e := range exes {
		fromSlot = fromSlot || strings.Contains(e, filepath.Join("state", "slots"))
	}
	if !fromSlot {
		t.Errorf("no running agent from a slot: %v", exes)
	}
	if len(seen) == 0 || seen[0] != 75 {
		t.Errorf("exit statuses %v: want 75 (restart into the update) first", seen)
	}
}
