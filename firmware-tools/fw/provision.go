package fw

import (
	"flag"
	"fmt"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/firmware-tools/provision"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "provision",
		Summary: "create a station's key, setup secret and pairing label (text and QR code PNG)",
		Run: func(env *cli.Env, fs *flag.FlagSet, args []string) error {
			station := fs.String("station", "", "station id ([a-z0-9-]{1,64})")
			centre := fs.String("centre", "", "centre id ([a-z0-9-]{1,64})")
			out := fs.String("out", "", "output directory")
			if err := cli.Parse(fs, args); err != nil {
				return err
			}
			if *station == "" || *centre == "" || *out == "" || fs.NArg() != 0 {
				return cli.Usagef("--station, --centre and --out are required")
			}
			r, err := provision.Station(*out, *centre, *station)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "station %s (centre %s) provisioned in %s\nstation key %s\nsetup secret %s\n\n"+
				"install on the station: %s and %s into /var/lib/captura/ (owner captura, mode 0600)\n"+
				"register at the gateway: %s as <station-keys>/%s.pub\n"+
				"print and stick on the box: %s\n",
				r.Station, r.Centre, r.Dir, r.KeyID, r.Secret, provision.KeyFile, provision.SecretFile, provision.PubFile, r.Station, provision.LabelPNG)
			return nil
		},
	})
}
