//! Writes the seed corpus of `filter_expression`:
//! `cargo run --example make_filter_seeds` (from `fuzz/`).
//!
//! One expression per file: every construct of the language once, some
//! combined, and malformed ones the compiler must refuse with an error.
//! Each is checked to compile, or to fail, as listed, before it is
//! written. The output is deterministic.

use std::path::Path;

use ringtap_core::filter::Program;

/// Expressions that compile.
const VALID: &[&str] = &[
    "ether host 02:00:00:00:00:01",
    "ether src 0200.0000.0001 and ether dst ff-ff-ff-ff-ff-ff",
    "ether proto \\ip6 or ether proto 0x88b5 or ether proto \\ipx",
    "broadcast or multicast",
    "ip or ip6 or arp or rarp",
    "host 10.0.0.1 or 10.0.0.2",
    "src net 10.0.0.0/8 and dst net 192.168 mask 255.255.0.0",
    "ip6 net fd00::/16 and not host ::1",
    "tcp port 80 or udp dst port 53 or sctp src port 9",
    "portrange 1000-2000 and tcp",
    "ip proto \\tcp or ip6 proto 17 or proto 1",
    "icmp or icmp6 or igmp or pim or vrrp or ah or esp",
    "vlan",
    "vlan 10 and tcp",
    "vlan 200 and vlan 10 and udp port 53",
    "vlan and vlan and vlan and ip6",
    "vlan or ip",
    "mpls 100 and mpls and ip and udp",
    "less 64 or greater 1500",
    "len - 14 > 100",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn",
    "icmp[icmptype] = icmp-echo",
    "icmp6[icmp6type] = icmp6-neighborsolicit",
    "ip[0] % 3 + 1 = 1",
    "ip[ip[0] & 0xf] > 0",
    "tcp[(tcp[12] >> 4) * 4] = 0x47",
    "-len ^ 7 | 3 << 2 >= 0x10",
    "ip broadcast or ip multicast or ip6 multicast",
    "inbound and ifindex 2",
    "not (tcp or udp) and !arp",
    "1 = 1",
];

/// Expressions that do not compile.
const INVALID: &[&str] = &[
    "tcp port",
    "tcp and 80",
    "vlan 4096",
    "host example.com",
    "port http",
    "ip[0:3] = 1",
    "mpls and vlan",
    "(((tcp)",
    "net 10.0.0.1/8",
    "pppoes",
];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/filter_expression");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let mut program = Program::new();
    for (i, expr) in VALID.iter().enumerate() {
        if let Err(e) = program.compile(expr) {
            panic!("seed {expr:?} does not compile: {e}");
        }
        std::fs::write(dir.join(format!("valid-{i:02}")), expr).expect("write seed");
    }
    for (i, expr) in INVALID.iter().enumerate() {
        assert!(program.compile(expr).is_err(), "seed {expr:?} compiles");
        std::fs::write(dir.join(format!("invalid-{i:02}")), expr).expect("write seed");
    }
    println!("{} seeds in {}", VALID.len() + INVALID.len(), dir.display());
}
