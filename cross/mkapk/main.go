// Command mkapk builds the tinyipsec package for OpenWrt 25.x, which
// installs packages with apk-tools 3, without the OpenWrt SDK or apk
// itself:
//
//	go run ./cross/mkapk -a PKGARCH -v VERSION -b BINARY -o OUT.apk
//
// It ships the files of the .ipk (cross/ipkg-build.sh) with the same modes,
// the same maintainer scripts (cross/pkgscripts: postinst becomes
// post-install and, with PKG_UPGRADE=1, post-upgrade; prerm becomes
// pre-deinstall) and the same dependencies and metadata. Conffiles are
// declared the way OpenWrt's own apk packages declare them, inside the
// package: /lib/apk/packages/tinyipsec.conffiles (one path a line),
// .conffiles_static (path and SHA-256, which sysupgrade reads to keep
// edited files) and .list (every file the package installs).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"tinyipsec/internal/apkv3"
)

// Description is the .ipk's, joined into one paragraph.
const description = "IPsec VPN for small routers: IKEv1 (main, aggressive and quick " +
	"mode, initiator and responder) with ESP/AH done in userspace over a TUN " +
	"device, configured with Cisco-style crypto maps in UCI or TOML. " +
	"One static binary; needs no kernel XFRM support."

// conffiles are kept by apk when edited, and carried over by sysupgrade.
var conffiles = []string{"/etc/config/tinyipsec", "/etc/tinyipsec/tinyipsec.toml"}

func main() {
	arch := flag.String("a", "", "OpenWrt package architecture (e.g. mipsel_24kc)")
	version := flag.String("v", "", "package version in apk syntax (e.g. 0.1.0-r1)")
	binary := flag.String("b", "", "the tinyipsec binary for that architecture")
	out := flag.String("o", "", "output .apk")
	top := flag.String("C", ".", "repository root (init/ and cross/pkgscripts/)")
	flag.Parse()
	if *arch == "" || *version == "" || *binary == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkapk -a PKGARCH -v VERSION -b BINARY -o OUT.apk [-C REPO]")
		os.Exit(2)
	}
	epoch := int64(1735689600)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail(fmt.Errorf("SOURCE_DATE_EPOCH: %v", err))
		}
		epoch = n
	}
	p, err := build(*top, *arch, *version, *binary, epoch)
	if err != nil {
		fail(err)
	}
	var buf bytes.Buffer
	if err := p.WriteWith(&buf, deflater()); err != nil {
		fail(err)
	}
	// Read back with the format's rules before the file exists.
	if _, err := apkv3.Parse(buf.Bytes()); err != nil {
		fail(fmt.Errorf("written package does not parse: %v", err))
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out+".tmp", buf.Bytes(), 0o644); err != nil {
		fail(err)
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		fail(err)
	}
	fmt.Println(*out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkapk:", err)
	os.Exit(1)
}

func build(top, arch, version, binary string, epoch int64) (*apkv3.Package, error) {
	read := func(p string) ([]byte, error) { return os.ReadFile(p) }
	// source -> path on the router, mode: the table of cross/ipkg-build.sh.
	ship := []struct {
		src, dst string
		mode     uint32
	}{
		{binary, "/usr/sbin/tinyipsec", 0o755},
		{filepath.Join(top, "init/tinyipsec.init"), "/etc/init.d/tinyipsec", 0o755},
		{filepath.Join(top, "init/tinyipsec.config"), "/etc/config/tinyipsec", 0o600},
		{filepath.Join(top, "init/tinyipsec.toml"), "/etc/tinyipsec/tinyipsec.toml", 0o600},
		{filepath.Join(top, "init/rpcd/tinyipsec"), "/usr/libexec/rpcd/tinyipsec", 0o755},
		{filepath.Join(top, "init/rpcd/tinyipsec.json"), "/usr/share/rpcd/acl.d/tinyipsec.json", 0o644},
	}
	p := &apkv3.Package{
		Name: "tinyipsec", Version: version, Arch: arch,
		Description: description, License: "MIT", Origin: "net/tinyipsec",
		Maintainer: "tinyipsec developers", BuildTime: epoch,
		Depends: []string{"libc", "kmod-tun"},
		// PSKs and manual keys: only root reads the directory.
		DirModes: map[string]uint32{"etc/tinyipsec": 0o700},
	}
	var list []string
	for _, s := range ship {
		b, err := read(s.src)
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files, apkv3.File{Path: s.dst, Mode: s.mode, Data: b})
		list = append(list, s.dst)
	}
	slices.Sort(list)
	var static strings.Builder
	for _, c := range conffiles {
		i := slices.IndexFunc(p.Files, func(f apkv3.File) bool { return f.Path == c })
		sum := sha256.Sum256(p.Files[i].Data)
		fmt.Fprintf(&static, "%s %s\n", c, hex.EncodeToString(sum[:]))
	}
	meta := "/lib/apk/packages/tinyipsec."
	p.Files = append(p.Files,
		apkv3.File{Path: meta + "list", Mode: 0o644, Data: []byte(strings.Join(list, "\n") + "\n")},
		apkv3.File{Path: meta + "conffiles", Mode: 0o644, Data: []byte(strings.Join(conffiles, "\n") + "\n")},
		apkv3.File{Path: meta + "conffiles_static", Mode: 0o644, Data: []byte(static.String())},
	)
	postinst, err := read(filepath.Join(top, "cross/pkgscripts/postinst"))
	if err != nil {
		return nil, err
	}
	prerm, err := read(filepath.Join(top, "cross/pkgscripts/prerm"))
	if err != nil {
		return nil, err
	}
	body, ok := strings.CutPrefix(string(postinst), "#!/bin/sh\n")
	if !ok {
		return nil, fmt.Errorf("cross/pkgscripts/postinst must start with #!/bin/sh")
	}
	p.Scripts = map[string]string{
		"post-install":  string(postinst),
		"post-upgrade":  "#!/bin/sh\nexport PKG_UPGRADE=1\n" + body,
		"pre-deinstall": string(prerm),
	}
	return p, nil
}

// deflater is zopfli when it is installed (Debian's zopfli package): its
// deflate stream is about 4% smaller than compress/flate's best, which is
// 0.1 MB of a package, and apk inflates any valid stream. Without it the
// package is written with compress/flate. ZOPFLI_ITERATIONS trades build
// time for size: 5 by default, about 10 s for a 6 MB binary and 8 KB
// less than one iteration (ARMv7: 2,156,442 -> 2,148,002 B); 15 gives only
// 0.3 KB more.
func deflater() apkv3.Deflater {
	zopfli, err := exec.LookPath("zopfli")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkapk: zopfli not installed; compressing with compress/flate (a larger package)")
		return nil
	}
	iterations := os.Getenv("ZOPFLI_ITERATIONS")
	if iterations == "" {
		iterations = "5"
	}
	return func(dst io.Writer, src []byte) error {
		tmp, err := os.CreateTemp("", "mkapk-*.adb")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.Write(src); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		cmd := exec.Command(zopfli, "--deflate", "--i"+iterations, "-c", tmp.Name())
		cmd.Stdout = dst
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("zopfli: %v", err)
		}
		return nil
	}
}
