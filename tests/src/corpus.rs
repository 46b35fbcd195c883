//! A corpus of Ethernet frames of every kind a bridge must carry unchanged:
//! untagged IPv4/IPv6 TCP/UDP/ICMP, ARP, LLDP, broadcast, unusual
//! EtherTypes, 802.1Q tags with several VIDs and priorities, priority tags
//! (VID 0), 802.1ad + 802.1Q stacks, minimum-size and MTU-size frames.
//!
//! Every frame carries a sequence number in its last four bytes, so a
//! receiver can tell order and loss apart.

/// Source MAC of frames the filter tests select.
pub const MARKED_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const BROADCAST: [u8; 6] = [0xff; 6];
const LLDP_DST: [u8; 6] = [0x01, 0x80, 0xc2, 0, 0, 0x0e];

/// One VLAN tag on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Tag {
    /// 0x8100 or 0x88a8.
    pub tpid: u16,
    /// Priority (0..7).
    pub pcp: u8,
    /// VLAN id (0 = priority tag).
    pub vid: u16,
}

/// What sits behind the Ethernet header (and tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// IPv4 + TCP.
    Ipv4Tcp,
    /// IPv4 + UDP.
    Ipv4Udp,
    /// IPv4 + ICMP echo.
    Ipv4Icmp,
    /// IPv6 + TCP.
    Ipv6Tcp,
    /// IPv6 + UDP.
    Ipv6Udp,
    /// IPv6 + ICMPv6 echo.
    Ipv6Icmp,
    /// ARP request.
    Arp,
    /// LLDP.
    Lldp,
    /// An EtherType nobody handles.
    Other(u16),
}

