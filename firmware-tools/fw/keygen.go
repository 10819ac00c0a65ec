package fw

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/protocol"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "keygen",
		Args:    "",
		Summary: "create a key pair: station, tablet, maintainer, gateway (signing) or aima (HPKE)",
		Run:     runKeygen,
	})
}

func runKeygen(env *cli.Env, fs *flag.FlagSet, args []string) error {
	kind := fs.String("kind", "", "station|tablet|maintainer|gateway|aima")
	out := fs.String("out", "", "directory to write KIND.key (mode 0600) and KIND.pub into")
	name := fs.String("name", "", "file name stem instead of KIND")
	suite := fs.String("suite", protocol.SuiteXWing, "HPKE suite for --kind aima: "+protocol.SuiteXWing+" or "+protocol.SuiteP256)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *kind == "" || *out == "" || fs.NArg() != 0 {
		return cli.Usagef("--kind and --out are required")
	}
	stem := *kind
	if *name != "" {
		stem = *name
	}
	priv, pub, kid, err := generate(*kind, *suite)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	keyPath := filepath.Join(*out, stem+".key")
	pubPath := filepath.Join(*out, stem+".pub")
	if err := fsutil.CreateExclusive(keyPath, priv, 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			return cli.WithHint(fmt.Errorf("%s already exists", keyPath), "keys are never overwritten; remove it or choose another --out or --name")
		}
		return err
	}
	if err := fsutil.CreateExclusive(pubPath, pub, 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	fmt.Fprintf(env.Stdout, "%s key %s\nprivate: %s\npublic:  %s\n", *kind, kid, keyPath, pubPath)
	return nil
}

// generate returns PEM private and public keys and the key id.
func generate(kind, suite string) (priv, pub []byte, kid string, err error) {
	if kind == protocol.KindAIMA {
		k, err := protocol.GenerateRecipientKey(suite)
		if err != nil {
			return nil, nil, "", err
		}
		priv, err := k.MarshalPEM()
		return priv, k.Public().MarshalPEM(), k.Public().KeyID().String(), err
	}
	switch kind {
	case protocol.KindStation, protocol.KindTablet, protocol.KindMaintainer, protocol.KindGateway:
	default:
		return nil, nil, "", cli.Usagef("unknown key kind %q (want station, tablet, maintainer, gateway or aima)", kind)
	}
	k, err := protocol.GenerateSigningKey(kind)
	if err != nil {
		return nil, nil, "", err
	}
	if priv, err = protocol.MarshalPrivateKeyPEM(k); err != nil {
		return nil, nil, "", err
	}
	if pub, err = protocol.MarshalPublicKeyPEM(k.Public()); err != nil {
		return nil, nil, "", err
	}
	id, err := protocol.KeyIDOf(k.Public())
	return priv, pub, id.String(), err
}
