//! The VLAN tag the kernel took out of a received frame, and putting it back.
//!
//! On receive, `__netif_receive_skb_core` strips the outer 802.1Q or 802.1ad
//! tag (`skb_vlan_untag`) before packet sockets see the frame. The ring then
//! holds the frame without those 4 bytes, and the tag's TCI and TPID travel
//! in the frame header: `tp_vlan_tci` with `TP_STATUS_VLAN_VALID`,
//! `tp_vlan_tpid` with `TP_STATUS_VLAN_TPID_VALID` (kernels before 3.14 do
//! not report the TPID; the tag is then taken as 802.1Q, as libpcap does).
//! Only the outer tag moves: an inner tag of a stacked (QinQ) frame stays in
//! the bytes, right after the MAC addresses, and a 0x9100 tag is not
//! stripped at all (both checked against the kernel by
//! `tests/tests/bpf_run.rs`). The kernel drops a tagged frame with fewer
//! than 2 bytes after the tag's EtherType (`skb_vlan_untag`).
//!
//! A bridge that forwards such a frame must put the tag back where it was,
//! between the source MAC address and the rest:
//!
//! ```text
//! ring:  | dst (6) | src (6) | type/inner tag ...       |
//! wire:  | dst (6) | src (6) | TPID (2) | TCI (2) | type/inner tag ... |
//! ```

use core::fmt;

/// TPID of an 802.1Q (customer) tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad (service, "QinQ" outer) tag.
pub const TPID_8021AD: u16 = 0x88a8;
/// Bytes of one tag on the wire: TPID and TCI.
pub const TAG_LEN: usize = 4;

/// The two MAC addresses, after which a tag goes.
const MAC_ADDRS_LEN: usize = 12;
/// An Ethernet header: the MAC addresses and the EtherType.
pub const ETH_HEADER_LEN: usize = 14;

/// A VLAN tag: its TPID and its Tag Control Information
/// (`PCP (3 bits) | DEI (1 bit) | VID (12 bits)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tag {
    /// Tag Protocol Identifier, e.g. [`TPID_8021Q`].
    pub tpid: u16,
    /// Tag Control Information.
    pub tci: u16,
}

impl Tag {
    /// The tag the kernel stripped, from the ring header fields as
    /// ringtap-linux's `FrameInfo` gives them (`vlan_tci` present when
    /// `TP_STATUS_VLAN_VALID`, `vlan_tpid` when `TP_STATUS_VLAN_TPID_VALID`).
    ///
    /// No TCI means no tag, whatever the TPID says. A TCI without a TPID
    /// comes from a kernel that predates `tp_vlan_tpid` (3.14); the TPID is
    /// then taken as 0x8100, as libpcap does. A TCI of 0 is a tag too (a
    /// priority tag, or VID 0 with PCP 0): the kernel only sets
    /// `TP_STATUS_VLAN_VALID` when it did strip one.
    pub fn from_ring(tci: Option<u16>, tpid: Option<u16>) -> Option<Tag> {
        tci.map(|tci| Tag {
            tpid: tpid.unwrap_or(TPID_8021Q),
            tci,
        })
    }

    /// VLAN identifier, the low 12 bits of the TCI (0: priority tag only).
    pub fn vid(self) -> u16 {
        self.tci & 0x0fff
    }

    /// Priority Code Point, the top 3 bits of the TCI.
    pub fn pcp(self) -> u8 {
        (self.tci >> 13) as u8
    }

    /// Drop Eligible Indicator (formerly CFI), bit 12 of the TCI.
    pub fn dei(self) -> bool {
        self.tci & 0x1000 != 0
    }

    /// The tag as it appears on the wire.
    pub fn to_bytes(self) -> [u8; TAG_LEN] {
        let [t0, t1] = self.tpid.to_be_bytes();
        let [c0, c1] = self.tci.to_be_bytes();
        [t0, t1, c0, c1]
    }
}

/// Why a frame cannot be copied with its tag restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VlanError {
    /// The frame is shorter than an Ethernet header (14 bytes).
    FrameShorterThanEthernetHeader {
        /// The frame's length.
        len: usize,
    },
    /// The destination cannot hold the frame (with its tag, if any).
    DestinationTooSmall {
        /// Bytes the copy needs.
        needed: usize,
        /// Bytes the destination has.
        room: usize,
    },
}

impl fmt::Display for VlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VlanError::FrameShorterThanEthernetHeader { len } => write!(
                f,
                "frame of {len} bytes is shorter than the {ETH_HEADER_LEN}-byte Ethernet \
                 header (MAC addresses and EtherType)"
            ),
            VlanError::DestinationTooSmall { needed, room } => write!(
                f,
                "destination holds {room} bytes but the frame needs {needed} \
                 (including a restored {TAG_LEN}-byte VLAN tag, if any)"
            ),
        }
    }
}

impl core::error::Error for VlanError {}

