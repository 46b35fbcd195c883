//! `bpf_check_classic`: the kernel's checks on a classic BPF program.

use core::fmt;

use super::*;

/// Which way of a jump leaves the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Branch {
    /// `BPF_JA`, by `k`.
    Always,
    /// A conditional jump's `jt`.
    IfTrue,
    /// A conditional jump's `jf`.
    IfFalse,
}

/// Why the kernel would refuse a program. `index` counts instructions from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BpfError {
    /// No instructions.
    Empty,
    /// More than [`BPF_MAXINSNS`] instructions.
    TooLong {
        /// The program's length.
        len: usize,
    },
    /// An opcode outside the kernel's classic BPF whitelist.
    OpcodeNotAllowed {
        /// The instruction.
        index: usize,
        /// Its opcode.
        code: u16,
    },
    /// `BPF_DIV` or `BPF_MOD` by the constant 0.
    DivisionByZero {
        /// The instruction.
        index: usize,
        /// Its opcode, telling division from modulo.
        code: u16,
    },
    /// `BPF_LSH` or `BPF_RSH` by a constant of 32 or more.
    ShiftTooLarge {
        /// The instruction.
        index: usize,
        /// The shift, `k`.
        shift: u32,
    },
    /// A scratch memory word beyond `M[15]`.
    MemoryWordOutOfRange {
        /// The instruction.
        index: usize,
        /// The word, `k`.
        word: u32,
    },
    /// A jump whose target is not an instruction of the program.
    JumpOutOfRange {
        /// The jump.
        index: usize,
        /// Which of its ways.
        branch: Branch,
        /// The distance, counted from the next instruction.
        offset: u32,
        /// The program's length.
        len: usize,
    },
    /// A load from the ancillary range that is no ancillary field the kernel
    /// knows.
    UnknownAncillary {
        /// The instruction.
        index: usize,
        /// Its `k`.
        k: u32,
    },
    /// The last instruction is not `BPF_RET | BPF_K` or `BPF_RET | BPF_A`.
    NoFinalReturn {
        /// The last instruction.
        index: usize,
        /// Its opcode.
        code: u16,
    },
    /// A scratch memory word read where some path has not written it.
    UninitializedMemoryRead {
        /// The load.
        index: usize,
        /// The word, `k`.
        word: u32,
    },
}

impl fmt::Display for BpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BpfError::Empty => write!(
                f,
                "the program is empty: the kernel takes 1 to {BPF_MAXINSNS} instructions \
                 (BPF_MAXINSNS)"
            ),
            BpfError::TooLong { len } => write!(
                f,
                "the program has {len} instructions: the kernel takes at most \
                 {BPF_MAXINSNS} (BPF_MAXINSNS)"
            ),
            BpfError::OpcodeNotAllowed { index, code } => write!(
                f,
                "instruction {index}: opcode {code:#06x} is not one the kernel accepts \
                 in classic BPF (chk_code_allowed)"
            ),
            BpfError::DivisionByZero { index, code } => {
                let op = if (code & 0xf0) == BPF_MOD {
                    "modulo"
                } else {
                    "division"
                };
                write!(
                    f,
                    "instruction {index}: {op} by the constant 0: bpf_check_classic \
                     requires k != 0"
                )
            }
            BpfError::ShiftTooLarge { index, shift } => write!(
                f,
                "instruction {index}: shift by {shift} bits: bpf_check_classic requires \
                 k < 32 for constant shifts"
            ),
            BpfError::MemoryWordOutOfRange { index, word } => write!(
                f,
                "instruction {index}: scratch memory word M[{word}] does not exist: \
                 bpf_check_classic requires k < {BPF_MEMWORDS} (BPF_MEMWORDS)"
            ),
            BpfError::JumpOutOfRange {
                index,
                branch,
                offset,
                len,
            } => {
                let which = match branch {
                    Branch::Always => "jump",
                    Branch::IfTrue => "jump-if-true",
                    Branch::IfFalse => "jump-if-false",
                };
                let target = index as u64 + 1 + u64::from(offset);
                write!(
                    f,
                    "instruction {index}: {which} target {target} is past the end of the \
                     {len}-instruction program (bpf_check_classic)"
                )
            }
            BpfError::UnknownAncillary { index, k } => write!(
                f,
                "instruction {index}: load from k = {k:#010x} (SKF_AD_OFF + {}) is in the \
                 ancillary range but is no ancillary field the kernel knows \
                 (bpf_anc_helper)",
                k.wrapping_sub(ANCILLARY_START)
            ),
            BpfError::NoFinalReturn { index, code } => write!(
                f,
                "instruction {index}, the last, has opcode {code:#06x}: bpf_check_classic \
                 requires the program to end with BPF_RET|BPF_K or BPF_RET|BPF_A"
            ),
            BpfError::UninitializedMemoryRead { index, word } => write!(
                f,
                "instruction {index}: reads scratch memory word M[{word}], which some path \
                 to it has not written (check_load_and_stores)"
            ),
        }
    }
}

