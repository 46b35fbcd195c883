//! `tcpdump -ddd` output: an instruction count, then `code jt jf k` lines.

use core::fmt;

use super::*;

/// A field of `tcpdump -ddd` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// The instruction count on the first line.
    Count,
    /// An instruction's `code`.
    Code,
    /// An instruction's `jt`.
    Jt,
    /// An instruction's `jf`.
    Jf,
    /// An instruction's `k`.
    K,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Count => "instruction count",
            Field::Code => "code",
            Field::Jt => "jt",
            Field::Jf => "jf",
            Field::K => "k",
        }
    }

    fn range(self) -> (u64, u64) {
        match self {
            Field::Count => (1, BPF_MAXINSNS as u64),
            Field::Code => (0, u64::from(u16::MAX)),
            Field::Jt | Field::Jf => (0, u64::from(u8::MAX)),
            Field::K => (0, u64::from(u32::MAX)),
        }
    }
}

/// Why a text is not `tcpdump -ddd` output. `line` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// The text is blank: no instruction count.
    MissingCount,
    /// A field is not a plain decimal number.
    NotANumber {
        /// Where.
        line: usize,
        /// Which field.
        field: Field,
    },
    /// A number does not fit its field.
    NumberOutOfRange {
        /// Where.
        line: usize,
        /// Which field.
        field: Field,
        /// The number, or `None` when it exceeds even `u64`.
        value: Option<u64>,
    },
    /// More instructions announced than the buffer holds.
    CountExceedsBuffer {
        /// The count's line.
        line: usize,
        /// The announced count.
        count: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// A line with the wrong number of fields.
    WrongFieldCount {
        /// Where.
        line: usize,
        /// Fields expected: 1 for the count, 4 for an instruction.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// The text ends before all announced instructions.
    TooFewLines {
        /// The line where the next instruction was due.
        line: usize,
        /// The announced count.
        announced: usize,
        /// Instructions read.
        found: usize,
    },
    /// A non-blank line after the announced instructions.
    TooManyLines {
        /// The first extra line.
        line: usize,
        /// The announced count.
        announced: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParseError::MissingCount => f.write_str(
                "the text is blank: tcpdump -ddd output starts with the instruction count",
            ),
            ParseError::NotANumber { line, field } => write!(
                f,
                "line {line}: the {} is not a decimal number",
                field.name()
            ),
            ParseError::NumberOutOfRange { line, field, value } => {
                let (min, max) = field.range();
                match value {
                    Some(value) => write!(
                        f,
                        "line {line}: {} {value} is outside {min}..={max}",
                        field.name()
                    ),
                    None => write!(
                        f,
                        "line {line}: the {} does not even fit 64 bits; at most {max} is allowed",
                        field.name()
                    ),
                }
            }
            ParseError::CountExceedsBuffer {
                line,
                count,
                capacity,
            } => write!(
                f,
                "line {line}: {count} instructions announced, but the buffer holds {capacity}"
            ),
            ParseError::WrongFieldCount {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line}: {found} fields where {expected} are expected \
                 (an instruction is `code jt jf k`)"
            ),
            ParseError::TooFewLines {
                line,
                announced,
                found,
            } => write!(
                f,
                "line {line}: the text ends after {found} of the {announced} announced \
                 instructions"
            ),
            ParseError::TooManyLines { line, announced } => write!(
                f,
                "line {line}: more lines than the {announced} announced instructions"
            ),
        }
    }
}

impl core::error::Error for ParseError {}

/// Splits `text` into exactly `N` whitespace-separated fields.
fn split_fields<const N: usize>(line: usize, text: &str) -> Result<[&str; N], ParseError> {
    let mut fields = [""; N];
    let mut found = 0;
    for field in text.split_ascii_whitespace() {
        if let Some(slot) = fields.get_mut(found) {
            *slot = field;
        }
        found += 1;
    }
    if found == N {
        Ok(fields)
    } else {
        Err(ParseError::WrongFieldCount {
            line,
            expected: N,
            found,
        })
    }
}

/// A decimal number within `field`'s range. Only digits: `tcpdump -ddd`
/// writes no sign, prefix or separator, so anything else is not its output.
fn parse_number(line: usize, field: Field, text: &str) -> Result<u64, ParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::NotANumber { line, field });
    }
    let value = text.bytes().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    });
    let (min, max) = field.range();
    match value {
        Some(value) if (min..=max).contains(&value) => Ok(value),
        value => Err(ParseError::NumberOutOfRange { line, field, value }),
    }
}

