package debpkg

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeHelp writes shell scripts that answer like the real programs' help: captura-agent
// -h on stderr, the agent/cli command list and per-command -h for the others. The text
// has the characters roff treats specially: leading dots and quotes, backslashes,
// hyphens, tabs.
func fakeHelp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	agent := `#!/bin/sh
case "$1" in
-h) printf 'usage: captura-agent [-config FILE]\n\nflags:\n  -config string\n    \tconfiguration file (default "/etc/captura/agent.toml")\n' >&2; exit 0;;
-example-config) printf '# Example\n[station]\nid = "st-07"\n.leading dot\n'"'"'leading quote\npath = "C:\\\\x"\n'; exit 0;;
esac
exit 2
`
	tool := `#!/bin/sh
prog=$(basename "$0")
if [ "$1" = help ]; then
	printf '%s: a tool\n\nusage: %s COMMAND [flags] [args]\n\ncommands:\n  keygen             create a key pair\n  reader info        identify the reader at --port\n\nRun "%s COMMAND -h".\n' "$prog" "$prog" "$prog"
	exit 0
fi
last=
for a in "$@"; do last=$a; done
[ "$last" = -h ] || exit 2
printf 'usage: %s %s [flags]\n\nflags:\n  --port string\n    \tserial port\n' "$prog" "$*"
`
	for name, body := range map[string]string{"captura-agent": agent, "capturactl": tool, "captura-fw": tool} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestManPages(t *testing.T) {
	date := time.Date(2025, 11, 27, 12, 0, 0, 0, time.UTC)
	pages, err := ManPages(context.Background(), filepath.Join(sysDir, "man"), fakeHelp(t), "1.2.3", date)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ManPage{}
	for _, p := range pages {
		byName[p.File()] = p
		if m := placeholderRE.Find(p.Roff); m != nil {
			t.Errorf("%s: placeholder %s left", p.File(), m)
		}
		if !bytes.Contains(p.Roff, []byte(`"2025-11-27" "captura 1.2.3"`)) {
			t.Errorf("%s: no date and version in .TH", p.File())
		}
	}
	for _, f := range []string{"captura-agent.8.gz", "captura-agent.toml.5.gz", "capturactl.1.gz", "captura-fw.1.gz"} {
		if _, ok := byName[f]; !ok {
			t.Errorf("no page %s (have %v)", f, pages)
		}
	}
	agent := string(byName["captura-agent.8.gz"].Roff)
	if !strings.Contains(agent, `configuration file (default "/etc/captura/agent.toml")`) {
		t.Errorf("agent page lacks the -h text:\n%s", agent)
	}
	toml := string(byName["captura-agent.toml.5.gz"].Roff)
	for _, want := range []string{"\n\\&.leading dot\n", "\n\\&'leading quote\n", `path = "C:\e\ex"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("toml page lacks %q:\n%s", want, toml)
		}
	}
	fw := string(byName["captura-fw.1.gz"].Roff)
	for _, want := range []string{`.SS "captura\-fw reader info"`, "usage: captura\\-fw reader info \\-h [flags]", "        serial port"} {
		if !strings.Contains(fw, want) {
			t.Errorf("captura-fw page lacks %q:\n%s", want, fw)
		}
	}

	// groff must render every page without a warning (lintian runs man --warnings).
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff not installed")
	}
	for _, p := range pages {
		cmd := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
		cmd.Stdin = bytes.NewReader(p.Roff)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", p.File(), err, out)
		}
	}
}

func TestManPagesErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "captura-agent.8.in"), []byte(".TH X 8\n@NOPE@\n"), 0o644)
	if _, err := ManPages(context.Background(), dir, fakeHelp(t), "1", time.Now()); err == nil || !strings.Contains(err.Error(), "@NOPE@") {
		t.Errorf("unknown placeholder: err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "captura-agent.8.in"), []byte(".TH X 8\n@HELP@\n"), 0o644)
	if _, err := ManPages(context.Background(), dir, t.TempDir(), "1", time.Now()); err == nil {
		t.Error("missing program accepted")
	}
	if _, err := parseCommands("usage: x\n"); err == nil {
		t.Error("help without a command list accepted")
	}
	if _, err := parseCommands("commands:\n  a-command-name-longer-than-the-column summary\n"); err == nil {
		t.Error("ambiguous command line accepted")
	}
	names, err := parseCommands("x\n\ncommands:\n  keygen             create\n  reader set-baud    switch  speed\n\nRun x\n")
	if err != nil || strings.Join(names, ",") != "keygen,reader set-baud" {
		t.Errorf("parseCommands = %q, %v", names, err)
	}
}

func TestRoffPre(t *testing.T) {
	got := roffPre("a\tb\n.x\n'y\n-f \\n\n\n")
	want := ".RS 4\n.nf\na       b\n\\&.x\n\\&'y\n\\-f \\en\n.fi\n.RE\n"
	if got != want {
		t.Errorf("roffPre = %q, want %q", got, want)
	}
}
