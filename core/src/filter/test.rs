//! The compiler's own tests: errors and their columns, the verdicts of
//! compiled programs on hand-made frames (VLAN offsets, precedences,
//! qualifier inheritance), the shape of a few programs, and the limits.
//! `tests/tests/filter.rs` checks the verdicts against libpcap.

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::bpf::{run, Ancillary, Dump, DumpFormat};

fn compile(expr: &str) -> Result<Vec<Instruction>, FilterError> {
    let mut program = Program::new();
    let result = program.compile(expr).map(<[_]>::to_vec);
    if result.is_err() {
        assert!(program.instructions().is_empty(), "{expr}: not cleared");
    }
    result
}

fn error(expr: &str) -> FilterError {
    match compile(expr) {
        Ok(p) => panic!("{expr:?} compiled to {} instructions", p.len()),
        Err(e) => e,
    }
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// An Ethernet frame from `SRC_MAC` to `DST_MAC` with these in-frame tags.
fn eth(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = DST_MAC.to_vec();
    f.extend_from_slice(&SRC_MAC);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(l4);
    h
}

fn ports(sport: u16, dport: u16) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&[0; 16]);
    l4[13] = 0x02; // a TCP SYN, should it be read as TCP
    l4
}

/// Whether `expr` accepts `frame`, with the ring's ancillary data: `tag`
/// is a tag the kernel stripped (TPID, TCI).
fn accepts(expr: &str, frame: &[u8], tag: Option<(u16, u16)>) -> bool {
    let program = compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let anc = Ancillary {
        protocol: u16::from_be_bytes([frame[12], frame[13]]),
        len: frame.len() as u32,
        vlan_tci: tag.map(|t| t.1),
        vlan_tpid: tag.map_or(0, |t| t.0),
        ..Ancillary::default()
    };
    match run(&program, frame, &anc) {
        0 => false,
        ACCEPT => true,
        other => panic!("{expr}: returned {other}"),
    }
}

#[test]
fn test_empty_and_constant_expressions() {
    let accept = [Instruction::stmt(BPF_RET | BPF_K, ACCEPT)];
    assert_eq!(compile("").unwrap(), accept);
    assert_eq!(compile(" \t\n").unwrap(), accept);
    assert_eq!(compile("1 = 1").unwrap(), accept);
    assert_eq!(compile("2 > 1 and not 1 = 2").unwrap(), accept);
    assert_eq!(compile("1 = 0 and tcp").unwrap().len(), 1);
    // A constant after a test leaves the test (its loads may reject).
    assert_eq!(compile("tcp or 1 = 1").unwrap().len(), 2 + 11);
    assert_eq!(
        compile("1 = 0").unwrap(),
        [Instruction::stmt(BPF_RET | BPF_K, 0)]
    );
}

#[test]
fn test_program_shapes() {
    let listing = |expr: &str| {
        let program = compile(expr).unwrap();
        format!(
            "{}",
            Dump {
                program: &program,
                format: DumpFormat::Assembly,
            }
        )
    };
    assert_eq!(
        listing("tcp dst port 80"),
        "\
(000) ldh      [12]
(001) jeq      #0x86dd          jt 2\tjf 6
(002) ldb      [20]
(003) jeq      #0x6             jt 4\tjf 6
(004) ldh      [56]
(005) jeq      #0x50            jt 15\tjf 6
(006) ldh      [12]
(007) jeq      #0x800           jt 8\tjf 16
(008) ldb      [23]
(009) jeq      #0x6             jt 10\tjf 16
(010) ldh      [20]
(011) jset     #0x1fff          jt 16\tjf 12
(012) ldxb     4*([14]&0xf)
(013) ldh      [x + 16]
(014) jeq      #0x50            jt 15\tjf 16
(015) ret      #262144
(016) ret      #0
"
    );
    // The first `vlan` as libpcap compiles it for a live socket: the
    // ancillary data, else a tag in the frame, and then the offsets moved
    // by 4 at run time (M[0]); the second looks in the frame.
    assert_eq!(
        listing("vlan and vlan 20"),
        "\
(000) ld       #0x0
(001) st       M[0]
(002) ldb      [vlanp]
(003) jeq      #0x1             jt 11\tjf 4
(004) ld       M[0]
(005) add      #4
(006) st       M[0]
(007) ldh      [12]
(008) jeq      #0x8100          jt 11\tjf 9
(009) jeq      #0x88a8          jt 11\tjf 10
(010) jeq      #0x9100          jt 11\tjf 21
(011) ldx      M[0]
(012) ldh      [x + 12]
(013) jeq      #0x8100          jt 16\tjf 14
(014) jeq      #0x88a8          jt 16\tjf 15
(015) jeq      #0x9100          jt 16\tjf 21
(016) ldx      M[0]
(017) ldh      [x + 14]
(018) and      #0xfff
(019) jeq      #0x14            jt 20\tjf 21
(020) ret      #262144
(021) ret      #0
"
    );
}

