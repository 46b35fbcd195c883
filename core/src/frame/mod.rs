//! Checked views over the headers the kernel writes into ring frames.
//!
//! One module per header, in the smoltcp `wire` style: a view wraps a byte
//! buffer (`T: AsRef<[u8]>`), `new_checked` proves the buffer can hold the
//! fixed header, getters are named after the C fields, setters are `set_*`,
//! and offsets live in a private `field` module.
//!
//! The kernel writes these headers in its own byte order (the CPU's) and, for
//! `TPACKET_V1`, with its own word size, which is not always ours: a 32-bit
//! ARM userland can run on a 64-bit kernel. Lengths and offsets the kernel
//! wrote are checked against the frame or block they claim to live in before
//! any byte is read through them, so a corrupt or hostile header gives a
//! [`FrameError`], never a read outside the buffer.

use core::fmt;

pub mod ll;
pub mod v1;
pub mod v2;
pub mod v3;
pub mod vnet;

/// The kernel's word size (`sizeof(unsigned long)`), which decides the layout
/// of `struct tpacket_hdr` (V1). It is the kernel's, not this program's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KernelWord {
    /// 32-bit kernel (armv7, i386).
    Bits32,
    /// 64-bit kernel (aarch64, x86_64), also under a 32-bit userland.
    Bits64,
}

impl KernelWord {
    /// The word size of this build, which is the kernel's unless a 32-bit
    /// program runs on a 64-bit kernel: only a guess, for when the kernel
    /// cannot be asked (the port layer's probe asks it).
    pub const fn of_this_build() -> KernelWord {
        if cfg!(target_pointer_width = "64") {
            KernelWord::Bits64
        } else {
            KernelWord::Bits32
        }
    }

    /// The word size of a kernel whose `sizeof(struct tpacket_hdr)` is
    /// `len`: what `getsockopt(PACKET_HDRLEN)` answers for `TPACKET_V1`
    /// (24 on a 32-bit kernel, 32 on a 64-bit one).
    pub const fn of_v1_header_len(len: usize) -> Option<KernelWord> {
        if len == v1::header_len(KernelWord::Bits32) {
            Some(KernelWord::Bits32)
        } else if len == v1::header_len(KernelWord::Bits64) {
            Some(KernelWord::Bits64)
        } else {
            None
        }
    }

    /// The word size of a kernel built for this machine name (`UTS_MACHINE`,
    /// as `/proc/sys/kernel/arch` gives it), if the name says.
    pub fn of_machine(machine: &str) -> Option<KernelWord> {
        let is_x86_32 = machine.len() == 4
            && machine.starts_with('i')
            && machine.ends_with("86")
            && machine.as_bytes()[1].is_ascii_digit();
        if machine.contains("64") || machine == "s390x" {
            Some(KernelWord::Bits64)
        } else if is_x86_32
            || machine.starts_with("arm")
            || machine.starts_with("mips")
            || matches!(machine, "riscv32" | "ppc" | "m68k")
        {
            Some(KernelWord::Bits32)
        } else {
            None
        }
    }

    /// Bytes in an `unsigned long`.
    pub const fn bytes(self) -> usize {
        match self {
            KernelWord::Bits32 => 4,
            KernelWord::Bits64 => 8,
        }
    }
}

/// A kernel timestamp, seconds and nanoseconds (V1 microseconds scaled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timestamp {
    /// Seconds (`tp_sec`).
    pub sec: u32,
    /// Nanoseconds (`tp_nsec`, or `tp_usec * 1000` for V1).
    pub nsec: u32,
}

