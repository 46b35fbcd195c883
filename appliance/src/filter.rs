//! Filters, wherever a mode takes one: a pcap-filter expression (trailing
//! words or `-F FILE`) compiled by `ringtap_core::filter`, or a
//! `tcpdump -ddd` program (`--filter FILE`); and `ringtap filter`, which
//! prints a compiled expression as `tcpdump -d`, `-dd` or `-ddd` does.

use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};
use ringtap_core::bpf::{self, Dump, DumpFormat, Instruction};
use ringtap_core::filter::{FilterError, Program};

use crate::log;
use crate::Failure;

/// The longest classic BPF program the kernel takes (`BPF_MAXINSNS`).
pub const MAX_FILTER_LEN: usize = bpf::BPF_MAXINSNS;
/// The largest `-F` expression file read.
const MAX_EXPRESSION_FILE: u64 = 64 << 10;
/// The largest `--filter` program file read: 4096 instructions of
/// `tcpdump -ddd` take about 100 KiB.
const MAX_PROGRAM_FILE: u64 = 256 << 10;

/// A checked program, ready for the kernel or `bpf::run`.
pub type Filter = heapless::Vec<Instruction, MAX_FILTER_LEN>;

const EXAMPLES: &str = "\
Examples:
  ringtap filter 'vlan 10 and tcp port 80'
  ringtap filter -ddd -F web.filter > web.bpf
  diff <(ringtap filter -d udp port 53) <(tcpdump -i eth0 -d udp port 53)

Prints the classic BPF program ringtap runs for a pcap-filter expression, in
tcpdump's formats. The program is the one libpcap makes for a live Linux
interface: VLAN tags come from the ring header. Exit status 2 for an
expression that does not compile.";

