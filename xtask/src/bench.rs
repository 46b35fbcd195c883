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

mod capture;
mod delay;
mod plot;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use capture::{Capturer, ALL_CAPTURERS};

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

/// A bridge under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dut {
    /// `ringtap bridge` with its defaults.
    Ringtap,
    /// `ringtap bridge --tpacket v3`: RX blocks handed over when full or
    /// when their timer retires them.
    RingtapV3,
    /// `ringtap bridge --low-latency`: the worker never sleeps.
    RingtapLowLatency,
    NetsniffNg,
    KernelBridge,
}

/// The bridge part's bridges, in this order in tables; every bridge is
/// compared with those after it.
const ALL_DUTS: [Dut; 3] = [Dut::Ringtap, Dut::NetsniffNg, Dut::KernelBridge];

/// The delay part's: every RX mode of ringtap, then the references.
const DELAY_DUTS: [Dut; 5] = [
    Dut::Ringtap,
    Dut::RingtapV3,
    Dut::RingtapLowLatency,
    Dut::NetsniffNg,
    Dut::KernelBridge,
];

impl Dut {
    fn name(self) -> &'static str {
        match self {
            Dut::Ringtap => "ringtap",
            Dut::RingtapV3 => "ringtap-v3",
            Dut::RingtapLowLatency => "ringtap-lowlat",
            Dut::NetsniffNg => "netsniff-ng",
            Dut::KernelBridge => "kernel-bridge",
        }
    }

    /// `ringtap bridge` options of a ringtap mode; `None` for the others.
    fn ringtap_args(self) -> Option<&'static [&'static str]> {
        match self {
            Dut::Ringtap => Some(&[]),
            Dut::RingtapV3 => Some(&["--tpacket", "v3"]),
            Dut::RingtapLowLatency => Some(&["--low-latency"]),
            Dut::NetsniffNg | Dut::KernelBridge => None,
        }
    }
}

/// The offered load: frames per second, or as fast as trafgen can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Rate(u64),
    Flood,
}

impl Load {
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

/// The bridge part's loads; the 64-byte fixed rates are the ladder a
/// lossless rate is read from.
const CASES: [Case; 7] = [
    Case {
        frame_bytes: 64,
        load: Load::Rate(100_000),
    },
    Case {
        frame_bytes: 64,
        load: Load::Rate(250_000),
    },
    Case {
        frame_bytes: 64,
        load: Load::Rate(500_000),
    },
    Case {
        frame_bytes: 64,
        load: Load::Rate(1_000_000),
    },
    Case {
        frame_bytes: 64,
        load: Load::Flood,
    },
    Case {
        frame_bytes: 1500,
        load: Load::Rate(100_000),
    },
    Case {
        frame_bytes: 1500,
        load: Load::Flood,
    },
];

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

/// ringtap's lossless rate in the bridge part: the highest fixed 64-byte
/// load at which its median loss was under 0.1%, with every lower load
/// lossless too.
fn lossless_rate(rows: &[Row]) -> Option<u64> {
    let mut loads: Vec<u64> = CASES
        .iter()
        .filter(|c| c.frame_bytes == 64)
        .filter_map(|c| match c.load {
            Load::Rate(fps) => Some(fps),
            Load::Flood => None,
        })
        .collect();
    loads.sort_unstable();
    let mut best = None;
    for fps in loads {
        let case = Case {
            frame_bytes: 64,
            load: Load::Rate(fps),
        };
        let summary = rows
            .iter()
            .find(|r| r.dut == Dut::Ringtap && r.case == case)
            .and_then(|r| summarize(&r.samples))?;
        if summary.loss >= 0.001 {
            break;
        }
        best = Some(fps);
    }
    best
}

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
        let text = trafgen_config(size).map_err(Error::Failed)?;
        write_file(&trafgen_config_path(&out_dir, size), &text)?;
        let pcap = replay_pcap(size).map_err(Error::Failed)?;
        let path = replay_pcap_path(&out_dir, size);
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
        Some(measure_bridges(&bench, &options.duts, options.repetitions)?)
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
                    .and_then(lossless_rate)
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
        print!("{}", table(&rows));
        let ratios = ratios(&rows);
        if !ratios.is_empty() {
            println!();
            print!("{ratios}");
        }
        if let Some(aims) = ringtap_aims(&rows) {
            println!();
            print!("{aims}");
        }
        let json_path = out_dir.join("bridge.json");
        write_file(&json_path, &to_json(&info, &rows))?;
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
        write_file(&json_path, &capture::to_json(&info, &rows))?;
        println!();
        println!("results written to {}", json_path.display());
    }
    Ok(())
}

/// Every chosen bridge at every load, `repetitions` times, the bridges
/// taking turns at each load.
fn measure_bridges(bench: &Bench<'_>, duts: &[Dut], repetitions: u32) -> Result<Vec<Row>> {
    println!(
        "{} s of traffic per run; generator on CPU {GENERATOR_CPU}, bridge on CPU {DUT_CPU}",
        bench.seconds
    );
    let mut rows: Vec<Row> = CASES
        .iter()
        .flat_map(|&case| {
            duts.iter().map(move |&dut| Row {
                case,
                dut,
                samples: Vec::new(),
            })
        })
        .collect();
    let total = rows.len() * repetitions as usize;
    let mut done = 0;
    for repetition in 1..=repetitions {
        for row in &mut rows {
            done += 1;
            println!();
            println!(
                "[{done}/{total}] {}, {}, repetition {repetition}/{repetitions}",
                row.case.label(),
                row.dut.name(),
            );
            let sample = bench.measure(row.dut, row.case, repetition)?;
            println!("  {}", sample.describe());
            row.samples.push(sample);
        }
    }
    Ok(rows)
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

/// USER_HZ, the unit of `/proc/stat` and `/proc/PID/stat` times.
fn clock_ticks_per_second() -> Result<f64> {
    let cmd = Cmd::new("getconf").arg("CLK_TCK").quiet();
    let shown = cmd.shown();
    let out = cmd.output()?;
    match out.trim().parse::<u32>() {
        Ok(ticks) if ticks > 0 => Ok(f64::from(ticks)),
        _ => Err(Error::Failed(format!(
            "`{shown}` printed {out:?}, not a positive number of clock ticks"
        ))),
    }
}

/// How busy the two CPUs are, in percent, over one second of doing nothing.
fn idle_busy_percent(ticks_per_second: f64) -> Result<[f64; 2]> {
    let before = cpu_pair()?;
    let started = Instant::now();
    sleep(Duration::from_secs(1));
    let after = cpu_pair()?;
    let elapsed = started.elapsed().as_secs_f64();
    let percent = |i: usize| {
        (after[i].busy.saturating_sub(before[i].busy)) as f64 / ticks_per_second / elapsed * 100.0
    };
    Ok([percent(0), percent(1)])
}

/// CPU times of the generator CPU and the bridge CPU, in that order.
fn cpu_pair() -> Result<[CpuTicks; 2]> {
    let stat = read_text("/proc/stat")?;
    let get = |cpu: usize| {
        cpu_ticks(&stat, cpu)
            .ok_or_else(|| Error::Failed(format!("/proc/stat has no readable `cpu{cpu}` line")))
    };
    Ok([get(GENERATOR_CPU)?, get(DUT_CPU)?])
}

/// Times of one CPU, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CpuTicks {
    /// user + nice + system + irq + softirq + steal: everything but idle
    /// and iowait.
    busy: u64,
    /// irq + softirq: the kernel's receive and forwarding work, whichever
    /// process it interrupted.
    interrupt: u64,
}

