package debpkg

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// renderRepoScripts renders the repository's maintainer scripts into a temporary
// directory.
func renderRepoScripts(t *testing.T) map[string]string {
	t.Helper()
	units, err := Units(sysDir)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := renderScripts(filepath.Join(sysDir, "debian"), t.TempDir(), units)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestScriptsRender(t *testing.T) {
	for name, p := range renderRepoScripts(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if m := placeholderRE.FindString(s); m != "" {
			t.Errorf("%s: placeholder %s left", name, m)
		}
		if !strings.HasPrefix(s, "#!/bin/sh\n") || !strings.Contains(s, "\nset -e\n") {
			t.Errorf("%s: want #!/bin/sh and set -e", name)
		}
		for _, sh := range []string{"sh", "dash", "bash"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, name, err, out)
			}
		}
	}
}

// stubs writes fake system commands that log their arguments to log.
func stubs(t *testing.T, log string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cmds := map[string]string{
		"deb-systemd-helper": `[ "$1" = --quiet ] && shift; [ "$1" = was-enabled ] && exit ${WAS_ENABLED:-0}; exit 0`,
		"deb-systemd-invoke": `exit ${INVOKE_RC:-0}`,
		"systemctl":          `exit 0`,
		"systemd-sysusers":   `exit 0`,
		"systemd-tmpfiles":   `exit 0`,
		"modprobe":           `exit 0`,
		"udevadm":            `exit 0`,
	}
	for k, v := range extra {
		cmds[k] = v
	}
	for name, body := range cmds {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>'" + log + "'\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMaintainerScripts runs the rendered scripts against stub commands in a private
// mount namespace whose /run is a fresh tmpfs, so that "booted with systemd"
// (/run/systemd/system) and "a capture session is running" (/run/captura/session) can
// be staged. It needs root and unshare(1).
func TestMaintainerScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a mount namespace with a private /run)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	if err := exec.Command("unshare", "--mount", "--propagation", "private", "true").Run(); err != nil {
		t.Skipf("unshare --mount: %v", err)
	}
	scripts := renderRepoScripts(t)

	type scenario struct {
		name    string
		script  string
		args    []string
		systemd bool // /run/systemd/system exists
		session bool // /run/captura/session exists
		env     []string
		extra   map[string]string
		want    []string // lines expected in the log, in order
		notWant []string // substrings that must not appear
		request bool     // /run/captura-agent.restart exists afterwards
	}
	scenarios := []scenario{
		{
			name: "first install, booted with systemd", script: "postinst", args: []string{"configure", ""}, systemd: true,
			want: []string{
				"systemd-sysusers captura.conf",
				"systemd-tmpfiles --create captura.conf",
				"modprobe -qab usbserial cdc_acm videodev",
				"deb-systemd-helper enable captura-agent-idle-restart.path",
				"deb-systemd-helper enable captura-agent.service",
				"systemctl --system daemon-reload",
				"deb-systemd-invoke start captura-agent-idle-restart.path",
				"deb-systemd-invoke start captura-agent.service",
			},
			notWant: []string{"deb-systemd-invoke restart"},
		},
		{
			name: "first install, no systemd (chroot, CI container)", script: "postinst", args: []string{"configure", ""},
			want: []string{
				"systemd-sysusers captura.conf",
				"systemd-tmpfiles --create captura.conf",
				"deb-systemd-helper enable captura-agent.service",
			},
			notWant: []string{"systemctl", "deb-systemd-invoke", "modprobe"},
		},
		{
			name: "upgrade, no session: restart now", script: "postinst", args: []string{"configure", "0.1-1"}, systemd: true,
			want: []string{
				"systemctl --system daemon-reload",
				"deb-systemd-invoke restart captura-agent-idle-restart.path",
				"deb-systemd-invoke restart captura-agent.service",
			},
		},
		{
			name: "upgrade during a session: restart when idle", script: "postinst", args: []string{"configure", "0.1-1"}, systemd: true, session: true,
			want:    []string{"deb-systemd-invoke restart captura-agent-idle-restart.path"},
			notWant: []string{"deb-systemd-invoke restart captura-agent.service"},
			request: true,
		},
		{
			name: "upgrade during a session, policy-rc.d forbids", script: "postinst", args: []string{"configure", "0.1-1"}, systemd: true, session: true,
			extra: map[string]string{"policy-rc.d": "exit 101"},
			want:  []string{"policy-rc.d captura-agent.service restart"},
		},
		{
			name: "upgrade, administrator disabled the agent", script: "postinst", args: []string{"configure", "0.1-1"}, env: []string{"WAS_ENABLED=1"},
			want:    []string{"deb-systemd-helper update-state captura-agent.service"},
			notWant: []string{"enable captura-agent.service"},
		},
		{
			name: "first install, agent fails to start", script: "postinst", args: []string{"configure", ""}, systemd: true, env: []string{"INVOKE_RC=1"},
			want: []string{"deb-systemd-invoke start captura-agent.service"},
		},
		{
			name: "remove stops the agent last", script: "prerm", args: []string{"remove"}, systemd: true,
			want: []string{"deb-systemd-invoke stop captura-agent-idle-restart.path captura-agent-idle-restart.service captura-rollback.service captura-agent.service"},
		},
		{
			name: "upgrade does not stop the agent", script: "prerm", args: []string{"upgrade", "0.2-1"}, systemd: true,
			notWant: []string{"deb-systemd-invoke"},
		},
		{
			name: "postrm remove reloads", script: "postrm", args: []string{"remove"}, systemd: true,
			want:    []string{"systemctl --system daemon-reload"},
			notWant: []string{"purge"},
		},
		{
			name: "postrm purge forgets the units", script: "postrm", args: []string{"purge"},
			want: []string{"deb-systemd-helper purge captura-agent-idle-restart.path captura-agent-idle-restart.service captura-agent.service captura-rollback.service"},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			bin := stubs(t, log, sc.extra)
			setup := "mount -t tmpfs tmpfs /run"
			if sc.systemd {
				setup += " && mkdir -p /run/systemd/system"
			}
			if sc.session {
				setup += " && mkdir -p /run/captura && : >/run/captura/session"
			}
			shell := setup + ` && "$0" "$@"; rc=$?; if [ -e /run/captura-agent.restart ]; then echo REQUEST >>"$LOG"; fi; exit $rc`
			cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", shell, scripts[sc.script]}, sc.args...)...)
			cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "LOG=" + log}, sc.env...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s %v: %v\n%s", sc.script, sc.args, err, out.String())
			}
			data, _ := os.ReadFile(log)
			got := string(data)
			pos := 0
			for _, w := range sc.want {
				i := strings.Index(got[pos:], w+"\n")
				if i < 0 {
					t.Fatalf("log lacks %q (in order); log:\n%s\noutput:\n%s", w, got, out.String())
				}
				pos += i + len(w)
			}
			for _, nw := range sc.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("log has %q; log:\n%s", nw, got)
				}
			}
			if strings.Contains(got, "REQUEST") != sc.request {
				t.Errorf("restart request file: got %v, want %v; log:\n%s", strings.Contains(got, "REQUEST"), sc.request, got)
			}
		})
	}
}

