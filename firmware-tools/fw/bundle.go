package fw

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "bundle create",
		Args:    "",
		Summary: "create an update bundle from an agent binary, signed by maintainer keys",
		Run:     runBundleCreate,
	})
	Program.Register(&cli.Command{
		Name:    "bundle verify",
		Args:    "FILE",
		Summary: "check a bundle as a station would: signatures, threshold, target, versions, hashes",
		Run:     runBundleVerify,
	})
	Program.Register(&cli.Command{
		Name:    "bundle sign",
		Args:    "FILE",
		Summary: "add a maintainer's signature to a bundle (offline)",
		Run:     runBundleSign,
	})
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func runBundleCreate(env *cli.Env, fs *flag.FlagSet, args []string) error {
	binary := fs.String("binary", "", "the captura-agent binary (ELF) to ship")
	arch := fs.String("arch", "", "target GOARCH: arm64, arm, amd64 (default: the binary's)")
	goarm := fs.Uint("goarm", 7, "ARM level for --arch arm (5, 6 or 7)")
	version := fs.String("version", "", "semantic version of the binary, e.g. 1.4.0")
	minVersion := fs.String("min-version", "", "oldest installed version this bundle may replace")
	out := fs.String("out", "", "bundle file to write")
	chunk := fs.Int("chunk-size", bundle.DefaultChunkSize, "transfer chunk size in bytes (each chunk's hash is signed)")
	notes := fs.String("notes", "", "release notes (shown by bundle verify and fleet tools)")
	product := fs.String("product", bundle.ProductAgent, "product name")
	var keys, files listFlag
	fs.Var(&keys, "key", "maintainer private key (PEM); repeat for each signer")
	fs.Var(&files, "file", "extra payload file as NAME=PATH; repeatable")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *binary == "" || *version == "" || *out == "" || len(keys) == 0 || fs.NArg() != 0 {
		return cli.Usagef("--binary, --version, --key and --out are required")
	}
	elfArch, err := bundle.ELFArch(*binary)
	if err != nil {
		return err
	}
	if *arch == "" {
		*arch = elfArch
	} else if *arch != elfArch {
		return cli.WithHint(fmt.Errorf("%s is a %s binary, not %s", *binary, elfArch, *arch),
			"build it with GOARCH="+*arch+" (and GOARM for arm), or drop --arch")
	}
	o := bundle.Options{Product: *product, Version: *version, MinVersion: *minVersion, OS: "linux", Arch: *arch,
		ChunkSize: *chunk, Notes: *notes, Created: time.Now()}
	if *arch == "arm" {
		o.GOARM = *goarm
	}
	src := []bundle.Source{{Name: *product, Path: *binary, Mode: 0o755}}
	for _, f := range files {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			return cli.Usagef("--file %q: want NAME=PATH", f)
		}
		src = append(src, bundle.Source{Name: name, Path: path})
	}
	signers, err := readSigners(keys)
	if err != nil {
		return err
	}
	h, err := bundle.CreateFile(*out, o, src, signers)
	if err != nil {
		return err
	}
	describe(env.Stdout, *out, h)
	for _, s := range h.Signatures {
		fmt.Fprintf(env.Stdout, "signed by %s\n", s.KeyID)
	}
	return nil
}

func readSigners(paths []string) ([]crypto.Signer, error) {
	var out []crypto.Signer
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := protocol.ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, k)
	}
	return out, nil
}

