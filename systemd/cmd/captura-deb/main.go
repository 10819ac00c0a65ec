// Command captura-deb builds Captura's Debian packages (see package debpkg).
//
//	captura-deb -root .. -version "$(git describe --tags --always --dirty)" \
//	    -arch arm64 -bin ../dist/deb/arm64 -help-bin ../bin -out ../dist
//
// It prints the path of each package it writes. -arch takes a comma-separated list;
// -bin may contain {arch}, replaced by each Debian architecture.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/captura-claim/captura/systemd/internal/debpkg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "captura-deb: %s\n", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("captura-deb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	version := fs.String("version", "", "project version (git describe --tags --always --dirty)")
	revision := fs.String("revision", "1", "Debian revision")
	arches := fs.String("arch", "amd64,arm64,armhf", "Debian architectures, comma-separated")
	bin := fs.String("bin", "dist/deb/{arch}", "directory of the target's binaries; {arch} is the Debian architecture")
	helpBin := fs.String("help-bin", "bin", "directory of the same binaries built for this machine (manual pages)")
	out := fs.String("out", "dist", "output directory")
	maintainer := fs.String("maintainer", "", "Maintainer field (default: the last commit's author)")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "file and changelog time, seconds since 1970 (default: the last commit's time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *maintainer == "" {
		m, err := git(ctx, *root, "log", "-1", "--format=%an <%ae>")
		if err != nil {
			return fmt.Errorf("no -maintainer and %w", err)
		}
		*maintainer = m
	}
	if *epoch == "" {
		e, err := git(ctx, *root, "log", "-1", "--format=%ct")
		if err != nil {
			return fmt.Errorf("no -source-date-epoch and %w", err)
		}
		*epoch = e
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("source date epoch %q: %w", *epoch, err)
	}
	date := time.Unix(secs, 0).UTC()
	if *version == "" {
		v, err := git(ctx, *root, "describe", "--tags", "--always", "--dirty")
		if err != nil {
			return fmt.Errorf("no -version and %w", err)
		}
		*version = v
	}
	debVersion, err := debpkg.DebVersion(*version, date)
	if err != nil {
		return err
	}
	goroot, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return err
	}
	modcache, err := goEnv(ctx, "GOMODCACHE")
	if err != nil {
		return err
	}
	for _, a := range strings.Split(*arches, ",") {
		spec := debpkg.Spec{Root: *root, BinDir: strings.ReplaceAll(*bin, "{arch}", a), HelpDir: *helpBin, Arch: a,
			Version: debVersion, Revision: *revision, Date: date, Maintainer: *maintainer, GoRoot: goroot, ModCache: modcache}
		p, err := debpkg.Build(ctx, spec, *out)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, p)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func goEnv(ctx context.Context, key string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("go env %s is empty", key)
	}
	return v, nil
}
