//! `cargo xtask bench`: how fast `ringtap bridge`, `netsniff-ng --in/--out`
//! and the kernel bridge forward frames, and how fast `ringtap capture`,
//! `tcpdump -w` and `netsniff-ng --out` write them to a file (the
//! [`capture`] part), measured in one namespace topology and one run so the
//! programs can be compared.
//!
//! Frames come from trafgen on the generator CPU. The program under test and
//! the kernel's receive processing of its ingress port (steered there with
//! `rps_cpus`) share the other CPU, whose busy time is what the program
//! costs. Counters are read from sysfs inside the namespaces, CPU time from
//! `/proc/stat` and `/proc/PID/stat`.
//!
//! This file holds the command line, the order of the run and the
//! generators; [`lab`] the topology and the system readings, [`frames`] the
//! generated frames, [`summary`] what the parts share to turn runs into
//! figures, and [`bridge`], [`delay`] and [`capture`] one part each.

mod bridge;
mod capture;
mod delay;
mod frames;
mod lab;
mod plot;
mod summary;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bridge::{Dut, ALL_DUTS, DELAY_DUTS};
use capture::{Capturer, ALL_CAPTURERS};
use lab::{
    clock_ticks_per_second, cpu_count, idle_busy_percent, in_netns, read_text, write_file, Lab,
    Process,
};
use summary::{format_rate, RunInfo};

use crate::{deps, is_root, target_dir, Cmd, Error, Result};

/// `cargo xtask bench --help`, above the options.
pub const ABOUT: &str = "\
Three parts, measured in the same topology and run (default: all):
  bridge   how fast `ringtap bridge`, `netsniff-ng --in dut0 --out dut1` and
           the kernel bridge forward frames from dut0 to dut1
  delay    the one-way delay each of them adds, ringtap in each of its RX
           modes, against the harness floor
  capture  how fast `ringtap capture`, `tcpdump -w` and `netsniff-ng --out`
           write the frames arriving on dut0 to a file on a tmpfs
Needs root and at least 2 CPUs. Not a test: it reports figures and fails
only when it cannot measure.

Topology, made for this run and removed afterwards (also on Ctrl-C):
  namespace gen:  generator on CPU 0 -> gen0 =veth= dut0
  namespace dut:  the program under test on CPU 1: a bridge dut0 -> dut1 or
                  a capturer on dut0; dut0's receive processing steered to
                  CPU 1 (rps_cpus), GRO off
  namespace sink: dut1 =veth= sink0, which counts the frames
  gen and sink are also joined directly (gfloor =veth= sfloor) for the
  delay part's floor

Frames are Ethernet, IPv4, UDP, 256 flows. Frame sizes count the 4-byte FCS
as RFC 2544 does, so 64-byte frames are 60 bytes on the veth. Fixed rates
come from `ringtap replay --pps` (evenly spaced; trafgen's --rate sends each
second's frames as one burst), floods from trafgen.

Bridge part: 64-byte frames at 100k, 250k, 500k and 1M fps and flood;
1500-byte frames at 100k fps and flood. For each load and bridge it prints
the median over the repetitions of: offered and delivered frames per second
(gen0 sent, sink0 received), loss, CPU-seconds per million delivered frames
on CPU 1 (the bridge process plus the kernel's receive and forwarding work
there) and of the bridge process alone; then the ratios against netsniff-ng
and the kernel bridge, and ringtap's aims (lossless at the 1M step with one
worker; flooded, at least 70% of the kernel bridge). Results go to
<target>/bench/bridge.json, plots (delivered vs offered) to
<target>/bench/bridge-64B.png and bridge-1500B.png.

