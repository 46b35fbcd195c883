//! Printing a program the way `tcpdump -d`, `-dd` and `-ddd` print one
//! (libpcap's `bpf_dump` and `bpf_image`), so that two programs can be
//! compared with `diff`.

use core::fmt;

use super::*;

/// One of tcpdump's three ways to print a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DumpFormat {
    /// `-d`: one line per instruction in assembly, `(000) ldh      [12]`.
    Assembly,
    /// `-dd`: a C array initialiser, `{ 0x28, 0, 0, 0x0000000c },`.
    CArray,
    /// `-ddd`: the instruction count, then `code jt jf k` in decimal (what
    /// [`parse_ddd`] reads).
    Decimal,
}

/// A program and the format to print it in; its `Display` writes what
/// tcpdump writes to stdout, every line ended by `\n`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dump<'a> {
    /// The instructions.
    pub program: &'a [Instruction],
    /// How to print them.
    pub format: DumpFormat,
}

/// `bpf_image`'s names for the ancillary offsets (`[vlanp]`, ...), indexed
/// by `offset / 4`.
const ANCILLARY_NAMES: [&str; 16] = [
    "proto",
    "type",
    "ifidx",
    "nla",
    "nlan",
    "mark",
    "queue",
    "hatype",
    "rxhash",
    "cpu",
    "xor_x",
    "vlan_tci",
    "vlanp",
    "poff",
    "random",
    "vlan_tpid",
];

/// How an instruction's operand is printed.
#[derive(Clone, Copy)]
enum Operand {
    Empty,
    /// `#%d`: k as a signed decimal.
    Signed,
    /// `#0x%x`.
    Hex,
    /// `[k]`, or the ancillary field's name.
    Absolute,
    /// `[x + k]`.
    Indirect,
    /// `4*([k]&0xf)`.
    Msh,
    /// `M[k]`.
    Memory,
    /// `x`.
    X,
    /// `#pktlen`.
    PacketLength,
    /// The jump target `index + 1 + k`.
    Target,
}

/// `bpf_image`'s mnemonic and operand style for an opcode; `None` for what
/// it prints as `unimp`.
fn image(code: u16) -> Option<(&'static str, Operand)> {
    use Operand::*;
    let alu = |op: u16| match op {
        BPF_ADD => Some("add"),
        BPF_SUB => Some("sub"),
        BPF_MUL => Some("mul"),
        BPF_DIV => Some("div"),
        BPF_MOD => Some("mod"),
        BPF_AND => Some("and"),
        BPF_OR => Some("or"),
        BPF_XOR => Some("xor"),
        BPF_LSH => Some("lsh"),
        BPF_RSH => Some("rsh"),
        _ => None,
    };
    let jump = |op: u16| match op {
        BPF_JGT => Some("jgt"),
        BPF_JGE => Some("jge"),
        BPF_JEQ => Some("jeq"),
        BPF_JSET => Some("jset"),
        _ => None,
    };
    let size = |code: u16| match code & 0x18 {
        BPF_W => Some("ld"),
        BPF_H => Some("ldh"),
        BPF_B => Some("ldb"),
        _ => None,
    };
    Some(match code {
        c if c == BPF_RET | BPF_K => ("ret", Signed),
        c if c == BPF_RET | BPF_A => ("ret", Empty),
        c if c == BPF_LD | BPF_W | BPF_LEN => ("ld", PacketLength),
        c if c == BPF_LD | BPF_IMM => ("ld", Hex),
        c if c == BPF_LDX | BPF_IMM => ("ldx", Hex),
        c if c == BPF_LDX | BPF_MSH | BPF_B => ("ldxb", Msh),
        c if c == BPF_LD | BPF_MEM => ("ld", Memory),
        c if c == BPF_LDX | BPF_MEM => ("ldx", Memory),
        BPF_ST => ("st", Memory),
        BPF_STX => ("stx", Memory),
        c if c == BPF_JMP | BPF_JA => ("ja", Target),
        c if c == BPF_ALU | BPF_NEG => ("neg", Empty),
        c if c == BPF_MISC | BPF_TAX => ("tax", Empty),
        c if c == BPF_MISC | BPF_TXA => ("txa", Empty),
        c if c & !0x18 == BPF_LD | BPF_ABS => (size(c)?, Absolute),
        c if c & !0x18 == BPF_LD | BPF_IND => (size(c)?, Indirect),
        c if c & 0x0f == BPF_ALU | BPF_X => (alu(c & 0xf0)?, X),
        c if c & 0x0f == BPF_ALU | BPF_K => {
            let op = c & 0xf0;
            let style = if matches!(op, BPF_AND | BPF_OR | BPF_XOR) {
                Hex
            } else {
                Signed
            };
            (alu(op)?, style)
        }
        c if c & 0x0f == BPF_JMP | BPF_X => (jump(c & 0xf0)?, X),
        c if c & 0x0f == BPF_JMP | BPF_K => (jump(c & 0xf0)?, Hex),
        _ => return None,
    })
}