// TestRestartWhenIdle runs the helper of captura-agent-idle-restart.service: it must
// not restart the agent while the session file exists, and must restart it (and remove
// the request) once the file is gone.
func TestRestartWhenIdle(t *testing.T) {
	dir := t.TempDir()
	session := filepath.Join(dir, "session")
	request := filepath.Join(dir, "request")
	log := filepath.Join(dir, "log")
	for _, f := range []string{session, request, log} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	systemctl := filepath.Join(dir, "systemctl")
	os.WriteFile(systemctl, []byte("#!/bin/sh\necho \"systemctl $*\" >>'"+log+"'\n"), 0o755)

	cmd := exec.Command(filepath.Join(sysDir, "libexec", "restart-when-idle"))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CAPTURA_SESSION_FILE=" + session, "CAPTURA_RESTART_REQUEST=" + request,
		"CAPTURA_IDLE_POLL=0.05", "SYSTEMCTL=" + systemctl}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Several polls happen while the session runs; none may restart.
	select {
	case err := <-done:
		t.Fatalf("helper exited during the session: %v\n%s", err, out.String())
	case <-time.After(400 * time.Millisecond):
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Fatalf("restarted during the session: %s", data)
	}
	if _, err := os.Stat(request); err != nil {
		t.Fatalf("request removed during the session: %v", err)
	}

	os.Remove(session)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("helper did not notice the session end\n%s", out.String())
	}
	data, _ := os.ReadFile(log)
	if string(data) != "systemctl --no-block try-restart captura-agent.service\n" {
		t.Errorf("systemctl calls %q", data)
	}
	if _, err := os.Stat(request); !os.IsNotExist(err) {
		t.Errorf("request file still there: %v", err)
	}
}