impl core::error::Error for BpfError {}

/// `chk_code_allowed`: the opcodes `bpf_check_classic` lets through. The
/// kernel compares whole 16-bit codes, so a stray bit makes an opcode unknown.
pub(super) const ALLOWED_OPCODES: [u16; 49] = [
    BPF_ALU | BPF_ADD | BPF_K,
    BPF_ALU | BPF_ADD | BPF_X,
    BPF_ALU | BPF_SUB | BPF_K,
    BPF_ALU | BPF_SUB | BPF_X,
    BPF_ALU | BPF_MUL | BPF_K,
    BPF_ALU | BPF_MUL | BPF_X,
    BPF_ALU | BPF_DIV | BPF_K,
    BPF_ALU | BPF_DIV | BPF_X,
    BPF_ALU | BPF_MOD | BPF_K,
    BPF_ALU | BPF_MOD | BPF_X,
    BPF_ALU | BPF_AND | BPF_K,
    BPF_ALU | BPF_AND | BPF_X,
    BPF_ALU | BPF_OR | BPF_K,
    BPF_ALU | BPF_OR | BPF_X,
    BPF_ALU | BPF_XOR | BPF_K,
    BPF_ALU | BPF_XOR | BPF_X,
    BPF_ALU | BPF_LSH | BPF_K,
    BPF_ALU | BPF_LSH | BPF_X,
    BPF_ALU | BPF_RSH | BPF_K,
    BPF_ALU | BPF_RSH | BPF_X,
    BPF_ALU | BPF_NEG,
    BPF_LD | BPF_W | BPF_ABS,
    BPF_LD | BPF_H | BPF_ABS,
    BPF_LD | BPF_B | BPF_ABS,
    BPF_LD | BPF_W | BPF_LEN,
    BPF_LD | BPF_W | BPF_IND,
    BPF_LD | BPF_H | BPF_IND,
    BPF_LD | BPF_B | BPF_IND,
    BPF_LD | BPF_IMM,
    BPF_LD | BPF_MEM,
    BPF_LDX | BPF_W | BPF_LEN,
    BPF_LDX | BPF_B | BPF_MSH,
    BPF_LDX | BPF_IMM,
    BPF_LDX | BPF_MEM,
    BPF_ST,
    BPF_STX,
    BPF_MISC | BPF_TAX,
    BPF_MISC | BPF_TXA,
    BPF_RET | BPF_K,
    BPF_RET | BPF_A,
    BPF_JMP | BPF_JA,
    BPF_JMP | BPF_JEQ | BPF_K,
    BPF_JMP | BPF_JEQ | BPF_X,
    BPF_JMP | BPF_JGE | BPF_K,
    BPF_JMP | BPF_JGE | BPF_X,
    BPF_JMP | BPF_JGT | BPF_K,
    BPF_JMP | BPF_JGT | BPF_X,
    BPF_JMP | BPF_JSET | BPF_K,
    BPF_JMP | BPF_JSET | BPF_X,
];

fn is_conditional_jump(code: u16) -> bool {
    [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET]
        .into_iter()
        .any(|op| code == BPF_JMP | op | BPF_K || code == BPF_JMP | op | BPF_X)
}

pub(super) fn is_absolute_load(code: u16) -> bool {
    code == BPF_LD | BPF_W | BPF_ABS
        || code == BPF_LD | BPF_H | BPF_ABS
        || code == BPF_LD | BPF_B | BPF_ABS
}

fn is_memory_access(code: u16) -> bool {
    code == BPF_LD | BPF_MEM || code == BPF_LDX | BPF_MEM || code == BPF_ST || code == BPF_STX
}

/// Whether `index + 1 + offset` falls outside a `len`-instruction program,
/// computed without overflow (the kernel compares `offset >= len - index - 1`).
fn jump_leaves(index: usize, offset: u32, len: usize) -> bool {
    let room = len.saturating_sub(index).saturating_sub(1);
    u64::from(offset) >= room as u64
}