/// A line's operand, formatted before it is padded (`%-16s`).
struct Field {
    bytes: [u8; 32],
    len: usize,
}

impl fmt::Write for Field {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Field {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// `bpf_image`'s operand text for `insn` at `index`.
fn operand(insn: &Instruction, index: usize, style: Operand) -> Result<Field, fmt::Error> {
    use fmt::Write as _;
    let k = insn.k;
    let signed = k as i32;
    let mut field = Field {
        bytes: [0; 32],
        len: 0,
    };
    let anc = k
        .checked_sub(SKF_AD_OFF as u32)
        .filter(|o| o % 4 == 0)
        .and_then(|o| ANCILLARY_NAMES.get(o as usize / 4));
    match (style, anc) {
        (Operand::Empty, _) => Ok(()),
        (Operand::Signed, _) => write!(field, "#{signed}"),
        (Operand::Hex, _) => write!(field, "#{k:#x}"),
        (Operand::Absolute, Some(name)) => write!(field, "[{name}]"),
        (Operand::Absolute, None) => write!(field, "[{signed}]"),
        (Operand::Indirect, _) => write!(field, "[x + {signed}]"),
        (Operand::Msh, _) => write!(field, "4*([{signed}]&0xf)"),
        (Operand::Memory, _) => write!(field, "M[{signed}]"),
        (Operand::X, _) => field.write_str("x"),
        (Operand::PacketLength, _) => field.write_str("#pktlen"),
        (Operand::Target, _) => {
            let target = (index as u32).wrapping_add(1).wrapping_add(k) as i32;
            write!(field, "{target}")
        }
    }?;
    Ok(field)
}

/// One line of `tcpdump -d` (without the line end).
fn assembly(f: &mut fmt::Formatter<'_>, index: usize, insn: &Instruction) -> fmt::Result {
    let Some((op, style)) = image(insn.code) else {
        return write!(f, "({index:03}) {:<8} {:#x}", "unimp", insn.code);
    };
    let text = operand(insn, index, style)?;
    let conditional = insn.code & 0x07 == BPF_JMP && insn.code & 0xf0 != BPF_JA;
    if conditional {
        write!(
            f,
            "({index:03}) {op:<8} {:<16} jt {}\tjf {}",
            text.as_str(),
            index + 1 + usize::from(insn.jt),
            index + 1 + usize::from(insn.jf)
        )
    } else {
        write!(f, "({index:03}) {op:<8} {}", text.as_str())
    }
}

impl fmt::Display for Dump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.format == DumpFormat::Decimal {
            writeln!(f, "{}", self.program.len())?;
        }
        for (index, insn) in self.program.iter().enumerate() {
            let Instruction { code, jt, jf, k } = *insn;
            match self.format {
                DumpFormat::Assembly => assembly(f, index, insn)?,
                DumpFormat::CArray => write!(f, "{{ {code:#x}, {jt}, {jf}, {k:#010x} }},")?,
                DumpFormat::Decimal => write!(f, "{code} {jt} {jf} {k}")?,
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::super::fixtures::*;
    use super::*;
    use std::format;

    fn dump(program: &[Instruction], format: DumpFormat) -> std::string::String {
        format!("{}", Dump { program, format })
    }

    // `tcpdump -y EN10MB -d 'udp port 53'` (tcpdump 4.99.3 / libpcap 1.10.3).
    const UDP_PORT_53_D: &str = "\
(000) ldh      [12]
(001) jeq      #0x86dd          jt 2\tjf 8
(002) ldb      [20]
(003) jeq      #0x11            jt 4\tjf 19
(004) ldh      [54]
(005) jeq      #0x35            jt 18\tjf 6
(006) ldh      [56]
(007) jeq      #0x35            jt 18\tjf 19
(008) jeq      #0x800           jt 9\tjf 19
(009) ldb      [23]
(010) jeq      #0x11            jt 11\tjf 19
(011) ldh      [20]
(012) jset     #0x1fff          jt 19\tjf 13
(013) ldxb     4*([14]&0xf)
(014) ldh      [x + 14]
(015) jeq      #0x35            jt 18\tjf 16
(016) ldh      [x + 16]
(017) jeq      #0x35            jt 18\tjf 19
(018) ret      #262144
(019) ret      #0
";

    // ... and `-dd` of the same.
    const UDP_PORT_53_DD: &str = "\
{ 0x28, 0, 0, 0x0000000c },
{ 0x15, 0, 6, 0x000086dd },
{ 0x30, 0, 0, 0x00000014 },
{ 0x15, 0, 15, 0x00000011 },
{ 0x28, 0, 0, 0x00000036 },
{ 0x15, 12, 0, 0x00000035 },
{ 0x28, 0, 0, 0x00000038 },
{ 0x15, 10, 11, 0x00000035 },
{ 0x15, 0, 10, 0x00000800 },
{ 0x30, 0, 0, 0x00000017 },
{ 0x15, 0, 8, 0x00000011 },
{ 0x28, 0, 0, 0x00000014 },
{ 0x45, 6, 0, 0x00001fff },
{ 0xb1, 0, 0, 0x0000000e },
{ 0x48, 0, 0, 0x0000000e },
{ 0x15, 2, 0, 0x00000035 },
{ 0x48, 0, 0, 0x00000010 },
{ 0x15, 0, 1, 0x00000035 },
{ 0x6, 0, 0, 0x00040000 },
{ 0x6, 0, 0, 0x00000000 },
";

    #[test]
    fn test_dump_like_tcpdump() {
        let program = parse(UDP_PORT_53).unwrap();
        assert_eq!(dump(&program, DumpFormat::Decimal), UDP_PORT_53);
        assert_eq!(dump(&program, DumpFormat::CArray), UDP_PORT_53_DD);
        assert_eq!(dump(&program, DumpFormat::Assembly), UDP_PORT_53_D);
    }

    #[test]
    fn test_assembly_of_every_operand() {
        let cases = [
            (stmt(BPF_RET | BPF_A, 0), "(000) ret      "),
            (stmt(BPF_LD | BPF_W | BPF_LEN, 0), "(000) ld       #pktlen"),
            (stmt(BPF_LD | BPF_IMM, 255), "(000) ld       #0xff"),
            (stmt(BPF_LDX | BPF_IMM, 4), "(000) ldx      #0x4"),
            (stmt(BPF_LD | BPF_MEM, 1), "(000) ld       M[1]"),
            (stmt(BPF_LDX | BPF_MEM, 0), "(000) ldx      M[0]"),
            (stmt(BPF_ST, 0), "(000) st       M[0]"),
            (stmt(BPF_STX, 15), "(000) stx      M[15]"),
            (stmt(BPF_JMP | BPF_JA, 5), "(000) ja       6"),
            (stmt(BPF_ALU | BPF_NEG, 0), "(000) neg      "),
            (stmt(BPF_MISC | BPF_TAX, 0), "(000) tax      "),
            (stmt(BPF_MISC | BPF_TXA, 0), "(000) txa      "),
            (
                stmt(BPF_LD | BPF_B | BPF_ABS, ancillary(SKF_AD_VLAN_TAG_PRESENT)),
                "(000) ldb      [vlanp]",
            ),
            (
                stmt(BPF_LD | BPF_H | BPF_ABS, ancillary(SKF_AD_PKTTYPE)),
                "(000) ldh      [type]",
            ),
            (
                stmt(BPF_LD | BPF_W | BPF_ABS, ancillary(SKF_AD_MAX)),
                "(000) ld       [-4032]",
            ),
            (
                stmt(BPF_LD | BPF_W | BPF_IND, 14),
                "(000) ld       [x + 14]",
            ),
            (stmt(BPF_ALU | BPF_SUB | BPF_K, 1), "(000) sub      #1"),
            (stmt(BPF_ALU | BPF_AND | BPF_K, 0xf), "(000) and      #0xf"),
            (stmt(BPF_ALU | BPF_LSH | BPF_X, 0), "(000) lsh      x"),
            (stmt(BPF_RET | BPF_K, u32::MAX), "(000) ret      #-1"),
            (
                jump(BPF_JMP | BPF_JGT | BPF_X, 0, 1, 2),
                "(000) jgt      x                jt 2\tjf 3",
            ),
            (stmt(0x0e, 0), "(000) unimp    0xe"),
            (stmt(BPF_ALU | 0xb0, 0), "(000) unimp    0xb4"),
        ];
        for (insn, line) in cases {
            assert_eq!(dump(&[insn], DumpFormat::Assembly), format!("{line}\n"));
        }
    }
}
