package ctl

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/agent/sheet"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "show",
		Args:    "RECORD",
		Summary: "render a record as a QA contact sheet PNG (finger images with minutiae and scores, the face); needs the AIMA key",
		Run:     runShow,
	})
}

func runShow(env *cli.Env, fs *flag.FlagSet, args []string) error {
	aimaKey := fs.String("aima-key", "", "AIMA private key (PEM) to open the sealed body")
	stationKey := fs.String("station-key", "", "station public key (PEM) or directory of *.pub: verify the signature first")
	out := fs.String("out", "sheet.png", "PNG file to write (mode 0600: it holds biometric data)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *aimaKey == "" {
		return cli.Usagef("want a RECORD file and --aima-key")
	}
	aima, err := readAIMAKey(*aimaKey)
	if err != nil {
		return err
	}
	data, err := readInput(env, fs.Arg(0), protocol.MaxRecordSize+(64<<10))
	if err != nil {
		return err
	}
	rec, _, err := loadRecord(data, *stationKey)
	if err != nil {
		return fmt.Errorf("%s: %w", inputName(fs.Arg(0)), err)
	}
	body, err := openBody(rec, aima)
	if err != nil {
		return err
	}
	an, err := face.NewAnalyzer(nil)
	if err != nil {
		return err
	}
	// A sheet with damaged items is still written (they are marked on it); the exit
	// status says so.
	img, drawErr := sheet.Render(rec, body, an)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(*out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%dx%d): it holds biometric data; delete it after QA\n", *out, img.Bounds().Dx(), img.Bounds().Dy())
	return drawErr
}
