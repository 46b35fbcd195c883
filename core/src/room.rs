//! Where the kernel puts a packet in a ring slot, and how much of it fits:
//! the placement rules of `tpacket_rcv` (RX) and `tpacket_snd` (TX) in
//! net/packet/af_packet.c, and the ring sizes that follow from a link's
//! MTU.
//!
//! RX, for a `SOCK_RAW` socket on an Ethernet link (`maclen` 14), without
//! `PACKET_VNET_HDR`:
//!
//! ```text
//! netoff = TPACKET_ALIGN(tp_hdrlen + max(maclen, 16)) + tp_reserve
//! macoff = netoff - maclen                                   (= tp_mac)
//! V1/V2: the packet fits if macoff + len <= tp_frame_size
//! V3:    the packet fits if macoff + len <= max_frame_len
//!        max_frame_len = tp_block_size - BLK_PLUS_PRIV(tp_sizeof_priv)
//! netoff > USHRT_MAX: every packet is dropped
//! ```
//!
//! A longer packet is cut to fit (`tp_snaplen < tp_len`): [`Layout::rx_room`]
//! is the longest packet a slot holds whole.
//!
//! TX: the data of a frame starts at `tp_hdrlen - sizeof(struct
//! sockaddr_ll)` ([`Layout::tx_data_offset`]; with `PACKET_TX_HAS_OFF` that
//! is the smallest offset the kernel takes), and with `PACKET_VNET_HDR` a
//! `virtio_net_hdr` comes first ([`Layout::tx_payload_offset`]).

use crate::frame::{vnet, KernelWord};
use crate::geometry::TpacketVersion;
use crate::geometry::{blk_plus_priv, tpacket_align, Layout, RingKind, RingRequest, BLK_HDR_LEN};

/// `ETH_HLEN`: the Ethernet header.
pub const ETH_HLEN: u32 = 14;

/// `VLAN_HLEN`: one 802.1Q tag.
pub const VLAN_HLEN: u32 = 4;

/// `tpacket_rcv` keeps at least this much room for the link-layer header
/// before the network header (`maclen < 16 ? 16 : maclen`).
const MIN_MAC_ROOM: u32 = 16;

/// The longest Ethernet frame a link with this MTU carries: the header and
/// one VLAN tag beyond the MTU. It is what a packet socket receives at most
/// (the device strips an outer tag, an inner one stays in the frame) and
/// the `size_max` of `tpacket_snd` (`mtu + hard_header_len + VLAN_HLEN`).
pub const fn max_frame(mtu: u32) -> u32 {
    mtu.saturating_add(ETH_HLEN + VLAN_HLEN)
}

/// `netoff` of `tpacket_rcv` for a `SOCK_RAW` socket without
/// `PACKET_VNET_HDR` (saturating: only a reserve near `u32::MAX`, which no
/// validated ring has, could reach the limit).
const fn rx_net_offset(hdrlen: u32, maclen: u32, reserve: u32) -> u32 {
    let mac_room = if maclen < MIN_MAC_ROOM {
        MIN_MAC_ROOM
    } else {
        maclen
    };
    tpacket_align(hdrlen + mac_room).saturating_add(reserve)
}

/// The parts of a V3 RX block, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct V3Block {
    /// The block descriptor, `BLK_HDR_LEN`.
    pub header: u32,
    /// The private area: `tp_sizeof_priv` rounded up to 8.
    pub private: u32,
    /// `offset_to_first_pkt`: `BLK_PLUS_PRIV(tp_sizeof_priv)`.
    pub first_packet: u32,
    /// What is left for packets, `max_frame_len`: the most one packet and
    /// its header may take.
    pub packets: u32,
}

impl Layout {
    /// `tp_mac` of every packet of this RX ring on an Ethernet link
    /// (`SOCK_RAW`, no `PACKET_VNET_HDR`), when the kernel delivers it:
    /// `TPACKET_ALIGN(tp_hdrlen + 16) + tp_reserve - 14`, from the start of
    /// the frame (V1/V2) or of the packet's slot in its block (V3).
    pub const fn rx_mac_offset(&self) -> u32 {
        rx_net_offset(self.hdrlen(), ETH_HLEN, self.request().reserve) - ETH_HLEN
    }

