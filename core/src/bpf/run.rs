//! The classic BPF interpreter with the kernel's semantics, and the
//! ancillary data (`SKF_AD_*`) it answers from.

use core::fmt;

use super::validate::is_absolute_load;
use super::*;

/// `SKF_NET_OFF`: a load at `SKF_NET_OFF + n` reads byte `n` of the
/// network header (`include/uapi/linux/filter.h`).
pub const SKF_NET_OFF: i32 = -0x10_0000;
/// `SKF_LL_OFF`: a load at `SKF_LL_OFF + n` reads byte `n` of the link-layer
/// (MAC) header.
pub const SKF_LL_OFF: i32 = -0x20_0000;

/// Where [`run`] puts the network header: right after the 14-byte Ethernet
/// header. The kernel resets it there for every Ethernet frame it receives
/// (`__netif_receive_skb_core`), also after stripping a VLAN tag
/// (`skb_vlan_untag`) and with an inner tag still in the bytes.
pub const NETWORK_HEADER_OFFSET: usize = 14;

/// `PKT_TYPE_MAX`: the kernel masks `SKF_AD_PKTTYPE` to three bits.
const PKT_TYPE_MASK: u8 = 7;

/// What the kernel knows about a packet beyond its bytes, for the
/// `SKF_AD_*` ancillary loads [`run`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ancillary {
    /// `skb->protocol` in host order (`sll_protocol`): the EtherType after
    /// a stripped VLAN tag.
    pub protocol: u16,
    /// `skb->pkt_type` (`sll_pkttype`): `PACKET_HOST`, `PACKET_BROADCAST`, ...
    pub pkttype: u8,
    /// The receiving interface (`sll_ifindex`).
    pub ifindex: u32,
    /// The stripped VLAN tag's TCI (`tp_vlan_tci` when
    /// `TP_STATUS_VLAN_VALID`), `None` when no tag was stripped.
    pub vlan_tci: Option<u16>,
    /// The stripped tag's TPID (`tp_vlan_tpid`); read only when
    /// `vlan_tci` is `Some`.
    pub vlan_tpid: u16,
    /// `skb->len`: the packet's length from the MAC header, without the
    /// stripped tag (`tp_len`, not `tp_snaplen`).
    pub len: u32,
    /// The interface's `ARPHRD_*` type (`sll_hatype`).
    pub hatype: u16,
}

impl Ancillary {
    /// The fields as a received frame's ring header gives them: `tp_len`,
    /// the VLAN fields as ringtap-linux's `FrameInfo` holds them (a TCI
    /// without a TPID is 802.1Q) and the `sockaddr_ll`.
    pub fn from_ring(
        len: u32,
        vlan_tci: Option<u16>,
        vlan_tpid: Option<u16>,
        addr: &crate::frame::ll::Repr,
    ) -> Ancillary {
        Ancillary {
            protocol: addr.protocol,
            pkttype: addr.pkttype,
            ifindex: addr.ifindex as u32,
            vlan_tci,
            vlan_tpid: match vlan_tci {
                Some(_) => vlan_tpid.unwrap_or(crate::vlan::TPID_8021Q),
                None => 0,
            },
            len,
            hatype: addr.hatype,
        }
    }

    /// The value of an ancillary load at `SKF_AD_OFF + offset`, with the
    /// registers for `SKF_AD_ALU_XOR_X`; `None` for what user space cannot
    /// know (see [`check_runnable`]).
    fn load(&self, offset: u32, a: u32, x: u32) -> Option<u32> {
        // The kernel ignores the load size here: `ldb [SKF_AD_PROTOCOL]`
        // still gives all 16 bits (`convert_bpf_extensions` looks at k only).
        Some(match offset {
            SKF_AD_PROTOCOL => u32::from(self.protocol),
            SKF_AD_PKTTYPE => u32::from(self.pkttype & PKT_TYPE_MASK),
            SKF_AD_IFINDEX => self.ifindex,
            SKF_AD_HATYPE => u32::from(self.hatype),
            // Packet taps run before tc and netfilter could mark a received
            // frame; a mark can only come from a local sender's SO_MARK.
            SKF_AD_MARK => 0,
            SKF_AD_VLAN_TAG => u32::from(self.vlan_tci.unwrap_or(0)),
            SKF_AD_VLAN_TAG_PRESENT => u32::from(self.vlan_tci.is_some()),
            // Without a tag `skb->vlan_proto` is cleared with the TCI.
            SKF_AD_VLAN_TPID => self.vlan_tci.map_or(0, |_| u32::from(self.vlan_tpid)),
            SKF_AD_ALU_XOR_X => a ^ x,
            _ => return None,
        })
    }
}

/// Ancillary offsets [`run`] answers; the other known ones it cannot.
const RUNNABLE_ANCILLARY: [u32; 9] = [
    SKF_AD_PROTOCOL,
    SKF_AD_PKTTYPE,
    SKF_AD_IFINDEX,
    SKF_AD_MARK,
    SKF_AD_HATYPE,
    SKF_AD_ALU_XOR_X,
    SKF_AD_VLAN_TAG,
    SKF_AD_VLAN_TAG_PRESENT,
    SKF_AD_VLAN_TPID,
];

