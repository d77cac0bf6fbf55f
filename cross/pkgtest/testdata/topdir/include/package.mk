# Test stand-in for OpenWrt's package.mk. BuildPackage makes targets that
# run the package's recipes against directories the test chooses:
#   fake-prepare  Build/Prepare into PKG_BUILD_DIR
#   fake-install  Package/NAME/install into DEST (binary from GO_BIN)
#   fake-compile  Build/Compile (the stand-in go build prints its arguments)
#   fake-info     prints the metadata the test checks
PKG_INSTALL_DIR ?= $(PKG_BUILD_DIR)/ipkg-install

define BuildPackage
$(eval $(Package/$(1)))
fake-prepare:
	$$(Build/Prepare)

fake-install:
	$$(call Package/$(1)/install,$$(DEST))

fake-compile:
	$$(Build/Compile)

fake-info:
	@echo 'DEPENDS=$$(DEPENDS)'
	@echo 'PKG_NAME=$$(PKG_NAME)'
	@echo 'PKG_VERSION=$$(PKG_VERSION)'
	@echo 'PKG_RELEASE=$$(PKG_RELEASE)'
	@echo 'GO_PKG=$$(GO_PKG)'
	@echo 'GO_PKG_BUILD_PKG=$$(GO_PKG_BUILD_PKG)'
	@echo 'GO_PKG_LDFLAGS_X=$$(GO_PKG_LDFLAGS_X)'
	@echo 'PKG_BUILD_DEPENDS=$$(PKG_BUILD_DEPENDS)'
	@echo 'PKG_LICENSE=$$(PKG_LICENSE)'
	@echo 'PKG_LICENSE_FILES=$$(PKG_LICENSE_FILES)'
	@echo 'CONFFILES=$$(strip $$(Package/$(1)/conffiles))'
	@echo 'GO_PKG_TARGET_VARS=$$(strip $$(GO_PKG_TARGET_VARS))'
endef