fn parse_instruction(line: usize, text: &str) -> Result<Instruction, ParseError> {
    let [code, jt, jf, k] = split_fields::<4>(line, text)?;
    // The casts cannot truncate: parse_number checked each field's range.
    Ok(Instruction {
        code: parse_number(line, Field::Code, code)? as u16,
        jt: parse_number(line, Field::Jt, jt)? as u8,
        jf: parse_number(line, Field::Jf, jf)? as u8,
        k: parse_number(line, Field::K, k)? as u32,
    })
}

/// Reads the output of `tcpdump -ddd` into `out` and returns the filled
/// part; call [`validate`] on it before handing it to the kernel.
///
/// The first line holds the instruction count N (1 to [`BPF_MAXINSNS`]), each
/// of the next N lines `code jt jf k` in decimal. Blank lines before and
/// after, whitespace around lines and fields, and `\r\n` line ends are
/// tolerated; a blank line among the instructions is not.
pub fn parse_ddd<'a>(
    text: &str,
    out: &'a mut [Instruction],
) -> Result<&'a [Instruction], ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()));
    let (count_line, count_text) = lines
        .by_ref()
        .find(|(_, line)| !line.is_empty())
        .ok_or(ParseError::MissingCount)?;
    let [count_field] = split_fields::<1>(count_line, count_text)?;
    let count = parse_number(count_line, Field::Count, count_field)? as usize;
    let capacity = out.len();
    let program = out.get_mut(..count).ok_or(ParseError::CountExceedsBuffer {
        line: count_line,
        count,
        capacity,
    })?;

    let mut last_line = count_line;
    for (found, slot) in program.iter_mut().enumerate() {
        let too_few = ParseError::TooFewLines {
            line: last_line + 1,
            announced: count,
            found,
        };
        let (line, text) = lines.next().ok_or(too_few)?;
        if text.is_empty() && lines.clone().all(|(_, rest)| rest.is_empty()) {
            return Err(too_few);
        }
        *slot = parse_instruction(line, text)?;
        last_line = line;
    }
    if let Some((line, _)) = lines.find(|(_, line)| !line.is_empty()) {
        return Err(ParseError::TooManyLines {
            line,
            announced: count,
        });
    }
    Ok(program)
}

#[cfg(test)]
mod test {
    use super::super::fixtures::*;
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;
    use std::format;
    use std::string::String;

    #[test]
    fn test_parse_tcpdump_output() {
        let fixtures = [
            (UDP_PORT_53, 20),
            (VLAN_AND_TCP, 16),
            (IP, 4),
            (IP_ARITHMETIC, 11),
        ];
        for (text, len) in fixtures {
            let prog = parse(text).unwrap();
            assert_eq!(prog.len(), len);
            assert_eq!(validate(&prog), Ok(()), "{text}");
        }
    }

