package debpkg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Scripts are the maintainer scripts the package runs.
var Scripts = []string{"postinst", "prerm", "postrm"}

// RenderScript fills a maintainer script template (systemd/debian/NAME.in) with the
// package's units:
//
//	@ENABLE_UNITS@  units with an [Install] section (enabled on installation)
//	@OTHER_UNITS@   those of them that are timers, paths or sockets (started on
//	                installation, restarted on upgrade). Services other than the agent
//	                are only enabled: a oneshot helper (an update's health check or
//	                rollback) must run when its trigger says, never because a package
//	                was installed. The agent has its own rules.
//	@STOP_UNITS@    every unit, captura-agent.service last (stopped on removal)
//	@ALL_UNITS@     every unit (forgotten on purge)
func RenderScript(tmpl string, units []Unit) (string, error) {
	var enable, other, stop, all []string
	for _, u := range units {
		all = append(all, u.Name)
		if u.Name != AgentUnit {
			stop = append(stop, u.Name)
		}
		if u.Install {
			enable = append(enable, u.Name)
			if !strings.HasSuffix(u.Name, ".service") && !strings.HasSuffix(u.Name, ".target") {
				other = append(other, u.Name)
			}
		}
	}
	stop = append(stop, AgentUnit)
	var firstErr error
	out := placeholderRE.ReplaceAllStringFunc(tmpl, func(ph string) string {
		switch ph {
		case "@ENABLE_UNITS@":
			return strings.Join(enable, " ")
		case "@OTHER_UNITS@":
			return strings.Join(other, " ")
		case "@STOP_UNITS@":
			return strings.Join(stop, " ")
		case "@ALL_UNITS@":
			return strings.Join(all, " ")
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("debpkg: unknown placeholder %s in a maintainer script", ph)
		}
		return ph
	})
	return out, firstErr
}

// renderScripts writes the rendered maintainer scripts into dir and returns their
// paths by name.
func renderScripts(srcDir, dir string, units []Unit) (map[string]string, error) {
	paths := map[string]string{}
	for _, name := range Scripts {
		tmpl, err := os.ReadFile(filepath.Join(srcDir, name+".in"))
		if err != nil {
			return nil, fmt.Errorf("debpkg: %w", err)
		}
		s, err := RenderScript(string(tmpl), units)
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, name)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			return nil, fmt.Errorf("debpkg: %w", err)
		}
		paths[name] = p
	}
	return paths, nil
}