/// The `cpuN` line of `/proc/stat`: user nice system idle iowait irq
/// softirq steal [guest guest_nice] (guest time is already in user).
fn cpu_ticks(proc_stat: &str, cpu: usize) -> Option<CpuTicks> {
    let label = format!("cpu{cpu}");
    let mut words = proc_stat
        .lines()
        .map(|line| line.split_whitespace())
        .find_map(|mut words| (words.next() == Some(label.as_str())).then_some(words))?;
    let fields: Vec<u64> = words
        .by_ref()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let &[user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = fields.as_slice() else {
        return None;
    };
    Some(CpuTicks {
        busy: user + nice + system + irq + softirq + steal,
        interrupt: irq + softirq,
    })
}

/// How many `cpuN` lines `/proc/stat` has (the online CPUs; the first
/// line, `cpu`, is their sum).
fn cpu_count(proc_stat: &str) -> usize {
    proc_stat
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.strip_prefix("cpu"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .count()
}

/// utime + stime (fields 14 and 15) of `/proc/PID/stat`, in clock ticks,
/// covering all threads. Field 2, the command name in parentheses, may hold
/// spaces and parentheses itself, so fields are counted from its last `)`.
fn process_ticks(pid_stat: &str) -> Option<u64> {
    let (_, after_name) = pid_stat.rsplit_once(')')?;
    // `after_name` starts with field 3 (state).
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Whether `/proc/net/packet` lists a socket bound to `ifindex` (columns:
/// sk RefCnt Type Proto Iface R Rmem User Inode).
fn has_packet_socket_on(net_packet: &str, ifindex: u32) -> bool {
    net_packet
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(4).and_then(|w| w.parse().ok()) == Some(ifindex))
}

/// One whole number per line, exactly `count` of them.
fn parse_numbers(text: &str, count: usize) -> Option<Vec<u64>> {
    let numbers: Vec<u64> = text
        .lines()
        .map(|line| line.trim().parse().ok())
        .collect::<Option<_>>()?;
    (numbers.len() == count).then_some(numbers)
}

fn read_text(path: &str) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::Failed(format!("cannot read {path}: {e}")))
}

fn write_file(path: &Path, text: &str) -> Result {
    fs::write(path, text)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

fn trafgen_config_path(out_dir: &Path, frame_bytes: u16) -> PathBuf {
    out_dir.join(format!("trafgen-{frame_bytes}B.cfg"))
}

/// A trafgen configuration for one Ethernet/IPv4/UDP frame of `frame_bytes`
/// (counting the FCS, which trafgen does not write): 10.0.0.1 -> 10.0.0.2,
/// UDP 1024..1279 -> 9 (discard), no UDP checksum. The low byte of the source
/// port counts up from frame to frame, so 256 flows take turns. The
/// destination MAC belongs to no interface, so the kernel bridge floods it
/// to dut1 and sink0 drops it without further work.
/// The headers every benchmark frame of `frame_bytes` (FCS counted) shares:
/// the IPv4 header with its checksum, the UDP length and the zero payload's
/// length.
struct FrameParts {
    ipv4: [u8; 20],
    udp_len: u16,
    payload: u16,
    on_wire: u16,
}

fn frame_parts(frame_bytes: u16) -> Result<FrameParts, String> {
    const ETH_LEN: u16 = 14;
    const IPV4_LEN: u16 = 20;
    const UDP_LEN: u16 = 8;
    if !(64..=1518).contains(&frame_bytes) {
        return Err(format!(
            "frame size {frame_bytes}: must be 64 to 1518 bytes (an untagged Ethernet frame with FCS)"
        ));
    }
    let on_wire = frame_bytes - FCS_LEN;
    let ip_len = on_wire - ETH_LEN;
    let udp_len = ip_len - IPV4_LEN;
    let payload = udp_len - UDP_LEN;
    let [ip_len_hi, ip_len_lo] = ip_len.to_be_bytes();
    let mut ipv4 = [
        0x45, 0x00, ip_len_hi, ip_len_lo, // version 4, 20-byte header; total length
        0x00, 0x00, 0x00, 0x00, // identification; no fragmentation
        64, 17, 0x00, 0x00, // TTL, protocol UDP, checksum (below)
        10, 0, 0, 1, // source
        10, 0, 0, 2, // destination
    ];
    let checksum = ringtap_core::checksum::internet(&ipv4).to_be_bytes();
    ipv4[10..12].copy_from_slice(&checksum);
    Ok(FrameParts {
        ipv4,
        udp_len,
        payload,
        on_wire,
    })
}

/// The frame trafgen sends for flow `flow` (its source port's low byte).
fn bench_frame(frame_bytes: u16, flow: u8) -> Result<Vec<u8>, String> {
    let parts = frame_parts(frame_bytes)?;
    let mut frame = Vec::with_capacity(usize::from(parts.on_wire));
    frame.extend_from_slice(&DESTINATION_MAC);
    frame.extend_from_slice(&GENERATOR_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&parts.ipv4);
    frame.extend_from_slice(&[0x04, flow, 0x00, 0x09]);
    frame.extend_from_slice(&parts.udp_len.to_be_bytes());
    frame.extend_from_slice(&[0x00, 0x00]);
    frame.resize(usize::from(parts.on_wire), 0);
    Ok(frame)
}

/// A pcap file of the 256 flows' frames, for `ringtap replay --pps`.
fn replay_pcap(frame_bytes: u16) -> Result<Vec<u8>, String> {
    use ringtap_core::pcap::{PcapWriter, LINKTYPE_ETHERNET};
    // Writing into a Vec cannot fail (the error type is Infallible).
    let Ok(mut w) = PcapWriter::new(Vec::new(), 65535, LINKTYPE_ETHERNET);
    for flow in 0..=255u8 {
        let frame = bench_frame(frame_bytes, flow)?;
        let Ok(_) = w.write_packet(0, frame.len() as u32, &frame);
    }
    Ok(w.into_inner())
}

fn replay_pcap_path(out_dir: &Path, frame_bytes: u16) -> PathBuf {
    out_dir.join(format!("replay-{frame_bytes}B.pcap"))
}

fn trafgen_config(frame_bytes: u16) -> Result<String, String> {
    let FrameParts {
        ipv4,
        udp_len,
        payload,
        on_wire,
    } = frame_parts(frame_bytes)?;
    let [udp_len_hi, udp_len_lo] = udp_len.to_be_bytes();

    let mut text = String::new();
    let _ = writeln!(
        text,
        "/* cargo xtask bench: {frame_bytes}-byte frames ({on_wire} bytes + FCS).\n   \
         Ethernet, IPv4 10.0.0.1 -> 10.0.0.2, UDP 1024..1279 -> 9; the source\n   \
         port's low byte counts up per frame, so 256 flows take turns. */\n{{"
    );
    let _ = writeln!(text, "  /* Ethernet: destination, source, type IPv4 */");
    let _ = writeln!(text, "  {},", hex_list(&DESTINATION_MAC));
    let _ = writeln!(text, "  {},", hex_list(&GENERATOR_MAC));
    let _ = writeln!(text, "  {},", hex_list(&[0x08, 0x00]));
    let _ = writeln!(text, "  /* IPv4 header, checksum included */");
    let _ = writeln!(text, "  {},", hex_list(&ipv4[..10]));
    let _ = writeln!(text, "  {},", hex_list(&ipv4[10..]));
    let _ = writeln!(
        text,
        "  /* UDP: source port 0x04xx, destination 9, length, no checksum */"
    );
    let _ = writeln!(
        text,
        "  0x04, dinc(0, 255, 1), 0x00, 0x09, {}, 0x00, 0x00,",
        hex_list(&[udp_len_hi, udp_len_lo])
    );
    let _ = writeln!(text, "  fill(0x00, {payload})");
    let _ = writeln!(text, "}}");
    Ok(text)
}

fn hex_list(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("0x{b:02x}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Frames (or anything) per second with three significant digits:
/// `250k`, `1M`, `1.23M`, `99.5k`, `512`.
fn format_rate(per_second: f64) -> String {
    let (value, unit) = if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e3 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

/// The middle value (the mean of the middle two for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The namespaces with their veth pairs, and the janitor that removes them.
#[derive(Debug)]
struct Lab {
    gen: String,
    dut: String,
    sink: String,
    dut0_ifindex: u32,
    /// Kills what still runs in the namespaces, deletes them and restores
    /// net.core.wmem_default.
    janitor: Janitor,
}

/// A shell in its own process group (so Ctrl-C does not reach it) that
/// waits for its stdin to close, which happens when this process ends for
/// any reason or calls [`Janitor::clean_up`], then runs its script.
#[derive(Debug)]
struct Janitor {
    shell: Child,
    /// What it cleans up, for messages.
    what: &'static str,
}

impl Janitor {
    /// `script` starts with `read -r _`; `args` are its `$1`, `$2`, ...
    fn start<S: AsRef<OsStr>>(what: &'static str, script: &str, args: &[S]) -> Result<Janitor> {
        let shell = Command::new("sh")
            .args(["-c", script, "janitor"])
            .args(args)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                Error::Failed(format!(
                    "cannot start the cleanup shell `sh` for the {what}: {e}"
                ))
            })?;
        Ok(Janitor { shell, what })
    }

    /// Cleans up now and waits until that is done; again is a no-op.
    fn clean_up(&mut self) {
        // Closing its stdin is the signal.
        drop(self.shell.stdin.take());
        if let Err(err) = self.shell.wait() {
            eprintln!(
                "warning: cleanup shell for the {} failed ({err})",
                self.what
            );
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.clean_up();
    }
}

const JANITOR_SCRIPT: &str = r#"
read -r _
wmem=$1
shift
for ns in "$@"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; fi
    if ip netns delete "$ns" 2>/dev/null; then echo "bench: deleted network namespace $ns"; fi
done
if [ "$(cat /proc/sys/net/core/wmem_default)" != "$wmem" ]; then
    sysctl -qw "net.core.wmem_default=$wmem" && echo "bench: net.core.wmem_default back to $wmem"
fi
"#;

impl Lab {
    fn set_up() -> Result<Lab> {
        let pid = std::process::id();
        let [gen, dut, sink] = ["gen", "dut", "sink"].map(|role| format!("rtbench-{role}-{pid}"));
        let wmem_default = read_text(WMEM_DEFAULT)?;
        let original_wmem: u64 = wmem_default.trim().parse().map_err(|_| {
            Error::Failed(format!(
                "{WMEM_DEFAULT} holds {wmem_default:?}, not a number"
            ))
        })?;
        let janitor = Janitor::start(
            "network namespaces",
            JANITOR_SCRIPT,
            &[&original_wmem.to_string(), &gen, &dut, &sink],
        )?;
        let mut lab = Lab {
            gen,
            dut,
            sink,
            dut0_ifindex: 0,
            janitor,
        };
        // From here on, dropping `lab` (also on an early return) cleans up.
        for ns in [&lab.gen, &lab.dut, &lab.sink] {
            Cmd::new("ip").args(["netns", "add", ns]).run()?;
            // Before the veths exist, so they are born without IPv6 and
            // send no router solicitations or DAD probes.
            in_netns(ns)
                .args(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                .arg("net.ipv6.conf.default.disable_ipv6=1")
                .run()?;
        }
        Cmd::new("ip")
            .args(["link", "add", "gen0", "netns", &lab.gen, "type", "veth"])
            .args(["peer", "name", "dut0", "netns", &lab.dut])
            .run()?;
        Cmd::new("ip")
            .args(["link", "add", "dut1", "netns", &lab.dut, "type", "veth"])
            .args(["peer", "name", "sink0", "netns", &lab.sink])
            .run()?;
        // The delay part's floor: generator and sink joined directly.
        Cmd::new("ip")
            .args([
                "link",
                "add",
                delay::FLOOR_GEN,
                "netns",
                &lab.gen,
                "type",
                "veth",
            ])
            .args(["peer", "name", delay::FLOOR_SINK, "netns", &lab.sink])
            .run()?;
        for (ns, link) in [
            (&lab.gen, "gen0"),
            (&lab.dut, "dut0"),
            (&lab.dut, "dut1"),
            (&lab.sink, "sink0"),
            (&lab.gen, delay::FLOOR_GEN),
            (&lab.sink, delay::FLOOR_SINK),
        ] {
            Cmd::new("ip")
                .args(["-n", ns, "link", "set", link, "up"])
                .run()?;
        }
        in_netns(&lab.dut)
            .args(["ethtool", "-K", "dut0", "gro", "off", "lro", "off"])
            .run()?;
        // sysfs shows a namespace's devices only to a process that mounted
        // it from inside, which `ip netns exec` does.
        in_netns(&lab.dut)
            .args(["sh", "-c"])
            .arg(format!(
                "echo {DUT_CPU_MASK} > /sys/class/net/dut0/queues/rx-0/rps_cpus"
            ))
            .run()?;
        let ifindex = sysfs_numbers(&lab.dut, &["dut0/ifindex"])?[0];
        lab.dut0_ifindex = u32::try_from(ifindex)
            .map_err(|_| Error::Failed(format!("dut0 has ifindex {ifindex}, more than 32 bits")))?;
        if original_wmem < SEND_BUFFER_BYTES {
            Cmd::new("sysctl")
                .arg("-qw")
                .arg(format!("net.core.wmem_default={SEND_BUFFER_BYTES}"))
                .run()?;
        }
        Ok(lab)
    }

    /// Frames gen0 sent and had refused, and frames sink0 received.
    fn counters(&self) -> Result<Counters> {
        let gen = sysfs_numbers(
            &self.gen,
            &["gen0/statistics/tx_packets", "gen0/statistics/tx_dropped"],
        )?;
        let sink = sysfs_numbers(&self.sink, &["sink0/statistics/rx_packets"])?;
        Ok(Counters {
            offered: gen[0],
            refused: gen[1],
            delivered: sink[0],
        })
    }

    /// The counters once frames stop moving (checked every 100 ms, for at
    /// most 3 s).
    fn counters_when_drained(&self) -> Result<Counters> {
        let mut last = self.counters()?;
        for _ in 0..30 {
            sleep(Duration::from_millis(100));
            let now = self.counters()?;
            if now == last {
                return Ok(now);
            }
            last = now;
        }
        println!("  warning: frames still arriving at sink0 3 s after the generator stopped");
        Ok(last)
    }

    /// Waits until `bridge` has a packet socket bound to dut0, then a little
    /// longer for its rings.
    fn wait_until_listening(&self, bridge: &mut Process) -> Result {
        let net_packet = format!("/proc/{}/net/packet", bridge.child.id());
        for _ in 0..250 {
            bridge.check_running()?;
            let sockets = fs::read_to_string(&net_packet).unwrap_or_default();
            if has_packet_socket_on(&sockets, self.dut0_ifindex) {
                sleep(SETTLE);
                return bridge.check_running();
            }
            sleep(Duration::from_millis(20));
        }
        Err(Error::Failed(format!(
            "`{}` bound no packet socket to dut0 within 5 s; its output is in {}",
            bridge.shown,
            bridge.log.display()
        )))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.janitor.clean_up();
        for ns in [&self.gen, &self.dut, &self.sink] {
            if Path::new("/run/netns").join(ns).exists() {
                eprintln!("warning: network namespace {ns} is still there: `ip netns delete {ns}`");
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    /// gen0 tx_packets: frames handed to dut0.
    offered: u64,
    /// gen0 tx_dropped: frames dut0's receive queue refused; trafgen
    /// retries these, so they are back pressure, not loss.
    refused: u64,
    /// sink0 rx_packets: frames the bridge got to the sink.
    delivered: u64,
}

/// `ip netns exec NS ...`
fn in_netns(ns: &str) -> Cmd {
    Cmd::new("ip").args(["netns", "exec", ns])
}

/// Numbers from files under `/sys/class/net` of namespace `ns`, read by a
/// process pinned to the generator CPU so it never runs on the bridge CPU.
fn sysfs_numbers(ns: &str, files: &[&str]) -> Result<Vec<u64>> {
    let cmd = Cmd::new("taskset")
        .args([
            "-c",
            &GENERATOR_CPU.to_string(),
            "ip",
            "netns",
            "exec",
            ns,
            "cat",
        ])
        .args(files.iter().map(|f| format!("/sys/class/net/{f}")))
        .quiet();
    let shown = cmd.shown();
    let out = cmd.output()?;
    parse_numbers(&out, files.len()).ok_or_else(|| {
        Error::Failed(format!(
            "`{shown}` printed {out:?}, expected {} numbers",
            files.len()
        ))
    })
}

/// A program running in the background, its output going to a log file;
/// killed if still running when dropped.
#[derive(Debug)]
struct Process {
    child: Child,
    shown: String,
    log: PathBuf,
}

impl Process {
    fn start(cmd: Cmd, log: PathBuf) -> Result<Process> {
        cmd.announce();
        let shown = cmd.shown();
        let cannot = |e| Error::Failed(format!("cannot create {}: {e}", log.display()));
        let stdout = fs::File::create(&log).map_err(cannot)?;
        // One open file shared by both streams, so they append to one
        // offset instead of writing over each other from two.
        let stderr = stdout.try_clone().map_err(cannot)?;
        let mut command = cmd.command;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::Failed(format!("cannot run `{shown}`: {e}")))?;
        Ok(Process { child, shown, log })
    }

    fn check_running(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Failed(format!(
                "`{}` exited early ({status}); its output is in {}",
                self.shown,
                self.log.display()
            ))),
            Err(e) => Err(Error::Failed(format!("cannot watch `{}`: {e}", self.shown))),
        }
    }

    /// Sends `signal` (a name for kill(1): INT, TERM).
    fn signal(&self, signal: &str) -> Result {
        Cmd::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .quiet()
            .output()
            .map(drop)
    }

    fn wait_for_exit(&mut self, within: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
                Ok(None) => {
                    return Err(Error::Failed(format!(
                        "`{}` did not exit within {} s; its output is in {}",
                        self.shown,
                        within.as_secs(),
                        self.log.display()
                    )))
                }
                Err(e) => {
                    return Err(Error::Failed(format!(
                        "cannot wait for `{}`: {e}",
                        self.shown
                    )))
                }
            }
        }
    }

    /// utime + stime so far, in clock ticks.
    fn cpu_ticks(&self) -> Result<u64> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = read_text(&path)?;
        process_ticks(&stat)
            .ok_or_else(|| Error::Failed(format!("{path}: no utime/stime in {stat:?}")))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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

/// A bridge started for one run.
#[derive(Debug)]
struct Running {
    dut: Dut,
    /// The bridge's process (none for the kernel bridge).
    process: Option<Process>,
    /// ringtap's counters file.
    stats_file: PathBuf,
}

impl Bench<'_> {
    /// Starts `dut` between dut0 and dut1 and waits until it listens.
    fn start_dut(&self, dut: Dut, run_name: &str) -> Result<Running> {
        let lab = self.lab;
        let log = |program: &str| {
            self.out_dir
                .join("logs")
                .join(format!("{program}-{run_name}.log"))
        };
        let stats_file = self
            .out_dir
            .join("stats")
            .join(format!("{}-{run_name}.json", dut.name()));
        let mut process = match dut.ringtap_args() {
            Some(mode_args) => {
                let ringtap = self
                    .ringtap
                    .ok_or_else(|| Error::Failed("the ringtap binary was not built".to_string()))?;
                // Stopped with SIGTERM; --duration only bounds a run that
                // loses track of it.
                let duration = (self.seconds + 30).to_string();
                let cmd = in_netns(&lab.dut)
                    .args(["taskset", "-c", &DUT_CPU.to_string()])
                    .arg(ringtap)
                    .args(["bridge", "--in", "dut0", "--out", "dut1", "--workers", "1"])
                    .args(mode_args)
                    .args(self.ringtap_extra)
                    .args(["--duration", &duration, "--stats-file"])
                    .arg(&stats_file);
                Some(Process::start(cmd, log(dut.name()))?)
            }
            None if dut == Dut::NetsniffNg => {
                let cmd = in_netns(&lab.dut)
                    .args(["taskset", "-c", &DUT_CPU.to_string()])
                    .args(["netsniff-ng", "--in", "dut0", "--out", "dut1"])
                    .args(["--ring-size", NETSNIFF_RING_SIZE])
                    .args(["--silent", "--notouch-irq", "--no-sock-mem"]);
                Some(Process::start(cmd, log("netsniff-ng"))?)
            }
            None => {
                let ip = |args: &[&str]| Cmd::new("ip").args(["-n", &lab.dut]).args(args).run();
                ip(&["link", "add", "br0", "type", "bridge"])?;
                ip(&["link", "set", "dut0", "master", "br0"])?;
                ip(&["link", "set", "dut1", "master", "br0"])?;
                ip(&["link", "set", "br0", "up"])?;
                sleep(SETTLE);
                None
            }
        };
        if let Some(process) = &mut process {
            lab.wait_until_listening(process)?;
        }
        Ok(Running {
            dut,
            process,
            stats_file,
        })
    }

    /// Stops what [`Bench::start_dut`] started; it must have run cleanly.
    fn stop_dut(&self, running: Running) -> Result {
        let Running {
            dut,
            process,
            stats_file,
        } = running;
        match process {
            Some(mut bridge) => {
                bridge.check_running()?;
                let ringtap = dut.ringtap_args().is_some();
                bridge.signal(if ringtap { "TERM" } else { "INT" })?;
                let status = bridge.wait_for_exit(Duration::from_secs(5))?;
                if !status.success() {
                    return Err(Error::Failed(format!(
                        "`{}` failed ({status}); its output is in {}",
                        bridge.shown,
                        bridge.log.display()
                    )));
                }
                if ringtap && !stats_file.exists() {
                    return Err(Error::Failed(format!(
                        "ringtap wrote no stats file {}; its output is in {}",
                        stats_file.display(),
                        bridge.log.display()
                    )));
                }
                Ok(())
            }
            None => Cmd::new("ip")
                .args(["-n", &self.lab.dut, "link", "del", "br0"])
                .run(),
        }
    }

    fn measure(&self, dut: Dut, case: Case, repetition: u32) -> Result<Sample> {
        let lab = self.lab;
        let run_name = format!("{}B-{}-r{repetition}", case.frame_bytes, case.load.slug());
        let generator_log = self
            .out_dir
            .join("logs")
            .join(format!("generator-{run_name}.log"));
        let running = self.start_dut(dut, &run_name)?;
        let before = lab.counters()?;
        let cpus_before = cpu_pair()?;
        let process_before = running
            .process
            .as_ref()
            .map(Process::cpu_ticks)
            .transpose()?;
        let seconds = self.run_generator(case, generator_log.clone())?;
        let after = lab.counters_when_drained()?;
        let cpus_after = cpu_pair()?;
        let process_after = running
            .process
            .as_ref()
            .map(Process::cpu_ticks)
            .transpose()?;
        self.stop_dut(running)?;

        if after.offered == before.offered {
            return Err(Error::Failed(format!(
                "the generator sent no frames; its output is in {}",
                generator_log.display()
            )));
        }
        let cpu_seconds = |i: usize, pick: fn(&CpuTicks) -> u64| {
            pick(&cpus_after[i]).saturating_sub(pick(&cpus_before[i])) as f64
                / self.ticks_per_second
        };
        Ok(Sample {
            seconds,
            offered: after.offered - before.offered,
            refused: after.refused.saturating_sub(before.refused),
            delivered: after.delivered.saturating_sub(before.delivered),
            bridge_cpu_s: cpu_seconds(1, |t| t.busy),
            bridge_cpu_interrupt_s: cpu_seconds(1, |t| t.interrupt),
            generator_cpu_s: cpu_seconds(0, |t| t.busy),
            generator_cpu_interrupt_s: cpu_seconds(0, |t| t.interrupt),
            process_s: process_before
                .zip(process_after)
                .map(|(b, a)| a.saturating_sub(b) as f64 / self.ticks_per_second),
        })
    }

    /// Offers the load for the configured time; returns how long it ran.
    /// A fixed rate comes from `ringtap replay --pps`, which spaces the
    /// frames evenly (trafgen's `--rate` sends each second's frames in one
    /// burst at full speed); a flood from trafgen.
    fn run_generator(&self, case: Case, log: PathBuf) -> Result<f64> {
        let started = Instant::now();
        let (cmd, name, expected) = match case.load {
            Load::Rate(fps) => (self.replay(case, fps)?, "ringtap replay", 0),
            // `timeout` exits with 124 when it stopped trafgen, as planned.
            Load::Flood => (self.trafgen(case), "trafgen", 124),
        };
        let mut generator = Process::start(cmd, log)?;
        let status = generator.wait_for_exit(Duration::from_secs(u64::from(self.seconds) + 15))?;
        let seconds = started.elapsed().as_secs_f64();
        if status.code() != Some(expected) {
            return Err(Error::Failed(format!(
                "{name} ended ({status}) before its {} s were up; its output is in {}",
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
            .arg(replay_pcap_path(self.out_dir, case.frame_bytes))
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
            .arg(trafgen_config_path(self.out_dir, case.frame_bytes))
            .args(["--cpus", "1", "--no-sock-mem", "--notouch-irq"])
    }
}

/// One run of one bridge at one load.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    /// How long trafgen ran.
    seconds: f64,
    offered: u64,
    refused: u64,
    delivered: u64,
    /// Busy time of the bridge CPU from just before trafgen started until
    /// the frames stopped moving.
    bridge_cpu_s: f64,
    /// The irq + softirq part of it.
    bridge_cpu_interrupt_s: f64,
    generator_cpu_s: f64,
    /// Near zero when dut0's receive processing really runs on the bridge
    /// CPU.
    generator_cpu_interrupt_s: f64,
    /// utime + stime of the bridge process over the same span (none for the
    /// kernel bridge). Without CONFIG_IRQ_TIME_ACCOUNTING this includes
    /// softirq work done while the process was running, which is in
    /// `bridge_cpu_interrupt_s` too.
    process_s: Option<f64>,
}

impl Sample {
    fn offered_rate(&self) -> f64 {
        self.offered as f64 / self.seconds
    }

    fn delivered_rate(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }

    /// The share of offered frames that did not arrive, 0 to 1.
    fn loss(&self) -> f64 {
        if self.offered == 0 {
            return 0.0;
        }
        self.offered.saturating_sub(self.delivered) as f64 / self.offered as f64
    }

    /// Seconds per million delivered frames (infinite when none arrived).
    fn per_million(&self, cpu_seconds: f64) -> f64 {
        cpu_seconds * 1e6 / self.delivered as f64
    }

    fn describe(&self) -> String {
        let mut line = format!(
            "offered {} fps, delivered {} fps, loss {:.2}%; per Mframe: CPU {DUT_CPU} busy {} s, \
             irq {} s",
            format_rate(self.offered_rate()),
            format_rate(self.delivered_rate()),
            self.loss() * 100.0,
            fixed(self.per_million(self.bridge_cpu_s)),
            fixed(self.per_million(self.bridge_cpu_interrupt_s)),
        );
        if let Some(process_s) = self.process_s {
            let _ = write!(line, ", process {} s", fixed(self.per_million(process_s)));
        }
        line
    }
}

/// Two decimals, or `-` when there is no finite value.
fn fixed(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "-".to_string()
    }
}

/// The medians over one row's repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    offered_rate: f64,
    delivered_rate: f64,
    loss: f64,
    cpu_per_million: f64,
    interrupt_per_million: f64,
    process_per_million: Option<f64>,
}

fn summarize(samples: &[Sample]) -> Option<Summary> {
    let of = |metric: fn(&Sample) -> f64| median(&samples.iter().map(metric).collect::<Vec<_>>());
    let process: Option<Vec<f64>> = samples
        .iter()
        .map(|s| s.process_s.map(|p| s.per_million(p)))
        .collect();
    Some(Summary {
        offered_rate: of(Sample::offered_rate)?,
        delivered_rate: of(Sample::delivered_rate)?,
        loss: of(Sample::loss)?,
        cpu_per_million: of(|s| s.per_million(s.bridge_cpu_s))?,
        interrupt_per_million: of(|s| s.per_million(s.bridge_cpu_interrupt_s))?,
        process_per_million: process.and_then(|values| median(&values)),
    })
}

/// One bridge at one load, over the repetitions.
#[derive(Debug)]
struct Row {
    case: Case,
    dut: Dut,
    samples: Vec<Sample>,
}

fn table(rows: &[Row]) -> String {
    let mut text = format!(
        "{:<7} {:<11} {:<14} {:>8} {:>9} {:>8} {:>8} {:>8} {:>12}\n",
        "frame",
        "load",
        "bridge",
        "offered",
        "delivered",
        "loss",
        "CPU s/M",
        "irq s/M",
        "process s/M"
    );
    for row in rows {
        let Some(s) = summarize(&row.samples) else {
            continue;
        };
        let _ = writeln!(
            text,
            "{:<7} {:<11} {:<14} {:>8} {:>9} {:>7.2}% {:>8} {:>8} {:>12}",
            format!("{} B", row.case.frame_bytes),
            row.case.load.label(),
            row.dut.name(),
            format_rate(s.offered_rate),
            format_rate(s.delivered_rate),
            s.loss * 100.0,
            fixed(s.cpu_per_million),
            fixed(s.interrupt_per_million),
            s.process_per_million.map_or("-".to_string(), fixed),
        );
    }
    text.push_str(
        "Medians; rates in frames/s. Per million delivered frames: CPU = busy seconds of the \
         bridge CPU\n(all of it, other programs included), irq = its irq + softirq part (the \
         kernel's receive and\nforwarding work), process = the bridge process alone (may \
         include softirq work done in its time).\n",
    );
    text
}

/// Each bridge against netsniff-ng and the kernel bridge, load by load.
fn ratios(rows: &[Row]) -> String {
    let mut text = String::new();
    for case in CASES {
        let summary = |dut: Dut| {
            rows.iter()
                .find(|r| r.case == case && r.dut == dut)
                .and_then(|r| summarize(&r.samples))
        };
        for (i, &dut) in ALL_DUTS.iter().enumerate() {
            let Some(ours) = summary(dut) else { continue };
            for &reference in &ALL_DUTS[i + 1..] {
                let Some(theirs) = summary(reference) else {
                    continue;
                };
                let _ = writeln!(
                    text,
                    "{:<19} {} / {}: delivered {}, CPU per frame {}",
                    case.label(),
                    dut.name(),
                    reference.name(),
                    ratio(ours.delivered_rate, theirs.delivered_rate),
                    ratio(ours.cpu_per_million, theirs.cpu_per_million),
                );
            }
        }
    }
    if text.is_empty() {
        return text;
    }
    format!("Ratios (delivered: higher is better; CPU per frame: lower is better):\n{text}")
}

fn ratio(ours: f64, theirs: f64) -> String {
    let r = ours / theirs;
    if r.is_finite() {
        format!("{r:.2}x")
    } else {
        "-".to_string()
    }
}

/// ringtap's throughput aims, judged on the medians: lossless (under 0.1%)
/// at the 1M step with one worker, as far as the kernel bridge goes here;
/// flooded, at least 70% of what the kernel bridge delivers.
fn ringtap_aims(rows: &[Row]) -> Option<String> {
    let summary = |dut: Dut, frame_bytes: u16, load: Load| {
        rows.iter()
            .find(|r| r.dut == dut && r.case == Case { frame_bytes, load })
            .and_then(|r| summarize(&r.samples))
    };
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    let mut text = String::new();
    if let Some(s) = summary(Dut::Ringtap, 64, Load::Rate(1_000_000)) {
        let short = if s.offered_rate < 0.95e6 {
            format!(
                " (the generator offered {} fps of the 1M)",
                format_rate(s.offered_rate)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            text,
            "  lossless (under 0.1%) at the 1M fps step with one worker: loss {:.2}%{short}: {}",
            s.loss * 100.0,
            verdict(s.loss < 0.001)
        );
    }
    for frame_bytes in [64, 1500] {
        let (Some(ours), Some(kernel)) = (
            summary(Dut::Ringtap, frame_bytes, Load::Flood),
            summary(Dut::KernelBridge, frame_bytes, Load::Flood),
        ) else {
            continue;
        };
        let share = ours.delivered_rate / kernel.delivered_rate;
        let _ = writeln!(
            text,
            "  flooded ({frame_bytes} B): delivers {} fps, {:.0}% of the kernel bridge's {} fps \
             (aim: at least 70%): {}",
            format_rate(ours.delivered_rate),
            share * 100.0,
            format_rate(kernel.delivered_rate),
            verdict(share >= 0.7)
        );
    }
    (!text.is_empty()).then(|| format!("Aims for ringtap:\n{text}"))
}

/// What the JSON file records about the run itself.
#[derive(Debug)]
struct RunInfo {
    kernel: String,
    cpus: usize,
    seconds: u32,
    repetitions: u32,
    idle_busy: [f64; 2],
}

/// The opening brace and the run's facts, each line ending in a comma;
/// `dut_cpu_key` names the CPU of the programs under test.
fn json_run_info(info: &RunInfo, dut_cpu_key: &str) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"kernel\": {},", json_string(&info.kernel));
    let _ = writeln!(out, "  \"cpus\": {},", info.cpus);
    let _ = writeln!(out, "  \"generator_cpu\": {GENERATOR_CPU},");
    let _ = writeln!(out, "  {}: {DUT_CPU},", json_string(dut_cpu_key));
    let _ = writeln!(
        out,
        "  \"idle_busy_percent\": [{}, {}],",
        json_number(info.idle_busy[0]),
        json_number(info.idle_busy[1])
    );
    let _ = writeln!(out, "  \"seconds_per_run\": {},", info.seconds);
    let _ = writeln!(out, "  \"repetitions\": {},", info.repetitions);
    let _ = writeln!(out, "  \"frame_size_counts_fcs\": true,");
    out
}

fn to_json(info: &RunInfo, rows: &[Row]) -> String {
    let mut out = json_run_info(info, "bridge_cpu");
    let _ = writeln!(out, "  \"results\": [");
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "    {{");
        let _ = writeln!(out, "      \"bridge\": {},", json_string(row.dut.name()));
        let _ = writeln!(out, "      \"frame_bytes\": {},", row.case.frame_bytes);
        let target = match row.case.load {
            Load::Rate(fps) => fps.to_string(),
            Load::Flood => "null".to_string(),
        };
        let _ = writeln!(out, "      \"target_fps\": {target},");
        if let Some(s) = summarize(&row.samples) {
            let _ = writeln!(
                out,
                "      \"median\": {{\"offered_fps\": {}, \"delivered_fps\": {}, \"loss\": {}, \
                 \"cpu_s_per_mframe\": {}, \"irq_s_per_mframe\": {}, \"process_s_per_mframe\": {}}},",
                json_number(s.offered_rate),
                json_number(s.delivered_rate),
                json_number(s.loss),
                json_number(s.cpu_per_million),
                json_number(s.interrupt_per_million),
                s.process_per_million.map_or("null".to_string(), json_number),
            );
        }
        let _ = writeln!(out, "      \"runs\": [");
        for (j, s) in row.samples.iter().enumerate() {
            let comma = if j + 1 < row.samples.len() { "," } else { "" };
            let _ = writeln!(
                out,
                "        {{\"seconds\": {}, \"offered\": {}, \"refused\": {}, \"delivered\": {}, \
                 \"bridge_cpu_s\": {}, \"bridge_cpu_interrupt_s\": {}, \"generator_cpu_s\": {}, \
                 \"generator_cpu_interrupt_s\": {}, \"process_s\": {}}}{comma}",
                json_number(s.seconds),
                s.offered,
                s.refused,
                s.delivered,
                json_number(s.bridge_cpu_s),
                json_number(s.bridge_cpu_interrupt_s),
                json_number(s.generator_cpu_s),
                json_number(s.generator_cpu_interrupt_s),
                s.process_s.map_or("null".to_string(), json_number),
            );
        }
        let comma = if i + 1 < rows.len() { "," } else { "" };
        let _ = writeln!(out, "      ]");
        let _ = writeln!(out, "    }}{comma}");
    }
    out.push_str("  ]\n}\n");
    out
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number, or `null` for infinity and NaN, which JSON lacks.
fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "null".to_string()
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

    const PROC_STAT: &str = "\
cpu  300 5 200 9000 40 7 60 3 0 0
cpu0 100 0 50 4500 20 2 10 1 0 0
cpu1 200 5 150 4500 20 5 50 2 7 0
intr 123 0 0
cpu_extra 1 2 3
ctxt 456
";

    #[test]
    fn proc_stat_busy_excludes_idle_and_iowait() {
        assert_eq!(
            cpu_ticks(PROC_STAT, 0),
            Some(CpuTicks {
                busy: 100 + 50 + 2 + 10 + 1,
                interrupt: 12
            })
        );
        assert_eq!(
            cpu_ticks(PROC_STAT, 1),
            Some(CpuTicks {
                busy: 200 + 5 + 150 + 5 + 50 + 2,
                interrupt: 55
            })
        );
        assert_eq!(cpu_ticks(PROC_STAT, 2), None);
        assert_eq!(cpu_ticks("cpu0 1 2 3 4 5 6 7\n", 0), None, "steal missing");
        assert_eq!(cpu_ticks("cpu0 1 2 x 4 5 6 7 8\n", 0), None);
        assert_eq!(
            cpu_count(PROC_STAT),
            2,
            "neither `cpu` nor `cpu_extra` is a CPU"
        );
    }

    #[test]
    fn process_times_count_fields_after_the_name() {
        // Fields 14 and 15 (utime 250, stime 70); the name holds `) (` and spaces.
        let stat = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 3 0 \
                    1000 2000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(process_ticks(stat), Some(320));
        assert_eq!(process_ticks("4242 (a) S 1 2 3"), None);
        assert_eq!(process_ticks("no parenthesis"), None);
    }

    #[test]
    fn packet_sockets_are_found_by_interface_index() {
        let net_packet = "\
sk               RefCnt Type Proto  Iface R Rmem   User   Inode
ffff8a0a41e2a000 3      3    0003   5     1 0      0      51234
ffff8a0a41e2b000 3      3    0000   6     1 0      0      51235
";
        assert!(has_packet_socket_on(net_packet, 5));
        assert!(has_packet_socket_on(net_packet, 6));
        assert!(
            !has_packet_socket_on(net_packet, 3),
            "Proto 0003 is not an index"
        );
        assert!(!has_packet_socket_on(net_packet.lines().next().unwrap(), 5));
    }

    #[test]
    fn sysfs_numbers_are_one_per_line() {
        assert_eq!(parse_numbers("12\n0\n", 2), Some(vec![12, 0]));
        assert_eq!(parse_numbers("12\n", 2), None);
        assert_eq!(parse_numbers("12\n-1\n", 2), None);
        assert_eq!(parse_numbers("", 0), Some(vec![]));
    }

    /// The bytes a trafgen configuration of ours describes, with the
    /// counter shown as 0x00.
    fn config_bytes(config: &str) -> Vec<u8> {
        let mut body =
            config[config.find('{').unwrap() + 1..config.rfind('}').unwrap()].to_string();
        while let Some(start) = body.find("/*") {
            let end = body[start..].find("*/").unwrap() + start + 2;
            body.replace_range(start..end, "");
        }
        let body = body.replace("dinc(0, 255, 1)", "0x00");
        let (bytes, fill) = body.split_once("fill(0x00, ").unwrap();
        let mut out: Vec<u8> = bytes
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| u8::from_str_radix(t.strip_prefix("0x").unwrap(), 16).unwrap())
            .collect();
        let fill: usize = fill.trim().trim_end_matches(')').parse().unwrap();
        out.resize(out.len() + fill, 0);
        out
    }

    #[test]
    fn replay_sends_the_frames_trafgen_sends() {
        use ringtap_core::pcapng::{CaptureReader, Record};
        for frame_bytes in [64u16, 1500] {
            let flow0 = bench_frame(frame_bytes, 0).unwrap();
            assert_eq!(flow0, config_bytes(&trafgen_config(frame_bytes).unwrap()));
            let pcap = replay_pcap(frame_bytes).unwrap();
            let packets: Vec<Vec<u8>> = CaptureReader::<'_>::new(&pcap)
                .unwrap()
                .filter_map(|r| match r.unwrap() {
                    Record::Packet { data, .. } => Some(data.to_vec()),
                    _ => None,
                })
                .collect();
            assert_eq!(packets.len(), 256);
            for (flow, p) in packets.iter().enumerate() {
                assert_eq!(p, &bench_frame(frame_bytes, flow as u8).unwrap());
                assert_eq!(p[35], flow as u8, "source port low byte");
            }
        }
    }

    #[test]
    fn trafgen_frames_have_the_size_and_headers_asked_for() {
        for (frame_bytes, ip_len) in [(64u16, 46u16), (1500, 1482), (1518, 1500)] {
            let bytes = config_bytes(&trafgen_config(frame_bytes).unwrap());
            assert_eq!(
                bytes.len(),
                usize::from(frame_bytes - FCS_LEN),
                "{frame_bytes}"
            );
            assert_eq!(bytes[12..14], [0x08, 0x00], "IPv4");
            assert_eq!(bytes[16..18], ip_len.to_be_bytes(), "IPv4 total length");
            assert_eq!(
                ringtap_core::checksum::internet(&bytes[14..34]),
                0,
                "IPv4 checksum"
            );
            assert_eq!(bytes[34], 0x04, "source port 0x04xx");
            assert_eq!(bytes[36..38], [0x00, 0x09], "destination port 9");
            assert_eq!(bytes[38..40], (ip_len - 20).to_be_bytes(), "UDP length");
            assert_eq!(bytes[40..42], [0, 0], "no UDP checksum");
        }
        assert!(trafgen_config(63).is_err());
        assert!(trafgen_config(1519).is_err());
    }

    #[test]
    fn rates_have_three_significant_digits() {
        for (rate, text) in [
            (250_000.0, "250k"),
            (1_000_000.0, "1M"),
            (1_234_567.0, "1.23M"),
            (99_512.0, "99.5k"),
            (141_234.0, "141k"),
            (20_800.0, "20.8k"),
            (512.0, "512"),
            (0.0, "0"),
        ] {
            assert_eq!(format_rate(rate), text, "{rate}");
        }
        assert_eq!(Load::Rate(1_000_000).label(), "1M fps");
        assert_eq!(Load::Flood.slug(), "flood");
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::INFINITY, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }

    fn sample(delivered: u64, process_s: Option<f64>) -> Sample {
        Sample {
            seconds: 2.0,
            offered: 500_000,
            refused: 0,
            delivered,
            bridge_cpu_s: 1.0,
            bridge_cpu_interrupt_s: 0.5,
            generator_cpu_s: 2.0,
            generator_cpu_interrupt_s: 0.0,
            process_s,
        }
    }

    #[test]
    fn summaries_are_medians_per_metric() {
        let samples = [
            sample(500_000, Some(0.2)),
            sample(250_000, Some(0.3)),
            sample(0, Some(0.4)),
        ];
        let s = summarize(&samples).unwrap();
        assert_eq!(s.offered_rate, 250_000.0);
        assert_eq!(s.delivered_rate, 125_000.0);
        assert_eq!(s.loss, 0.5);
        assert_eq!(s.cpu_per_million, 4.0, "median of 2, 4 and infinity");
        assert_eq!(s.interrupt_per_million, 2.0);
        assert_eq!(s.process_per_million, Some(1.2));
        assert_eq!(
            summarize(&[sample(1, None)]).unwrap().process_per_million,
            None
        );
        assert_eq!(summarize(&[]), None);
        assert_eq!(fixed(sample(0, None).per_million(1.0)), "-");
    }

    fn row(dut: Dut, case: Case, delivered: u64, bridge_cpu_s: f64) -> Row {
        Row {
            case,
            dut,
            samples: vec![Sample {
                bridge_cpu_s,
                ..sample(delivered, None)
            }],
        }
    }

    #[test]
    fn ratios_compare_each_bridge_with_those_after_it() {
        let case = CASES[0];
        let rows = [
            row(Dut::Ringtap, case, 500_000, 0.5),
            row(Dut::NetsniffNg, case, 250_000, 1.0),
            row(Dut::KernelBridge, case, 500_000, 0.25),
        ];
        let text = ratios(&rows);
        assert!(text.contains("ringtap / netsniff-ng: delivered 2.00x, CPU per frame 0.25x"));
        assert!(text.contains("ringtap / kernel-bridge: delivered 1.00x, CPU per frame 2.00x"));
        assert!(text.contains("netsniff-ng / kernel-bridge: delivered 0.50x, CPU per frame 8.00x"));
        assert!(!text.contains("kernel-bridge / "));
        assert_eq!(ratios(&rows[..1]), "");
    }

    #[test]
    fn aims_are_judged_on_ringtap_medians() {
        let at = |frame_bytes, load| Case { frame_bytes, load };
        let rows = [
            row(Dut::Ringtap, at(64, Load::Rate(1_000_000)), 500_000, 0.5),
            row(Dut::Ringtap, at(64, Load::Flood), 200_000, 0.5),
            row(Dut::KernelBridge, at(64, Load::Flood), 400_000, 0.5),
        ];
        let text = ringtap_aims(&rows).unwrap();
        assert!(
            text.contains(
                "lossless (under 0.1%) at the 1M fps step with one worker: loss 0.00% \
             (the generator offered 250k fps of the 1M): met"
            ),
            "{text}"
        );
        assert!(
            text.contains("flooded (64 B): delivers 100k fps, 50% of the kernel bridge's 200k fps"),
            "{text}"
        );
        assert!(text.contains("(aim: at least 70%): NOT met"), "{text}");
        assert!(ringtap_aims(&[row(Dut::NetsniffNg, CASES[0], 1, 1.0)]).is_none());
    }

    #[test]
    fn json_escapes_strings_and_has_no_infinities() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
        assert_eq!(json_number(f64::INFINITY), "null");
        assert_eq!(json_number(0.5), "0.5");
        let info = RunInfo {
            kernel: "6.18".to_string(),
            cpus: 2,
            seconds: 2,
            repetitions: 1,
            idle_busy: [1.0, 2.0],
        };
        let rows = [
            row(Dut::NetsniffNg, CASES[4], 0, 1.0),
            row(Dut::KernelBridge, CASES[1], 1, 1.0),
        ];
        assert_eq!(CASES[4].load, Load::Flood);
        let json = to_json(&info, &rows);
        assert!(json.contains("\"target_fps\": null,"));
        assert!(json.contains("\"target_fps\": 250000,"));
        assert!(json.contains("\"cpu_s_per_mframe\": null"));
        assert!(
            !json.contains(",\n  ]") && !json.contains(",\n      ]"),
            "no trailing commas"
        );
        let depth = json.chars().try_fold(0i32, |depth, c| {
            let depth = match c {
                '{' | '[' => depth + 1,
                '}' | ']' => depth - 1,
                _ => depth,
            };
            (depth >= 0).then_some(depth)
        });
        assert_eq!(depth, Some(0), "balanced brackets");
    }
}