/// The checks `bpf_check_classic` makes on one instruction, in its order.
fn check_instruction(index: usize, insn: &Instruction, len: usize) -> Result<(), BpfError> {
    let code = insn.code;
    if !ALLOWED_OPCODES.contains(&code) {
        return Err(BpfError::OpcodeNotAllowed { index, code });
    }
    if code == BPF_ALU | BPF_DIV | BPF_K || code == BPF_ALU | BPF_MOD | BPF_K {
        if insn.k == 0 {
            return Err(BpfError::DivisionByZero { index, code });
        }
    } else if code == BPF_ALU | BPF_LSH | BPF_K || code == BPF_ALU | BPF_RSH | BPF_K {
        if insn.k >= 32 {
            return Err(BpfError::ShiftTooLarge {
                index,
                shift: insn.k,
            });
        }
    } else if is_memory_access(code) {
        if insn.k >= BPF_MEMWORDS {
            return Err(BpfError::MemoryWordOutOfRange {
                index,
                word: insn.k,
            });
        }
    } else if code == BPF_JMP | BPF_JA {
        if jump_leaves(index, insn.k, len) {
            return Err(BpfError::JumpOutOfRange {
                index,
                branch: Branch::Always,
                offset: insn.k,
                len,
            });
        }
    } else if is_conditional_jump(code) {
        for (branch, offset) in [(Branch::IfTrue, insn.jt), (Branch::IfFalse, insn.jf)] {
            if jump_leaves(index, u32::from(offset), len) {
                return Err(BpfError::JumpOutOfRange {
                    index,
                    branch,
                    offset: u32::from(offset),
                    len,
                });
            }
        }
    } else if is_absolute_load(code)
        && insn.k >= ANCILLARY_START
        && !KNOWN_ANCILLARY.contains(&insn.k.wrapping_sub(ANCILLARY_START))
    {
        return Err(BpfError::UnknownAncillary { index, k: insn.k });
    }
    Ok(())
}

/// The index a jump lands on, if it is inside the program.
fn jump_target(index: usize, offset: u32) -> Option<usize> {
    index
        .checked_add(1)?
        .checked_add(usize::try_from(offset).ok()?)
}

/// `check_load_and_stores`: every `M[k]` read must be written on every path
/// that reaches it. Jumps only go forward, so one pass suffices: `masks[pc]`
/// collects the words valid on every jump into `pc`, and after a jump the
/// running state restarts as "all valid", because what follows a jump is
/// reached only through the masks its targets received.
/// Like the kernel, the pass lets the state after a `RET` flow into the next
/// instruction, so a read there is judged as if the `RET` fell through.
fn check_load_and_stores(prog: &[Instruction]) -> Result<(), BpfError> {
    // One bit per memory word; the 8 KiB stay on the stack because the
    // crate does not allocate.
    let mut masks = [u16::MAX; BPF_MAXINSNS];
    let mut valid: u16 = 0;
    let word_bit = |k: u32| 1u16.checked_shl(k).unwrap_or(0);
    let mark = |masks: &mut [u16; BPF_MAXINSNS], target: Option<usize>, valid: u16| {
        if let Some(mask) = target.and_then(|t| masks.get_mut(t)) {
            *mask &= valid;
        }
    };
    for (index, insn) in prog.iter().enumerate() {
        if let Some(mask) = masks.get(index) {
            valid &= *mask;
        }
        let code = insn.code;
        if code == BPF_ST || code == BPF_STX {
            valid |= word_bit(insn.k);
        } else if code == BPF_LD | BPF_MEM || code == BPF_LDX | BPF_MEM {
            if valid & word_bit(insn.k) == 0 {
                return Err(BpfError::UninitializedMemoryRead {
                    index,
                    word: insn.k,
                });
            }
        } else if code == BPF_JMP | BPF_JA {
            mark(&mut masks, jump_target(index, insn.k), valid);
            valid = u16::MAX;
        } else if is_conditional_jump(code) {
            mark(&mut masks, jump_target(index, u32::from(insn.jt)), valid);
            mark(&mut masks, jump_target(index, u32::from(insn.jf)), valid);
            valid = u16::MAX;
        }
    }
    Ok(())
}

