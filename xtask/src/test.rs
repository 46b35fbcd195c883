//! `cargo xtask test`: everything the README promises, in order, stopping at
//! the first failure.

use crate::{
    build, buildroot, can_unshare_as_user, deps, is_root, target_dir, vm, Cmd, Error, Result,
};

/// `cargo xtask test --help`, above the options.
pub const ABOUT: &str = "\
Runs every step, in this order, stopping at the first failure (`--only`
picks steps, keeping this order):
  deps    check for (as root: install) rustup components, targets and toolchains,
          Debian packages and crates.io tools; prove the ARM toolchains by running
          a static program under qemu-user (`cargo xtask deps --help`)
  fmt     cargo fmt --all -- --check
  clippy  cargo clippy, whole workspace, and ringtap-core and ringtap with `defmt`, -D warnings
  msrv    cargo check with the declared minimum Rust (rust-version in Cargo.toml):
          the whole workspace for the host, the shipped crates for the ARM targets
  unit    cargo test --workspace --exclude ringtap-tests (unit + doc tests)
  check-package
          Buildroot's check-package -b on every file of the Buildroot external
          tree (from ../shared/tools/buildroot; skipped when that is absent)
  netns   cargo test -p ringtap-tests in network namespaces (root or user namespaces)
  arm     cargo test -p ringtap-core on aarch64 musl and armv7 gnueabihf under qemu-user
  boards  cargo xtask build for every tier 2 board: static, stripped, within its size
          budget, `--version`, `--help` and `plan` under qemu-user
  buildroot
          the Buildroot package as `make ringtap` builds it: the pinned commit's
          archive with its crates vendored, built offline for aarch64 musl with
          Buildroot's cargo settings, static, within budget, `--version`
  vm      cargo xtask vm for every tier 1 board: boots it under qemu-system, runs
          ringtap bridge, ringtap capture and the init script on it (root; the
          first run downloads the boards' Debian kernels)";

/// The options of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not run the deps step
    #[arg(long)]
    skip_deps: bool,
    /// Let the deps step remove packages that conflict with needed ones (it
    /// refuses otherwise, naming them)
    #[arg(long)]
    allow_remove: bool,
    /// Run only STEP (may be repeated)
    #[arg(long, value_name = "STEP")]
    only: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Step {
    Deps,
    Fmt,
    Clippy,
    Msrv,
    Unit,
    CheckPackage,
    Netns,
    Arm,
    Boards,
    Buildroot,
    Vm,
}

const ALL_STEPS: [Step; 11] = [
    Step::Deps,
    Step::Fmt,
    Step::Clippy,
    Step::Msrv,
    Step::Unit,
    Step::CheckPackage,
    Step::Netns,
    Step::Arm,
    Step::Boards,
    Step::Buildroot,
    Step::Vm,
];

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Deps => "deps",
            Step::Fmt => "fmt",
            Step::Clippy => "clippy",
            Step::Msrv => "msrv",
            Step::Unit => "unit",
            Step::CheckPackage => "check-package",
            Step::Netns => "netns",
            Step::Arm => "arm",
            Step::Boards => "boards",
            Step::Buildroot => "buildroot",
            Step::Vm => "vm",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Step::Deps => "tools this machine needs",
            Step::Fmt => "formatting",
            Step::Clippy => "lints, warnings are errors",
            Step::Msrv => "the declared minimum Rust version builds everything",
            Step::Unit => "host unit and doc tests",
            Step::CheckPackage => "Buildroot's linter on the Buildroot external tree",
            Step::Netns => "integration tests in network namespaces",
            Step::Arm => "ringtap-core tests on ARM under qemu-user",
            Step::Boards => "release binaries of the tier 2 boards",
            Step::Buildroot => "the Buildroot package built offline from its vendored source",
            Step::Vm => "the tier 1 boards under qemu-system",
        }
    }

    /// What to do about a failure, when there is more to say than the error.
    fn hint(self) -> Option<&'static str> {
        match self {
            Step::Fmt => Some("run `cargo fmt --all` to fix the formatting"),
            Step::Deps => Some("`cargo xtask deps` repeats this check on its own"),
            _ => None,
        }
    }
}

