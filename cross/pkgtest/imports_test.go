package pkgtest

import (
	"os/exec"
	"strings"
	"testing"
)

// The router binary stays off the standard packages that were replaced
// for flash size (see README, Footprint): os/exec (internal/spawn runs
// nft), log/slog (internal/logx), and net's dialer and resolver are
// reached only through net.Dial/net.Listen/net.Resolve* and Lookup*,
// which the daemon does not call (internal/unixsock serves the control
// socket). regexp (its compiler and the Unicode tables it pulls in)
// costs 0.33 MB on MIPS for a pattern or two that a few lines of string
// code match as well. A new import of one of them costs 0.1-0.3 MB.
func TestRouterBinaryImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", repoRoot(t)).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	for _, p := range []string{"os/exec", "log/slog", "regexp"} {
		if deps[p] {
			t.Errorf("the daemon links %s again", p)
		}
	}
	// encoding/json comes in as a package through BurntSushi/toml but is
	// not linked; the module's own packages must not import it.
	out, err = exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", repoRoot(t)).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		if pkg != "tinyipsec" && !strings.HasPrefix(pkg, "tinyipsec/") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			if imp == "log/slog" || imp == "os/exec" || imp == "encoding/json" {
				t.Errorf("%s imports %s (use internal/logx, internal/spawn, internal/jsonenc)", pkg, imp)
			}
		}
	}
}

// TestRouterBinaryLinksNoResolver: net is imported anyway, so only the
// linked symbols show whether a call such as ListenConfig.ListenPacket,
// net.Dial or net.ResolveUDPAddr (all of which take addresses as strings)
// brought net's DNS resolver back in; it costs 0.25 MB on MIPS.
func TestRouterBinaryLinksNoResolver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	bin := t.TempDir() + "/tinyipsec"
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for _, sym := range []string{"net.(*Resolver).lookupIPAddr", "dnsmessage.(*Parser).Start", "encoding/json.Marshal", "regexp.Compile"} {
		if strings.Contains(string(out), " "+sym) || strings.Contains(string(out), "/"+sym) {
			t.Errorf("the daemon links %s again", sym)
		}
	}
}