#[test]
fn test_vlan_offsets_follow_the_ring() {
    let udp = |dport| ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &ports(40000, dport));
    // The kernel stripped an 802.1Q tag: the frame has none, the ring
    // header has it.
    let stripped = eth(&[], 0x0800, &udp(53));
    let q10 = Some((0x8100, 10));
    assert!(accepts("vlan", &stripped, q10));
    assert!(accepts("vlan 10", &stripped, q10));
    assert!(!accepts("vlan 11", &stripped, q10));
    assert!(accepts("vlan 10 and udp port 53", &stripped, q10));
    assert!(accepts("vlan 10 and ip[9] = 17", &stripped, q10));
    // The PCP and DEI bits are not part of the VLAN ID.
    assert!(accepts("vlan 10", &stripped, Some((0x8100, 0xf00a))));
    assert!(!accepts("vlan", &stripped, None));
    // `vlan` moves the later offsets by 4 whenever it finds no tag in the
    // ancillary data, also when it then fails (libpcap does the same).
    assert!(!accepts("not vlan and udp port 53", &stripped, None));
    assert!(accepts("udp port 53 and not vlan", &stripped, None));
    // A 0x9100 tag stays in the frame: the offsets after it move by 4.
    let in_frame = eth(&[(0x9100, 10)], 0x0800, &udp(53));
    assert!(accepts("vlan 10 and udp port 53", &in_frame, None));
    assert!(!accepts("udp port 53", &in_frame, None));
    // QinQ: the outer tag in the ring header, the inner one in the frame.
    let qinq = eth(&[(0x8100, 20)], 0x0800, &udp(53));
    let ad200 = Some((0x88a8, 200));
    assert!(accepts(
        "vlan 200 and vlan 20 and udp port 53",
        &qinq,
        ad200
    ));
    assert!(!accepts("vlan 20 and vlan 200", &qinq, ad200));
    assert!(accepts("vlan and vlan and ip", &qinq, ad200));
    // `vlan` moves the offsets of everything after it, also across `or`.
    assert!(!accepts("vlan 99 or udp port 53", &stripped, None));
    assert!(accepts("vlan 99 or udp port 53", &in_frame, None));
    assert!(accepts("udp port 53 or vlan 99", &stripped, None));
}

#[test]
fn test_precedence_and_qualifiers() {
    let tcp = |src, dport| {
        eth(
            &[],
            0x0800,
            &ipv4(6, src, [10, 0, 0, 2], &ports(40001, dport)),
        )
    };
    let a80 = tcp([10, 0, 0, 1], 80);
    let b443 = tcp([10, 0, 0, 3], 443);
    let arp = eth(&[], 0x0806, &[0; 28]);
    // `and` and `or` bind alike, from the left.
    assert!(!accepts("arp or tcp and port 443", &arp, None));
    assert!(accepts("arp or (tcp and port 443)", &arp, None));
    // A bare value takes the qualifiers before it.
    assert!(accepts("tcp dst port 22 or 80", &a80, None));
    assert!(accepts("src host 10.0.0.9 or 10.0.0.3", &b443, None));
    assert!(!accepts("src host 10.0.0.9 or 10.0.0.2", &b443, None));
    assert!(accepts(
        "host 10.0.0.9 and (port 443) or 10.0.0.1",
        &a80,
        None
    ));
    assert!(accepts("tcp port (22 or 443)", &b443, None));
    assert!(accepts(
        "host (10.0.0.9 or 10.0.0.3) and not port 22",
        &b443,
        None
    ));
    // `%` and `^` take everything to their right: 0x45 % (3 + 1) = 1.
    assert!(accepts("ip[0] % 3 + 1 = 1", &a80, None));
    assert!(accepts("ip[0] + 1 % 3 = 0x46", &a80, None));
    assert!(accepts("ip[0] ^ 1 + 1 = 0x47", &a80, None));
    assert!(accepts("2 * 3 + 4 = 10 and 2 + 3 * 4 = 14", &a80, None));
    assert!(accepts("8 - 2 - 1 = 5 and 64 / 4 / 2 = 8", &a80, None));
    assert!(accepts("1 << 2 + 1 = 8 and 6 & 3 | 8 = 10", &a80, None));
    assert!(accepts("-ip[0] = 0xffffffbb and - 1 + 2 = 1", &a80, None));
    assert!(accepts("tcp[tcpflags] & tcp-syn != 0", &a80, None));
    assert!(accepts(
        "ether src 02:00:00:00:00:01 and ether dst 2:0:0:0:0:2",
        &a80,
        None
    ));
    assert!(accepts(
        "net 10.0.0.0/30 and dst net 10.0.0.0 mask 255.255.255.252",
        &a80,
        None
    ));
    assert!(accepts("dst net 10.0.0.2/31", &b443, None));
    assert!(!accepts("src net 10.0.0.2/32", &b443, None));
}

