//! Differential test: ringtap-core's classic BPF interpreter (`bpf::run`)
//! against the kernel's socket filter.
//!
//! In a private namespace, one RX ring socket per program is bound to the
//! receiving end of a veth pair with the program attached
//! (`SO_ATTACH_FILTER`), beside one unfiltered RX ring socket that records
//! what the kernel handed to every filter: the bytes (VLAN tag stripped),
//! `tp_len`, the tag fields and the `sockaddr_ll`. A corpus of varied frames
//! goes out of the other end once. For each program, the frames its socket
//! got must be exactly those where `run` over the unfiltered view accepts,
//! in order, each cut to `min(accept length, tp_len)` as the kernel cuts it.
//!
//! The programs are `tcpdump -ddd -y EN10MB` output made at test time, plus
//! hand-written ones for what tcpdump does not emit here (ancillary loads,
//! `SKF_NET_OFF`/`SKF_LL_OFF`, division by X = 0, shifts by 32 or more,
//! accept lengths that cut the frame). The unfiltered view is also checked
//! against what was sent, with `vlan::copy_restoring` putting the stripped
//! tag back.

use std::process::Command;
use std::time::Duration;

use ringtap_core::bpf::{self, parse_ddd, Ancillary, Instruction};
use ringtap_core::bpf::{
    BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ,
    BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD,
    BPF_MSH, BPF_MUL, BPF_NEG, BPF_RET, BPF_RSH, BPF_ST, BPF_SUB, BPF_TAX, BPF_W, BPF_X,
    SKF_AD_ALU_XOR_X, SKF_AD_HATYPE, SKF_AD_IFINDEX, SKF_AD_MARK, SKF_AD_OFF, SKF_AD_PKTTYPE,
    SKF_AD_PROTOCOL, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TPID, SKF_LL_OFF,
    SKF_NET_OFF,
};
use ringtap_core::checksum;
use ringtap_core::frame::ll;
use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_core::vlan::{self, Tag};
use ringtap_linux::{netdev, MappedRing};
use ringtap_tests::{in_netns, ip, netns_required, open_rx_ring, open_tx_ring, wait_until};

const TX_DEV: &str = "bpr0";
const RX_DEV: &str = "bpr1";
const TX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xb0, 0x00];
const RX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xb0, 0x01];
const BROADCAST: [u8; 6] = [0xff; 6];
const MULTICAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
const OTHER_HOST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x99, 0x99];

/// RX rings: 64 frames of 2048 bytes, room for the whole corpus.
const RX_FRAMES: u32 = 64;
const WAIT: Duration = Duration::from_secs(5);
/// How long to keep listening for frames that must not come.
const SETTLE: Duration = Duration::from_millis(100);

/// Filter expressions compiled by tcpdump at test time (`{ifindex}` and
/// `{rx_mac}` are filled in).
const TCPDUMP_FILTERS: &[&str] = &[
    "vlan 10",
    "vlan 0",
    "vlan and udp",
    "vlan and vlan",
    "inbound",
    "outbound",
    "ether proto 0x88b5",
    "tcp port 80",
    "udp port 53",
    "icmp or arp",
    "ip6 and tcp",
    "ip6 and ip6[6] == 17",
    "ip[2:2] - ip[0] > 100",
    "len > 100",
    "less 64",
    "ether broadcast",
    "ether multicast",
    "ether dst {rx_mac}",
    "ifindex {ifindex}",
    "udp[8] == 1",
    "tcp[tcpflags] & tcp-syn != 0",
    "ip and ip[6:2] & 0x1fff != 0",
];

fn stmt(code: u16, k: u32) -> Instruction {
    Instruction::stmt(code, k)
}

fn jeq(k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction::jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf)
}

fn ret_a() -> Instruction {
    stmt(BPF_RET | BPF_A, 0)
}

fn ret(k: u32) -> Instruction {
    stmt(BPF_RET | BPF_K, k)
}

fn ancillary(field: u32) -> u32 {
    (SKF_AD_OFF as u32).wrapping_add(field)
}

fn net(offset: i32) -> u32 {
    (SKF_NET_OFF + offset) as u32
}

fn link(offset: i32) -> u32 {
    (SKF_LL_OFF + offset) as u32
}