/// Copy an Ethernet frame as the ring holds it into `dst`, inserting `tag`
/// after the MAC addresses; returns the bytes written (`src.len()`, plus
/// [`TAG_LEN`] with a tag). One pass over the bytes, no temporary buffer.
///
/// A stacked frame comes out as it was on the wire: the restored outer tag
/// goes before the inner tag still in `src`. Without a tag the frame is
/// copied unchanged. Either way `src` must hold at least an Ethernet header:
/// a shorter frame (e.g. cut by a filter's accept length) is no frame to
/// forward.
pub fn copy_restoring(src: &[u8], tag: Option<Tag>, dst: &mut [u8]) -> Result<usize, VlanError> {
    let len = src.len();
    if len < ETH_HEADER_LEN {
        return Err(VlanError::FrameShorterThanEthernetHeader { len });
    }
    let (addrs, rest) = src.split_at(MAC_ADDRS_LEN);
    let tag_len = if tag.is_some() { TAG_LEN } else { 0 };
    // A slice never exceeds isize::MAX bytes, so this cannot overflow.
    let needed = len + tag_len;
    let room = dst.len();
    let Some(out) = dst.get_mut(..needed) else {
        return Err(VlanError::DestinationTooSmall { needed, room });
    };
    let (out_addrs, out_rest) = out.split_at_mut(MAC_ADDRS_LEN);
    out_addrs.copy_from_slice(addrs);
    let (out_tag, out_payload) = out_rest.split_at_mut(tag_len);
    if let Some(tag) = tag {
        out_tag.copy_from_slice(&tag.to_bytes());
    }
    out_payload.copy_from_slice(rest);
    Ok(needed)
}

