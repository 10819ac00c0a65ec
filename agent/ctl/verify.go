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
	data, err := readInput(env, fs.Arg(0), protocol.MaxRecordSize+(64<<10))
	if err != nil {
		return err
	}
	var rec *protocol.Record
	var e *protocol.Envelope
	if *stationKey != "" {
		ring, err := loadStationKeys(*stationKey)
		if err != nil {
			return err
		}
		if rec, e, err = protocol.VerifyRecord(data, ring); err != nil {
			return verifyHint(err)
		}
	} else {
		// Without a key only the structure can be checked; say so loudly.
		if e, err = protocol.ParseEnvelope(data, protocol.MaxRecordSize+(64<<10)); err != nil {
			return verifyHint(err)
		}
		if e.ContentType != protocol.CTRecord {
			return fmt.Errorf("envelope holds %q, not a capture record", e.ContentType)
		}
		if rec, err = protocol.DecodeRecord(e.Payload); err != nil {
			return err
		}
		si, err := protocol.InspectSealed(rec.Body)
		if err != nil {
			return err
		}
		if err := si.CheckBinding(rec.Station, rec.ID); err != nil {
			return err
		}
	}
	if *stationKey != "" {
		fmt.Fprintf(env.Stdout, "signature valid (EdDSA, station key %s)\n", e.KeyID)
	} else {
		fmt.Fprintf(env.Stdout, "signature NOT checked (no --station-key): structure and schema only\n")
	}
	WriteRecordSummary(env.Stdout, rec, e)
	if *aimaKey == "" {
		return nil
	}
	pem, err := os.ReadFile(*aimaKey)
	if err != nil {
		return err
	}
	k, err := protocol.ParseRecipientKeyPEM(pem)
	if err != nil {
		return err
	}
	body, err := protocol.OpenBody(k, rec.Station, rec.ID, rec.Body)
	if err != nil {
		return verifyHint(err)
	}
	fmt.Fprintf(env.Stdout, "body      opened: %d records\n", len(body.Items))
	for _, it := range body.Items {
		name := "face"
		if it.Mod == protocol.ModFinger {
			name = it.Pos.String()
		}
		fmt.Fprintf(env.Stdout, "  %-13s %-16s %8d bytes\n", name, it.Format, len(it.Data))
	}
	return nil
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