/// The `SKF_AD_*` name of an ancillary offset.
fn ancillary_name(offset: u32) -> &'static str {
    match offset {
        SKF_AD_PROTOCOL => "SKF_AD_PROTOCOL",
        SKF_AD_PKTTYPE => "SKF_AD_PKTTYPE",
        SKF_AD_IFINDEX => "SKF_AD_IFINDEX",
        SKF_AD_NLATTR => "SKF_AD_NLATTR",
        SKF_AD_NLATTR_NEST => "SKF_AD_NLATTR_NEST",
        SKF_AD_MARK => "SKF_AD_MARK",
        SKF_AD_QUEUE => "SKF_AD_QUEUE",
        SKF_AD_HATYPE => "SKF_AD_HATYPE",
        SKF_AD_RXHASH => "SKF_AD_RXHASH",
        SKF_AD_CPU => "SKF_AD_CPU",
        SKF_AD_ALU_XOR_X => "SKF_AD_ALU_XOR_X",
        SKF_AD_VLAN_TAG => "SKF_AD_VLAN_TAG",
        SKF_AD_VLAN_TAG_PRESENT => "SKF_AD_VLAN_TAG_PRESENT",
        SKF_AD_PAY_OFFSET => "SKF_AD_PAY_OFFSET",
        SKF_AD_RANDOM => "SKF_AD_RANDOM",
        SKF_AD_VLAN_TPID => "SKF_AD_VLAN_TPID",
        _ => "an unknown SKF_AD offset",
    }
}

/// A program that loads an ancillary field only the kernel can answer
/// (found by [`check_runnable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unrunnable {
    /// The load, counted from 0.
    pub index: usize,
    /// Its field, as the offset from `SKF_AD_OFF` (`SKF_AD_CPU`, ...).
    pub ancillary: u32,
}

impl Unrunnable {
    /// The field's `SKF_AD_*` name.
    pub fn name(&self) -> &'static str {
        ancillary_name(self.ancillary)
    }
}

impl fmt::Display for Unrunnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instruction {}: loads {} (SKF_AD_OFF + {}), which only the kernel knows; a filter \
             run in user space can answer SKF_AD_PROTOCOL, PKTTYPE, IFINDEX, HATYPE, MARK, \
             VLAN_TAG, VLAN_TAG_PRESENT, VLAN_TPID and ALU_XOR_X",
            self.index,
            self.name(),
            self.ancillary
        )
    }
}

impl core::error::Error for Unrunnable {}

/// Checks that [`run`] can answer every ancillary load of `program`, so a
/// program that cannot run in user space is refused when it is loaded
/// rather than dropping every packet later.
///
/// Refused: `SKF_AD_NLATTR` and `SKF_AD_NLATTR_NEST` (netlink messages),
/// `SKF_AD_QUEUE`, `SKF_AD_RXHASH` (set by the driver, not in the ring),
/// `SKF_AD_CPU`, `SKF_AD_RANDOM` and `SKF_AD_PAY_OFFSET` (the kernel's flow
/// dissector). Negative packet offsets (`SKF_NET_OFF`, `SKF_LL_OFF`) are
/// packet data and run.
pub fn check_runnable(program: &[Instruction]) -> Result<(), Unrunnable> {
    for (index, insn) in program.iter().enumerate() {
        if is_absolute_load(insn.code) && insn.k >= ANCILLARY_START {
            let ancillary = insn.k - ANCILLARY_START;
            if !RUNNABLE_ANCILLARY.contains(&ancillary) {
                return Err(Unrunnable { index, ancillary });
            }
        }
    }
    Ok(())
}

/// Where `program` looks for an 802.1Q or 802.1ad tag in the frame's
/// bytes: a comparison of the half word at offset 12 with 0x8100 or 0x88a8.
///
/// libpcap compiles `vlan` that way when it has no live Linux socket
/// (`tcpdump -ddd` without `-i`, or with `-y EN10MB`), but on a ring the
/// kernel has already moved the outer tag into the ring header, so such a
/// test does not see it. A program that also reads
/// `SKF_AD_VLAN_TAG_PRESENT` was compiled for a live socket and tests the
/// frame only for tags the kernel left there: `None` for it. The result is
/// the index of the first such comparison.
pub fn tag_test_in_frame(program: &[Instruction]) -> Option<usize> {
    let vlan_present = ANCILLARY_START + SKF_AD_VLAN_TAG_PRESENT;
    if program
        .iter()
        .any(|i| is_absolute_load(i.code) && i.k == vlan_present)
    {
        return None;
    }
    // Whether A holds `ldh [12]` on the way through the program in order;
    // a conditional jump leaves A alone, other jumps and returns end it.
    let mut ethertype_in_a = false;
    for (index, insn) in program.iter().enumerate() {
        let code = insn.code;
        if code == op::LD_H_ABS {
            ethertype_in_a = insn.k == 12;
        } else if code == BPF_JMP | BPF_JEQ | BPF_K {
            if ethertype_in_a && (insn.k == 0x8100 || insn.k == 0x88a8) {
                return Some(index);
            }
        } else if code & 0x07 == BPF_JMP && code & 0xf0 != BPF_JA {
            // Other comparisons keep A.
        } else if code & 0x07 != BPF_ST && code & 0x07 != BPF_STX && code & 0x07 != BPF_LDX {
            ethertype_in_a = false;
        }
    }
    None
}