/// Checks `prog` by the rules of the kernel's `bpf_check_classic`, which
/// `SO_ATTACH_FILTER` and `PACKET_FANOUT_DATA` apply before translating the
/// program (the module documentation lists what can still fail after that).
///
/// The errors come in the kernel's order: the length, then each instruction
/// from the first (opcode whitelist, constant division by zero, constant
/// shifts of 32 or more, memory words beyond `M[15]`, jump targets, unknown
/// ancillary loads), then the final `RET`, then the scratch-memory dataflow.
pub fn validate(prog: &[Instruction]) -> Result<(), BpfError> {
    let Some(last) = prog.last() else {
        return Err(BpfError::Empty);
    };
    let len = prog.len();
    if len > BPF_MAXINSNS {
        return Err(BpfError::TooLong { len });
    }
    for (index, insn) in prog.iter().enumerate() {
        check_instruction(index, insn, len)?;
    }
    if last.code != BPF_RET | BPF_K && last.code != BPF_RET | BPF_A {
        return Err(BpfError::NoFinalReturn {
            index: len - 1,
            code: last.code,
        });
    }
    check_load_and_stores(prog)
}

#[cfg(test)]
mod test {
    use super::super::fixtures::*;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;
    use std::{format, vec};

    #[test]
    fn test_validate_accepts() {
        let mut max_len = vec![RET_0; BPF_MAXINSNS];
        max_len[0] = stmt(BPF_JMP | BPF_JA, (BPF_MAXINSNS - 2) as u32);
        let cases: &[(&str, Vec<Instruction>)] = &[
            ("only a return", vec![RET_0]),
            ("return A", vec![RET_A]),
            (
                "division by X",
                vec![stmt(BPF_ALU | BPF_DIV | BPF_X, 0), RET_A],
            ),
            (
                "division by 1",
                vec![stmt(BPF_ALU | BPF_DIV | BPF_K, 1), RET_A],
            ),
            (
                "shift by 31",
                vec![stmt(BPF_ALU | BPF_LSH | BPF_K, 31), RET_A],
            ),
            (
                "shift by X",
                vec![stmt(BPF_ALU | BPF_RSH | BPF_X, 99), RET_A],
            ),
            ("negation", vec![stmt(BPF_ALU | BPF_NEG, 0), RET_A]),
            (
                "M[15]",
                vec![stmt(BPF_ST, 15), stmt(BPF_LDX | BPF_MEM, 15), RET_A],
            ),
            (
                "jump to the last",
                vec![stmt(BPF_JMP | BPF_JA, 1), RET_0, RET_0],
            ),
            (
                "jumps to the last",
                vec![jump(BPF_JMP | BPF_JGT | BPF_X, 0, 1, 0), RET_0, RET_0],
            ),
            ("tax ignores k", vec![stmt(BPF_MISC | BPF_TAX, 3), RET_A]),
            (
                "SKF_NET_OFF data",
                vec![stmt(BPF_LD | BPF_W | BPF_ABS, 0xfff0_0000), RET_A],
            ),
            (
                "indirect load at ancillary k",
                vec![stmt(BPF_LD | BPF_W | BPF_IND, ancillary(64)), RET_A],
            ),
            (
                "store on both ways",
                vec![
                    stmt(BPF_ST, 2),
                    jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
                    stmt(BPF_LD | BPF_MEM, 2),
                    stmt(BPF_LD | BPF_MEM, 2),
                    RET_A,
                ],
            ),
            ("the longest program", max_len),
        ];
        for (name, prog) in cases {
            assert_eq!(validate(prog), Ok(()), "{name}");
        }
    }

    #[test]
    fn test_validate_accepts_every_known_ancillary_field() {
        for size in [BPF_W, BPF_H, BPF_B] {
            for offset in KNOWN_ANCILLARY {
                let prog = [stmt(BPF_LD | size | BPF_ABS, ancillary(offset)), RET_A];
                assert_eq!(validate(&prog), Ok(()), "size {size:#x} offset {offset}");
            }
        }
    }

