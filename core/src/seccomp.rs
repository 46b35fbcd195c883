//! A seccomp allow-list as a classic BPF program, built with this crate's
//! own [`Instruction`]s (`seccomp(2)`, `SECCOMP_SET_MODE_FILTER`).
//!
//! The program looks at `struct seccomp_data` (`nr` at offset 0, `arch` at
//! 4, `args[6]` from 16): a system call of another architecture, a number
//! at or above an optional limit (the x32 ABI on x86_64 sets bit 30), or a
//! number not in the list ends the process (`SECCOMP_RET_KILL_PROCESS`,
//! which the audit log records with the call's number); a listed call is
//! allowed, and a call listed with the values its first argument may take
//! (the address family of `socket`) is allowed only with one of them.
//!
//! ```text
//!       ld [4]                       ; arch
//!       jeq #ARCH, 0, kill
//!       ld [0]                       ; nr
//!       jge #LIMIT, kill, 0          ; when a limit is given
//!       jeq #nr1, allow, 0           ; each plain call
//!       jeq #nrK, block_k, 0         ; each call with argument values
//! kill: ret #KILL_PROCESS
//! allow:ret #ALLOW
//! block_k: ld [arg0]; jeq #v1, allow ... ; ret #KILL_PROCESS
//! ```
//!
//! The kernel loads `seccomp_data` words in the CPU's byte order; where
//! the low half of a 64-bit argument lies depends on it too
//! ([`Filter::arg0_low`]).

use crate::bpf::{
    validate, BpfError, Instruction, BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET,
    BPF_W,
};