/// Programs for what tcpdump does not emit for EN10MB. Many return a
/// computed value as the accept length, so the kernel's cut of the frame
/// (`min(value, tp_len)`) shows the value itself.
fn handwritten() -> Vec<(&'static str, Vec<Instruction>)> {
    let ld_anc = |field| stmt(BPF_LD | BPF_W | BPF_ABS, ancillary(field));
    let add = |k| stmt(BPF_ALU | BPF_ADD | BPF_K, k);
    vec![
        ("pkttype + 1", vec![ld_anc(SKF_AD_PKTTYPE), add(1), ret_a()]),
        (
            "protocol by byte load",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, ancillary(SKF_AD_PROTOCOL)),
                jeq(0x0800, 0, 1),
                ret(1000),
                jeq(0x86dd, 0, 1),
                ret(900),
                stmt(BPF_ALU | BPF_AND | BPF_K, 0x1f),
                add(1),
                ret_a(),
            ],
        ),
        (
            "ifindex + hatype",
            vec![
                ld_anc(SKF_AD_IFINDEX),
                stmt(BPF_ST, 0),
                ld_anc(SKF_AD_HATYPE),
                stmt(BPF_LDX | BPF_MEM, 0),
                stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                ret_a(),
            ],
        ),
        ("mark + 3", vec![ld_anc(SKF_AD_MARK), add(3), ret_a()]),
        (
            "vlan present: pcp and dei + 1",
            vec![
                ld_anc(SKF_AD_VLAN_TAG_PRESENT),
                jeq(0, 3, 0),
                ld_anc(SKF_AD_VLAN_TAG),
                stmt(BPF_ALU | BPF_RSH | BPF_K, 12),
                add(1),
                ret_a(),
            ],
        ),
        (
            "vlan tag low bits + 1",
            vec![
                stmt(BPF_LD | BPF_H | BPF_ABS, ancillary(SKF_AD_VLAN_TAG)),
                stmt(BPF_ALU | BPF_AND | BPF_K, 0x3f),
                add(1),
                ret_a(),
            ],
        ),
        (
            "vlan tpid",
            vec![
                ld_anc(SKF_AD_VLAN_TPID),
                jeq(0x88a8, 0, 1),
                ret(50),
                jeq(0x8100, 0, 1),
                ret(40),
                jeq(0, 0, 1),
                ret(30),
                ret(20),
            ],
        ),
        (
            "len - 10",
            vec![
                stmt(BPF_LD | BPF_W | BPF_LEN, 0),
                stmt(BPF_ALU | BPF_SUB | BPF_K, 10),
                ret_a(),
            ],
        ),
        (
            "SKF_NET_OFF + 9, + 1",
            vec![stmt(BPF_LD | BPF_B | BPF_ABS, net(9)), add(1), ret_a()],
        ),
        (
            "SKF_LL_OFF + 12",
            vec![
                stmt(BPF_LD | BPF_H | BPF_ABS, link(12)),
                jeq(0x88b5, 0, 1),
                ret(77),
                ret(66),
            ],
        ),
        (
            "below SKF_LL_OFF",
            vec![stmt(BPF_LD | BPF_B | BPF_ABS, link(-1)), ret(1)],
        ),
        (
            "MSH and IND from SKF_NET_OFF",
            vec![
                stmt(BPF_LDX | BPF_B | BPF_MSH, net(0)),
                stmt(BPF_LD | BPF_H | BPF_IND, net(2)),
                stmt(BPF_ALU | BPF_AND | BPF_K, 0xff),
                add(1),
                ret_a(),
            ],
        ),
        (
            "1000 / byte 14",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, 14),
                stmt(BPF_MISC | BPF_TAX, 0),
                stmt(BPF_LD | BPF_IMM, 1000),
                stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
                ret_a(),
            ],
        ),
        (
            "len mod byte 15, + 1",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, 15),
                stmt(BPF_MISC | BPF_TAX, 0),
                stmt(BPF_LD | BPF_W | BPF_LEN, 0),
                stmt(BPF_ALU | BPF_MOD | BPF_X, 0),
                add(1),
                ret_a(),
            ],
        ),
        (
            "shift by byte 14",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, 14),
                stmt(BPF_MISC | BPF_TAX, 0),
                stmt(BPF_LD | BPF_IMM, 0x1234_5678),
                stmt(BPF_ALU | BPF_LSH | BPF_X, 0),
                stmt(BPF_ALU | BPF_RSH | BPF_K, 22),
                add(1),
                ret_a(),
            ],
        ),
        (
            "negate, multiply",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, 14),
                stmt(BPF_ALU | BPF_NEG, 0),
                stmt(BPF_ALU | BPF_MUL | BPF_K, 3),
                stmt(BPF_ALU | BPF_AND | BPF_K, 0x3ff),
                add(1),
                ret_a(),
            ],
        ),
        (
            "xor x ancillary",
            vec![
                stmt(BPF_LDX | BPF_IMM, 0x7f),
                stmt(BPF_LD | BPF_B | BPF_ABS, 13),
                stmt(BPF_LD | BPF_H | BPF_ABS, ancillary(SKF_AD_ALU_XOR_X)),
                add(1),
                ret_a(),
            ],
        ),
        (
            "unsigned compare, high k",
            vec![
                stmt(BPF_LD | BPF_W | BPF_ABS, 14),
                Instruction::jump(BPF_JMP | BPF_JGT | BPF_K, 0x8000_0000, 0, 1),
                ret(90),
                ret(91),
            ],
        ),
        (
            "word at 1000",
            vec![stmt(BPF_LD | BPF_W | BPF_ABS, 1000), ret(0xffff)],
        ),
        (
            "half straddling the end",
            vec![
                stmt(BPF_LD | BPF_W | BPF_LEN, 0),
                stmt(BPF_ALU | BPF_SUB | BPF_K, 1),
                stmt(BPF_MISC | BPF_TAX, 0),
                stmt(BPF_LD | BPF_H | BPF_IND, 0),
                ret(0xffff),
            ],
        ),
        (
            "scratch words",
            vec![
                stmt(BPF_LD | BPF_B | BPF_ABS, 12),
                stmt(BPF_ST, 15),
                stmt(BPF_LD | BPF_B | BPF_ABS, 13),
                stmt(BPF_ST, 3),
                stmt(BPF_LDX | BPF_MEM, 15),
                stmt(BPF_LD | BPF_MEM, 3),
                stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                add(1),
                ret_a(),
            ],
        ),
        ("accept 20 bytes", vec![ret(20)]),
        ("accept nothing", vec![ret(0)]),
        (
            "ld imm, ldx len, jump on x",
            vec![
                stmt(BPF_LDX | BPF_W | BPF_LEN, 0),
                stmt(BPF_LD | BPF_IMM, 100),
                Instruction::jump(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1),
                ret(33),
                ret(44),
            ],
        ),
    ]
}

