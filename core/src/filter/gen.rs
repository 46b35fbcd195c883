//! Code generation: the tree of [`super::ast`] into classic BPF, in the
//! order libpcap's `gencode.c` tests things, back to front.
//!
//! The program is written from its end: the two `ret`s first, then every
//! test before the code it jumps to. A jump's targets are then always
//! known when it is written, so its distances are exact; a target more
//! than 255 instructions away is reached through a `ja` placed right after
//! the jump. Instructions are pushed in reverse and the buffer is turned
//! around at the end. A label is an instruction's position from the end.
//!
//! The order of tests matters beyond the verdict: a load past the end of
//! the frame ends the program with 0 whatever the expression around it
//! (`not` included), so a truncated frame passes or fails depending on
//! which load comes first. Each primitive tests what libpcap tests, in its
//! order. Where this code shares a load that libpcap repeats (the EtherType
//! before the source and destination of a `host`), the repeated load would
//! read the same bytes again: the verdicts are the same.

use heapless::Vec;

use super::ast::{scratch, Dir, Family, HostIn, Idx, Indexed, Layout, Node, Prim};
use super::error::ErrorKind;
use crate::bpf::*;

/// What a matching frame's program returns: libpcap's default snapshot
/// length (`MAXIMUM_SNAPLEN`), so the kernel passes the whole frame.
pub const ACCEPT: u32 = 262_144;

/// The scratch word holding the variable part of the offsets after a first
/// `vlan` (libpcap's `off_linkpl.reg` and `off_linktype.reg`, which always
/// hold the same value).
const VLAN_WORD: u32 = 0;

const ETHERTYPE_IP: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_MPLS: u32 = 0x8847;
/// `ETHERMTU`: an EtherType field up to this is an 802.3 length.
const ETHERMTU: u32 = 1500;
/// `SKF_AD_OFF` as the unsigned `k` of a load.
const ANCILLARY_START: u32 = SKF_AD_OFF as u32;

/// An instruction's position, counted from the end of the program.
type Label = usize;

type R<T> = Result<T, ErrorKind>;

/// Where a load's offset counts from (libpcap's `e_offrel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// The frame (`OR_PACKET`, `OR_LINKHDR`): never shifted.
    Packet,
    /// The EtherType (`OR_LINKTYPE`): 12, after VLAN tags.
    LinkType,
    /// The link-layer payload (`OR_LLC`): 14, after VLAN tags.
    Payload,
    /// The network header (`OR_LINKPL`): the payload after MPLS labels.
    Network,
    /// The header after IPv4's (`OR_TRAN_IPV4`): the network header plus
    /// four times its IHL.
    TransportV4,
    /// The header after a 40-byte IPv6 header (`OR_TRAN_IPV6`).
    TransportV6,
    /// An ancillary field: `SKF_AD_OFF` plus the offset.
    Ancillary,
    /// The packet length (`ld #pktlen`).
    Length,
}

/// A field a test reads: where, how wide, and the bits it keeps.
#[derive(Debug, Clone, Copy)]
struct Field {
    base: Base,
    offset: u32,
    size: u16,
    mask: u32,
}

fn field(base: Base, offset: u32, size: u16) -> Field {
    Field {
        base,
        offset,
        size,
        mask: u32::MAX,
    }
}

fn masked(base: Base, offset: u32, size: u16, mask: u32) -> Field {
    Field {
        base,
        offset,
        size,
        mask,
    }
}

/// The constant part of `base`'s offset in `layout`.
fn base_offset(base: Base, layout: Layout) -> u32 {
    let shift = u32::from(layout.shift);
    let nl = u32::from(layout.nl);
    match base {
        Base::Packet | Base::Ancillary | Base::Length => 0,
        Base::LinkType => 12 + shift,
        Base::Payload => 14 + shift,
        Base::Network | Base::TransportV4 => 14 + shift + nl,
        Base::TransportV6 => 14 + shift + nl + 40,
    }
}

/// Whether `base`'s offset has the variable part of a first `vlan`.
fn variable(base: Base, layout: Layout) -> bool {
    layout.variable && !matches!(base, Base::Packet | Base::Ancillary | Base::Length)
}

fn stmt(code: u16, k: u32) -> Instruction {
    Instruction::stmt(code, k)
}

/// A short run of instructions in program order, before it is pushed.
struct Seq {
    insns: [Instruction; 8],
    len: usize,
}

impl Seq {
    fn new() -> Seq {
        Seq {
            insns: [stmt(0, 0); 8],
            len: 0,
        }
    }

