//! The grammar of libpcap's `grammar.y`, by recursive descent, and the
//! checks of its `gencode.c` that refuse an expression (a qualifier that
//! does not fit, a VLAN ID above 4095, ...), building the tree of
//! [`super::ast`].
//!
//! Three facts of `grammar.y` shape it:
//! * `and` and `or` have the same precedence and group to the left:
//!   `a or b and c` is `(a or b) and c`.
//! * A bare value after `and`/`or` takes the qualifiers of the primitive
//!   before it: `host 10.0.0.1 or 10.0.0.2`, `tcp port 80 or 443`. After a
//!   parenthesised expression, those from before the parenthesis.
//! * `%` and `^` have no precedence: Bison shifts on them, so they take
//!   everything to their right (`a % 3 + 1` is `a % (3 + 1)`) and bind
//!   everything before them to their left operand's last term
//!   (`a + b % c` is `a + (b % c)`).

use heapless::Vec;

use super::ast::{Dir, Family, HostIn, Idx, Indexed, Layout, Node, Prim};
use super::error::{ErrorKind, Expected, FilterError, Found, Unsupported};
use super::lex::{self, Kw, Tok, Token};
use crate::bpf::{
    BPF_ADD, BPF_AND, BPF_DIV, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_LSH, BPF_MOD, BPF_MUL, BPF_OR,
    BPF_RSH, BPF_SUB, BPF_XOR,
};

/// Nodes the expression tree holds: primitives, operators and operands.
pub const MAX_NODES: usize = 512;
/// How deeply parentheses, `not`s and arithmetic may nest.
pub const MAX_DEPTH: usize = 64;

const ETHERTYPE_IP: u32 = 0x0800;
const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_REVARP: u32 = 0x8035;
const ETHERTYPE_IPV6: u32 = 0x86dd;

/// Protocol names built in for `ip proto \NAME` (as `/etc/protocols` on
/// Debian spells them).
const IP_PROTOCOLS: &[(&str, u32)] = &[
    ("ip", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("sctp", 132),
];

/// libpcap's own tables for `ether proto \NAME` (EtherTypes, LLC SAPs).
const ETHER_PROTOCOLS: &[(&str, u32)] = &[
    ("aarp", 0x80f3),
    ("arp", 0x0806),
    ("atalk", 0x809b),
    ("decnet", 0x6003),
    ("ip", 0x0800),
    ("ip6", 0x86dd),
    ("lat", 0x6004),
    ("loopback", 0x9000),
    ("mopdl", 0x6001),
    ("moprc", 0x6002),
    ("rarp", 0x8035),
    ("sca", 0x6007),
    ("iso", 0xfe),
    ("stp", 0x42),
    ("ipx", 0xe0),
    ("netbeui", 0xf0),
];

/// The protocol qualifier: unset (`qerr`), default, or a protocol keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pq {
    Undef,
    Default,
    Kw(Kw),
}

/// The direction qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dq {
    Undef,
    Default,
    Dir(Dir),
}

/// The address qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aq {
    Undef,
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Proto,
}

/// `struct qual`: the qualifiers in force for a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Qual {
    p: Pq,
    d: Dq,
    a: Aq,
}

/// `qerr`: no qualifiers (at the start, after a protocol name, after a
/// comparison).
const QERR: Qual = Qual {
    p: Pq::Undef,
    d: Dq::Undef,
    a: Aq::Undef,
};

/// The parsed expression.
#[derive(Debug)]
pub(super) struct Ast {
    /// The tree.
    pub nodes: Vec<Node, MAX_NODES>,
    /// Its root; `None` for an empty expression (everything matches).
    pub root: Option<Idx>,
    /// Whether a first `vlan` uses scratch word `M[0]`, which the program
    /// must then clear at its start.
    pub vlan: bool,
}

type R<T> = Result<T, FilterError>;

/// What a failed alternative must not leave behind.
#[derive(Clone, Copy)]
struct Saved {
    tok: Token,
    nodes: usize,
    layout: Layout,
    vlan: bool,
}

struct Parser<'a> {
    src: &'a str,
    tok: Token,
    nodes: Vec<Node, MAX_NODES>,
    layout: Layout,
    vlan: bool,
    depth: usize,
}

/// Of two errors from alternative parses, the one further into the text
/// (the first on a tie).
fn furthest(a: FilterError, b: FilterError) -> FilterError {
    if b.column > a.column {
        b
    } else {
        a
    }
}

fn is_protocol(kw: Kw) -> bool {
    use Kw::*;
    matches!(
        kw,
        Link | Arp
            | Rarp
            | Ip
            | Ip6
            | Tcp
            | Udp
            | Sctp
            | Icmp
            | Icmp6
            | Igmp
            | Igrp
            | Pim
            | Vrrp
            | Carp
            | Ah
            | Esp
    )
}

/// `gen_proto_abbrev`'s IP protocol for a protocol keyword, and whether
/// libpcap looks for it in IPv4 only.
fn ip_protocol(kw: Kw) -> Option<(Family, u32)> {
    use Kw::*;
    Some(match kw {
        Tcp => (Family::Both, 6),
        Udp => (Family::Both, 17),
        Sctp => (Family::Both, 132),
        Pim => (Family::Both, 103),
        Ah => (Family::Both, 51),
        Esp => (Family::Both, 50),
        Icmp => (Family::V4, 1),
        Igmp => (Family::V4, 2),
        Igrp => (Family::V4, 9),
        Vrrp | Carp => (Family::V4, 112),
        Icmp6 => (Family::V6, 58),
        _ => return None,
    })
}

