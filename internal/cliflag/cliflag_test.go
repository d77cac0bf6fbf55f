package cliflag

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// both parses args with package flag and with Set, the flags defined the
// way the commands define them, and fails on any difference: the error
// text, each flag's value, the arguments left.
func both(t *testing.T, args []string) {
	t.Helper()
	ref := flag.NewFlagSet("status", flag.ContinueOnError)
	ref.SetOutput(io.Discard)
	rc := ref.String("c", "/etc/tinyipsec.toml", "")
	ref.StringVar(rc, "config", "/etc/tinyipsec.toml", "")
	rj := ref.Bool("json", false, "")
	rsum := ref.Bool("summary", true, "")
	rs := ref.String("s", "", "")
	rerr := ref.Parse(args)

	s := New("status")
	c := s.String("c", "/etc/tinyipsec.toml", "")
	s.StringVar(c, "config", "/etc/tinyipsec.toml", "")
	j := s.Bool("json", false, "")
	sum := s.Bool("summary", true, "")
	so := s.String("s", "", "")
	err := s.Parse(args)

	if (rerr == nil) != (err == nil) || (err != nil && err.Error() != rerr.Error()) {
		t.Fatalf("%q: error %v, flag says %v", args, err, rerr)
	}
	if errors.Is(rerr, flag.ErrHelp) != errors.Is(err, ErrHelp) || ErrHelp.Error() != flag.ErrHelp.Error() {
		t.Fatalf("%q: help %v, flag says %v", args, err, rerr)
	}
	if err != nil {
		return // flag leaves the values of a failed parse half set; the commands exit
	}
	if *c != *rc || *j != *rj || *sum != *rsum || *so != *rs {
		t.Fatalf("%q: c=%q json=%v summary=%v s=%q, flag says c=%q json=%v summary=%v s=%q",
			args, *c, *j, *sum, *so, *rc, *rj, *rsum, *rs)
	}
	if s.NArg() != ref.NArg() || strings.Join(s.args, "\x00") != strings.Join(ref.Args(), "\x00") || s.Arg(0) != ref.Arg(0) || s.Arg(5) != ref.Arg(5) {
		t.Fatalf("%q: args %q, flag says %q", args, s.args, ref.Args())
	}
}

func TestLikeFlag(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-c", "x.toml"},
		{"--c", "x.toml"},
		{"-c=x.toml"},
		{"--config=a=b"},
		{"-config", "-json"},
		{"-c"},
		{"-json"},
		{"-json=false", "-summary=0"},
		{"-json=maybe"},
		{"-json", "false"},
		{"-summary=F", "rest", "-json"},
		{"-s", "/run/t.sock", "extra"},
		{"--", "-json"},
		{"-", "-json"},
		{"---json"},
		{"-=x"},
		{"--=x"},
		{"-x"},
		{"-x=1"},
		{"-h"},
		{"--help"},
		{"-help=1"},
		{"-json", "-json=t", "-c", "a", "-c", "b"},
		{""},
		{"-c", ""},
		{"-s="},
	} {
		both(t, args)
	}
}

func TestVisitAllInOrder(t *testing.T) {
	s := New("keys")
	s.String("wireshark", "", "")
	s.String("c", "", "")
	s.String("s", "", "")
	s.Bool("json", false, "")
	var names []string
	s.VisitAll(func(n string) { names = append(names, n) })
	if strings.Join(names, " ") != "c json s wireshark" {
		t.Fatalf("visited %q", names)
	}
	if s.Name() != "keys" {
		t.Fatal(s.Name())
	}
}

// FuzzParse: for any arguments (split at NUL), Set parses exactly as
// package flag does.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"-c\x00x", "-json=1\x00--\x00a", "--s=\x00-h", "-=", "-summary\x00-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		both(t, strings.Split(s, "\x00"))
	})
}