#[test]
fn test_loads_past_the_end_reject() {
    let runt = &eth(&[], 0x0800, &ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], &[]))[..30];
    assert!(!accepts("tcp port 80", runt, None));
    // Under `not` too, as in the kernel and libpcap.
    assert!(!accepts("not tcp port 80", runt, None));
    assert!(accepts("ip and len < 31", runt, None));
    // Loads the program never makes cannot reject (`net 0/0` reads no
    // address, as libpcap's optimizer leaves that out).
    assert!(accepts("net 0.0.0.0/0", &runt[..20], None));
}

#[test]
fn test_far_jumps() {
    // Enough hosts that the first tests jump more than 255 instructions.
    let hosts: Vec<String> = (1..=60).map(|i| format!("host 10.0.{i}.1")).collect();
    let expr = hosts.join(" or ");
    let program = compile(&expr).unwrap();
    assert!(program.len() > 600, "{}", program.len());
    assert!(program
        .iter()
        .any(|i| i.code == crate::bpf::BPF_JMP | crate::bpf::BPF_JA));
    for (i, host) in [1u8, 30, 60].into_iter().map(|i| (i, [10, 0, i, 1])) {
        let f = eth(&[], 0x0800, &ipv4(17, [192, 168, 0, 1], host, &[0; 8]));
        assert!(accepts(&expr, &f, None), "host 10.0.{i}.1");
    }
    let f = eth(
        &[],
        0x0800,
        &ipv4(17, [192, 168, 0, 1], [10, 0, 61, 1], &[0; 8]),
    );
    assert!(!accepts(&expr, &f, None));
}

#[test]
fn test_limits() {
    let long: Vec<&str> = vec!["port 80"; 200];
    assert_eq!(error(&long.join(" or ")).kind, ErrorKind::ProgramTooLong);
    let many: Vec<&str> = vec!["ip"; 600];
    assert_eq!(
        error(&many.join(" or ")).kind,
        ErrorKind::TooComplex {
            capacity: MAX_NODES
        }
    );
    let deep = format!("{}tcp{}", "(".repeat(100), ")".repeat(100));
    let e = error(&deep);
    assert_eq!(e.kind, ErrorKind::TooDeep { max: MAX_DEPTH });
    // Arithmetic nested as deeply as the parser goes, or a long chain,
    // fits the scratch words.
    let mut nested = String::from("ip[0]");
    for i in 1..30 {
        nested = format!("(ip[{i}] - {nested}) * ({nested} + len)");
        if nested.len() > 600 {
            break;
        }
    }
    let program = compile(&format!("{nested} = 1")).unwrap();
    assert_eq!(crate::bpf::validate(&program), Ok(()));
    let chain: Vec<String> = (0..100).map(|i| format!("ip[{i}]")).collect();
    assert!(compile(&format!("{} = 1", chain.join(" + "))).is_ok());
}