    fn add(&mut self, code: u16, k: u32) {
        if let Some(slot) = self.insns.get_mut(self.len) {
            *slot = stmt(code, k);
            self.len += 1;
        }
    }
}

/// The code generator: the tree it reads and the program it writes
/// (reversed until [`generate`] turns it around).
struct Gen<'a> {
    nodes: &'a [Node],
    out: &'a mut Vec<Instruction, BPF_MAXINSNS>,
}

impl Gen<'_> {
    fn emit(&mut self, insn: Instruction) -> R<Label> {
        self.out.push(insn).map_err(|_| ErrorKind::ProgramTooLong)?;
        Ok(self.out.len() - 1)
    }

    fn stmt(&mut self, code: u16, k: u32) -> R<Label> {
        self.emit(stmt(code, k))
    }

    /// The instructions of `seq`, in its order, before what is written.
    fn seq(&mut self, seq: &Seq) -> R<Label> {
        let mut entry = self.out.len();
        for insn in seq.insns[..seq.len].iter().rev() {
            entry = self.emit(*insn)?;
        }
        Ok(entry)
    }

    /// `ja` to `target`.
    fn ja(&mut self, target: Label) -> R<Label> {
        let distance = self.out.len() - target - 1;
        self.stmt(BPF_JMP | BPF_JA, distance as u32)
    }

    /// A conditional jump to `t` or `f`; a target too far for the 8-bit
    /// offsets gets a `ja` between the two.
    fn jump(&mut self, code: u16, k: u32, t: Label, f: Label) -> R<Label> {
        // Two trampolines may come between: leave room for them.
        let far = |target: Label, at: usize| at - target - 1 > 253;
        let at = self.out.len();
        let (t_far, f_far) = (far(t, at), far(f, at));
        let t = if t_far { self.ja(t)? } else { t };
        let f = match (f_far, t_far && f == t) {
            (true, true) => t,
            (true, false) => self.ja(f)?,
            (false, _) => f,
        };
        let at = self.out.len();
        self.emit(Instruction::jump(
            code,
            k,
            (at - t - 1) as u8,
            (at - f - 1) as u8,
        ))
    }

    /// Loads `field` into A (X may change).
    fn load(&mut self, f: Field, layout: Layout) -> R<Label> {
        let mut seq = Seq::new();
        let base = base_offset(f.base, layout);
        let k = base.wrapping_add(f.offset);
        let size = f.size;
        match f.base {
            Base::Length => seq.add(BPF_LD | BPF_W | BPF_LEN, 0),
            Base::Ancillary => seq.add(BPF_LD | size | BPF_ABS, ANCILLARY_START + f.offset),
            Base::TransportV4 => {
                self.header_length(&mut seq, base, layout);
                seq.add(BPF_LD | size | BPF_IND, k);
            }
            b if variable(b, layout) => {
                seq.add(BPF_LDX | BPF_MEM, VLAN_WORD);
                seq.add(BPF_LD | size | BPF_IND, k);
            }
            // libpcap's optimizer folds a constant offset into an absolute
            // load, which in the ancillary range would read kernel data;
            // through X it stays a (failing) packet load.
            _ if k >= ANCILLARY_START => {
                seq.add(BPF_LDX | BPF_IMM, k);
                seq.add(BPF_LD | size | BPF_IND, 0);
            }
            _ => seq.add(BPF_LD | size | BPF_ABS, k),
        }
        if f.mask != u32::MAX {
            seq.add(BPF_ALU | BPF_AND | BPF_K, f.mask);
        }
        self.seq(&seq)
    }

    /// Puts into X the IPv4 header length plus the variable part of the
    /// offsets (`gen_loadx_iphdrlen`); `at` is the IPv4 header's constant
    /// offset.
    fn header_length(&self, seq: &mut Seq, at: u32, layout: Layout) {
        if layout.variable {
            seq.add(BPF_LDX | BPF_MEM, VLAN_WORD);
            seq.add(BPF_LD | BPF_B | BPF_IND, at);
            seq.add(BPF_ALU | BPF_AND | BPF_K, 0xf);
            seq.add(BPF_ALU | BPF_LSH | BPF_K, 2);
            seq.add(BPF_ALU | BPF_ADD | BPF_X, 0);
            seq.add(BPF_MISC | BPF_TAX, 0);
        } else {
            seq.add(BPF_LDX | BPF_B | BPF_MSH, at);
        }
    }

    /// Loads `f` and jumps on `op` with `k`. A field masked to nothing
    /// (the address of `net 0.0.0.0/0`, the free words of `net fd00::/16`)
    /// is not loaded at all, as libpcap's optimizer leaves it out: on a
    /// frame too short to hold it, that load would reject the frame.
    fn test(&mut self, f: Field, layout: Layout, op: u16, k: u32, t: Label, l: Label) -> R<Label> {
        if f.mask == 0 && op == BPF_JEQ {
            return Ok(if k == 0 { t } else { l });
        }
        self.jump(BPF_JMP | op | BPF_K, k, t, l)?;
        self.load(f, layout)
    }

    /// Another jump on the value the test right before it loaded; only for
    /// code that only that test reaches.
    fn again(&mut self, op: u16, k: u32, t: Label, f: Label) -> R<Label> {
        self.jump(BPF_JMP | op | BPF_K, k, t, f)
    }

    /// Code for the boolean node `at`: to `t` when it holds, else to `f`.
    fn gen(&mut self, mut at: Idx, mut t: Label, mut f: Label) -> R<Label> {
        loop {
            match self.nodes[usize::from(at)] {
                Node::Const(holds) => return Ok(if holds { t } else { f }),
                Node::Not(x) => {
                    core::mem::swap(&mut t, &mut f);
                    at = x;
                }
                Node::And(l, r) => {
                    t = self.gen(r, t, f)?;
                    at = l;
                }
                Node::Or(l, r) => {
                    f = self.gen(r, t, f)?;
                    at = l;
                }
                Node::Prim(prim, layout) => return self.prim(prim, layout, t, f),
                Node::Relation {
                    op,
                    reversed,
                    lhs,
                    rhs,
                    layout,
                } => return self.relation(op, reversed, lhs, rhs, layout, t, f),
                // Values occur only under a relation, which reads them.
                Node::Num(_)
                | Node::Len
                | Node::Load { .. }
                | Node::Binary { .. }
                | Node::Neg(_) => return Ok(f),
            }
        }
    }

    /// `one(src)` for `src`, `dst`, `src or dst` (source first) and
    /// `src and dst`.
    fn by_dir(
        &mut self,
        dir: Dir,
        t: Label,
        f: Label,
        mut one: impl FnMut(&mut Self, bool, Label, Label) -> R<Label>,
    ) -> R<Label> {
        match dir {
            Dir::Src => one(self, true, t, f),
            Dir::Dst => one(self, false, t, f),
            Dir::Either => {
                let dst = one(self, false, t, f)?;
                one(self, true, t, dst)
            }
            Dir::Both => {
                let dst = one(self, false, t, f)?;
                one(self, true, dst, f)
            }
        }
    }

    /// `gen_bcmp`: the bytes at `base + offset` equal `bytes`, compared a
    /// word at a time from the end, then a half word, then a byte.
    fn bytes(
        &mut self,
        base: Base,
        offset: u32,
        bytes: &[u8],
        layout: Layout,
        t: Label,
        f: Label,
    ) -> R<Label> {
        let mut parts: [(u32, u16, u32); 4] = [(0, 0, 0); 4];
        let mut count = 0;
        let mut left = bytes.len();
        while left > 0 {
            let (size, width) = match left {
                4.. => (BPF_W, 4),
                2 | 3 => (BPF_H, 2),
                _ => (BPF_B, 1),
            };
            let at = if width == 1 { 0 } else { left - width };
            let value = bytes[at..at + width]
                .iter()
                .fold(0u32, |v, &b| (v << 8) | u32::from(b));
            if let Some(part) = parts.get_mut(count) {
                *part = (at as u32, size, value);
                count += 1;
            }
            left = at;
        }
        let mut entry = t;
        for &(at, size, value) in parts[..count].iter().rev() {
            let fld = field(base, offset.wrapping_add(at), size);
            entry = self.test(fld, layout, BPF_JEQ, value, entry, f)?;
        }
        Ok(entry)
    }

    /// Not an 802.3 length: `not ether[12:2] > 1500` (after VLAN tags).
    fn not_length(&mut self, layout: Layout, next: Label, f: Label) -> R<Label> {
        self.test(
            field(Base::LinkType, 0, BPF_H),
            layout,
            BPF_JGT,
            ETHERMTU,
            f,
            next,
        )
    }

    /// `gen_snap`: an 802.2 LLC header with SNAP, this OUI and type.
    fn snap(&mut self, oui: u32, ptype: u32, layout: Layout, t: Label, f: Label) -> R<Label> {
        let [_, o1, o2, o3] = oui.to_be_bytes();
        let [_, _, p1, p2] = ptype.to_be_bytes();
        let header = [0xaa, 0xaa, 0x03, o1, o2, o3, p1, p2];
        self.bytes(Base::Payload, 0, &header, layout, t, f)
    }

    /// `gen_linktype` for Ethernet: the frame carries `v` (an EtherType,
    /// or an LLC SAP up to 1500); inside MPLS, an IPv4 or IPv6 header
    /// under the bottom label.
    fn ethertype(&mut self, v: u32, layout: Layout, t: Label, f: Label) -> R<Label> {
        if layout.in_mpls() {
            let version = if v == ETHERTYPE_IPV6 { 0x60 } else { 0x40 };
            let ip = masked(Base::Network, 0, BPF_B, 0xf0);
            let version = self.test(ip, layout, BPF_JEQ, version, t, f)?;
            let bottom = masked(Base::Network, (-2i32) as u32, BPF_B, 0x01);
            return self.test(bottom, layout, BPF_JEQ, 0x01, version, f);
        }
        let ethertype = field(Base::LinkType, 0, BPF_H);
        match v {
            // ISO, IP over 802.2 and NetBEUI: both SAPs.
            0xfe | 0x06 | 0xf0 => {
                let saps = field(Base::Payload, 0, BPF_H);
                let llc = self.test(saps, layout, BPF_JEQ, (v << 8) | v, t, f)?;
                self.not_length(layout, llc, f)
            }
            // IPX: Ethernet II, or 802.3 with the IPX SAP, raw (0xffff) or
            // SNAP.
            0xe0 => {
                let raw = self.test(
                    field(Base::Payload, 0, BPF_H),
                    layout,
                    BPF_JEQ,
                    0xffff,
                    t,
                    f,
                )?;
                let sap = self.test(
                    field(Base::Payload, 0, BPF_B),
                    layout,
                    BPF_JEQ,
                    0xe0,
                    t,
                    raw,
                )?;
                let snap = self.snap(0, 0x8137, layout, t, sap)?;
                let llc = self.not_length(layout, snap, f)?;
                self.test(ethertype, layout, BPF_JEQ, 0x8137, t, llc)
            }
            // AppleTalk and AARP: Ethernet II, or 802.3 with SNAP.
            0x809b | 0x80f3 => {
                let oui = if v == 0x809b { 0x08_0007 } else { 0 };
                let snap = self.snap(oui, v, layout, t, f)?;
                let llc = self.not_length(layout, snap, f)?;
                self.test(ethertype, layout, BPF_JEQ, v, t, llc)
            }
            // Another SAP: an 802.3 frame with this DSAP.
            ..=ETHERMTU => {
                let dsap = field(Base::LinkType, 2, BPF_B);
                let llc = self.test(dsap, layout, BPF_JEQ, v, t, f)?;
                self.not_length(layout, llc, f)
            }
            _ => self.test(ethertype, layout, BPF_JEQ, v, t, f),
        }
    }

    /// `gen_proto` for IPv4 and IPv6 (an IPv6 fragment header in between
    /// counts too).
    fn ip_proto(&mut self, family: Family, v: u32, layout: Layout, t: Label, f: Label) -> R<Label> {
        match family {
            Family::V4 => {
                let proto = self.test(field(Base::Network, 9, BPF_B), layout, BPF_JEQ, v, t, f)?;
                self.ethertype(ETHERTYPE_IP, layout, proto, f)
            }
            Family::V6 => {
                let after = field(Base::Network, 40, BPF_B);
                let after_fragment = self.test(after, layout, BPF_JEQ, v, t, f)?;
                let fragment = self.again(BPF_JEQ, 44, after_fragment, f)?;
                let next = self.test(
                    field(Base::Network, 6, BPF_B),
                    layout,
                    BPF_JEQ,
                    v,
                    t,
                    fragment,
                )?;
                self.ethertype(ETHERTYPE_IPV6, layout, next, f)
            }
            Family::Both => {
                let v6 = self.ip_proto(Family::V6, v, layout, t, f)?;
                self.ip_proto(Family::V4, v, layout, t, v6)
            }
        }
    }

    /// Not a fragment after the first (`gen_ipfrag`).
    fn first_fragment(&mut self, layout: Layout, t: Label, f: Label) -> R<Label> {
        self.test(
            field(Base::Network, 6, BPF_H),
            layout,
            BPF_JSET,
            0x1fff,
            f,
            t,
        )
    }

    fn prim(&mut self, prim: Prim, layout: Layout, t: Label, f: Label) -> R<Label> {
        let ancillary = |offset: u32, size: u16| field(Base::Ancillary, offset, size);
        match prim {
            Prim::EtherType(v) => self.ethertype(v, layout, t, f),
            Prim::IpProto(family, v) => self.ip_proto(family, v, layout, t, f),
            Prim::Host {
                addr,
                mask,
                dir,
                within: HostIn::Any,
            } => {
                let rarp = self.host(HostIn::Rarp, addr, mask, dir, layout, t, f)?;
                let arp = self.host(HostIn::Arp, addr, mask, dir, layout, t, rarp)?;
                self.host(HostIn::Ip, addr, mask, dir, layout, t, arp)
            }
            Prim::Host {
                addr,
                mask,
                dir,
                within,
            } => self.host(within, addr, mask, dir, layout, t, f),
            Prim::Host6 { addr, prefix, dir } => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                let words = |x: u128| (0..4).map(move |i| (x >> (96 - 32 * i)) as u32);
                let addr = u128::from_be_bytes(addr);
                let cmp = self.by_dir(dir, t, f, |g, src, t, f| {
                    let start = if src { 8 } else { 24 };
                    let mut entry = t;
                    for (i, (a, m)) in words(addr).zip(words(mask)).enumerate().rev() {
                        let word = masked(Base::Network, start + 4 * i as u32, BPF_W, m);
                        entry = g.test(word, layout, BPF_JEQ, a, entry, f)?;
                    }
                    Ok(entry)
                })?;
                self.ethertype(ETHERTYPE_IPV6, layout, cmp, f)
            }
            Prim::Ether { addr, dir } => self.by_dir(dir, t, f, |g, src, t, f| {
                g.bytes(Base::Packet, if src { 6 } else { 0 }, &addr, layout, t, f)
            }),
            Prim::Port {
                lo,
                hi,
                range,
                proto,
                dir,
            } => {
                let v4 = self.port(false, (lo, hi, range), proto, dir, layout, t, f)?;
                self.port(true, (lo, hi, range), proto, dir, layout, t, v4)
            }
            Prim::EtherBroadcast => self.bytes(Base::Packet, 0, &[0xff; 6], layout, t, f),
            Prim::IpBroadcast => {
                let all_ones = self.again(BPF_JEQ, u32::MAX, t, f)?;
                let dst = field(Base::Network, 16, BPF_W);
                let zero = self.test(dst, layout, BPF_JEQ, 0, t, all_ones)?;
                self.ethertype(ETHERTYPE_IP, layout, zero, f)
            }
            Prim::EtherMulticast => {
                self.test(field(Base::Packet, 0, BPF_B), layout, BPF_JSET, 1, t, f)
            }
            Prim::IpMulticast => {
                let dst = self.test(field(Base::Network, 16, BPF_B), layout, BPF_JGE, 224, t, f)?;
                self.ethertype(ETHERTYPE_IP, layout, dst, f)
            }
            Prim::Ip6Multicast => {
                let dst = self.test(field(Base::Network, 24, BPF_B), layout, BPF_JEQ, 255, t, f)?;
                self.ethertype(ETHERTYPE_IPV6, layout, dst, f)
            }
            Prim::Length { greater: true, n } => {
                self.test(field(Base::Length, 0, BPF_W), layout, BPF_JGE, n, t, f)
            }
            Prim::Length { greater: false, n } => {
                self.test(field(Base::Length, 0, BPF_W), layout, BPF_JGT, n, f, t)
            }
            Prim::Vlan { id, first: true } => self.first_vlan(id, layout, t, f),
            Prim::Vlan { id, first: false } => {
                let after = match id {
                    Some(id) => {
                        let vid = masked(Base::Network, 0, BPF_H, 0x0fff);
                        self.test(vid, layout, BPF_JEQ, u32::from(id), t, f)?
                    }
                    None => t,
                };
                self.tpid(layout, after, f)
            }
            Prim::Mpls { label } => {
                let after = match label {
                    Some(label) => {
                        let shim = masked(Base::Network, 0, BPF_W, 0xffff_f000);
                        self.test(shim, layout, BPF_JEQ, label << 12, t, f)?
                    }
                    None => t,
                };
                if layout.in_mpls() {
                    // The label before has its bottom-of-stack bit clear.
                    let previous = masked(Base::Network, (-2i32) as u32, BPF_B, 0x01);
                    self.test(previous, layout, BPF_JEQ, 0, after, f)
                } else {
                    self.ethertype(ETHERTYPE_MPLS, layout, after, f)
                }
            }
            Prim::Outbound => {
                // PACKET_OUTGOING in sll_pkttype.
                self.test(ancillary(SKF_AD_PKTTYPE, BPF_H), layout, BPF_JEQ, 4, t, f)
            }
            Prim::Ifindex(n) => {
                self.test(ancillary(SKF_AD_IFINDEX, BPF_W), layout, BPF_JEQ, n, t, f)
            }
        }
    }

    /// An outer tag in the frame: 802.1Q, 802.1ad or the old QinQ 0x9100
    /// (`gen_vlan_tpid_test`), at the EtherType's offset.
    fn tpid(&mut self, layout: Layout, t: Label, f: Label) -> R<Label> {
        let qinq = self.again(BPF_JEQ, 0x9100, t, f)?;
        let ad = self.again(BPF_JEQ, 0x88a8, t, qinq)?;
        self.test(
            field(Base::LinkType, 0, BPF_H),
            layout,
            BPF_JEQ,
            0x8100,
            t,
            ad,
        )
    }

    /// The first `vlan`, as libpcap compiles it for a live Linux socket
    /// (`gen_vlan_bpf_extensions`): a tag the kernel moved into the
    /// ancillary data, or else one still in the frame, in which case the
    /// offsets of every later test move by 4 (`M[0] += 4`, also when the
    /// test then fails).
    fn first_vlan(&mut self, id: Option<u16>, layout: Layout, t: Label, f: Label) -> R<Label> {
        let after = match id {
            Some(id) => self.first_vlan_id(id, layout, t, f)?,
            None => t,
        };
        // Falls through into the test for a tag in the frame.
        self.tpid(layout, after, f)?;
        self.stmt(BPF_ST, VLAN_WORD)?;
        self.stmt(BPF_ALU | BPF_ADD | BPF_K, 4)?;
        let shift = self.stmt(BPF_LD | BPF_MEM, VLAN_WORD)?;
        let present = field(Base::Ancillary, SKF_AD_VLAN_TAG_PRESENT, BPF_B);
        self.test(present, layout, BPF_JEQ, 1, after, shift)
    }

    /// The VLAN ID of the first tag: from the ancillary data when the
    /// kernel stripped it, else from the frame
    /// (`gen_vlan_patch_vid_test`).
    fn first_vlan_id(&mut self, id: u16, layout: Layout, t: Label, f: Label) -> R<Label> {
        self.jump(BPF_JMP | BPF_JEQ | BPF_K, u32::from(id), t, f)?;
        let vid = self.stmt(BPF_ALU | BPF_AND | BPF_K, 0x0fff)?;
        let in_frame = self.load(field(Base::Network, 0, BPF_H), layout)?;
        self.ja(vid)?;
        let stripped = self.stmt(BPF_LD | BPF_B | BPF_ABS, ANCILLARY_START + SKF_AD_VLAN_TAG)?;
        let present = field(Base::Ancillary, SKF_AD_VLAN_TAG_PRESENT, BPF_B);
        self.test(present, layout, BPF_JEQ, 1, stripped, in_frame)
    }

    /// `gen_hostop`: an IPv4 address in an IPv4, ARP or RARP header.
    #[allow(clippy::too_many_arguments)]
    fn host(
        &mut self,
        within: HostIn,
        addr: u32,
        mask: u32,
        dir: Dir,
        layout: Layout,
        t: Label,
        f: Label,
    ) -> R<Label> {
        let (ethertype, src, dst) = match within {
            HostIn::Arp => (0x0806, 14, 24),
            HostIn::Rarp => (0x8035, 14, 24),
            HostIn::Ip | HostIn::Any => (ETHERTYPE_IP, 12, 16),
        };
        let cmp = self.by_dir(dir, t, f, |g, is_src, t, f| {
            let at = masked(Base::Network, if is_src { src } else { dst }, BPF_W, mask);
            g.test(at, layout, BPF_JEQ, addr, t, f)
        })?;
        self.ethertype(ethertype, layout, cmp, f)
    }

    /// `gen_port`/`gen_port6` and the range versions: over SCTP, TCP and
    /// UDP (in that order) when `proto` is 0.
    #[allow(clippy::too_many_arguments)]
    fn port(
        &mut self,
        v6: bool,
        ports: (u16, u16, bool),
        proto: u8,
        dir: Dir,
        layout: Layout,
        t: Label,
        f: Label,
    ) -> R<Label> {
        let body = if proto != 0 {
            self.port_over(v6, ports, proto, dir, layout, t, f)?
        } else {
            let udp = self.port_over(v6, ports, 17, dir, layout, t, f)?;
            let tcp = self.port_over(v6, ports, 6, dir, layout, t, udp)?;
            self.port_over(v6, ports, 132, dir, layout, t, tcp)?
        };
        let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IP };
        self.ethertype(ethertype, layout, body, f)
    }

    /// `gen_portop`: the protocol, for IPv4 the first fragment, then the
    /// port(s).
    #[allow(clippy::too_many_arguments)]
    fn port_over(
        &mut self,
        v6: bool,
        (lo, hi, range): (u16, u16, bool),
        proto: u8,
        dir: Dir,
        layout: Layout,
        t: Label,
        f: Label,
    ) -> R<Label> {
        let base = if v6 {
            Base::TransportV6
        } else {
            Base::TransportV4
        };
        let ports = self.by_dir(dir, t, f, |g, src, t, f| {
            let at = field(base, if src { 0 } else { 2 }, BPF_H);
            if range {
                let below = g.again(BPF_JGT, u32::from(hi), f, t)?;
                g.test(at, layout, BPF_JGE, u32::from(lo), below, f)
            } else {
                g.test(at, layout, BPF_JEQ, u32::from(lo), t, f)
            }
        })?;
        let next = if v6 { 6 } else { 9 };
        let first = if v6 {
            ports
        } else {
            self.first_fragment(layout, ports, f)?
        };
        self.test(
            field(Base::Network, next, BPF_B),
            layout,
            BPF_JEQ,
            u32::from(proto),
            first,
            f,
        )
    }

    /// `lhs op rhs`: the protocol checks of the loads (`gen_relation`), then
    /// the values and the comparison.
    #[allow(clippy::too_many_arguments)]
    fn relation(
        &mut self,
        op: u16,
        reversed: bool,
        lhs: Idx,
        rhs: Idx,
        layout: Layout,
        t: Label,
        f: Label,
    ) -> R<Label> {
        let (yes, no) = if reversed { (f, t) } else { (t, f) };
        match self.nodes[usize::from(rhs)] {
            Node::Num(k) => {
                self.jump(BPF_JMP | op | BPF_K, k, yes, no)?;
                self.eval(lhs, 1, layout)?;
            }
            _ => {
                self.jump(BPF_JMP | op | BPF_X, 0, yes, no)?;
                self.operands(lhs, rhs, 1, layout)?;
            }
        }
        let compute = self.out.len() - 1;
        let checks = self.checks(rhs, layout, compute, f)?;
        self.checks(lhs, layout, checks, f)
    }

    /// The protocol checks of the loads in value `at`, in libpcap's order,
    /// before `t`. Like `gen_arth`, an operation keeps only its left
    /// operand's checks.
    fn checks(&mut self, at: Idx, layout: Layout, t: Label, f: Label) -> R<Label> {
        match self.nodes[usize::from(at)] {
            Node::Neg(x) | Node::Binary { lhs: x, .. } => self.checks(x, layout, t, f),
            Node::Load { proto, index, .. } => match proto {
                Indexed::Link => self.checks(index, layout, t, f),
                Indexed::Network(v) => {
                    let network = self.ethertype(u32::from(v), layout, t, f)?;
                    self.checks(index, layout, network, f)
                }
                Indexed::Transport(family, v) => {
                    let first = self.first_fragment(layout, t, f)?;
                    let proto = self.ip_proto(family, u32::from(v), layout, first, f)?;
                    let inner = self.checks(index, layout, proto, f)?;
                    self.ethertype(ETHERTYPE_IP, layout, inner, f)
                }
                Indexed::Icmp6 => {
                    let next = field(Base::Network, 6, BPF_B);
                    let icmp6 = self.test(next, layout, BPF_JEQ, 58, t, f)?;
                    let ip6 = self.ethertype(ETHERTYPE_IPV6, layout, icmp6, f)?;
                    self.checks(index, layout, ip6, f)
                }
            },
            _ => Ok(t),
        }
    }

    /// Code leaving value `at` in A, using scratch words from `M[depth]`
    /// up (the parser has checked there are enough).
    fn eval(&mut self, at: Idx, depth: u32, layout: Layout) -> R<Label> {
        match self.nodes[usize::from(at)] {
            Node::Num(k) => self.stmt(BPF_LD | BPF_IMM, k),
            Node::Len => self.stmt(BPF_LD | BPF_W | BPF_LEN, 0),
            Node::Neg(x) => {
                self.stmt(BPF_ALU | BPF_NEG, 0)?;
                self.eval(x, depth, layout)
            }
            Node::Binary { op, lhs, rhs } => match self.nodes[usize::from(rhs)] {
                Node::Num(k) => {
                    self.stmt(BPF_ALU | op | BPF_K, k)?;
                    self.eval(lhs, depth, layout)
                }
                _ => {
                    self.stmt(BPF_ALU | op | BPF_X, 0)?;
                    self.operands(lhs, rhs, depth, layout)
                }
            },
            Node::Load { proto, index, size } => self.load_at(proto, index, size, depth, layout),
            // Only values reach here.
            _ => self.stmt(BPF_LD | BPF_IMM, 0),
        }
    }

    /// Code leaving `lhs` in A and `rhs` in X, computing first the operand
    /// that needs more scratch words and keeping it in `M[depth]`.
    fn operands(&mut self, lhs: Idx, rhs: Idx, depth: u32, layout: Layout) -> R<Label> {
        if scratch(self.nodes, lhs) >= scratch(self.nodes, rhs) {
            // lhs; st M[d]; rhs; tax; ld M[d]
            self.stmt(BPF_LD | BPF_MEM, depth)?;
            self.stmt(BPF_MISC | BPF_TAX, 0)?;
            self.eval(rhs, depth + 1, layout)?;
            self.stmt(BPF_ST, depth)?;
            self.eval(lhs, depth, layout)
        } else {
            // rhs; st M[d]; lhs; ldx M[d]
            self.stmt(BPF_LDX | BPF_MEM, depth)?;
            self.eval(lhs, depth + 1, layout)?;
            self.stmt(BPF_ST, depth)?;
            self.eval(rhs, depth, layout)
        }
    }

    /// `proto[index:size]` (`gen_load`).
    fn load_at(
        &mut self,
        proto: Indexed,
        index: Idx,
        size: u8,
        depth: u32,
        layout: Layout,
    ) -> R<Label> {
        let size = match size {
            4 => BPF_W,
            2 => BPF_H,
            _ => BPF_B,
        };
        let base = match proto {
            Indexed::Link => Base::Packet,
            Indexed::Network(_) => Base::Network,
            Indexed::Transport(..) => Base::TransportV4,
            Indexed::Icmp6 => Base::TransportV6,
        };
        if let Node::Num(offset) = self.nodes[usize::from(index)] {
            return self.load(field(base, offset, size), layout);
        }
        // X = index + the base's variable part; then load at the constant
        // part.
        let constant = base_offset(base, layout);
        self.stmt(BPF_LD | size | BPF_IND, constant)?;
        self.stmt(BPF_MISC | BPF_TAX, 0)?;
        match base {
            Base::TransportV4 => {
                self.stmt(BPF_ALU | BPF_ADD | BPF_X, 0)?;
                self.stmt(BPF_LD | BPF_MEM, depth)?;
                let mut seq = Seq::new();
                self.header_length(&mut seq, constant, layout);
                self.seq(&seq)?;
                self.stmt(BPF_ST, depth)?;
            }
            b if variable(b, layout) => {
                self.stmt(BPF_ALU | BPF_ADD | BPF_X, 0)?;
                self.stmt(BPF_LDX | BPF_MEM, VLAN_WORD)?;
            }
            _ => {}
        }
        self.eval(index, depth, layout)
    }
}

/// Writes the program for `root` of `nodes` into `out`; `vlan`: a first
/// `vlan` uses `M[0]`, which the program clears first.
pub(super) fn generate(
    nodes: &[Node],
    root: Idx,
    vlan: bool,
    out: &mut Vec<Instruction, BPF_MAXINSNS>,
) -> R<()> {
    out.clear();
    let mut g = Gen { nodes, out };
    let reject = g.stmt(BPF_RET | BPF_K, 0)?;
    let accept = g.stmt(BPF_RET | BPF_K, ACCEPT)?;
    // The root's entry is the last instruction written: a constant root
    // never gets here, and constants below it were folded into their
    // parents where they come first (`parse`), so every root starts with
    // a test it emits.
    g.gen(root, accept, reject)?;
    if vlan {
        g.stmt(BPF_ST, VLAN_WORD)?;
        g.stmt(BPF_LD | BPF_IMM, 0)?;
    }
    out.reverse();
    Ok(())
}
