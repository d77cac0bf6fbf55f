# tinyipsec build, test and packaging.
#
#   make            native static binary ./tinyipsec
#   make test       gofmt, vet, cross builds + .ipk, go test ./..., qemu unit tests
#   make cross      static binaries for the OpenWrt targets in build/<pkgarch>/
#   make ipk        installable .ipk packages in build/ipk/ (no OpenWrt SDK needed)
#   make apk        installable apk v3 packages (OpenWrt 25.x) in build/apk/
#   make sizes      stripped binary and .ipk sizes; fails over the flash budget
#   make demo       cross/demo.sh when present
#   make fmt-check  gofmt -l must be empty
#   make vet        go vet ./...
#   make bench      tunnel throughput vs wireguard-go and strongSwan (root; minutes)
#   make bench-hub  hub handshakes/s, CPU and memory for 200 spokes vs strongSwan (root)
#   make test-hub   the hub tests with 100 tinyipsec spokes in one burst (root; minutes)
#   make fuzz       every fuzz target for FUZZTIME (default 10m); new corpus into testdata/fuzz
#   make flood      the forged-first-message flood test for 60 s (make test: 12 s)
#   make soak       100 phase 2 and 10 phase 1 rekeys under traffic (root; ~10 min)

GO      ?= go
SHELL   := /bin/bash
# Version as the binary reports it; a source tarball without .git gets 0.1.0.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
PKG_RELEASE ?= 1
# Reproducible archives: the last commit's time, or a fixed date without git.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 1735689600)
export SOURCE_DATE_EPOCH

BUILD   := build
LDFLAGS := -s -w -X main.version=$(VERSION)
# The packages built with inlining off, and why, and the other compiler
# switches they get: one list, which the OpenWrt feed Makefile reads too.
include cross/openwrt/noinline.mk
NOINLINE_PKGS := $(TINYIPSEC_NOINLINE)
# The garbage collector choice (noinline.mk says why), for every go command
# this Makefile runs: builds, tests and the binaries tests start.
export GOEXPERIMENT := $(TINYIPSEC_GOEXPERIMENT)
CONTROL_GCFLAGS := $(TINYIPSEC_CONTROL_GCFLAGS)
GCFLAGS := $(foreach p,$(NOINLINE_PKGS),'-gcflags=$(p)=$(CONTROL_GCFLAGS)')
GOFLAGS_STATIC := -trimpath -ldflags '$(LDFLAGS)' $(GCFLAGS)
# Every non-test Go file is a prerequisite: binaries rebuild when one changes.
GO_SOURCES := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './build/*' 2>/dev/null) go.mod go.sum

# OpenWrt package architecture -> Go target. The package arch names are what
# opkg compares with /etc/opkg/arch.conf on the router, so they must match the
# target's PKGARCH exactly (ath79/ramips: mips(el)_24kc; ipq40xx/bcm2709-class
# ARMv7: arm_cortex-a7_neon-vfpv4; mt7622/filogic and most ARMv8: aarch64_cortex-a53).
ARCHES := mips_24kc mipsel_24kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53 x86_64
GOENV_mips_24kc                := GOARCH=mips GOMIPS=softfloat
GOENV_mipsel_24kc              := GOARCH=mipsle GOMIPS=softfloat
# Go aligns each ELF segment of a MIPS binary to 64 KiB in the file, for
# kernels with 64 KiB pages; the 24Kc targets' OpenWrt kernels use 4 KiB
# pages, so 4 KiB alignment suffices there and drops up to 3 x 60 KiB of
# zero padding from the file (nothing from the compressed sizes, where
# zeros cost nothing; it counts where the file is stored uncompressed).
LDFLAGS_mips_24kc              := -R 0x1000
LDFLAGS_mipsel_24kc            := -R 0x1000
GOENV_arm_cortex-a7_neon-vfpv4 := GOARCH=arm GOARM=7
GOENV_aarch64_cortex-a53       := GOARCH=arm64
GOENV_x86_64                   := GOARCH=amd64

BINARIES := $(foreach a,$(ARCHES),$(BUILD)/$(a)/tinyipsec)