/// Malformed expressions: the column, the length, and what was wrong.
#[test]
fn test_errors_name_the_column_and_what_was_expected() {
    use Expected as E;
    use Found as F;
    let syntax = |expected, found| ErrorKind::Syntax { expected, found };
    let kw = |k| ErrorKind::NotSupported(Unsupported::Keyword(k));
    let too_large = |what, value, max| ErrorKind::TooLarge { what, value, max };
    let qualifier = |qualifier, applied_to| ErrorKind::Qualifier {
        qualifier,
        applied_to,
    };
    let cases: &[(&str, usize, usize, ErrorKind)] = &[
        ("tcp port", 9, 1, syntax(E::Value, F::End)),
        ("tcp port 80 and", 16, 1, syntax(E::Primitive, F::End)),
        ("host", 5, 1, syntax(E::Value, F::End)),
        ("not", 4, 1, syntax(E::Primitive, F::End)),
        ("80", 3, 1, syntax(E::Comparison, F::End)),
        ("tcp and 80", 9, 2, syntax(E::Qualifier, F::Number)),
        ("(tcp", 5, 1, syntax(E::AndOrClose, F::End)),
        ("tcp)", 4, 1, syntax(E::AndOrEnd, F::Token(")"))),
        ("tcp udp", 5, 3, syntax(E::AndOrEnd, F::Token("udp"))),
        (
            "ip[0 = 1",
            6,
            1,
            syntax(E::CloseBracketOrSize, F::Token("=")),
        ),
        ("ip[0:] = 1", 6, 1, syntax(E::Size, F::Token("]"))),
        ("ip[0] =", 8, 1, syntax(E::Operand, F::End)),
        ("ip[0] 1", 7, 1, syntax(E::Comparison, F::Number)),
        ("ip 0 = 1", 4, 1, syntax(E::AndOrEnd, F::Number)),
        (
            "src or tcp",
            8,
            3,
            syntax(E::Keyword("dst"), F::Token("tcp")),
        ),
        ("src proto 6", 5, 5, syntax(E::Value, F::Token("proto"))),
        ("less", 5, 1, syntax(E::Number, F::End)),
        ("ifindex eth0", 9, 4, syntax(E::Number, F::Name)),
        ("vlan and or", 10, 2, syntax(E::Primitive, F::Token("or"))),
        ("= 1", 1, 1, syntax(E::Primitive, F::Token("="))),
        ("port 70000", 6, 5, too_large("port", 70000, 65535)),
        ("portrange 1-70000", 11, 7, too_large("port", 70000, 65535)),
        ("vlan 4096", 6, 4, too_large("VLAN ID", 4096, 4095)),
        (
            "mpls 1048576",
            6,
            7,
            too_large("MPLS label", 1_048_576, 0xf_ffff),
        ),
        ("net 10.0.0.0/33", 14, 2, too_large("mask length", 33, 32)),
        (
            "net fd00::/129",
            12,
            3,
            too_large("prefix length", 129, 128),
        ),
        ("net 10.0.0.1/8", 5, 8, ErrorKind::NonNetworkBits),
        ("net fd00::1/64", 5, 7, ErrorKind::NonNetworkBits),
        ("host 10.0.0.0/8", 6, 8, ErrorKind::MaskOnHost),
        ("host 10.0.0.256", 6, 10, ErrorKind::BadIpv4Address),
        (
            "ip6 host 10.0.0.1",
            10,
            8,
            qualifier("ip6", "an IPv4 host or network"),
        ),
        (
            "tcp host 10.0.0.1",
            10,
            8,
            qualifier("tcp", "an IPv4 host or network"),
        ),
        (
            "ip host fd00::1",
            9,
            7,
            qualifier("ip", "an IPv6 host or network"),
        ),
        ("icmp port 7", 11, 1, qualifier("icmp", "a port")),
        ("port 10.0.0.1", 6, 8, qualifier("port", "an IPv4 address")),
        ("src proto", 5, 5, syntax(E::Value, F::Token("proto"))),
        ("tcp proto 6", 11, 1, qualifier("tcp", "`proto`")),
        (
            "ether 6",
            1,
            5,
            qualifier(
                "ether",
                "nothing (write `ether host`, `ether proto` or `ether[...]`)",
            ),
        ),
        (
            "udp port http",
            10,
            4,
            ErrorKind::NotSupported(Unsupported::ServiceName),
        ),
        (
            "host example.com",
            6,
            11,
            ErrorKind::NotSupported(Unsupported::HostName),
        ),
        (
            "net localnet",
            5,
            8,
            ErrorKind::NotSupported(Unsupported::NetworkName),
        ),
        (
            "ether host router",
            12,
            6,
            ErrorKind::NotSupported(Unsupported::EthernetName),
        ),
        (
            "ip proto \\foo",
            10,
            4,
            ErrorKind::NotSupported(Unsupported::ProtocolName),
        ),
        (
            "src 02:00:00:00:00:01",
            5,
            17,
            ErrorKind::EthernetWithoutEther,
        ),
        ("ip[0:3] = 1", 6, 1, ErrorKind::BadSize(3)),
        ("ah[0] = 1", 1, 2, ErrorKind::NotIndexable("ah")),
        ("ip[0] / 0 = 1", 7, 1, ErrorKind::DivisionByZero),
        ("len % (1 - 1) = 1", 5, 1, ErrorKind::DivisionByZero),
        ("ip[0] << 32 = 1", 7, 2, ErrorKind::ShiftTooLarge(32)),
        ("mpls and vlan", 10, 4, ErrorKind::VlanAfterMpls),
        ("mpls and arp", 10, 3, ErrorKind::NotOverMpls),
        ("mpls and ether proto 0x88b5", 22, 6, ErrorKind::NotOverMpls),
        ("tcp broadcast", 5, 9, ErrorKind::CastNotFor("broadcast")),
        ("ip6 broadcast", 5, 9, ErrorKind::CastNotFor("broadcast")),
        ("arp multicast", 5, 9, ErrorKind::CastNotFor("multicast")),
        ("gateway 10.0.0.1", 1, 7, kw("gateway")),
        ("ip protochain 6", 4, 10, kw("protochain")),
        ("pppoes and tcp", 1, 6, kw("pppoes")),
        ("wlan type mgt", 6, 4, kw("type")),
        (
            "host $1",
            6,
            2,
            ErrorKind::NotSupported(Unsupported::ArcnetAddress),
        ),
        ("host 1::2::3", 6, 6, ErrorKind::BadEthernetAddress),
        ("host ::1.2.3.400", 6, 11, ErrorKind::BadIpv6Address),
        ("port 09", 6, 2, ErrorKind::NotOctal),
        ("ip[0] = 99999999999", 9, 11, ErrorKind::NumberTooLarge),
        ("host #", 6, 1, ErrorKind::UnexpectedCharacter),
        (
            "tcp port 80 or 443 or http",
            23,
            4,
            ErrorKind::NotSupported(Unsupported::ServiceName),
        ),
        (
            "vlan 10 and ip[0] = 1 or",
            25,
            1,
            syntax(E::Primitive, F::End),
        ),
        ("tcp or é", 8, 1, ErrorKind::UnexpectedCharacter),
    ];
    assert!(cases.len() >= 30);
    for &(expr, column, len, kind) in cases {
        let e = error(expr);
        assert_eq!(
            (e.column, e.len, e.kind),
            (column, len, kind),
            "{expr:?}: {e}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("column {column}: ")) && text.contains("expected"),
            "{expr:?}: {text}"
        );
    }
}