/// The longest frame a `SOCK_RAW` packet socket may send on an Ethernet
/// device with this MTU: `mtu + 14`, or `mtu + 18` when `frame` is
/// 802.1Q-tagged.
///
/// The rule is the kernel's (`net/packet/af_packet.c`): `tpacket_snd` (TX
/// ring) and `packet_snd` (`send`) refuse with `EMSGSIZE` a frame longer than
/// `dev->mtu + reserve` (`reserve = dev->hard_header_len`, 14 for Ethernet)
/// unless `packet_extra_vlan_len_allowed(dev, skb)`, which holds only on an
/// `ARPHRD_ETHER` device whose frame has `h_proto == htons(ETH_P_8021Q)` at
/// offset 12; then `VLAN_HLEN` (4) more are allowed (`tpacket_snd` also caps
/// `size_max` at `mtu + reserve + VLAN_HLEN`). An 802.1ad (0x88a8) outer tag
/// gets no allowance, so a QinQ frame must fit `mtu + 14`.
///
/// The TX ring's frame size (`tpacket_parse_header`: `tp_len > size_max`)
/// is a separate limit and not considered here.
pub fn max_tx_len(mtu: u32, frame: &[u8]) -> usize {
    let base = usize::try_from(mtu)
        .unwrap_or(usize::MAX)
        .saturating_add(ETH_HEADER_LEN);
    let tagged = frame.get(MAC_ADDRS_LEN..ETH_HEADER_LEN) == Some(&TPID_8021Q.to_be_bytes()[..]);
    if tagged {
        base.saturating_add(TAG_LEN)
    } else {
        base
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const DST: [u8; 6] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    const SRC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];

    /// An ARP request as the ring holds it, 802.1Q VID 10 stripped.
    const ARP_UNTAGGED: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x08,
        0x06, // eth
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02, // target
    ];

    /// The same ARP request on the wire.
    const ARP_TAGGED: [u8; 46] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, // MACs
        0x81, 0x00, 0x00, 0x0a, // 802.1Q, PCP 0, VID 10
        0x08, 0x06, // ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    ];

    fn restored(src: &[u8], tag: Option<Tag>) -> Result<Vec<u8>, VlanError> {
        let mut dst = vec![0xee; src.len() + 8];
        let n = copy_restoring(src, tag, &mut dst)?;
        // Nothing past the returned length is touched.
        assert!(dst[n..].iter().all(|&b| b == 0xee));
        dst.truncate(n);
        Ok(dst)
    }

    fn frame(after_macs: &[u8]) -> Vec<u8> {
        [&DST[..], &SRC[..], after_macs].concat()
    }

    #[test]
    fn test_from_ring() {
        assert_eq!(Tag::from_ring(None, None), None);
        assert_eq!(Tag::from_ring(None, Some(TPID_8021AD)), None);
        assert_eq!(
            Tag::from_ring(Some(10), None),
            Some(Tag {
                tpid: 0x8100,
                tci: 10
            })
        );
        assert_eq!(
            Tag::from_ring(Some(0), Some(0x88a8)),
            Some(Tag {
                tpid: 0x88a8,
                tci: 0
            })
        );
    }

    #[test]
    fn test_tci_fields() {
        // PCP 5, DEI set, VID 4094.
        let tag = Tag {
            tpid: TPID_8021Q,
            tci: 0xbffe,
        };
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (5, true, 4094));
        let priority = Tag {
            tpid: TPID_8021Q,
            tci: 0x6000,
        };
        assert_eq!(
            (priority.pcp(), priority.dei(), priority.vid()),
            (3, false, 0)
        );
        assert_eq!(priority.to_bytes(), [0x81, 0x00, 0x60, 0x00]);
    }

    #[test]
    fn test_restore_8021q_golden() {
        let tag = Tag::from_ring(Some(10), Some(TPID_8021Q));
        assert_eq!(restored(&ARP_UNTAGGED, tag).unwrap(), ARP_TAGGED);
    }

    #[test]
    fn test_untagged_copies_unchanged() {
        assert_eq!(restored(&ARP_UNTAGGED, None).unwrap(), ARP_UNTAGGED);
        assert_eq!(
            restored(&ARP_UNTAGGED[..14], None).unwrap(),
            &ARP_UNTAGGED[..14]
        );
    }

    #[test]
    fn test_restore_priority_tag() {
        // VID 0, PCP 6: the tag goes back as it was, not dropped.
        let ring = frame(&[0x08, 0x00, 0x45, 0x00]);
        let wire = frame(&[0x81, 0x00, 0xc0, 0x00, 0x08, 0x00, 0x45, 0x00]);
        let tag = Tag::from_ring(Some(0xc000), Some(TPID_8021Q));
        assert_eq!(restored(&ring, tag).unwrap(), wire);
        // TCI 0 is still a tag.
        let wire0 = frame(&[0x81, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45, 0x00]);
        assert_eq!(
            restored(&ring, Tag::from_ring(Some(0), None)).unwrap(),
            wire0
        );
    }

    #[test]
    fn test_restore_stacked() {
        // 802.1ad VID 200 outside 802.1Q VID 10: the kernel strips the outer
        // tag only; the inner one is still in the ring's bytes.
        let ring = frame(&[0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60]);
        let wire = frame(&[
            0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60,
        ]);
        let tag = Tag::from_ring(Some(200), Some(TPID_8021AD));
        assert_eq!(restored(&ring, tag).unwrap(), wire);
    }

    #[test]
    fn test_impossible_len() {
        let tag = Tag::from_ring(Some(1), None);
        for len in [0, 1, 12, 13] {
            let mut dst = [0u8; 64];
            assert_eq!(
                copy_restoring(&ARP_UNTAGGED[..len], tag, &mut dst),
                Err(VlanError::FrameShorterThanEthernetHeader { len })
            );
            assert_eq!(
                copy_restoring(&ARP_UNTAGGED[..len], None, &mut dst),
                Err(VlanError::FrameShorterThanEthernetHeader { len })
            );
        }
        let mut small = [0u8; 45];
        assert_eq!(
            copy_restoring(&ARP_UNTAGGED, tag, &mut small),
            Err(VlanError::DestinationTooSmall {
                needed: 46,
                room: 45
            })
        );
        // Exactly enough room is enough.
        let mut exact = [0u8; 46];
        assert_eq!(copy_restoring(&ARP_UNTAGGED, tag, &mut exact), Ok(46));
        assert_eq!(
            copy_restoring(&ARP_UNTAGGED, None, &mut small[..41]),
            Err(VlanError::DestinationTooSmall {
                needed: 42,
                room: 41
            })
        );
    }

    #[test]
    fn test_error_display() {
        assert_eq!(
            std::format!("{}", VlanError::FrameShorterThanEthernetHeader { len: 9 }),
            "frame of 9 bytes is shorter than the 14-byte Ethernet header \
             (MAC addresses and EtherType)"
        );
        assert_eq!(
            std::format!(
                "{}",
                VlanError::DestinationTooSmall {
                    needed: 1518,
                    room: 1514
                }
            ),
            "destination holds 1514 bytes but the frame needs 1518 \
             (including a restored 4-byte VLAN tag, if any)"
        );
    }

    #[test]
    fn test_max_tx_len() {
        assert_eq!(max_tx_len(1500, &ARP_UNTAGGED), 1514);
        assert_eq!(max_tx_len(1500, &ARP_TAGGED), 1518);
        // 802.1ad gets no allowance in packet_extra_vlan_len_allowed.
        let qinq = frame(&[0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x00, 0x0a]);
        assert_eq!(max_tx_len(1500, &qinq), 1514);
        assert_eq!(max_tx_len(9000, &ARP_TAGGED), 9018);
        // Too short to carry an EtherType: no tag, no allowance.
        assert_eq!(max_tx_len(1500, &ARP_TAGGED[..13]), 1514);
        assert_eq!(
            max_tx_len(u32::MAX, &ARP_TAGGED),
            (u32::MAX as usize).saturating_add(18)
        );
    }
}