# Package version for opkg: drop a leading "v"; a bare commit hash (no tag
# yet) becomes 0.1.0+g<hash> so versions still start with a digit; the
# "-N-gHASH" of git describe becomes "+N+gHASH" because "-" separates the
# package release in opkg versions.
IPK_VERSION := $(shell echo '$(VERSION)' | sed -e 's/^v//' -e '/^[0-9][0-9]*\.[0-9]/!s/^/0.1.0+g/' -e 's/-/+/g')
IPKS := $(foreach a,$(ARCHES),$(BUILD)/ipk/tinyipsec_$(IPK_VERSION)-$(PKG_RELEASE)_$(a).ipk)
# Package version for apk (OpenWrt 25.x), whose syntax has no "+": a tag
# v1.2.3 gives 1.2.3, N commits after it 1.2.3_pN~HASH, an untagged commit
# 0.1.0~HASH; the package release becomes -rN. apk has no way to mark a
# dirty tree, so -dirty is dropped.
APK_VERSION := $(shell echo '$(VERSION)' | sed -E -e 's/-dirty$$//' -e 's/^v//' \
	-e 's/^([0-9][0-9.]*)-([0-9]+)-g([0-9a-f]+)$$/\1_p\2~\3/' \
	-e '/^[0-9]+\.[0-9]/!s/^([0-9a-f]+)$$/0.1.0~\1/')-r$(PKG_RELEASE)
APKS := $(foreach a,$(ARCHES),$(BUILD)/apk/tinyipsec-$(APK_VERSION)_$(a).apk)
MKAPK := $(BUILD)/mkapk
PKG_FILES := init/tinyipsec.init init/rpcd/tinyipsec init/rpcd/tinyipsec.json cross/pkgscripts/postinst cross/pkgscripts/prerm \
	$(wildcard init/tinyipsec.config init/tinyipsec.toml) cross/ipkg-build.sh

