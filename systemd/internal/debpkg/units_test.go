package debpkg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sysDir is the repository's systemd/ directory, seen from this package.
const sysDir = "../.."

func TestUnitsRepo(t *testing.T) {
	units, err := Units(sysDir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, u := range units {
		got[u.Name] = u.Install
	}
	want := map[string]bool{
		"captura-agent.service":              true,
		"captura-agent-idle-restart.path":    true,
		"captura-agent-idle-restart.service": false,
	}
	for name, install := range want {
		i, ok := got[name]
		if !ok {
			t.Errorf("unit %s not found (have %v)", name, got)
			continue
		}
		if i != install {
			t.Errorf("unit %s: Install = %v, want %v", name, i, install)
		}
	}
}

func TestUnitsPicksUpNewUnits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(AgentUnit, "[Unit]\nDescription=a\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n")
	write("captura-update-check.timer", "[Timer]\nOnCalendar=daily\n\n[Install]\n# comment\n  WantedBy = timers.target\n")
	write("captura-rollback.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\n")
	write("captura-update-health.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n")
	write("notes.txt", "not a unit")
	units, err := Units(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
	}
	if strings.Join(names, " ") != "captura-agent.service captura-rollback.service captura-update-check.timer captura-update-health.service" {
		t.Fatalf("units %q", names)
	}
	if !units[0].Install || units[1].Install || !units[2].Install || !units[3].Install {
		t.Errorf("install flags %+v", units)
	}
	s, err := RenderScript("E=@ENABLE_UNITS@\nO=@OTHER_UNITS@\nS=@STOP_UNITS@\nA=@ALL_UNITS@\n", units)
	if err != nil {
		t.Fatal(err)
	}
	// The health-check service is enabled but never started by the package; the
	// timer is started.
	want := "E=captura-agent.service captura-update-check.timer captura-update-health.service\n" +
		"O=captura-update-check.timer\n" +
		"S=captura-rollback.service captura-update-check.timer captura-update-health.service captura-agent.service\n" +
		"A=captura-agent.service captura-rollback.service captura-update-check.timer captura-update-health.service\n"
	if s != want {
		t.Errorf("rendered\n%s\nwant\n%s", s, want)
	}
}

func TestUnitsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Units(dir); err == nil || !strings.Contains(err.Error(), AgentUnit) {
		t.Errorf("no agent unit: err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, AgentUnit), []byte("[Service\nExecStart=/bin/true\n"), 0o644)
	if _, err := Units(dir); err == nil || !strings.Contains(err.Error(), "section header") {
		t.Errorf("malformed: err = %v", err)
	}
	if _, err := RenderScript("x @NOPE@", nil); err == nil {
		t.Error("unknown placeholder accepted")
	}
}
