//! `cargo xtask build --board NAME`: the board's static `ringtap` binary, a
//! stripped copy within the board's size budget and an unstripped one with
//! debug info, checked with `file` and run (under qemu-user for ARM).

use std::path::{Path, PathBuf};

use ringtap_board::{Board, BoardError};

use crate::{deps, target_dir, workspace_root, Cmd, Error, Result};

/// `cargo xtask build --help`, above the options.
pub const ABOUT: &str = "\
Builds `ringtap` in release (with debug info) for the board's target and
writes, under <target dir>/boards/NAME/:
  ringtap        stripped: what goes on the board
  ringtap.debug  unstripped, with debug info: for gdb and backtraces
Then checks that `file` calls the binary statically linked and of the
board's architecture, that the stripped size is within the board's
binary_budget_kib, and runs `--version` (it must name the checkout's HEAD
commit and the board's target), `--help` and `plan --board NAME` (ARM
boards under qemu-user).";

/// The options of `cargo xtask build`: `--board NAME`... or `--all`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// A board, a folder of boards/ (may be repeated)
    #[arg(long, value_name = "NAME", value_parser = board_name_parser())]
    board: Vec<String>,
    /// Every board
    #[arg(long)]
    all: bool,
}

impl Args {
    /// The boards asked for.
    pub fn boards(&self) -> Vec<String> {
        if self.all {
            board_names().map(str::to_string).collect()
        } else {
            self.board.clone()
        }
    }
}

/// `--board NAME`: one of the boards, which `--help` and an error list.
pub fn board_name_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(board_names())
}

/// The profile of board `name` (ringtap-board's built-in copy of
/// `boards/<name>/board.toml`, checked as the appliance checks it); an
/// unknown name is a usage error that lists the boards.
pub fn load_profile(name: &str) -> Result<Board> {
    Board::named(name).map_err(|e| match e {
        BoardError::Unknown { .. } => Error::Usage(e.to_string()),
        _ => Error::Failed(e.to_string()),
    })
}

/// Every board, sorted: the folders of `boards/` with a `board.toml`
/// (ringtap-board's tests keep its built-in list and the folders in step).
pub fn board_names() -> impl Iterator<Item = &'static str> {
    Board::known()
}

/// The board's folder, `boards/<name>`: its profile, README and packaging.
pub fn board_dir(name: &str) -> PathBuf {
    workspace_root().join("boards").join(name)
}

/// The board's largest stripped binary, in bytes.
pub fn binary_budget(board: &Board) -> u64 {
    u64::from(board.binary_budget_kib) * 1024
}

/// How to build, strip, recognise and run a binary for one target.
#[derive(Debug)]
struct TargetTools {
    target: &'static str,
    /// GNU strip that reads this target's ELF files (llvm-strip 14 rejects
    /// the static glibc armv7 binary's `.rel.dyn`).
    strip: &'static str,
    /// How `file` names the architecture.
    file_arch: &'static str,
    /// qemu-user for foreign architectures; `None` runs natively.
    runner: Option<&'static str>,
    /// Extra environment for the build: `.cargo/config.toml` makes the ARM
    /// targets static; the host target needs `+crt-static` here, and a
    /// fixed-address executable rather than the static PIE it would get.
    env: Option<(&'static str, &'static str)>,
}

const TARGETS: [TargetTools; 3] = [
    TargetTools {
        target: "aarch64-unknown-linux-musl",
        strip: "aarch64-linux-gnu-strip",
        file_arch: "ARM aarch64",
        runner: Some("qemu-aarch64-static"),
        env: None,
    },
    TargetTools {
        target: "armv7-unknown-linux-gnueabihf",
        strip: "arm-linux-gnueabihf-strip",
        file_arch: "ARM, EABI5",
        runner: Some("qemu-arm-static"),
        env: None,
    },
    TargetTools {
        target: "x86_64-unknown-linux-gnu",
        strip: "strip",
        file_arch: "x86-64",
        runner: None,
        env: Some((
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "-C target-feature=+crt-static -C relocation-model=static",
        )),
    },
];

fn tools_for(profile: &Board) -> Result<&'static TargetTools> {
    TARGETS
        .iter()
        .find(|t| t.target == profile.target)
        .ok_or_else(|| {
            Error::Failed(format!(
                "board {} targets {}, which `cargo xtask build` has no tools for; it builds {}",
                profile.name,
                profile.target,
                TARGETS.map(|t| t.target).join(", ")
            ))
        })
}