# Unit tests run under qemu-user on big-endian MIPS and 32-bit ARM: only the
# packages that exist, and -short so namespace/daemon tests skip.
QEMU_PKGS := $(foreach p,conf acl esp ike tun internal/vnet internal/jsonenc internal/logx internal/unixsock internal/spawn,$(if $(wildcard $(p)/*.go),./$(p)))

# Tells cross/pkgtest where the artifacts are, so it does not build again.
TEST_ENV := TINYIPSEC_BUILD_DIR=$(CURDIR)/$(BUILD) TINYIPSEC_VERSION=$(VERSION) \
	TINYIPSEC_IPK_VERSION=$(IPK_VERSION)-$(PKG_RELEASE) TINYIPSEC_APK_VERSION=$(APK_VERSION)

# The reference implementation the tunnel benchmark compares against, at a
# pinned version of its Go module; its configuration tool is Debian's
# wireguard-tools.
WIREGUARD_GO := golang.zx2c4.com/wireguard@v0.0.0-20260522210424-ecfc5a8d5446

# A hub under a burst of 200 spokes, tinyipsec beside strongSwan in the
# same run (root; a few minutes). make test runs a 20-spoke version.
.PHONY: bench-hub
bench-hub:
	TINYIPSEC_BENCH_HUB=$${SPOKES:-200} $(GO) test -count=1 -timeout 30m -run 'TestBenchHub$$' -v ./ike

# The README's cost tables, from benchmarks: each ESP/AH transform beside
# its raw primitive (40 interleaved rounds), and for each DH group the IKE
# handshake CPU cost and the memory per SA with 1000 SAs on a hub.
.PHONY: bench-tables
bench-tables:
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench '^BenchmarkRatio$$' -benchtime 40x ./esp | \
		/usr/bin/python3 internal/bench/benchtable.py suite size op -- raw-ns/op ns/op ratio esp-allocs/op
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench '^Benchmark(Handshake|SAMemory)$$' -benchtime 1s -timeout 30m ./ike | \
		/usr/bin/python3 internal/bench/benchtable.py "DH group" PFS -- init-ms/op resp-ms/op cpu-ms/op B/ikesa B/ipsecpair

.PHONY: bench
bench: tinyipsec $(BUILD)/bench/wireguard
	TINYIPSEC=$(CURDIR)/tinyipsec WIREGUARD=$(CURDIR)/$(BUILD)/bench/wireguard /usr/bin/python3 internal/bench/tunnel_bench.py

# `make test` runs the hub tests with 100 strongSwan spokes but only 10
# tinyipsec ones (a namespace and a daemon each); this runs 100.
.PHONY: test-hub
test-hub:
	TINYIPSEC_HUB_SPOKES=100 $(GO) test -count=1 -timeout 20m -v -run '^TestHub' ./ike/

# Every fuzz target in turn for FUZZTIME (10 minutes each by default:
# about 3 hours). What the fuzzer found interesting is copied into the
# package's testdata/fuzz/<target>, where `go test` runs it as seed
# corpus from then on: commit it.
FUZZTIME ?= 10m
.PHONY: fuzz
fuzz:
	@set -e; cache=$$($(GO) env GOCACHE)/fuzz; \
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); pkg=$$($(GO) list ./$$dir); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$dir; \
			if [ -d "$$cache/$$pkg/$$name" ]; then \
				mkdir -p $$dir/testdata/fuzz/$$name; \
				cp -n $$cache/$$pkg/$$name/* $$dir/testdata/fuzz/$$name/ 2>/dev/null || true; \
			fi; \
		done; \
	done

# The flood test for a minute (root); make test floods for 12 s.
FLOOD_SECONDS ?= 60
.PHONY: flood
flood:
	TINYIPSEC_FLOOD_SECONDS=$(FLOOD_SECONDS) $(GO) test -count=1 -timeout 10m -v -run '^TestFloodOfForgedFirstMessages$$' ./e2e/

# The rekey soak at full length (root; about ten minutes): SOAK_P2 phase 2
# and SOAK_P1 phase 1 rekeys under a ping and a TCP stream, against
# strongSwan and against a second tinyipsec. make test runs 3 and 1.
SOAK_P2 ?= 100
SOAK_P1 ?= 10
.PHONY: soak
soak:
	TINYIPSEC_SOAK_P2=$(SOAK_P2) TINYIPSEC_SOAK_P1=$(SOAK_P1) $(GO) test -count=1 -timeout 40m -v -run '^TestSoakRekey$$' ./ike/

$(BUILD)/bench/wireguard:
	@mkdir -p $(@D)
	GOBIN=$(CURDIR)/$(@D) CGO_ENABLED=0 $(GO) install $(WIREGUARD_GO)

.PHONY: all build test size-report cross ipk apk sizes noinline control-gcflags goexperiment demo fmt-check vet go-test test-qemu test-init test-pkg clean version
.DELETE_ON_ERROR:

all: build

build: tinyipsec

tinyipsec: $(GO_SOURCES) $(BUILD)/.version $(BUILD)/.flags
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o $@ .

noinline:
	@echo $(NOINLINE_PKGS)

control-gcflags:
	@echo $(CONTROL_GCFLAGS)

goexperiment:
	@echo $(GOEXPERIMENT)

version:
	@echo $(VERSION) $(IPK_VERSION)-$(PKG_RELEASE) $(APK_VERSION)

cross: $(BINARIES)

# Rewritten only when VERSION changes, so a new commit relinks the
# binaries (the version is stamped into them) without rebuilding for
# nothing otherwise.
$(BUILD)/.version: FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@

# Rewritten only when the compiler or per-arch linker flags change, so a
# change of flags rebuilds the binaries (sizes are measured on them).
BUILD_FLAGS := $(subst ',,$(GCFLAGS)) $(foreach a,$(ARCHES),$(a):$(LDFLAGS_$(a)))
$(BUILD)/.flags: FORCE
	@mkdir -p $(@D)
	@echo "$(BUILD_FLAGS)" | cmp -s - $@ || echo "$(BUILD_FLAGS)" >$@

FORCE:

# One rule per arch; CGO_ENABLED=0 gives a static binary with no libc
# dependency, so one build serves musl images of any OpenWrt release.
define CROSS_RULE
$(BUILD)/$(1)/tinyipsec: $(GO_SOURCES) $(BUILD)/.version $(BUILD)/.flags
	@mkdir -p $$(@D)
	CGO_ENABLED=0 GOOS=linux $(GOENV_$(1)) $(GO) build -trimpath -ldflags '$(LDFLAGS) $(LDFLAGS_$(1))' $(GCFLAGS) -o $$@ .

$(BUILD)/ipk/tinyipsec_$(IPK_VERSION)-$(PKG_RELEASE)_$(1).ipk: $(BUILD)/$(1)/tinyipsec $(PKG_FILES)
	@mkdir -p $$(@D)
	rm -f $(BUILD)/ipk/tinyipsec_*_$(1).ipk
	cross/ipkg-build.sh -a $(1) -v $(IPK_VERSION)-$(PKG_RELEASE) -b $$< -o $$@

$(BUILD)/apk/tinyipsec-$(APK_VERSION)_$(1).apk: $(BUILD)/$(1)/tinyipsec $(PKG_FILES) $(MKAPK)
	@mkdir -p $$(@D)
	rm -f $(BUILD)/apk/tinyipsec-*_$(1).apk
	$(MKAPK) -a $(1) -v $(APK_VERSION) -b $$< -o $$@
endef
$(foreach a,$(ARCHES),$(eval $(call CROSS_RULE,$(a))))

ipk: $(IPKS)

# apk v3 packages for OpenWrt 25.x, written by cross/mkapk (a host tool).
apk: $(APKS)

$(MKAPK): $(wildcard cross/mkapk/*.go internal/apkv3/*.go) go.mod
	@mkdir -p $(@D)
	$(GO) build -o $@ ./cross/mkapk

sizes: cross ipk apk
	cross/sizes.sh $(BUILD)

demo:
	@if [ -x cross/demo.sh ] || [ -f cross/demo.sh ]; then bash cross/demo.sh; \
	else echo "cross/demo.sh is not written yet"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# go test ./... also runs cross/pkgtest (the .ipk structure and the
# cross-built binaries under qemu-user), which reads the artifacts built
# above through TINYIPSEC_BUILD_DIR, so each arch is compiled once.
go-test: cross ipk apk
	$(TEST_ENV) \
		$(GO) test -count=1 -timeout 15m ./...

test-qemu:
	@command -v qemu-mips-static >/dev/null && command -v qemu-arm-static >/dev/null || \
		{ echo "qemu-user-static is required (apt-get install qemu-user-static)"; exit 1; }
	GOARCH=mips GOMIPS=softfloat $(GO) test -count=1 -short -exec qemu-mips-static $(QEMU_PKGS)
	GOARCH=arm GOARM=7 $(GO) test -count=1 -short -exec qemu-arm-static $(QEMU_PKGS)

# The busybox tests of the init script and rpcd plugin alone.
test-init:
	$(GO) test -count=1 ./init/test/

# The package structure and qemu runs of the cross-built binaries alone.
test-pkg: cross ipk apk
	$(TEST_ENV) \
		$(GO) test -count=1 ./cross/pkgtest/

# The size table opens the test run; over budget it warns here and fails
# only in `make sizes`, so a release decision is not hidden inside a test
# run, and the run closes with the test runner's own summary.
test: fmt-check vet size-report go-test test-qemu

size-report: cross ipk apk
	@SIZES_WARN_ONLY=1 SIZES_QUICK=1 cross/sizes.sh $(BUILD)

clean:
	rm -rf $(BUILD) tinyipsec

# The dependency floor of the flash budget: cross/sizefloor (the
# dependencies used as the daemon uses them, none of its own code) built
# for linux/mipsle with the release flags, beside the daemon.
.PHONY: size-floor
size-floor: $(BUILD)/mipsel_24kc/tinyipsec
	mkdir -p $(BUILD)/floor
	CGO_ENABLED=0 $(GOENV_mipsel_24kc) GOOS=linux $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS_mipsel_24kc)' \
		$(foreach p,$(filter-out tinyipsec%,$(NOINLINE_PKGS)),'-gcflags=$(p)=$(CONTROL_GCFLAGS)') -o $(BUILD)/floor/sizefloor ./cross/sizefloor
	@for f in $(BUILD)/floor/sizefloor $(BUILD)/mipsel_24kc/tinyipsec; do \
		printf '%-32s %9d B  xz %8d B\n' $$f $$(wc -c <$$f) $$(xz -9e -c $$f | wc -c); done
