//! `struct sockaddr_ll`: the link-level address the kernel writes after each
//! frame header, and the address a packet socket is bound to.
//!
//! ```text
//! 0        2          4            8          10         11       12         20
//! | family | protocol | ifindex    | hatype   | pkttype  | halen  | addr[8]  |
//! ```
//! `sll_protocol` is in network byte order, every other field in the CPU's.

use super::{check_len, get_u16, get_u32, set_u16, set_u32, FrameError};

mod field {
    pub const FAMILY: usize = 0;
    pub const PROTOCOL: usize = 2;
    pub const IFINDEX: usize = 4;
    pub const HATYPE: usize = 8;
    pub const PKTTYPE: usize = 10;
    pub const HALEN: usize = 11;
    pub const ADDR: usize = 12;
}

/// `sizeof(struct sockaddr_ll)`.
pub const LEN: usize = 20;

/// `AF_PACKET`.
pub const AF_PACKET: u16 = 17;

/// A view over a `sockaddr_ll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Addr<T> {
    /// Wrap a buffer without checking its length; getters panic if it is
    /// shorter than [`LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Addr { buffer }
    }

    /// Wrap a buffer of at least [`LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), LEN)?;
        Ok(Addr { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `sll_family` (always `AF_PACKET` from the kernel).
    pub fn sll_family(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FAMILY)
    }

    /// `sll_protocol`, converted from network byte order (an EtherType).
    pub fn sll_protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::PROTOCOL], b[field::PROTOCOL + 1]])
    }

    /// `sll_ifindex`.
    pub fn sll_ifindex(&self) -> i32 {
        get_u32(self.buffer.as_ref(), field::IFINDEX) as i32
    }

    /// `sll_hatype` (`ARPHRD_*`, 1 for Ethernet).
    pub fn sll_hatype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HATYPE)
    }

    /// `sll_pkttype` (`PACKET_HOST`, `PACKET_BROADCAST`, ..., `PACKET_OUTGOING`).
    pub fn sll_pkttype(&self) -> u8 {
        self.buffer.as_ref()[field::PKTTYPE]
    }

    /// `sll_halen`.
    pub fn sll_halen(&self) -> u8 {
        self.buffer.as_ref()[field::HALEN]
    }

    /// The first `sll_halen` bytes of `sll_addr` (at most 8, whatever
    /// `sll_halen` claims).
    pub fn sll_addr(&self) -> &[u8] {
        let n = usize::from(self.sll_halen()).min(8);
        &self.buffer.as_ref()[field::ADDR..field::ADDR + n]
    }
}

/// A `sockaddr_ll` as values, to parse or to emit (e.g. for `bind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Repr {
    /// EtherType in host order (`ETH_P_ALL` = 3 to see every protocol).
    pub protocol: u16,
    /// Interface index (0: any).
    pub ifindex: i32,
    /// `ARPHRD_*`.
    pub hatype: u16,
    /// `PACKET_*` packet type.
    pub pkttype: u8,
    /// Hardware address length.
    pub halen: u8,
    /// Hardware address, `halen` bytes used.
    pub addr: [u8; 8],
}

impl Repr {
    /// Read every field of a view.
    pub fn parse<T: AsRef<[u8]>>(a: &Addr<T>) -> Repr {
        let mut addr = [0u8; 8];
        let src = a.sll_addr();
        addr[..src.len()].copy_from_slice(src);
        Repr {
            protocol: a.sll_protocol(),
            ifindex: a.sll_ifindex(),
            hatype: a.sll_hatype(),
            pkttype: a.sll_pkttype(),
            halen: a.sll_halen(),
            addr,
        }
    }

    /// Write the address (family `AF_PACKET`) into `out`.
    pub fn emit(&self, out: &mut [u8; LEN]) {
        set_u16(out, field::FAMILY, AF_PACKET);
        out[field::PROTOCOL..field::PROTOCOL + 2].copy_from_slice(&self.protocol.to_be_bytes());
        set_u32(out, field::IFINDEX, self.ifindex as u32);
        set_u16(out, field::HATYPE, self.hatype);
        out[field::PKTTYPE] = self.pkttype;
        out[field::HALEN] = self.halen;
        out[field::ADDR..field::ADDR + 8].copy_from_slice(&self.addr);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // A broadcast frame seen on ifindex 7, as x86_64/aarch64 kernels write it.
    static BYTES: [u8; LEN] = [
        0x11, 0x00, // AF_PACKET
        0x08, 0x06, // ETH_P_ARP, network order
        0x07, 0x00, 0x00, 0x00, // ifindex 7
        0x01, 0x00, // ARPHRD_ETHER
        0x01, // PACKET_BROADCAST
        0x06, // halen
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    ];

    #[test]
    fn test_parse() {
        let a = Addr::new_checked(&BYTES[..]).unwrap();
        assert_eq!(a.sll_family(), AF_PACKET);
        assert_eq!(a.sll_protocol(), 0x0806);
        assert_eq!(a.sll_ifindex(), 7);
        assert_eq!(a.sll_hatype(), 1);
        assert_eq!(a.sll_pkttype(), 1);
        assert_eq!(a.sll_addr(), &[2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn test_emit() {
        let r = Repr::parse(&Addr::new_unchecked(&BYTES[..]));
        let mut out = [0u8; LEN];
        r.emit(&mut out);
        assert_eq!(out, BYTES);
    }

    #[test]
    fn test_impossible_len() {
        assert!(Addr::new_checked(&BYTES[..19]).is_err());
        let mut hostile = BYTES;
        hostile[field::HALEN] = 255;
        assert_eq!(Addr::new_unchecked(&hostile[..]).sll_addr().len(), 8);
    }
}
