// Package provision prepares a station before it is installed: its signing key, its
// 128-bit setup secret, and the label stuck on the box (text and a QR code with the
// station id and the secret) that a technician's tablet scans to pair.
package provision

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/captura-claim/captura/agent/fsutil"
	"github.com/captura-claim/captura/protocol"
)

// Files written into the output directory.
const (
	KeyFile    = "station.key"  // Ed25519 PKCS#8, mode 0600: goes to /var/lib/captura/
	PubFile    = "station.pub"  // goes to the gateway's station key directory as <station>.pub
	SecretFile = "setup-secret" // mode 0600: goes to /var/lib/captura/
	LabelText  = "label.txt"
	LabelPNG   = "label.png"
)

// Result describes a provisioned station.
type Result struct {
	Station, Centre string
	KeyID           protocol.KeyID
	Secret          string // formatted as on the label
	URI             string // the QR code's content
	Dir             string
}

// LabelURI is what the label's QR code holds: everything a tablet needs to pair.
func LabelURI(centre, station string, secret []byte, kid protocol.KeyID) string {
	v := url.Values{}
	v.Set("c", centre)
	v.Set("s", station)
	v.Set("k", strings.ReplaceAll(protocol.FormatSecret(secret), "-", ""))
	v.Set("id", kid.String())
	return "captura://pair?" + v.Encode()
}

// ParseLabelURI reads a scanned label.
func ParseLabelURI(uri string) (centre, station string, secret []byte, kid string, err error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "captura" || u.Host != "pair" {
		return "", "", nil, "", errors.New("not a Captura station label (want captura://pair?...)")
	}
	q := u.Query()
	centre, station, kid = q.Get("c"), q.Get("s"), q.Get("id")
	if !protocol.ValidID(centre) {
		return "", "", nil, "", fmt.Errorf("label: centre id %q (c=) is not 1-64 characters of [a-z0-9-]", centre)
	}
	if !protocol.ValidID(station) {
		return "", "", nil, "", fmt.Errorf("label: station id %q (s=) is not 1-64 characters of [a-z0-9-]", station)
	}
	if kid != "" {
		if b, err := hex.DecodeString(kid); err != nil || len(b) != len(protocol.KeyID{}) {
			return "", "", nil, "", fmt.Errorf("label: station key id %q (id=) is not %d hex digits", kid, 2*len(protocol.KeyID{}))
		}
	}
	secret, err = protocol.ParseSecret(q.Get("k"))
	if err != nil {
		return "", "", nil, "", fmt.Errorf("label: %w", err)
	}
	return centre, station, secret, kid, nil
}

// Station provisions station of centre into dir, which must not hold a provisioned
// station already (keys and secrets are never overwritten).
func Station(dir, centre, station string) (*Result, error) {
	for _, id := range []struct{ what, v string }{{"station", station}, {"centre", centre}} {
		if !protocol.ValidID(id.v) {
			return nil, fmt.Errorf("%s id %q: want 1-64 characters of [a-z0-9-]", id.what, id.v)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{KeyFile, SecretFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%s already exists: a provisioned station is never overwritten", filepath.Join(dir, f))
		}
	}
	k, err := protocol.GenerateSigningKey(protocol.KindStation)
	if err != nil {
		return nil, err
	}
	kid, err := protocol.KeyIDOf(k.Public())
	if err != nil {
		return nil, err
	}
	priv, err := protocol.MarshalPrivateKeyPEM(k)
	if err != nil {
		return nil, err
	}
	pub, _ := protocol.MarshalPublicKeyPEM(k.Public())
	secret := protocol.NewSetupSecret()
	res := &Result{Station: station, Centre: centre, KeyID: kid, Secret: protocol.FormatSecret(secret),
		URI: LabelURI(centre, station, secret, kid), Dir: dir}
	label, err := labelPNG(res)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("Captura station\nstation: %s\ncentre:  %s\nsetup secret: %s\nstation key: %s\npair: %s\n",
		station, centre, res.Secret, kid, res.URI)
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{KeyFile, priv, 0o600}, {PubFile, pub, 0o644}, {SecretFile, []byte(res.Secret + "\n"), 0o600},
		{LabelText, []byte(text), 0o600}, {LabelPNG, label, 0o600}} {
		if err := fsutil.CreateExclusive(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// labelPNG draws the QR code with the station, centre and secret written under it.
func labelPNG(r *Result) ([]byte, error) {
	q, err := qrcode.New(r.URI, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	const size = 320
	qr := q.Image(size)
	lines := []string{"Captura station " + r.Station, "centre " + r.Centre, "secret " + r.Secret}
	img := image.NewRGBA(image.Rect(0, 0, size, size+len(lines)*16+8))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(0, 0, size, size), qr, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	for i, l := range lines {
		d.Dot = fixed.P(12, size+14+16*i)
		d.DrawString(l)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