/// How a step ended, when it did not fail.
pub enum Outcome {
    Passed,
    /// It could not run here, for this reason.
    Skipped(String),
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Plan {
    steps: Vec<Step>,
    allow_remove: bool,
}

pub fn run(args: &Args) -> Result {
    let Plan {
        steps,
        allow_remove,
    } = plan(args)?;
    let deps_options = deps::Options { allow_remove };
    let (mut passed, mut skipped) = (0, 0);
    for (index, &step) in steps.iter().enumerate() {
        println!();
        println!(
            "==> {} ({}/{}): {}",
            step.name(),
            index + 1,
            steps.len(),
            step.about()
        );
        match run_step(step, deps_options) {
            Ok(Outcome::Passed) => passed += 1,
            Ok(Outcome::Skipped(reason)) => {
                println!("SKIPPED {}: {reason}", step.name());
                skipped += 1;
            }
            Err(err) => {
                eprintln!("error: step `{}` failed: {err}", step.name());
                if let Some(hint) = step.hint() {
                    eprintln!("hint: {hint}");
                }
                let not_run: Vec<&str> = steps[index + 1..].iter().map(|s| s.name()).collect();
                if !not_run.is_empty() {
                    eprintln!("not run: {}", not_run.join(", "));
                }
                println!("{}", summary(passed, 1, skipped));
                return Err(Error::Reported);
            }
        }
    }
    println!();
    println!("{}", summary(passed, 0, skipped));
    Ok(())
}

fn summary(passed: usize, failed: usize, skipped: usize) -> String {
    let mut line = format!("steps: {passed} passed, {failed} failed");
    if skipped > 0 {
        line.push_str(&format!(", {skipped} skipped"));
    }
    line
}

/// The steps to run, in their order, and the options.
fn plan(args: &Args) -> Result<Plan> {
    let steps: Vec<Step> = ALL_STEPS
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.contains(s))
        .filter(|s| !(args.skip_deps && *s == Step::Deps))
        .collect();
    if steps.is_empty() {
        return Err(Error::Usage(format!(
            "no steps left to run; steps are: {}",
            step_names()
        )));
    }
    Ok(Plan {
        steps,
        allow_remove: args.allow_remove,
    })
}

fn step_names() -> String {
    ALL_STEPS.map(Step::name).join(", ")
}

fn run_step(step: Step, deps_options: deps::Options) -> Result<Outcome> {
    match step {
        Step::Deps => deps::ensure_with(&deps::FOR_TEST, deps_options)?,
        Step::Fmt => Cmd::cargo().args(["fmt", "--all", "--", "--check"]).run()?,
        Step::Clippy => {
            Cmd::cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .run()?;
            // The defmt feature: the core's derives and the binary's logger.
            Cmd::cargo()
                .args(["clippy", "-p", "ringtap-core", "-p", "ringtap"])
                .args([
                    "--all-targets",
                    "--features",
                    "defmt",
                    "--",
                    "-D",
                    "warnings",
                ])
                .run()?;
        }
        Step::Msrv => return minimum_rust(),
        Step::Unit => Cmd::cargo()
            .args(["test", "--workspace", "--exclude", "ringtap-tests"])
            .run()?,
        Step::CheckPackage => return buildroot::check_package(),
        Step::Netns => return namespace_tests(),
        Step::Boards => return tier_two_boards(),
        Step::Buildroot => return buildroot::vendored_build(),
        Step::Vm => return board_simulation(),
        Step::Arm => {
            for target in [
                "aarch64-unknown-linux-musl",
                "armv7-unknown-linux-gnueabihf",
            ] {
                Cmd::cargo()
                    .args(["test", "-p", "ringtap-core", "--target", target])
                    .env("PROPTEST_CASES", "64")
                    .run()?;
            }
        }
    }
    Ok(Outcome::Passed)
}

/// The declared minimum Rust builds what it claims to: every crate and
/// target of the workspace on the host, and the crates a board runs for
/// the ARM targets. In a target directory of its own, so the main one keeps
/// its current-toolchain build.
fn minimum_rust() -> Result<Outcome> {
    let msrv = deps::msrv()?;
    let target_dir = target_dir().join("msrv");
    let check = |args: &[&str]| {
        Cmd::new("rustup")
            .args(["run", &msrv, "cargo", "check", "--locked", "--quiet"])
            .arg("--target-dir")
            .arg(&target_dir)
            .args(args)
            // The toolchain running xtask must not leak into the old one.
            .env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove("RUSTUP_TOOLCHAIN")
            .run()
    };
    check(&["--workspace", "--all-targets"])?;
    for target in [
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
    ] {
        check(&[
            "-p",
            "ringtap-core",
            "-p",
            "ringtap-linux",
            "-p",
            "ringtap-board",
            "-p",
            "ringtap",
            "--target",
            target,
        ])?;
    }
    println!("msrv: Rust {msrv} checks the workspace and the ARM builds");
    Ok(Outcome::Passed)
}

