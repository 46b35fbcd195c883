//! Completing the TCP or UDP checksum of a frame the local stack left
//! partial (`TP_STATUS_CSUMNOTREADY`).
//!
//! A frame the local stack sends on a device with checksum offload (veth
//! has it on by default) carries `CHECKSUM_PARTIAL`: the TCP or UDP checksum
//! field holds only the folded pseudo-header sum, and the device was to
//! finish the job. A packet socket that sees such a frame reports
//! `TP_STATUS_CSUMNOTREADY`. A bridge that sends it out of another device
//! through a packet socket must complete the checksum first: the kernel does
//! not, for frames it gets from user space.
//!
//! [`complete`] recomputes the checksum from scratch (RFC 1071 one's
//! complement sum over the pseudo-header and the whole segment), so it does
//! not matter what the field held. [`verify`] checks one.
//!
//! What is found where, from the start of the Ethernet frame:
//!
//! * up to [`MAX_VLAN_TAGS`] VLAN tags (TPID 0x8100, 0x88a8 or 0x9100),
//!   whether the kernel stripped the outer one or it was put back;
//! * IPv4 (not a fragment; header checksum left alone) or IPv6, whose
//!   hop-by-hop, routing (with no segments left) and destination options
//!   headers are skipped;
//! * the segment: its length comes from the IP header (UDP: its own length
//!   field), never from the frame, so Ethernet padding is not summed.
//!
//! The sum adds 64-bit words with end-around carry in the CPU's byte order
//! and swaps once at the end (one's complement addition commutes with byte
//! swapping, RFC 1071 section 2), so a 1500-byte frame costs about 190
//! additions.

use core::fmt;

/// The most VLAN tags skipped before the IP header.
pub const MAX_VLAN_TAGS: usize = 4;

const ETH_HEADER_LEN: usize = 14;
const ETHERTYPE_OFFSET: usize = 12;
const VLAN_TAG_LEN: usize = 4;
const TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

const PROTO_HOP_BY_HOP: u8 = 0;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ROUTING: u8 = 43;
const PROTO_FRAGMENT: u8 = 44;
const PROTO_DEST_OPTS: u8 = 60;

mod ipv4 {
    pub const MIN_HEADER_LEN: usize = 20;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAGMENT: usize = 6;
    pub const PROTOCOL: usize = 9;
    pub const ADDRS: core::ops::Range<usize> = 12..20;
    /// More Fragments and the fragment offset.
    pub const FRAGMENT_MASK: u16 = 0x3fff;
}

mod ipv6 {
    pub const HEADER_LEN: usize = 40;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const ADDRS: core::ops::Range<usize> = 8..40;
    /// Next header, length, and (routing) type and segments left.
    pub const EXT_SEGMENTS_LEFT: usize = 3;
}

mod tcp {
    pub const MIN_HEADER_LEN: usize = 20;
    pub const CHECKSUM: usize = 16;
}

mod udp {
    pub const HEADER_LEN: usize = 8;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// The transport protocol whose checksum was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Transport {
    fn checksum_offset(self) -> usize {
        match self {
            Transport::Tcp => tcp::CHECKSUM,
            Transport::Udp => udp::CHECKSUM,
        }
    }
}

/// A header that ends before its fields do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Header {
    /// The Ethernet header.
    Ethernet,
    /// A VLAN tag.
    Vlan,
    /// The IPv4 header (fixed part, or with its options).
    Ipv4,
    /// The IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// The TCP header.
    Tcp,
    /// The UDP header.
    Udp,
}

impl Header {
    fn name(self) -> &'static str {
        match self {
            Header::Ethernet => "Ethernet header",
            Header::Vlan => "VLAN tag",
            Header::Ipv4 => "IPv4 header",
            Header::Ipv6 => "IPv6 header",
            Header::Ipv6Extension => "IPv6 extension header",
            Header::Tcp => "TCP header",
            Header::Udp => "UDP header",
        }
    }
}

/// Why a frame's TCP or UDP checksum cannot be computed or checked.
/// Offsets count bytes from the start of the Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChecksumError {
    /// A header runs past the end of the frame (or, for an IPv6 extension
    /// header or the transport header, past the end of the IP payload).
    Truncated {
        /// Which header.
        header: Header,
        /// Where it starts.
        offset: usize,
        /// Where it would end.
        needed: usize,
        /// Where the frame (or IP payload) ends.
        end: usize,
    },
    /// More than [`MAX_VLAN_TAGS`] VLAN tags.
    TooManyVlanTags,
    /// The EtherType after the tags is neither IPv4 (0x0800) nor IPv6
    /// (0x86dd).
    NotIp {
        /// The EtherType.
        ethertype: u16,
    },
    /// The IP version field disagrees with the EtherType.
    WrongIpVersion {
        /// The version the EtherType announces.
        expected: u8,
        /// The version field.
        found: u8,
    },
    /// An IPv4 header length (IHL) below 5 words.
    BadIpv4HeaderLength {
        /// The IHL field, in 32-bit words.
        ihl: u8,
    },
    /// An IPv4 total length shorter than its own header.
    BadIpv4TotalLength {
        /// The total length field.
        total_len: u16,
        /// The header length from IHL.
        header_len: usize,
    },
    /// The IP header claims more bytes than the frame holds.
    IpLengthBeyondFrame {
        /// Where the IP packet would end.
        ip_end: usize,
        /// Where the frame ends.
        frame_len: usize,
    },
    /// A fragment: the segment is not all in this frame.
    Fragment,
    /// An IPv6 routing header with segments left: the pseudo-header would
    /// need the final destination, which is not the IPv6 destination field.
    RoutingSegmentsLeft {
        /// The segments left field.
        segments_left: u8,
    },
    /// The IP payload is neither TCP nor UDP.
    NotTcpOrUdp {
        /// The IP protocol / IPv6 next header.
        protocol: u8,
    },
    /// A UDP length field below 8 or beyond the IP payload.
    BadUdpLength {
        /// The UDP length field.
        udp_len: u16,
        /// Bytes of IP payload.
        ip_payload_len: usize,
    },
}