/// Whole opcodes, for matching.
mod op {
    use super::*;
    pub const LD_W_ABS: u16 = BPF_LD | BPF_W | BPF_ABS;
    pub const LD_H_ABS: u16 = BPF_LD | BPF_H | BPF_ABS;
    pub const LD_B_ABS: u16 = BPF_LD | BPF_B | BPF_ABS;
    pub const LD_W_IND: u16 = BPF_LD | BPF_W | BPF_IND;
    pub const LD_H_IND: u16 = BPF_LD | BPF_H | BPF_IND;
    pub const LD_B_IND: u16 = BPF_LD | BPF_B | BPF_IND;
    pub const LD_W_LEN: u16 = BPF_LD | BPF_W | BPF_LEN;
    pub const LD_IMM: u16 = BPF_LD | BPF_IMM;
    pub const LD_MEM: u16 = BPF_LD | BPF_MEM;
    pub const LDX_W_LEN: u16 = BPF_LDX | BPF_W | BPF_LEN;
    pub const LDX_B_MSH: u16 = BPF_LDX | BPF_B | BPF_MSH;
    pub const LDX_IMM: u16 = BPF_LDX | BPF_IMM;
    pub const LDX_MEM: u16 = BPF_LDX | BPF_MEM;
    pub const ST: u16 = BPF_ST;
    pub const STX: u16 = BPF_STX;
    pub const TAX: u16 = BPF_MISC | BPF_TAX;
    pub const TXA: u16 = BPF_MISC | BPF_TXA;
    pub const RET_K: u16 = BPF_RET | BPF_K;
    pub const RET_A: u16 = BPF_RET | BPF_A;
    pub const JA: u16 = BPF_JMP | BPF_JA;
    pub const NEG: u16 = BPF_ALU | BPF_NEG;
}

/// Where a packet load at `k` (absolute, or `X + k`) starts in the packet,
/// as the kernel's `bpf_skb_load_helper_*` resolve it: `k` is a signed
/// 32-bit offset; below 0 it must fall in the `SKF_NET_OFF` or `SKF_LL_OFF`
/// window.
fn packet_offset(k: u32) -> Option<usize> {
    let k = k as i32;
    if k >= 0 {
        usize::try_from(k).ok()
    } else if k >= SKF_NET_OFF {
        NETWORK_HEADER_OFFSET.checked_add(usize::try_from(k - SKF_NET_OFF).ok()?)
    } else if k >= SKF_LL_OFF {
        usize::try_from(k - SKF_LL_OFF).ok()
    } else {
        None
    }
}

/// A big-endian load of `size` bytes; `None` past the end of the packet.
fn load(packet: &[u8], k: u32, size: usize) -> Option<u32> {
    let start = packet_offset(k)?;
    let bytes = packet.get(start..start.checked_add(size)?)?;
    Some(bytes.iter().fold(0, |v, &b| (v << 8) | u32::from(b)))
}

fn load_size(code: u16) -> usize {
    match code & 0x18 {
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    }
}

/// An ALU operation on `a`; `None` ends the program with 0 (division or
/// modulo by zero, or an operation that does not exist).
fn alu(code: u16, a: u32, src: u32) -> Option<u32> {
    Some(match code & 0xf0 {
        BPF_ADD => a.wrapping_add(src),
        BPF_SUB => a.wrapping_sub(src),
        BPF_MUL => a.wrapping_mul(src),
        BPF_DIV => a.checked_div(src)?,
        BPF_MOD => a.checked_rem(src)?,
        BPF_AND => a & src,
        BPF_OR => a | src,
        BPF_XOR => a ^ src,
        // Shifts by X of 32 or more use the low 5 bits, as the kernel's
        // interpreter (`SHT`: `SRC & 31`) and the x86-64 and arm64 JITs do.
        BPF_LSH => a.wrapping_shl(src),
        BPF_RSH => a.wrapping_shr(src),
        _ => return None,
    })
}

/// Whether a conditional jump is taken; `None` for no such jump.
fn condition(code: u16, a: u32, src: u32) -> Option<bool> {
    Some(match code & 0xf0 {
        BPF_JEQ => a == src,
        BPF_JGT => a > src,
        BPF_JGE => a >= src,
        BPF_JSET => a & src != 0,
        _ => return None,
    })
}

