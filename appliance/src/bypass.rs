//! `ringtap bypass`: the fail-open path. While the bypass is on, the
//! kernel itself forwards between the two ports, unchanged (a traffic
//! control redirect on each port's ingress, see `ringtap_linux::bypass`).
//! `ringtap bridge` turns it off for its ports before it takes frames, and
//! on at exit with `--fail-open`; a service manager turns it on after a
//! bridge died (`on --if-fail-open` obeys the profile's `fail_open`).

use clap::{Args, ValueEnum};
use ringtap_linux::bypass;

use crate::Failure;

const EXAMPLES: &str = "\
Examples:
  ringtap bypass --in eth0 --out eth1 on       # the kernel forwards eth0 <-> eth1
  ringtap bypass --in eth0 --out eth1 status
  ringtap bypass --config /etc/ringtap/board.toml on --if-fail-open

Needs CAP_NET_ADMIN to change it. Exit status: 0, 2 for a bad option, 1 when
the kernel refuses (the message says which call and why).";

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// The kernel forwards between the ports (both ways)
    On,
    /// Nothing passes unless ringtap forwards it
    Off,
    /// Print whether the bypass is on
    Status,
}

/// Options of `ringtap bypass`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BypassArgs {
    /// One port (default: the profile's ports.in)
    #[arg(long = "in", short = 'i', value_name = "IF_A")]
    pub in_port: Option<String>,
    /// The other port (default: the profile's ports.out)
    #[arg(long = "out", short = 'o', value_name = "IF_B")]
    pub out_port: Option<String>,
    #[command(flatten)]
    pub profile: crate::options::ProfileArgs,
    /// With `on`: only when the profile says fail_open = true (else leave it off)
    #[arg(long)]
    pub if_fail_open: bool,
    /// on, off or status
    #[arg(value_enum)]
    pub action: Action,
}

/// `ringtap bypass`.
pub fn run(args: &BypassArgs) -> Result<String, Failure> {
    let board = args.profile.load()?;
    let pick = |given: &Option<String>, from_board: Option<&String>, option: &str| {
        given
            .clone()
            .or_else(|| from_board.cloned())
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "{option} is required (or a --board/--config with its ports)"
                ))
            })
    };
    let a = pick(
        &args.in_port,
        board.as_ref().map(|b| &b.ports.r#in),
        "--in IF_A",
    )?;
    let b = pick(
        &args.out_port,
        board.as_ref().map(|b| &b.ports.out),
        "--out IF_B",
    )?;
    if a == b {
        return Err(Failure::Usage(format!(
            "--in and --out are both {a}: the bypass joins two interfaces"
        )));
    }
    if args.if_fail_open && args.action != Action::On {
        return Err(Failure::Usage("--if-fail-open goes with `on`".into()));
    }
    let kernel = |e: ringtap_linux::Error| Failure::Runtime(format!("bypass {a} <-> {b}: {e}"));
    match args.action {
        Action::Status => {}
        Action::On if args.if_fail_open && !board.as_ref().is_some_and(|b| b.fail_open) => {
            return Ok(format!(
                "bypass {a} <-> {b}: left off (the profile is fail-closed: fail_open is not true)\n"
            ));
        }
        Action::On => bypass::set(&a, &b, true).map_err(kernel)?,
        Action::Off => bypass::set(&a, &b, false).map_err(kernel)?,
    }
    let state = bypass::state(&a, &b).map_err(kernel)?;
    Ok(format!("bypass {a} <-> {b}: {}\n", describe(state, &a, &b)))
}

/// `on`, `off`, or which direction is on.
pub fn describe(state: bypass::State, a: &str, b: &str) -> String {
    match (state.a_to_b, state.b_to_a) {
        (true, true) => "on".to_owned(),
        (false, false) => "off".to_owned(),
        (true, false) => format!("partly on ({a} -> {b} only)"),
        (false, true) => format!("partly on ({b} -> {a} only)"),
    }
}
