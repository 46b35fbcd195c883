################################################################################
#
# ringtap
#
################################################################################

# A commit of ringtap; `cargo xtask dist --pin` moves it (and the Yocto
# recipe's SRCREV) to another one.
RINGTAP_VERSION = 4be0394987dda06707dab7489895fcbe71635e4f
RINGTAP_SITE = $(call github,ringtap,ringtap,$(RINGTAP_VERSION))
RINGTAP_LICENSE = MIT or Apache-2.0
RINGTAP_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE
# The ringtap crate; Cargo.lock is the workspace's, at the top.
RINGTAP_SUBDIR = appliance

# The archive the download step makes holds this external tree itself, and
# the crates vendored by your Buildroot's cargo (its bytes change with the
# cargo version), so ringtap.hash cannot list it. With
# BR2_DOWNLOAD_FORCE_CHECK_HASHES, record the hash of the archive you
# checked in BR2_GLOBAL_PATCH_DIR/ringtap/ringtap.hash.
BR_NO_CHECK_HASH_FOR += $(RINGTAP_SOURCE)

# Developers build their own checkout with RINGTAP_OVERRIDE_SRCDIR in
# local.mk (see boards/packaging/README.md). Leave out build output and the
# checkout's .cargo/config.toml, which is for `cargo xtask`: cargo would add
# its linkers and rustflags to Buildroot's.
RINGTAP_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target --exclude /fuzz/target --exclude /.cargo

# AF_PACKET sockets, with their PACKET_MMAP rings.
define RINGTAP_LINUX_CONFIG_FIXUPS
	$(call KCONFIG_ENABLE_OPT,CONFIG_PACKET)
endef

RINGTAP_BOARD = $(call qstrip,$(BR2_PACKAGE_RINGTAP_BOARD))

# The board's profile: the ports to bridge and the ring sizes.
define RINGTAP_INSTALL_BOARD_PROFILE
	test -f $(@D)/boards/$(RINGTAP_BOARD)/board.toml || { \
		echo "ringtap: no board profile boards/$(RINGTAP_BOARD)/board.toml" \
			"(BR2_PACKAGE_RINGTAP_BOARD)"; exit 1; }
	$(INSTALL) -D -m 0644 $(@D)/boards/$(RINGTAP_BOARD)/board.toml \
		$(TARGET_DIR)/etc/ringtap/board.toml
endef
RINGTAP_POST_INSTALL_TARGET_HOOKS += RINGTAP_INSTALL_BOARD_PROFILE

define RINGTAP_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(RINGTAP_PKGDIR)/S50ringtap \
		$(TARGET_DIR)/etc/init.d/S50ringtap
endef

define RINGTAP_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(RINGTAP_PKGDIR)/ringtap.service \
		$(TARGET_DIR)/usr/lib/systemd/system/ringtap.service
endef

$(eval $(cargo-package))