impl fmt::Display for ChecksumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChecksumError::Truncated {
                header,
                offset,
                needed,
                end,
            } => write!(
                f,
                "the {} at offset {offset} needs bytes up to {needed}, but the {} ends at {end}",
                header.name(),
                match header {
                    Header::Ipv6Extension | Header::Tcp | Header::Udp => "IP payload",
                    _ => "frame",
                }
            ),
            ChecksumError::TooManyVlanTags => write!(
                f,
                "more than {MAX_VLAN_TAGS} VLAN tags (0x8100, 0x88a8, 0x9100) before the IP header"
            ),
            ChecksumError::NotIp { ethertype } => write!(
                f,
                "EtherType {ethertype:#06x} is neither IPv4 (0x0800) nor IPv6 (0x86dd): no TCP or \
                 UDP checksum to compute"
            ),
            ChecksumError::WrongIpVersion { expected, found } => write!(
                f,
                "IP version field is {found} but the EtherType announces IPv{expected}"
            ),
            ChecksumError::BadIpv4HeaderLength { ihl } => write!(
                f,
                "IPv4 header length (IHL) is {ihl} words: at least 5 (20 bytes) is required"
            ),
            ChecksumError::BadIpv4TotalLength {
                total_len,
                header_len,
            } => write!(
                f,
                "IPv4 total length {total_len} is shorter than the {header_len}-byte header"
            ),
            ChecksumError::IpLengthBeyondFrame { ip_end, frame_len } => write!(
                f,
                "the IP header says the packet ends at byte {ip_end} of the frame, but the frame \
                 has {frame_len} bytes (truncated capture?)"
            ),
            ChecksumError::Fragment => f.write_str(
                "IP fragment: the checksum covers the whole datagram, which this frame does not hold",
            ),
            ChecksumError::RoutingSegmentsLeft { segments_left } => write!(
                f,
                "IPv6 routing header with {segments_left} segments left: the pseudo-header \
                 needs the final destination, not the IPv6 destination field"
            ),
            ChecksumError::NotTcpOrUdp { protocol } => write!(
                f,
                "IP protocol {protocol} is neither TCP (6) nor UDP (17)"
            ),
            ChecksumError::BadUdpLength {
                udp_len,
                ip_payload_len,
            } => write!(
                f,
                "UDP length {udp_len} must be at least 8 and at most the {ip_payload_len}-byte IP \
                 payload"
            ),
        }
    }
}

impl core::error::Error for ChecksumError {}

/// Where the segment is and what the pseudo-header adds to its sum.
#[derive(Debug, Clone, Copy)]
struct Segment {
    transport: Transport,
    start: usize,
    end: usize,
    /// The pseudo-header's one's complement sum, in [`add_bytes`] lanes.
    pseudo_sum: u64,
    /// UDP over IPv4 may send 0 for "no checksum"; over IPv6 it may not.
    zero_means_none: bool,
}

fn be16(frame: &[u8], offset: usize) -> Option<u16> {
    let bytes = frame.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

fn byte(frame: &[u8], offset: usize) -> Option<u8> {
    frame.get(offset).copied()
}

/// `frame[offset..offset + len]`, or the error naming `header`.
fn need(
    frame: &[u8],
    header: Header,
    offset: usize,
    len: usize,
    end: usize,
) -> Result<&[u8], ChecksumError> {
    let needed = offset.saturating_add(len);
    let truncated = ChecksumError::Truncated {
        header,
        offset,
        needed,
        end,
    };
    if needed > end {
        return Err(truncated);
    }
    frame.get(offset..needed).ok_or(truncated)
}

/// Adds `bytes` to a one's complement sum whose 16-bit lanes are in the
/// CPU's byte order: 8 bytes at a time with end-around carry, then the tail
/// (an odd last byte is the high byte of a zero-padded word).
fn add_bytes(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut add_word = |word: [u8; 8]| {
        let (sum, carry) = acc.overflowing_add(u64::from_ne_bytes(word));
        acc = sum + u64::from(carry);
    };
    let mut words = bytes.chunks_exact(8);
    for chunk in words.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        add_word(word);
    }
    // The tail starts on a word boundary, so zero-padding it keeps every
    // byte in its 16-bit lane, and an odd last byte becomes the high byte
    // of a zero-padded word, as RFC 1071 wants.
    let rest = words.remainder();
    let mut word = [0u8; 8];
    if let Some(head) = word.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    add_word(word);
    acc
}

/// A 16-bit big-endian value as a lane of [`add_bytes`].
fn lane(value: u16) -> u64 {
    u64::from(u16::from_ne_bytes(value.to_be_bytes()))
}

