package bundle

import "testing"

func TestVersionCompare(t *testing.T) {
	// Ascending precedence, from semver.org §11.
	order := []string{"0.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0"}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := MustVersion(a).Compare(MustVersion(b)); got != want {
				t.Errorf("%s vs %s: %d, want %d", a, b, got, want)
			}
		}
	}
	if MustVersion("1.0.0+build.5").Compare(MustVersion("1.0.0+other")) != 0 {
		t.Error("build metadata counted")
	}
	if MustVersion("v1.2.3").String() != "1.2.3" {
		t.Error("leading v")
	}
	if CompareStrings("dev-0123456789ab", "0.0.1") != -1 || CompareStrings("dev", "dev-x") != 0 {
		t.Error("non-semver versions must rank lowest")
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "a.b.c",
		"1.2.3-ä", "-1.2.3", "1.2.3 ", "99999999999999999999.0.0"} {
		if v, err := ParseVersion(s); err == nil {
			t.Errorf("%q parsed as %v", s, v)
		}
	}
	for _, s := range []string{"0.0.0", "1.2.3-rc.1+git.abc", "1.2.3-0a", "1.2.3-x-y"} {
		v, err := ParseVersion(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
		} else if v.String() != s {
			t.Errorf("%q round trips as %q", s, v)
		}
	}
}