    #[test]
    fn test_parse_golden_values() {
        let prog = parse(IP).unwrap();
        assert_eq!(
            prog,
            [
                stmt(BPF_LD | BPF_H | BPF_ABS, 12),
                jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 1),
                stmt(BPF_RET | BPF_K, 262144),
                RET_0,
            ]
        );
        let prog = parse(UDP_PORT_53).unwrap();
        assert_eq!(prog[13], stmt(BPF_LDX | BPF_B | BPF_MSH, 14));
        assert_eq!(prog[12], jump(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0));
    }

    #[test]
    fn test_parse_tolerates_whitespace() {
        let text = "\n\n  4 \r\n40 0 0 12\r\n\t21  0 1\t2048 \n6 0 0 262144\n6 0 0 0\n\n  \n";
        assert_eq!(parse(text), parse(IP));
        assert_eq!(parse(IP.trim_end()), parse(IP));
    }

    #[test]
    fn test_parse_rejects() {
        use ParseError::*;
        let cases: &[(&str, ParseError)] = &[
            ("", MissingCount),
            (" \n\n", MissingCount),
            (
                "0\n",
                NumberOutOfRange {
                    line: 1,
                    field: Field::Count,
                    value: Some(0),
                },
            ),
            (
                "4097\n",
                NumberOutOfRange {
                    line: 1,
                    field: Field::Count,
                    value: Some(4097),
                },
            ),
            (
                "x\n",
                NotANumber {
                    line: 1,
                    field: Field::Count,
                },
            ),
            (
                "1 2\n6 0 0 0\n",
                WrongFieldCount {
                    line: 1,
                    expected: 1,
                    found: 2,
                },
            ),
            (
                "\n2\n6 0 0\n",
                WrongFieldCount {
                    line: 3,
                    expected: 4,
                    found: 3,
                },
            ),
            (
                "2\n6 0 0 0 0\n",
                WrongFieldCount {
                    line: 2,
                    expected: 4,
                    found: 5,
                },
            ),
            (
                "3\n6 0 0 0\n\n6 0 0 0\n",
                WrongFieldCount {
                    line: 3,
                    expected: 4,
                    found: 0,
                },
            ),
            (
                "1\n0x6 0 0 0\n",
                NotANumber {
                    line: 2,
                    field: Field::Code,
                },
            ),
            (
                "1\n6 -1 0 0\n",
                NotANumber {
                    line: 2,
                    field: Field::Jt,
                },
            ),
            (
                "1\n6 0 +1 0\n",
                NotANumber {
                    line: 2,
                    field: Field::Jf,
                },
            ),
            (
                "1\n6 0 0 1e3\n",
                NotANumber {
                    line: 2,
                    field: Field::K,
                },
            ),
            (
                "1\n65536 0 0 0\n",
                NumberOutOfRange {
                    line: 2,
                    field: Field::Code,
                    value: Some(65536),
                },
            ),
            (
                "1\n6 256 0 0\n",
                NumberOutOfRange {
                    line: 2,
                    field: Field::Jt,
                    value: Some(256),
                },
            ),
            (
                "1\n6 0 256 0\n",
                NumberOutOfRange {
                    line: 2,
                    field: Field::Jf,
                    value: Some(256),
                },
            ),
            (
                "1\n6 0 0 4294967296\n",
                NumberOutOfRange {
                    line: 2,
                    field: Field::K,
                    value: Some(4294967296),
                },
            ),
            (
                "1\n6 0 0 99999999999999999999\n",
                NumberOutOfRange {
                    line: 2,
                    field: Field::K,
                    value: None,
                },
            ),
            (
                "3\n6 0 0 0\n6 0 0 0\n",
                TooFewLines {
                    line: 4,
                    announced: 3,
                    found: 2,
                },
            ),
            (
                "3\n6 0 0 0\n\n\n",
                TooFewLines {
                    line: 3,
                    announced: 3,
                    found: 1,
                },
            ),
            (
                "1\n6 0 0 0\n\n6 0 0 0\n",
                TooManyLines {
                    line: 4,
                    announced: 1,
                },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse(text), Err(*error), "{text:?}");
        }
    }

    #[test]
    fn test_parse_rejects_count_beyond_buffer() {
        let mut buf = [RET_0; 3];
        assert_eq!(
            parse_ddd(IP, &mut buf),
            Err(ParseError::CountExceedsBuffer {
                line: 1,
                count: 4,
                capacity: 3
            })
        );
        let mut buf = [RET_0; 4];
        assert_eq!(parse_ddd(IP, &mut buf).map(<[_]>::len), Ok(4));
    }

    #[test]
    fn test_parse_error_display() {
        let cases = [
            (
                ParseError::NumberOutOfRange {
                    line: 1,
                    field: Field::Count,
                    value: Some(0),
                },
                "line 1: instruction count 0 is outside 1..=4096",
            ),
            (
                ParseError::NumberOutOfRange {
                    line: 5,
                    field: Field::Jt,
                    value: Some(256),
                },
                "line 5: jt 256 is outside 0..=255",
            ),
            (
                ParseError::NumberOutOfRange {
                    line: 5,
                    field: Field::K,
                    value: None,
                },
                "line 5: the k does not even fit 64 bits; at most 4294967295 is allowed",
            ),
            (
                ParseError::WrongFieldCount {
                    line: 3,
                    expected: 4,
                    found: 3,
                },
                "line 3: 3 fields where 4 are expected (an instruction is `code jt jf k`)",
            ),
            (
                ParseError::TooFewLines {
                    line: 4,
                    announced: 3,
                    found: 2,
                },
                "line 4: the text ends after 2 of the 3 announced instructions",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(format!("{error}"), text);
        }
    }

    fn render(prog: &[Instruction]) -> String {
        let mut text = format!("{}\n", prog.len());
        for insn in prog {
            writeln!(text, "{} {} {} {}", insn.code, insn.jt, insn.jf, insn.k).unwrap();
        }
        text
    }

    fn any_instruction() -> impl Strategy<Value = Instruction> {
        (any::<u16>(), any::<u8>(), any::<u8>(), any::<u32>())
            .prop_map(|(code, jt, jf, k)| Instruction { code, jt, jf, k })
    }

    proptest! {
        #[test]
        fn prop_parse_roundtrip(prog in proptest::collection::vec(any_instruction(), 1..64)) {
            prop_assert_eq!(parse(&render(&prog)), Ok(prog));
        }
    }
}