func describe(w io.Writer, path string, h *bundle.Header) {
	m := h.Manifest
	plat := m.OS + "/" + m.Arch
	if m.Arch == "arm" {
		plat += fmt.Sprintf(" GOARM=%d", m.GOARM)
	}
	fmt.Fprintf(w, "%s: %s %s for %s, %d bytes (%d files, %d chunks of %d bytes), created %s\n", filepath.Base(path), m.Product, m.Version, plat,
		h.TotalSize(), len(m.Files), len(m.Chunks), m.ChunkSize, time.UnixMilli(m.Created).UTC().Format(time.RFC3339))
	if m.MinVersion != "" {
		fmt.Fprintf(w, "replaces %s or later\n", m.MinVersion)
	}
	for _, f := range m.Files {
		fmt.Fprintf(w, "file %s %d bytes mode %04o sha256 %x\n", f.Name, f.Size, f.Mode, f.SHA256)
	}
	if m.Notes != "" {
		fmt.Fprintf(w, "notes: %s\n", m.Notes)
	}
}

func runBundleVerify(env *cli.Env, fs *flag.FlagSet, args []string) error {
	keysDir := fs.String("keys", "", "directory of trusted maintainer public keys (*.pub)")
	threshold := fs.Int("threshold", 2, "distinct trusted signatures required")
	arch := fs.String("arch", "", "station GOARCH to check the bundle against (default: not checked)")
	goarm := fs.Uint("goarm", 7, "station ARM level, with --arch arm")
	installed := fs.String("installed", "", "station's installed version (default: not checked)")
	floor := fs.String("floor", "", "station's anti-rollback floor (default: not checked)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) != 1 || *keysDir == "" {
		return cli.Usagef("want one bundle file and --keys DIR")
	}
	keys, err := bundle.LoadKeys(*keysDir)
	if err != nil {
		return err
	}
	p := bundle.Policy{Keys: keys, Threshold: *threshold, Product: bundle.ProductAgent, Installed: *installed, Floor: *floor}
	if *arch != "" {
		t := bundle.Target{OS: "linux", Arch: *arch}
		if *arch == "arm" {
			t.GOARM = *goarm
		}
		p.Target = &t
	}
	h, v, err := bundle.VerifyFile(pos[0], p)
	if h != nil {
		describe(env.Stdout, pos[0], h)
	}
	if v != nil {
		for _, k := range v.Signers {
			fmt.Fprintf(env.Stdout, "signature ok: %s (%s)\n", keys.Name(k), k)
		}
		for _, k := range v.Unknown {
			fmt.Fprintf(env.Stdout, "signature by unknown key %s (ignored)\n", k)
		}
	}
	if err != nil {
		return cli.WithHint(fmt.Errorf("rejected (%s): %w", bundle.Reason(err), err), hintFor(err))
	}
	fmt.Fprintf(env.Stdout, "ok: %d of %d required signatures, payload hashes match\n", len(v.Signers), *threshold)
	return nil
}

func hintFor(err error) string {
	switch {
	case errors.Is(err, bundle.ErrThreshold):
		return "another maintainer can add a signature offline: captura-fw bundle sign FILE --key KEY"
	case errors.Is(err, bundle.ErrTruncated), errors.Is(err, bundle.ErrHash), errors.Is(err, bundle.ErrSize):
		return "the file was damaged in transfer; copy it again"
	}
	return ""
}

func runBundleSign(env *cli.Env, fs *flag.FlagSet, args []string) error {
	key := fs.String("key", "", "maintainer private key (PEM)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) != 1 || *key == "" {
		return cli.Usagef("want one bundle file and --key KEY")
	}
	path := pos[0]
	signers, err := readSigners([]string{*key})
	if err != nil {
		return err
	}
	if err := bundle.CheckPayload(path); err != nil {
		return cli.WithHint(fmt.Errorf("not signing a damaged bundle (%s): %w", bundle.Reason(err), err), hintFor(err))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h, err := bundle.ReadHeader(f)
	f.Close()
	if err != nil {
		return err
	}
	if err := h.AddSignature(signers[0]); err != nil {
		return err
	}
	if err := bundle.Resign(path, h); err != nil {
		return err
	}
	kid := h.Signatures[len(h.Signatures)-1].KeyID
	fmt.Fprintf(env.Stdout, "%s: signed by %s (%d signatures)\n", filepath.Base(path), kid, len(h.Signatures))
	return nil
}
