//! Why an expression does not compile: where (a column and a length in the
//! expression) and what was expected there.

use core::fmt;

/// An expression that does not compile, with the place in it.
///
/// `column` counts characters from 1; `len` is the length of the offending
/// token in characters (at least 1, also at the end of the expression), so
/// a caller holding the expression can underline it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FilterError {
    /// Where the problem starts, in characters from 1.
    pub column: usize,
    /// How many characters it spans (at least 1).
    pub len: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What a parser wanted where an expression went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Expected {
    /// The start of a primitive (`host`, `tcp`, `port 80`, `ip[0] = 1`, ...).
    Primitive,
    /// `and`, `or` or the end of the expression.
    AndOrEnd,
    /// `and`, `or` or `)`.
    AndOrClose,
    /// `)`.
    Close,
    /// `]`.
    CloseBracket,
    /// `]` or `:` and a size.
    CloseBracketOrSize,
    /// A size of 1, 2 or 4 after `:`.
    Size,
    /// A number.
    Number,
    /// An address, network, port or number after qualifiers such as `src`,
    /// `host` or `port`.
    Value,
    /// A comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`) after an arithmetic
    /// operand.
    Comparison,
    /// An arithmetic operand: a number, `len`, `proto[offset]` or `(`.
    Operand,
    /// `[` after a protocol name used as an operand.
    OpenBracket,
    /// A qualifier (`host`, `port`, ...) before a bare value, which
    /// otherwise takes those of the primitive before it.
    Qualifier,
    /// This keyword (`dst` after `src or`).
    Keyword(&'static str),
}

/// What was found where something else was [`Expected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Found {
    /// The end of the expression.
    End,
    /// A keyword or an operator, as written.
    Token(&'static str),
    /// A number.
    Number,
    /// A name (a host, port or protocol name).
    Name,
    /// An IPv4 address or network.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An Ethernet address.
    Ethernet,
}

/// What ringtap leaves out of the pcap-filter language, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Unsupported {
    /// A host name: it needs DNS or `/etc/hosts`.
    HostName,
    /// A network name: it needs `/etc/networks`.
    NetworkName,
    /// An Ethernet host name: it needs `/etc/ethers`.
    EthernetName,
    /// A port or service name: it needs `/etc/services`.
    ServiceName,
    /// A protocol name that is not built in: it needs `/etc/protocols`.
    ProtocolName,
    /// A pcap-filter keyword for another link type or a feature ringtap
    /// does not compile (`pppoes`, `protochain`, `llc`, `wlan type`, ...).
    Keyword(&'static str),
    /// An ARCnet address (`$xx`).
    ArcnetAddress,
}

/// What went wrong at the [`FilterError`]'s column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorKind {
    /// A syntax error.
    Syntax {
        /// What would have been valid here.
        expected: Expected,
        /// What is here.
        found: Found,
    },
    /// Something ringtap does not compile.
    NotSupported(Unsupported),
    /// A character that starts no token.
    UnexpectedCharacter,
    /// A number beyond 32 bits.
    NumberTooLarge,
    /// A number with a leading 0 (octal) that has an 8 or a 9.
    NotOctal,
    /// Text shaped like an IPv6 address that is not one.
    BadIpv6Address,
    /// Text shaped like an Ethernet address that is not one.
    BadEthernetAddress,
    /// An IPv4 address with a part above 255.
    BadIpv4Address,
    /// A value above its field's maximum.
    TooLarge {
        /// The field (`port`, `VLAN ID`, `MPLS label`, `mask length`, ...).
        what: &'static str,
        /// The value found.
        value: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A network with bits set beyond its mask (`10.1.0.0/8`).
    NonNetworkBits,
    /// A mask or prefix length on a host rather than a network.
    MaskOnHost,
    /// A qualifier that does not apply to what follows, as libpcap words
    /// it (`'tcp' modifier applied to host`).
    Qualifier {
        /// The qualifier (`tcp`, `ether`, `src`, ...).
        qualifier: &'static str,
        /// What it was applied to (`host`, `port`, `proto`, ...).
        applied_to: &'static str,
    },
    /// An Ethernet address without `ether` (or `host`/`src`/`dst`) before it.
    EthernetWithoutEther,
    /// A byte offset whose size is not 1, 2 or 4.
    BadSize(u32),
    /// A protocol whose header cannot be indexed (`ah[0]`).
    NotIndexable(&'static str),
    /// Division or modulo by the constant 0.
    DivisionByZero,
    /// A shift by a constant above 31.
    ShiftTooLarge(u32),
    /// `vlan` after `mpls` (libpcap cannot look for a tag inside MPLS).
    VlanAfterMpls,
    /// A protocol over MPLS other than IPv4 and IPv6.
    NotOverMpls,
    /// `ip broadcast`... with a protocol other than `ether` or `ip`, or
    /// `multicast` with one other than `ether`, `ip` or `ip6`.
    CastNotFor(&'static str),
    /// More nodes than the compiler's fixed expression tree holds.
    TooComplex {
        /// The capacity, in primitives and operators.
        capacity: usize,
    },
    /// The program would exceed `BPF_MAXINSNS` instructions.
    ProgramTooLong,
    /// Parentheses, `not`s or arithmetic nested deeper than the parser
    /// goes.
    TooDeep {
        /// The deepest nesting allowed.
        max: usize,
    },
    /// The compiled program fails the kernel's checks: a bug in ringtap.
    Invalid(crate::bpf::BpfError),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Primitive => {
                "a primitive (such as `host 10.0.0.1`, `tcp port 80`, `vlan 10` or `ip[0] = 0x45`)"
            }
            Expected::AndOrEnd => "`and`, `or` or the end of the expression",
            Expected::AndOrClose => "`and`, `or` or `)`",
            Expected::Close => "`)`",
            Expected::CloseBracket => "`]`",
            Expected::CloseBracketOrSize => "`]`, or `:` and a size of 1, 2 or 4",
            Expected::Size => "a size of 1, 2 or 4",
            Expected::Number => "a number",
            Expected::Value => "an address, network, port or number",
            Expected::Comparison => "a comparison (`=`, `!=`, `<`, `<=`, `>` or `>=`)",
            Expected::Operand => "a number, `len`, `proto[offset]` or `(`",
            Expected::OpenBracket => "`[` (as in `tcp[13]`)",
            Expected::Qualifier => {
                "a qualifier such as `host` or `port` (a bare value takes those of the \
                 primitive before it, and there is none)"
            }
            Expected::Keyword(k) => return write!(f, "`{k}`"),
        })
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::End => f.write_str("the end of the expression"),
            Found::Token(t) => write!(f, "`{t}`"),
            Found::Number => f.write_str("a number"),
            Found::Name => f.write_str("a name"),
            Found::Ipv4 => f.write_str("an IPv4 address"),
            Found::Ipv6 => f.write_str("an IPv6 address"),
            Found::Ethernet => f.write_str("an Ethernet address"),
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::HostName => f.write_str(
                "expected an address: host names need name resolution, which ringtap does not do",
            ),
            Unsupported::NetworkName => f.write_str(
                "expected a network such as 10.0.0.0/8: network names need /etc/networks, \
                 which ringtap does not read",
            ),
            Unsupported::EthernetName => f.write_str(
                "expected an Ethernet address such as 02:00:00:00:00:01: Ethernet host names \
                 need /etc/ethers, which ringtap does not read",
            ),
            Unsupported::ServiceName => f.write_str(
                "expected a port number (or after `portrange` a range such as 1000-2000): port \
                 names need /etc/services, which ringtap does not read",
            ),
            Unsupported::ProtocolName => f.write_str(
                "expected a protocol number: this name is not built in, and ringtap does not \
                 read /etc/protocols",
            ),
            Unsupported::Keyword(k) => write!(
                f,
                "expected a primitive ringtap compiles: `{k}` belongs to another link type or \
                 to a part of pcap-filter that ringtap leaves out"
            ),
            Unsupported::ArcnetAddress => f.write_str(
                "expected an Ethernet, IPv4 or IPv6 address: ARCnet addresses are not supported",
            ),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Syntax { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::NotSupported(what) => write!(f, "{what}"),
            ErrorKind::UnexpectedCharacter => {
                f.write_str("expected a token, found a character that starts none")
            }
            ErrorKind::NumberTooLarge => {
                f.write_str("expected a number of at most 32 bits (4294967295)")
            }
            ErrorKind::NotOctal => f.write_str(
                "expected octal digits (0-7) after a leading 0; write decimal without the 0",
            ),
            ErrorKind::BadIpv6Address => f.write_str("expected an IPv6 address; this is not one"),
            ErrorKind::BadEthernetAddress => f.write_str(
                "expected an Ethernet address of six hexadecimal bytes (02:00:00:00:00:01)",
            ),
            ErrorKind::BadIpv4Address => {
                f.write_str("expected an IPv4 address whose parts are 0 to 255")
            }
            ErrorKind::TooLarge { what, value, max } => {
                write!(f, "expected a {what} of at most {max}, found {value}")
            }
            ErrorKind::NonNetworkBits => f.write_str(
                "expected a network: this address has bits set beyond its mask",
            ),
            ErrorKind::MaskOnHost => {
                f.write_str("expected `net` before an address with a mask (mask syntax is for networks)")
            }
            ErrorKind::Qualifier {
                qualifier,
                applied_to,
            } => write!(
                f,
                "expected a qualifier that fits {applied_to}: `{qualifier}` does not apply to it"
            ),
            ErrorKind::EthernetWithoutEther => {
                f.write_str("expected `ether` (or `ether host`, `ether src`, `ether dst`) before an Ethernet address")
            }
            ErrorKind::BadSize(size) => {
                write!(f, "expected a size of 1, 2 or 4 bytes, found {size}")
            }
            ErrorKind::NotIndexable(proto) => write!(
                f,
                "expected a protocol with a header to index (ether, ip, ip6, arp, rarp, tcp, \
                 udp, icmp, icmp6, sctp, igmp, igrp, pim, vrrp, carp): `{proto}[...]` is not one"
            ),
            ErrorKind::DivisionByZero => f.write_str("expected a divisor other than 0"),
            ErrorKind::ShiftTooLarge(n) => {
                write!(f, "expected a shift of at most 31 bits, found {n}")
            }
            ErrorKind::VlanAfterMpls => f.write_str(
                "expected `vlan` before any `mpls`: a VLAN tag inside MPLS cannot be matched",
            ),
            ErrorKind::NotOverMpls => f.write_str(
                "expected `ip` or `ip6` after `mpls`: no other protocol is matched inside MPLS",
            ),
            ErrorKind::CastNotFor(what) => write!(
                f,
                "expected `ether` or `ip` (and `ip6` for multicast) before `{what}`"
            ),
            ErrorKind::TooComplex { capacity } => write!(
                f,
                "expected at most {capacity} primitives and operators; split the expression"
            ),
            ErrorKind::ProgramTooLong => f.write_str(
                "expected an expression that compiles to at most 4096 instructions (BPF_MAXINSNS)",
            ),
            ErrorKind::TooDeep { max } => {
                write!(f, "expected at most {max} levels of parentheses, `not` and arithmetic")
            }
            ErrorKind::Invalid(e) => write!(
                f,
                "expected a program the kernel accepts, but ringtap compiled one it refuses \
                 ({e}); this is a bug, please report the expression"
            ),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.kind)
    }
}

impl core::error::Error for FilterError {}
