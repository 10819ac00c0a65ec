package ctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "verify",
		Args:    "FILE|-",
		Summary: "verify a signed capture record and print its summary (never biometric content)",
		Run:     runVerify,
	})
}

func runVerify(env *cli.Env, fs *flag.FlagSet, args []string) error {
	stationKey := fs.String("station-key", "", "station public key (PEM), or a directory of *.pub station keys")
	aimaKey := fs.String("aima-key", "", "AIMA private key (PEM): also open the sealed body and list the formats and sizes inside")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE (or - for standard input)")
	}
	// Keys first: a wrong key file is reported before any output.
	var aima *protocol.RecipientKey
	if *aimaKey != "" {
		var err error
		if aima, err = readAIMAKey(*aimaKey); err != nil {
			return err
		}
	}
	data, err := readInput(env, fs.Arg(0), protocol.MaxRecordSize+(64<<10))
	if err != nil {
		return err
	}
	rec, e, err := loadRecord(data, *stationKey)
	if err != nil {
		return fmt.Errorf("%s: %w", inputName(fs.Arg(0)), err)
	}
	if *stationKey != "" {
		fmt.Fprintf(env.Stdout, "signature valid (EdDSA, station key %s)\n", e.KeyID)
	} else {
		fmt.Fprintf(env.Stdout, "signature NOT checked (no --station-key): structure and schema only\n")
	}
	WriteRecordSummary(env.Stdout, rec, e)
	if aima == nil {
		return nil
	}
	body, err := openBody(rec, aima)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "body      opened: %d records\n", len(body.Items))
	writeBodyList(env.Stdout, body)
	return nil
}

// writeBodyList lists the standard records inside an opened body: formats and sizes only.
func writeBodyList(w io.Writer, body *protocol.Body) {
	for _, it := range body.Items {
		fmt.Fprintf(w, "  %-13s %-16s %8d bytes\n", itemName(it.Mod, it.Pos), it.Format, len(it.Data))
	}
	if n := len(body.Assessments); n > 0 {
		fmt.Fprintf(w, "  quality detail of %d attempts (measures, hints)\n", n)
	}
}

// loadRecord verifies a signed record against the station keys at stationKey (a PEM
// file or a directory of *.pub), or, when stationKey is empty, checks only its structure,
// schema and body binding.
func loadRecord(data []byte, stationKey string) (*protocol.Record, *protocol.Envelope, error) {
	if stationKey != "" {
		ring, err := loadStationKeys(stationKey)
		if err != nil {
			return nil, nil, err
		}
		rec, e, err := protocol.VerifyRecord(data, ring)
		if err != nil {
			return nil, nil, verifyHint(err)
		}
		return rec, e, nil
	}
	e, err := protocol.ParseEnvelope(data, protocol.MaxRecordSize+(64<<10))
	if err != nil {
		return nil, nil, verifyHint(err)
	}
	if e.ContentType != protocol.CTRecord {
		return nil, nil, fmt.Errorf("envelope holds %q, not a capture record", e.ContentType)
	}
	rec, err := protocol.DecodeRecord(e.Payload)
	if err != nil {
		return nil, nil, err
	}
	si, err := protocol.InspectSealed(rec.Body)
	if err != nil {
		return nil, nil, err
	}
	if err := si.CheckBinding(rec.Station, rec.ID); err != nil {
		return nil, nil, verifyHint(err)
	}
	return rec, e, nil
}

// openBody opens a record's sealed body with the AIMA key in the PEM file keyPath.
// inputName names a FILE argument in messages ("-" is standard input).
func inputName(arg string) string {
	if arg == "-" {
		return "standard input"
	}
	return arg
}

// readAIMAKey reads the AIMA private key named by --aima-key.
func readAIMAKey(path string) (*protocol.RecipientKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--aima-key: %w", err)
	}
	k, err := protocol.ParseRecipientKeyPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("--aima-key %s: %w", path, err)
	}
	return k, nil
}

func openBody(rec *protocol.Record, k *protocol.RecipientKey) (*protocol.Body, error) {
	body, err := protocol.OpenBody(k, rec.Station, rec.ID, rec.Body)
	if err != nil {
		return nil, verifyHint(err)
	}
	return body, nil
}

// verifyHint adds what to check next to the protocol's error categories.
func verifyHint(err error) error {
	switch {
	case errors.Is(err, protocol.ErrUnknownKey):
		return cli.WithHint(err, "the record was signed by another station key; check --station-key")
	case errors.Is(err, protocol.ErrSignature):
		return cli.WithHint(err, "the record was altered after signing; do not trust its content")
	case errors.Is(err, protocol.ErrBinding):
		return cli.WithHint(err, "the sealed body was taken from another record")
	case errors.Is(err, protocol.ErrDecrypt):
		return cli.WithHint(err, "check that --aima-key is the key the station seals to")
	}
	return err
}

func loadStationKeys(path string) (*protocol.KeyRing, error) {
	files := []string{path}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.pub"))
		if len(files) == 0 {
			return nil, fmt.Errorf("no *.pub files in %s", path)
		}
	}
	ring, _ := protocol.NewKeyRing()
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pub, err := protocol.ParsePublicKeyPEM(pem)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if _, err := ring.Add(pub); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return ring, nil
}

// readInput reads FILE or standard input ("-"), refusing more than limit bytes.
func readInput(env *cli.Env, name string, limit int64) ([]byte, error) {
	var r io.Reader = env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", strings.TrimSpace(name), limit, protocol.ErrTooLarge)
	}
	return data, nil
}
