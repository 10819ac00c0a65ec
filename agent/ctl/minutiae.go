package ctl

import (
	"flag"
	"fmt"
	"os"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "minutiae",
		Args:    "FILE",
		Summary: "extract the minutiae of a 500 ppi fingerprint image; print their count, write an ISO/IEC 19794-2 record",
		Run:     runMinutiae,
	})
}

func runMinutiae(env *cli.Env, fs *flag.FlagSet, args []string) error {
	out := fs.String("o", "", "write an ISO/IEC 19794-2:2005 minutiae record to this `file`")
	ppi := fs.Int("ppi", 500, "image resolution in pixels per inch (only 500 is supported)")
	size := fs.String("size", "", "`WxH` of a raw 8-bit grey file (no header)")
	pos := fs.Int("position", 0, "ISO finger position code written in the record (0 unknown, 1..10)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("need exactly one image file")
	}
	if *pos < 0 || *pos > 10 {
		return cli.Usagef("--position %d: want 0..10", *pos)
	}
	var opts *fpimage.Opts
	if *size != "" {
		w, h, err := parseSize(*size)
		if err != nil {
			return cli.Usagef("--size %q: %v", *size, err)
		}
		opts = &fpimage.Opts{Width: w, Height: h}
	}
	path := fs.Arg(0)
	img, err := fpimage.ReadFile(path, opts)
	if err != nil {
		return err
	}
	ms, err := minutiae.Extract(img, *ppi)
	if err != nil {
		return cli.WithHint(err, "the extractor works on 8-bit grey images at 500 ppi")
	}
	endings := 0
	for _, m := range ms {
		if m.Kind == minutiae.Ending {
			endings++
		}
	}
	fmt.Fprintf(env.Stdout, "%s\t%d minutiae (%d endings, %d bifurcations)\n", path, len(ms), endings, len(ms)-endings)
	if *out == "" {
		return nil
	}
	b := img.Bounds()
	rec, err := minutiae.FMR(ms, b.Dx(), b.Dy(), uint8(*pos), 0)
	if err != nil {
		return err
	}
	raw, err := fmr.Encode(rec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, raw, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%d bytes)\n", *out, len(raw))
	return nil
}
