//! `TPACKET_V3`: blocks of variable-length packets.
//!
//! A block starts with `struct tpacket_block_desc` (48 bytes):
//!
//! ```text
//! 0         4                8              12         16                    20        24        32                40               48
//! | version | offset_to_priv | block_status | num_pkts | offset_to_first_pkt | blk_len | seq_num | ts_first_pkt    | ts_last_pkt    |
//! ```
//! then the private area, then `num_pkts` packets, each a
//! `struct tpacket3_hdr` (48 bytes), its `sockaddr_ll`, and the data at
//! `tp_mac`; `tp_next_offset` leads from one packet to the next.
//!
//! ```text
//! 0              4        8         12           16       20          24       26       28          32            36            38        40
//! | next_offset  | sec    | nsec    | snaplen    | len    | status    | mac    | net    | rxhash    | vlan_tci    | vlan_tpid   | pad     | pad[8] |
//! ```
//! The walker ([`BlockDescriptor::packets`]) checks `blk_len`,
//! `offset_to_first_pkt`, every `tp_next_offset`, `tp_mac` and `tp_snaplen`
//! against the block before it hands out a packet, and stops at the first
//! inconsistency, so `num_pkts` can be anything.

use super::{check_len, get_u16, get_u32, get_u64, ll, packet_span, set_u16, set_u32, tx_span};
use super::{FrameError, Timestamp};
use crate::geometry::tpacket_align;

mod field {
    pub const VERSION: usize = 0;
    pub const OFFSET_TO_PRIV: usize = 4;
    pub const BLOCK_STATUS: usize = 8;
    pub const NUM_PKTS: usize = 12;
    pub const OFFSET_TO_FIRST_PKT: usize = 16;
    pub const BLK_LEN: usize = 20;
    pub const SEQ_NUM: usize = 24;
    pub const TS_FIRST_SEC: usize = 32;
    pub const TS_FIRST_NSEC: usize = 36;
    pub const TS_LAST_SEC: usize = 40;
    pub const TS_LAST_NSEC: usize = 44;

    pub const NEXT_OFFSET: usize = 0;
    pub const SEC: usize = 4;
    pub const NSEC: usize = 8;
    pub const SNAPLEN: usize = 12;
    pub const LEN: usize = 16;
    pub const STATUS: usize = 20;
    pub const MAC: usize = 24;
    pub const NET: usize = 26;
    pub const RXHASH: usize = 28;
    pub const VLAN_TCI: usize = 32;
    pub const VLAN_TPID: usize = 36;
}

/// `sizeof(struct tpacket_block_desc)`.
pub const BLOCK_HEADER_LEN: usize = 48;

/// Offset of the 32-bit `block_status` word in a block.
pub const BLOCK_STATUS_OFFSET: usize = field::BLOCK_STATUS;

/// `sizeof(struct tpacket3_hdr)`.
pub const HEADER_LEN: usize = 48;

/// Offset of the `sockaddr_ll` after a packet header.
pub const ADDR_OFFSET: usize = tpacket_align(HEADER_LEN as u32) as usize;

/// Offset of the 32-bit `tp_status` word in a packet header or TX frame.
pub const STATUS_OFFSET: usize = field::STATUS;

