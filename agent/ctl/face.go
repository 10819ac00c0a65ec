package ctl

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the input files
	_ "image/png"
	"io"
	"os"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/protocol/iso19794/fac"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "face",
		Args:    "FILE...",
		Summary: "check face photos (ICAO-style quality) and print one JSON line per file",
		Run:     runFace,
	})
}

// faceLine is one output line: the file name, then the report (or an error).
type faceLine struct {
	File  string `json:"file"`
	Error string `json:"error,omitempty"`
	*face.Report
	Crop string `json:"crop,omitempty"`
}

func runFace(env *cli.Env, fs *flag.FlagSet, args []string) error {
	crop := fs.String("crop", "", "write the ISO/IEC 19794-5 token crop of the (single) FILE to this JPEG")
	width := fs.Int("width", 0, "token crop width in pixels (default: 4 × the inter-eye distance, at least 240)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return cli.Usagef("no FILE given")
	}
	if *crop != "" && len(files) != 1 {
		return cli.Usagef("--crop takes exactly one FILE")
	}
	a, err := face.NewAnalyzer(nil)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	failed := 0
	for _, name := range files {
		if err := env.Ctx.Err(); err != nil {
			return err
		}
		line := faceLine{File: name}
		img, err := readImage(name)
		if err == nil {
			line.Report, err = a.Analyze(img)
		}
		if err == nil && *crop != "" {
			if !line.Found {
				err = errors.New("no face found: nothing to crop")
			} else if err = writeCrop(*crop, img, line.Report, *width); err == nil {
				line.Crop = *crop
			}
		}
		if err != nil {
			line.Error = err.Error()
			failed++
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	if failed > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

func readImage(name string) (image.Image, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The header first: a small file can declare an image that would not fit in memory.
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a JPEG or PNG image: %w", name, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > fac.MaxPixels {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels, over the limit of %d", name, format, cfg.Width, cfg.Height, fac.MaxPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: damaged %s image: %w", name, format, err)
	}
	return img, nil
}

func writeCrop(path string, img image.Image, rep *face.Report, width int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := face.WriteTokenJPEG(f, img, rep, width); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
