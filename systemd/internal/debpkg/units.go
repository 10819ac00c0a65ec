package debpkg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// unitSuffixes are the unit types installed from systemd/.
var unitSuffixes = []string{".service", ".timer", ".path", ".socket", ".target"}

// AgentUnit is the daemon's unit; the maintainer scripts start and restart it
// themselves (between capture sessions).
const AgentUnit = "captura-agent.service"

// Unit is a systemd unit file shipped in the package.
type Unit struct {
	Name    string // file name, e.g. captura-agent.service
	Path    string // source file
	Install bool   // has an [Install] section: enabled on installation
}

// Units lists every unit file directly in dir (the repository's systemd/ directory),
// sorted by name. A unit added there by another change (an update or rollback helper)
// is packaged, and enabled when it has an [Install] section, without touching this
// code.
func Units(dir string) ([]Unit, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("debpkg: units: %w", err)
	}
	var units []Unit
	for _, e := range entries {
		if e.IsDir() || !hasUnitSuffix(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("debpkg: units: %w", err)
		}
		install, err := hasInstallSection(data)
		if err != nil {
			return nil, fmt.Errorf("debpkg: unit %s: %w", e.Name(), err)
		}
		units = append(units, Unit{Name: e.Name(), Path: p, Install: install})
	}
	sort.Slice(units, func(i, j int) bool { return units[i].Name < units[j].Name })
	var found bool
	for _, u := range units {
		if u.Name == AgentUnit {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("debpkg: units: %s not found in %s", AgentUnit, dir)
	}
	return units, nil
}

func hasUnitSuffix(name string) bool {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// hasInstallSection reports whether a unit file has an [Install] section with at
// least one WantedBy=, RequiredBy=, UpheldBy= or Also= line.
func hasInstallSection(data []byte) (bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return false, fmt.Errorf("malformed section header %q", line)
			}
			section = line
		case section == "[Install]":
			key, _, _ := strings.Cut(line, "=")
			switch strings.TrimSpace(key) {
			case "WantedBy", "RequiredBy", "UpheldBy", "Also":
				return true, nil
			}
		}
	}
	return false, sc.Err()
}