/// Build one frame of exactly `len` bytes (at least 60, and large enough
/// for its headers plus the 4-byte sequence number).
pub fn build(
    seq: u32,
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[Tag],
    payload: Payload,
    len: usize,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for t in tags {
        f.extend_from_slice(&t.tpid.to_be_bytes());
        let tci = (u16::from(t.pcp) << 13) | (t.vid & 0x0fff);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    let ethertype = match payload {
        Payload::Ipv4Tcp | Payload::Ipv4Udp | Payload::Ipv4Icmp => 0x0800,
        Payload::Ipv6Tcp | Payload::Ipv6Udp | Payload::Ipv6Icmp => 0x86dd,
        Payload::Arp => 0x0806,
        Payload::Lldp => 0x88cc,
        Payload::Other(t) => t,
    };
    f.extend_from_slice(&u16::to_be_bytes(ethertype));
    let l3 = f.len();
    // 46 bytes hold the largest fixed header here (IPv6, 40) and the
    // sequence number, and make an untagged frame the 60-byte minimum.
    let body = len.max(60).saturating_sub(l3).max(46);
    let mut rest = vec![0u8; body.max(64)];
    let mut x = seq.wrapping_mul(2_654_435_761) | 1;
    for b in rest.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    match payload {
        Payload::Ipv4Tcp | Payload::Ipv4Udp | Payload::Ipv4Icmp => {
            let proto = match payload {
                Payload::Ipv4Tcp => 6,
                Payload::Ipv4Udp => 17,
                _ => 1,
            };
            let total = body as u16;
            rest[..20].copy_from_slice(&[
                0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ]);
            rest[2..4].copy_from_slice(&total.to_be_bytes());
            let c = ringtap_core::checksum::internet(&rest[..20]);
            rest[10..12].copy_from_slice(&c.to_be_bytes());
        }
        Payload::Ipv6Tcp | Payload::Ipv6Udp | Payload::Ipv6Icmp => {
            let next = match payload {
                Payload::Ipv6Tcp => 6,
                Payload::Ipv6Udp => 17,
                _ => 58,
            };
            rest[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, next, 64]);
            rest[4..6].copy_from_slice(&((body - 40) as u16).to_be_bytes());
            rest[8..24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            rest[24..40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        }
        Payload::Arp => {
            rest[..28].copy_from_slice(&[
                0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0,
                2,
            ]);
        }
        Payload::Lldp | Payload::Other(_) => {}
    }
    rest.truncate(body);
    f.extend_from_slice(&rest);
    let n = f.len();
    f[n - 4..].copy_from_slice(&seq.to_be_bytes());
    f
}

/// The sequence number of a corpus frame.
pub fn seq_of(frame: &[u8]) -> Option<u32> {
    let n = frame.len();
    Some(u32::from_be_bytes(
        frame.get(n.checked_sub(4)?..)?.try_into().ok()?,
    ))
}

/// At least `count` frames for links with this MTU, in a fixed order that
/// cycles through every kind, size and tagging.
pub fn corpus(count: usize, mtu: usize) -> Vec<Vec<u8>> {
    let q = |vid, pcp| Tag {
        tpid: 0x8100,
        pcp,
        vid,
    };
    let ad = |vid| Tag {
        tpid: 0x88a8,
        pcp: 3,
        vid,
    };
    let payloads = [
        Payload::Ipv4Tcp,
        Payload::Ipv4Udp,
        Payload::Ipv4Icmp,
        Payload::Ipv6Tcp,
        Payload::Ipv6Udp,
        Payload::Ipv6Icmp,
        Payload::Arp,
        Payload::Other(0x88b5),
        Payload::Other(0x1234),
        Payload::Other(0xffff),
    ];
    let taggings: [&[Tag]; 7] = [
        &[],
        &[q(1, 0)],
        &[q(100, 5)],
        &[q(4094, 7)],
        &[q(0, 6)],
        &[ad(200), q(10, 1)],
        &[ad(4000), q(0, 4)],
    ];
    let mut out = Vec::new();
    let mut seq = 0u32;
    while out.len() < count {
        for (i, payload) in payloads.iter().enumerate() {
            let tags = taggings[(seq as usize + i) % taggings.len()];
            let untagged_max = mtu + 14;
            // MTU-size: the kernel lets a single 802.1Q tag exceed the
            // MTU by 4 bytes, nothing else.
            let max = if tags.len() == 1 && tags[0].tpid == 0x8100 {
                untagged_max + 4
            } else {
                untagged_max
            };
            let len = match seq % 5 {
                0 => 60,
                1 => 1514.min(max),
                2 => max,
                3 => 64 + (seq as usize * 37) % 400,
                _ => 100 + (seq as usize * 997) % (max - 100),
            };
            let src = if seq.is_multiple_of(3) {
                MARKED_SRC
            } else {
                SRC
            };
            let dst = if seq.is_multiple_of(4) {
                BROADCAST
            } else {
                DST
            };
            out.push(build(seq, dst, src, tags, *payload, len));
            seq += 1;
        }
        // LLDP (link-local multicast) once per round.
        out.push(build(seq, LLDP_DST, SRC, &[], Payload::Lldp, 120));
        seq += 1;
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_corpus_shapes() {
        let c = corpus(500, 9000);
        assert!(c.len() >= 500);
        assert!(c.iter().any(|f| f.len() == 60));
        assert!(c.iter().any(|f| f.len() == 9014));
        assert!(c.iter().any(|f| f.len() == 9018 && f[12..14] == [0x81, 0]));
        assert!(c
            .iter()
            .any(|f| f[12..14] == [0x88, 0xa8] && f[16..18] == [0x81, 0]));
        assert!(c
            .iter()
            .any(|f| f[12..14] == [0x81, 0] && f[14..16] == [0xc0, 0]));
        assert!(c.iter().any(|f| f[0..6] == LLDP_DST));
        for (i, f) in c.iter().enumerate() {
            assert_eq!(seq_of(f), Some(i as u32));
            assert!(f.len() >= 60 && f.len() <= 9018, "{}", f.len());
        }
    }
}
