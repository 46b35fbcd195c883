//! Tokens, cut as libpcap's `scanner.l` cuts them: the longest match wins,
//! and among matches of the same length the earlier rule (keywords, then
//! Ethernet addresses, numbers, IPv4, IPv6, named constants, names).
//! So `10.0.0.1` is an address, `1-100` a name (a port range), `len-1` a
//! name too, and `tcp-syn` the number 2.

use super::error::{ErrorKind, Unsupported};

/// The keywords ringtap compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kw {
    Dst,
    Src,
    /// `link`, `ether` and the other link-layer names, which all mean the
    /// Ethernet header here.
    Link,
    Arp,
    Rarp,
    Ip,
    Ip6,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ah,
    Esp,
    Host,
    Net,
    Mask,
    Port,
    Portrange,
    Proto,
    Less,
    Greater,
    Broadcast,
    Multicast,
    Len,
    Inbound,
    Outbound,
    Ifindex,
    Vlan,
    Mpls,
}

/// A token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    End,
    /// A number, also a named constant such as `tcp-syn`.
    Num(u32),
    /// Dotted decimal with 2 to 4 parts (`10.1`, `192.168.0.1`).
    Ipv4,
    /// An IPv6 address (checked).
    Ipv6,
    /// An Ethernet address.
    Ether,
    /// A name; `escaped` when it was written with a leading backslash.
    Name {
        escaped: bool,
    },
    Kw(Kw),
    /// A libpcap keyword ringtap does not compile.
    Unsupported(&'static str),
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Lsh,
    Rsh,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// A token and where it is in the expression (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The text of a name (without its backslash) or address.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        let skip = usize::from(matches!(self.tok, Tok::Name { escaped: true }));
        src.get(self.start + skip..self.end).unwrap_or("")
    }
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("dst", Kw::Dst),
    ("src", Kw::Src),
    ("link", Kw::Link),
    ("ether", Kw::Link),
    ("ppp", Kw::Link),
    ("slip", Kw::Link),
    ("fddi", Kw::Link),
    ("tr", Kw::Link),
    ("wlan", Kw::Link),
    ("arp", Kw::Arp),
    ("rarp", Kw::Rarp),
    ("ip", Kw::Ip),
    ("sctp", Kw::Sctp),
    ("tcp", Kw::Tcp),
    ("udp", Kw::Udp),
    ("icmp", Kw::Icmp),
    ("igmp", Kw::Igmp),
    ("igrp", Kw::Igrp),
    ("pim", Kw::Pim),
    ("vrrp", Kw::Vrrp),
    ("carp", Kw::Carp),
    ("ip6", Kw::Ip6),
    ("icmp6", Kw::Icmp6),
    ("ah", Kw::Ah),
    ("esp", Kw::Esp),
    ("host", Kw::Host),
    ("net", Kw::Net),
    ("mask", Kw::Mask),
    ("port", Kw::Port),
    ("portrange", Kw::Portrange),
    ("proto", Kw::Proto),
    ("less", Kw::Less),
    ("greater", Kw::Greater),
    ("broadcast", Kw::Broadcast),
    ("multicast", Kw::Multicast),
    ("len", Kw::Len),
    ("length", Kw::Len),
    ("inbound", Kw::Inbound),
    ("outbound", Kw::Outbound),
    ("ifindex", Kw::Ifindex),
    ("vlan", Kw::Vlan),
    ("mpls", Kw::Mpls),
];

/// libpcap keywords for other link types and features ringtap leaves out;
/// naming them gives a clearer error than taking them for host names.
const UNSUPPORTED: &[&str] = &[
    "radio",
    "atalk",
    "aarp",
    "decnet",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "iso",
    "esis",
    "es-is",
    "isis",
    "is-is",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "protochain",
    "gateway",
    "type",
    "subtype",
    "direction",
    "dir",
    "address1",
    "addr1",
    "address2",
    "addr2",
    "address3",
    "addr3",
    "address4",
    "addr4",
    "ra",
    "ta",
    "byte",
    "pppoed",
    "pppoes",
    "geneve",
    "lane",
    "llc",
    "metac",
    "bcc",
    "oam",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "sc",
    "ilmic",
    "vpi",
    "vci",
    "connectmsg",
    "metaconnect",
    "on",
    "ifname",
    "rset",
    "ruleset",
    "rnr",
    "rulenum",
    "srnr",
    "subrulenum",
    "reason",
    "action",
    "fisu",
    "lssu",
    "lsu",
    "msu",
    "hfisu",
    "hlssu",
    "hmsu",
    "sio",
    "opc",
    "dpc",
    "sls",
    "hsio",
    "hopc",
    "hdpc",
    "hsls",
];

