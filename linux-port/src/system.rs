//! Facts about the running system that ring sizes and policies depend on:
//! the kernel's page size and word size, the receive batch sysctl and the
//! machine's memory. Each is read here and nowhere else; callers decide
//! what to do with them.
//!
//! The kernel word decides the layout of `struct tpacket_hdr`
//! (`TPACKET_V1`), whose `tp_status` is an `unsigned long`. af_packet.c
//! writes that struct with the kernel's own layout and has no compat
//! translation for ring headers, so a 32-bit program on a 64-bit kernel
//! sees the 64-bit layout. This program's pointer width therefore says
//! nothing, and neither does `uname`: under a `PER_LINUX32` personality
//! (`linux32`, `setarch`, some 32-bit build chroots) the kernel reports
//! `armv8l` or `i686` as the machine of a 64-bit kernel, the names 32-bit
//! kernels give. [`kernel_word`] asks the kernel instead.

use std::fmt;

use rustix::fd::AsFd;
use rustix::io::Errno;

use linux_raw_sys::if_packet as k;
use ringtap_core::frame::KernelWord;
use ringtap_core::geometry::{PageSize, TpacketVersion};

use crate::error::{Error, Result};
use crate::socket::{PacketSocket, SocketType};
use crate::sys;

/// The kernel's page size: `AT_PAGESZ` from the aux vector the kernel
/// passed this process at exec.
pub fn page_size() -> PageSize {
    PageSize::new(rustix::param::page_size() as u32).unwrap_or(PageSize::DEFAULT)
}

/// `kernel.arch`: the kernel's own machine name (Linux 6.1 or newer),
/// which no personality changes.
const ARCH: &str = "/proc/sys/kernel/arch";

/// Where [`kernel_word`] found the word size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordSource {
    /// `getsockopt(PACKET_HDRLEN)` for `TPACKET_V1`: the kernel's own
    /// `sizeof(struct tpacket_hdr)`.
    PacketHdrlen,
    /// The machine name in `/proc/sys/kernel/arch` (no packet socket could
    /// be opened, e.g. without CAP_NET_RAW).
    Arch {
        /// The name, e.g. `aarch64`.
        machine: String,
    },
    /// Neither answered: this program's own word size, a guess.
    ThisBuild {
        /// Why the kernel could not be asked.
        why: String,
    },
}

impl fmt::Display for WordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WordSource::PacketHdrlen => f.write_str("PACKET_HDRLEN of the running kernel"),
            WordSource::Arch { machine } => write!(f, "{machine} in {ARCH}"),
            WordSource::ThisBuild { why } => write!(f, "assumed from this build: {why}"),
        }
    }
}

/// The running kernel's word size and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelWordProbe {
    /// The word size.
    pub word: KernelWord,
    /// How it was found.
    pub source: WordSource,
}

/// The running kernel's word size, which shapes `TPACKET_V1` headers.
///
/// Asked, in order: the kernel itself (`getsockopt(PACKET_HDRLEN)` on a
/// packet socket that receives nothing; needs CAP_NET_RAW, which every ring
/// needs anyway), then `/proc/sys/kernel/arch` (readable by anyone, Linux
/// 6.1 or newer); when neither answers, this build's word size, marked as
/// a guess.
pub fn kernel_word() -> KernelWordProbe {
    let socket = match PacketSocket::open(SocketType::Raw, None).and_then(|s| v1_word(&s)) {
        Ok(word) => {
            return KernelWordProbe {
                word,
                source: WordSource::PacketHdrlen,
            }
        }
        Err(e) => e,
    };
    let arch = match std::fs::read_to_string(ARCH) {
        Ok(text) => {
            let machine = text.trim();
            match KernelWord::of_machine(machine) {
                Some(word) => {
                    return KernelWordProbe {
                        word,
                        source: WordSource::Arch {
                            machine: machine.to_owned(),
                        },
                    }
                }
                None => format!("{ARCH} names the unknown machine '{machine}'"),
            }
        }
        Err(e) => format!("cannot read {ARCH}: {e}"),
    };
    KernelWordProbe {
        word: KernelWord::of_this_build(),
        source: WordSource::ThisBuild {
            why: format!("{socket}; {arch}"),
        },
    }
}

/// `getsockopt(PACKET_HDRLEN)` with `TPACKET_V1` on `sock`: the word size
/// of the kernel that answers.
pub(crate) fn v1_word(sock: &PacketSocket) -> Result<KernelWord> {
    let err = |e| Error::new("getsockopt", Some("PACKET_HDRLEN"), e);
    let (len, _) = sys::get_from(
        sock.as_fd(),
        linux_raw_sys::net::SOL_PACKET,
        k::PACKET_HDRLEN,
        TpacketVersion::V1.to_raw(),
    )
    .map_err(err)?;
    KernelWord::of_v1_header_len(len as usize).ok_or(err(Errno::PROTO))
}

/// The page size and word size rings are judged by on this system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct System {
    /// The kernel's page size.
    pub page: PageSize,
    /// The kernel's word size.
    pub word: KernelWord,
}

impl System {
    /// [`page_size`] and [`kernel_word`], found once.
    pub fn probe() -> System {
        System {
            page: page_size(),
            word: kernel_word().word,
        }
    }
}

/// `net.core.gro_normal_batch`: how many received frames a NIC driver
/// hands up the stack at once (global: it exists only in the initial
/// network namespace).
pub const GRO_NORMAL_BATCH: &str = "/proc/sys/net/core/gro_normal_batch";

/// [`GRO_NORMAL_BATCH`], where this namespace can see it.
pub fn gro_normal_batch() -> Option<u32> {
    std::fs::read_to_string(GRO_NORMAL_BATCH)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Set [`GRO_NORMAL_BATCH`] (needs CAP_NET_ADMIN in the initial namespace).
pub fn set_gro_normal_batch(batch: u32) -> std::io::Result<()> {
    std::fs::write(GRO_NORMAL_BATCH, batch.to_string())
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`).
pub fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_word_comes_with_its_source() {
        let probe = kernel_word();
        let text = probe.source.to_string();
        match &probe.source {
            // Root (or CAP_NET_RAW): the kernel's own answer, which on
            // the machines tests run on is this build's word.
            WordSource::PacketHdrlen => {
                assert_eq!(probe.word, KernelWord::of_this_build(), "{text}")
            }
            WordSource::Arch { machine } => {
                assert_eq!(KernelWord::of_machine(machine), Some(probe.word))
            }
            WordSource::ThisBuild { why } => assert!(why.contains(ARCH), "{why}"),
        }
    }

    #[test]
    fn memory_is_read() {
        assert!(mem_total().is_some_and(|m| m >= 64 << 20));
    }
}
