################################################################################
#
# ringtap
#
################################################################################

RINGTAP_VERSION = 0.1.0
# This external tree lives in boards/packaging/buildroot of the ringtap
# source tree; the package builds that tree.
RINGTAP_SITE = $(realpath $(BR2_EXTERNAL_RINGTAP_PATH)/../../..)
RINGTAP_SITE_METHOD = local
RINGTAP_LICENSE = MIT or Apache-2.0
RINGTAP_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE
# Cargo.toml of the ringtap crate; Cargo.lock is the workspace's.
RINGTAP_SUBDIR = appliance
# Build output of the developer's own builds is not source.
RINGTAP_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude /target --exclude /fuzz/target

RINGTAP_BOARD = $(call qstrip,$(BR2_PACKAGE_RINGTAP_BOARD))

# A local site is copied, not downloaded, so the download step that
# vendors the crates does not run for it. Fetch them into Buildroot's
# cargo home before the (offline) build; this step needs the network.
define RINGTAP_FETCH_CRATES
	cd $(@D) && $(HOST_MAKE_ENV) $(PKG_CARGO_ENV) \
		cargo fetch --locked --manifest-path Cargo.toml
endef
RINGTAP_PRE_BUILD_HOOKS += RINGTAP_FETCH_CRATES

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
