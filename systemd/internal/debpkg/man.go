package debpkg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ManPage is one generated manual page (roff source, not yet compressed).
type ManPage struct {
	Name    string // e.g. captura-agent
	Section string // e.g. 8
	Roff    []byte
}

// File is the page's file name in /usr/share/man/manN, compressed: captura-agent.8.gz.
func (m ManPage) File() string { return m.Name + "." + m.Section + ".gz" }

var placeholderRE = regexp.MustCompile(`@[A-Z_]+@`)

// ManPages renders every NAME.SECTION.in template in manDir. The templates hold the
// hand-written parts (description, files, devices, exit status); these placeholders are
// filled from the programs in helpDir, which must run on this machine:
//
//	@VERSION@   the package's upstream version
//	@DATE@      the build date (YYYY-MM-DD)
//	@HELP@      the program's own help (-h for captura-agent, "help" for the others)
//	@COMMANDS@  one subsection per subcommand with its -h output (capturactl, captura-fw)
//	@EXAMPLE@   the commented example configuration (captura-agent -example-config)
//
// The program of NAME.SECTION.in is NAME, or for captura-agent.toml, captura-agent.
func ManPages(ctx context.Context, manDir, helpDir, version string, date time.Time) ([]ManPage, error) {
	tmpls, err := filepath.Glob(filepath.Join(manDir, "*.in"))
	if err != nil {
		return nil, err
	}
	if len(tmpls) == 0 {
		return nil, fmt.Errorf("debpkg: man: no templates in %s", manDir)
	}
	sort.Strings(tmpls)
	if helpDir, err = filepath.Abs(helpDir); err != nil {
		return nil, err
	}
	var pages []ManPage
	for _, t := range tmpls {
		base := strings.TrimSuffix(filepath.Base(t), ".in")
		dot := strings.LastIndexByte(base, '.')
		if dot < 0 {
			return nil, fmt.Errorf("debpkg: man: template %s is not NAME.SECTION.in", t)
		}
		page := ManPage{Name: base[:dot], Section: base[dot+1:]}
		prog := strings.TrimSuffix(page.Name, ".toml")
		src, err := os.ReadFile(t)
		if err != nil {
			return nil, fmt.Errorf("debpkg: man: %w", err)
		}
		h := &helper{ctx: ctx, bin: filepath.Join(helpDir, prog)}
		var firstErr error
		out := placeholderRE.ReplaceAllStringFunc(string(src), func(ph string) string {
			var s string
			var err error
			switch ph {
			case "@VERSION@":
				s = roffEscape(version)
			case "@DATE@":
				s = date.UTC().Format("2006-01-02")
			case "@HELP@":
				if prog == "captura-agent" {
					s, err = h.pre("-h")
				} else {
					s, err = h.pre("help")
				}
			case "@COMMANDS@":
				s, err = h.commands()
			case "@EXAMPLE@":
				s, err = h.pre("-example-config")
			default:
				err = fmt.Errorf("unknown placeholder %s", ph)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			// A block ends with its own newline; the template's follows the placeholder.
			return strings.TrimSuffix(s, "\n")
		})
		if firstErr != nil {
			return nil, fmt.Errorf("debpkg: man page %s(%s): %w", page.Name, page.Section, firstErr)
		}
		page.Roff = []byte(out)
		pages = append(pages, page)
	}
	return pages, nil
}

// helper runs a program to collect its help text.
type helper struct {
	ctx context.Context
	bin string
}

func (h *helper) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = []string{"LANG=C", "LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(h.bin), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (h *helper) pre(args ...string) (string, error) {
	out, err := h.run(args...)
	if err != nil {
		return "", err
	}
	return roffPre(out), nil
}

// commands renders each subcommand listed by "PROG help" with its own -h output.
func (h *helper) commands() (string, error) {
	list, err := h.run("help")
	if err != nil {
		return "", err
	}
	names, err := parseCommands(list)
	if err != nil {
		return "", fmt.Errorf("%s help: %w", filepath.Base(h.bin), err)
	}
	var b strings.Builder
	for _, n := range names {
		usage, err := h.run(append(strings.Fields(n), "-h")...)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, ".SS \"%s %s\"\n%s", roffEscape(filepath.Base(h.bin)), roffEscape(n), roffPre(usage))
	}
	return b.String(), nil
}

// parseCommands reads the command list of agent/cli's usage: the lines after
// "commands:" up to a blank line, each "  NAME  SUMMARY" (NAME may be two words, such
// as "reader info"; two or more spaces separate it from the summary).
func parseCommands(usage string) ([]string, error) {
	sc := bufio.NewScanner(strings.NewReader(usage))
	in := false
	var names []string
	sep := regexp.MustCompile(`\s{2,}`)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "commands:":
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			fields := sep.Split(strings.TrimSpace(line), 2)
			if len(fields) != 2 || fields[0] == "" {
				return nil, fmt.Errorf("cannot tell the command name from its summary in %q (two spaces must separate them)", line)
			}
			names = append(names, fields[0])
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no \"commands:\" list")
	}
	return names, nil
}

// roffEscape escapes text for use inside a roff line (not at its start).
func roffEscape(s string) string {
	return strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
}

// roffPre renders text as an indented no-fill block: tabs expanded, backslashes and
// hyphens escaped, lines starting with a control character protected.
func roffPre(text string) string {
	var b bytes.Buffer
	b.WriteString(".RS 4\n.nf\n")
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = roffEscape(expandTabs(strings.TrimRight(line, " \t")))
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(".fi\n.RE\n")
	return b.String()
}

func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}
