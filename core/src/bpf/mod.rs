//! Classic BPF (cBPF) socket filters, checked by the kernel's rules before
//! `SO_ATTACH_FILTER` or `PACKET_FANOUT_DATA` sees them.
//!
//! A program is a slice of [`Instruction`]s (`struct sock_filter`,
//! `include/uapi/linux/filter.h`). [`validate`] accepts exactly what
//! `bpf_check_classic` in `net/core/filter.c` accepts: its opcode whitelist
//! (`chk_code_allowed`), the per-instruction checks, the final `RET`, and the
//! scratch-memory dataflow of `check_load_and_stores`. [`parse_ddd`] reads the
//! output of `tcpdump -ddd`, the usual way to get such a program.
//!
//! What the kernel checks later and this module does not: the socket's
//! `optmem_max` budget and `SO_LOCK_FILTER` (kernel state), and the jump
//! distances after translation to eBPF. `bpf_convert_filter` refuses a jump
//! that spans more than 32767 eBPF instructions; since one packet load
//! becomes about ten, and how many depends on the architecture, a `BPF_JA`
//! over a few thousand loads passes [`validate`] yet fails with `EINVAL`.
//!
//! [`run`] executes a program in user space with the kernel's semantics
//! (`net/core/filter.c`), for filters the appliance applies itself, after
//! [`check_runnable`] has made sure it needs nothing only the kernel knows.
//!
//! One file per job: `validate` (the kernel's checks), `ddd` (reading
//! `tcpdump -ddd`), `run` (the interpreter and its ancillary data) and
//! `dump` ([`Dump`]: printing a program as `tcpdump -d`, `-dd` or `-ddd`
//! does, so that programs from both can be compared with `diff`).

mod ddd;
mod dump;
mod run;
mod validate;

pub use ddd::{parse_ddd, Field, ParseError};
pub use dump::{Dump, DumpFormat};
pub use run::{
    check_runnable, run, tag_test_in_frame, Ancillary, Unrunnable, NETWORK_HEADER_OFFSET,
    SKF_LL_OFF, SKF_NET_OFF,
};
pub use validate::{validate, BpfError, Branch};

/// Instruction class: load into the accumulator A.
pub const BPF_LD: u16 = 0x00;
/// Instruction class: load into the index register X.
pub const BPF_LDX: u16 = 0x01;
/// Instruction class: store A into scratch memory.
pub const BPF_ST: u16 = 0x02;
/// Instruction class: store X into scratch memory.
pub const BPF_STX: u16 = 0x03;
/// Instruction class: arithmetic on A.
pub const BPF_ALU: u16 = 0x04;
/// Instruction class: jumps.
pub const BPF_JMP: u16 = 0x05;
/// Instruction class: return, ending the program.
pub const BPF_RET: u16 = 0x06;
/// Instruction class: register transfers between A and X.
pub const BPF_MISC: u16 = 0x07;

/// Load size: 32-bit word.
pub const BPF_W: u16 = 0x00;
/// Load size: 16-bit half word.
pub const BPF_H: u16 = 0x08;
/// Load size: byte.
pub const BPF_B: u16 = 0x10;

/// Load mode: the constant `k`.
pub const BPF_IMM: u16 = 0x00;
/// Load mode: packet data at offset `k` (or an ancillary field, see
/// [`SKF_AD_OFF`]).
pub const BPF_ABS: u16 = 0x20;
/// Load mode: packet data at offset `X + k`.
pub const BPF_IND: u16 = 0x40;
/// Load mode: scratch memory word `M[k]`.
pub const BPF_MEM: u16 = 0x60;
/// Load mode: the packet length.
pub const BPF_LEN: u16 = 0x80;
/// Load mode: `4 * (packet[k] & 0xf)`, the IPv4 header length (`LDX` only).
pub const BPF_MSH: u16 = 0xa0;

/// ALU operation: `A += src`.
pub const BPF_ADD: u16 = 0x00;
/// ALU operation: `A -= src`.
pub const BPF_SUB: u16 = 0x10;
/// ALU operation: `A *= src`.
pub const BPF_MUL: u16 = 0x20;
/// ALU operation: `A /= src`.
pub const BPF_DIV: u16 = 0x30;
/// ALU operation: `A |= src`.
pub const BPF_OR: u16 = 0x40;
/// ALU operation: `A &= src`.
pub const BPF_AND: u16 = 0x50;
/// ALU operation: `A <<= src`.
pub const BPF_LSH: u16 = 0x60;
/// ALU operation: `A >>= src`.
pub const BPF_RSH: u16 = 0x70;
/// ALU operation: `A = -A`.
pub const BPF_NEG: u16 = 0x80;
/// ALU operation: `A %= src`.
pub const BPF_MOD: u16 = 0x90;
/// ALU operation: `A ^= src`.
pub const BPF_XOR: u16 = 0xa0;

