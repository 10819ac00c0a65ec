// Package cli is the small command-line frame shared by capturactl, captura-fw and
// captura-agent: one table of subcommands, one error style, and an environment that
// tests replace wholesale so every CLI can be tested end to end without a process.
//
// Error style (after age): errors go to stderr as "PROG: message", lower case, no final
// period, followed by an optional "PROG: hint: ..." line. Exit status 1 means the command
// failed, 2 means it was called wrongly.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Env is everything a command may touch of the outside world. Tests build their own.
type Env struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OSEnv returns the process environment.
func OSEnv(ctx context.Context) *Env {
	return &Env{Ctx: ctx, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Command is one subcommand.
type Command struct {
	Name    string // e.g. "verify", or "reader info" for a nested one
	Args    string // usage after the flags, e.g. "FILE|-"
	Summary string // one line for the command list
	// Run executes the command. fs is already created with the command's name; Run
	// defines its flags, calls Parse(fs, args) and does its work.
	Run func(env *Env, fs *flag.FlagSet, args []string) error
}

// UsageError marks an error in how a command was called (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError.
func Usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// HintError carries a hint printed on its own line after the error.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint wraps err with a hint for the user.
func WithHint(err error, hint string) error { return &HintError{Err: err, Hint: hint} }

// ExitError makes a command end with a specific status without printing anything more
// (the command has already said why).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Program is a set of commands under one binary name.
type Program struct {
	Name     string
	Summary  string
	commands map[string]*Command
}

// Register adds c to p. It panics on a duplicate name: that is a programming error.
func (p *Program) Register(c *Command) {
	if p.commands == nil {
		p.commands = map[string]*Command{}
	}
	if _, dup := p.commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	p.commands[c.Name] = c
}

// Parse parses flags and maps flag errors to usage errors. -h prints the usage. Flags
// may come before, between or after the positional arguments ("verify FILE --keys DIR",
// "override 4 worn ridges --profile P"), as people type them; after "--" everything is
// positional. fs.Args() then holds the positional arguments in order.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return flag.ErrHelp
			}
			return &UsageError{Msg: err.Error()}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // the flag package consumed the terminator
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments where fs.Args() reports them.
	return fs.Parse(append([]string{"--"}, pos...))
}

// Main runs the program with args (without the program name) and returns the exit status.
func (p *Program) Main(env *Env, args []string) int {
	if env.Ctx == nil {
		env.Ctx = context.Background()
	}
	named := args // the command as the user named it, for messages
	if len(args) > 1 && args[0] == "help" {
		// "help COMMAND" is "COMMAND -h".
		named = args[1:]
		args = append(append([]string{}, named...), "-h")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		p.usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// Longest match first so "reader info" wins over "reader".
	var cmd *Command
	var rest []string
	for n := min(len(args), 3); n >= 1; n-- {
		if c, ok := p.commands[strings.Join(args[:n], " ")]; ok {
			cmd, rest = c, args[n:]
			break
		}
	}
	if cmd == nil {
		// A group's name alone ("bundle") lists the group's commands.
		for n := min(len(named), 2); n >= 1; n-- {
			if sub := p.group(strings.Join(named[:n], " ")); len(sub) > 0 {
				fmt.Fprintf(env.Stderr, "%s: %q needs a command:\n", p.Name, strings.Join(named[:n], " "))
				for _, c := range sub {
					fmt.Fprintf(env.Stderr, "  %-18s %s\n", c, p.commands[c].Summary)
				}
				return 2
			}
		}
		fmt.Fprintf(env.Stderr, "%s: unknown command %q\n%s: hint: run %q for the list\n", p.Name, strings.Join(named, " "), p.Name, p.Name+" help")
		return 2
	}
	fs := flag.NewFlagSet(p.Name+" "+cmd.Name, flag.ContinueOnError)
	err := cmd.Run(env, fs, rest)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		p.commandUsage(env.Stdout, cmd, fs)
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "%s: %s\n", p.Name, err)
	var he *HintError
	if errors.As(err, &he) && he.Hint != "" {
		fmt.Fprintf(env.Stderr, "%s: hint: %s\n", p.Name, he.Hint)
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "usage: %s %s [flags] %s\n", p.Name, cmd.Name, cmd.Args)
		return 2
	}
	return 1
}

// group returns, sorted, the commands whose names start with prefix and a space.
func (p *Program) group(prefix string) []string {
	var out []string
	for n := range p.commands {
		if strings.HasPrefix(n, prefix+" ") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (p *Program) usage(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n\nusage: %s COMMAND [flags] [args]\n\ncommands:\n", p.Name, p.Summary, p.Name)
	names := make([]string, 0, len(p.commands))
	for n := range p.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, p.commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun \"%s COMMAND -h\" for a command's flags.\n", p.Name)
}

func (p *Program) commandUsage(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s [flags] %s\n\n%s\n", p.Name, c.Name, c.Args, c.Summary)
	fs.SetOutput(w)
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
}
