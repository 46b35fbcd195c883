//! Builders for the headers filter expressions look at: IPv4 (with options
//! and fragments), IPv6 (with extension headers), TCP, UDP, ICMP, ICMPv6,
//! SCTP, ARP, MPLS, 802.3 LLC/SNAP, and Ethernet frames with any stack of
//! VLAN tags. Checksums are left at 0 except IPv4's header checksum: no
//! filter reads them and nothing in the test namespaces delivers the
//! frames to a stack.

/// An IPv4 header with `options` bytes of NOPs, then `payload`.
/// `frag` is the flags-and-offset field (0x2000 = more fragments).
pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    frag: u16,
    ttl: u8,
    options: usize,
    payload: &[u8],
) -> Vec<u8> {
    assert!(
        options.is_multiple_of(4) && options <= 40,
        "IPv4 options of {options} bytes"
    );
    let header_len = 20 + options;
    let total = (header_len + payload.len()) as u16;
    let mut h = vec![0x40 | (header_len / 4) as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.resize(header_len, 1);
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 header (hop limit 64), then `payload`.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

/// An 8-byte IPv6 extension header (hop-by-hop 0, routing 43, fragment 44,
/// destination options 60) saying `next` follows, then `payload`.
pub fn ipv6_extension(kind: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = match kind {
        // Fragment: offset 0, more fragments, an identification.
        44 => vec![next, 0, 0, 1, 0, 0, 0x12, 0x34],
        // Routing type 4 (segment routing) with no segments left; options
        // headers with a PadN option.
        43 => vec![next, 0, 4, 0, 0, 0, 0, 0],
        _ => vec![next, 0, 1, 4, 0, 0, 0, 0],
    };
    h.extend_from_slice(payload);
    h
}

/// A TCP header (20 bytes, window 0xffff), then `payload`.
pub fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(payload);
    h
}

/// A UDP header, then `payload`.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

/// An ICMP or ICMPv6 message: type, code, checksum 0, then 4 bytes of
/// rest-of-header (identifier 1, sequence 1) and `payload`.
pub fn icmp(kind: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![kind, code, 0, 0, 0, 1, 0, 1];
    h.extend_from_slice(payload);
    h
}

/// An SCTP common header (verification tag 1) and one DATA chunk.
pub fn sctp(sport: u16, dport: u16) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    h.extend_from_slice(&[0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    h
}

/// An ARP (or RARP) message for IPv4 over Ethernet.
pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0, 1, 8, 0, 6, 4];
    h.extend_from_slice(&op.to_be_bytes());
    h.extend_from_slice(&sha);
    h.extend_from_slice(&spa);
    h.extend_from_slice(&tha);
    h.extend_from_slice(&tpa);
    h
}

/// MPLS label stack entries (the last with bottom-of-stack set, TTL 64),
/// then `payload`.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let bottom = u32::from(i + 1 == labels.len());
        h.extend_from_slice(&((label << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    h.extend_from_slice(payload);
    h
}

/// An 802.2 LLC header (DSAP, SSAP, control UI), then `payload`.
pub fn llc(dsap: u8, ssap: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![dsap, ssap, 0x03];
    h.extend_from_slice(payload);
    h
}

/// An 802.2 LLC header with SNAP: this OUI and protocol, then `payload`.
pub fn snap(oui: [u8; 3], proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = oui.to_vec();
    h.extend_from_slice(&proto.to_be_bytes());
    h.extend_from_slice(payload);
    llc(0xaa, 0xaa, &h)
}

/// An Ethernet frame: addresses, VLAN tags `(TPID, TCI)` outermost first,
/// the EtherType (or 802.3 length), the payload.
pub fn ether(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}
