//! The parsed expression: a tree in a fixed array, each primitive holding
//! the header layout in force where it was written (libpcap changes its
//! offsets as it parses, so `vlan` shifts every test written after it).

/// A node's position in the tree's array.
pub(super) type Idx = u16;

/// Where the headers are, as libpcap's `off_linktype`, `off_linkpl` and
/// `off_nl` say at a point of the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Layout {
    /// A first `vlan` came before: the link-layer type and payload offsets
    /// have a variable part (4 when the frame carried its outer tag in the
    /// packet, 0 when the kernel moved it to the ancillary data), kept in
    /// scratch word `M[0]`.
    pub variable: bool,
    /// Bytes later `vlan`s add to those offsets (4 each).
    pub shift: u16,
    /// Bytes of MPLS labels before the network header (4 per `mpls`).
    pub nl: u16,
}

impl Layout {
    /// Whether an `mpls` came before.
    pub fn in_mpls(self) -> bool {
        self.nl > 0
    }
}

/// Source/destination qualifier of an address or port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    /// `src`.
    Src,
    /// `dst`.
    Dst,
    /// `src or dst`, and the default.
    Either,
    /// `src and dst`.
    Both,
}

/// Which network-layer headers an IP protocol test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    V6,
    /// IPv4, then IPv6.
    Both,
}

/// Which of libpcap's `gen_hostop` address layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostIn {
    Ip,
    Arp,
    Rarp,
    /// IPv4, then ARP, then RARP (a plain `host`).
    Any,
}

/// A protocol whose header `proto[offset]` indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexed {
    /// The Ethernet header.
    Link,
    /// A network header of this EtherType (IPv4, ARP, RARP, IPv6).
    Network(u16),
    /// The header after IPv4's: only for unfragmented (or first-fragment)
    /// IPv4 carrying this protocol, as the `Family` test says.
    Transport(Family, u8),
    /// ICMPv6, right after a 40-byte IPv6 header.
    Icmp6,
}

/// An ALU operation (`BPF_ADD`, ...).
pub(super) type AluOp = u16;

/// A comparison jump (`BPF_JGT`, `BPF_JGE`, `BPF_JEQ`).
pub(super) type JumpOp = u16;

/// A primitive: libpcap's `gen_*` for one keyword construct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prim {
    /// `ether proto N` and `ip`, `arp`, ... (`gen_linktype`).
    EtherType(u32),
    /// `ip proto N`, `tcp`, ... (`gen_proto`).
    IpProto(Family, u32),
    /// An IPv4 host or network.
    Host {
        addr: u32,
        mask: u32,
        dir: Dir,
        within: HostIn,
    },
    /// An IPv6 host or network.
    Host6 {
        addr: [u8; 16],
        prefix: u8,
        dir: Dir,
    },
    /// An Ethernet address.
    Ether {
        addr: [u8; 6],
        dir: Dir,
    },
    /// `port` and `portrange`, IPv6 first; `proto` 0 for TCP, UDP and SCTP.
    Port {
        lo: u16,
        hi: u16,
        range: bool,
        proto: u8,
        dir: Dir,
    },
    EtherBroadcast,
    /// `ip broadcast`, with the netmask libpcap has for an interface
    /// without an IPv4 address (0): destination 0.0.0.0 or 255.255.255.255.
    IpBroadcast,
    EtherMulticast,
    IpMulticast,
    Ip6Multicast,
    /// `greater N` (`len >= N`) and `less N` (`len <= N`).
    Length {
        greater: bool,
        n: u32,
    },
    /// `vlan [ID]`; `first`: the first in the expression, which libpcap
    /// compiles with the ancillary VLAN data for a live Linux socket.
    Vlan {
        id: Option<u16>,
        first: bool,
    },
    /// `mpls [LABEL]`.
    Mpls {
        label: Option<u32>,
    },
    /// `outbound` (and, negated, `inbound`).
    Outbound,
    /// `ifindex N`.
    Ifindex(u32),
}

/// A node of the expression tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    /// A test known at compile time (`1 = 1`).
    Const(bool),
    And(Idx, Idx),
    Or(Idx, Idx),
    Not(Idx),
    Prim(Prim, Layout),
    /// `lhs op rhs` (negated when `reversed`: `<=`, `<`, `!=`).
    Relation {
        op: JumpOp,
        reversed: bool,
        lhs: Idx,
        rhs: Idx,
        layout: Layout,
    },
    /// An arithmetic value: a constant.
    Num(u32),
    /// An arithmetic value: the packet length.
    Len,
    /// An arithmetic value: `proto[index:size]`.
    Load {
        proto: Indexed,
        index: Idx,
        size: u8,
    },
    /// An arithmetic value: `lhs op rhs`.
    Binary {
        op: AluOp,
        lhs: Idx,
        rhs: Idx,
    },
    /// An arithmetic value: `-x`.
    Neg(Idx),
}

/// Scratch words the code generator needs to compute value `at`: of the
/// two operands of an operation it computes the hungrier one first, so a
/// tree of `n` operands needs at most `log2(n) + 1` words (with
/// [`super::MAX_NODES`] operands, far fewer than the 15 it has).
pub(super) fn scratch(nodes: &[Node], at: Idx) -> u32 {
    match nodes[usize::from(at)] {
        Node::Neg(x) => scratch(nodes, x),
        Node::Binary { lhs, rhs, .. } | Node::Relation { lhs, rhs, .. } => {
            match nodes[usize::from(rhs)] {
                Node::Num(_) => scratch(nodes, lhs),
                _ => {
                    let (l, r) = (scratch(nodes, lhs), scratch(nodes, rhs));
                    l.max(r).max(1 + l.min(r))
                }
            }
        }
        Node::Load { proto, index, .. } => match (proto, nodes[usize::from(index)]) {
            (_, Node::Num(_)) => 0,
            // The index waits in a word while X gets the IPv4 header length.
            (Indexed::Transport(..), _) => scratch(nodes, index).max(1),
            _ => scratch(nodes, index),
        },
        _ => 0,
    }
}