/// Runs a classic BPF program over `packet` and returns what the kernel's
/// socket filter would: the accept length, 0 to drop.
///
/// `packet` holds the bytes as the kernel's filter sees them, from the MAC
/// header with a VLAN tag it stripped left out (that tag is in `anc`); a
/// frame cut short by the ring's snap length makes loads past the cut fail
/// where the kernel's would have succeeded. The semantics are those of
/// `net/core/filter.c` (classic BPF translated by `bpf_convert_filter`):
///
/// * A, X and the scratch memory start at 0 (validated programs never read
///   a word before writing it);
/// * a packet load past the end ends the program with 0
///   (`bpf_skb_load_helper_*` returning `-EFAULT`); offsets are signed:
///   `SKF_NET_OFF + n` reads byte `n` after the Ethernet header
///   ([`NETWORK_HEADER_OFFSET`]), `SKF_LL_OFF + n` byte `n` of the frame,
///   anything lower fails; `BPF_IND` adds X to `k` modulo 2^32;
/// * `BPF_LEN` is `anc.len` (`skb->len`), whatever the bytes at hand;
/// * division or modulo by X = 0 ends the program with 0;
/// * shifts by X use X's low 5 bits; all arithmetic wraps at 32 bits and
///   comparisons are unsigned;
/// * ancillary loads answer from `anc` (see [`Ancillary`]); the ones
///   [`check_runnable`] refuses end the program with 0.
///
/// `program` should have passed [`validate`] and [`check_runnable`]. An
/// invalid one is still run safely: an unknown opcode, a memory word beyond
/// `M[15]`, a constant division by 0 or a jump or fall past the end ends it
/// with 0. Jumps only go forward, so a run takes at most `program.len()`
/// steps.
pub fn run(program: &[Instruction], packet: &[u8], anc: &Ancillary) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; BPF_MEMWORDS as usize];
    let mut pc: usize = 0;
    while let Some(&Instruction { code, jt, jf, k }) = program.get(pc) {
        pc += 1;
        match code {
            op::LD_W_ABS | op::LD_H_ABS | op::LD_B_ABS if k >= ANCILLARY_START => {
                let Some(v) = anc.load(k - ANCILLARY_START, a, x) else {
                    return 0;
                };
                a = v;
            }
            op::LD_W_ABS | op::LD_H_ABS | op::LD_B_ABS => {
                let Some(v) = load(packet, k, load_size(code)) else {
                    return 0;
                };
                a = v;
            }
            op::LD_W_IND | op::LD_H_IND | op::LD_B_IND => {
                let Some(v) = load(packet, x.wrapping_add(k), load_size(code)) else {
                    return 0;
                };
                a = v;
            }
            op::LDX_B_MSH => {
                let Some(v) = load(packet, k, 1) else {
                    return 0;
                };
                x = (v & 0xf) << 2;
            }
            op::LD_W_LEN => a = anc.len,
            op::LDX_W_LEN => x = anc.len,
            op::LD_IMM => a = k,
            op::LDX_IMM => x = k,
            op::LD_MEM | op::LDX_MEM => {
                let Some(&v) = mem.get(k as usize) else {
                    return 0;
                };
                if code == op::LD_MEM {
                    a = v;
                } else {
                    x = v;
                }
            }
            op::ST | op::STX => {
                let Some(word) = mem.get_mut(k as usize) else {
                    return 0;
                };
                *word = if code == op::ST { a } else { x };
            }
            op::TAX => x = a,
            op::TXA => a = x,
            op::RET_K => return k,
            op::RET_A => return a,
            op::NEG => a = a.wrapping_neg(),
            op::JA => {
                let Some(target) = usize::try_from(k).ok().and_then(|k| pc.checked_add(k)) else {
                    return 0;
                };
                pc = target;
            }
            _ if code >> 8 != 0 => return 0,
            _ => {
                let src = if code & BPF_X != 0 { x } else { k };
                match code & 0x07 {
                    BPF_ALU => {
                        let Some(v) = alu(code, a, src) else {
                            return 0;
                        };
                        a = v;
                    }
                    BPF_JMP => {
                        let Some(taken) = condition(code, a, src) else {
                            return 0;
                        };
                        pc += usize::from(if taken { jt } else { jf });
                    }
                    _ => return 0,
                }
            }
        }
    }
    0
}

#[cfg(test)]
mod test {
    use super::super::fixtures;
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    const fn stmt(code: u16, k: u32) -> Instruction {
        Instruction::stmt(code, k)
    }

