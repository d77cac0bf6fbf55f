# Test stand-in for lang/golang's golang-package.mk: the binary comes
# ready-built (GO_BIN) instead of from a Go toolchain in the buildroot.
GO_ARCH_DEPENDS:=@(aarch64||arm||i386||i686||mips||mipsel||x86_64)

define GoPackage/Package/Install/Bin
	install -d -m0755 $(1)/usr/bin
	install -m0755 $(GO_BIN) $(1)/usr/bin/tinyipsec
endef

GO_PKG_DEFAULT_GCFLAGS:=

# The environment of go build; a package Makefile may append to it.
GO_PKG_TARGET_VARS= \
	GOOS="linux" \
	CGO_ENABLED=1

# $(1) additional arguments for go build, printed one per line.
define GoPackage/Build/Compile
	@printf '%s\n' $(1)
endef

GoBinPackage=
