//! `struct tpacket2_hdr` (`TPACKET_V2`): one fixed-size frame per packet.
//!
//! ```text
//! 0         4       8           12       14       16       20        24
//! | status  | len   | snaplen   | mac    | net    | sec    | nsec    |
//! 24           26             28            32
//! | vlan_tci   | vlan_tpid    | padding[4]  |  sockaddr_ll (20)  ... packet at tp_mac
//! ```

use super::{check_len, get_u16, get_u32, ll, packet_span, set_u16, set_u32, tx_span};
use super::{FrameError, Timestamp};
use crate::geometry::tpacket_align;

mod field {
    pub const STATUS: usize = 0;
    pub const LEN: usize = 4;
    pub const SNAPLEN: usize = 8;
    pub const MAC: usize = 12;
    pub const NET: usize = 14;
    pub const SEC: usize = 16;
    pub const NSEC: usize = 20;
    pub const VLAN_TCI: usize = 24;
    pub const VLAN_TPID: usize = 26;
}

/// `sizeof(struct tpacket2_hdr)`.
pub const HEADER_LEN: usize = 32;

/// Offset of the `sockaddr_ll` that follows the header.
pub const ADDR_OFFSET: usize = tpacket_align(HEADER_LEN as u32) as usize;

/// A view over a V2 frame: header, address, and the packet inside the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wrap a frame without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wrap a frame that can hold the header and the `sockaddr_ll`.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), ADDR_OFFSET + ll::LEN)?;
        Ok(Header { buffer })
    }

    /// The wrapped frame.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `tp_status` (read it through [`crate::slot`] when the frame is shared).
    pub fn tp_status(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::STATUS)
    }

    /// `tp_len`: the packet's length on the wire.
    pub fn tp_len(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::LEN)
    }

    /// `tp_snaplen`: bytes of the packet in the frame.
    pub fn tp_snaplen(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SNAPLEN)
    }

    /// `tp_mac`: offset of the link-layer header from the frame start.
    pub fn tp_mac(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::MAC)
    }

    /// `tp_net`: offset of the network header from the frame start.
    pub fn tp_net(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::NET)
    }

    /// `tp_sec`.
    pub fn tp_sec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEC)
    }

    /// `tp_nsec`.
    pub fn tp_nsec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::NSEC)
    }

    /// `tp_vlan_tci` (valid when `TP_STATUS_VLAN_VALID` is set).
    pub fn tp_vlan_tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::VLAN_TCI)
    }

    /// `tp_vlan_tpid` (valid when `TP_STATUS_VLAN_TPID_VALID` is set).
    pub fn tp_vlan_tpid(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::VLAN_TPID)
    }

    /// The receive timestamp.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp {
            sec: self.tp_sec(),
            nsec: self.tp_nsec(),
        }
    }

    /// The `sockaddr_ll` the kernel wrote after the header.
    pub fn addr(&self) -> ll::Addr<&[u8]> {
        ll::Addr::new_unchecked(&self.buffer.as_ref()[ADDR_OFFSET..ADDR_OFFSET + ll::LEN])
    }

    /// The packet bytes, `tp_snaplen` of them at `tp_mac`, once both are
    /// checked against the frame.
    pub fn packet(&self) -> Result<&[u8], FrameError> {
        Header::new_unchecked(self.buffer.as_ref()).into_packet()
    }
}

impl<'a> Header<&'a [u8]> {
    /// [`Header::packet`], borrowing from the underlying buffer rather than
    /// from the view.
    pub fn into_packet(self) -> Result<&'a [u8], FrameError> {
        let span = packet_span(
            self.buffer.len(),
            ADDR_OFFSET + ll::LEN,
            u32::from(self.tp_mac()),
            self.tp_snaplen(),
        )?;
        Ok(&self.buffer[span])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Set `tp_status` (tests and private copies; shared frames go through
    /// [`crate::slot`]).
    pub fn set_tp_status(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::STATUS, v)
    }