/// Options of `ringtap filter`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, allow_negative_numbers = true)]
pub struct FilterArgs {
    /// Print as tcpdump does: -d assembly (the default), -dd a C array, -ddd decimal
    #[arg(short = 'd', action = ArgAction::Count)]
    pub dump: u8,
    /// Read the expression from FILE (`#` starts a comment, as with tcpdump -F)
    #[arg(short = 'F', value_name = "FILE")]
    pub expression_file: Option<PathBuf>,
    /// The pcap-filter expression; its words are joined by spaces
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// `ringtap filter`.
pub fn run(args: &FilterArgs) -> Result<String, Failure> {
    let (text, origin) = expression_text(&args.expression, args.expression_file.as_deref())?
        .unwrap_or_else(|| (String::new(), "the expression".to_owned()));
    let mut program = Program::new();
    let instructions = program
        .compile(&text)
        .map_err(|e| expression_error(&origin, &text, &e))?;
    let format = match args.dump {
        0 | 1 => DumpFormat::Assembly,
        2 => DumpFormat::CArray,
        _ => DumpFormat::Decimal,
    };
    Ok(Dump {
        program: instructions,
        format,
    }
    .to_string())
}

fn read_bounded(option: &str, path: &Path, limit: u64) -> Result<String, Failure> {
    let shown = path.display();
    crate::files::read_text(path, limit).map_err(|e| match e {
        crate::files::InputError::Io(_) => {
            Failure::Usage(format!("{option} {shown}: cannot read the file: {e}"))
        }
        _ => Failure::Usage(format!("{option} {shown}: {e}")),
    })
}

/// The expression of the trailing words or of `-F FILE`, with where it
/// came from; `None` if neither was given.
fn expression_text(
    words: &[String],
    file: Option<&Path>,
) -> Result<Option<(String, String)>, Failure> {
    match file {
        Some(path) if !words.is_empty() => Err(Failure::Usage(format!(
            "-F {} and the expression `{}` both give a filter [rule: one expression per run; \
             tcpdump would ignore the words]; give one of them",
            path.display(),
            words.join(" ")
        ))),
        Some(path) => {
            let mut text = read_bounded("-F", path, MAX_EXPRESSION_FILE)?;
            // tcpdump -F blanks `#` comments to the end of the line; the
            // columns of the rest stay where they were.
            let mut in_comment = false;
            text = text
                .chars()
                .map(|c| {
                    in_comment = match c {
                        '#' => true,
                        '\n' => false,
                        _ => in_comment,
                    };
                    if in_comment {
                        ' '
                    } else {
                        c
                    }
                })
                .collect();
            Ok(Some((text, format!("-F {}", path.display()))))
        }
        None if words.is_empty() => Ok(None),
        None => Ok(Some((words.join(" "), "the expression".to_owned()))),
    }
}

/// A usage error for an expression that does not compile: the message,
/// then the line of the expression with the bad part underlined.
fn expression_error(origin: &str, text: &str, e: &FilterError) -> Failure {
    // Show the expression as one line; every character keeps its column.
    let line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let pad = " ".repeat(e.column - 1);
    let marks = "^".repeat(e.len);
    Failure::Usage(format!("{origin}: {e}\n  {line}\n  {pad}{marks}"))
}

/// Reads, parses and checks a `tcpdump -ddd` program; `user_space`: it
/// will run in `bpf::run`, so it may only use what user space can answer.
/// Warns when it looks for a VLAN tag in the frame's bytes, which the ring
/// never shows.
fn load_ddd(path: &Path, user_space: bool) -> Result<Filter, Failure> {
    let shown = path.display();
    let text = read_bounded("--filter", path, MAX_PROGRAM_FILE)?;
    let mut program = [Instruction::stmt(0, 0); MAX_FILTER_LEN];
    let parsed = bpf::parse_ddd(&text, &mut program)
        .map_err(|e| Failure::Usage(format!("--filter {shown}: not `tcpdump -ddd` output: {e}")))?;
    bpf::validate(parsed).map_err(|e| {
        Failure::Usage(format!(
            "--filter {shown}: the kernel would refuse this program: {e}"
        ))
    })?;
    if user_space {
        bpf::check_runnable(parsed)
            .map_err(|e| Failure::Usage(format!("--filter {shown}: {e}")))?;
    }
    if let Some(index) = bpf::tag_test_in_frame(parsed) {
        log::warn(format_args!(
            "--filter {shown}: instruction {index} looks for an 802.1Q/802.1ad tag in the \
             frame at offset 12, as libpcap compiles `vlan` without a live interface (tcpdump \
             -ddd -y EN10MB, or on another machine); the kernel moves that tag out of the \
             frame into the ring header, so this test never sees it. Give ringtap the \
             expression instead (trailing words or -F FILE; `ringtap filter -ddd EXPRESSION` \
             prints the program), or compile it with `tcpdump -i IF -ddd` on a live Linux \
             interface"
        ));
    }
    fits(parsed, &format!("--filter {shown}"))
}

/// `program` in a [`Filter`]; only a program over `BPF_MAXINSNS`, which
/// `bpf::validate` has refused before, does not fit.
fn fits(program: &[Instruction], origin: &str) -> Result<Filter, Failure> {
    Filter::from_slice(program).map_err(|_| {
        Failure::Usage(format!(
            "{origin}: longer than {MAX_FILTER_LEN} instructions (BPF_MAXINSNS)"
        ))
    })
}

/// The filter of a mode: `--filter FILE` (a `tcpdump -ddd` program), or a
/// pcap-filter expression from the trailing `words` or `-F FILE`; `None`
/// when there is none. `user_space`: the bridge runs it with `bpf::run`.
pub fn select(
    program_file: Option<&Path>,
    expression_file: Option<&Path>,
    words: &[String],
    user_space: bool,
) -> Result<Option<Filter>, Failure> {
    let expression = expression_text(words, expression_file)?;
    match (program_file, expression) {
        (Some(_), Some((_, origin))) => Err(Failure::Usage(format!(
            "--filter and {origin} both give a filter [rule: one filter per run]; give a \
             tcpdump -ddd program with --filter, or an expression"
        ))),
        (Some(path), None) => load_ddd(path, user_space).map(Some),
        (None, Some((text, origin))) => {
            let mut program = Program::new();
            let instructions = program
                .compile(&text)
                .map_err(|e| expression_error(&origin, &text, &e))?;
            fits(instructions, &origin).map(Some)
        }
        (None, None) => Ok(None),
    }
}