    // Each rule of bpf_check_classic and check_load_and_stores. Every program
    // here was also refused (EINVAL) by a live kernel (6.18) through
    // SO_ATTACH_FILTER, and the accepted ones above were accepted.
    #[test]
    fn test_validate_rejects() {
        use BpfError::*;
        let cases: Vec<(&str, Vec<Instruction>, BpfError)> = vec![
            ("empty", vec![], Empty),
            (
                "too long",
                vec![RET_0; BPF_MAXINSNS + 1],
                TooLong { len: 4097 },
            ),
            (
                "return X",
                vec![stmt(BPF_RET | BPF_X, 0)],
                OpcodeNotAllowed {
                    index: 0,
                    code: 0x0e,
                },
            ),
            (
                "negation of X",
                vec![stmt(BPF_ALU | BPF_NEG | BPF_X, 0), RET_A],
                OpcodeNotAllowed {
                    index: 0,
                    code: 0x8c,
                },
            ),
            (
                "seccomp's LDX ABS",
                vec![stmt(BPF_LDX | BPF_W | BPF_ABS, 0), RET_A],
                OpcodeNotAllowed {
                    index: 0,
                    code: 0x21,
                },
            ),
            (
                "sized immediate",
                vec![stmt(BPF_LD | BPF_H | BPF_IMM, 0), RET_A],
                OpcodeNotAllowed {
                    index: 0,
                    code: 0x08,
                },
            ),
            (
                "high bits",
                vec![RET_0, stmt(0x0106, 0)],
                OpcodeNotAllowed {
                    index: 1,
                    code: 0x0106,
                },
            ),
            (
                "division by 0",
                vec![stmt(BPF_ALU | BPF_DIV | BPF_K, 0), RET_A],
                DivisionByZero {
                    index: 0,
                    code: 0x34,
                },
            ),
            (
                "modulo by 0",
                vec![stmt(BPF_ALU | BPF_MOD | BPF_K, 0), RET_A],
                DivisionByZero {
                    index: 0,
                    code: 0x94,
                },
            ),
            (
                "left shift by 32",
                vec![stmt(BPF_ALU | BPF_LSH | BPF_K, 32), RET_A],
                ShiftTooLarge {
                    index: 0,
                    shift: 32,
                },
            ),
            (
                "right shift by 40",
                vec![stmt(BPF_ALU | BPF_RSH | BPF_K, 40), RET_A],
                ShiftTooLarge {
                    index: 0,
                    shift: 40,
                },
            ),
            (
                "store M[16]",
                vec![stmt(BPF_ST, 16), RET_A],
                MemoryWordOutOfRange { index: 0, word: 16 },
            ),
            (
                "store X M[16]",
                vec![stmt(BPF_STX, 16), RET_A],
                MemoryWordOutOfRange { index: 0, word: 16 },
            ),
            (
                "load M[16]",
                vec![stmt(BPF_LD | BPF_MEM, 16), RET_A],
                MemoryWordOutOfRange { index: 0, word: 16 },
            ),
            (
                "load X M[u32::MAX]",
                vec![stmt(BPF_LDX | BPF_MEM, u32::MAX), RET_A],
                MemoryWordOutOfRange {
                    index: 0,
                    word: u32::MAX,
                },
            ),
            (
                "jump past the end",
                vec![stmt(BPF_JMP | BPF_JA, 1), RET_0],
                JumpOutOfRange {
                    index: 0,
                    branch: Branch::Always,
                    offset: 1,
                    len: 2,
                },
            ),
            (
                "jump as last instruction",
                vec![RET_0, stmt(BPF_JMP | BPF_JA, 0)],
                JumpOutOfRange {
                    index: 1,
                    branch: Branch::Always,
                    offset: 0,
                    len: 2,
                },
            ),
            (
                "jump by u32::MAX",
                vec![stmt(BPF_JMP | BPF_JA, u32::MAX), RET_0],
                JumpOutOfRange {
                    index: 0,
                    branch: Branch::Always,
                    offset: u32::MAX,
                    len: 2,
                },
            ),
            (
                "jt past the end",
                vec![jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), RET_0],
                JumpOutOfRange {
                    index: 0,
                    branch: Branch::IfTrue,
                    offset: 1,
                    len: 2,
                },
            ),
            (
                "jf past the end",
                vec![jump(BPF_JMP | BPF_JSET | BPF_X, 0, 0, 255), RET_0],
                JumpOutOfRange {
                    index: 0,
                    branch: Branch::IfFalse,
                    offset: 255,
                    len: 2,
                },
            ),
            (
                "ancillary 64",
                vec![stmt(BPF_LD | BPF_W | BPF_ABS, ancillary(64)), RET_A],
                UnknownAncillary {
                    index: 0,
                    k: 0xffff_f040,
                },
            ),
            (
                "ancillary between fields",
                vec![stmt(BPF_LD | BPF_B | BPF_ABS, ancillary(2)), RET_A],
                UnknownAncillary {
                    index: 0,
                    k: 0xffff_f002,
                },
            ),
            (
                "ancillary at the top",
                vec![stmt(BPF_LD | BPF_H | BPF_ABS, u32::MAX), RET_A],
                UnknownAncillary {
                    index: 0,
                    k: u32::MAX,
                },
            ),
            (
                "no final return",
                vec![RET_0, stmt(BPF_LD | BPF_IMM, 0)],
                NoFinalReturn { index: 1, code: 0 },
            ),
            (
                "read before write",
                vec![stmt(BPF_LD | BPF_MEM, 0), RET_A],
                UninitializedMemoryRead { index: 0, word: 0 },
            ),
            (
                "written on one way only",
                vec![
                    jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
                    stmt(BPF_ST, 0),
                    stmt(BPF_LDX | BPF_MEM, 0),
                    RET_A,
                ],
                UninitializedMemoryRead { index: 2, word: 0 },
            ),
            (
                "written after the jump source",
                vec![
                    stmt(BPF_JMP | BPF_JA, 1),
                    stmt(BPF_STX, 7),
                    stmt(BPF_LD | BPF_MEM, 7),
                    RET_A,
                ],
                UninitializedMemoryRead { index: 2, word: 7 },
            ),
            // Unreachable, yet refused: the kernel lets the state before the
            // RET at 2 (M[5] unwritten on the jump from 0) flow into 3.
            (
                "read after a return",
                vec![
                    jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
                    stmt(BPF_ST, 5),
                    RET_0,
                    stmt(BPF_LD | BPF_MEM, 5),
                    RET_A,
                ],
                UninitializedMemoryRead { index: 3, word: 5 },
            ),
        ];
        for (name, prog, error) in cases {
            assert_eq!(validate(&prog), Err(error), "{name}");
        }
    }

    #[test]
    fn test_validate_reports_in_kernel_order() {
        // The per-instruction checks run before the final-RET check, and the
        // dataflow check only after both.
        let prog = [
            stmt(BPF_LD | BPF_MEM, 0),
            stmt(BPF_ALU | BPF_DIV | BPF_K, 0),
        ];
        assert_eq!(
            validate(&prog),
            Err(BpfError::DivisionByZero {
                index: 1,
                code: 0x34
            })
        );
        let prog = [stmt(BPF_LD | BPF_MEM, 0), stmt(BPF_LD | BPF_IMM, 0)];
        assert_eq!(
            validate(&prog),
            Err(BpfError::NoFinalReturn { index: 1, code: 0 })
        );
    }

    #[test]
    fn test_bpf_error_display() {
        let cases = [
            (
                BpfError::JumpOutOfRange {
                    index: 3,
                    branch: Branch::IfTrue,
                    offset: 8,
                    len: 10,
                },
                "instruction 3: jump-if-true target 12 is past the end of the \
                 10-instruction program (bpf_check_classic)",
            ),
            (
                BpfError::JumpOutOfRange {
                    index: 1,
                    branch: Branch::Always,
                    offset: u32::MAX,
                    len: 2,
                },
                "instruction 1: jump target 4294967297 is past the end of the \
                 2-instruction program (bpf_check_classic)",
            ),
            (
                BpfError::DivisionByZero {
                    index: 0,
                    code: 0x94,
                },
                "instruction 0: modulo by the constant 0: bpf_check_classic requires k != 0",
            ),
            (
                BpfError::UnknownAncillary {
                    index: 2,
                    k: 0xffff_f040,
                },
                "instruction 2: load from k = 0xfffff040 (SKF_AD_OFF + 64) is in the \
                 ancillary range but is no ancillary field the kernel knows (bpf_anc_helper)",
            ),
            (
                BpfError::OpcodeNotAllowed {
                    index: 0,
                    code: 0x0e,
                },
                "instruction 0: opcode 0x000e is not one the kernel accepts in classic BPF \
                 (chk_code_allowed)",
            ),
            (
                BpfError::TooLong { len: 5000 },
                "the program has 5000 instructions: the kernel takes at most 4096 (BPF_MAXINSNS)",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(format!("{error}"), text);
        }
    }

    proptest! {
        // Mostly whitelisted opcodes with small operands, so that deep checks run.
        #[test]
        fn prop_validate_never_panics(
            prog in proptest::collection::vec(
                (0u16..0xb2, any::<u8>(), any::<u8>(), prop_oneof![0u32..20, any::<u32>()])
                    .prop_map(|(code, jt, jf, k)| Instruction { code, jt, jf, k }),
                0..40,
            )
        ) {
            let _ = validate(&prog);
        }
    }
}
