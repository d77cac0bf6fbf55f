# Included by the OpenWrt feed Makefile beside it and by the repository's
# Makefile, so that the SDK and the standalone builds compile the same
# packages with the same switches (and so have the same size).
#
# Inlining is switched off in the packages that run per handshake, per
# reload or per command, never per packet: the product's control plane
# (conf, ike, the root package and internal/dataplane that wire them, the
# status report and its JSON, logging, nft spawning, the control socket,
# the Cisco importer) and the standard library's certificate, text, time,
# file and reflection code. That saves about 0.5 MB on linux/mipsle. The
# packet path (esp, tun, acl matchers, internal/vnet and header, runtime,
# sync, syscall, x/sys/unix, internal/poll, net/netip, encoding/binary,
# the symmetric ciphers and hashes, the MODP/ECDH arithmetic) keeps the
# compiler's inlining: without it ESP is three times slower. Of the
# elliptic-curve code, only the field arithmetic (nistec/fiat: 3-5 times
# slower without inlining) and the modular arithmetic of RSA and ECDSA
# (bigmod: 15-30 times) keep it; the point arithmetic above them (nistec)
# and FIPS ECDH's wrapper run once per handshake, cost the same time
# without it and 36 KB more with it (README, Footprint). -l in a
# package also stops its functions being inlined into others, so a
# package joins this list only when a build with it leaves every
# function of esp, tun's readers and writers, internal/vnet and the
# ciphers the same size (README, Footprint). A std-vendored package is
# named with its vendor/ prefix: the pattern vendor/... matches none.
TINYIPSEC_NOINLINE := tinyipsec tinyipsec/conf/... tinyipsec/ike/... tinyipsec/internal/ciscoimport \
	tinyipsec/internal/dataplane tinyipsec/internal/status tinyipsec/internal/jsonenc \
	tinyipsec/internal/logx tinyipsec/internal/spawn tinyipsec/internal/unixsock \
	tinyipsec/internal/wireshark tinyipsec/internal/memory tinyipsec/internal/cliflag \
	crypto/x509/... encoding/asn1 encoding/pem crypto/ecdsa crypto/rsa crypto/ed25519 crypto/dsa \
	crypto/internal/fips140/rsa crypto/internal/fips140/ecdsa crypto/ecdh crypto/elliptic \
	golang.org/x/crypto/cryptobyte/... vendor/golang.org/x/crypto/cryptobyte/... net net/url fmt internal/fmtsort flag log/... \
	reflect strconv internal/strconv math/big path/... internal/filepathlite time os os/signal \
	io io/fs bufio context strings sort unicode/... encoding/hex encoding/base64 hash/... unique \
	internal/godebug internal/bisect internal/reflectlite internal/runtime/cgroup math/rand/v2 \
	encoding/json crypto/sha3 crypto/internal/fips140/sha3 crypto/internal/fips140/ed25519 \
	crypto/internal/fips140/edwards25519 crypto/internal/fips140/check \
	crypto/internal/fips140/nistec crypto/internal/fips140/ecdh \
	golang.org/x/crypto/bcrypt github.com/BurntSushi/... github.com/mdlayher/...

# In the same packages, three more compiler switches that trade speed or
# debugging checks the control plane does not need for code size:
# variablemakethreshold=0 gives make([]T, n) of a variable n a heap
# allocation only, instead of a test and a 32-byte stack buffer beside it
# at every call site (Go 1.25+); noopendefer runs defers through the
# runtime's defer records instead of copying each deferred call to every
# return; rangefunccheck=0 leaves out the state checks the compiler adds
# to every range-over-function loop to catch an iterator that calls
# yield after the loop ended. Only the standard library has such loops
# in the daemon (x509's policy check, reflect's Comparable), its
# iterators are well-behaved and tested upstream, and the checks cost
# about 1.7 KB. None changes a function of the packet path, which is in none
# of these packages (README, Footprint).
TINYIPSEC_CONTROL_GCFLAGS := -l -d=variablemakethreshold=0,noopendefer,rangefunccheck=0

# The garbage collector Go used before 1.26 instead of 1.26's default,
# "Green Tea": 25-29 KB less code in every binary (linux/mipsle
# 6,082,753 -> 6,058,177 B; each package about 10-13 KB less). Green Tea
# pays off with many cores and large heaps (its gains are in marking
# speed across CPUs); a router has 1-4 cores and a heap of a few MiB, and
# the packet path allocates nothing. Go 1.26 documents this switch as the
# opt-out and plans to remove it in Go 1.27; a toolchain without it
# refuses the setting, so the build then fails loudly instead of silently
# growing. The repository's Makefile exports it to every go command it
# runs, so tests run the collector that ships.
TINYIPSEC_GOEXPERIMENT := nogreenteagc