/// A view over a V3 block: the descriptor and the packets after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDescriptor<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> BlockDescriptor<T> {
    /// Wrap a whole block (`tp_block_size` bytes) without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        BlockDescriptor { buffer }
    }

    /// Wrap a whole block that can at least hold its descriptor.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), BLOCK_HEADER_LEN)?;
        Ok(BlockDescriptor { buffer })
    }

    /// The wrapped block.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `version` (`TPACKET_V3`'s descriptor version, 1).
    pub fn version(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VERSION)
    }

    /// `offset_to_priv`.
    pub fn offset_to_priv(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::OFFSET_TO_PRIV)
    }

    /// `hdr.bh1.block_status`.
    pub fn block_status(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::BLOCK_STATUS)
    }

    /// `hdr.bh1.num_pkts`.
    pub fn num_pkts(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::NUM_PKTS)
    }

    /// `hdr.bh1.offset_to_first_pkt`.
    pub fn offset_to_first_pkt(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::OFFSET_TO_FIRST_PKT)
    }

    /// `hdr.bh1.blk_len`: bytes of the block in use, from its start.
    pub fn blk_len(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::BLK_LEN)
    }

    /// `hdr.bh1.seq_num`: the block's sequence number since the ring was set up.
    pub fn seq_num(&self) -> u64 {
        get_u64(self.buffer.as_ref(), field::SEQ_NUM)
    }

    /// `hdr.bh1.ts_first_pkt`.
    pub fn ts_first_pkt(&self) -> Timestamp {
        let b = self.buffer.as_ref();
        Timestamp {
            sec: get_u32(b, field::TS_FIRST_SEC),
            nsec: get_u32(b, field::TS_FIRST_NSEC),
        }
    }

    /// `hdr.bh1.ts_last_pkt`.
    pub fn ts_last_pkt(&self) -> Timestamp {
        let b = self.buffer.as_ref();
        Timestamp {
            sec: get_u32(b, field::TS_LAST_SEC),
            nsec: get_u32(b, field::TS_LAST_NSEC),
        }
    }

    /// Walk the block's packets. Fails at once when `blk_len` or
    /// `offset_to_first_pkt` do not fit the block; each packet is checked as
    /// the walk reaches it.
    pub fn packets(&self) -> Result<Packets<'_>, FrameError> {
        BlockDescriptor::new_unchecked(self.buffer.as_ref()).into_packets()
    }
}

impl<'a> BlockDescriptor<&'a [u8]> {
    /// [`BlockDescriptor::packets`], borrowing from the block rather than
    /// from the view.
    pub fn into_packets(self) -> Result<Packets<'a>, FrameError> {
        let block = self.buffer;
        check_len(block, BLOCK_HEADER_LEN)?;
        let blk_len = self.blk_len();
        if (blk_len as usize) < BLOCK_HEADER_LEN || blk_len as usize > block.len() {
            return Err(FrameError::BlockLen {
                blk_len,
                block_size: block.len(),
            });
        }
        let first = self.offset_to_first_pkt();
        if (first as usize) < BLOCK_HEADER_LEN || first > blk_len {
            return Err(FrameError::FirstPacketOffset {
                offset: first,
                blk_len,
            });
        }
        Ok(Packets {
            used: &block[..blk_len as usize],
            offset: u64::from(first),
            index: 0,
            num_pkts: self.num_pkts(),
            failed: false,
        })
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> BlockDescriptor<T> {
    /// Set `version`.
    pub fn set_version(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::VERSION, v)
    }
    /// Set `offset_to_priv`.
    pub fn set_offset_to_priv(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::OFFSET_TO_PRIV, v)
    }
    /// Set `block_status` (private copies and tests).
    pub fn set_block_status(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::BLOCK_STATUS, v)
    }
    /// Set `num_pkts`.
    pub fn set_num_pkts(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::NUM_PKTS, v)
    }
    /// Set `offset_to_first_pkt`.
    pub fn set_offset_to_first_pkt(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::OFFSET_TO_FIRST_PKT, v)
    }
    /// Set `blk_len`.
    pub fn set_blk_len(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::BLK_LEN, v)
    }
}

/// A packet found by the walk: its header, its offset in the block, and its
/// data, all checked.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The packet's header, over the block from the packet's offset on.
    pub header: Header<&'a [u8]>,
    /// Offset of the header from the block start.
    pub offset: u64,
    /// The packet bytes (`tp_snaplen` of them at `tp_mac`).
    pub data: &'a [u8],
}

/// The walk over a block's packets; see [`BlockDescriptor::packets`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    used: &'a [u8],
    offset: u64,
    index: u32,
    num_pkts: u32,
    failed: bool,
}

impl<'a> Packets<'a> {
    fn step(&mut self) -> Result<Packet<'a>, FrameError> {
        let blk_len = self.used.len();
        let bad_offset = FrameError::PacketOffset {
            index: self.index,
            offset: self.offset,
            blk_len: blk_len as u32,
        };
        let start = usize::try_from(self.offset).map_err(|_| bad_offset)?;
        let rest = self.used.get(start..).ok_or(bad_offset)?;
        let header = Header::new_checked(rest).map_err(|_| bad_offset)?;
        let span = packet_span(
            rest.len(),
            ADDR_OFFSET + ll::LEN,
            u32::from(header.tp_mac()),
            header.tp_snaplen(),
        )?;
        let data = &rest[span.clone()];
        if self.index + 1 < self.num_pkts {
            let next = header.tp_next_offset();
            // The next packet starts after this one's data; anything else is
            // a zero, a backwards step or an overlap.
            if (next as usize) < span.end {
                return Err(FrameError::NextOffset {
                    index: self.index,
                    next,
                    num_pkts: self.num_pkts,
                });
            }
            self.offset += u64::from(next);
        }
        let packet = Packet {
            header,
            offset: start as u64,
            data,
        };
        self.index += 1;
        Ok(packet)
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.index >= self.num_pkts {
            return None;
        }
        let r = self.step();
        self.failed = r.is_err();
        Some(r)
    }
}