/// A header that does not fit the frame or block it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The buffer is shorter than the fixed header.
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// `tp_mac` points into the header or past the frame.
    MacOffset {
        /// `tp_mac` as written by the kernel.
        tp_mac: u32,
        /// First byte after the header.
        min: usize,
        /// Bytes in the frame.
        limit: usize,
    },
    /// `tp_net` points into the header or past the frame.
    NetOffset {
        /// `tp_net` as written by the kernel.
        tp_net: u32,
        /// Bytes in the frame.
        limit: usize,
    },
    /// `tp_mac + tp_snaplen` runs past the frame.
    SnapLen {
        /// `tp_mac`.
        tp_mac: u32,
        /// `tp_snaplen`.
        tp_snaplen: u32,
        /// Bytes in the frame.
        limit: usize,
    },
    /// V3: `blk_len` is larger than the block or smaller than its header.
    BlockLen {
        /// `hdr.bh1.blk_len`.
        blk_len: u32,
        /// The block size.
        block_size: usize,
    },
    /// V3: `offset_to_first_pkt` is inside the block header or past `blk_len`.
    FirstPacketOffset {
        /// `hdr.bh1.offset_to_first_pkt`.
        offset: u32,
        /// `hdr.bh1.blk_len`.
        blk_len: u32,
    },
    /// V3: a packet header does not fit between its offset and `blk_len`.
    PacketOffset {
        /// Index of the packet in the block.
        index: u32,
        /// Its offset from the block start.
        offset: u64,
        /// `hdr.bh1.blk_len`.
        blk_len: u32,
    },
    /// V3: `tp_next_offset` is zero before the last packet, or leads past
    /// `blk_len`.
    NextOffset {
        /// Index of the packet whose `tp_next_offset` is bad.
        index: u32,
        /// `tp_next_offset`.
        next: u32,
        /// `num_pkts`.
        num_pkts: u32,
    },
    /// A TX payload does not fit between its offset and the end of the frame.
    TxPayload {
        /// Where the payload would start.
        offset: usize,
        /// Payload length.
        len: usize,
        /// Bytes in the frame.
        limit: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::Truncated { needed, len } => write!(
                f,
                "buffer of {len} bytes cannot hold the {needed}-byte header"
            ),
            FrameError::MacOffset { tp_mac, min, limit } => write!(
                f,
                "tp_mac {tp_mac} must lie after the header ({min}) and inside the \
                 {limit}-byte frame"
            ),
            FrameError::NetOffset { tp_net, limit } => {
                write!(f, "tp_net {tp_net} must lie inside the {limit}-byte frame")
            }
            FrameError::SnapLen {
                tp_mac,
                tp_snaplen,
                limit,
            } => write!(
                f,
                "tp_mac {tp_mac} + tp_snaplen {tp_snaplen} runs past the {limit}-byte frame"
            ),
            FrameError::BlockLen {
                blk_len,
                block_size,
            } => write!(
                f,
                "blk_len {blk_len} must lie between the block header and the block size \
                 {block_size}"
            ),
            FrameError::FirstPacketOffset { offset, blk_len } => write!(
                f,
                "offset_to_first_pkt {offset} must lie after the block header and before \
                 blk_len {blk_len}"
            ),
            FrameError::PacketOffset {
                index,
                offset,
                blk_len,
            } => write!(
                f,
                "packet {index} at offset {offset}: its header runs past blk_len {blk_len}"
            ),
            FrameError::NextOffset {
                index,
                next,
                num_pkts,
            } => write!(
                f,
                "packet {index} of {num_pkts}: tp_next_offset {next} does not lead to the \
                 next packet inside the block"
            ),
            FrameError::TxPayload { offset, len, limit } => write!(
                f,
                "TX payload of {len} bytes at offset {offset} runs past the {limit}-byte frame"
            ),
        }
    }
}

pub(crate) fn check_len(buf: &[u8], needed: usize) -> Result<(), FrameError> {
    if buf.len() < needed {
        Err(FrameError::Truncated {
            needed,
            len: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Read a native-endian `u16` at `at`; the caller has checked the length.
pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

/// Read a native-endian `u32` at `at`; the caller has checked the length.
pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

pub(crate) fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_ne_bytes(b)
}

pub(crate) fn set_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}

pub(crate) fn set_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

/// The packet bytes `[tp_mac, tp_mac + tp_snaplen)` of a V1/V2 frame (or a
/// V3 packet slot), after checking both against the frame.
pub(crate) fn packet_span(
    frame_len: usize,
    header_len: usize,
    tp_mac: u32,
    tp_snaplen: u32,
) -> Result<core::ops::Range<usize>, FrameError> {
    let mac = tp_mac as usize;
    if mac < header_len || mac > frame_len {
        return Err(FrameError::MacOffset {
            tp_mac,
            min: header_len,
            limit: frame_len,
        });
    }
    let end = mac
        .checked_add(tp_snaplen as usize)
        .filter(|&e| e <= frame_len)
        .ok_or(FrameError::SnapLen {
            tp_mac,
            tp_snaplen,
            limit: frame_len,
        })?;
    Ok(mac..end)
}

/// Where a TX payload of `len` bytes at `offset` lies in a frame of
/// `frame_len` bytes, if it fits.
pub(crate) fn tx_span(
    frame_len: usize,
    offset: usize,
    len: usize,
) -> Result<core::ops::Range<usize>, FrameError> {
    offset
        .checked_add(len)
        .filter(|&e| e <= frame_len)
        .map(|e| offset..e)
        .ok_or(FrameError::TxPayload {
            offset,
            len,
            limit: frame_len,
        })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_word_of_v1_header_len() {
        assert_eq!(KernelWord::of_v1_header_len(24), Some(KernelWord::Bits32));
        assert_eq!(KernelWord::of_v1_header_len(32), Some(KernelWord::Bits64));
        // TPACKET2_HDRLEN and friends are not a V1 header's size.
        for len in [0, 20, 48, 52] {
            assert_eq!(KernelWord::of_v1_header_len(len), None, "{len}");
        }
    }

    #[test]
    fn test_word_of_machine() {
        for m in [
            "x86_64",
            "aarch64",
            "aarch64_be",
            "riscv64",
            "ppc64le",
            "s390x",
        ] {
            assert_eq!(KernelWord::of_machine(m), Some(KernelWord::Bits64), "{m}");
        }
        for m in [
            "armv7l", "armv6l", "armv8l", "i686", "i386", "mips", "riscv32",
        ] {
            assert_eq!(KernelWord::of_machine(m), Some(KernelWord::Bits32), "{m}");
        }
        assert_eq!(KernelWord::of_machine("vax"), None);
        assert_eq!(KernelWord::of_machine(""), None);
    }
}