/// Folds the accumulator to 16 bits (still in CPU lane order).
fn fold(acc: u64) -> u16 {
    let mut s = (acc & 0xffff_ffff) + (acc >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Skips the VLAN tags; returns the EtherType after them and where the
/// network header starts.
fn skip_vlan_tags(frame: &[u8]) -> Result<(u16, usize), ChecksumError> {
    let len = frame.len();
    need(frame, Header::Ethernet, 0, ETH_HEADER_LEN, len)?;
    let mut ethertype_at = ETHERTYPE_OFFSET;
    for _ in 0..=MAX_VLAN_TAGS {
        let ethertype = be16(frame, ethertype_at).unwrap_or(0);
        let payload = ethertype_at + 2;
        if !TPIDS.contains(&ethertype) {
            return Ok((ethertype, payload));
        }
        need(frame, Header::Vlan, ethertype_at, VLAN_TAG_LEN + 2, len)?;
        ethertype_at += VLAN_TAG_LEN;
    }
    Err(ChecksumError::TooManyVlanTags)
}

fn check_version(frame: &[u8], ip: usize, expected: u8) -> Result<(), ChecksumError> {
    let found = byte(frame, ip).unwrap_or(0) >> 4;
    if found == expected {
        Ok(())
    } else {
        Err(ChecksumError::WrongIpVersion { expected, found })
    }
}

/// The IP packet's end, if the frame holds it.
fn ip_end(frame: &[u8], start: usize, len: usize) -> Result<usize, ChecksumError> {
    let ip_end = start.saturating_add(len);
    if ip_end > frame.len() {
        return Err(ChecksumError::IpLengthBeyondFrame {
            ip_end,
            frame_len: frame.len(),
        });
    }
    Ok(ip_end)
}

/// The transport segment, its length decided by the IP header and, for
/// UDP, by its own length field.
fn transport_segment(
    frame: &[u8],
    protocol: u8,
    start: usize,
    end: usize,
) -> Result<(Transport, usize), ChecksumError> {
    match protocol {
        PROTO_TCP => {
            need(frame, Header::Tcp, start, tcp::MIN_HEADER_LEN, end)?;
            Ok((Transport::Tcp, end))
        }
        PROTO_UDP => {
            need(frame, Header::Udp, start, udp::HEADER_LEN, end)?;
            let udp_len = be16(frame, start + udp::LENGTH).unwrap_or(0);
            let ip_payload_len = end - start;
            let len = usize::from(udp_len);
            if len < udp::HEADER_LEN || len > ip_payload_len {
                return Err(ChecksumError::BadUdpLength {
                    udp_len,
                    ip_payload_len,
                });
            }
            Ok((Transport::Udp, start + len))
        }
        protocol => Err(ChecksumError::NotTcpOrUdp { protocol }),
    }
}

fn locate_ipv4(frame: &[u8], ip: usize) -> Result<Segment, ChecksumError> {
    let fixed = need(frame, Header::Ipv4, ip, ipv4::MIN_HEADER_LEN, frame.len())?;
    check_version(frame, ip, 4)?;
    let ihl = fixed.first().copied().unwrap_or(0) & 0x0f;
    let header_len = usize::from(ihl) * 4;
    if header_len < ipv4::MIN_HEADER_LEN {
        return Err(ChecksumError::BadIpv4HeaderLength { ihl });
    }
    need(frame, Header::Ipv4, ip, header_len, frame.len())?;
    let total_len = be16(frame, ip + ipv4::TOTAL_LEN).unwrap_or(0);
    if usize::from(total_len) < header_len {
        return Err(ChecksumError::BadIpv4TotalLength {
            total_len,
            header_len,
        });
    }
    let end = ip_end(frame, ip, usize::from(total_len))?;
    if be16(frame, ip + ipv4::FLAGS_FRAGMENT).unwrap_or(0) & ipv4::FRAGMENT_MASK != 0 {
        return Err(ChecksumError::Fragment);
    }
    let protocol = byte(frame, ip + ipv4::PROTOCOL).unwrap_or(0);
    let start = ip + header_len;
    let (transport, end) = transport_segment(frame, protocol, start, end)?;
    let addrs = frame
        .get(ip + ipv4::ADDRS.start..ip + ipv4::ADDRS.end)
        .unwrap_or(&[]);
    // src, dst, zero, protocol, segment length (fits: at most total_len).
    let pseudo_sum = add_bytes(0, addrs) + lane(u16::from(protocol)) + lane((end - start) as u16);
    Ok(Segment {
        transport,
        start,
        end,
        pseudo_sum,
        zero_means_none: transport == Transport::Udp,
    })
}

fn locate_ipv6(frame: &[u8], ip: usize) -> Result<Segment, ChecksumError> {
    need(frame, Header::Ipv6, ip, ipv6::HEADER_LEN, frame.len())?;
    check_version(frame, ip, 6)?;
    let payload_len = be16(frame, ip + ipv6::PAYLOAD_LEN).unwrap_or(0);
    let payload = ip + ipv6::HEADER_LEN;
    let end = ip_end(frame, payload, usize::from(payload_len))?;
    let mut next = byte(frame, ip + ipv6::NEXT_HEADER).unwrap_or(0);
    let mut start = payload;
    // Each extension header is at least 8 bytes, so this ends.
    while matches!(
        next,
        PROTO_HOP_BY_HOP | PROTO_ROUTING | PROTO_DEST_OPTS | PROTO_FRAGMENT
    ) {
        if next == PROTO_FRAGMENT {
            return Err(ChecksumError::Fragment);
        }
        let head = need(frame, Header::Ipv6Extension, start, 2, end)?;
        let ext_len = (usize::from(head.get(1).copied().unwrap_or(0)) + 1) * 8;
        need(frame, Header::Ipv6Extension, start, ext_len, end)?;
        if next == PROTO_ROUTING {
            let segments_left = byte(frame, start + ipv6::EXT_SEGMENTS_LEFT).unwrap_or(0);
            if segments_left != 0 {
                return Err(ChecksumError::RoutingSegmentsLeft { segments_left });
            }
        }
        next = head.first().copied().unwrap_or(0);
        start += ext_len;
    }
    let (transport, end) = transport_segment(frame, next, start, end)?;
    let addrs = frame
        .get(ip + ipv6::ADDRS.start..ip + ipv6::ADDRS.end)
        .unwrap_or(&[]);
    // src, dst, 32-bit upper-layer length, 3 zero bytes, next header.
    let seg_len = (end - start) as u32;
    let pseudo_sum = add_bytes(0, addrs)
        + lane((seg_len >> 16) as u16)
        + lane(seg_len as u16)
        + lane(u16::from(next));
    Ok(Segment {
        transport,
        start,
        end,
        pseudo_sum,
        zero_means_none: false,
    })
}

fn locate(frame: &[u8]) -> Result<Segment, ChecksumError> {
    let (ethertype, ip) = skip_vlan_tags(frame)?;
    match ethertype {
        ETHERTYPE_IPV4 => locate_ipv4(frame, ip),
        ETHERTYPE_IPV6 => locate_ipv6(frame, ip),
        ethertype => Err(ChecksumError::NotIp { ethertype }),
    }
}

/// Recomputes the TCP or UDP checksum of an Ethernet frame in place, from
/// scratch: whatever the field held (the pseudo-header sum of a
/// `CHECKSUM_PARTIAL` frame, garbage, a valid checksum) is replaced.
///
/// The segment length comes from the IP header, not the frame, so Ethernet
/// padding is excluded. Up to [`MAX_VLAN_TAGS`] VLAN tags (0x8100, 0x88a8,
/// 0x9100) are skipped; so are IPv6 hop-by-hop, routing (no segments left)
/// and destination options headers. A UDP result of 0 is sent as 0xffff
/// (RFC 768; 0 would mean "no checksum"). The IPv4 header checksum is left
/// alone. On error the frame is unchanged.
pub fn complete(frame: &mut [u8]) -> Result<Transport, ChecksumError> {
    let seg = locate(frame)?;
    let field = seg.start + seg.transport.checksum_offset();
    let beyond = ChecksumError::IpLengthBeyondFrame {
        ip_end: seg.end,
        frame_len: frame.len(),
    };
    let slot = frame.get_mut(field..field + 2).ok_or(beyond)?;
    slot.copy_from_slice(&[0, 0]);
    let segment = frame.get(seg.start..seg.end).ok_or(beyond)?;
    let mut checksum = !fold(add_bytes(seg.pseudo_sum, segment));
    if checksum == 0 && seg.transport == Transport::Udp {
        checksum = 0xffff;
    }
    let slot = frame.get_mut(field..field + 2).ok_or(beyond)?;
    slot.copy_from_slice(&checksum.to_ne_bytes());
    Ok(seg.transport)
}

/// Whether the TCP or UDP checksum of the frame is valid. UDP over IPv4
/// with checksum 0 ("none sent") counts as valid; over IPv6 it does not
/// (RFC 8200 section 8.1).
pub fn verify(frame: &[u8]) -> Result<bool, ChecksumError> {
    let seg = locate(frame)?;
    let segment = frame
        .get(seg.start..seg.end)
        .ok_or(ChecksumError::IpLengthBeyondFrame {
            ip_end: seg.end,
            frame_len: frame.len(),
        })?;
    let field = seg.transport.checksum_offset();
    let stored = segment.get(field..field + 2).unwrap_or(&[]);
    if stored == [0, 0] && seg.transport == Transport::Udp {
        return Ok(seg.zero_means_none);
    }
    Ok(fold(add_bytes(seg.pseudo_sum, segment)) == 0xffff)
}

/// The Internet checksum of `bytes` (RFC 1071): the one's complement of
/// their one's complement sum (an odd last byte padded with zero), as the
/// number to store big-endian. Over an IPv4 header whose checksum field is
/// 0 it is the header checksum; over a header holding its right checksum
/// it is 0.
pub fn internet(bytes: &[u8]) -> u16 {
    u16::from_be_bytes((!fold(add_bytes(0, bytes))).to_ne_bytes())
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    // Frames captured with tcpdump on a veth pair (Linux 6.18) while Python
    // sent UDP datagrams and TCP SYNs between two namespaces, and the RST
    // answers. `*_FULL`: transmit checksum offload off, so the kernel
    // computed the checksum. `*_PARTIAL`: offload on, captured on the
    // sending side, so the field holds the pseudo-header sum
    // (CHECKSUM_PARTIAL); tcpdump -vv named the correct value, which the
    // tests expect.

    const UDP4_FULL: [u8; 50] = [
        0x4e, 0xe5, 0x79, 0xc9, 0x4e, 0x9f, 0x8a, 0xa2, 0xa1, 0x81, 0x09, 0x2a, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x24, 0xa3, 0xe3, 0x40, 0x00, 0x40, 0x11, 0x82, 0xe3, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0xee, 0x1f, 0x00, 0x35, 0x00, 0x10, 0x38, 0x23, 0x72, 0x69, 0x6e,
        0x67, 0x74, 0x61, 0x70, 0x21,
    ];
    /// One byte of UDP payload: the segment has an odd length.
    const UDP4_ODD_FULL: [u8; 43] = [
        0x4e, 0xe5, 0x79, 0xc9, 0x4e, 0x9f, 0x8a, 0xa2, 0xa1, 0x81, 0x09, 0x2a, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x1d, 0xa3, 0xe4, 0x40, 0x00, 0x40, 0x11, 0x82, 0xe9, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0x9c, 0x43, 0x00, 0x09, 0x00, 0x09, 0xd7, 0x8c, 0x78,
    ];
    const UDP6_FULL: [u8; 70] = [
        0x4e, 0xe5, 0x79, 0xc9, 0x4e, 0x9f, 0x8a, 0xa2, 0xa1, 0x81, 0x09, 0x2a, 0x86, 0xdd, 0x60,
        0x0e, 0x1c, 0xe0, 0x00, 0x10, 0x11, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9d, 0xd0, 0x00, 0x35, 0x00, 0x10,
        0xa2, 0x5b, 0x72, 0x69, 0x6e, 0x67, 0x74, 0x61, 0x70, 0x36,
    ];
    const TCP4_FULL: [u8; 74] = [
        0x4e, 0xe5, 0x79, 0xc9, 0x4e, 0x9f, 0x8a, 0xa2, 0xa1, 0x81, 0x09, 0x2a, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x3c, 0x4d, 0x2d, 0x40, 0x00, 0x40, 0x06, 0xd9, 0x8c, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0x98, 0xdc, 0x00, 0x50, 0x44, 0xc2, 0x8a, 0x8d, 0x00, 0x00, 0x00,
        0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x48, 0x11, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
        0x08, 0x0a, 0xc6, 0xda, 0xc1, 0xa1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];
    const TCP6_FULL: [u8; 94] = [
        0x4e, 0xe5, 0x79, 0xc9, 0x4e, 0x9f, 0x8a, 0xa2, 0xa1, 0x81, 0x09, 0x2a, 0x86, 0xdd, 0x60,
        0x07, 0x38, 0x5a, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xbc, 0xe2, 0x00, 0x50, 0x20, 0x40,
        0xcb, 0x22, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0x3c, 0x9a, 0x00, 0x00, 0x02,
        0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0xa7, 0xae, 0xc4, 0x0d, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x03, 0x03, 0x0a,
    ];

    const UDP4_PARTIAL: [u8; 50] = [
        0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x24, 0x32, 0xac, 0x40, 0x00, 0x40, 0x11, 0xf4, 0x1a, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0x91, 0x72, 0x00, 0x35, 0x00, 0x10, 0x14, 0x24, 0x72, 0x69, 0x6e,
        0x67, 0x74, 0x61, 0x70, 0x21,
    ];
    const UDP4_ODD_PARTIAL: [u8; 43] = [
        0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x1d, 0x32, 0xad, 0x40, 0x00, 0x40, 0x11, 0xf4, 0x20, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0xd5, 0x40, 0x00, 0x09, 0x00, 0x09, 0x14, 0x1d, 0x78,
    ];
    const UDP6_PARTIAL: [u8; 70] = [
        0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0x86, 0xdd, 0x60,
        0x0f, 0x9e, 0x4a, 0x00, 0x10, 0x11, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x89, 0x8f, 0x00, 0x35, 0x00, 0x10,
        0xfa, 0x25, 0x72, 0x69, 0x6e, 0x67, 0x74, 0x61, 0x70, 0x36,
    ];
    const TCP4_PARTIAL: [u8; 74] = [
        0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x3c, 0xa6, 0xb5, 0x40, 0x00, 0x40, 0x06, 0x80, 0x04, 0x0a, 0x00, 0x00, 0x01,
        0x0a, 0x00, 0x00, 0x02, 0xbf, 0x32, 0x00, 0x50, 0x31, 0x45, 0xfd, 0x47, 0x00, 0x00, 0x00,
        0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x14, 0x31, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
        0x08, 0x0a, 0x88, 0xbd, 0x90, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];
    const TCP6_PARTIAL: [u8; 94] = [
        0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0x86, 0xdd, 0x60,
        0x0b, 0xd6, 0x88, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xb0, 0x38, 0x00, 0x50, 0x4b, 0xe8,
        0x53, 0x6e, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0xfa, 0x32, 0x00, 0x00, 0x02,
        0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0xeb, 0x16, 0x3d, 0xed, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x03, 0x03, 0x0a,
    ];
    /// A TCP RST over IPv6, no options, no payload.
    const TCP6_RST_PARTIAL: [u8; 74] = [
        0x8a, 0x92, 0x11, 0xf6, 0xe5, 0xbb, 0xfa, 0x36, 0x26, 0xc0, 0x1c, 0xe5, 0x86, 0xdd, 0x60,
        0x05, 0x0c, 0x0a, 0x00, 0x14, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x50, 0xb0, 0x38, 0x00, 0x00,
        0x00, 0x00, 0x4b, 0xe8, 0x53, 0x6f, 0x50, 0x14, 0x00, 0x00, 0xfa, 0x1e, 0x00, 0x00,
    ];

    /// (name, frame, transport, offset of the checksum field, checksum
    /// tcpdump expects).
    fn partial_frames() -> [(&'static str, &'static [u8], Transport, usize, u16); 6] {
        [
            ("UDP/IPv4", &UDP4_PARTIAL, Transport::Udp, 40, 0x94d0),
            (
                "UDP/IPv4 odd",
                &UDP4_ODD_PARTIAL,
                Transport::Udp,
                40,
                0x9e8f,
            ),
            ("UDP/IPv6", &UDP6_PARTIAL, Transport::Udp, 60, 0xb69c),
            ("TCP/IPv4", &TCP4_PARTIAL, Transport::Tcp, 50, 0x321f),
            ("TCP/IPv6", &TCP6_PARTIAL, Transport::Tcp, 70, 0xd808),
            (
                "TCP/IPv6 RST",
                &TCP6_RST_PARTIAL,
                Transport::Tcp,
                70,
                0x65ec,
            ),
        ]
    }

    fn field(frame: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([frame[at], frame[at + 1]])
    }

    /// `frame` with `tags` inserted after the MAC addresses.
    fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
        let mut out = frame[..12].to_vec();
        for (tpid, tci) in tags {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
        }
        out.extend_from_slice(&frame[12..]);
        out
    }

    #[test]
    fn test_verify_kernel_checksums() {
        for (name, frame) in [
            ("UDP/IPv4", &UDP4_FULL[..]),
            ("UDP/IPv4 odd", &UDP4_ODD_FULL[..]),
            ("UDP/IPv6", &UDP6_FULL[..]),
            ("TCP/IPv4", &TCP4_FULL[..]),
            ("TCP/IPv6", &TCP6_FULL[..]),
        ] {
            assert_eq!(verify(frame), Ok(true), "{name}");
            // Completing a complete frame changes nothing.
            let mut copy = frame.to_vec();
            complete(&mut copy).unwrap();
            assert_eq!(copy, frame, "{name}");
        }
    }

    #[test]
    fn test_complete_partial_golden() {
        for (name, frame, transport, at, expected) in partial_frames() {
            assert_eq!(verify(frame), Ok(false), "{name} before");
            let mut copy = frame.to_vec();
            assert_eq!(complete(&mut copy), Ok(transport), "{name}");
            assert_eq!(field(&copy, at), expected, "{name}");
            assert_eq!(verify(&copy), Ok(true), "{name} after");
            // Only the two checksum bytes changed.
            copy[at..at + 2].copy_from_slice(&frame[at..at + 2]);
            assert_eq!(copy, frame, "{name}");
        }
    }

    #[test]
    fn test_complete_behind_vlan_tags() {
        let stacks: [&[(u16, u16)]; 4] = [
            &[(0x8100, 10)],
            &[(0x88a8, 200), (0x8100, 10)],
            &[(0x8100, 0x6000)],
            &[(0x9100, 1), (0x88a8, 2), (0x8100, 3), (0x8100, 4)],
        ];
        for tags in stacks {
            for (name, frame, transport, at, expected) in partial_frames() {
                let mut copy = tagged(frame, tags);
                let at = at + 4 * tags.len();
                assert_eq!(complete(&mut copy), Ok(transport), "{name} {tags:?}");
                assert_eq!(field(&copy, at), expected, "{name} {tags:?}");
                assert_eq!(verify(&copy), Ok(true), "{name} {tags:?}");
            }
        }
        let five = [(0x8100, 1); 5];
        let mut copy = tagged(&UDP4_PARTIAL, &five);
        assert_eq!(complete(&mut copy), Err(ChecksumError::TooManyVlanTags));
        assert_eq!(verify(&copy), Err(ChecksumError::TooManyVlanTags));
    }

    #[test]
    fn test_ethernet_padding_excluded() {
        // 43 bytes padded to the 60-byte minimum with non-zero bytes.
        let mut padded = UDP4_ODD_PARTIAL.to_vec();
        padded.resize(60, 0xa5);
        assert_eq!(complete(&mut padded), Ok(Transport::Udp));
        assert_eq!(field(&padded, 40), 0x9e8f);
        assert_eq!(verify(&padded), Ok(true));
        assert!(padded[43..].iter().all(|&b| b == 0xa5));
    }

    /// Adds `word` into the UDP/TCP payload word at `at` so that the
    /// segment sums to 0xffff (its checksum is then 0).
    fn force_zero_sum(frame: &mut [u8], checksum_at: usize, word_at: usize) {
        frame[checksum_at..checksum_at + 2].copy_from_slice(&[0, 0]);
        let mut probe = frame.to_vec();
        complete(&mut probe).unwrap();
        let c = field(&probe, checksum_at);
        frame[word_at..word_at + 2].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn test_udp_zero_checksum_sent_as_ffff() {
        let mut frame = UDP4_FULL.to_vec();
        // Payload "ringtap!" starts at 42: make its first word the adjuster.
        frame[42..44].copy_from_slice(&[0, 0]);
        force_zero_sum(&mut frame, 40, 42);
        assert_eq!(complete(&mut frame), Ok(Transport::Udp));
        assert_eq!(field(&frame, 40), 0xffff);
        assert_eq!(verify(&frame), Ok(true));

        // TCP has no such rule: 0 stays 0.
        let mut frame = TCP4_FULL.to_vec();
        // The last option word (nop, wscale 3, 10) at 70.
        frame[70..72].copy_from_slice(&[0, 0]);
        force_zero_sum(&mut frame, 50, 70);
        assert_eq!(complete(&mut frame), Ok(Transport::Tcp));
        assert_eq!(field(&frame, 50), 0);
        assert_eq!(verify(&frame), Ok(true));
    }

    #[test]
    fn test_udp_zero_means_none_over_ipv4_only() {
        let mut v4 = UDP4_FULL.to_vec();
        v4[40..42].copy_from_slice(&[0, 0]);
        assert_eq!(verify(&v4), Ok(true));
        let mut v6 = UDP6_FULL.to_vec();
        v6[60..62].copy_from_slice(&[0, 0]);
        assert_eq!(verify(&v6), Ok(false));
        // A wrong non-zero checksum is wrong.
        v4[40..42].copy_from_slice(&[0, 1]);
        assert_eq!(verify(&v4), Ok(false));
    }

    /// UDP6_FULL with `ext` (IPv6 extension headers, each `(type, bytes)`)
    /// inserted before the UDP header.
    fn udp6_with_extensions(ext: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut frame = UDP6_FULL[..54].to_vec();
        let mut ext_len = 0;
        for (i, (kind, body)) in ext.iter().enumerate() {
            let next = ext.get(i + 1).map_or(PROTO_UDP, |e| e.0);
            if i == 0 {
                frame[20] = *kind;
            }
            let mut header = vec![next, (body.len() / 8 - 1) as u8];
            header.extend_from_slice(&body[2..]);
            ext_len += header.len();
            frame.extend_from_slice(&header);
        }
        frame.extend_from_slice(&UDP6_FULL[54..]);
        let payload_len = 16 + ext_len as u16;
        frame[18..20].copy_from_slice(&payload_len.to_be_bytes());
        frame
    }

    #[test]
    fn test_ipv6_extension_headers_skipped() {
        let hop = (PROTO_HOP_BY_HOP, vec![0, 0, 1, 4, 0, 0, 0, 0]);
        let dest = (PROTO_DEST_OPTS, vec![0u8; 16]);
        // Routing type 4 (segment routing) with no segments left.
        let routing = (PROTO_ROUTING, vec![0, 0, 4, 0, 0, 0, 0, 0]);
        let mut frame = udp6_with_extensions(&[hop.clone(), routing.clone(), dest.clone()]);
        // The pseudo-header does not include the extension headers, so the
        // kernel's checksum still holds.
        assert_eq!(verify(&frame), Ok(true));
        frame[92..94].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(complete(&mut frame), Ok(Transport::Udp));
        assert_eq!(field(&frame, 92), 0xa25b);

        let pending = (PROTO_ROUTING, vec![0, 0, 4, 2, 0, 0, 0, 0]);
        let frame = udp6_with_extensions(&[hop.clone(), pending]);
        assert_eq!(
            verify(&frame),
            Err(ChecksumError::RoutingSegmentsLeft { segments_left: 2 })
        );

        let fragment = (PROTO_FRAGMENT, vec![0u8; 8]);
        let frame = udp6_with_extensions(&[hop, fragment]);
        assert_eq!(verify(&frame), Err(ChecksumError::Fragment));

        // A length byte pointing past the payload.
        let mut frame = udp6_with_extensions(&[dest]);
        frame[55] = 9;
        assert_eq!(
            verify(&frame),
            Err(ChecksumError::Truncated {
                header: Header::Ipv6Extension,
                offset: 54,
                needed: 134,
                end: 86
            })
        );
    }

    #[test]
    fn test_impossible_len() {
        use ChecksumError::*;
        let with = |base: &[u8], edits: &[(usize, u8)]| {
            let mut f = base.to_vec();
            for &(at, v) in edits {
                f[at] = v;
            }
            f
        };
        let cases: Vec<(&str, Vec<u8>, ChecksumError)> = vec![
            (
                "no Ethernet header",
                UDP4_FULL[..13].to_vec(),
                Truncated {
                    header: Header::Ethernet,
                    offset: 0,
                    needed: 14,
                    end: 13,
                },
            ),
            (
                "tag without EtherType",
                tagged(&UDP4_FULL, &[(0x8100, 1)])[..17].to_vec(),
                Truncated {
                    header: Header::Vlan,
                    offset: 12,
                    needed: 18,
                    end: 17,
                },
            ),
            (
                "ARP",
                with(&UDP4_FULL, &[(12, 0x08), (13, 0x06)]),
                NotIp { ethertype: 0x0806 },
            ),
            (
                "IPv4 cut",
                UDP4_FULL[..33].to_vec(),
                Truncated {
                    header: Header::Ipv4,
                    offset: 14,
                    needed: 34,
                    end: 33,
                },
            ),
            (
                "IPv6 in an IPv4 EtherType",
                with(&UDP4_FULL, &[(14, 0x65)]),
                WrongIpVersion {
                    expected: 4,
                    found: 6,
                },
            ),
            (
                "IHL 4",
                with(&UDP4_FULL, &[(14, 0x44)]),
                BadIpv4HeaderLength { ihl: 4 },
            ),
            (
                "IHL 15 past the frame",
                with(&UDP4_FULL, &[(14, 0x4f)]),
                Truncated {
                    header: Header::Ipv4,
                    offset: 14,
                    needed: 74,
                    end: 50,
                },
            ),
            (
                "total length below the header",
                with(&UDP4_FULL, &[(16, 0), (17, 19)]),
                BadIpv4TotalLength {
                    total_len: 19,
                    header_len: 20,
                },
            ),
            (
                "total length past the frame",
                with(&UDP4_FULL, &[(17, 0x25)]),
                IpLengthBeyondFrame {
                    ip_end: 51,
                    frame_len: 50,
                },
            ),
            ("more fragments", with(&UDP4_FULL, &[(20, 0x20)]), Fragment),
            (
                "fragment offset",
                with(&UDP4_FULL, &[(20, 0x40), (21, 0x01)]),
                Fragment,
            ),
            (
                "ICMP",
                with(&UDP4_FULL, &[(23, 1)]),
                NotTcpOrUdp { protocol: 1 },
            ),
            (
                "TCP header longer than the IP payload",
                with(&UDP4_FULL, &[(23, 6)]),
                Truncated {
                    header: Header::Tcp,
                    offset: 34,
                    needed: 54,
                    end: 50,
                },
            ),
            (
                "UDP header cut by the IP length",
                with(&UDP4_FULL, &[(17, 27)]),
                Truncated {
                    header: Header::Udp,
                    offset: 34,
                    needed: 42,
                    end: 41,
                },
            ),
            (
                "UDP length 7",
                with(&UDP4_FULL, &[(39, 7)]),
                BadUdpLength {
                    udp_len: 7,
                    ip_payload_len: 16,
                },
            ),
            (
                "UDP length past the IP payload",
                with(&UDP4_FULL, &[(39, 17)]),
                BadUdpLength {
                    udp_len: 17,
                    ip_payload_len: 16,
                },
            ),
            (
                "IPv6 cut",
                UDP6_FULL[..53].to_vec(),
                Truncated {
                    header: Header::Ipv6,
                    offset: 14,
                    needed: 54,
                    end: 53,
                },
            ),
            (
                "IPv6 payload past the frame",
                with(&UDP6_FULL, &[(19, 0x11)]),
                IpLengthBeyondFrame {
                    ip_end: 71,
                    frame_len: 70,
                },
            ),
            (
                "IPv6 no next header",
                with(&UDP6_FULL, &[(20, 59)]),
                NotTcpOrUdp { protocol: 59 },
            ),
        ];
        for (name, frame, error) in cases {
            assert_eq!(verify(&frame), Err(error), "verify: {name}");
            let mut copy = frame.clone();
            assert_eq!(complete(&mut copy), Err(error), "complete: {name}");
            assert_eq!(
                copy, frame,
                "complete must not touch a refused frame: {name}"
            );
        }
    }

    #[test]
    fn test_error_display() {
        let cases = [
            (
                ChecksumError::Truncated {
                    header: Header::Udp,
                    offset: 34,
                    needed: 42,
                    end: 41,
                },
                "the UDP header at offset 34 needs bytes up to 42, but the IP payload ends at 41",
            ),
            (
                ChecksumError::Truncated {
                    header: Header::Vlan,
                    offset: 12,
                    needed: 18,
                    end: 17,
                },
                "the VLAN tag at offset 12 needs bytes up to 18, but the frame ends at 17",
            ),
            (
                ChecksumError::NotIp { ethertype: 0x0806 },
                "EtherType 0x0806 is neither IPv4 (0x0800) nor IPv6 (0x86dd): no TCP or UDP \
                 checksum to compute",
            ),
            (
                ChecksumError::IpLengthBeyondFrame {
                    ip_end: 1514,
                    frame_len: 128,
                },
                "the IP header says the packet ends at byte 1514 of the frame, but the frame has \
                 128 bytes (truncated capture?)",
            ),
            (
                ChecksumError::BadIpv4HeaderLength { ihl: 3 },
                "IPv4 header length (IHL) is 3 words: at least 5 (20 bytes) is required",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(std::format!("{error}"), text);
        }
    }

    /// The checksum by the book: a pseudo-header built as bytes, 16-bit
    /// big-endian words added one at a time.
    fn reference_checksum(pseudo: &[u8], segment: &[u8], udp: bool) -> u16 {
        let mut sum: u32 = 0;
        for bytes in [pseudo, segment] {
            for pair in bytes.chunks(2) {
                let hi = u32::from(pair[0]) << 8;
                let lo = pair.get(1).map_or(0, |&b| u32::from(b));
                sum += hi | lo;
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        if udp && c == 0 {
            0xffff
        } else {
            c
        }
    }

    #[test]
    fn test_internet_checksum_of_an_ipv4_header() {
        // 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(internet(&header), 0, "a right header sums to zero");
        assert_eq!(internet(&[]), 0xffff);
        assert_eq!(internet(&[0x01]), !0x0100, "an odd byte is a high byte");
    }

    /// A valid TCP or UDP frame and the checksum the reference computes.
    #[derive(Debug, Clone)]
    struct Generated {
        frame: Vec<u8>,
        transport: Transport,
        field_at: usize,
        checksum: u16,
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        tags: &[(usize, u16)],
        v6: bool,
        ip_options: &[u8],
        extensions: &[(u8, Vec<u8>)],
        tcp: bool,
        tcp_options: &[u8],
        payload: &[u8],
        padding: &[u8],
        garbage: u16,
    ) -> Generated {
        let mut frame = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for &(t, tci) in tags {
            frame.extend_from_slice(&TPIDS[t].to_be_bytes());
            frame.extend_from_slice(&tci.to_be_bytes());
        }
        let protocol = if tcp { PROTO_TCP } else { PROTO_UDP };
        let mut segment = if tcp {
            let words = 5 + tcp_options.len() / 4;
            let mut h = vec![0x30, 0x39, 0x00, 0x50, 1, 2, 3, 4, 5, 6, 7, 8];
            h.extend_from_slice(&[(words as u8) << 4, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
            h.extend_from_slice(tcp_options);
            h
        } else {
            let len = (8 + payload.len()) as u16;
            let mut h = vec![0x30, 0x39, 0x00, 0x35];
            h.extend_from_slice(&len.to_be_bytes());
            h.extend_from_slice(&[0, 0]);
            h
        };
        segment.extend_from_slice(payload);
        let seg_len = segment.len();
        let check_at = if tcp { 16 } else { 6 };
        let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [
            0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0x12, 0x34,
        ];
        let mut pseudo = Vec::new();
        let ip_start;
        if v6 {
            frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            ip_start = frame.len();
            let ext_len: usize = extensions.iter().map(|e| e.1.len()).sum();
            let first = extensions.first().map_or(protocol, |e| e.0);
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&((ext_len + seg_len) as u16).to_be_bytes());
            frame.extend_from_slice(&[first, 64]);
            frame.extend_from_slice(&src);
            frame.extend_from_slice(&dst);
            for (i, (_, body)) in extensions.iter().enumerate() {
                let next = extensions.get(i + 1).map_or(protocol, |e| e.0);
                frame.push(next);
                frame.push((body.len() / 8 - 1) as u8);
                frame.extend_from_slice(&body[2..]);
            }
            pseudo.extend_from_slice(&src);
            pseudo.extend_from_slice(&dst);
            pseudo.extend_from_slice(&(seg_len as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, protocol]);
        } else {
            frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            ip_start = frame.len();
            let header_len = 20 + ip_options.len();
            let total = (header_len + seg_len) as u16;
            frame.push(0x40 | (header_len / 4) as u8);
            frame.push(0);
            frame.extend_from_slice(&total.to_be_bytes());
            frame.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, protocol, 0xbe, 0xef]);
            frame.extend_from_slice(&src[..4]);
            frame.extend_from_slice(&dst[12..]);
            frame.extend_from_slice(ip_options);
            pseudo.extend_from_slice(&src[..4]);
            pseudo.extend_from_slice(&dst[12..]);
            pseudo.extend_from_slice(&[0, protocol]);
            pseudo.extend_from_slice(&(seg_len as u16).to_be_bytes());
        }
        assert!(frame.len() > ip_start);
        let checksum = reference_checksum(&pseudo, &segment, !tcp);
        let field_at = frame.len() + check_at;
        segment[check_at..check_at + 2].copy_from_slice(&garbage.to_be_bytes());
        frame.extend_from_slice(&segment);
        frame.extend_from_slice(padding);
        Generated {
            frame,
            transport: if tcp { Transport::Tcp } else { Transport::Udp },
            field_at,
            checksum,
        }
    }

    fn extension() -> impl Strategy<Value = (u8, Vec<u8>)> {
        (
            prop_oneof![
                Just(PROTO_HOP_BY_HOP),
                Just(PROTO_DEST_OPTS),
                Just(PROTO_ROUTING)
            ],
            1usize..4,
            any::<u8>(),
        )
            .prop_map(|(kind, units, fill)| {
                let mut body = vec![fill; units * 8];
                if kind == PROTO_ROUTING {
                    body[3] = 0; // no segments left
                }
                (kind, body)
            })
    }

    fn generated() -> impl Strategy<Value = Generated> {
        (
            proptest::collection::vec((0usize..3, any::<u16>()), 0..=MAX_VLAN_TAGS),
            any::<bool>(),
            (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
            proptest::collection::vec(extension(), 0..3),
            any::<bool>(),
            (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
            proptest::collection::vec(any::<u8>(), 0..1500),
            proptest::collection::vec(any::<u8>(), 0..24),
            any::<u16>(),
        )
            .prop_map(
                |(tags, v6, ip_opts, ext, tcp, tcp_opts, payload, padding, garbage)| {
                    build(
                        &tags, v6, &ip_opts, &ext, tcp, &tcp_opts, &payload, &padding, garbage,
                    )
                },
            )
    }

    proptest! {
        #[test]
        fn prop_internet_checksum_is_the_reference(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(internet(&bytes), reference_checksum(&[], &bytes, false));
        }

        #[test]
        fn prop_complete_then_verify(g in generated()) {
            let mut frame = g.frame.clone();
            prop_assert_eq!(complete(&mut frame), Ok(g.transport));
            prop_assert_eq!(field(&frame, g.field_at), g.checksum);
            prop_assert_eq!(verify(&frame), Ok(true));
            // Nothing but the checksum changed.
            frame[g.field_at..g.field_at + 2].copy_from_slice(&g.frame[g.field_at..g.field_at + 2]);
            prop_assert_eq!(frame, g.frame);
        }

        #[test]
        fn prop_never_panics_on_arbitrary_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = verify(&bytes);
            let _ = complete(&mut bytes);
        }

        // Valid frames with a byte changed or the end cut off reach the deep
        // checks that random bytes rarely do.
        #[test]
        fn prop_never_panics_on_damaged_frames(
            g in generated(),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut frame = g.frame.clone();
            let i = at.index(frame.len());
            frame[i] = value;
            let _ = verify(&frame);
            let _ = complete(&mut frame);
            let mut cut_frame = g.frame[..cut.index(g.frame.len())].to_vec();
            let _ = verify(&cut_frame);
            let _ = complete(&mut cut_frame);
        }
    }
}