/// What [`build_board`] produced.
#[derive(Debug)]
pub struct Built {
    /// The board's profile.
    pub profile: Board,
    /// The stripped binary.
    pub binary: PathBuf,
    /// The unstripped binary with debug info.
    pub debug: PathBuf,
    /// Size of the stripped binary in bytes.
    pub size: u64,
}

pub fn run(args: &Args) -> Result {
    let mut built = Vec::new();
    for name in &args.boards() {
        built.push(build_board(name)?);
    }
    if built.len() > 1 {
        println!();
        for b in &built {
            println!("{}", size_line(b));
        }
    }
    Ok(())
}

/// Builds and checks one board's binary, as `cargo xtask build --board
/// NAME` does (also for `cargo xtask test` and `dist`); first makes sure
/// the tools are there.
pub fn build_board(name: &str) -> Result<Built> {
    deps::ensure(&deps::FOR_BUILD)?;
    let profile = load_profile(name)?;
    let tools = tools_for(&profile)?;
    println!();
    println!("==> build {} ({})", profile.name, profile.target);

    let mut cargo = Cmd::cargo()
        .args([
            "build",
            "--locked",
            "-p",
            "ringtap",
            "--target",
            tools.target,
        ])
        // A profile of its own: release with full debug info for the
        // unstripped copy, without rebuilding plain release builds.
        .args(["--profile", "board"])
        .args(["--config", "profile.board.inherits=\"release\""])
        .args(["--config", "profile.board.debug=\"full\""]);
    if let Some((key, value)) = tools.env {
        cargo = cargo.env(key, value);
    }
    cargo.run()?;

    let built = target_dir()
        .join(tools.target)
        .join("board")
        .join("ringtap");
    let out_dir = target_dir().join("boards").join(&profile.name);
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", out_dir.display())))?;
    let debug = out_dir.join("ringtap.debug");
    let binary = out_dir.join("ringtap");
    std::fs::copy(&built, &debug).map_err(|e| {
        Error::Failed(format!(
            "cannot copy {} to {}: {e}",
            built.display(),
            debug.display()
        ))
    })?;
    Cmd::new(tools.strip)
        .arg("--strip-all")
        .arg("-o")
        .arg(&binary)
        .arg(&debug)
        .run()?;

    check_file(tools, &binary)?;
    let size = std::fs::metadata(&binary)
        .map_err(|e| Error::Failed(format!("cannot stat {}: {e}", binary.display())))?
        .len();
    let built = Built {
        profile,
        binary,
        debug,
        size,
    };
    println!("{}", size_line(&built));
    if built.size > binary_budget(&built.profile) {
        return Err(Error::Failed(format!(
            "{}: the stripped binary is {} bytes, over the board's budget of {} bytes \
             (binary_budget_kib in boards/{}/board.toml)",
            built.profile.name,
            built.size,
            binary_budget(&built.profile),
            built.profile.name
        )));
    }
    run_checks(tools, &built)?;
    Ok(built)
}

/// `file` must call the binary static, stripped, and of the target's
/// architecture.
fn check_file(tools: &TargetTools, binary: &Path) -> Result {
    let said = Cmd::new("file").arg("-b").arg(binary).output()?;
    let said = said.trim();
    println!("file: {said}");
    let problem = file_problem(tools, said);
    match problem {
        None => Ok(()),
        Some(problem) => {
            let hint = if std::env::var_os("RUSTFLAGS").is_some() {
                " (RUSTFLAGS is set: it replaces the target rustflags of .cargo/config.toml, \
                 which make the ARM binaries static)"
            } else {
                ""
            };
            Err(Error::Failed(format!(
                "{}: {problem}: `file` says \"{said}\"{hint}",
                binary.display()
            )))
        }
    }
}

/// What is wrong with a binary `file` describes as `said`, if anything.
fn file_problem(tools: &TargetTools, said: &str) -> Option<&'static str> {
    if !said.starts_with("ELF ") || !said.contains(tools.file_arch) {
        Some("not an executable of the board's architecture")
    } else if !said.contains(", statically linked") {
        Some("not statically linked")
    } else if !said.ends_with(", stripped") {
        Some("not stripped")
    } else {
        None
    }
}

fn size_line(b: &Built) -> String {
    let shown = |path: &Path| {
        path.strip_prefix(workspace_root())
            .unwrap_or(path)
            .display()
            .to_string()
    };
    format!(
        "{}: {} is {} bytes ({} KiB) of a {} KiB budget ({}%); unstripped: {}",
        b.profile.name,
        shown(&b.binary),
        b.size,
        b.size.div_ceil(1024),
        b.profile.binary_budget_kib,
        (b.size * 100)
            .checked_div(binary_budget(&b.profile))
            .unwrap_or(0),
        shown(&b.debug)
    )
}