/// Names that `scanner.l` turns into numbers.
const CONSTANTS: &[(&str, u32)] = &[
    ("icmptype", 0),
    ("icmpcode", 1),
    ("icmp-echoreply", 0),
    ("icmp-unreach", 3),
    ("icmp-sourcequench", 4),
    ("icmp-redirect", 5),
    ("icmp-echo", 8),
    ("icmp-routeradvert", 9),
    ("icmp-routersolicit", 10),
    ("icmp-timxceed", 11),
    ("icmp-paramprob", 12),
    ("icmp-tstamp", 13),
    ("icmp-tstampreply", 14),
    ("icmp-ireq", 15),
    ("icmp-ireqreply", 16),
    ("icmp-maskreq", 17),
    ("icmp-maskreply", 18),
    ("icmp6type", 0),
    ("icmp6code", 1),
    ("icmp6-destinationunreach", 1),
    ("icmp6-packettoobig", 2),
    ("icmp6-timeexceeded", 3),
    ("icmp6-parameterproblem", 4),
    ("icmp6-echo", 128),
    ("icmp6-echoreply", 129),
    ("icmp6-multicastlistenerquery", 130),
    ("icmp6-multicastlistenerreportv1", 131),
    ("icmp6-multicastlistenerdone", 132),
    ("icmp6-routersolicit", 133),
    ("icmp6-routeradvert", 134),
    ("icmp6-neighborsolicit", 135),
    ("icmp6-neighboradvert", 136),
    ("icmp6-redirect", 137),
    ("icmp6-routerrenum", 138),
    ("icmp6-nodeinformationquery", 139),
    ("icmp6-nodeinformationresponse", 140),
    ("icmp6-ineighbordiscoverysolicit", 141),
    ("icmp6-ineighbordiscoveryadvert", 142),
    ("icmp6-multicastlistenerreportv2", 143),
    ("icmp6-homeagentdiscoveryrequest", 144),
    ("icmp6-homeagentdiscoveryreply", 145),
    ("icmp6-mobileprefixsolicit", 146),
    ("icmp6-mobileprefixadvert", 147),
    ("icmp6-certpathsolicit", 148),
    ("icmp6-certpathadvert", 149),
    ("icmp6-multicastrouteradvert", 151),
    ("icmp6-multicastroutersolicit", 152),
    ("icmp6-multicastrouterterm", 153),
    ("tcpflags", 13),
    ("tcp-fin", 0x01),
    ("tcp-syn", 0x02),
    ("tcp-rst", 0x04),
    ("tcp-push", 0x08),
    ("tcp-ack", 0x10),
    ("tcp-urg", 0x20),
    ("tcp-ece", 0x40),
    ("tcp-cwr", 0x80),
];