/// The integration tests make their own network namespaces, which takes
/// CAP_NET_ADMIN: as root they run directly; otherwise as root of a user
/// namespace, when this machine allows that.
fn namespace_tests() -> Result<Outcome> {
    // The bridge tests run the release binary, as a board would.
    Cmd::cargo()
        .args(["build", "--release", "-p", "ringtap"])
        .run()?;
    let bin = target_dir().join("release").join("ringtap");
    let bin = bin.to_string_lossy().into_owned();
    let tests = || {
        Cmd::cargo()
            .args(["test", "-p", "ringtap-tests"])
            .env("RINGTAP_REQUIRE_NETNS", "1")
            .env("RINGTAP_BIN", &bin)
    };
    if is_root() {
        tests().run()?;
        return Ok(Outcome::Passed);
    }
    if let Err(why) = can_unshare_as_user() {
        return Ok(Outcome::Skipped(format!(
            "not root and no user namespaces ({why}); run as root, or allow \
             unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
        )));
    }
    // Build as ourselves, so the run inside the namespace only runs.
    tests().arg("--no-run").run()?;
    tests()
        .wrapped_in(&["unshare", "--user", "--map-root-user"])
        .run()?;
    Ok(Outcome::Passed)
}

/// Every tier 2 board's binary, built and checked as `cargo xtask build`
/// does.
fn tier_two_boards() -> Result<Outcome> {
    let mut built = Vec::new();
    for name in build::board_names() {
        if build::load_profile(name)?.tier == 2 {
            built.push(build::build_board(name)?);
        }
    }
    if built.is_empty() {
        return Ok(Outcome::Skipped(
            "no board in boards/ is tier 2".to_string(),
        ));
    }
    println!();
    for b in &built {
        println!(
            "{}: {} bytes of a {} KiB budget",
            b.profile.name, b.size, b.profile.binary_budget_kib
        );
    }
    Ok(Outcome::Passed)
}

/// Every tier 1 board through the board simulation.
fn board_simulation() -> Result<Outcome> {
    if let Some(why) = vm::cannot_run() {
        return Ok(Outcome::Skipped(format!(
            "{why}; run `cargo xtask test --only vm` as root"
        )));
    }
    let names = vm::emulated_names()?;
    if names.is_empty() {
        return Ok(Outcome::Skipped(
            "no board in boards/ is tier 1".to_string(),
        ));
    }
    let mut reports = Vec::new();
    for name in &names {
        reports.push(vm::run_board(name, &vm::Options::default())?);
    }
    println!();
    for report in &reports {
        print!("{}", report.summary());
    }
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan for `cargo xtask test ARGS`; a usage error as text.
    fn parse(args: &[&str]) -> Result<Plan, String> {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        plan(&cli.args).map_err(|e| e.to_string())
    }

    fn steps(args: &[&str]) -> Vec<Step> {
        parse(args).unwrap().steps
    }

    #[test]
    fn allow_remove_is_passed_to_deps() {
        let plan = parse(&["--allow-remove", "--only=deps"]).unwrap();
        assert_eq!(
            plan,
            Plan {
                steps: vec![Step::Deps],
                allow_remove: true
            }
        );
        assert!(!parse(&[]).unwrap().allow_remove);
    }

    #[test]
    fn all_steps_run_in_order_by_default() {
        assert_eq!(steps(&[]), ALL_STEPS.to_vec());
        assert_eq!(
            steps(&["--skip-deps"])[0],
            Step::Fmt,
            "--skip-deps starts at fmt"
        );
    }

    #[test]
    fn only_keeps_the_canonical_order() {
        assert_eq!(
            steps(&["--only", "arm", "--only=fmt"]),
            [Step::Fmt, Step::Arm]
        );
        assert_eq!(
            steps(&["--only", "vm", "--only", "boards"]),
            [Step::Boards, Step::Vm]
        );
        assert_eq!(
            steps(&["--only", "buildroot", "--only", "check-package"]),
            [Step::CheckPackage, Step::Buildroot]
        );
    }

    #[test]
    fn step_names_are_the_command_line_names() {
        use clap::ValueEnum;
        for step in ALL_STEPS {
            let value = step.to_possible_value().unwrap();
            assert_eq!(value.get_name(), step.name());
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["--only"][..],
            &["--only", "lint"],
            &["--fast"],
            &["--only", "deps", "--skip-deps"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
        let unknown = parse(&["--only", "lint"]).unwrap_err();
        assert!(
            unknown.contains("invalid value 'lint' for '--only <STEP>'"),
            "{unknown}"
        );
        assert!(
            unknown.contains("check-package"),
            "lists the steps: {unknown}"
        );
    }

    #[test]
    fn summary_mentions_skips_only_when_there_are_some() {
        assert_eq!(summary(9, 0, 0), "steps: 9 passed, 0 failed");
        assert_eq!(summary(2, 1, 0), "steps: 2 passed, 1 failed");
        assert_eq!(summary(5, 0, 1), "steps: 5 passed, 0 failed, 1 skipped");
    }
}