/// A view over a `struct tpacket3_hdr`: a packet in an RX block, or a V3 TX
/// frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wrap a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wrap a buffer that can hold the header and the `sockaddr_ll`.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        check_len(buffer.as_ref(), ADDR_OFFSET + ll::LEN)?;
        Ok(Header { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `tp_next_offset`.
    pub fn tp_next_offset(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::NEXT_OFFSET)
    }
    /// `tp_sec`.
    pub fn tp_sec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEC)
    }
    /// `tp_nsec`.
    pub fn tp_nsec(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::NSEC)
    }
    /// `tp_snaplen`.
    pub fn tp_snaplen(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SNAPLEN)
    }
    /// `tp_len`.
    pub fn tp_len(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::LEN)
    }
    /// `tp_status`.
    pub fn tp_status(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::STATUS)
    }
    /// `tp_mac`.
    pub fn tp_mac(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::MAC)
    }
    /// `tp_net`.
    pub fn tp_net(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::NET)
    }
    /// `hv1.tp_rxhash` (with `TP_FT_REQ_FILL_RXHASH`).
    pub fn tp_rxhash(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::RXHASH)
    }
    /// `hv1.tp_vlan_tci` (a 32-bit field holding the 16-bit TCI).
    pub fn tp_vlan_tci(&self) -> u16 {
        get_u32(self.buffer.as_ref(), field::VLAN_TCI) as u16
    }
    /// `hv1.tp_vlan_tpid`.
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

    /// The `sockaddr_ll` after the header.
    pub fn addr(&self) -> ll::Addr<&[u8]> {
        ll::Addr::new_unchecked(&self.buffer.as_ref()[ADDR_OFFSET..ADDR_OFFSET + ll::LEN])
    }

    /// The packet bytes, checked against the buffer.
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
    /// Set `tp_next_offset` (must be 0 in a TX frame).
    pub fn set_tp_next_offset(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::NEXT_OFFSET, v)
    }
    /// Set `tp_sec` and `tp_nsec`.
    pub fn set_timestamp(&mut self, ts: Timestamp) {
        set_u32(self.buffer.as_mut(), field::SEC, ts.sec);
        set_u32(self.buffer.as_mut(), field::NSEC, ts.nsec);
    }
    /// Set `tp_snaplen`.
    pub fn set_tp_snaplen(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::SNAPLEN, v)
    }
    /// Set `tp_len`.
    pub fn set_tp_len(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::LEN, v)
    }
    /// Set `tp_status` (private copies and tests).
    pub fn set_tp_status(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::STATUS, v)
    }
    /// Set `tp_mac`.
    pub fn set_tp_mac(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::MAC, v)
    }
    /// Set `tp_net`.
    pub fn set_tp_net(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::NET, v)
    }
    /// Set `hv1.tp_vlan_tci`.
    pub fn set_tp_vlan_tci(&mut self, v: u16) {
        set_u32(self.buffer.as_mut(), field::VLAN_TCI, u32::from(v))
    }
    /// Set `hv1.tp_vlan_tpid`.
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
pub(crate) mod test {
    use super::*;

    /// Build a block the way the kernel's `prb_fill_curr_block` does: packets
    /// of the given sizes at `tp_mac` 82, each `ALIGN(mac + snaplen, 8)` long.
    pub(crate) fn block(sizes: &[u32], block_size: usize) -> std::vec::Vec<u8> {
        let mut b = std::vec![0u8; block_size];
        let mut off = 48usize;
        for (i, &snap) in sizes.iter().enumerate() {
            let total = (82 + snap as usize + 7) & !7;
            let mut h = Header::new_checked(&mut b[off..]).unwrap();
            h.set_tp_next_offset(total as u32);
            h.set_tp_snaplen(snap);
            h.set_tp_len(snap);
            h.set_tp_status(1);
            h.set_tp_mac(82);
            h.set_tp_net(96);
            h.set_timestamp(Timestamp {
                sec: i as u32,
                nsec: 7,
            });
            for (k, byte) in b[off + 82..off + 82 + snap as usize].iter_mut().enumerate() {
                *byte = (i + k) as u8;
            }
            off += total;
        }
        let mut d = BlockDescriptor::new_checked(&mut b[..]).unwrap();
        d.set_version(1);
        d.set_offset_to_priv(48);
        d.set_block_status(1);
        d.set_num_pkts(sizes.len() as u32);
        d.set_offset_to_first_pkt(48);
        d.set_blk_len(off as u32);
        b
    }