fn kw_name(kw: Kw) -> &'static str {
    match kw {
        Kw::Link => "ether",
        other => lex::spelling(Tok::Kw(other)),
    }
}

impl<'a> Parser<'a> {
    fn error(&self, start: usize, end: usize, kind: ErrorKind) -> FilterError {
        let column = self.src[..start].chars().count() + 1;
        let len = self.src[start..end].chars().count().max(1);
        FilterError { column, len, kind }
    }

    fn error_at(&self, token: Token, kind: ErrorKind) -> FilterError {
        self.error(token.start, token.end, kind)
    }

    fn found(&self) -> Found {
        match self.tok.tok {
            Tok::End => Found::End,
            Tok::Num(_) => Found::Number,
            Tok::Ipv4 => Found::Ipv4,
            Tok::Ipv6 => Found::Ipv6,
            Tok::Ether => Found::Ethernet,
            Tok::Name { .. } => Found::Name,
            other => Found::Token(lex::spelling(other)),
        }
    }

    fn expected(&self, expected: Expected) -> FilterError {
        self.error_at(
            self.tok,
            ErrorKind::Syntax {
                expected,
                found: self.found(),
            },
        )
    }

    fn lex(&self, pos: usize) -> R<Token> {
        lex::next(self.src, pos).map_err(|(kind, start, end)| self.error(start, end, kind))
    }

    fn advance(&mut self) -> R<()> {
        self.tok = self.lex(self.tok.end)?;
        Ok(())
    }

    fn peek(&self) -> R<Token> {
        self.lex(self.tok.end)
    }

