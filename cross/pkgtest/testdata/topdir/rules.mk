# Test stand-in for an OpenWrt buildroot's rules.mk: only the install
# commands (same modes as OpenWrt's) and the include directory.
INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
