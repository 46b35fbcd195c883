//! `ringtap`: the appliance binary.
//!
//! Exit status: 0 on success (and for `--help` / `--version`), 2 for a bad
//! command line or a configuration the kernel would refuse (clap's own usage
//! errors already use 2), 1 when the system fails us while running.

mod alloc_count;
mod board;
mod bridge;
mod bypass;
mod capture;
mod confine;
mod files;
mod filter;
mod log;
mod metrics;
mod options;
mod plan;
mod ports;
mod replay;
mod signals;
mod stats;

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `ringtap --version`: what a bug report or a defmt log decoder needs to
/// know about this binary (`-V` prints the first line only).
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit:   ",
    env!("RINGTAP_COMMIT"),
    "\ntarget:   ",
    env!("RINGTAP_TARGET"),
    "\nfeatures: ",
    env!("RINGTAP_FEATURES"),
);

#[derive(Debug, Parser)]
#[command(
    name = "ringtap",
    version,
    long_version = LONG_VERSION,
    about = "Inline bridge / TAP, capture and replay on Linux PACKET_MMAP rings (TPACKET_V2/V3)"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Forward frames between interfaces through RX and TX rings (a layer-2 bridge / TAP)
    Bridge(bridge::BridgeArgs),
    /// Record an interface into a pcapng or pcap file, with the positions of lost frames
    Capture(capture::CaptureArgs),
    /// Send the frames of a pcap or pcapng file out of an interface
    Replay(replay::ReplayArgs),
    /// Let the kernel forward between two ports while ringtap does not (fail-open)
    Bypass(bypass::BypassArgs),
    /// Print the classic BPF program of a pcap-filter expression, as tcpdump -d/-dd/-ddd
    Filter(filter::FilterArgs),
    /// Print a stats file written by `ringtap bridge` or `ringtap capture --stats-file`
    Stats(stats::StatsArgs),
    /// Check a ring request against the kernel's rules and print its layout
    Plan(plan::PlanArgs),
}

/// Why a mode did not succeed; decides the exit status.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Bad input: an option, a number, or a ring the kernel would refuse.
    Usage(String),
    /// The system failed while running (e.g. stdout closed).
    Runtime(String),
    /// Not now: what was waited for did not come (exit status 75,
    /// `EX_TEMPFAIL`, for a service manager to try again later).
    Unavailable(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Runtime(_) => ExitCode::from(1),
            Failure::Unavailable(_) => ExitCode::from(75),
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) | Failure::Unavailable(m) => m,
        }
    }
}

fn main() -> ExitCode {
    // On a usage error clap prints it and exits with 2; `--help` and
    // `--version` exit with 0.
    let cli = Cli::parse();
    let (name, result) = match &cli.mode {
        Mode::Bridge(args) => ("bridge", bridge::run(args)),
        Mode::Capture(args) => ("capture", capture::run(args)),
        Mode::Replay(args) => ("replay", replay::run(args)),
        Mode::Filter(args) => ("filter", filter::run(args)),
        Mode::Bypass(args) => ("bypass", bypass::run(args)),
        Mode::Stats(args) => ("stats", stats::run(args)),
        Mode::Plan(args) => ("plan", plan::run(args)),
    };
    let result = result.and_then(|text| {
        if text.is_empty() {
            return Ok(());
        }
        if files::stdout_was_closed() {
            return Err(Failure::Runtime(format!(
                "standard output is closed: nothing to print this to:\n{text}"
            )));
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Failure::Runtime(format!("cannot write to stdout: {e}")))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Not eprintln!: it panics when stderr is gone, and the exit
            // status still carries the outcome.
            let _ = writeln!(std::io::stderr(), "ringtap {name}: {}", failure.message());
            failure.exit_code()
        }
    }
}