    /// How each block of a V3 RX ring is divided (`prb_open_block`); `None`
    /// for other rings.
    pub const fn v3_block(&self) -> Option<V3Block> {
        let r = self.request();
        if !matches!(r.version, TpacketVersion::V3) || !matches!(r.kind, RingKind::Rx) {
            return None;
        }
        // Rule 3 keeps BLK_PLUS_PRIV(tp_sizeof_priv) within the block.
        let first_packet = blk_plus_priv(r.sizeof_priv) as u32;
        Some(V3Block {
            header: BLK_HDR_LEN as u32,
            private: first_packet - BLK_HDR_LEN as u32,
            first_packet,
            packets: r.block_size.saturating_sub(first_packet),
        })
    }

    /// The longest Ethernet frame this RX ring holds without cutting it
    /// (`SOCK_RAW`, no `PACKET_VNET_HDR`): the frame (V1/V2) or the block
    /// after its descriptor and private area (V3, `max_frame_len`) less
    /// [`Layout::rx_mac_offset`]. 0 when nothing fits, and when the network
    /// offset is past 65535 (the kernel then drops every packet).
    pub const fn rx_room(&self) -> u32 {
        let r = self.request();
        if self.is_empty() {
            return 0;
        }
        if rx_net_offset(self.hdrlen(), ETH_HLEN, r.reserve) > u16::MAX as u32 {
            return 0;
        }
        let slot = match self.v3_block() {
            Some(block) => block.packets,
            None => r.frame_size,
        };
        slot.saturating_sub(self.rx_mac_offset())
    }

    /// Where `tpacket_snd` reads a TX frame's data without
    /// `PACKET_TX_HAS_OFF`, and the smallest offset it takes with it:
    /// `tp_hdrlen - sizeof(struct sockaddr_ll)`.
    pub const fn tx_data_offset(&self) -> u32 {
        self.request().version.tx_data_offset(self.word())
    }

    /// Where the packet itself starts at the default data offset: after the
    /// `virtio_net_hdr` when the socket has `PACKET_VNET_HDR`.
    pub const fn tx_payload_offset(&self, vnet_hdr: bool) -> u32 {
        let vnet = if vnet_hdr { vnet::HEADER_LEN as u32 } else { 0 };
        self.tx_data_offset() + vnet
    }

    /// The longest packet a TX frame holds at the default data offset.
    pub const fn tx_room(&self, vnet_hdr: bool) -> u32 {
        self.frame_size()
            .saturating_sub(self.tx_payload_offset(vnet_hdr))
    }
}

/// Every frame of a TX ring sized by [`RingRequest::tx_for_mtu`] together,
/// for the standard MTU.
const TX_RING_BYTES: u32 = 2 << 20;
/// Its block size (larger when a frame is).
const TX_BLOCK_SIZE: u32 = 64 << 10;
/// Its fewest frames, and its smallest frame.
const TX_MIN_FRAMES: u32 = 64;
const TX_MIN_FRAME_SIZE: u32 = 256;

/// Smallest `TPACKET_V2` RX frame [`RingRequest::rx_frame_size_for_mtu`]
/// picks.
const RX_MIN_FRAME_SIZE: u32 = 2048;

impl RingRequest {
    /// A `TPACKET_V2` TX ring for a port with this MTU on a socket with
    /// `PACKET_VNET_HDR`: power-of-two frames that hold [`max_frame`] after
    /// the data offset and the `virtio_net_hdr`, in 64 KiB blocks (or one
    /// frame per block when a frame is larger), 2 MiB of frames for the
    /// standard MTU and at least 64 frames.
    pub const fn tx_for_mtu(mtu: u32, word: KernelWord) -> RingRequest {
        let need = TpacketVersion::V2
            .tx_data_offset(word)
            .saturating_add(vnet::HEADER_LEN as u32)
            .saturating_add(max_frame(mtu));
        let frame_size = match need.checked_next_power_of_two() {
            Some(f) if f < TX_MIN_FRAME_SIZE => TX_MIN_FRAME_SIZE,
            Some(f) => f,
            // Past 2 GiB: no block can hold it, and the rules say so.
            None => 1 << 31,
        };
        let block_size = if frame_size > TX_BLOCK_SIZE {
            frame_size
        } else {
            TX_BLOCK_SIZE
        };
        let frames = if TX_RING_BYTES / frame_size > TX_MIN_FRAMES {
            TX_RING_BYTES / frame_size
        } else {
            TX_MIN_FRAMES
        };
        let per_block = block_size / frame_size;
        RingRequest::tiled(
            TpacketVersion::V2,
            RingKind::Tx,
            block_size,
            frames.div_ceil(per_block),
            frame_size,
        )
    }