/// `tcpdump -ddd -y EN10MB EXPR`, parsed and checked; `None` (after saying
/// why) when tcpdump is not installed and `RINGTAP_REQUIRE_NETNS` is not 1.
fn tcpdump(expr: &str) -> Option<Vec<Instruction>> {
    let out = match Command::new("tcpdump")
        .args(["-ddd", "-y", "EN10MB", expr])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let why = "bpf_run: tcpdump is not installed (apt-get install tcpdump)";
            assert!(!netns_required(), "{why} (RINGTAP_REQUIRE_NETNS=1)");
            println!("SKIPPED {why}");
            return None;
        }
        Err(e) => panic!("cannot run tcpdump: {e}"),
    };
    assert!(
        out.status.success(),
        "tcpdump -ddd '{expr}' failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("tcpdump prints ASCII");
    let mut buf = [stmt(0, 0); bpf::BPF_MAXINSNS];
    let program = parse_ddd(&text, &mut buf)
        .unwrap_or_else(|e| panic!("'{expr}': {e}"))
        .to_vec();
    Some(program)
}

fn ipv4(proto: u8, frag: u16, options: usize, payload: &[u8]) -> Vec<u8> {
    let header_len = 20 + options;
    let total = (header_len + payload.len()) as u16;
    let mut h = vec![0x40 | (header_len / 4) as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    h.resize(header_len, 1); // NOP options
    let sum = ringtap_core::checksum::internet(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(payload);
    h
}

fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = 40000u16.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

fn tcp(dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = 40001u16.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(payload);
    h
}

/// An Ethernet frame from TX_MAC: `dst`, the tags, the EtherType, the
/// payload; TCP/UDP checksums completed, zero-padded to `min_len`.
fn ether(
    dst: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    payload: &[u8],
    min_len: usize,
) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&TX_MAC);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    // Only TCP and UDP frames have a checksum to complete; the others
    // (ARP, fragments, cut frames) are sent as built.
    let _ = checksum::complete(&mut f);
    if f.len() < min_len {
        f.resize(min_len, 0);
    }
    f
}

fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let data: Vec<u8> = (0..1200u32).map(|i| (i * 7) as u8).collect();
    let dns = udp(53, b"ringtap query");
    let syn = tcp(80, 0x02, &[]);
    let syn_443 = tcp(443, 0x02, &[]);
    let ack = tcp(80, 0x10, &data[..200]);
    let echo = [8, 0, 0xf7, 0xfe, 0, 1, 0, 1];
    let arp: Vec<u8> = [
        &[0, 1, 8, 0, 6, 4, 0, 1][..],
        &TX_MAC,
        &[10, 0, 0, 1],
        &[0; 6],
        &[10, 0, 0, 2],
    ]
    .concat();
    let q10 = [(0x8100, 10)];
    let e = |dst, tags: &[(u16, u16)], ethertype, payload: &[u8]| {
        ether(dst, tags, ethertype, payload, 60)
    };
    vec![
        (
            "IPv4 UDP 53, broadcast",
            e(BROADCAST, &[], 0x0800, &ipv4(17, 0, 0, &dns)),
        ),
        (
            "IPv4 TCP SYN 80, to us",
            e(RX_MAC, &[], 0x0800, &ipv4(6, 0x4000, 0, &syn)),
        ),
        (
            "IPv4 TCP SYN 443, other host",
            e(OTHER_HOST, &[], 0x0800, &ipv4(6, 0, 0, &syn_443)),
        ),
        (
            "IPv4 TCP ACK 80 with data",
            e(RX_MAC, &[], 0x0800, &ipv4(6, 0, 0, &ack)),
        ),
        (
            "IPv4 TCP SYN 80, options",
            e(RX_MAC, &[], 0x0800, &ipv4(6, 0, 8, &syn)),
        ),
        (
            "IPv4 ICMP echo, multicast",
            e(MULTICAST, &[], 0x0800, &ipv4(1, 0, 0, &echo)),
        ),
        (
            "IPv4 UDP, payload byte 1",
            e(RX_MAC, &[], 0x0800, &ipv4(17, 0, 0, &udp(9, &[1, 2, 3]))),
        ),
        (
            "IPv4 UDP fragment",
            e(
                RX_MAC,
                &[],
                0x0800,
                &ipv4(17, 0x00b9, 0, &udp(53, &[1; 16])),
            ),
        ),
        (
            "IPv4 UDP 1200 bytes",
            e(BROADCAST, &[], 0x0800, &ipv4(17, 0, 0, &udp(5000, &data))),
        ),
        ("ARP request", e(BROADCAST, &[], 0x0806, &arp)),
        ("IPv6 TCP SYN 80", e(RX_MAC, &[], 0x86dd, &ipv6(6, &syn))),
        (
            "IPv6 UDP 53, multicast",
            e(MULTICAST, &[], 0x86dd, &ipv6(17, &dns)),
        ),
        (
            "IPv6 ICMPv6",
            e(
                BROADCAST,
                &[],
                0x86dd,
                &ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1]),
            ),
        ),
        (
            "802.1Q 10 IPv4 UDP 53",
            e(BROADCAST, &q10, 0x0800, &ipv4(17, 0, 0, &dns)),
        ),
        (
            "802.1Q 10 IPv4 TCP 80",
            e(RX_MAC, &q10, 0x0800, &ipv4(6, 0, 0, &syn)),
        ),
        (
            "802.1Q 4094 PCP 5 DEI IPv6 TCP",
            e(RX_MAC, &[(0x8100, 0xbffe)], 0x86dd, &ipv6(6, &syn)),
        ),
        (
            "priority tag PCP 3 IPv4 UDP",
            e(
                BROADCAST,
                &[(0x8100, 0x6000)],
                0x0800,
                &ipv4(17, 0, 0, &dns),
            ),
        ),
        (
            "priority tag PCP 0 ARP",
            e(BROADCAST, &[(0x8100, 0)], 0x0806, &arp),
        ),
        (
            "802.1ad 200 + 802.1Q 10 IPv4 UDP",
            e(
                BROADCAST,
                &[(0x88a8, 200), (0x8100, 10)],
                0x0800,
                &ipv4(17, 0, 0, &dns),
            ),
        ),
        (
            "802.1ad 300 ARP",
            e(BROADCAST, &[(0x88a8, 300)], 0x0806, &arp),
        ),
        (
            "0x9100 outer, not stripped",
            e(BROADCAST, &[(0x9100, 5)], 0x0800, &ipv4(17, 0, 0, &dns)),
        ),
        (
            "802.1Q 10 with 0x88b5",
            e(OTHER_HOST, &q10, 0x88b5, &[0u8; 50]),
        ),
        (
            "0x88b5 first byte 0",
            e(OTHER_HOST, &[], 0x88b5, &[0u8; 46]),
        ),
        (
            "0x88b5 first bytes 7, 33",
            e(BROADCAST, &[], 0x88b5, &[7, 33, 0xff, 0xff, 0xff, 0xff]),
        ),
        ("0x88b6", e(MULTICAST, &[], 0x88b6, &[0x80; 46])),
        ("MPLS", e(RX_MAC, &[], 0x8847, &[0, 1, 0x41, 64, 0x45, 0])),
        (
            "802.3 length with LLC",
            e(BROADCAST, &[], 0x0026, &[0x42, 0x42, 3, 0, 0, 0]),
        ),
        (
            "14 bytes, header only",
            ether(BROADCAST, &[], 0x88b5, &[], 0),
        ),
        (
            "20 bytes",
            ether(OTHER_HOST, &[], 0x88b5, &[0x45, 0, 0, 0x20, 1, 2], 0),
        ),
        (
            "IPv4 cut after 10 bytes",
            ether(RX_MAC, &[], 0x0800, &ipv4(17, 0, 0, &dns)[..10], 0),
        ),
        // Tagged with 2 bytes after the EtherType: the least skb_vlan_untag
        // keeps (pskb_may_pull(VLAN_HLEN + 2)); with none the kernel drops it.
        (
            "802.1Q tag and 2 bytes",
            ether(BROADCAST, &[(0x8100, 7)], 0x0800, &[0x45, 0], 0),
        ),
    ]
}