    #[test]
    fn test_parse() {
        let b = block(&[60, 1514, 64], 4096);
        let d = BlockDescriptor::new_checked(&b[..]).unwrap();
        assert_eq!(d.version(), 1);
        assert_eq!(d.num_pkts(), 3);
        assert_eq!(d.blk_len(), 48 + 144 + 1600 + 152);
        let ps: std::vec::Vec<_> = d.packets().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[1].offset, 48 + 144);
        assert_eq!(ps[1].data.len(), 1514);
        assert_eq!(ps[1].data[0], 1);
        assert_eq!(ps[2].header.timestamp(), Timestamp { sec: 2, nsec: 7 });
    }

    #[test]
    fn test_golden_header() {
        let b = block(&[4], 4096);
        assert_eq!(
            &b[48..88],
            &[
                88, 0, 0, 0, // next: ALIGN(82 + 4, 8)
                0, 0, 0, 0, 7, 0, 0, 0, // sec 0, nsec 7
                4, 0, 0, 0, 4, 0, 0, 0, // snaplen, len
                1, 0, 0, 0, // status USER
                82, 0, 96, 0, // mac, net
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rxhash, vlan tci, tpid, pad
            ][..]
        );
        assert_eq!(
            &b[8..24],
            &[1, 0, 0, 0, 1, 0, 0, 0, 48, 0, 0, 0, 136, 0, 0, 0]
        );
    }

    #[test]
    fn test_empty_block() {
        // A block retired by timeout with nothing in it.
        let b = block(&[], 4096);
        let d = BlockDescriptor::new_checked(&b[..]).unwrap();
        assert_eq!(d.packets().unwrap().count(), 0);
    }

    #[test]
    fn test_impossible_len() {
        let good = block(&[60, 60], 4096);
        let set = |at: usize, v: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
            b
        };
        let walk = |b: &[u8]| -> Result<usize, FrameError> {
            let d = BlockDescriptor::new_checked(b)?;
            let mut n = 0;
            for p in d.packets()? {
                p?;
                n += 1;
            }
            Ok(n)
        };
        assert_eq!(walk(&good), Ok(2));
        assert!(matches!(
            walk(&set(20, 4097)),
            Err(FrameError::BlockLen { .. })
        ));
        assert!(matches!(
            walk(&set(20, 10)),
            Err(FrameError::BlockLen { .. })
        ));
        assert!(matches!(
            walk(&set(16, 0)),
            Err(FrameError::FirstPacketOffset { .. })
        ));
        assert!(matches!(
            walk(&set(16, 5000)),
            Err(FrameError::FirstPacketOffset { .. })
        ));
        // num_pkts claims more packets than the block holds.
        assert!(matches!(
            walk(&set(12, u32::MAX)),
            Err(FrameError::NextOffset { .. }) | Err(FrameError::PacketOffset { .. })
        ));
        // tp_next_offset of the first packet: zero, overlapping, past the end.
        assert!(matches!(
            walk(&set(48, 0)),
            Err(FrameError::NextOffset { index: 0, .. })
        ));
        assert!(matches!(
            walk(&set(48, 100)),
            Err(FrameError::NextOffset { .. })
        ));
        assert!(matches!(
            walk(&set(48, u32::MAX)),
            Err(FrameError::PacketOffset { index: 1, .. })
        ));
        // snaplen and mac of the first packet.
        assert!(matches!(
            walk(&set(48 + 12, 4000)),
            Err(FrameError::SnapLen { .. })
        ));
        let mut b = good.clone();
        b[48 + 24..48 + 26].copy_from_slice(&2u16.to_ne_bytes());
        assert!(matches!(
            walk(&b),
            Err(FrameError::MacOffset { tp_mac: 2, .. })
        ));
        assert!(BlockDescriptor::new_checked(&good[..47]).is_err());
    }
}