/// The text of a keyword or operator, for messages.
pub(super) fn spelling(tok: Tok) -> &'static str {
    let kw = |kw: Kw| {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == kw)
            .map_or("?", |(s, _)| *s)
    };
    match tok {
        Tok::Kw(k) => kw(k),
        Tok::Unsupported(s) => s,
        Tok::And => "and",
        Tok::Or => "or",
        Tok::Not => "not",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Colon => ":",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Amp => "&",
        Tok::Pipe => "|",
        Tok::Caret => "^",
        Tok::Lsh => "<<",
        Tok::Rsh => ">>",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Eq => "=",
        Tok::Ne => "!=",
        _ => "?",
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// How many bytes at the start of `s` satisfy `f` (at most `max`).
fn run(s: &[u8], max: usize, f: impl Fn(u8) -> bool) -> usize {
    s.iter().take(max).take_while(|&&b| f(b)).count()
}

/// `N`: decimal digits, or `0x` and hex digits. Returns its length.
fn number_len(s: &[u8]) -> usize {
    if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && is_hex(s[2]) {
        2 + run(&s[2..], usize::MAX, is_hex)
    } else {
        run(s, usize::MAX, |b| b.is_ascii_digit())
    }
}

/// `N.N`, `N.N.N` or `N.N.N.N`: the longest, 0 if none.
fn ipv4_len(s: &[u8]) -> usize {
    let mut at = number_len(s);
    if at == 0 {
        return 0;
    }
    let mut best = 0;
    for _ in 0..3 {
        if s.get(at) != Some(&b'.') {
            break;
        }
        let n = number_len(&s[at + 1..]);
        if n == 0 {
            break;
        }
        at += 1 + n;
        best = at;
    }
    best
}

/// The Ethernet address forms of `scanner.l`: six groups of 1-2 hex digits
/// separated by `:`, `-` or `.`, three groups of 4 separated by `.`, or 12
/// hex digits. The longest, 0 if none.
fn ether_len(s: &[u8]) -> usize {
    let mut best = 0;
    for sep in [b':', b'-', b'.'] {
        let mut at = 0;
        let mut groups = 0;
        while groups < 6 {
            if groups > 0 {
                if s.get(at) != Some(&sep) {
                    break;
                }
                at += 1;
            }
            let n = run(&s[at.min(s.len())..], 2, is_hex);
            if n == 0 {
                break;
            }
            at += n;
            groups += 1;
        }
        if groups == 6 {
            best = best.max(at);
        }
    }
    let quads = |s: &[u8]| -> bool {
        s.len() >= 14
            && s[..14]
                .iter()
                .enumerate()
                .all(|(i, &b)| if i % 5 == 4 { b == b'.' } else { is_hex(b) })
    };
    if quads(s) {
        best = best.max(14);
    }
    if run(s, 12, is_hex) == 12 {
        best = best.max(12);
    }
    best
}

/// `{B}:+({B}:+)+`, which `scanner.l` reports as a bogus Ethernet address.
fn bogus_ether_len(s: &[u8]) -> usize {
    let mut at = 0;
    let mut groups = 0;
    loop {
        let n = run(&s[at..], 2, is_hex);
        let colons = run(&s[at + n..], usize::MAX, |b| b == b':');
        if n == 0 || colons == 0 {
            break;
        }
        at += n + colons;
        groups += 1;
    }
    if groups >= 2 {
        at
    } else {
        0
    }
}

/// Hex groups of 1-4 digits separated by single colons, all of `s`: how
/// many, or `None` if `s` is not of that form. Empty `s` has 0.
fn hex_groups(s: &str) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for g in s.split(':') {
        if g.is_empty() || g.len() > 4 || !g.bytes().all(is_hex) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// Whether `s` has the shape of one of `scanner.l`'s IPv6 patterns: 8
/// groups, or fewer around one `::` (at most 7), the last two optionally
/// written as a dotted quad of `N`s.
fn ipv6_shape(s: &str) -> bool {
    let (head, quad) = match s.rfind(':') {
        Some(i) if s[i + 1..].contains('.') => (&s[..=i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    if let Some(q) = quad {
        let q = q.as_bytes();
        if ipv4_len(q) != q.len() || q.iter().filter(|&&b| b == b'.').count() != 3 {
            return false;
        }
    }
    let quad_groups = if quad.is_some() { 2 } else { 0 };
    match head.split_once("::") {
        Some((left, right)) => {
            // With a quad, `right` ends with the ':' before it.
            let right = match quad {
                Some(_) if !right.is_empty() => match right.strip_suffix(':') {
                    Some(r) => r,
                    None => return false,
                },
                _ => right,
            };
            match (hex_groups(left), hex_groups(right)) {
                (Some(l), Some(r)) => l + r + quad_groups <= 7,
                _ => false,
            }
        }
        None => {
            let head = match quad {
                Some(_) => match head.strip_suffix(':') {
                    Some(h) => h,
                    None => return false,
                },
                None => head,
            };
            hex_groups(head).is_some_and(|n| n + quad_groups == 8)
        }
    }
}

/// The longest prefix of `s` with an IPv6 shape, 0 if none.
fn ipv6_len(s: &str) -> usize {
    // The longest IPv6 text (8 groups of 4, or 6 and a quad of 0x-numbers)
    // is shorter than 64 characters.
    let candidate = run(s.as_bytes(), 64, |b| {
        is_hex(b) || b == b':' || b == b'.' || b == b'x' || b == b'X'
    });
    (2..=candidate)
        .rev()
        .find(|&n| ipv6_shape(&s[..n]))
        .unwrap_or(0)
}

/// The longest name: `[A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?`.
fn name_len(s: &[u8]) -> usize {
    if !s.first().is_some_and(u8::is_ascii_alphanumeric) {
        return 0;
    }
    let n = run(s, usize::MAX, |b| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
    });
    n - s[..n]
        .iter()
        .rev()
        .take_while(|&&b| b == b'-' || b == b'_')
        .count()
}

/// `stou`: decimal, `0x` hex, or octal after a leading 0; at most 32 bits.
fn number_value(text: &[u8]) -> Result<u32, ErrorKind> {
    let (digits, radix) = match text {
        [b'0', x, rest @ ..] if (x | 0x20) == b'x' => (rest, 16),
        [b'0', rest @ ..] => (rest, 8),
        _ => (text, 10),
    };
    digits.iter().try_fold(0u32, |n, &d| {
        let d = (d as char).to_digit(radix).ok_or(ErrorKind::NotOctal)?;
        n.checked_mul(radix)
            .and_then(|n| n.checked_add(d))
            .ok_or(ErrorKind::NumberTooLarge)
    })
}

/// The token starting at byte `pos` (after white space), or the error of
/// the text there.
pub(super) fn next(src: &str, pos: usize) -> Result<Token, (ErrorKind, usize, usize)> {
    let bytes = src.as_bytes();
    let start = pos + run(&bytes[pos..], usize::MAX, |b| b" \t\r\n".contains(&b));
    let s = &bytes[start..];
    let token = |tok, len: usize| {
        Ok(Token {
            tok,
            start,
            end: start + len,
        })
    };
    let Some(&first) = s.first() else {
        return token(Tok::End, 0);
    };
    let two = |a: u8, b: u8| first == a && s.get(1) == Some(&b);
    let v6 = ipv6_len(&src[start..]);
    if first == b':' && v6 > 0 {
        return checked_ipv6(src, start, v6);
    }
    let punct = [
        (b">=", Tok::Ge),
        (b"<=", Tok::Le),
        (b"!=", Tok::Ne),
        (b"==", Tok::Eq),
        (b"<<", Tok::Lsh),
        (b">>", Tok::Rsh),
        (b"&&", Tok::And),
        (b"||", Tok::Or),
    ];
    if let Some((_, tok)) = punct.iter().find(|(p, _)| two(p[0], p[1])) {
        return token(*tok, 2);
    }
    let single = match first {
        b'+' => Some(Tok::Plus),
        b'-' => Some(Tok::Minus),
        b'*' => Some(Tok::Star),
        b'/' => Some(Tok::Slash),
        b'%' => Some(Tok::Percent),
        b':' => Some(Tok::Colon),
        b'[' => Some(Tok::LBracket),
        b']' => Some(Tok::RBracket),
        b'!' => Some(Tok::Not),
        b'<' => Some(Tok::Lt),
        b'>' => Some(Tok::Gt),
        b'(' => Some(Tok::LParen),
        b')' => Some(Tok::RParen),
        b'&' => Some(Tok::Amp),
        b'|' => Some(Tok::Pipe),
        b'^' => Some(Tok::Caret),
        b'=' => Some(Tok::Eq),
        _ => None,
    };
    if let Some(tok) = single {
        return token(tok, 1);
    }
    if first == b'$' && run(&s[1..], 2, is_hex) > 0 {
        let len = 1 + run(&s[1..], 2, is_hex);
        return Err((
            ErrorKind::NotSupported(Unsupported::ArcnetAddress),
            start,
            start + len,
        ));
    }
    if first == b'\\' {
        let len = run(&s[1..], usize::MAX, |b| !b" !()\n\t".contains(&b));
        if len > 0 {
            return token(Tok::Name { escaped: true }, 1 + len);
        }
    }
    let name = name_len(s);
    let ether = ether_len(s);
    let num = if first.is_ascii_digit() {
        number_len(s)
    } else {
        0
    };
    let ipv4 = if first.is_ascii_digit() {
        ipv4_len(s)
    } else {
        0
    };
    let bogus = bogus_ether_len(s);
    let longest = [name, ether, num, ipv4, v6, bogus]
        .into_iter()
        .max()
        .unwrap_or(0);
    if longest == 0 {
        // One character (a whole UTF-8 sequence) that starts no token.
        let len = src[start..].chars().next().map_or(1, char::len_utf8);
        return Err((ErrorKind::UnexpectedCharacter, start, start + len));
    }
    let text = &src[start..start + longest];
    if name == longest {
        if let Some((_, kw)) = KEYWORDS.iter().find(|(k, _)| *k == text) {
            return token(Tok::Kw(*kw), longest);
        }
        if let Some(&k) = UNSUPPORTED.iter().find(|&&k| k == text) {
            return token(Tok::Unsupported(k), longest);
        }
        match text {
            "and" => return token(Tok::And, longest),
            "or" => return token(Tok::Or, longest),
            "not" => return token(Tok::Not, longest),
            _ => {}
        }
    }
    if ether == longest {
        token(Tok::Ether, longest)
    } else if num == longest {
        let value = number_value(text.as_bytes()).map_err(|e| (e, start, start + longest))?;
        token(Tok::Num(value), longest)
    } else if ipv4 == longest {
        token(Tok::Ipv4, longest)
    } else if v6 == longest {
        checked_ipv6(src, start, longest)
    } else if bogus == longest {
        Err((ErrorKind::BadEthernetAddress, start, start + longest))
    } else if let Some((_, value)) = CONSTANTS.iter().find(|(c, _)| *c == text) {
        token(Tok::Num(*value), longest)
    } else {
        token(Tok::Name { escaped: false }, longest)
    }
}

/// An IPv6-shaped token that must also be a valid address (`scanner.l`
/// asks `getaddrinfo` with `AI_NUMERICHOST`).
fn checked_ipv6(src: &str, start: usize, len: usize) -> Result<Token, (ErrorKind, usize, usize)> {
    match parse_ipv6(&src[start..start + len]) {
        Some(_) => Ok(Token {
            tok: Tok::Ipv6,
            start,
            end: start + len,
        }),
        None => Err((ErrorKind::BadIpv6Address, start, start + len)),
    }
}

/// An IPv6 address as `inet_pton` reads it.
pub(super) fn parse_ipv6(text: &str) -> Option<[u8; 16]> {
    text.parse::<core::net::Ipv6Addr>().ok().map(|a| a.octets())
}

/// `__pcap_atoin`: dotted decimal with 1 to 4 parts, each at most 255;
/// the value (parts in the high bytes) and the number of bits given.
pub(super) fn parse_ipv4(text: &str) -> Option<(u32, u32)> {
    let mut value = 0u32;
    let mut bits = 0;
    for part in text.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = part.bytes().try_fold(0u32, |n, d| {
            Some(n * 10 + u32::from(d - b'0')).filter(|&n| n <= 255)
        })?;
        value = (value << 8) | n;
        bits += 8;
    }
    Some((value, bits))
}

/// `pcap_ether_aton` on text the lexer accepted as an Ethernet address.
pub(super) fn parse_ether(text: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    let mut bytes = text.bytes().peekable();
    let mut i = 0;
    while let Some(b) = bytes.next() {
        if matches!(b, b':' | b'.' | b'-') {
            continue;
        }
        let mut d = (b as char).to_digit(16).unwrap_or(0) as u8;
        if let Some(n) = bytes.peek().and_then(|&n| (n as char).to_digit(16)) {
            d = (d << 4) | n as u8;
            bytes.next();
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = d;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;
    use std::vec::Vec;

    /// The tokens of `src` as (kind, text).
    fn tokens(src: &str) -> Vec<(Tok, &str)> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let t = next(src, pos).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
            if t.tok == Tok::End {
                return out;
            }
            out.push((t.tok, &src[t.start..t.end]));
            pos = t.end;
        }
    }

    fn error(src: &str) -> (ErrorKind, usize, usize) {
        let mut pos = 0;
        loop {
            match next(src, pos) {
                Ok(t) if t.tok == Tok::End => panic!("{src:?} lexes"),
                Ok(t) => pos = t.end,
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn test_longest_match_and_rule_order() {
        let name = Tok::Name { escaped: false };
        let cases: &[(&str, &[(Tok, &str)])] = &[
            ("10.0.0.1", &[(Tok::Ipv4, "10.0.0.1")]),
            ("10.1", &[(Tok::Ipv4, "10.1")]),
            ("1.2.3.4.5", &[(name, "1.2.3.4.5")]),
            ("1-100", &[(name, "1-100")]),
            ("len-1", &[(name, "len-1")]),
            (
                "len - 1",
                &[
                    (Tok::Kw(Kw::Len), "len"),
                    (Tok::Minus, "-"),
                    (Tok::Num(1), "1"),
                ],
            ),
            ("tcp-syn", &[(Tok::Num(2), "tcp-syn")]),
            ("tcpflags", &[(Tok::Num(13), "tcpflags")]),
            ("icmp6-echo", &[(Tok::Num(128), "icmp6-echo")]),
            ("ip6", &[(Tok::Kw(Kw::Ip6), "ip6")]),
            ("ip6x", &[(name, "ip6x")]),
            (
                "tcp[13]",
                &[
                    (Tok::Kw(Kw::Tcp), "tcp"),
                    (Tok::LBracket, "["),
                    (Tok::Num(13), "13"),
                    (Tok::RBracket, "]"),
                ],
            ),
            ("0x1F", &[(Tok::Num(31), "0x1F")]),
            ("017", &[(Tok::Num(15), "017")]),
            ("0", &[(Tok::Num(0), "0")]),
            ("4294967295", &[(Tok::Num(u32::MAX), "4294967295")]),
            ("fd00::1", &[(Tok::Ipv6, "fd00::1")]),
            ("::", &[(Tok::Ipv6, "::")]),
            ("::ffff:10.0.0.1", &[(Tok::Ipv6, "::ffff:10.0.0.1")]),
            ("1:2:3:4:5:6:7:8", &[(Tok::Ipv6, "1:2:3:4:5:6:7:8")]),
            ("02:00:00:00:00:aa", &[(Tok::Ether, "02:00:00:00:00:aa")]),
            ("2-0-0-0-0-aa", &[(Tok::Ether, "2-0-0-0-0-aa")]),
            ("0200.0000.00aa", &[(Tok::Ether, "0200.0000.00aa")]),
            ("0200000000aa", &[(Tok::Ether, "0200000000aa")]),
            // Twelve decimal digits are an Ethernet address too, as in libpcap.
            ("123456789012", &[(Tok::Ether, "123456789012")]),
            ("\\tcp", &[(Tok::Name { escaped: true }, "\\tcp")]),
            (
                "&&||!",
                &[(Tok::And, "&&"), (Tok::Or, "||"), (Tok::Not, "!")],
            ),
            (
                "a<=b>=c!=d==e<<f>>g",
                &[
                    (name, "a"),
                    (Tok::Le, "<="),
                    (name, "b"),
                    (Tok::Ge, ">="),
                    (name, "c"),
                    (Tok::Ne, "!="),
                    (name, "d"),
                    (Tok::Eq, "=="),
                    (name, "e"),
                    (Tok::Lsh, "<<"),
                    (name, "f"),
                    (Tok::Rsh, ">>"),
                    (name, "g"),
                ],
            ),
            ("pppoes", &[(Tok::Unsupported("pppoes"), "pppoes")]),
            ("\t not\r\n", &[(Tok::Not, "not")]),
            ("host-", &[(Tok::Kw(Kw::Host), "host"), (Tok::Minus, "-")]),
        ];
        for (src, want) in cases {
            assert_eq!(tokens(src), *want, "{src:?}");
        }
    }

    #[test]
    fn test_lexical_errors() {
        let cases = [
            ("4294967296", (ErrorKind::NumberTooLarge, 0, 10)),
            ("0x100000000", (ErrorKind::NumberTooLarge, 0, 11)),
            ("09", (ErrorKind::NotOctal, 0, 2)),
            // `{B}:+({B}:+)+` is longer than the IPv6 prefix `1::2`.
            ("1::2::3", (ErrorKind::BadEthernetAddress, 0, 6)),
            ("1:2:", (ErrorKind::BadEthernetAddress, 0, 4)),
            ("::1.2.3.400", (ErrorKind::BadIpv6Address, 0, 11)),
            ("host #", (ErrorKind::UnexpectedCharacter, 5, 6)),
            ("é", (ErrorKind::UnexpectedCharacter, 0, 2)),
            (
                "$ab",
                (ErrorKind::NotSupported(Unsupported::ArcnetAddress), 0, 3),
            ),
            ("\\ ", (ErrorKind::UnexpectedCharacter, 0, 1)),
        ];
        for (src, want) in cases {
            assert_eq!(error(src), want, "{src:?}");
        }
    }

    #[test]
    fn test_addresses() {
        assert_eq!(parse_ipv4("10.0.0.1"), Some((0x0a00_0001, 32)));
        assert_eq!(parse_ipv4("10.1"), Some((0x0a01, 16)));
        assert_eq!(parse_ipv4("010.1"), Some((0x0a01, 16)));
        assert_eq!(parse_ipv4("10.256"), None);
        assert_eq!(parse_ipv4("0x1.2"), None);
        assert_eq!(parse_ether("2:0:0:0:0:aa"), [2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(parse_ether("0200.0000.00aa"), [2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(parse_ether("0200000000aa"), [2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(parse_ether("02-00-00-00-00-AA"), [2, 0, 0, 0, 0, 0xaa]);
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = 1;
        assert_eq!(parse_ipv6("fd00::1"), Some(v6));
        assert_eq!(parse_ipv6("fd00::1::2"), None);
    }
}