/// `SECCOMP_RET_KILL_PROCESS`.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `offsetof(struct seccomp_data, nr)`.
const NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`.
const ARGS: u32 = 16;

/// A system call allowed only when its first argument is one of `values`
/// (compared as 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArgRule<'a> {
    /// The call's number.
    pub nr: u32,
    /// What its first argument may be.
    pub values: &'a [u32],
}

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Filter<'a> {
    /// `AUDIT_ARCH_*` of the calls to allow.
    pub arch: u32,
    /// Numbers at or above this are refused whatever the list says.
    pub nr_limit: Option<u32>,
    /// Calls allowed with any arguments.
    pub allow: &'a [u32],
    /// Calls allowed with some first arguments.
    pub allow_arg0: &'a [ArgRule<'a>],
    /// Offset of the low 32 bits of `args[0]`: 16 on little-endian CPUs, 20
    /// on big-endian ones.
    pub arg0_low: u32,
}

impl Filter<'_> {
    /// `arg0_low` for the CPU this code runs on.
    pub const ARG0_LOW_NATIVE: u32 = if cfg!(target_endian = "little") {
        ARGS
    } else {
        ARGS + 4
    };
}

/// Why a filter cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SeccompError {
    /// `out` has room for fewer instructions than the program needs.
    TooLong {
        /// Instructions needed.
        needed: usize,
    },
    /// A jump would be longer than the 255 instructions a classic BPF
    /// conditional jump reaches.
    TooFar,
    /// The program failed the kernel's classic BPF checks.
    Invalid(BpfError),
}

impl core::fmt::Display for SeccompError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SeccompError::TooLong { needed } => {
                write!(f, "the seccomp filter needs {needed} instructions")
            }
            SeccompError::TooFar => f.write_str("the seccomp filter's jumps are too long"),
            SeccompError::Invalid(e) => write!(f, "invalid seccomp filter: {e}"),
        }
    }
}

/// The number of instructions [`build`] writes for `filter`.
pub fn program_len(filter: &Filter<'_>) -> usize {
    let blocks: usize = filter.allow_arg0.iter().map(block_len).sum();
    3 + usize::from(filter.nr_limit.is_some())
        + filter.allow.len()
        + filter.allow_arg0.len()
        + 2
        + blocks
}

/// `ld [arg0]`, a `jeq` per value, `ret KILL`, `ret ALLOW`.
fn block_len(rule: &ArgRule<'_>) -> usize {
    rule.values.len() + 3
}

/// A forward jump of `n` instructions past the next one.
fn offset(n: usize) -> Result<u8, SeccompError> {
    u8::try_from(n).map_err(|_| SeccompError::TooFar)
}

/// Write the program for `filter` into `out` and return it, checked with
/// [`validate`].
pub fn build<'o>(
    filter: &Filter<'_>,
    out: &'o mut [Instruction],
) -> Result<&'o [Instruction], SeccompError> {
    let needed = program_len(filter);
    let out = out
        .get_mut(..needed)
        .ok_or(SeccompError::TooLong { needed })?;
    let ld = |k| Instruction::stmt(BPF_LD | BPF_W | BPF_ABS, k);
    let ret = |k| Instruction::stmt(BPF_RET | BPF_K, k);
    let jeq = |k, jt, jf| Instruction::jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
    let head = 3 + usize::from(filter.nr_limit.is_some());
    let kill = head + filter.allow.len() + filter.allow_arg0.len();
    let allow = kill + 1;
    let mut prog = Emitter { out, pc: 0 };
    prog.emit(ld(ARCH));
    // Instruction 1 jumps to `kill` when the architecture differs.
    prog.emit(jeq(filter.arch, 0, offset(kill - 2)?));
    prog.emit(ld(NR));
    if let Some(limit) = filter.nr_limit {
        let jt = offset(kill - prog.pc - 1)?;
        prog.emit(Instruction::jump(BPF_JMP | BPF_JGE | BPF_K, limit, jt, 0));
    }
    for &nr in filter.allow {
        let jt = offset(allow - prog.pc - 1)?;
        prog.emit(jeq(nr, jt, 0));
    }
    let mut block = allow + 1;
    for rule in filter.allow_arg0 {
        let jt = offset(block - prog.pc - 1)?;
        prog.emit(jeq(rule.nr, jt, 0));
        block += block_len(rule);
    }
    prog.emit(ret(RET_KILL_PROCESS));
    prog.emit(ret(RET_ALLOW));
    for rule in filter.allow_arg0 {
        prog.emit(ld(filter.arg0_low));
        let block_allow = prog.pc + rule.values.len() + 1;
        for &value in rule.values {
            let jt = offset(block_allow - prog.pc - 1)?;
            prog.emit(jeq(value, jt, 0));
        }
        prog.emit(ret(RET_KILL_PROCESS));
        prog.emit(ret(RET_ALLOW));
    }
    let out: &[Instruction] = prog.out;
    validate(out).map_err(SeccompError::Invalid)?;
    Ok(out)
}

struct Emitter<'o> {
    out: &'o mut [Instruction],
    pc: usize,
}

impl Emitter<'_> {
    fn emit(&mut self, insn: Instruction) {
        self.out[self.pc] = insn;
        self.pc += 1;
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::bpf::{run, Ancillary};

    const ARCH_X: u32 = 0xc000_003e;
    const SOCKET: u32 = 41;
    const AF_PACKET: u32 = 17;
    const AF_INET: u32 = 2;

    /// `struct seccomp_data` as `bpf::run` reads it: its word loads are in
    /// network order, so the words are written big-endian here (the
    /// kernel's seccomp loads use the CPU's order on the real thing).
    fn data(arch: u32, nr: u32, arg0: u64) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_be_bytes());
        d[4..8].copy_from_slice(&arch.to_be_bytes());
        // args[0] with its low half where a little-endian CPU has it.
        d[16..20].copy_from_slice(&(arg0 as u32).to_be_bytes());
        d[20..24].copy_from_slice(&((arg0 >> 32) as u32).to_be_bytes());
        d
    }

    fn verdict(prog: &[Instruction], arch: u32, nr: u32, arg0: u64) -> u32 {
        run(prog, &data(arch, nr, arg0), &Ancillary::default())
    }

    const RULES: [ArgRule<'static>; 1] = [ArgRule {
        nr: SOCKET,
        values: &[AF_PACKET, AF_INET],
    }];

    fn filter() -> Filter<'static> {
        Filter {
            arch: ARCH_X,
            nr_limit: Some(0x4000_0000),
            allow: &[0, 1, 3, 60, 231],
            allow_arg0: &RULES,
            arg0_low: 16,
        }
    }

    #[test]
    fn test_allows_exactly_the_list() {
        let mut buf = [Instruction::stmt(0, 0); 64];
        let prog = build(&filter(), &mut buf).unwrap();
        assert_eq!(prog.len(), program_len(&filter()));
        for nr in [0, 1, 3, 60, 231] {
            assert_eq!(verdict(prog, ARCH_X, nr, 0), RET_ALLOW, "nr {nr}");
        }
        for nr in [2, 4, 59, 62, 230, 232, 1000] {
            assert_eq!(verdict(prog, ARCH_X, nr, 0), RET_KILL_PROCESS, "nr {nr}");
        }
    }

    #[test]
    fn test_other_architectures_and_x32_are_killed() {
        let mut buf = [Instruction::stmt(0, 0); 64];
        let prog = build(&filter(), &mut buf).unwrap();
        assert_eq!(verdict(prog, 0x4000_0003, 0, 0), RET_KILL_PROCESS);
        assert_eq!(verdict(prog, ARCH_X, 0x4000_0000, 0), RET_KILL_PROCESS);
        assert_eq!(verdict(prog, ARCH_X, 0x4000_0001, 0), RET_KILL_PROCESS);
    }

    #[test]
    fn test_argument_values_are_checked() {
        let mut buf = [Instruction::stmt(0, 0); 64];
        let prog = build(&filter(), &mut buf).unwrap();
        assert_eq!(
            verdict(prog, ARCH_X, SOCKET, u64::from(AF_PACKET)),
            RET_ALLOW
        );
        assert_eq!(verdict(prog, ARCH_X, SOCKET, u64::from(AF_INET)), RET_ALLOW);
        // AF_NETLINK, AF_INET6.
        assert_eq!(verdict(prog, ARCH_X, SOCKET, 16), RET_KILL_PROCESS);
        assert_eq!(verdict(prog, ARCH_X, SOCKET, 10), RET_KILL_PROCESS);
    }

    #[test]
    fn test_too_small_a_buffer_and_too_long_a_list() {
        let mut buf = [Instruction::stmt(0, 0); 8];
        assert_eq!(
            build(&filter(), &mut buf),
            Err(SeccompError::TooLong {
                needed: program_len(&filter())
            })
        );
        let many: [u32; 300] = core::array::from_fn(|i| i as u32);
        let long = Filter {
            allow: &many,
            ..filter()
        };
        let mut buf = [Instruction::stmt(0, 0); 512];
        assert_eq!(build(&long, &mut buf), Err(SeccompError::TooFar));
    }
}
