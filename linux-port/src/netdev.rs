//! Network interfaces: index, MTU, link state and ethtool offloads, through
//! `ioctl` on an ordinary `AF_INET` datagram socket (the interface calls are
//! answered by the socket's network namespace).

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Opcode, Updater};
use rustix::net::{AddressFamily, SocketType};

use linux_raw_sys::net::ifreq;

use crate::error::{Error, Result};

const SIOCGIFFLAGS: Opcode = linux_raw_sys::ioctl::SIOCGIFFLAGS as Opcode;
const SIOCSIFFLAGS: Opcode = linux_raw_sys::ioctl::SIOCSIFFLAGS as Opcode;
const SIOCGIFMTU: Opcode = linux_raw_sys::ioctl::SIOCGIFMTU as Opcode;
/// `SIOCETHTOOL` (linux/sockios.h); not in linux-raw-sys.
const SIOCETHTOOL: Opcode = 0x8946;

const IFF_UP: u16 = 0x1;
const IFF_RUNNING: u16 = 0x40;
const IFF_PROMISC: u16 = 0x100;

/// ethtool commands (linux/ethtool.h); not in linux-raw-sys.
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_SFLAGS: u32 = 0x26;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_SGRO: u32 = 0x2c;
/// `ETH_FLAG_LRO` in the `ETHTOOL_GFLAGS` word.
const ETH_FLAG_LRO: u32 = 1 << 15;

/// An offload that changes frame sizes between the wire and a packet socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// Generic receive offload: merges received TCP segments.
    Gro,
    /// Large receive offload (hardware): merges received segments.
    Lro,
    /// Generic segmentation offload: sends oversized segments.
    Gso,
    /// TCP segmentation offload.
    Tso,
}

/// The link state of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFlags {
    /// `IFF_UP`: administratively up.
    pub up: bool,
    /// `IFF_RUNNING`: carrier present.
    pub running: bool,
    /// `IFF_PROMISC` (set by `ip link set promisc`, not by packet sockets).
    pub promisc: bool,
}

/// `struct ethtool_value`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// A socket for interface queries in the network namespace of the thread
/// that opened it, kept open for repeated queries (a forwarder that checks
/// its ports every tick should not open a socket per question).
#[derive(Debug)]
pub struct Control {
    fd: OwnedFd,
}

impl Control {
    /// `socket(AF_INET, SOCK_DGRAM, 0)`: interface ioctls need a socket of
    /// some family; its namespace answers them.
    pub fn open() -> Result<Control> {
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None)
            .map_err(|e| Error::new("socket", Some("AF_INET"), e))?;
        Ok(Control { fd })
    }

    /// The interface index of `name` (`SIOCGIFINDEX`).
    pub fn ifindex(&self, name: &str) -> Result<u32> {
        rustix::net::netdevice::name_to_index(&self.fd, name)
            .map_err(|e| Error::new("ioctl", Some("SIOCGIFINDEX"), e))
    }

    /// The MTU of `name` (`SIOCGIFMTU`).
    pub fn mtu(&self, name: &str) -> Result<u32> {
        let mut req = request(name)?;
        call::<SIOCGIFMTU>(&self.fd, &mut req, "SIOCGIFMTU")?;
        // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member.
        #[allow(unsafe_code)]
        let mtu = unsafe { req.ifr_ifru.ifru_mtu };
        Ok(mtu.max(0) as u32)
    }

    /// The link flags of `name` (`SIOCGIFFLAGS`).
    pub fn link_flags(&self, name: &str) -> Result<LinkFlags> {
        let mut req = request(name)?;
        call::<SIOCGIFFLAGS>(&self.fd, &mut req, "SIOCGIFFLAGS")?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
        #[allow(unsafe_code)]
        let flags = unsafe { req.ifr_ifru.ifru_flags } as u16;
        Ok(LinkFlags {
            up: flags & IFF_UP != 0,
            running: flags & IFF_RUNNING != 0,
            promisc: flags & IFF_PROMISC != 0,
        })
    }

    /// Bring `name` up or down (`SIOCSIFFLAGS`; needs CAP_NET_ADMIN).
    pub fn set_link_up(&self, name: &str, up: bool) -> Result<()> {
        let mut req = request(name)?;
        call::<SIOCGIFFLAGS>(&self.fd, &mut req, "SIOCGIFFLAGS")?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
        #[allow(unsafe_code)]
        let mut flags = unsafe { req.ifr_ifru.ifru_flags } as u16;
        if up {
            flags |= IFF_UP;
        } else {
            flags &= !IFF_UP;
        }
        req.ifr_ifru.ifru_flags = flags as i16;
        call::<SIOCSIFFLAGS>(&self.fd, &mut req, "SIOCSIFFLAGS")
    }

    fn ethtool(&self, name: &str, cmd: u32, data: u32, what: &'static str) -> Result<u32> {
        let mut req = request(name)?;
        let mut value = EthtoolValue { cmd, data };
        req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
        call::<SIOCETHTOOL>(&self.fd, &mut req, what)?;
        Ok(value.data)
    }

    /// Whether `offload` is on for `name` (`SIOCETHTOOL`).
    pub fn offload(&self, name: &str, offload: Offload) -> Result<bool> {
        Ok(match offload {
            Offload::Gro => self.ethtool(name, ETHTOOL_GGRO, 0, "ETHTOOL_GGRO")? != 0,
            Offload::Gso => self.ethtool(name, ETHTOOL_GGSO, 0, "ETHTOOL_GGSO")? != 0,
            Offload::Tso => self.ethtool(name, ETHTOOL_GTSO, 0, "ETHTOOL_GTSO")? != 0,
            Offload::Lro => {
                self.ethtool(name, ETHTOOL_GFLAGS, 0, "ETHTOOL_GFLAGS")? & ETH_FLAG_LRO != 0
            }
        })
    }

    /// Switch `offload` on or off for `name` (needs CAP_NET_ADMIN).
    pub fn set_offload(&self, name: &str, offload: Offload, on: bool) -> Result<()> {
        let v = u32::from(on);
        match offload {
            Offload::Gro => self
                .ethtool(name, ETHTOOL_SGRO, v, "ETHTOOL_SGRO")
                .map(drop),
            Offload::Gso => self
                .ethtool(name, ETHTOOL_SGSO, v, "ETHTOOL_SGSO")
                .map(drop),
            Offload::Tso => self
                .ethtool(name, ETHTOOL_STSO, v, "ETHTOOL_STSO")
                .map(drop),
            Offload::Lro => {
                let flags = self.ethtool(name, ETHTOOL_GFLAGS, 0, "ETHTOOL_GFLAGS")?;
                let flags = if on {
                    flags | ETH_FLAG_LRO
                } else {
                    flags & !ETH_FLAG_LRO
                };
                self.ethtool(name, ETHTOOL_SFLAGS, flags, "ETHTOOL_SFLAGS")
                    .map(drop)
            }
        }
    }
}

