//! Properties of the pcap-filter compiler over generated expressions:
//! every program it returns passes the kernel's checks (`bpf::validate`),
//! needs nothing user space cannot answer (`bpf::check_runnable`), and
//! ends in `bpf::run` on any frame with an accept length of 0 or
//! `ACCEPT`; any text at all gets a program or an error inside the text.

use proptest::prelude::*;
use ringtap_core::bpf::{self, Ancillary};
use ringtap_core::filter::{Program, ACCEPT};

/// Primitives of every kind, valid ones and a few that are refused.
const PRIMITIVES: &[&str] = &[
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "pim",
    "vrrp",
    "ah",
    "esp",
    "vlan",
    "vlan 10",
    "vlan 4095",
    "mpls",
    "mpls 17",
    "broadcast",
    "multicast",
    "ip multicast",
    "ip6 multicast",
    "ip broadcast",
    "inbound",
    "outbound",
    "ifindex 3",
    "less 100",
    "greater 1000",
    "host 10.0.0.1",
    "src host 10.1",
    "dst net 10.0.0.0/8",
    "net 192.168",
    "net 10.0.0.0 mask 255.255.0.0",
    "ip6 host fd00::1",
    "net fd00::/16",
    "src or dst net ::/0",
    "ether host 02:00:00:00:00:01",
    "ether src 0200.0000.0001",
    "ether proto 0x88b5",
    "ether proto \\ipx",
    "ether proto 100",
    "ether proto \\atalk",
    "port 80",
    "tcp dst port 443",
    "udp src port 53",
    "sctp port 9",
    "portrange 1-1024",
    "tcp portrange 2000-1000",
    "ip proto 6",
    "ip6 proto \\ipv6-icmp",
    "proto 17",
    "tcp[tcpflags] & tcp-syn != 0",
    "icmp[icmptype] = icmp-echo",
    "ip[0] & 0xf > 5",
    "udp[8:2] = 0x1234",
    "ether[12:2] = 0x8100",
    "ip6[6] = 58",
    "arp[7] = 2",
    "icmp6[icmp6type] = icmp6-echo",
    "len - 14 > 100",
    "ip[ip[0] & 0xf] = 0",
    "tcp[(tcp[12] >> 4) * 4] = 0x47",
    "ip[2:2] / 4 % 3 ^ 1 < 7",
    "-len + 2 * len = len",
    "ether[0] | 1 << 3 >= 8",
    "1 = 1",
    "2 > 3",
    "vlan 5000",
    "port http",
    "host server",
    "pppoes",
    "ip[0] / 0 = 1",
    "mpls and arp",
];

fn expression() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(PRIMITIVES).prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

fn ancillary() -> impl Strategy<Value = Ancillary> {
    (any::<Option<u16>>(), any::<u16>(), 0u8..8, any::<u16>()).prop_map(
        |(vlan_tci, vlan_tpid, pkttype, protocol)| Ancillary {
            protocol,
            pkttype,
            vlan_tci,
            vlan_tpid,
            ..Ancillary::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compiled_programs_are_valid_and_end(
        expr in expression(),
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..6),
        anc in ancillary(),
    ) {
        let mut program = Program::new();
        match program.compile(&expr) {
            Ok(instructions) => {
                prop_assert_eq!(bpf::validate(instructions), Ok(()));
                prop_assert_eq!(bpf::check_runnable(instructions), Ok(()));
                for frame in &frames {
                    let anc = Ancillary { len: frame.len() as u32, ..anc };
                    let verdict = bpf::run(instructions, frame, &anc);
                    prop_assert!(verdict == 0 || verdict == ACCEPT, "{}", verdict);
                }
            }
            Err(e) => {
                prop_assert!(e.column >= 1 && e.column <= expr.chars().count() + 1, "{}", e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Any text: a program the kernel takes, or an error that points into
    /// the text (or just past its end). Never a panic.
    #[test]
    fn any_text_compiles_or_points_at_its_error(
        expr in proptest::string::string_regex(
            "[ a-z0-9:./\\\\\\[\\]()&|!<>=+*%^-]{0,60}"
        ).expect("regex"),
    ) {
        let mut program = Program::new();
        match program.compile(&expr) {
            Ok(instructions) => prop_assert_eq!(bpf::validate(instructions), Ok(())),
            Err(e) => {
                let chars = expr.chars().count();
                prop_assert!(e.column >= 1 && e.column <= chars + 1, "{expr:?}: {e}");
                prop_assert!(e.column + e.len <= chars + 2, "{expr:?}: {e}");
            }
        }
    }
}
