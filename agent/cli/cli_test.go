package cli

import (
	"errors"
	"flag"
	"slices"
	"testing"
)

// TestParseInterspersed: flags may come anywhere among the positional arguments, "--"
// ends them, and errors are usage errors.
func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args    []string
		pos     []string
		profile string
		quiet   bool
	}{
		{[]string{"4", "worn", "ridges"}, []string{"4", "worn", "ridges"}, "", false},
		{[]string{"--profile", "p", "4", "worn", "ridges"}, []string{"4", "worn", "ridges"}, "p", false},
		{[]string{"4", "worn", "--profile", "p", "ridges", "-q"}, []string{"4", "worn", "ridges"}, "p", true},
		{[]string{"10", "amputated", "--profile=p"}, []string{"10", "amputated"}, "p", false},
		{[]string{"-q", "--", "-not-a-flag", "--profile", "x"}, []string{"-not-a-flag", "--profile", "x"}, "", true},
		{[]string{"a", "--", "-b"}, []string{"a", "-b"}, "", false},
		{[]string{"-"}, []string{"-"}, "", false},
		{nil, nil, "", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		profile := fs.String("profile", "", "")
		quiet := fs.Bool("q", false, "")
		if err := Parse(fs, c.args); err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if got := fs.Args(); !slices.Equal(got, c.pos) && !(len(got) == 0 && len(c.pos) == 0) {
			t.Errorf("%q: positional %q, want %q", c.args, got, c.pos)
		}
		if *profile != c.profile || *quiet != c.quiet {
			t.Errorf("%q: profile %q quiet %v, want %q %v", c.args, *profile, *quiet, c.profile, c.quiet)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("profile", "", "")
	var ue *UsageError
	if err := Parse(fs, []string{"4", "--nope"}); !errors.As(err, &ue) {
		t.Errorf("unknown flag after an argument: %v, want a usage error", err)
	}
	if err := Parse(fs, []string{"4", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h after an argument: %v, want flag.ErrHelp", err)
	}
}