fn request(name: &str) -> Result<ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= 16 || bytes.contains(&0) {
        return Err(Error::new("ioctl", Some("ifr_name"), Errno::NODEV));
    }
    let mut req = zeroed_ifreq();
    let mut n = [0 as linux_raw_sys::ctypes::c_char; 16];
    for (d, s) in n.iter_mut().zip(bytes) {
        *d = *s as linux_raw_sys::ctypes::c_char;
    }
    req.ifr_ifrn.ifrn_name = n;
    Ok(req)
}

fn zeroed_ifreq() -> ifreq {
    ifreq {
        ifr_ifrn: linux_raw_sys::net::ifreq__bindgen_ty_1 { ifrn_name: [0; 16] },
        ifr_ifru: linux_raw_sys::net::ifreq__bindgen_ty_2 {
            ifru_slave: [0; 16],
        },
    }
}

fn call<const OP: Opcode>(fd: &OwnedFd, req: &mut ifreq, what: &'static str) -> Result<()> {
    // SAFETY: `OP` is an interface ioctl whose argument is a `struct ifreq`
    // the kernel reads and writes in place; `req` is a valid, live ifreq
    // (for SIOCETHTOOL its data pointer points to a live ethtool_value).
    #[allow(unsafe_code)]
    unsafe { ioctl(fd.as_fd(), Updater::<OP, ifreq>::new(req)) }
        .map_err(|e| Error::new("ioctl", Some(what), e))
}

/// The interface index of `name` (`if_nametoindex`), with a socket of its
/// own; see [`Control`] for repeated queries.
pub fn ifindex(name: &str) -> Result<u32> {
    Control::open()?.ifindex(name)
}

/// The MTU of `name`.
pub fn mtu(name: &str) -> Result<u32> {
    Control::open()?.mtu(name)
}

/// The link flags of `name`.
pub fn link_flags(name: &str) -> Result<LinkFlags> {
    Control::open()?.link_flags(name)
}

/// Bring `name` up or down (needs CAP_NET_ADMIN).
pub fn set_link_up(name: &str, up: bool) -> Result<()> {
    Control::open()?.set_link_up(name, up)
}

/// Whether `offload` is on for `name`.
pub fn offload(name: &str, offload: Offload) -> Result<bool> {
    Control::open()?.offload(name, offload)
}

/// Switch `offload` on or off for `name` (needs CAP_NET_ADMIN).
pub fn set_offload(name: &str, offload: Offload, on: bool) -> Result<()> {
    Control::open()?.set_offload(name, offload, on)
}