    /// The `TPACKET_V2` RX frame size for a link with this MTU: the smallest
    /// power of two, at least 2048, whose [`Layout::rx_room`] holds
    /// [`max_frame`] (with `reserve` bytes of `PACKET_RESERVE`).
    pub const fn rx_frame_size_for_mtu(mtu: u32, reserve: u32, word: KernelWord) -> u32 {
        let macoff = rx_net_offset(TpacketVersion::V2.hdrlen(word), ETH_HLEN, reserve) - ETH_HLEN;
        let need = macoff as u64 + max_frame(mtu) as u64;
        let size = if need <= RX_MIN_FRAME_SIZE as u64 {
            RX_MIN_FRAME_SIZE as u64
        } else {
            need.next_power_of_two()
        };
        if size > 1 << 31 {
            1 << 31
        } else {
            size as u32
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::geometry::PageSize;
    use proptest::prelude::*;

    const W64: KernelWord = KernelWord::Bits64;
    const W32: KernelWord = KernelWord::Bits32;

    fn rx(version: TpacketVersion, block_size: u32, frame_size: u32) -> RingRequest {
        RingRequest::tiled(version, RingKind::Rx, block_size, 2, frame_size)
    }

    fn layout(r: RingRequest) -> Layout {
        r.validate(PageSize::DEFAULT, W64).unwrap()
    }

    #[test]
    fn test_max_frame() {
        assert_eq!(max_frame(1500), 1518);
        assert_eq!(max_frame(9000), 9018);
        assert_eq!(max_frame(u32::MAX), u32::MAX);
    }

    #[test]
    fn test_rx_offsets_v1_v2() {
        // tp_hdrlen 52: MAC at TPACKET_ALIGN(52 + 16) - 14 = 66.
        for v in [TpacketVersion::V1, TpacketVersion::V2] {
            let l = layout(rx(v, 4096, 2048));
            assert_eq!(l.rx_mac_offset(), 66, "{v}");
            assert_eq!(l.rx_room(), 2048 - 66, "{v}");
        }
        // The same for a 32-bit kernel's V1 header (TPACKET_HDRLEN is 52 too).
        let l = rx(TpacketVersion::V1, 8192, 1536)
            .validate(PageSize::DEFAULT, W32)
            .unwrap();
        assert_eq!(l.rx_room(), 1536 - 66);
    }

    #[test]
    fn test_rx_reserve_moves_the_packet() {
        // The reserve is added after the alignment, not rounded.
        let mut r = rx(TpacketVersion::V2, 4096, 1024);
        r.reserve = 20;
        let l = layout(r);
        assert_eq!(l.rx_mac_offset(), 80 + 20 - 14);
        assert_eq!(l.rx_room(), 1024 - 86);
    }

    #[test]
    fn test_rx_v3_block_room() {
        // tp_hdrlen 68: MAC at TPACKET_ALIGN(84) - 14 = 82, after the
        // 48-byte block descriptor.
        let l = layout(rx(TpacketVersion::V3, 4096, 2048));
        assert_eq!(l.rx_mac_offset(), 82);
        assert_eq!(l.rx_room(), 4096 - 48 - 82);
        // The private area and the reserve both come out of the block.
        let mut r = rx(TpacketVersion::V3, 4096, 2048);
        r.sizeof_priv = 3000;
        r.reserve = 8;
        let l = layout(r);
        assert_eq!(l.rx_mac_offset(), 96 + 8 - 14);
        assert_eq!(l.rx_room(), 4096 - (48 + 3000) - 90);
        assert_eq!(
            l.v3_block(),
            Some(V3Block {
                header: 48,
                private: 3000,
                first_packet: 3048,
                packets: 1048
            })
        );
        // An unaligned private area is rounded up to 8.
        r.sizeof_priv = 3001;
        assert_eq!(layout(r).rx_room(), 4096 - (48 + 3008) - 90);
        assert_eq!(layout(r).v3_block().map(|b| b.private), Some(3008));
        // Only V3 RX rings have blocks of packets.
        assert_eq!(layout(rx(TpacketVersion::V2, 4096, 2048)).v3_block(), None);
        let tx = RingRequest::tiled(TpacketVersion::V3, RingKind::Tx, 4096, 2, 2048);
        assert_eq!(layout(tx).v3_block(), None);
    }

    #[test]
    fn test_rx_nothing_fits() {
        // A frame that only just passes rule 4 holds no packet.
        assert_eq!(layout(rx(TpacketVersion::V2, 4096, 64)).rx_room(), 0);
        // netoff past USHRT_MAX: tpacket_rcv drops every packet.
        let mut r = rx(TpacketVersion::V2, 1 << 20, 1 << 17);
        r.reserve = u32::from(u16::MAX) - 80;
        assert!(layout(r).rx_room() > 0);
        r.reserve += 1;
        assert_eq!(layout(r).rx_room(), 0);
        let free = RingRequest::new(TpacketVersion::V2, RingKind::Rx, 0, 0, 0, 0);
        assert_eq!(layout(free).rx_room(), 0);
    }

    #[test]
    fn test_tx_offsets() {
        let l = layout(RingRequest::tiled(
            TpacketVersion::V2,
            RingKind::Tx,
            4096,
            2,
            2048,
        ));
        assert_eq!(l.tx_data_offset(), 32);
        assert_eq!(l.tx_payload_offset(false), 32);
        assert_eq!(l.tx_payload_offset(true), 42);
        assert_eq!(l.tx_room(true), 2048 - 42);
        let v3 = RingRequest::tiled(TpacketVersion::V3, RingKind::Tx, 4096, 2, 2048);
        assert_eq!(layout(v3).tx_data_offset(), 48);
    }

    #[test]
    fn test_tx_for_mtu() {
        let r = RingRequest::tx_for_mtu(1500, W64);
        assert_eq!(
            (r.frame_size, r.frame_nr, r.block_size),
            (2048, 1024, 64 << 10)
        );
        let r = RingRequest::tx_for_mtu(9000, W64);
        assert_eq!((r.frame_size, r.frame_nr), (16384, 128));
        let r = RingRequest::tx_for_mtu(68, W64);
        assert_eq!((r.frame_size, r.frame_nr), (256, 8192));
        let r = RingRequest::tx_for_mtu(65535, W64);
        assert_eq!(
            (r.frame_size, r.block_size, r.frame_nr),
            (1 << 17, 1 << 17, 64)
        );
        // An impossible MTU is left for the rules to refuse, not a panic.
        let r = RingRequest::tx_for_mtu(u32::MAX, W64);
        assert!(r.validate(PageSize::DEFAULT, W64).is_err());
    }

    #[test]
    fn test_rx_frame_size_for_mtu() {
        assert_eq!(RingRequest::rx_frame_size_for_mtu(1500, 0, W64), 2048);
        assert_eq!(RingRequest::rx_frame_size_for_mtu(9000, 0, W64), 16384);
        // 2048 holds MTU 1964 (66 + 1982), not 1965.
        assert_eq!(RingRequest::rx_frame_size_for_mtu(1964, 0, W64), 2048);
        assert_eq!(RingRequest::rx_frame_size_for_mtu(1965, 0, W64), 4096);
        assert_eq!(RingRequest::rx_frame_size_for_mtu(1964, 1, W64), 4096);
        assert_eq!(
            RingRequest::rx_frame_size_for_mtu(u32::MAX, 0, W64),
            1 << 31
        );
    }

    proptest! {
        /// Every MTU's TX ring passes the kernel's rules and holds the
        /// longest frame behind the offset and the virtio header.
        #[test]
        fn prop_tx_for_mtu_holds_the_frame(mtu in 68u32..=65535, w64 in any::<bool>()) {
            let word = if w64 { W64 } else { W32 };
            let l = RingRequest::tx_for_mtu(mtu, word)
                .validate(PageSize::DEFAULT, word)
                .unwrap();
            prop_assert!(l.tx_room(true) >= max_frame(mtu));
            prop_assert!(l.frame_nr() >= TX_MIN_FRAMES);
        }

        /// The V2 frame picked for an MTU holds its longest frame, and half
        /// of it would not (unless it is the 2048-byte floor).
        #[test]
        fn prop_rx_frame_size_for_mtu(mtu in 68u32..=65535, reserve in 0u32..512) {
            let size = RingRequest::rx_frame_size_for_mtu(mtu, reserve, W64);
            let room = |frame_size: u32| {
                let mut r = RingRequest::tiled(
                    TpacketVersion::V2, RingKind::Rx, frame_size.max(4096), 1, frame_size,
                );
                r.reserve = reserve;
                r.validate(PageSize::DEFAULT, W64).map_or(0, |l| l.rx_room())
            };
            prop_assert!(room(size) >= max_frame(mtu));
            prop_assert!(size == RX_MIN_FRAME_SIZE || room(size / 2) < max_frame(mtu));
        }
    }
}