/// Jump: always, by `k` instructions.
pub const BPF_JA: u16 = 0x00;
/// Jump: if `A == src`.
pub const BPF_JEQ: u16 = 0x10;
/// Jump: if `A > src`.
pub const BPF_JGT: u16 = 0x20;
/// Jump: if `A >= src`.
pub const BPF_JGE: u16 = 0x30;
/// Jump: if `A & src != 0`.
pub const BPF_JSET: u16 = 0x40;

/// Source operand: the constant `k`.
pub const BPF_K: u16 = 0x00;
/// Source operand: the register X.
pub const BPF_X: u16 = 0x08;
/// Return value: the accumulator A.
pub const BPF_A: u16 = 0x10;

/// `BPF_MISC` operation: `X = A`.
pub const BPF_TAX: u16 = 0x00;
/// `BPF_MISC` operation: `A = X`.
pub const BPF_TXA: u16 = 0x80;

/// The most instructions a program may have.
pub const BPF_MAXINSNS: usize = 4096;
/// Words of scratch memory, `M[0]` to `M[15]`.
pub const BPF_MEMWORDS: u32 = 16;

/// Start of the ancillary range: a `BPF_LD | BPF_ABS` load with
/// `k >= SKF_AD_OFF as u32` reads a field the kernel keeps beside the packet,
/// at `SKF_AD_OFF + SKF_AD_*`. (The lower negative offsets `SKF_NET_OFF` and
/// `SKF_LL_OFF` are packet data, not ancillary.)
pub const SKF_AD_OFF: i32 = -0x1000;
/// Ancillary field: `skb->protocol`.
pub const SKF_AD_PROTOCOL: u32 = 0;
/// Ancillary field: packet type (`PACKET_HOST`, ...).
pub const SKF_AD_PKTTYPE: u32 = 4;
/// Ancillary field: interface index.
pub const SKF_AD_IFINDEX: u32 = 8;
/// Ancillary field: netlink attribute search.
pub const SKF_AD_NLATTR: u32 = 12;
/// Ancillary field: nested netlink attribute search.
pub const SKF_AD_NLATTR_NEST: u32 = 16;
/// Ancillary field: `skb->mark`.
pub const SKF_AD_MARK: u32 = 20;
/// Ancillary field: queue mapping.
pub const SKF_AD_QUEUE: u32 = 24;
/// Ancillary field: interface hardware type (`ARPHRD_*`).
pub const SKF_AD_HATYPE: u32 = 28;
/// Ancillary field: flow hash.
pub const SKF_AD_RXHASH: u32 = 32;
/// Ancillary field: current CPU.
pub const SKF_AD_CPU: u32 = 36;
/// Ancillary operation: `A ^= X`.
pub const SKF_AD_ALU_XOR_X: u32 = 40;
/// Ancillary field: VLAN TCI of a tag the driver stripped.
pub const SKF_AD_VLAN_TAG: u32 = 44;
/// Ancillary field: whether a stripped VLAN tag is present.
pub const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;
/// Ancillary field: transport payload offset.
pub const SKF_AD_PAY_OFFSET: u32 = 52;
/// Ancillary field: a random number.
pub const SKF_AD_RANDOM: u32 = 56;
/// Ancillary field: TPID of a stripped VLAN tag.
pub const SKF_AD_VLAN_TPID: u32 = 60;
/// One past the last ancillary offset the kernel knows.
pub const SKF_AD_MAX: u32 = 64;

/// Ancillary offsets `bpf_anc_helper` (`include/linux/filter.h`) knows; the
/// rest of the range is rejected. The offsets happen to be `0, 4, .., 60`,
/// but the kernel lists them one by one, and so does this table.
const KNOWN_ANCILLARY: [u32; 16] = [
    SKF_AD_PROTOCOL,
    SKF_AD_PKTTYPE,
    SKF_AD_IFINDEX,
    SKF_AD_NLATTR,
    SKF_AD_NLATTR_NEST,
    SKF_AD_MARK,
    SKF_AD_QUEUE,
    SKF_AD_HATYPE,
    SKF_AD_RXHASH,
    SKF_AD_CPU,
    SKF_AD_ALU_XOR_X,
    SKF_AD_VLAN_TAG,
    SKF_AD_VLAN_TAG_PRESENT,
    SKF_AD_PAY_OFFSET,
    SKF_AD_RANDOM,
    SKF_AD_VLAN_TPID,
];

