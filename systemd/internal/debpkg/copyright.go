package debpkg

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"unicode"
)

// licenceFileRE matches the files that carry a licence or notice in a Go module.
var licenceFileRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying|copyright|notice|patents)([.-].*)?$`)

// Copyright builds /usr/share/doc/captura/copyright: the header (Captura's own terms),
// then the licence of every module statically linked into the binaries, found in the
// module cache, then the Go standard library's, then the licences of data embedded from
// the repository (LICENSE files outside testdata/ directories under root).
//
// It fails when a linked module has no licence file in the cache: a binary
// distribution must carry those notices.
func Copyright(header []byte, infos []*debug.BuildInfo, root, goroot, modcache string) ([]byte, error) {
	var b bytes.Buffer
	b.Write(bytes.TrimRight(header, "\n"))
	b.WriteString("\n")

	mods := map[string]*debug.Module{}
	goVersion := ""
	for _, bi := range infos {
		if goVersion == "" {
			goVersion = bi.GoVersion
		}
		for _, m := range bi.Deps {
			if m.Replace != nil {
				m = m.Replace
			}
			mods[m.Path+"@"+m.Version] = m
		}
	}
	keys := make([]string, 0, len(mods))
	for k := range mods {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	section := func(title, source string, texts [][2]string) {
		b.WriteString("\n" + strings.Repeat("=", 78) + "\n")
		b.WriteString(title + "\n")
		if source != "" {
			b.WriteString(source + "\n")
		}
		for _, t := range texts {
			b.WriteString("\n--- " + t[0] + "\n\n")
			b.WriteString(strings.TrimRight(t[1], "\n") + "\n")
		}
	}

	b.WriteString("\nThe programs in /usr/bin are statically linked Go binaries. They contain the\n" +
		"Go modules and the Go standard library listed below, each under its own licence.\n")
	for _, k := range keys {
		m := mods[k]
		if m.Version == "" {
			return nil, fmt.Errorf("debpkg: copyright: module %s has no version (a local replacement?)", m.Path)
		}
		dir := filepath.Join(modcache, escapeModPath(m.Path)+"@"+escapeModPath(m.Version))
		texts, err := licenceTexts(dir)
		if err != nil {
			return nil, fmt.Errorf("debpkg: copyright: module %s %s: %w", m.Path, m.Version, err)
		}
		section("Go module "+m.Path+" "+m.Version, "", texts)
	}
	texts, err := licenceTexts(goroot)
	if err != nil {
		return nil, fmt.Errorf("debpkg: copyright: Go standard library: %w", err)
	}
	section("Go standard library and runtime, "+goVersion, "", texts)

	data, err := embeddedDataLicences(root)
	if err != nil {
		return nil, err
	}
	for _, d := range data {
		section("Data embedded in the binaries from "+d[0], "", [][2]string{{filepath.Base(d[0]), d[1]}})
	}
	return b.Bytes(), nil
}

// licenceTexts returns the licence files directly in dir, by name.
func licenceTexts(dir string) ([][2]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, e := range entries {
		if e.IsDir() || !licenceFileRE.MatchString(e.Name()) {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{e.Name(), condenseApache(string(text))})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no licence file in %s", dir)
	}
	return out, nil
}

// condenseApache replaces the full text of the Apache License 2.0 with a reference to
// Debian's copy (/usr/share/common-licenses/Apache-2.0), as Debian asks, keeping what a
// file adds around it: copyright lines before the licence and after its terms.
func condenseApache(text string) string {
	const (
		title = "Apache License"
		terms = "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"
		end   = "END OF TERMS AND CONDITIONS"
	)
	i := strings.Index(text, title)
	e := strings.Index(text, end)
	if i < 0 || e < i || !strings.Contains(text, terms) || !apacheVersionRE.MatchString(text[i:]) {
		return text
	}
	var b strings.Builder
	if pre := strings.TrimSpace(text[:i]); pre != "" {
		b.WriteString(pre + "\n\n")
	}
	b.WriteString("Licensed under the Apache License, Version 2.0. On Debian systems its full text\n" +
		"is in /usr/share/common-licenses/Apache-2.0.\n")
	for _, line := range strings.Split(text[e+len(end):], "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToLower(l), "copyright") && !strings.Contains(l, "[yyyy]") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var apacheVersionRE = regexp.MustCompile(`^Apache License\s+Version 2\.0,`)

// embeddedDataLicences finds LICENSE files in the repository outside testdata/ (and
// outside systemd/, vendor trees and hidden directories): they belong to data that
// go:embed puts in the binaries, such as the NFIQ 2 model.
func embeddedDataLicences(root string) ([][2]string, error) {
	var out [][2]string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || name == "vendor" || name == "dist" || name == "bin" || strings.HasPrefix(name, ".") || rel == "systemd") {
				return filepath.SkipDir
			}
			return nil
		}
		if p == filepath.Join(root, d.Name()) {
			return nil // the project's own licence, if any, is the header's business
		}
		if !licenceFileRE.MatchString(d.Name()) {
			return nil
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, [2]string{filepath.ToSlash(rel), string(text)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("debpkg: copyright: %w", err)
	}
	return out, nil
}

// escapeModPath applies the module cache's case encoding: an upper-case letter
// becomes '!' and its lower-case form.
func escapeModPath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
