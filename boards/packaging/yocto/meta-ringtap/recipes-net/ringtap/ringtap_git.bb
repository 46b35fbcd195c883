SUMMARY = "Fixed-memory PACKET_MMAP bridge, capture and replay appliance"
DESCRIPTION = "ringtap moves Ethernet frames between network interfaces \
through the kernel's PACKET_MMAP rings (AF_PACKET, TPACKET_V2/V3) with a \
fixed amount of memory. The package runs it as an inline bridge between the \
ports of /etc/ringtap/board.toml."
HOMEPAGE = "https://github.com/ringtap/ringtap"
BUGTRACKER = "https://github.com/ringtap/ringtap/issues"
SECTION = "net"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=0df37f927e37f73f383ce36f2c87e4d6 \
                    file://LICENSE-APACHE;md5=1836efb2eb779966696f473ee8540542"

# A commit of ringtap's main branch. `cargo xtask dist --pin REV` moves it
# (and the Buildroot package's RINGTAP_VERSION), sets PV from its
# Cargo.toml and rewrites ringtap-crates.inc. To build a checkout of your
# own instead, use devtool or externalsrc (see the layer's README.md).
SRC_URI = "git://github.com/ringtap/ringtap.git;protocol=https;branch=main"
SRCREV = "4be0394987dda06707dab7489895fcbe71635e4f"
PV = "0.1.0+git"

inherit cargo cargo-update-recipe-crates systemd update-rc.d

# The crates of every Cargo.lock of SRCREV, as `bitbake -c update_crates
# ringtap` writes them (fuzz/Cargo.lock's crates are fetched, not built).
require ${BPN}-crates.inc

# The ringtap crate; Cargo.lock is its workspace's, at the top.
CARGO_SRC_DIR = "appliance"
CARGO_LOCK_PATH = "${S}/Cargo.lock"

# The folder of ringtap's boards/ whose board.toml becomes
# /etc/ringtap/board.toml (the ports to bridge, the ring sizes), by
# MACHINE. For another board or MACHINE, set it in local.conf:
#   RINGTAP_BOARD = "beaglebone-black"
RINGTAP_BOARD_FOR_MACHINE = ""
RINGTAP_BOARD_FOR_MACHINE:qemuarm64 = "qemu-virt-aarch64"
RINGTAP_BOARD_FOR_MACHINE:qemuarm = "qemu-virt-armv7"
RINGTAP_BOARD_FOR_MACHINE:qemux86-64 = "x86_64-host"
RINGTAP_BOARD_FOR_MACHINE:raspberrypi4-64 = "rpi4"
RINGTAP_BOARD_FOR_MACHINE:beaglebone-yocto = "beaglebone-black"
RINGTAP_BOARD ?= "${RINGTAP_BOARD_FOR_MACHINE}"

python () {
    if not d.getVar("RINGTAP_BOARD"):
        raise bb.parse.SkipRecipe("no ringtap board profile for MACHINE %s: set "
                                  "RINGTAP_BOARD (a folder of ringtap's boards/) "
                                  "in local.conf" % d.getVar("MACHINE"))
}

SYSTEMD_SERVICE:${PN} = "ringtap.service"
INITSCRIPT_NAME = "ringtap"
INITSCRIPT_PARAMS = "defaults 50"

do_install:append() {
    if [ ! -f ${S}/boards/${RINGTAP_BOARD}/board.toml ]; then
        bbfatal "RINGTAP_BOARD: ringtap has no boards/${RINGTAP_BOARD}/board.toml"
    fi
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

# An upgrade keeps the profile you edited.
CONFFILES:${PN} = "${sysconfdir}/ringtap/board.toml"