Delay part: probe frames at 1000 per second, each stamped with the wall clock
just before the generator sends it on gen0, and read on sink0 by a packet
socket whose ring carries the kernel's receive time: the one-way delay from
the generator's send to the sink's receive path, including both veth hops.
The same probes over gfloor -> sfloor give the harness floor; a bridge's added
delay is its percentile minus the floor's. Each bridge is measured with the
probes alone and among 64-byte frames at --delay-load frames per second
(default: half of ringtap's lossless rate in the bridge part, else 100k), for
each RX mode of ringtap: ringtap (its defaults), ringtap-v3 (--tpacket v3),
ringtap-lowlat (--low-latency). It prints p50, p99, p99.9 and the maximum
over all repetitions' probes, and plots the distributions to
<target>/bench/delay-probes.png and delay-<load>.png; every probe's delay is
kept in <target>/bench/delay/*.csv.

Capture part: 64-byte frames climbing a ladder of 100k, 200k, 400k and 800k
fps and flood. Every capturer gets a 32 MiB ring: ringtap 32 blocks of 1 MiB
(its default, TPACKET_V3), tcpdump `-B 32768` (libpcap's TPACKET_V3 ring; no
--immediate-mode, which would make libpcap fall back to TPACKET_V2),
netsniff-ng `--ring-size 32MiB`. Files go to a tmpfs mounted for the run at
/tmp/rtbench-capture-PID (default size, half of RAM). A capturer is stopped
1.5 s after the generator (tcpdump's ring hands over a partly filled block after a
second), then its file is counted and deleted. For each load and capturer it
prints the median of: offered frames per second, send attempts dut0 refused
(its receive backlog on CPU 1 was full; the generator sends those frames
again), frames per second in the file (the generated frames, counted by
reading it),
loss, the kernel's drops as the capturer reports them (ring full),
CPU-seconds per million frames in the file (all of CPU 1, its irq part, the
capturer process alone), and the share of CPU 1 other programs took during
the run. Then each capturer's lossless rate, the highest offered rate at
which the file held every offered frame, at that step and every step below
(a step is lossless when most repetitions were), the ratios of ringtap's
figures to the others', and whether ringtap's lossless rate is at least
twice tcpdump's. Results go to <target>/bench/capture.json.

Program output goes to <target>/bench/logs/, ringtap's stats files to
<target>/bench/stats/.

While it runs, net.core.wmem_default is raised to 4 MiB (and restored
afterwards): inside a namespace the value is read-only and mirrors the host's,
and at the 208 KiB default trafgen's TX ring flush fails with EAGAIN.";

/// The options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// 1 repetition of 2-second runs (default: 3 repetitions of 3 s)
    #[arg(long)]
    quick: bool,
    /// Seconds of traffic per run, 1 to 60
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=60))]
    seconds: Option<u32>,
    /// Run one part
    #[arg(long, value_name = "PART")]
    only: Option<Part>,
    /// Measure only NAME (repeatable): ringtap and netsniff-ng (all parts),
    /// kernel-bridge (bridge, delay), ringtap-v3 and ringtap-lowlat (delay;
    /// bridge when named), tcpdump (capture)
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(program_names()))]
    dut: Vec<String>,
    /// The delay part's background load, frames per second (default: half of
    /// ringtap's lossless rate in the bridge part, else 100k)
    #[arg(long, value_name = "FPS", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    delay_load: Option<u64>,
    /// Add ARGS to every `ringtap bridge` command (to compare settings; the
    /// tables still say ringtap)
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    ringtap_args: Vec<String>,
}

/// trafgen runs here; counter reads are pinned here too.
const GENERATOR_CPU: usize = 0;
/// The bridge or capturer under test and dut0's receive processing run here.
const DUT_CPU: usize = 1;
/// `rps_cpus` mask with only `DUT_CPU` set.
const DUT_CPU_MASK: &str = "2";
/// netsniff-ng sizes its rings from the link speed, which veth lacks.
const NETSNIFF_RING_SIZE: &str = "8MiB";
/// Default socket send buffer while benchmarking (the size trafgen and
/// netsniff-ng set themselves when they can).
const SEND_BUFFER_BYTES: u64 = 4 << 20;
const WMEM_DEFAULT: &str = "/proc/sys/net/core/wmem_default";
/// The frame check sequence counted in a frame size but absent on veth.
const FCS_LEN: u16 = 4;
/// The source address of the generated frames (gen0's own is random).
const GENERATOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The destination address of the generated frames, which no interface has.
const DESTINATION_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Time for a program to finish setting up after its socket is bound.
const SETTLE: Duration = Duration::from_millis(300);

/// The offered load: frames per second, or as fast as trafgen can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Rate(u64),
    Flood,
}

impl Load {
    /// The frames per second asked for; none for a flood.
    fn target(self) -> Option<u64> {
        match self {
            Load::Rate(fps) => Some(fps),
            Load::Flood => None,
        }
    }

    fn label(self) -> String {
        match self {
            Load::Rate(fps) => format!("{} fps", format_rate(fps as f64)),
            Load::Flood => "flood".to_string(),
        }
    }

    /// For file names: `250k`, `1M`, `flood`.
    fn slug(self) -> String {
        match self {
            Load::Rate(fps) => format_rate(fps as f64),
            Load::Flood => "flood".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Case {
    /// Including the FCS.
    frame_bytes: u16,
    load: Load,
}

impl Case {
    fn label(self) -> String {
        format!("{} B at {}", self.frame_bytes, self.load.label())
    }
}

/// A part of the benchmark, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// How fast the bridges forward
    Bridge,
    /// The one-way delay each bridge adds
    Delay,
    /// How fast the capturers write files
    Capture,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Bridge => "bridge",
            Part::Delay => "delay",
            Part::Capture => "capture",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    /// The bridges to measure; none skips the bridge part.
    duts: Vec<Dut>,
    /// The bridges whose delay to measure; none skips the delay part.
    delay_duts: Vec<Dut>,
    /// The capturers to measure; none skips the capture part.
    capturers: Vec<Capturer>,
    seconds: u32,
    repetitions: u32,
    /// Added to every `ringtap bridge` command line.
    ringtap_extra: Vec<String>,
    /// The delay part's background load; default: half of ringtap's
    /// lossless rate in the bridge part.
    delay_load: Option<u64>,
}

/// The delay part's background load when the bridge part did not run.
const DEFAULT_DELAY_LOAD: u64 = 100_000;

/// Every name `--dut` takes, each once, bridges first.
fn program_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = DELAY_DUTS.map(Dut::name).to_vec();
    for name in ALL_CAPTURERS.map(Capturer::name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// What the command line asks for.
fn options(args: &Args) -> Result<Options> {
    let chosen: Vec<&str> = args.dut.iter().map(String::as_str).collect();
    let only = args.only;
    let quick = args.quick;
    let picked = |name: &str| chosen.is_empty() || chosen.contains(&name);
    let runs = |part: Part| only.is_none_or(|o| o == part);
    let duts: Vec<Dut> = if runs(Part::Bridge) {
        // The ringtap modes besides the default only when asked for.
        DELAY_DUTS
            .into_iter()
            .filter(|d| ALL_DUTS.contains(d) && picked(d.name()) || chosen.contains(&d.name()))
            .collect()
    } else {
        Vec::new()
    };
    let delay_duts: Vec<Dut> = if runs(Part::Delay) {
        DELAY_DUTS
            .into_iter()
            .filter(|d| picked(d.name()))
            .collect()
    } else {
        Vec::new()
    };
    let capturers: Vec<Capturer> = if runs(Part::Capture) {
        ALL_CAPTURERS
            .into_iter()
            .filter(|c| picked(c.name()))
            .collect()
    } else {
        Vec::new()
    };
    let nothing = duts.is_empty() && delay_duts.is_empty() && capturers.is_empty();
    if let (true, Some(part)) = (nothing, only) {
        return Err(Error::Usage(format!(
            "`--only {}` with `--dut {}`: none of these programs takes part in the {} part \
             (see --help)",
            part.name(),
            chosen.join(" --dut "),
            part.name()
        )));
    }
    Ok(Options {
        duts,
        delay_duts,
        capturers,
        seconds: args.seconds.unwrap_or(if quick { 2 } else { 3 }),
        repetitions: if quick { 1 } else { 3 },
        ringtap_extra: args
            .ringtap_args
            .iter()
            .flat_map(|a| a.split_whitespace())
            .map(str::to_string)
            .collect(),
        delay_load: args.delay_load,
    })
}

pub fn run(args: &Args) -> Result {
    let options = options(args)?;
    if !is_root() {
        return Err(Error::Failed(
            "`cargo xtask bench` needs root: it creates network namespaces, mounts a tmpfs, \
             pins processes to CPUs and raises net.core.wmem_default; run it as root"
                .to_string(),
        ));
    }
    banner("checking tools");
    deps::ensure(&deps::FOR_BENCH)?;
    let cpus = cpu_count(&read_text("/proc/stat")?);
    if cpus <= DUT_CPU {
        return Err(Error::Failed(format!(
            "needs 2 CPUs (the generator on CPU {GENERATOR_CPU}, the program under test on CPU \
             {DUT_CPU}); /proc/stat lists {cpus}"
        )));
    }
    let mut ringtap_modes = Vec::new();
    let ringtap_bridges = options.duts.iter().chain(&options.delay_duts);
    if ringtap_bridges.clone().any(|d| d.ringtap_args().is_some()) {
        ringtap_modes.push("bridge");
    }
    if options.capturers.contains(&Capturer::Ringtap) {
        ringtap_modes.push("capture");
    }
    // Fixed rates come from `ringtap replay --pps`, whatever is measured.
    ringtap_modes.push("replay");
    banner("building ringtap");
    let ringtap = Some(build_ringtap(&ringtap_modes)?);
    let ticks_per_second = clock_ticks_per_second()?;

    let out_dir = target_dir().join("bench");
    for dir in [out_dir.join("logs"), out_dir.join("stats")] {
        fs::create_dir_all(&dir)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    for size in [64, 1500] {
        let text = frames::trafgen_config(size).map_err(Error::Failed)?;
        write_file(&frames::trafgen_config_path(&out_dir, size), &text)?;
        let pcap = frames::replay_pcap(size).map_err(Error::Failed)?;
        let path = frames::replay_pcap_path(&out_dir, size);
        fs::write(&path, pcap)
            .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))?;
    }

    banner("idle check");
    let idle_busy = idle_busy_percent(ticks_per_second)?;
    println!(
        "CPU {GENERATOR_CPU}: {:.0}% busy, CPU {DUT_CPU}: {:.0}% busy over 1 s before starting",
        idle_busy[0], idle_busy[1]
    );
    if idle_busy.iter().any(|&busy| busy > 10.0) {
        println!(
            "warning: other work is running on these CPUs; CPU figures include it and \
             rates will be lower and noisier than on an idle machine"
        );
    }

    banner("setting up the topology");
    let lab = Lab::set_up()?;
    let scratch = if options.capturers.is_empty() {
        None
    } else {
        Some(capture::Scratch::set_up()?)
    };
    let bench = Bench {
        lab: &lab,
        out_dir: &out_dir,
        ringtap: ringtap.as_deref(),
        ringtap_extra: &options.ringtap_extra,
        seconds: options.seconds,
        ticks_per_second,
    };
    let bridge_rows = if options.duts.is_empty() {
        None
    } else {
        banner("measuring bridges");
        Some(bridge::measure(&bench, &options.duts, options.repetitions)?)
    };
    let delay_rows = if options.delay_duts.is_empty() {
        None
    } else {
        banner("measuring delay");
        let background = options
            .delay_load
            .or_else(|| {
                bridge_rows
                    .as_deref()
                    .and_then(bridge::lossless_rate)
                    .map(|r| r / 2)
            })
            .unwrap_or(DEFAULT_DELAY_LOAD);
        println!(
            "probes at {} fps, alone and among 64-byte frames at {} fps",
            delay::PROBE_RATE,
            format_rate(background as f64)
        );
        Some(delay::measure_all(
            &bench,
            &options.delay_duts,
            background,
            options.repetitions,
        )?)
    };
    let capture_rows = match &scratch {
        Some(scratch) => {
            banner("measuring capture");
            Some(capture::measure(
                &bench,
                scratch,
                &options.capturers,
                options.repetitions,
            )?)
        }
        None => None,
    };
    drop(scratch);
    drop(lab);

    banner("results");
    if idle_busy.iter().any(|&busy| busy > 10.0) {
        println!(
            "note: before starting, CPU {GENERATOR_CPU} was {:.0}% and CPU {DUT_CPU} {:.0}% busy \
             with other work, which these figures include",
            idle_busy[0], idle_busy[1]
        );
    }
    let info = RunInfo {
        kernel: read_text("/proc/sys/kernel/osrelease")?.trim().to_string(),
        cpus,
        seconds: options.seconds,
        repetitions: options.repetitions,
        idle_busy,
    };
    if let Some(rows) = bridge_rows {
        println!();
        print!("{}", bridge::table(&rows));
        let ratios = bridge::ratios(&rows);
        if !ratios.is_empty() {
            println!();
            print!("{ratios}");
        }
        if let Some(aims) = bridge::ringtap_aims(&rows) {
            println!();
            print!("{aims}");
        }
        let json_path = out_dir.join("bridge.json");
        bridge::write_results(&json_path, &info, &rows)?;
        println!();
        println!("results written to {}", json_path.display());
        for png in plot::delivered(&rows, &out_dir)? {
            println!("plot written to {}", png.display());
        }
    }
    if let Some(rows) = delay_rows {
        println!();
        print!("{}", delay::table(&rows));
        for png in plot::delays(&rows, &out_dir)? {
            println!("plot written to {}", png.display());
        }
    }
    if let Some(rows) = capture_rows {
        println!();
        print!("{}", capture::report(&rows));
        let json_path = out_dir.join("capture.json");
        capture::write_results(&json_path, &info, &rows)?;
        println!();
        println!("results written to {}", json_path.display());
    }
    Ok(())
}

fn banner(title: &str) {
    println!();
    println!("==> bench: {title}");
}

/// Builds the appliance and makes sure it has the subcommands (`modes`)
/// to be measured.
fn build_ringtap(modes: &[&str]) -> Result<PathBuf> {
    Cmd::cargo()
        .args(["build", "--release", "-p", "ringtap"])
        .run()?;
    let binary = target_dir().join("release").join("ringtap");
    for mode in modes {
        Cmd::new(&binary)
            .args([mode, "--help"])
            .probe()
            .map_err(|why| {
                // The first line says what failed; clap's usage text follows.
                let why = why.lines().next().unwrap_or_default();
                Error::Failed(format!(
                    "ringtap {mode} subcommand not available in this build ({why}); \
                     measure the other programs with --dut (see --help)"
                ))
            })?;
    }
    Ok(binary)
}

/// What every measurement shares.
#[derive(Debug)]
struct Bench<'a> {
    lab: &'a Lab,
    out_dir: &'a Path,
    ringtap: Option<&'a Path>,
    ringtap_extra: &'a [String],
    seconds: u32,
    ticks_per_second: f64,
}

impl Bench<'_> {
    /// Offers the load for the configured time; returns how long it ran.
    /// A fixed rate comes from `ringtap replay --pps`, which spaces the
    /// frames evenly (trafgen's `--rate` sends each second's frames in one
    /// burst at full speed); a flood from trafgen.
    fn run_generator(&self, case: Case, log: PathBuf) -> Result<f64> {
        let started = Instant::now();
        let (cmd, name, expected): (_, _, &[i32]) = match case.load {
            // 1: gen0 refused some frames (dut0's receive backlog was full)
            // and replay says so; they are not in gen0's tx_packets, so the
            // offered rate already leaves them out.
            Load::Rate(fps) => (self.replay(case, fps)?, "ringtap replay", &[0, 1]),
            // `timeout` exits with 124 when it stopped trafgen, as planned.
            Load::Flood => (self.trafgen(case), "trafgen", &[124]),
        };
        let mut generator = Process::start(cmd, log)?;
        let status = generator.wait_for_exit(Duration::from_secs(u64::from(self.seconds) + 15))?;
        let seconds = started.elapsed().as_secs_f64();
        if !status.code().is_some_and(|code| expected.contains(&code)) {
            return Err(Error::Failed(format!(
                "{name} failed ({status}) in a {} s run; its output is in {}",
                self.seconds,
                generator.log.display()
            )));
        }
        Ok(seconds)
    }

    /// `ringtap replay` of the 256 flows' frames at `fps`, for the
    /// configured time, on the generator CPU.
    fn replay(&self, case: Case, fps: u64) -> Result<Cmd> {
        let ringtap = self.ringtap.ok_or_else(|| {
            Error::Failed("the fixed-rate generator needs the ringtap binary".into())
        })?;
        let count = fps * u64::from(self.seconds);
        let loops = count.div_ceil(256) + 1;
        Ok(in_netns(&self.lab.gen)
            .args(["taskset", "-c", &GENERATOR_CPU.to_string()])
            .arg(ringtap)
            .args(["replay", "--qdisc-bypass", "--out", "gen0", "--read"])
            .arg(frames::replay_pcap_path(self.out_dir, case.frame_bytes))
            .args(["--pps", &fps.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--loop", &loops.to_string()]))
    }

    /// trafgen flooding from the generator CPU, one process (`--cpus 1`),
    /// stopped with SIGINT by `timeout`, which signals its whole process
    /// group: trafgen's parent alone ignores it.
    fn trafgen(&self, case: Case) -> Cmd {
        in_netns(&self.lab.gen)
            .args(["taskset", "-c", &GENERATOR_CPU.to_string()])
            .args(["timeout", "--signal=INT", "--kill-after=5"])
            .arg(self.seconds.to_string())
            .args(["trafgen", "--dev", "gen0", "--conf"])
            .arg(frames::trafgen_config_path(self.out_dir, case.frame_bytes))
            .args(["--cpus", "1", "--no-sock-mem", "--notouch-irq"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options of `cargo xtask bench ARGS`; a usage error as text.
    fn parse(args: &[&str]) -> Result<Options, String> {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        options(&cli.args).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_quick_and_seconds() {
        assert_eq!(
            parse(&[]).unwrap(),
            Options {
                duts: ALL_DUTS.to_vec(),
                delay_duts: DELAY_DUTS.to_vec(),
                capturers: ALL_CAPTURERS.to_vec(),
                seconds: 3,
                repetitions: 3,
                ringtap_extra: vec![],
                delay_load: None,
            }
        );
        let quick = parse(&["--quick"]).unwrap();
        assert_eq!((quick.seconds, quick.repetitions), (2, 1));
        let quick_long = parse(&["--seconds=10", "--quick"]).unwrap();
        assert_eq!((quick_long.seconds, quick_long.repetitions), (10, 1));
    }

    #[test]
    fn chosen_bridges_keep_the_table_order() {
        let options = parse(&[
            "--dut",
            "kernel-bridge",
            "--dut=netsniff-ng",
            "--dut",
            "kernel-bridge",
        ])
        .unwrap();
        assert_eq!(options.duts, [Dut::NetsniffNg, Dut::KernelBridge]);
        assert_eq!(options.delay_duts, [Dut::NetsniffNg, Dut::KernelBridge]);
        assert_eq!(options.capturers, [Capturer::NetsniffNg]);
        let modes = parse(&["--dut", "ringtap-lowlat", "--dut", "ringtap"]).unwrap();
        assert_eq!(modes.duts, [Dut::Ringtap, Dut::RingtapLowLatency]);
        assert_eq!(modes.delay_duts, [Dut::Ringtap, Dut::RingtapLowLatency]);
        let extra = parse(&["--ringtap-args", "--busy-poll 50", "--delay-load=2000"]).unwrap();
        assert_eq!(extra.ringtap_extra, ["--busy-poll", "50"]);
        assert_eq!(extra.delay_load, Some(2000));
    }

    #[test]
    fn a_part_runs_alone_or_with_the_programs_chosen_for_it() {
        let capture = parse(&["--only", "capture"]).unwrap();
        assert_eq!(
            (capture.duts, capture.delay_duts, capture.capturers),
            (vec![], vec![], ALL_CAPTURERS.to_vec())
        );
        let delay = parse(&["--only", "delay"]).unwrap();
        assert_eq!(
            (delay.duts, delay.delay_duts, delay.capturers),
            (vec![], DELAY_DUTS.to_vec(), vec![])
        );
        let bridge = parse(&["--only=bridge", "--dut", "ringtap"]).unwrap();
        assert_eq!(
            (bridge.duts, bridge.capturers),
            (vec![Dut::Ringtap], vec![])
        );
        let tcpdump = parse(&["--dut", "tcpdump"]).unwrap();
        assert_eq!(
            (tcpdump.duts, tcpdump.capturers),
            (vec![], vec![Capturer::Tcpdump]),
            "a program of one part leaves the other part out"
        );
        let ringtap = parse(&["--dut", "ringtap"]).unwrap();
        assert_eq!(
            (ringtap.duts, ringtap.capturers),
            (vec![Dut::Ringtap], vec![Capturer::Ringtap])
        );
        assert_eq!(
            program_names(),
            [
                "ringtap",
                "ringtap-v3",
                "ringtap-lowlat",
                "netsniff-ng",
                "kernel-bridge",
                "tcpdump"
            ]
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["--seconds"][..],
            &["--seconds", "0"],
            &["--seconds", "61"],
            &["--seconds", "2.5"],
            &["--dut", "ovs"],
            &["--dut"],
            &["--only", "disk"],
            &["--only"],
            &["--only", "bridge", "--dut", "tcpdump"],
            &["--only", "capture", "--dut", "kernel-bridge"],
            &["--quick=yes"],
            &["--fast"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
        let mismatch = parse(&["--only", "bridge", "--dut", "tcpdump"]).unwrap_err();
        assert!(mismatch.contains("none of these programs"), "{mismatch}");
    }
}