const ANCILLARY_START: u32 = SKF_AD_OFF as u32;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instruction {
    /// Class, size/operation, mode/source bits (`BPF_*`).
    pub code: u16,
    /// Conditional jumps: instructions to skip when the condition holds.
    pub jt: u8,
    /// Conditional jumps: instructions to skip when it does not.
    pub jf: u8,
    /// The constant operand: offset, value, memory word or jump distance.
    pub k: u32,
}

// The kernel copies the program byte for byte.
const _: () = assert!(core::mem::size_of::<Instruction>() == 8);

impl Instruction {
    /// A non-jump instruction, like the kernel's `BPF_STMT(code, k)`.
    pub const fn stmt(code: u16, k: u32) -> Instruction {
        Instruction {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A jump, like the kernel's `BPF_JUMP(code, k, jt, jf)`.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
        Instruction { code, jt, jf, k }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Programs printed by `tcpdump -ddd -y EN10MB '<filter>'` (tcpdump
    //! 4.99.3 / libpcap 1.10.3), shared by the tests of the submodules.

    use super::*;
    use std::vec::Vec;

    pub(crate) const UDP_PORT_53: &str = "20
40 0 0 12
21 0 6 34525
48 0 0 20
21 0 15 17
40 0 0 54
21 12 0 53
40 0 0 56
21 10 11 53
21 0 10 2048
48 0 0 23
21 0 8 17
40 0 0 20
69 6 0 8191
177 0 0 14
72 0 0 14
21 2 0 53
72 0 0 16
21 0 1 53
6 0 0 262144
6 0 0 0
";

    pub(crate) const VLAN_AND_TCP: &str = "16
40 0 0 12
21 2 0 33024
21 1 0 34984
21 0 11 37120
40 0 0 16
21 0 2 2048
48 0 0 27
21 6 7 6
21 0 6 34525
48 0 0 24
21 3 0 6
21 0 3 44
48 0 0 58
21 0 1 6
6 0 0 262144
6 0 0 0
";

    pub(crate) const IP: &str = "4
40 0 0 12
21 0 1 2048
6 0 0 262144
6 0 0 0
";

    // 'ip[2:2] - ip[0] > 100': libpcap spills to M[1], so this exercises the
    // scratch-memory dataflow on real output.
    pub(crate) const IP_ARITHMETIC: &str = "11
40 0 0 12
21 0 8 2048
40 0 0 16
2 0 0 1
48 0 0 14
7 0 0 3
96 0 0 1
28 0 0 0
37 0 1 100
6 0 0 262144
6 0 0 0
";

    pub(crate) const fn stmt(code: u16, k: u32) -> Instruction {
        Instruction::stmt(code, k)
    }

    pub(crate) const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
        Instruction::jump(code, k, jt, jf)
    }

    pub(crate) const RET_0: Instruction = stmt(BPF_RET | BPF_K, 0);
    pub(crate) const RET_A: Instruction = stmt(BPF_RET | BPF_A, 0);

    pub(crate) fn ancillary(offset: u32) -> u32 {
        ANCILLARY_START + offset
    }

    pub(crate) fn parse(text: &str) -> Result<Vec<Instruction>, ParseError> {
        let mut buf = [RET_0; BPF_MAXINSNS];
        parse_ddd(text, &mut buf).map(|prog| prog.to_vec())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_instruction_layout() {
        assert_eq!(core::mem::size_of::<Instruction>(), 8);
        assert_eq!(core::mem::offset_of!(Instruction, code), 0);
        assert_eq!(core::mem::offset_of!(Instruction, jt), 2);
        assert_eq!(core::mem::offset_of!(Instruction, jf), 3);
        assert_eq!(core::mem::offset_of!(Instruction, k), 4);
    }

    #[test]
    fn test_opcode_constants() {
        assert_eq!(BPF_LD | BPF_H | BPF_ABS, 40);
        assert_eq!(BPF_JMP | BPF_JEQ | BPF_K, 21);
        assert_eq!(BPF_LDX | BPF_B | BPF_MSH, 177);
        assert_eq!(BPF_LD | BPF_IND | BPF_H, 72);
        assert_eq!(BPF_JMP | BPF_JSET | BPF_K, 69);
        assert_eq!(BPF_RET | BPF_K, 6);
        assert_eq!(BPF_RET | BPF_A, 0x16);
        assert_eq!(BPF_MISC | BPF_TXA, 0x87);
        assert_eq!(ANCILLARY_START, 0xffff_f000);
    }
}