    fn save(&self) -> Saved {
        Saved {
            tok: self.tok,
            nodes: self.nodes.len(),
            layout: self.layout,
            vlan: self.vlan,
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.tok = saved.tok;
        self.nodes.truncate(saved.nodes);
        self.layout = saved.layout;
        self.vlan = saved.vlan;
    }

    /// One more level of nesting, refused beyond [`MAX_DEPTH`].
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(self.tok, ErrorKind::TooDeep { max: MAX_DEPTH }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn push(&mut self, node: Node) -> R<Idx> {
        // A constant evaluated first decides or drops what follows it.
        let constant = |at: Idx| match self.nodes[usize::from(at)] {
            Node::Const(holds) => Some(holds),
            _ => None,
        };
        let node = match node {
            Node::Not(x) => match constant(x) {
                Some(holds) => Node::Const(!holds),
                None => node,
            },
            Node::And(l, r) | Node::Or(l, r) => {
                let and = matches!(node, Node::And(..));
                match (constant(l), constant(r)) {
                    (Some(holds), _) if holds == and => return Ok(r),
                    (Some(holds), _) => Node::Const(holds),
                    // `x and true`, `x or false`: x decides.
                    (None, Some(holds)) if holds == and => return Ok(l),
                    _ => node,
                }
            }
            _ => node,
        };
        let at = self.nodes.len();
        self.nodes.push(node).map_err(|_| {
            self.error_at(
                self.tok,
                ErrorKind::TooComplex {
                    capacity: MAX_NODES,
                },
            )
        })?;
        Ok(at as Idx)
    }

    fn prim(&mut self, prim: Prim) -> R<Idx> {
        self.push(Node::Prim(prim, self.layout))
    }

    fn node(&self, at: Idx) -> Node {
        self.nodes[usize::from(at)]
    }

    fn number(&mut self) -> R<(u32, Token)> {
        let t = self.tok;
        match t.tok {
            Tok::Num(v) => {
                self.advance()?;
                Ok((v, t))
            }
            _ => Err(self.expected(Expected::Number)),
        }
    }

    /// `pnum`: a number, possibly in parentheses.
    fn pnum(&mut self) -> R<(u32, Token)> {
        if self.tok.tok == Tok::LParen {
            self.advance()?;
            let n = self.pnum()?;
            self.close()?;
            Ok(n)
        } else {
            self.number()
        }
    }

    fn close(&mut self) -> R<()> {
        if self.tok.tok != Tok::RParen {
            return Err(self.expected(Expected::Close));
        }
        self.advance()
    }

    /// `expr`: terms joined by `and`/`or`, up to the end or a `)`.
    fn expr(&mut self, ctx: Qual, in_paren: bool) -> R<(Idx, Qual)> {
        let (mut node, mut q) = self.term(ctx)?;
        loop {
            let and = match self.tok.tok {
                Tok::And => true,
                Tok::Or => false,
                Tok::End if !in_paren => return Ok((node, q)),
                Tok::RParen if in_paren => return Ok((node, q)),
                _ if in_paren => return Err(self.expected(Expected::AndOrClose)),
                _ => return Err(self.expected(Expected::AndOrEnd)),
            };
            self.advance()?;
            let (rhs, next_q) = self.term_or_id(q, in_paren)?;
            node = self.push(if and {
                Node::And(node, rhs)
            } else {
                Node::Or(node, rhs)
            })?;
            q = next_q;
        }
    }

    /// After `and`/`or`: a term, or a bare value taking `ctx`'s qualifiers.
    fn term_or_id(&mut self, ctx: Qual, in_paren: bool) -> R<(Idx, Qual)> {
        if ctx.a == Aq::Undef && matches!(self.tok.tok, Tok::Num(_)) {
            // `tcp and 80`: a bare number with no qualifiers to take is
            // only right as the start of a comparison.
            let next = self.peek()?.tok;
            if !is_arithmetic(next) {
                return Err(self.expected(Expected::Qualifier));
            }
        }
        let value = matches!(
            self.tok.tok,
            Tok::Num(_) | Tok::Ipv4 | Tok::Ipv6 | Tok::Ether | Tok::Name { .. }
        );
        let saved = self.save();
        let as_term = match self.term(ctx) {
            Ok(found) => return Ok(found),
            Err(e) => e,
        };
        self.restore(saved);
        let node = self.id(ctx).map_err(|e| {
            // On a tie a value is read as one: `or http` is a port name.
            if value {
                furthest(e, as_term)
            } else {
                furthest(as_term, e)
            }
        })?;
        let follows = match self.tok.tok {
            Tok::And | Tok::Or => true,
            Tok::End => !in_paren,
            Tok::RParen => in_paren,
            _ => false,
        };
        if follows {
            return Ok((node, ctx));
        }
        let here = self.expected(if in_paren {
            Expected::AndOrClose
        } else {
            Expected::AndOrEnd
        });
        Err(furthest(as_term, here))
    }

    fn term(&mut self, ctx: Qual) -> R<(Idx, Qual)> {
        self.enter()?;
        let found = self.term_inner(ctx);
        self.leave();
        found
    }

    fn term_inner(&mut self, ctx: Qual) -> R<(Idx, Qual)> {
        let t = self.tok;
        match t.tok {
            Tok::Not => {
                self.advance()?;
                let (node, q) = self.term(ctx)?;
                Ok((self.push(Node::Not(node))?, q))
            }
            Tok::LParen => {
                let saved = self.save();
                self.advance()?;
                let as_expr = self.expr(ctx, true).and_then(|(node, _)| {
                    self.close()?;
                    Ok(node)
                });
                match as_expr {
                    Ok(node) => Ok((node, ctx)),
                    Err(e) => {
                        self.restore(saved);
                        let node = self.relation().map_err(|e2| furthest(e, e2))?;
                        Ok((node, QERR))
                    }
                }
            }
            Tok::Kw(kw) if is_protocol(kw) => {
                let next = self.peek()?;
                match next.tok {
                    Tok::LBracket => Ok((self.relation()?, QERR)),
                    Tok::Kw(
                        Kw::Src
                        | Kw::Dst
                        | Kw::Host
                        | Kw::Net
                        | Kw::Port
                        | Kw::Portrange
                        | Kw::Proto,
                    )
                    | Tok::Unsupported(_) => {
                        self.advance()?;
                        self.head_id(Pq::Kw(kw))
                    }
                    Tok::Kw(Kw::Broadcast | Kw::Multicast) => {
                        self.advance()?;
                        Ok((self.cast(Pq::Kw(kw))?, QERR))
                    }
                    _ => {
                        self.advance()?;
                        Ok((self.abbreviation(kw, t)?, QERR))
                    }
                }
            }
            Tok::Kw(
                Kw::Src | Kw::Dst | Kw::Host | Kw::Net | Kw::Port | Kw::Portrange | Kw::Proto,
            ) => self.head_id(Pq::Default),
            Tok::Kw(Kw::Broadcast | Kw::Multicast) => Ok((self.cast(Pq::Default)?, QERR)),
            Tok::Kw(Kw::Less | Kw::Greater) => {
                self.advance()?;
                let (n, _) = self.number()?;
                let greater = t.tok == Tok::Kw(Kw::Greater);
                Ok((self.prim(Prim::Length { greater, n })?, QERR))
            }
            Tok::Kw(Kw::Vlan) => {
                self.advance()?;
                Ok((self.vlan(t)?, QERR))
            }
            Tok::Kw(Kw::Mpls) => {
                self.advance()?;
                Ok((self.mpls()?, QERR))
            }
            Tok::Kw(Kw::Inbound | Kw::Outbound) => {
                self.advance()?;
                let outbound = self.prim(Prim::Outbound)?;
                let node = if t.tok == Tok::Kw(Kw::Inbound) {
                    self.push(Node::Not(outbound))?
                } else {
                    outbound
                };
                Ok((node, QERR))
            }
            Tok::Kw(Kw::Ifindex) => {
                self.advance()?;
                let (n, _) = self.number()?;
                Ok((self.prim(Prim::Ifindex(n))?, QERR))
            }
            Tok::Num(_) | Tok::Minus | Tok::Kw(Kw::Len) => Ok((self.relation()?, QERR)),
            Tok::Unsupported(k) => {
                Err(self.error_at(t, ErrorKind::NotSupported(Unsupported::Keyword(k))))
            }
            _ => Err(self.expected(Expected::Primitive)),
        }
    }

    /// `head id`: direction and address qualifiers (after an optional
    /// protocol), then a value.
    fn head_id(&mut self, p: Pq) -> R<(Idx, Qual)> {
        let mut q = Qual {
            p,
            d: Dq::Default,
            a: Aq::Default,
        };
        if let Tok::Kw(first @ (Kw::Src | Kw::Dst)) = self.tok.tok {
            self.advance()?;
            let single = if first == Kw::Src { Dir::Src } else { Dir::Dst };
            q.d = Dq::Dir(single);
            if let and_or @ (Tok::And | Tok::Or) = self.tok.tok {
                self.advance()?;
                let other = if first == Kw::Src { Kw::Dst } else { Kw::Src };
                if self.tok.tok != Tok::Kw(other) {
                    return Err(self.expected(Expected::Keyword(kw_name(other))));
                }
                self.advance()?;
                q.d = Dq::Dir(if and_or == Tok::And {
                    Dir::Both
                } else {
                    Dir::Either
                });
            }
        }
        let t = self.tok;
        q.a = match t.tok {
            Tok::Kw(Kw::Host) => Aq::Host,
            Tok::Kw(Kw::Net) => Aq::Net,
            Tok::Kw(Kw::Port) => Aq::Port,
            Tok::Kw(Kw::Portrange) => Aq::Portrange,
            Tok::Kw(Kw::Proto) if q.d == Dq::Default => Aq::Proto,
            Tok::Unsupported(k @ ("gateway" | "protochain")) => {
                return Err(self.error_at(t, ErrorKind::NotSupported(Unsupported::Keyword(k))))
            }
            _ => Aq::Default,
        };
        if q.a != Aq::Default {
            self.advance()?;
        } else if q.d == Dq::Default {
            // A protocol followed by an unsupported keyword.
            return match t.tok {
                Tok::Unsupported(k) => {
                    Err(self.error_at(t, ErrorKind::NotSupported(Unsupported::Keyword(k))))
                }
                _ => Err(self.expected(Expected::Primitive)),
            };
        }
        let node = self.id(q)?;
        Ok((node, q))
    }

    /// `id`: a value taking the qualifiers `q`, `not` one, or values in
    /// parentheses joined by `and`/`or`.
    fn id(&mut self, q: Qual) -> R<Idx> {
        self.enter()?;
        let found = self.id_inner(q);
        self.leave();
        found
    }

    fn id_inner(&mut self, q: Qual) -> R<Idx> {
        let t = self.tok;
        match t.tok {
            Tok::Not => {
                self.advance()?;
                let node = self.id(q)?;
                self.push(Node::Not(node))
            }
            Tok::LParen => {
                self.advance()?;
                let mut node = self.id(q)?;
                loop {
                    let and = match self.tok.tok {
                        Tok::And => true,
                        Tok::Or => false,
                        Tok::RParen => {
                            self.advance()?;
                            return Ok(node);
                        }
                        _ => return Err(self.expected(Expected::AndOrClose)),
                    };
                    self.advance()?;
                    let rhs = self.id(q)?;
                    node = self.push(if and {
                        Node::And(node, rhs)
                    } else {
                        Node::Or(node, rhs)
                    })?;
                }
            }
            Tok::Num(_) | Tok::Ipv4 | Tok::Ipv6 | Tok::Ether | Tok::Name { .. } => {
                if q.a == Aq::Undef {
                    return Err(self.error_at(
                        t,
                        ErrorKind::Syntax {
                            expected: Expected::Qualifier,
                            found: self.found(),
                        },
                    ));
                }
                self.advance()?;
                self.value(t, q)
            }
            _ => Err(self.expected(Expected::Value)),
        }
    }

    /// A value token `t` (already consumed) under qualifiers `q`.
    fn value(&mut self, t: Token, q: Qual) -> R<Idx> {
        let text = t.text(self.src);
        match t.tok {
            Tok::Num(v) => self.ncode(None, v, q, t),
            Tok::Ipv4 => {
                if self.tok.tok == Tok::Slash {
                    self.advance()?;
                    let (len, at) = self.number()?;
                    if len > 32 {
                        return Err(self.error_at(
                            at,
                            ErrorKind::TooLarge {
                                what: "mask length",
                                value: len,
                                max: 32,
                            },
                        ));
                    }
                    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                    self.mcode(t, mask, q)
                } else if self.tok.tok == Tok::Kw(Kw::Mask) {
                    self.advance()?;
                    let m = self.tok;
                    if m.tok != Tok::Ipv4 {
                        return Err(self.expected(Expected::Value));
                    }
                    self.advance()?;
                    let (mask, bits) = lex::parse_ipv4(m.text(self.src))
                        .ok_or_else(|| self.error_at(m, ErrorKind::BadIpv4Address))?;
                    self.mcode(t, mask << (32 - bits), q)
                } else {
                    let applied = match q.a {
                        Aq::Port => Some("port"),
                        Aq::Portrange => Some("portrange"),
                        Aq::Proto => Some("proto"),
                        _ => None,
                    };
                    if let Some(qualifier) = applied {
                        return Err(self.error_at(
                            t,
                            ErrorKind::Qualifier {
                                qualifier,
                                applied_to: "an IPv4 address",
                            },
                        ));
                    }
                    self.ncode(Some(text), 0, q, t)
                }
            }
            Tok::Ipv6 => {
                let prefix = if self.tok.tok == Tok::Slash {
                    self.advance()?;
                    let (len, at) = self.number()?;
                    if len > 128 {
                        return Err(self.error_at(
                            at,
                            ErrorKind::TooLarge {
                                what: "prefix length",
                                value: len,
                                max: 128,
                            },
                        ));
                    }
                    Some(len as u8)
                } else {
                    None
                };
                self.mcode6(t, prefix, q)
            }
            Tok::Ether => {
                if matches!(q.a, Aq::Host | Aq::Default) && q.p == Pq::Kw(Kw::Link) {
                    let dir = self.dir(q);
                    let addr = lex::parse_ether(text);
                    self.prim(Prim::Ether { addr, dir })
                } else {
                    Err(self.error_at(t, ErrorKind::EthernetWithoutEther))
                }
            }
            _ => self.scode(t, q),
        }
    }

    /// The direction of `q` (the default is "either").
    fn dir(&self, q: Qual) -> Dir {
        match q.d {
            Dq::Dir(d) => d,
            Dq::Default | Dq::Undef => Dir::Either,
        }
    }

    fn qualifier(&self, t: Token, kw: Kw, applied_to: &'static str) -> FilterError {
        self.error_at(
            t,
            ErrorKind::Qualifier {
                qualifier: kw_name(kw),
                applied_to,
            },
        )
    }

    fn not_in_mpls(&self, t: Token, ethertype: u32) -> R<()> {
        if self.layout.in_mpls() && ethertype != ETHERTYPE_IP && ethertype != ETHERTYPE_IPV6 {
            return Err(self.error_at(t, ErrorKind::NotOverMpls));
        }
        Ok(())
    }

    /// `gen_ncode`: a number, or an IPv4 address without a mask.
    fn ncode(&mut self, text: Option<&str>, v: u32, q: Qual, t: Token) -> R<Idx> {
        let (mut v, bits) = match text {
            Some(text) => {
                lex::parse_ipv4(text).ok_or_else(|| self.error_at(t, ErrorKind::BadIpv4Address))?
            }
            None => (v, 32),
        };
        match q.a {
            Aq::Default | Aq::Host | Aq::Net => {
                if q.p == Pq::Kw(Kw::Link) {
                    return Err(self.qualifier(t, Kw::Link, "a number or an IPv4 address"));
                }
                let mut mask = u32::MAX;
                if text.is_none() && q.a == Aq::Net {
                    // A short network number: `net 10` is 10.0.0.0/8.
                    while v != 0 && v & 0xff00_0000 == 0 {
                        v <<= 8;
                        mask <<= 8;
                    }
                } else {
                    v = v.checked_shl(32 - bits).unwrap_or(0);
                    mask = mask.checked_shl(32 - bits).unwrap_or(0);
                }
                self.host(v, mask, q, t)
            }
            Aq::Port | Aq::Portrange => {
                let proto = self.port_proto(q, t)?;
                let port = self.port_number(v, t)?;
                self.prim(Prim::Port {
                    lo: port,
                    hi: port,
                    range: q.a == Aq::Portrange,
                    proto,
                    dir: self.dir(q),
                })
            }
            Aq::Proto => self.proto(v, q, t),
            Aq::Undef => Err(self.expected(Expected::Qualifier)),
        }
    }

    /// `gen_host`: an IPv4 host or network.
    fn host(&mut self, addr: u32, mask: u32, q: Qual, t: Token) -> R<Idx> {
        let within = match q.p {
            Pq::Default | Pq::Undef if self.layout.in_mpls() => HostIn::Ip,
            Pq::Default | Pq::Undef => HostIn::Any,
            Pq::Kw(Kw::Ip) => HostIn::Ip,
            Pq::Kw(Kw::Arp) => HostIn::Arp,
            Pq::Kw(Kw::Rarp) => HostIn::Rarp,
            Pq::Kw(kw) => return Err(self.qualifier(t, kw, "an IPv4 host or network")),
        };
        let ethertype = match within {
            HostIn::Arp => ETHERTYPE_ARP,
            HostIn::Rarp => ETHERTYPE_REVARP,
            _ => ETHERTYPE_IP,
        };
        self.not_in_mpls(t, ethertype)?;
        let dir = self.dir(q);
        self.prim(Prim::Host {
            addr,
            mask,
            dir,
            within,
        })
    }

    /// `gen_mcode`: an IPv4 network with a mask.
    fn mcode(&mut self, t: Token, mask: u32, q: Qual) -> R<Idx> {
        let (addr, bits) = lex::parse_ipv4(t.text(self.src))
            .ok_or_else(|| self.error_at(t, ErrorKind::BadIpv4Address))?;
        let addr = addr << (32 - bits);
        if addr & !mask != 0 {
            return Err(self.error_at(t, ErrorKind::NonNetworkBits));
        }
        if q.a != Aq::Net {
            return Err(self.error_at(t, ErrorKind::MaskOnHost));
        }
        self.host(addr, mask, q, t)
    }

    /// `gen_mcode6`: an IPv6 address or network.
    fn mcode6(&mut self, t: Token, prefix: Option<u8>, q: Qual) -> R<Idx> {
        let addr = lex::parse_ipv6(t.text(self.src))
            .ok_or_else(|| self.error_at(t, ErrorKind::BadIpv6Address))?;
        let len = prefix.unwrap_or(128);
        let network_bits = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        if u128::from_be_bytes(addr) & !network_bits != 0 {
            return Err(self.error_at(t, ErrorKind::NonNetworkBits));
        }
        match q.a {
            Aq::Default | Aq::Host if len != 128 => {
                return Err(self.error_at(t, ErrorKind::MaskOnHost))
            }
            Aq::Default | Aq::Host | Aq::Net => {}
            _ => {
                let qualifier = match q.a {
                    Aq::Port => "port",
                    Aq::Portrange => "portrange",
                    _ => "proto",
                };
                return Err(self.error_at(
                    t,
                    ErrorKind::Qualifier {
                        qualifier,
                        applied_to: "an IPv6 address",
                    },
                ));
            }
        }
        match q.p {
            Pq::Default | Pq::Undef | Pq::Kw(Kw::Ip6) => {}
            Pq::Kw(kw) => return Err(self.qualifier(t, kw, "an IPv6 host or network")),
        }
        let dir = self.dir(q);
        self.prim(Prim::Host6 {
            addr,
            prefix: len,
            dir,
        })
    }

    /// `gen_scode`: a name. Only port ranges and built-in protocol names
    /// compile; the rest would need name resolution.
    fn scode(&mut self, t: Token, q: Qual) -> R<Idx> {
        let name = t.text(self.src);
        let unsupported = |what| ErrorKind::NotSupported(what);
        match q.a {
            Aq::Net => Err(self.error_at(t, unsupported(Unsupported::NetworkName))),
            Aq::Default | Aq::Host if q.p == Pq::Kw(Kw::Link) => {
                Err(self.error_at(t, unsupported(Unsupported::EthernetName)))
            }
            Aq::Default | Aq::Host => Err(self.error_at(t, unsupported(Unsupported::HostName))),
            Aq::Port => {
                self.port_proto(q, t)?;
                Err(self.error_at(t, unsupported(Unsupported::ServiceName)))
            }
            Aq::Portrange => {
                let proto = self.port_proto(q, t)?;
                let (lo, hi) = name
                    .split_once('-')
                    .and_then(|(a, b)| Some((decimal(a)?, decimal(b)?)))
                    .ok_or_else(|| self.error_at(t, unsupported(Unsupported::ServiceName)))?;
                let lo = self.port_number(lo, t)?;
                let hi = self.port_number(hi, t)?;
                self.prim(Prim::Port {
                    lo: lo.min(hi),
                    hi: lo.max(hi),
                    range: true,
                    proto,
                    dir: self.dir(q),
                })
            }
            Aq::Proto => {
                let table = if q.p == Pq::Kw(Kw::Link) {
                    ETHER_PROTOCOLS
                } else {
                    IP_PROTOCOLS
                };
                if let Pq::Kw(kw) = q.p {
                    if kw != Kw::Link && kw != Kw::Ip && kw != Kw::Ip6 {
                        return Err(self.qualifier(t, kw, "`proto`"));
                    }
                }
                let v = table
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| self.error_at(t, unsupported(Unsupported::ProtocolName)))?;
                self.proto(v, q, t)
            }
            Aq::Undef => Err(self.expected(Expected::Qualifier)),
        }
    }

    /// The IP protocol a `port` qualifier allows (0: TCP, UDP and SCTP).
    fn port_proto(&self, q: Qual, t: Token) -> R<u8> {
        match q.p {
            Pq::Default | Pq::Undef => Ok(0),
            Pq::Kw(Kw::Tcp) => Ok(6),
            Pq::Kw(Kw::Udp) => Ok(17),
            Pq::Kw(Kw::Sctp) => Ok(132),
            Pq::Kw(kw) => Err(self.qualifier(t, kw, "a port")),
        }
    }

    fn port_number(&self, v: u32, t: Token) -> R<u16> {
        u16::try_from(v).map_err(|_| {
            self.error_at(
                t,
                ErrorKind::TooLarge {
                    what: "port",
                    value: v,
                    max: 65535,
                },
            )
        })
    }

    /// `gen_proto`: `proto N`, `ip proto N`, `ip6 proto N`, `ether proto N`.
    fn proto(&mut self, v: u32, q: Qual, t: Token) -> R<Idx> {
        if let Dq::Dir(d) = q.d {
            let qualifier = match d {
                Dir::Src => "src",
                Dir::Dst => "dst",
                Dir::Either => "src or dst",
                Dir::Both => "src and dst",
            };
            return Err(self.error_at(
                t,
                ErrorKind::Qualifier {
                    qualifier,
                    applied_to: "`proto`",
                },
            ));
        }
        let prim = match q.p {
            Pq::Default | Pq::Undef => Prim::IpProto(Family::Both, v),
            Pq::Kw(Kw::Ip) => Prim::IpProto(Family::V4, v),
            Pq::Kw(Kw::Ip6) => Prim::IpProto(Family::V6, v),
            Pq::Kw(Kw::Link) => {
                self.not_in_mpls(t, v)?;
                Prim::EtherType(v)
            }
            Pq::Kw(kw) => return Err(self.qualifier(t, kw, "`proto`")),
        };
        self.prim(prim)
    }

    /// `gen_proto_abbrev`: a protocol name on its own.
    fn abbreviation(&mut self, kw: Kw, t: Token) -> R<Idx> {
        let prim = match kw {
            Kw::Ip => Prim::EtherType(ETHERTYPE_IP),
            Kw::Ip6 => Prim::EtherType(ETHERTYPE_IPV6),
            Kw::Arp => Prim::EtherType(ETHERTYPE_ARP),
            Kw::Rarp => Prim::EtherType(ETHERTYPE_REVARP),
            Kw::Link => {
                return Err(self.qualifier(
                    t,
                    kw,
                    "nothing (write `ether host`, `ether proto` or `ether[...]`)",
                ))
            }
            _ => match ip_protocol(kw) {
                Some((family, v)) => Prim::IpProto(family, v),
                None => return Err(self.qualifier(t, kw, "nothing")),
            },
        };
        if let Prim::EtherType(v) = prim {
            self.not_in_mpls(t, v)?;
        }
        self.prim(prim)
    }

    /// `broadcast` and `multicast` after an optional protocol.
    fn cast(&mut self, p: Pq) -> R<Idx> {
        let t = self.tok;
        self.advance()?;
        let broadcast = t.tok == Tok::Kw(Kw::Broadcast);
        let prim = match (p, broadcast) {
            (Pq::Default | Pq::Kw(Kw::Link), true) => Prim::EtherBroadcast,
            (Pq::Default | Pq::Kw(Kw::Link), false) => Prim::EtherMulticast,
            (Pq::Kw(Kw::Ip), true) => Prim::IpBroadcast,
            (Pq::Kw(Kw::Ip), false) => Prim::IpMulticast,
            (Pq::Kw(Kw::Ip6), false) => Prim::Ip6Multicast,
            _ => {
                let what = if broadcast { "broadcast" } else { "multicast" };
                return Err(self.error_at(t, ErrorKind::CastNotFor(what)));
            }
        };
        self.prim(prim)
    }

    /// `vlan [ID]` (the keyword consumed): the first one tests the
    /// ancillary data and makes the later offsets variable; later ones
    /// shift them by 4.
    fn vlan(&mut self, t: Token) -> R<Idx> {
        if self.layout.in_mpls() {
            return Err(self.error_at(t, ErrorKind::VlanAfterMpls));
        }
        let id = match self.tok.tok {
            Tok::Num(_) | Tok::LParen => {
                let (id, at) = self.pnum()?;
                if id > 0x0fff {
                    return Err(self.error_at(
                        at,
                        ErrorKind::TooLarge {
                            what: "VLAN ID",
                            value: id,
                            max: 0x0fff,
                        },
                    ));
                }
                Some(id as u16)
            }
            _ => None,
        };
        let first = !self.layout.variable;
        let node = self.prim(Prim::Vlan { id, first })?;
        if first {
            self.layout.variable = true;
            self.vlan = true;
        } else {
            self.layout.shift = self.layout.shift.saturating_add(4);
        }
        Ok(node)
    }

    /// `mpls [LABEL]` (the keyword consumed).
    fn mpls(&mut self) -> R<Idx> {
        let label = match self.tok.tok {
            Tok::Num(_) | Tok::LParen => {
                let (label, at) = self.pnum()?;
                if label > 0xf_ffff {
                    return Err(self.error_at(
                        at,
                        ErrorKind::TooLarge {
                            what: "MPLS label",
                            value: label,
                            max: 0xf_ffff,
                        },
                    ));
                }
                Some(label)
            }
            _ => None,
        };
        let node = self.prim(Prim::Mpls { label })?;
        self.layout.nl = self.layout.nl.saturating_add(4);
        Ok(node)
    }

    /// `arth relop arth`.
    fn relation(&mut self) -> R<Idx> {
        let lhs = self.arith(None)?;
        let (op, reversed) = match self.tok.tok {
            Tok::Gt => (BPF_JGT, false),
            Tok::Ge => (BPF_JGE, false),
            Tok::Eq => (BPF_JEQ, false),
            Tok::Le => (BPF_JGT, true),
            Tok::Lt => (BPF_JGE, true),
            Tok::Ne => (BPF_JEQ, true),
            _ => return Err(self.expected(Expected::Comparison)),
        };
        self.advance()?;
        let rhs = self.arith(None)?;
        if let (Node::Num(a), Node::Num(b)) = (self.node(lhs), self.node(rhs)) {
            let holds = match op {
                BPF_JGT => a > b,
                BPF_JGE => a >= b,
                _ => a == b,
            };
            return self.push(Node::Const(holds != reversed));
        }
        self.push(Node::Relation {
            op,
            reversed,
            lhs,
            rhs,
            layout: self.layout,
        })
    }

    /// `arth`, with Bison's precedences: `left` is the operator to the
    /// left of this operand (`None` at the start, `Some(BPF_NEG)` after a
    /// unary minus).
    fn arith(&mut self, left: Option<u16>) -> R<Idx> {
        self.enter()?;
        let found = self.arith_inner(left);
        self.leave();
        found
    }

    fn arith_inner(&mut self, left: Option<u16>) -> R<Idx> {
        let mut value = self.operand()?;
        loop {
            let t = self.tok;
            let op = match t.tok {
                Tok::Plus => BPF_ADD,
                Tok::Minus => BPF_SUB,
                Tok::Star => BPF_MUL,
                Tok::Slash => BPF_DIV,
                Tok::Percent => BPF_MOD,
                Tok::Amp => BPF_AND,
                Tok::Pipe => BPF_OR,
                Tok::Caret => BPF_XOR,
                Tok::Lsh => BPF_LSH,
                Tok::Rsh => BPF_RSH,
                _ => return Ok(value),
            };
            // Reduce (return to the operator on the left) when both have a
            // precedence and the left one binds at least as tightly.
            if let (Some(l), Some(r)) = (left.and_then(precedence), precedence(op)) {
                if l >= r {
                    return Ok(value);
                }
            }
            self.advance()?;
            let rhs = self.arith(Some(op))?;
            value = self.binary(op, value, rhs, t)?;
        }
    }

    fn binary(&mut self, op: u16, lhs: Idx, rhs: Idx, t: Token) -> R<Idx> {
        if let Node::Num(b) = self.node(rhs) {
            if b == 0 && (op == BPF_DIV || op == BPF_MOD) {
                return Err(self.error_at(t, ErrorKind::DivisionByZero));
            }
            if b > 31 && (op == BPF_LSH || op == BPF_RSH) {
                return Err(self.error_at(t, ErrorKind::ShiftTooLarge(b)));
            }
            if let Node::Num(a) = self.node(lhs) {
                let folded = match op {
                    BPF_ADD => a.wrapping_add(b),
                    BPF_SUB => a.wrapping_sub(b),
                    BPF_MUL => a.wrapping_mul(b),
                    BPF_DIV => a / b,
                    BPF_MOD => a % b,
                    BPF_AND => a & b,
                    BPF_OR => a | b,
                    BPF_XOR => a ^ b,
                    BPF_LSH => a << b,
                    _ => a >> b,
                };
                return self.push(Node::Num(folded));
            }
        }
        self.push(Node::Binary { op, lhs, rhs })
    }

    /// An arithmetic operand.
    fn operand(&mut self) -> R<Idx> {
        let t = self.tok;
        match t.tok {
            Tok::Num(v) => {
                self.advance()?;
                self.push(Node::Num(v))
            }
            Tok::Kw(Kw::Len) => {
                self.advance()?;
                self.push(Node::Len)
            }
            Tok::Minus => {
                self.advance()?;
                let x = self.arith(Some(crate::bpf::BPF_NEG))?;
                match self.node(x) {
                    Node::Num(v) => self.push(Node::Num(v.wrapping_neg())),
                    _ => self.push(Node::Neg(x)),
                }
            }
            Tok::LParen => {
                self.advance()?;
                let x = self.arith(None)?;
                self.close()?;
                Ok(x)
            }
            Tok::Kw(kw) if is_protocol(kw) => {
                self.advance()?;
                if self.tok.tok != Tok::LBracket {
                    return Err(self.expected(Expected::OpenBracket));
                }
                self.advance()?;
                let index = self.arith(None)?;
                let size = match self.tok.tok {
                    Tok::Colon => {
                        self.advance()?;
                        let s = self.tok;
                        let Tok::Num(size) = s.tok else {
                            return Err(self.expected(Expected::Size));
                        };
                        self.advance()?;
                        if !matches!(size, 1 | 2 | 4) {
                            return Err(self.error_at(s, ErrorKind::BadSize(size)));
                        }
                        size as u8
                    }
                    Tok::RBracket => 1,
                    _ => return Err(self.expected(Expected::CloseBracketOrSize)),
                };
                if self.tok.tok != Tok::RBracket {
                    return Err(self.expected(Expected::CloseBracket));
                }
                self.advance()?;
                let proto = self.indexed(kw, t)?;
                self.push(Node::Load { proto, index, size })
            }
            _ => Err(self.expected(Expected::Operand)),
        }
    }

    /// What `kw[...]` indexes.
    fn indexed(&self, kw: Kw, t: Token) -> R<Indexed> {
        let network = |v: u32| -> R<Indexed> {
            self.not_in_mpls(t, v)?;
            Ok(Indexed::Network(v as u16))
        };
        match kw {
            Kw::Link => Ok(Indexed::Link),
            Kw::Ip => network(ETHERTYPE_IP),
            Kw::Ip6 => network(ETHERTYPE_IPV6),
            Kw::Arp => network(ETHERTYPE_ARP),
            Kw::Rarp => network(ETHERTYPE_REVARP),
            Kw::Icmp6 => Ok(Indexed::Icmp6),
            Kw::Ah | Kw::Esp => Err(self.error_at(t, ErrorKind::NotIndexable(kw_name(kw)))),
            _ => match ip_protocol(kw) {
                Some((family, v)) => Ok(Indexed::Transport(family, v as u8)),
                None => Err(self.error_at(t, ErrorKind::NotIndexable(kw_name(kw)))),
            },
        }
    }
}

/// Whether `tok` continues an arithmetic operand or compares it.
fn is_arithmetic(tok: Tok) -> bool {
    matches!(
        tok,
        Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::Amp
            | Tok::Pipe
            | Tok::Caret
            | Tok::Lsh
            | Tok::Rsh
            | Tok::Gt
            | Tok::Ge
            | Tok::Lt
            | Tok::Le
            | Tok::Eq
            | Tok::Ne
    )
}

/// Bison's precedence of an arithmetic operator (higher binds tighter);
/// `%` and `^` have none.
fn precedence(op: u16) -> Option<u8> {
    Some(match op {
        BPF_OR => 1,
        BPF_AND => 2,
        BPF_LSH | BPF_RSH => 3,
        BPF_ADD | BPF_SUB => 4,
        BPF_MUL | BPF_DIV => 5,
        crate::bpf::BPF_NEG => 6,
        _ => return None,
    })
}

/// `%d` of `sscanf` for a port range bound: decimal digits only here.
fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes()
        .try_fold(0u32, |n, d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .or(Some(u32::MAX))
}

/// Parses `src` into a tree, or says where it is wrong.
pub(super) fn parse(src: &str) -> R<Ast> {
    let mut parser = Parser {
        src,
        tok: Token {
            tok: Tok::End,
            start: 0,
            end: 0,
        },
        nodes: Vec::new(),
        layout: Layout::default(),
        vlan: false,
        depth: 0,
    };
    parser.tok = parser.lex(0)?;
    let root = if parser.tok.tok == Tok::End {
        None
    } else {
        Some(parser.expr(QERR, false)?.0)
    };
    Ok(Ast {
        nodes: parser.nodes,
        root,
        vlan: parser.vlan,
    })
}