#[test]
fn test_error_display() {
    let cases = [
        (
            "tcp port",
            "column 9: expected an address, network, port or number, found the end of the \
             expression",
        ),
        (
            "vlan 5000",
            "column 6: expected a VLAN ID of at most 4095, found 5000",
        ),
        (
            "tcp and 80",
            "column 9: expected a qualifier such as `host` or `port` (a bare value takes those \
             of the primitive before it, and there is none), found a number",
        ),
        (
            "llc",
            "column 1: expected a primitive ringtap compiles: `llc` belongs to another link \
             type or to a part of pcap-filter that ringtap leaves out",
        ),
        (
            "host server",
            "column 6: expected an address: host names need name resolution, which ringtap \
             does not do",
        ),
    ];
    for (expr, text) in cases {
        assert_eq!(error(expr).to_string(), text);
    }
}

#[test]
fn test_every_supported_keyword_compiles() {
    let exprs = [
        "ether host 2:0:0:0:0:1",
        "ppp src 2:0:0:0:0:1",
        "slip dst 2:0:0:0:0:1",
        "fddi host 2:0:0:0:0:1",
        "tr host 2:0:0:0:0:1",
        "wlan host 2:0:0:0:0:1",
        "link proto 0x800",
        "ip",
        "ip6",
        "arp",
        "rarp",
        "tcp",
        "udp",
        "sctp",
        "icmp",
        "icmp6",
        "igmp",
        "igrp",
        "pim",
        "vrrp",
        "carp",
        "ah",
        "esp",
        "host 10.0.0.1",
        "net 10",
        "port 1",
        "portrange 1-2",
        "proto 6",
        "less 1",
        "greater 1",
        "broadcast",
        "multicast",
        "ip broadcast",
        "ip multicast",
        "ip6 multicast",
        "len = 1",
        "length = 1",
        "inbound",
        "outbound",
        "ifindex 1",
        "vlan",
        "vlan 1",
        "mpls",
        "mpls 1",
        "src or dst host 10.0.0.1",
        "dst and src host 10.0.0.1",
        "ether proto \\ip",
        "ip6 proto \\ipv6-icmp",
        "igmp[0] = 1",
        "pim[0] = 1",
        "vrrp[0] = 1",
        "carp[0] = 1",
        "igrp[0] = 1",
        "sctp[0] = 1",
        "icmp6[0] = 1",
        "rarp[0] = 1",
        "arp[0] = 1",
        "ip6[0] = 1",
        "link[0] = 1",
    ];
    for expr in exprs {
        let program = compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(crate::bpf::check_runnable(&program), Ok(()), "{expr}");
    }
}