/// What a ring said about one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    bytes: Vec<u8>,
    len: u32,
    vlan_tci: Option<u16>,
    vlan_tpid: Option<u16>,
    addr: ll::Repr,
}

fn drain(ring: &mut MappedRing, out: &mut Vec<Seen>) {
    let rx = ring.rx_frames().expect("V2 ring");
    while let Some(f) = rx.next_frame() {
        let info = f.info().expect("frame header");
        out.push(Seen {
            bytes: f.data().expect("frame data").to_vec(),
            len: info.len,
            vlan_tci: info.vlan_tci,
            vlan_tpid: info.vlan_tpid,
            addr: info.addr,
        });
    }
}

/// The frames `program` must let through, cut as the kernel cuts them.
fn expected(program: &[Instruction], all: &[Seen]) -> Vec<Seen> {
    all.iter()
        .filter_map(|s| {
            let anc = Ancillary::from_ring(s.len, s.vlan_tci, s.vlan_tpid, &s.addr);
            let accept = bpf::run(program, &s.bytes, &anc);
            (accept != 0).then(|| Seen {
                bytes: s.bytes[..s.bytes.len().min(accept as usize)].to_vec(),
                ..s.clone()
            })
        })
        .collect()
}

/// Names the corpus frames in `frames` (by their position in `all`).
fn names(frames: &[Seen], all: &[Seen], corpus: &[(&str, Vec<u8>)]) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            let i = all
                .iter()
                .position(|a| a.len == f.len && a.bytes.starts_with(&f.bytes))
                .unwrap_or(usize::MAX);
            let name = corpus.get(i).map_or("?", |c| c.0);
            format!("{name} ({} of {} bytes)", f.bytes.len(), f.len)
        })
        .collect()
}

fn veth_with_macs() {
    let tx_mac = TX_MAC.map(|b| format!("{b:02x}")).join(":");
    let rx_mac = RX_MAC.map(|b| format!("{b:02x}")).join(":");
    ip(&[
        "link", "add", "name", TX_DEV, "address", &tx_mac, "type", "veth", "peer", "name", RX_DEV,
        "address", &rx_mac,
    ]);
    for dev in [TX_DEV, RX_DEV] {
        ip(&["link", "set", "dev", dev, "up"]);
    }
    assert!(
        wait_until(WAIT, || [TX_DEV, RX_DEV]
            .iter()
            .all(|d| netdev::link_flags(d).is_ok_and(|f| f.running))),
        "veth pair did not come up"
    );
}

