package ctl

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

// qualityExtractor finds the minutiae NFIQ 2's minutiae measures need: the project's
// own extractor (NIST uses FingerJet FX). If it is nil, quality scores with no minutiae
// and says so on stderr.
var qualityExtractor nfiq2.Extractor = minutiae.Extract

func init() {
	Program.Register(&cli.Command{
		Name:    "quality",
		Args:    "FILE...",
		Summary: "NFIQ 2 quality of fingerprint images (PGM, PNG, TIFF, or raw grey with --size)",
		Run:     runQuality,
	})
}

func runQuality(env *cli.Env, fs *flag.FlagSet, args []string) error {
	measures := fs.Bool("measures", false, "print a TSV of the unified score and all NIST native quality measures")
	size := fs.String("size", "", "read FILEs as raw 8-bit grey of this size, `WxH`")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return cli.Usagef("no image files given")
	}
	var opts *fpimage.Opts
	if *size != "" {
		w, h, err := parseSize(*size)
		if err != nil {
			return cli.Usagef("--size: %v", err)
		}
		opts = &fpimage.Opts{Width: w, Height: h}
	}
	m, err := nfiq2.Default()
	if err != nil {
		return err
	}
	if qualityExtractor == nil {
		fmt.Fprintf(env.Stderr, "%s: warning: no minutiae extractor in this build: minutiae measures are empty and scores are not comparable with NIST's\n", Program.Name)
	}
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()
	if *measures {
		out.WriteString("image\tUnifiedQualityScore\t" + strings.Join(nfiq2.MeasureNames(), "\t") + "\n")
	}
	failed := 0
	for _, path := range files {
		if err := env.Ctx.Err(); err != nil {
			return err
		}
		res, err := scoreFile(m, path, opts)
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s\terror: %s\n", path, reason(err, path))
			continue
		}
		if !*measures {
			fmt.Fprintf(out, "%s\t%d\n", path, res.UnifiedQualityScore)
			continue
		}
		writeMeasures(out, path, res)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

func scoreFile(m *nfiq2.Model, path string, opts *fpimage.Opts) (*nfiq2.Result, error) {
	img, err := fpimage.ReadFile(path, opts)
	if err != nil {
		return nil, err
	}
	if qualityExtractor != nil {
		return m.ComputeWith(img, nfiq2.Resolution, qualityExtractor)
	}
	return m.Compute(img, nfiq2.Resolution, nil)
}

func writeMeasures(w io.Writer, path string, res *nfiq2.Result) {
	var b strings.Builder
	b.WriteString(path)
	b.WriteByte('\t')
	b.WriteString(strconv.Itoa(res.UnifiedQualityScore))
	for _, v := range res.Measures {
		b.WriteByte('\t')
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// reason is the error text for the PATH<TAB>error: REASON line: the line names the file
// already, so the reader's own "NAME: " prefix goes.
func reason(err error, path string) string {
	s := strings.TrimPrefix(err.Error(), filepath.Base(path)+": ")
	s = strings.TrimPrefix(s, "nfiq2: ")
	return strings.ReplaceAll(s, "\n", " ")
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 || w > fpimage.MaxPixels || h > fpimage.MaxPixels || w*h > fpimage.MaxPixels {
		return 0, 0, errors.New("want WxH, e.g. 256x288")
	}
	return w, h, nil
}