    const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
        Instruction::jump(code, k, jt, jf)
    }

    const RET_A: Instruction = stmt(BPF_RET | BPF_A, 0);

    fn anc(offset: u32) -> u32 {
        ANCILLARY_START + offset
    }

    fn net(offset: i32) -> u32 {
        (SKF_NET_OFF + offset) as u32
    }

    fn ll(offset: i32) -> u32 {
        (SKF_LL_OFF + offset) as u32
    }

    fn parse(text: &str) -> Vec<Instruction> {
        let mut buf = [stmt(0, 0); 64];
        let program = parse_ddd(text, &mut buf).unwrap().to_vec();
        validate(&program).unwrap();
        check_runnable(&program).unwrap();
        program
    }

    /// An Ethernet frame: broadcast to a fixed source, then `rest`.
    fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(rest);
        f
    }

    /// IPv4 with `ihl` words of header, `proto`, a fragment field, then
    /// `payload`; the total length covers header and payload.
    fn ipv4(ihl: u8, proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
        let header_len = usize::from(ihl) * 4;
        let total = (header_len + payload.len()) as u16;
        let mut h = vec![0x40 | ihl, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 1]);
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.resize(header_len, 1); // options: NOPs
        h.extend_from_slice(payload);
        h
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        h.extend_from_slice(&[0xfd; 32]);
        h.extend_from_slice(payload);
        h
    }

    fn ports(sport: u16, dport: u16) -> Vec<u8> {
        let mut p = sport.to_be_bytes().to_vec();
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 28, 0, 0]);
        p.extend_from_slice(&[0xab; 20]);
        p
    }

    /// What the ring would report for an untagged frame received on an
    /// Ethernet interface 3 as broadcast.
    fn plain(frame: &[u8]) -> Ancillary {
        Ancillary {
            protocol: u16::from_be_bytes([frame[12], frame[13]]),
            pkttype: 1,
            ifindex: 3,
            vlan_tci: None,
            vlan_tpid: 0,
            len: frame.len() as u32,
            hatype: 1,
        }
    }

    fn run_plain(program: &[Instruction], frame: &[u8]) -> u32 {
        run(program, frame, &plain(frame))
    }

    #[test]
    fn test_run_tcpdump_udp_port_53() {
        let program = parse(fixtures::UDP_PORT_53);
        let accept = 262_144;
        let cases = [
            (
                "dport 53",
                eth(0x0800, &ipv4(5, 17, 0, &ports(4000, 53))),
                accept,
            ),
            (
                "sport 53",
                eth(0x0800, &ipv4(5, 17, 0, &ports(53, 4000))),
                accept,
            ),
            ("port 54", eth(0x0800, &ipv4(5, 17, 0, &ports(54, 54))), 0),
            ("TCP 53", eth(0x0800, &ipv4(5, 6, 0, &ports(53, 53))), 0),
            // MSH: options move the UDP header.
            (
                "options",
                eth(0x0800, &ipv4(7, 17, 0, &ports(1, 53))),
                accept,
            ),
            (
                "DF only",
                eth(0x0800, &ipv4(5, 17, 0x4000, &ports(1, 53))),
                accept,
            ),
            (
                "later fragment",
                eth(0x0800, &ipv4(5, 17, 0x0010, &ports(1, 53))),
                0,
            ),
            ("IPv6", eth(0x86dd, &ipv6(17, &ports(1, 53))), accept),
            ("ARP", eth(0x0806, &[0; 28]), 0),
            // Source port 1, destination port past the end: the load fails.
            ("cut", eth(0x0800, &ipv4(5, 17, 0, &[0, 1])), 0),
        ];
        for (name, frame, expected) in cases {
            assert_eq!(run_plain(&program, &frame), expected, "{name}");
        }
    }

    #[test]
    fn test_run_tcpdump_vlan_and_arithmetic() {
        let vlan_tcp = parse(fixtures::VLAN_AND_TCP);
        let tcp = ipv4(5, 6, 0, &ports(1, 2));
        let mut tagged = vec![0, 10, 0x08, 0x00];
        tagged.extend_from_slice(&tcp);
        assert_eq!(run_plain(&vlan_tcp, &eth(0x8100, &tagged)), 262_144);
        assert_eq!(run_plain(&vlan_tcp, &eth(0x88a8, &tagged)), 262_144);
        // The kernel took the tag out: this filter looks at bytes only.
        let stripped = eth(0x0800, &tcp);
        let anc = Ancillary {
            vlan_tci: Some(10),
            vlan_tpid: 0x8100,
            ..plain(&stripped)
        };
        assert_eq!(run(&vlan_tcp, &stripped, &anc), 0);

        // ip[2:2] - ip[0] > 100, with ip[0] = 0x45 = 69.
        let arithmetic = parse(fixtures::IP_ARITHMETIC);
        let big = eth(0x0800, &ipv4(5, 17, 0, &[0; 150])); // 170 - 69
        let small = eth(0x0800, &ipv4(5, 17, 0, &[0; 140])); // 160 - 69
        assert_eq!(run_plain(&arithmetic, &big), 262_144);
        assert_eq!(run_plain(&arithmetic, &small), 0);
        assert_eq!(run_plain(&parse(fixtures::IP), &small), 262_144);
    }

    /// A program computing A, then `RET A`.
    fn value(body: &[Instruction]) -> Vec<Instruction> {
        let mut p = body.to_vec();
        p.push(RET_A);
        p
    }

    #[test]
    fn test_run_alu() {
        use BPF_ALU as ALU;
        let frame = eth(0x88b5, &[0x80, 0x00, 0x00, 0x01, 0x05, 0xff]);
        let imm = |k| stmt(BPF_LD | BPF_IMM, k);
        let ldx = |k| stmt(BPF_LDX | BPF_IMM, k);
        let k_op = |op, k| stmt(ALU | op | BPF_K, k);
        let x_op = |op| stmt(ALU | op | BPF_X, 0);
        let cases: Vec<(&str, Vec<Instruction>, u32)> = vec![
            ("add wraps", value(&[imm(u32::MAX), k_op(BPF_ADD, 2)]), 1),
            ("sub wraps", value(&[imm(1), k_op(BPF_SUB, 2)]), u32::MAX),
            ("mul wraps", value(&[imm(0x8000_0001), k_op(BPF_MUL, 2)]), 2),
            (
                "div unsigned",
                value(&[imm(u32::MAX), k_op(BPF_DIV, 2)]),
                0x7fff_ffff,
            ),
            ("mod", value(&[imm(17), k_op(BPF_MOD, 5)]), 2),
            ("and", value(&[imm(0xf0f0), k_op(BPF_AND, 0xff00)]), 0xf000),
            ("or", value(&[imm(0xf0f0), k_op(BPF_OR, 0x0f00)]), 0xfff0),
            ("xor", value(&[imm(0xf0f0), k_op(BPF_XOR, 0xffff)]), 0x0f0f),
            ("lsh", value(&[imm(1), k_op(BPF_LSH, 31)]), 0x8000_0000),
            (
                "rsh logical",
                value(&[imm(0x8000_0000), k_op(BPF_RSH, 31)]),
                1,
            ),
            ("neg", value(&[imm(1), stmt(ALU | BPF_NEG, 0)]), u32::MAX),
            ("add x", value(&[ldx(5), imm(6), x_op(BPF_ADD)]), 11),
            ("div x", value(&[ldx(4), imm(17), x_op(BPF_DIV)]), 4),
            ("mod x", value(&[ldx(4), imm(17), x_op(BPF_MOD)]), 1),
            // X = 33 shifts by 1, as the kernel's interpreter and JITs do.
            ("lsh x masks", value(&[ldx(33), imm(3), x_op(BPF_LSH)]), 6),
            (
                "rsh x masks",
                value(&[ldx(36), imm(0x100), x_op(BPF_RSH)]),
                0x10,
            ),
            (
                "tax txa",
                value(&[
                    imm(9),
                    stmt(BPF_MISC | BPF_TAX, 0),
                    imm(0),
                    stmt(BPF_MISC | BPF_TXA, 0),
                ]),
                9,
            ),
            (
                "scratch memory",
                value(&[
                    imm(5),
                    stmt(BPF_ST, 15),
                    ldx(7),
                    stmt(BPF_STX, 0),
                    stmt(BPF_LD | BPF_MEM, 0),
                    stmt(BPF_LDX | BPF_MEM, 15),
                    x_op(BPF_MUL),
                ]),
                35,
            ),
            ("ret k", vec![stmt(BPF_RET | BPF_K, 77)], 77),
            (
                "unsigned compare with a high k",
                vec![
                    stmt(BPF_LD | BPF_W | BPF_ABS, 14),
                    jump(BPF_JMP | BPF_JGT | BPF_K, 0x7fff_ffff, 0, 1),
                    stmt(BPF_RET | BPF_K, 1),
                    stmt(BPF_RET | BPF_K, 2),
                ],
                1,
            ),
            (
                "jge x, jset, ja",
                vec![
                    ldx(0x8000_0001),
                    stmt(BPF_LD | BPF_W | BPF_ABS, 14),
                    jump(BPF_JMP | BPF_JGE | BPF_X, 0, 1, 0),
                    stmt(BPF_RET | BPF_K, 10),
                    jump(BPF_JMP | BPF_JSET | BPF_K, 0x4, 2, 0),
                    stmt(BPF_JMP | BPF_JA, 1),
                    stmt(BPF_RET | BPF_K, 11),
                    stmt(BPF_RET | BPF_K, 12),
                ],
                12,
            ),
        ];
        for (name, program, expected) in cases {
            assert_eq!(validate(&program), Ok(()), "{name}");
            assert_eq!(run_plain(&program, &frame), expected, "{name}");
        }
    }

    #[test]
    fn test_run_division_by_zero_drops() {
        let frame = eth(0x88b5, &[0; 46]);
        for op in [BPF_DIV, BPF_MOD] {
            let program = value(&[
                stmt(BPF_LDX | BPF_IMM, 0),
                stmt(BPF_LD | BPF_IMM, 100),
                stmt(BPF_ALU | op | BPF_X, 0),
                stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
            ]);
            assert_eq!(validate(&program), Ok(()));
            assert_eq!(run_plain(&program, &frame), 0, "op {op:#x}");
        }
    }

    #[test]
    fn test_run_packet_loads() {
        // 14 + 6 bytes.
        let frame = eth(0x88b5, &[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
        let ld = |size, k| value(&[stmt(BPF_LD | size | BPF_ABS, k)]);
        let ind =
            |size, x, k| value(&[stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | size | BPF_IND, k)]);
        let cases: Vec<(&str, Vec<Instruction>, u32)> = vec![
            ("word", ld(BPF_W, 14), 0x1234_5678),
            ("half", ld(BPF_H, 12), 0x88b5),
            ("byte", ld(BPF_B, 19), 0xbc),
            ("last word", ld(BPF_W, 16), 0x5678_9abc),
            ("word past the end", ld(BPF_W, 17), 0),
            ("byte past the end", ld(BPF_B, 20), 0),
            ("half at i32::MAX", ld(BPF_H, i32::MAX as u32), 0),
            ("indirect", ind(BPF_H, 10, 5), 0x3456),
            ("indirect past the end", ind(BPF_H, 10, 9), 0),
            // X + k wraps to 14.
            ("indirect wraps", ind(BPF_B, 20, u32::MAX - 5), 0x12),
            ("network header", ld(BPF_H, net(1)), 0x3456),
            ("network header end", ld(BPF_B, net(6)), 0),
            ("link layer", ld(BPF_H, ll(12)), 0x88b5),
            ("link layer end", ld(BPF_W, ll(17)), 0),
            ("below the link layer", ld(BPF_B, ll(-1)), 0),
            ("between 2^31 and SKF_LL_OFF", ld(BPF_B, 0x8000_0000), 0),
            // X + k lands in the network window.
            ("indirect network", ind(BPF_B, 2, net(0)), 0x56),
            (
                "msh",
                vec![
                    stmt(BPF_LD | BPF_IMM, 7),
                    stmt(BPF_LDX | BPF_B | BPF_MSH, 14),
                    stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                    RET_A,
                ],
                7 + 4 * 2,
            ),
            (
                "msh network",
                vec![
                    stmt(BPF_LDX | BPF_B | BPF_MSH, net(4)),
                    stmt(BPF_MISC | BPF_TXA, 0),
                    RET_A,
                ],
                4 * 0xa,
            ),
            (
                "msh past the end",
                vec![
                    stmt(BPF_LDX | BPF_B | BPF_MSH, 20),
                    stmt(BPF_RET | BPF_K, 1),
                ],
                0,
            ),
            // skb->len, not the bytes at hand.
            ("len", value(&[stmt(BPF_LD | BPF_W | BPF_LEN, 0)]), 20),
            (
                "ldx len",
                vec![
                    stmt(BPF_LDX | BPF_W | BPF_LEN, 0),
                    stmt(BPF_MISC | BPF_TXA, 0),
                    RET_A,
                ],
                20,
            ),
        ];
        for (name, program, expected) in cases {
            assert_eq!(validate(&program), Ok(()), "{name}");
            assert_eq!(run_plain(&program, &frame), expected, "{name}");
        }
        let truncated = &frame[..16];
        let len = value(&[stmt(BPF_LD | BPF_W | BPF_LEN, 0)]);
        assert_eq!(run(&len, truncated, &plain(&frame)), 20);
        assert_eq!(run(&ld(BPF_H, 16), truncated, &plain(&frame)), 0);
    }

    #[test]
    fn test_run_ancillary() {
        let frame = eth(0x0800, &ipv4(5, 17, 0, &ports(1, 2)));
        let tagged = Ancillary {
            protocol: 0x0800,
            pkttype: 3,
            ifindex: 7,
            vlan_tci: Some(0xa00a),
            vlan_tpid: 0x88a8,
            len: 1000,
            hatype: 1,
        };
        let untagged = Ancillary {
            vlan_tci: None,
            vlan_tpid: 0x88a8, // stale; the kernel would read 0
            pkttype: 0xfc,     // masked to 3 bits
            ..tagged
        };
        let field = |size, offset| value(&[stmt(BPF_LD | size | BPF_ABS, anc(offset))]);
        let cases = [
            (SKF_AD_PROTOCOL, 0x0800, 0x0800),
            (SKF_AD_PKTTYPE, 3, 4),
            (SKF_AD_IFINDEX, 7, 7),
            (SKF_AD_HATYPE, 1, 1),
            (SKF_AD_MARK, 0, 0),
            (SKF_AD_VLAN_TAG, 0xa00a, 0),
            (SKF_AD_VLAN_TAG_PRESENT, 1, 0),
            (SKF_AD_VLAN_TPID, 0x88a8, 0),
        ];
        for (offset, with_tag, without) in cases {
            let name = ancillary_name(offset);
            // The load size does not matter for ancillary fields.
            for size in [BPF_W, BPF_H, BPF_B] {
                let program = field(size, offset);
                assert_eq!(check_runnable(&program), Ok(()), "{name}");
                assert_eq!(run(&program, &frame, &tagged), with_tag, "{name} {size:#x}");
                assert_eq!(
                    run(&program, &frame, &untagged),
                    without,
                    "{name} {size:#x}"
                );
            }
        }
        let xor = value(&[
            stmt(BPF_LDX | BPF_IMM, 0xff),
            stmt(BPF_LD | BPF_IMM, 0x0f0),
            stmt(BPF_LD | BPF_B | BPF_ABS, anc(SKF_AD_ALU_XOR_X)),
        ]);
        assert_eq!(run(&xor, &frame, &tagged), 0x00f);
    }

    #[test]
    fn test_from_ring() {
        let addr = crate::frame::ll::Repr {
            protocol: 0x86dd,
            ifindex: 4,
            hatype: 1,
            pkttype: 2,
            halen: 6,
            addr: [2, 0, 0, 0, 0, 9, 0, 0],
        };
        let anc = Ancillary::from_ring(60, Some(5), None, &addr);
        assert_eq!(
            anc,
            Ancillary {
                protocol: 0x86dd,
                pkttype: 2,
                ifindex: 4,
                vlan_tci: Some(5),
                vlan_tpid: 0x8100,
                len: 60,
                hatype: 1,
            }
        );
        let anc = Ancillary::from_ring(60, None, Some(0x88a8), &addr);
        assert_eq!((anc.vlan_tci, anc.vlan_tpid), (None, 0));
        let anc = Ancillary::from_ring(60, Some(0), Some(0x88a8), &addr);
        assert_eq!((anc.vlan_tci, anc.vlan_tpid), (Some(0), 0x88a8));
    }

    #[test]
    fn test_tag_test_in_frame() {
        // `tcpdump -ddd -y EN10MB 'vlan and tcp'`: ldh [12], jeq #0x8100.
        assert_eq!(tag_test_in_frame(&parse(fixtures::VLAN_AND_TCP)), Some(1));
        assert_eq!(tag_test_in_frame(&parse(fixtures::UDP_PORT_53)), None);
        assert_eq!(tag_test_in_frame(&parse(fixtures::IP)), None);
        let offline_ad = [
            stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            stmt(BPF_ST, 0),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0x88a8, 0, 1),
            stmt(BPF_RET | BPF_K, 1),
            stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(tag_test_in_frame(&offline_ad), Some(2));
        // 0x8100 compared with something other than the EtherType.
        let elsewhere = [
            stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            stmt(BPF_ALU | BPF_ADD | BPF_K, 0),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0x8100, 0, 1),
            stmt(BPF_LD | BPF_H | BPF_ABS, 16),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0x8100, 0, 1),
            stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(tag_test_in_frame(&elsewhere), None);
        // Compiled for a live socket: the frame is tested only after the
        // ancillary data said no tag was stripped.
        let live = [
            stmt(BPF_LD | BPF_B | BPF_ABS, anc(SKF_AD_VLAN_TAG_PRESENT)),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0),
            stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0x8100, 0, 1),
            stmt(BPF_RET | BPF_K, 1),
            stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(tag_test_in_frame(&live), None);
    }

    #[test]
    fn test_check_runnable() {
        for text in [
            fixtures::UDP_PORT_53,
            fixtures::VLAN_AND_TCP,
            fixtures::IP,
            fixtures::IP_ARITHMETIC,
        ] {
            let mut buf = [stmt(0, 0); 64];
            assert_eq!(check_runnable(parse_ddd(text, &mut buf).unwrap()), Ok(()));
        }
        let refused = [
            SKF_AD_NLATTR,
            SKF_AD_NLATTR_NEST,
            SKF_AD_QUEUE,
            SKF_AD_RXHASH,
            SKF_AD_CPU,
            SKF_AD_PAY_OFFSET,
            SKF_AD_RANDOM,
        ];
        for offset in refused {
            let program = [
                stmt(BPF_LD | BPF_IMM, 0),
                stmt(BPF_LD | BPF_H | BPF_ABS, anc(offset)),
                RET_A,
            ];
            assert_eq!(validate(&program), Ok(()));
            assert_eq!(
                check_runnable(&program),
                Err(Unrunnable {
                    index: 1,
                    ancillary: offset
                })
            );
            // Run anyway, it drops.
            assert_eq!(run_plain(&program, &eth(0x0800, &[0; 46])), 0);
        }
        for offset in KNOWN_ANCILLARY {
            let runnable = !refused.contains(&offset);
            let program = [stmt(BPF_LD | BPF_W | BPF_ABS, anc(offset)), RET_A];
            assert_eq!(check_runnable(&program).is_ok(), runnable, "{offset}");
        }
        // Indirect loads at ancillary-looking k are packet data.
        let ind = [stmt(BPF_LD | BPF_W | BPF_IND, anc(SKF_AD_CPU)), RET_A];
        assert_eq!(check_runnable(&ind), Ok(()));
        assert_eq!(
            Unrunnable {
                index: 4,
                ancillary: SKF_AD_CPU
            }
            .name(),
            "SKF_AD_CPU"
        );
        assert_eq!(
            std::format!(
                "{}",
                Unrunnable {
                    index: 4,
                    ancillary: SKF_AD_RANDOM
                }
            ),
            "instruction 4: loads SKF_AD_RANDOM (SKF_AD_OFF + 56), which only the kernel knows; \
             a filter run in user space can answer SKF_AD_PROTOCOL, PKTTYPE, IFINDEX, HATYPE, \
             MARK, VLAN_TAG, VLAN_TAG_PRESENT, VLAN_TPID and ALU_XOR_X"
        );
    }

    #[test]
    fn test_run_invalid_programs_end_with_zero() {
        let frame = eth(0x0800, &[0; 46]);
        let one = |insn| vec![stmt(BPF_LD | BPF_IMM, 5), insn, RET_A];
        let cases: Vec<(&str, Vec<Instruction>)> = vec![
            ("empty", vec![]),
            ("falls off the end", vec![stmt(BPF_LD | BPF_IMM, 5)]),
            ("unknown opcode", one(stmt(0xff, 0))),
            ("high bits", one(stmt(0x0104, 0))),
            ("return X", one(stmt(BPF_RET | BPF_X, 0))),
            ("M[16]", one(stmt(BPF_LD | BPF_MEM, 16))),
            ("store M[16]", one(stmt(BPF_STX, 16))),
            (
                "division by constant 0",
                one(stmt(BPF_ALU | BPF_DIV | BPF_K, 0)),
            ),
            (
                "modulo by constant 0",
                one(stmt(BPF_ALU | BPF_MOD | BPF_K, 0)),
            ),
            ("jump past the end", one(stmt(BPF_JMP | BPF_JA, 1))),
            ("jump by u32::MAX", one(stmt(BPF_JMP | BPF_JA, u32::MAX))),
            (
                "jt past the end",
                one(jump(BPF_JMP | BPF_JEQ | BPF_K, 5, 9, 0)),
            ),
            ("unknown ALU op", one(stmt(BPF_ALU | 0xb0, 0))),
            ("unknown jump op", one(stmt(BPF_JMP | 0x70, 0))),
            (
                "unknown ancillary",
                one(stmt(BPF_LD | BPF_W | BPF_ABS, anc(64))),
            ),
        ];
        for (name, program) in cases {
            assert_eq!(run_plain(&program, &frame), 0, "{name}");
        }
        // Unvalidated memory reads see the zeroed scratch memory.
        let program = value(&[
            stmt(BPF_LD | BPF_MEM, 3),
            stmt(BPF_ALU | BPF_ADD | BPF_K, 7),
        ]);
        assert_eq!(run_plain(&program, &frame), 7);
    }

    fn any_anc() -> impl Strategy<Value = Ancillary> {
        (
            any::<u16>(),
            any::<u8>(),
            any::<u32>(),
            any::<Option<u16>>(),
            any::<u16>(),
            any::<u32>(),
            any::<u16>(),
        )
            .prop_map(
                |(protocol, pkttype, ifindex, vlan_tci, vlan_tpid, len, hatype)| Ancillary {
                    protocol,
                    pkttype,
                    ifindex,
                    vlan_tci,
                    vlan_tpid,
                    len,
                    hatype,
                },
            )
    }

    fn interesting_k() -> impl Strategy<Value = u32> {
        prop_oneof![
            0u32..80,
            (0i32..80).prop_map(net),
            (0i32..80).prop_map(ll),
            (0u32..64).prop_map(anc),
            any::<u32>(),
        ]
    }

    proptest! {
        // Whitelisted opcodes, small jumps and interesting offsets, valid
        // or not: run must return, never panic.
        #[test]
        fn prop_run_never_panics(
            program in proptest::collection::vec(
                (
                    prop_oneof![
                        4 => proptest::sample::select(super::super::validate::ALLOWED_OPCODES.to_vec()),
                        1 => any::<u16>(),
                    ],
                    0u8..4,
                    0u8..4,
                    interesting_k(),
                )
                    .prop_map(|(code, jt, jf, k)| Instruction { code, jt, jf, k }),
                0..40,
            ),
            packet in proptest::collection::vec(any::<u8>(), 0..100),
            anc in any_anc(),
        ) {
            let _ = run(&program, &packet, &anc);
        }
    }
}