#[test]
fn bpf_run_agrees_with_the_kernel() {
    // Find out about tcpdump before making a namespace.
    if tcpdump("ip").is_none() {
        return;
    }
    in_netns("bpf_run", || {
        veth_with_macs();
        let rx_idx = netdev::ifindex(RX_DEV).expect("ifindex");
        let tx_idx = netdev::ifindex(TX_DEV).expect("ifindex");
        let rx_mac = RX_MAC.map(|b| format!("{b:02x}")).join(":");

        let mut programs: Vec<(String, Vec<Instruction>)> = TCPDUMP_FILTERS
            .iter()
            .map(|expr| {
                let expr = expr
                    .replace("{ifindex}", &rx_idx.to_string())
                    .replace("{rx_mac}", &rx_mac);
                let program = tcpdump(&expr).expect("tcpdump was there a moment ago");
                (format!("tcpdump '{expr}'"), program)
            })
            .collect();
        programs.extend(
            handwritten()
                .into_iter()
                .map(|(name, p)| (format!("hand-written '{name}'"), p)),
        );
        for (name, program) in &programs {
            assert_eq!(bpf::validate(program), Ok(()), "{name}");
            assert_eq!(bpf::check_runnable(program), Ok(()), "{name}");
        }

        let req = RingRequest::new(
            TpacketVersion::V2,
            RingKind::Rx,
            1 << 16,
            2,
            2048,
            RX_FRAMES,
        );
        let (_all_sock, mut all_ring) = open_rx_ring(req, rx_idx, None);
        let mut filtered: Vec<_> = programs
            .iter()
            .map(|(_, p)| open_rx_ring(req, rx_idx, Some(p)))
            .collect();

        let corpus = corpus();
        assert!(corpus.len() < RX_FRAMES as usize);
        let tx_req = RingRequest::new(TpacketVersion::V2, RingKind::Tx, 1 << 16, 2, 2048, 64);
        let (tx_sock, mut tx_ring) = open_tx_ring(tx_req, tx_idx);
        for (name, f) in &corpus {
            tx_ring
                .tx()
                .unwrap()
                .send(f)
                .unwrap_or_else(|e| panic!("queue {name}: {e}"));
        }
        tx_sock.kick_blocking().expect("send the corpus");

        let mut all = Vec::new();
        wait_until(WAIT, || {
            drain(&mut all_ring, &mut all);
            all.len() >= corpus.len()
        });
        std::thread::sleep(SETTLE);
        drain(&mut all_ring, &mut all);

        // The unfiltered view is what was sent, in order, minus a stripped
        // tag: vlan::copy_restoring must give the sent frame back.
        let mut stripped = 0;
        for ((name, sent), seen) in corpus.iter().zip(&all) {
            let tag = Tag::from_ring(seen.vlan_tci, seen.vlan_tpid);
            stripped += usize::from(tag.is_some());
            let mut restored = vec![0; seen.bytes.len() + vlan::TAG_LEN];
            let n = vlan::copy_restoring(&seen.bytes, tag, &mut restored)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&restored[..n], sent, "{name}: ring view + restored tag");
            assert_eq!(seen.len as usize, seen.bytes.len(), "{name}: not truncated");
        }
        assert_eq!(
            all.len(),
            corpus.len(),
            "the unfiltered socket sees the corpus, nothing else"
        );
        let tagged = corpus
            .iter()
            .filter(|(_, f)| [[0x81, 0x00], [0x88, 0xa8]].contains(&[f[12], f[13]]))
            .count();
        assert_eq!(
            stripped, tagged,
            "the kernel strips every 802.1Q/802.1ad outer tag (not 0x9100)"
        );

        let mut failures = Vec::new();
        for ((name, program), (_sock, ring)) in programs.iter().zip(filtered.iter_mut()) {
            let mut got = Vec::new();
            drain(ring, &mut got);
            let want = expected(program, &all);
            if got != want {
                failures.push(format!(
                    "{name}:\n  kernel passed: {:?}\n  run() passes:  {:?}",
                    names(&got, &all, &corpus),
                    names(&want, &all, &corpus)
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} programs disagree with the kernel:\n{}",
            failures.len(),
            programs.len(),
            failures.join("\n")
        );
        println!(
            "bpf_run: {} programs x {} frames agree with the kernel",
            programs.len(),
            corpus.len()
        );
    });
}