/// Runs the stripped binary the way a user first would: `--version`,
/// `--help`, and the plan of its own board.
fn run_checks(tools: &TargetTools, b: &Built) -> Result {
    let ringtap = |args: &[&str]| match tools.runner {
        Some(runner) => Cmd::new(runner).arg(&b.binary).args(args),
        None => Cmd::new(&b.binary).args(args),
    };
    let version = ringtap(&["--version"]).output()?;
    let head = Cmd::new("git")
        .args(["rev-parse", "HEAD"])
        .quiet()
        .output()?;
    let expected = version_text(head.trim(), &b.profile.target, "none");
    if version != expected {
        return Err(Error::Failed(format!(
            "{} --version printed {version:?}, expected {expected:?}",
            b.binary.display()
        )));
    }
    print!("{version}");
    let help = ringtap(&["--help"]).output()?;
    if !help.contains("plan") {
        return Err(Error::Failed(format!(
            "{} --help does not mention the plan mode:\n{help}",
            b.binary.display()
        )));
    }
    let plan = ringtap(&["plan", "--board", &b.profile.name]).output()?;
    let first = format!("board       {}: ", b.profile.name);
    if !plan.starts_with(&first) {
        return Err(Error::Failed(format!(
            "{} plan --board {} printed:\n{plan}",
            b.binary.display(),
            b.profile.name
        )));
    }
    // The last line: the rings' memory against the board's budget.
    if let Some(memory) = plan.lines().last() {
        println!("{memory}");
    }
    Ok(())
}

/// What `ringtap --version` prints for a binary of this workspace's
/// version built from `commit` for `target` with `features`.
pub fn version_text(commit: &str, target: &str, features: &str) -> String {
    format!(
        "ringtap {}\ncommit:   {commit}\ntarget:   {target}\nfeatures: {features}\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boards `cargo xtask build ARGS` builds; a usage error as text.
    fn parse(args: &[&str]) -> Result<Vec<String>, String> {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::try_parse_from(std::iter::once("build").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Ok(cli.args.boards())
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse(&["--board", "rpi4", "--board=beaglebone-black"]).unwrap(),
            ["rpi4", "beaglebone-black"]
        );
        let all: Vec<String> = board_names().map(str::to_string).collect();
        assert_eq!(parse(&["--all"]).unwrap(), all);
        for bad in [
            &[][..],
            &["--board"],
            &["--all", "--board", "rpi4"],
            &["rpi4"],
            &["--board", "rpi5"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let unknown = parse(&["--board", "rpi5"]).unwrap_err();
        assert!(
            unknown.contains("beaglebone-black"),
            "lists the boards: {unknown}"
        );
    }

    #[test]
    fn every_board_has_tools() {
        let names: Vec<&str> = board_names().collect();
        assert!(names.contains(&"rpi4"), "{names:?}");
        for name in names {
            let profile = load_profile(name).unwrap();
            assert!(tools_for(&profile).is_ok(), "{name}");
            assert!(binary_budget(&profile) >= 1024 * 1024, "{name}");
            assert!(board_dir(name).join("board.toml").is_file(), "{name}");
        }
        assert!(matches!(load_profile("rpi5"), Err(Error::Usage(_))));
    }

    #[test]
    fn what_file_must_say() {
        let [aarch64, armv7, x86_64] = &TARGETS;
        let good = "ELF 64-bit LSB executable, ARM aarch64, version 1 (SYSV), statically linked, \
                    stripped";
        assert_eq!(file_problem(aarch64, good), None);
        assert_eq!(
            file_problem(x86_64, good),
            Some("not an executable of the board's architecture")
        );
        let dynamic = "ELF 32-bit LSB executable, ARM, EABI5 version 1 (SYSV), dynamically \
                       linked, interpreter /lib/ld-linux-armhf.so.3, for GNU/Linux 3.2.0, \
                       stripped";
        assert_eq!(file_problem(armv7, dynamic), Some("not statically linked"));
        let pie = "ELF 64-bit LSB pie executable, x86-64, version 1 (SYSV), static-pie linked, \
                   stripped";
        assert_eq!(file_problem(x86_64, pie), Some("not statically linked"));
        let unstripped = "ELF 32-bit LSB executable, ARM, EABI5 version 1 (GNU/Linux), \
                          statically linked, for GNU/Linux 3.2.0, with debug_info, not stripped";
        assert_eq!(file_problem(armv7, unstripped), Some("not stripped"));
    }
}
