SUMMARY = "Fixed-memory PACKET_MMAP bridge, capture and replay appliance"
DESCRIPTION = "ringtap moves Ethernet frames between network interfaces \
through the kernel's PACKET_MMAP rings (AF_PACKET, TPACKET_V2/V3) with a \
fixed amount of memory. The package runs it as an inline bridge between the \
ports of /etc/ringtap/board.toml."
HOMEPAGE = "https://github.com/ringtap/ringtap"
SECTION = "net"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=0df37f927e37f73f383ce36f2c87e4d6 \
                    file://LICENSE-APACHE;md5=1836efb2eb779966696f473ee8540542"

# Built from the source tree around this layer (see conf/layer.conf);
# externalsrc keeps the crate:// entries of ringtap-crates.inc, which the
# cargo class fetches and vendors for the offline build.
inherit externalsrc
EXTERNALSRC = "${RINGTAP_SRC_DIR}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

inherit cargo cargo-update-recipe-crates systemd update-rc.d

# `bitbake -c update_crates ringtap` or `cargo xtask dist --update-crates`
# rewrites it from Cargo.lock.
require ${BPN}-crates.inc

# The ringtap crate; its workspace (and Cargo.lock) is the source tree.
CARGO_SRC_DIR = "appliance"

# The folder of boards/ whose board.toml becomes /etc/ringtap/board.toml.
RINGTAP_BOARD ?= "rpi4"

SYSTEMD_SERVICE:${PN} = "ringtap.service"
INITSCRIPT_NAME = "ringtap"
INITSCRIPT_PARAMS = "defaults 50"

do_install:append() {
    install -d ${D}${sysconfdir}/ringtap
    install -m 0644 ${S}/boards/${RINGTAP_BOARD}/board.toml ${D}${sysconfdir}/ringtap/board.toml
    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${S}/boards/packaging/buildroot/package/ringtap/ringtap.service ${D}${systemd_system_unitdir}/
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${S}/boards/packaging/buildroot/package/ringtap/S50ringtap ${D}${sysconfdir}/init.d/ringtap
    fi
}

CONFFILES:${PN} = "${sysconfdir}/ringtap/board.toml"