    /// Set `tp_len` (TX: the number of bytes to send).
    pub fn set_tp_len(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::LEN, v)
    }

    /// Set `tp_snaplen`.
    pub fn set_tp_snaplen(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::SNAPLEN, v)
    }

    /// Set `tp_mac` (TX with `PACKET_TX_HAS_OFF` on a SOCK_RAW socket).
    pub fn set_tp_mac(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::MAC, v)
    }

    /// Set `tp_net` (TX with `PACKET_TX_HAS_OFF` on a SOCK_DGRAM socket).
    pub fn set_tp_net(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::NET, v)
    }

    /// Set `tp_sec` and `tp_nsec`.
    pub fn set_timestamp(&mut self, ts: Timestamp) {
        set_u32(self.buffer.as_mut(), field::SEC, ts.sec);
        set_u32(self.buffer.as_mut(), field::NSEC, ts.nsec);
    }

    /// Set `tp_vlan_tci`.
    pub fn set_tp_vlan_tci(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::VLAN_TCI, v)
    }

    /// Set `tp_vlan_tpid`.
    pub fn set_tp_vlan_tpid(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::VLAN_TPID, v)
    }

    /// The `len` bytes at `offset` where a TX payload goes, if they fit.
    pub fn payload_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8], FrameError> {
        let buf = self.buffer.as_mut();
        let span = tx_span(buf.len(), offset, len)?;
        Ok(&mut buf[span])
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// A 64-byte frame holding a 4-byte packet at tp_mac 80, VLAN 0x2005.
    fn frame() -> [u8; 96] {
        let mut f = [0u8; 96];
        f[0..32].copy_from_slice(&[
            0x11, 0x00, 0x00, 0x00, // USER | VLAN_VALID
            0x3c, 0x00, 0x00, 0x00, // len 60
            0x04, 0x00, 0x00, 0x00, // snaplen 4
            0x50, 0x00, // mac 80
            0x5e, 0x00, // net 94
            0x10, 0x00, 0x00, 0x00, // sec 16
            0x20, 0x00, 0x00, 0x00, // nsec 32
            0x05, 0x20, // tci 0x2005
            0xa8, 0x88, // tpid 0x88a8
            0, 0, 0, 0,
        ]);
        f[32] = 0x11; // sockaddr_ll family
        f[80..84].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        f
    }

    #[test]
    fn test_parse() {
        let f = frame();
        let h = Header::new_checked(&f[..]).unwrap();
        assert_eq!(h.tp_status(), 0x11);
        assert_eq!(h.tp_len(), 60);
        assert_eq!(h.tp_snaplen(), 4);
        assert_eq!(h.tp_mac(), 80);
        assert_eq!(h.tp_net(), 94);
        assert_eq!(h.timestamp(), Timestamp { sec: 16, nsec: 32 });
        assert_eq!(h.tp_vlan_tci(), 0x2005);
        assert_eq!(h.tp_vlan_tpid(), 0x88a8);
        assert_eq!(h.addr().sll_family(), ll::AF_PACKET);
        assert_eq!(h.packet().unwrap(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn test_emit() {
        let mut f = [0u8; 96];
        f[32] = 0x11;
        f[80..84].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let mut h = Header::new_checked(&mut f[..]).unwrap();
        h.set_tp_status(0x11);
        h.set_tp_len(60);
        h.set_tp_snaplen(4);
        h.set_tp_mac(80);
        h.set_tp_net(94);
        h.set_timestamp(Timestamp { sec: 16, nsec: 32 });
        h.set_tp_vlan_tci(0x2005);
        h.set_tp_vlan_tpid(0x88a8);
        assert_eq!(f, frame());
    }

    #[test]
    fn test_impossible_len() {
        let f = frame();
        assert_eq!(
            Header::new_checked(&f[..51]).unwrap_err(),
            FrameError::Truncated {
                needed: 52,
                len: 51
            }
        );
        let mut bad = frame();
        bad[8] = 17; // snaplen 17 at mac 80 runs past 96
        assert!(matches!(
            Header::new_checked(&bad[..]).unwrap().packet(),
            Err(FrameError::SnapLen { tp_snaplen: 17, .. })
        ));
        let mut bad = frame();
        bad[12] = 10; // mac inside the header
        assert!(matches!(
            Header::new_checked(&bad[..]).unwrap().packet(),
            Err(FrameError::MacOffset { tp_mac: 10, .. })
        ));
        let mut bad = frame();
        bad[8..12].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(Header::new_checked(&bad[..]).unwrap().packet().is_err());
        let mut f = frame();
        let mut h = Header::new_checked(&mut f[..]).unwrap();
        assert!(h.payload_mut(32, 64).is_ok());
        assert!(h.payload_mut(32, 65).is_err());
        assert!(h.payload_mut(usize::MAX, 2).is_err());
    }
}
