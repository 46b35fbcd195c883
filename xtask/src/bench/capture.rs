//! The capture part of `cargo xtask bench`: how many 64-byte frames per
//! second `ringtap capture`, `tcpdump -w` and `netsniff-ng --out` write to a
//! file without losing one, and the CPU time a frame costs each of them.
//!
//! The capturer listens on dut0 of the bench's topology, on the CPU that
//! also does dut0's receive processing, while trafgen climbs a ladder of
//! rates. All three get rings of the same size and write to a tmpfs mounted
//! for the run, so that storage is not what is measured. After each run the
//! file is read back with ringtap-core's capture reader, trafgen's frames in
//! it are counted, and it is deleted.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ringtap_core::pcapng::{CaptureError, CaptureReader, Record};

use super::{
    cpu_pair, fixed, format_rate, in_netns, json_number, json_run_info, json_string, median, ratio,
    read_text, Bench, Case, CpuTicks, Janitor, Load, Process, RunInfo, DUT_CPU, GENERATOR_CPU,
    GENERATOR_MAC,
};
use crate::vm::stats::CaptureCounters;
use crate::{Cmd, Error, Result};

/// A capturer under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Capturer {
    Ringtap,
    Tcpdump,
    NetsniffNg,
}

/// In this order in tables; ringtap is compared with the others.
pub(super) const ALL_CAPTURERS: [Capturer; 3] =
    [Capturer::Ringtap, Capturer::Tcpdump, Capturer::NetsniffNg];

impl Capturer {
    pub(super) fn name(self) -> &'static str {
        match self {
            Capturer::Ringtap => "ringtap",
            Capturer::Tcpdump => "tcpdump",
            Capturer::NetsniffNg => "netsniff-ng",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Capturer::Ringtap => "pcapng",
            Capturer::Tcpdump | Capturer::NetsniffNg => "pcap",
        }
    }

    /// The signal (a name for kill(1)) on which it flushes its file, prints
    /// or writes its statistics and exits.
    fn stop_signal(self) -> &'static str {
        match self {
            Capturer::Ringtap => "TERM",
            Capturer::Tcpdump | Capturer::NetsniffNg => "INT",
        }
    }
}

/// The smallest Ethernet frame (counting the FCS): the most frames per
/// second for a given bandwidth, so the per-frame cost dominates.
const FRAME_BYTES: u16 = 64;

/// The offered loads, lowest first: a capturer's lossless rate is read
/// from the bottom up.
const LADDER: [Load; 5] = [
    Load::Rate(100_000),
    Load::Rate(200_000),
    Load::Rate(400_000),
    Load::Rate(800_000),
    Load::Flood,
];

/// Every capturer's ring is the size of ringtap capture's default
/// TPACKET_V3 ring, 32 blocks of 1 MiB (given to ringtap explicitly, so
/// the sizes stay equal if that default changes).
const RING_BLOCK_BYTES: u32 = 1 << 20;
const RING_BLOCKS: u32 = 32;
const RING_BYTES: u32 = RING_BLOCK_BYTES * RING_BLOCKS;

/// How long after trafgen stops a capturer is left running. A TPACKET_V3
/// ring hands a partly filled block over when its timeout expires, and
/// tcpdump's is libpcap's 1000 ms default: stopped sooner, tcpdump exits
/// with the last block's frames unread (its "received by filter" exceeds
/// its "captured").
const LAST_BLOCK_WAIT: Duration = Duration::from_millis(1500);

/// How long a stopped capturer may take to flush its file and exit.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// What issue 4 asks of ringtap's lossless rate, as a multiple of
/// tcpdump's.
const AIM_OVER_TCPDUMP: f64 = 2.0;

/// The tmpfs the capture files go to, mounted for this run and unmounted,
/// contents and all, by a janitor however the run ends.
#[derive(Debug)]
pub(super) struct Scratch {
    dir: PathBuf,
    janitor: Janitor,
}

/// Lazily, so that it also goes when a capturer killed by Ctrl-C has not
/// closed its file yet.
const SCRATCH_JANITOR_SCRIPT: &str = r#"
read -r _
if umount -l "$1" 2>/dev/null; then echo "bench: unmounted the capture tmpfs $1"; fi
rmdir "$1" 2>/dev/null
"#;

impl Scratch {
    /// Mounts a tmpfs at `/tmp/rtbench-capture-PID`, of the default size
    /// (half of RAM; pages are used only as files grow, and each file is
    /// deleted once counted).
    pub(super) fn set_up() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("rtbench-capture-{}", std::process::id()));
        fs::create_dir(&dir)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
        let janitor = Janitor::start("capture tmpfs", SCRATCH_JANITOR_SCRIPT, &[&dir])?;
        let scratch = Scratch { dir, janitor };
        // From here on, dropping `scratch` (also on an early return) cleans up.
        Cmd::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0755,nosuid,nodev"])
            .arg("rtbench-capture")
            .arg(&scratch.dir)
            .run()?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.janitor.clean_up();
        if self.dir.exists() {
            let dir = self.dir.display();
            eprintln!("warning: {dir} is still there: `umount {dir}; rmdir {dir}`");
        }
    }
}

/// Every chosen capturer at every step of the ladder, `repetitions` times,
/// the capturers taking turns at each step.
pub(super) fn measure(
    bench: &Bench<'_>,
    scratch: &Scratch,
    capturers: &[Capturer],
    repetitions: u32,
) -> Result<Vec<Row>> {
    println!(
        "{} s of traffic per run; generator on CPU {GENERATOR_CPU}, capturer on CPU {DUT_CPU}; \
         files on the tmpfs at {}",
        bench.seconds,
        scratch.dir.display()
    );
    let mut rows: Vec<Row> = LADDER
        .iter()
        .flat_map(|&load| {
            capturers.iter().map(move |&capturer| Row {
                load,
                capturer,
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
                "[{done}/{total}] {FRAME_BYTES} B at {}, {}, repetition {repetition}/{repetitions}",
                row.load.label(),
                row.capturer.name(),
            );
            let sample = bench.capture(row.capturer, row.load, repetition, scratch)?;
            println!("  {}", sample.describe());
            row.samples.push(sample);
        }
    }
    Ok(rows)
}

impl Bench<'_> {
    fn capture(
        &self,
        capturer: Capturer,
        load: Load,
        repetition: u32,
        scratch: &Scratch,
    ) -> Result<Sample> {
        let lab = self.lab;
        let run_name = format!("capture-{FRAME_BYTES}B-{}-r{repetition}", load.slug());
        let log = |program: &str| {
            self.out_dir
                .join("logs")
                .join(format!("{program}-{run_name}.log"))
        };
        let file = scratch.dir.join(format!(
            "{}-{run_name}.{}",
            capturer.name(),
            capturer.extension()
        ));
        // On the tmpfs too: ringtap rewrites it every second from the
        // thread that empties the ring, which a busy disk would stall.
        let stats_name = format!("ringtap-{run_name}.json");
        let stats_file = scratch.dir.join(&stats_name);

        let cmd = self.capturer_command(capturer, &file, &stats_file)?;
        let mut process = Process::start(cmd, log(capturer.name()))?;
        lab.wait_until_listening(&mut process)?;

        let before = lab.counters()?;
        let cpus_before = cpu_pair()?;
        let window_started = Instant::now();
        let process_before = process.cpu_ticks()?;
        let case = Case {
            frame_bytes: FRAME_BYTES,
            load,
        };
        let seconds = self.run_generator(case, log("generator"))?;
        let trafgen_stopped = Instant::now();
        let after = lab.counters()?;
        wait_until_idle(&process)?;
        let cpus_after = cpu_pair()?;
        let window_s = window_started.elapsed().as_secs_f64();
        let process_after = process.cpu_ticks()?;
        sleep(LAST_BLOCK_WAIT.saturating_sub(trafgen_stopped.elapsed()));

        process.check_running()?;
        process.signal(capturer.stop_signal())?;
        let status = process.wait_for_exit(EXIT_WITHIN)?;
        if !status.success() {
            return Err(Error::Failed(format!(
                "`{}` failed ({status}); its output is in {}",
                process.shown,
                process.log.display()
            )));
        }
        let output = || read_text(&process.log.display().to_string());
        let kernel_drops = match capturer {
            Capturer::Ringtap => {
                let kept = self.out_dir.join("stats").join(&stats_name);
                move_file(&stats_file, &kept)?;
                let stats = read_text(&kept.display().to_string())?;
                let counters = CaptureCounters::parse(&stats)
                    .map_err(|e| Error::Failed(format!("{}: {e}", kept.display())))?;
                Some(counters.kernel_drops)
            }
            Capturer::Tcpdump => tcpdump_kernel_drops(&output()?),
            Capturer::NetsniffNg => netsniff_kernel_drops(&output()?),
        };
        if kernel_drops.is_none() {
            println!(
                "  warning: {} printed no kernel drop count on exit (see {})",
                capturer.name(),
                process.log.display()
            );
        }
        let in_file = count_file(&file)?;
        fs::remove_file(&file)
            .map_err(|e| Error::Failed(format!("cannot delete {}: {e}", file.display())))?;

        if after.offered == before.offered {
            return Err(Error::Failed(format!(
                "the generator sent no frames; its output is in {}",
                log("generator").display()
            )));
        }
        let cpu_seconds = |pick: fn(&CpuTicks) -> u64| {
            pick(&cpus_after[1]).saturating_sub(pick(&cpus_before[1])) as f64
                / self.ticks_per_second
        };
        Ok(Sample {
            seconds,
            offered: after.offered - before.offered,
            refused: after.refused.saturating_sub(before.refused),
            in_file,
            kernel_drops,
            cpu_s: cpu_seconds(|t| t.busy),
            interrupt_s: cpu_seconds(|t| t.interrupt),
            window_s,
            process_s: process_after.saturating_sub(process_before) as f64 / self.ticks_per_second,
        })
    }

    /// The capturer on the capture CPU, writing to `file`.
    fn capturer_command(&self, capturer: Capturer, file: &Path, stats_file: &Path) -> Result<Cmd> {
        let pinned = in_netns(&self.lab.dut).args(["taskset", "-c", &DUT_CPU.to_string()]);
        Ok(match capturer {
            Capturer::Ringtap => {
                let ringtap = self
                    .ringtap
                    .ok_or_else(|| Error::Failed("the ringtap binary was not built".to_string()))?;
                // Stopped with SIGTERM; --duration only bounds a run that
                // loses track of it.
                let duration = (self.seconds + 30).to_string();
                pinned
                    .arg(ringtap)
                    .args(["capture", "--in", "dut0", "--write"])
                    .arg(file)
                    .args(["--format", "pcapng", "--tpacket", "v3"])
                    .args(["--block-size", &RING_BLOCK_BYTES.to_string()])
                    .args(["--block-nr", &RING_BLOCKS.to_string()])
                    .args(["--duration", &duration, "--stats-file"])
                    .arg(stats_file)
            }
            // -B counts KiB. No --immediate-mode: libpcap would fall back
            // to TPACKET_V2 and wake up for every frame. -Z root: tcpdump
            // would otherwise open the file as user tcpdump.
            Capturer::Tcpdump => pinned
                .args(["tcpdump", "-i", "dut0", "-w"])
                .arg(file)
                .args(["-s", "0", "-B", &(RING_BYTES / 1024).to_string()])
                .args(["-n", "-Z", "root"]),
            Capturer::NetsniffNg => pinned
                .args(["netsniff-ng", "--in", "dut0", "--out"])
                .arg(file)
                .args([
                    "--silent",
                    "--ring-size",
                    &format!("{}MiB", RING_BYTES >> 20),
                ])
                .args(["--notouch-irq", "--no-sock-mem"]),
        })
    }
}

/// Waits until `process` stops using CPU time (two readings 100 ms apart
/// agree), for at most 5 s: by then it has emptied its ring.
fn wait_until_idle(process: &Process) -> Result {
    let mut last = process.cpu_ticks()?;
    for _ in 0..50 {
        sleep(Duration::from_millis(100));
        let now = process.cpu_ticks()?;
        if now == last {
            return Ok(());
        }
        last = now;
    }
    println!(
        "  warning: `{}` still busy 5 s after the generator stopped",
        process.shown
    );
    Ok(())
}

/// Moves `from` to `to` on another file system.
fn move_file(from: &Path, to: &Path) -> Result {
    fs::copy(from, to).map_err(|e| {
        Error::Failed(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })?;
    fs::remove_file(from)
        .map_err(|e| Error::Failed(format!("cannot delete {}: {e}", from.display())))
}

/// trafgen's frames (by their source address) in the pcap or pcapng file
/// at `path`.
fn count_file(path: &Path) -> Result<u64> {
    let bytes = fs::read(path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    generator_frames(&bytes).map_err(|e| {
        Error::Failed(format!(
            "{}: not a capture file ringtap-core can read: {e}",
            path.display()
        ))
    })
}

fn generator_frames(capture: &[u8]) -> Result<u64, CaptureError> {
    let mut frames = 0;
    for record in CaptureReader::new(capture)? {
        if let Record::Packet { data, .. } = record? {
            if data.get(6..12) == Some(&GENERATOR_MAC[..]) {
                frames += 1;
            }
        }
    }
    Ok(frames)
}

/// The count of tcpdump's exit line `N packets dropped by kernel` (the
/// kernel's ring-full drops, from PACKET_STATISTICS).
fn tcpdump_kernel_drops(output: &str) -> Option<u64> {
    count_before(output, "packets dropped by kernel")
}

/// The count of netsniff-ng's exit line `N  packets failed filter (out of
/// space)`: its name for the kernel's ring-full drops (`tp_drops` of
/// PACKET_STATISTICS).
fn netsniff_kernel_drops(output: &str) -> Option<u64> {
    count_before(output, "packets failed filter (out of space)")
}

/// The number that starts the first line ending in `label`; leading
/// blanks and carriage returns (netsniff-ng starts its lines with `\r`)
/// are skipped.
fn count_before(output: &str, label: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_suffix(label))
        .and_then(|count| count.trim().parse().ok())
}

/// One run of one capturer at one load.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    /// How long trafgen ran.
    seconds: f64,
    /// gen0 tx_packets: frames that reached dut0.
    offered: u64,
    /// gen0 tx_dropped: attempts dut0 turned away because its receive
    /// backlog on the capture CPU was full. af_packet's tpacket_snd puts
    /// such a frame back to TP_STATUS_SEND_REQUEST in trafgen's TX ring,
    /// to be sent again, so this is back pressure, which lowers the offered
    /// rate, not loss.
    refused: u64,
    /// trafgen's frames in the file.
    in_file: u64,
    /// The kernel's ring-full drops as the capturer reports them.
    kernel_drops: Option<u64>,
    /// Busy time of the capture CPU from just before trafgen started until
    /// the capturer went idle.
    cpu_s: f64,
    /// The irq + softirq part of it.
    interrupt_s: f64,
    /// How long that span was.
    window_s: f64,
    /// utime + stime of the capturer over the same span.
    process_s: f64,
}

impl Sample {
    fn offered_rate(&self) -> f64 {
        self.offered as f64 / self.seconds
    }

    fn file_rate(&self) -> f64 {
        self.in_file as f64 / self.seconds
    }

    /// The share of offered frames missing from the file, 0 to 1.
    fn loss(&self) -> f64 {
        if self.offered == 0 {
            return 0.0;
        }
        self.offered.saturating_sub(self.in_file) as f64 / self.offered as f64
    }

    /// Every offered frame is in the file.
    fn lossless(&self) -> bool {
        self.in_file >= self.offered
    }

    /// The share of the capture CPU's time that went to neither the
    /// capturer nor interrupt work: other programs, which the CPU figures
    /// include. Approximate: with tick-based accounting, softirq work done
    /// in the capturer's time may be counted twice, making this smaller.
    fn other_share(&self) -> f64 {
        let other = self.cpu_s - self.interrupt_s - self.process_s;
        (other / self.window_s).clamp(0.0, 1.0)
    }

    /// Seconds per million frames in the file (infinite when it is empty).
    fn per_million(&self, cpu_seconds: f64) -> f64 {
        cpu_seconds * 1e6 / self.in_file as f64
    }

    fn describe(&self) -> String {
        format!(
            "offered {} fps, refused {}, in file {} fps, loss {:.2}%, kernel drops {}; \
             per Mframe: CPU {DUT_CPU} busy {} s, irq {} s, process {} s; other work {:.0}%",
            format_rate(self.offered_rate()),
            self.refused,
            format_rate(self.file_rate()),
            self.loss() * 100.0,
            self.kernel_drops
                .map_or_else(|| "-".to_string(), |n| n.to_string()),
            fixed(self.per_million(self.cpu_s)),
            fixed(self.per_million(self.interrupt_s)),
            fixed(self.per_million(self.process_s)),
            self.other_share() * 100.0,
        )
    }
}

/// One capturer at one load, over the repetitions.
#[derive(Debug)]
pub(super) struct Row {
    load: Load,
    capturer: Capturer,
    samples: Vec<Sample>,
}

/// The medians over one row's repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    offered_rate: f64,
    refused: f64,
    file_rate: f64,
    loss: f64,
    /// None when a run had no count.
    kernel_drops: Option<f64>,
    cpu_per_million: f64,
    interrupt_per_million: f64,
    process_per_million: f64,
    other_share: f64,
    /// More than half of the runs were lossless.
    lossless: bool,
}

fn summarize(samples: &[Sample]) -> Option<Summary> {
    let of = |metric: fn(&Sample) -> f64| median(&samples.iter().map(metric).collect::<Vec<_>>());
    let kernel_drops: Option<Vec<f64>> = samples
        .iter()
        .map(|s| s.kernel_drops.map(|n| n as f64))
        .collect();
    let lossless_runs = samples.iter().filter(|s| s.lossless()).count();
    Some(Summary {
        offered_rate: of(Sample::offered_rate)?,
        refused: of(|s| s.refused as f64)?,
        file_rate: of(Sample::file_rate)?,
        loss: of(Sample::loss)?,
        kernel_drops: kernel_drops.and_then(|values| median(&values)),
        cpu_per_million: of(|s| s.per_million(s.cpu_s))?,
        interrupt_per_million: of(|s| s.per_million(s.interrupt_s))?,
        process_per_million: of(|s| s.per_million(s.process_s))?,
        other_share: of(Sample::other_share)?,
        lossless: 2 * lossless_runs > samples.len(),
    })
}

fn summary_of(rows: &[Row], capturer: Capturer, load: Load) -> Option<Summary> {
    rows.iter()
        .find(|r| r.capturer == capturer && r.load == load)
        .and_then(|r| summarize(&r.samples))
}

/// One step of a capturer's ladder, from its medians.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    load: Load,
    offered_rate: f64,
    lossless: bool,
}

fn steps_of(rows: &[Row], capturer: Capturer) -> Vec<Step> {
    LADDER
        .iter()
        .filter_map(|&load| {
            summary_of(rows, capturer, load).map(|s| Step {
                load,
                offered_rate: s.offered_rate,
                lossless: s.lossless,
            })
        })
        .collect()
}

/// What a ladder says about a capturer's lossless rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lossless {
    /// The highest rate offered at the steps below the first lossy one;
    /// none when the lowest step already lost frames.
    rate: Option<f64>,
    /// The first step that lost frames and the rate offered there; none
    /// when no step did.
    first_loss: Option<(Load, f64)>,
}

/// Reads `steps` (lowest load first) from the bottom up to the first lossy
/// step. The highest rate, not the last, because trafgen may offer less
/// than a step asks, and a higher step may then offer less than a lower.
fn lossless_rate(steps: &[Step]) -> Lossless {
    let first_lossy = steps.iter().position(|s| !s.lossless);
    let clean = &steps[..first_lossy.unwrap_or(steps.len())];
    Lossless {
        rate: clean.iter().map(|s| s.offered_rate).reduce(f64::max),
        first_loss: first_lossy.map(|i| (steps[i].load, steps[i].offered_rate)),
    }
}

impl Lossless {
    fn describe(&self) -> String {
        match (self.rate, self.first_loss) {
            (Some(rate), Some((load, offered))) => format!(
                "{} fps (frames lost at the {} step, offered {} fps)",
                format_rate(rate),
                load.label(),
                format_rate(offered)
            ),
            (Some(rate), None) => format!(
                "{} fps or more (no step lost frames: the generator, not the capturer, \
                 set this limit)",
                format_rate(rate)
            ),
            (None, Some((load, offered))) => format!(
                "below the ladder (frames lost at the lowest step, {}, offered {} fps)",
                load.label(),
                format_rate(offered)
            ),
            (None, None) => "not measured".to_string(),
        }
    }
}

/// Whether ringtap's lossless rate is at least [`AIM_OVER_TCPDUMP`] times
/// tcpdump's, as far as the ladder can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    NotMet,
    CannotTell(&'static str),
}

fn judge_aim(ringtap: Lossless, tcpdump: Lossless) -> Verdict {
    let Some((_, tcpdump_lossy_rate)) = tcpdump.first_loss else {
        return Verdict::CannotTell(
            "tcpdump lost no frames at any step, so its lossless rate is above what the \
             generator offered",
        );
    };
    match (ringtap.rate, tcpdump.rate) {
        (None, None) => Verdict::CannotTell("both lost frames at the lowest step"),
        (None, Some(_)) => Verdict::NotMet,
        // tcpdump's lossless rate is somewhere below the rate it lost at.
        (Some(ours), None) if ours >= AIM_OVER_TCPDUMP * tcpdump_lossy_rate => Verdict::Met,
        (Some(_), None) => Verdict::CannotTell(
            "tcpdump lost frames at the lowest step, so its lossless rate is below the ladder",
        ),
        (Some(ours), Some(theirs)) if ours >= AIM_OVER_TCPDUMP * theirs => Verdict::Met,
        (Some(_), Some(_)) if ringtap.first_loss.is_none() => Verdict::CannotTell(
            "ringtap lost no frames at any step, so its lossless rate is above what the \
             generator offered",
        ),
        (Some(_), Some(_)) => Verdict::NotMet,
    }
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "NOT met",
            Verdict::CannotTell(_) => "cannot tell",
        }
    }

    fn describe(self) -> String {
        match self {
            Verdict::CannotTell(why) => format!("cannot tell: {why}"),
            _ => self.label().to_string(),
        }
    }
}

/// Capturers measured, in table order.
fn capturers_in(rows: &[Row]) -> Vec<Capturer> {
    ALL_CAPTURERS
        .into_iter()
        .filter(|&c| rows.iter().any(|r| r.capturer == c))
        .collect()
}

/// The table, the lossless rates, ringtap's ratios and its aim.
pub(super) fn report(rows: &[Row]) -> String {
    let mut text = table(rows);
    let capturers = capturers_in(rows);
    let lossless: Vec<(Capturer, Lossless)> = capturers
        .iter()
        .map(|&c| (c, lossless_rate(&steps_of(rows, c))))
        .collect();
    text.push_str(
        "\nLossless rate: the highest offered rate with every frame in the file, at that step \
         and every step below:\n",
    );
    for (capturer, l) in &lossless {
        let _ = writeln!(text, "  {:<12} {}", capturer.name(), l.describe());
    }
    let ratios = ratios(rows, &lossless);
    if !ratios.is_empty() {
        text.push('\n');
        text.push_str(&ratios);
    }
    let of = |wanted: Capturer| lossless.iter().find(|(c, _)| *c == wanted).map(|&(_, l)| l);
    if let (Some(ours), Some(theirs)) = (of(Capturer::Ringtap), of(Capturer::Tcpdump)) {
        let _ = writeln!(
            text,
            "\nAim for ringtap: a lossless rate at least {AIM_OVER_TCPDUMP:.0}x tcpdump's: {}",
            judge_aim(ours, theirs).describe()
        );
    }
    text
}

fn table(rows: &[Row]) -> String {
    let mut text = format!(
        "{:<11} {:<12} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6}\n",
        "load",
        "capturer",
        "offered",
        "refused",
        "in file",
        "loss",
        "k.drops",
        "CPU s/M",
        "irq s/M",
        "proc s/M",
        "other"
    );
    for row in rows {
        let Some(s) = summarize(&row.samples) else {
            continue;
        };
        let _ = writeln!(
            text,
            "{:<11} {:<12} {:>8} {:>8} {:>8} {:>6.2}% {:>8} {:>8} {:>8} {:>8} {:>5.0}%",
            row.load.label(),
            row.capturer.name(),
            format_rate(s.offered_rate),
            format_rate(s.refused),
            format_rate(s.file_rate),
            s.loss * 100.0,
            s.kernel_drops.map_or_else(|| "-".to_string(), format_rate),
            fixed(s.cpu_per_million),
            fixed(s.interrupt_per_million),
            fixed(s.process_per_million),
            s.other_share * 100.0,
        );
    }
    let _ = writeln!(
        text,
        "Medians over the repetitions; offered and in file in frames/s, refused and k.drops in \
         frames.\n\
         refused: attempts dut0 turned away, its receive backlog on CPU {DUT_CPU} full; trafgen \
         sends those frames again.\n\
         loss: the share of the offered frames missing from the file.\n\
         k.drops: the kernel's ring-full drops as the capturer reports them.\n\
         Per million frames in the file: CPU = busy seconds of CPU {DUT_CPU} (all of it, other \
         programs included),\n\
         irq = its irq + softirq part, proc = the capturer process alone (may include softirq \
         work done in its time).\n\
         other: the share of CPU {DUT_CPU}'s time that went to other programs; where it is not \
         near 0, they skew the\nCPU figures and take time from the capturer and from dut0's \
         receive processing."
    );
    text
}

/// ringtap against each other capturer: lossless rates, then frames in
/// the file and CPU per frame at each load.
fn ratios(rows: &[Row], lossless: &[(Capturer, Lossless)]) -> String {
    let mut text = String::new();
    let ours = lossless
        .iter()
        .find(|(c, _)| *c == Capturer::Ringtap)
        .and_then(|(_, l)| l.rate);
    for &(reference, theirs) in lossless.iter().filter(|(c, _)| *c != Capturer::Ringtap) {
        if let (Some(ours), Some(theirs)) = (ours, theirs.rate) {
            let _ = writeln!(
                text,
                "lossless rate        ringtap / {}: {}",
                reference.name(),
                ratio(ours, theirs)
            );
        }
    }
    for load in LADDER {
        let Some(ours) = summary_of(rows, Capturer::Ringtap, load) else {
            continue;
        };
        for reference in ALL_CAPTURERS.into_iter().skip(1) {
            let Some(theirs) = summary_of(rows, reference, load) else {
                continue;
            };
            let _ = writeln!(
                text,
                "{:<20} ringtap / {}: in file {}, CPU per frame {}",
                format!("{FRAME_BYTES} B at {}", load.label()),
                reference.name(),
                ratio(ours.file_rate, theirs.file_rate),
                ratio(ours.cpu_per_million, theirs.cpu_per_million),
            );
        }
    }
    if text.is_empty() {
        return text;
    }
    format!(
        "Ratios (lossless rate and in file: higher is better; CPU per frame: lower is \
         better):\n{text}"
    )
}

pub(super) fn to_json(info: &RunInfo, rows: &[Row]) -> String {
    let mut out = json_run_info(info, "capture_cpu");
    let _ = writeln!(out, "  \"frame_bytes\": {FRAME_BYTES},");
    let _ = writeln!(out, "  \"ring_bytes\": {RING_BYTES},");
    let _ = writeln!(out, "  \"results\": [");
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "    {{");
        let _ = writeln!(
            out,
            "      \"capturer\": {},",
            json_string(row.capturer.name())
        );
        let _ = writeln!(out, "      \"target_fps\": {},", json_target(row.load));
        if let Some(s) = summarize(&row.samples) {
            let _ = writeln!(
                out,
                "      \"median\": {{\"offered_fps\": {}, \"refused\": {}, \"in_file_fps\": {}, \
                 \"loss\": {}, \"kernel_drops\": {}, \"cpu_s_per_mframe\": {}, \
                 \"irq_s_per_mframe\": {}, \"process_s_per_mframe\": {}, \"other_share\": {}, \
                 \"lossless\": {}}},",
                json_number(s.offered_rate),
                json_number(s.refused),
                json_number(s.file_rate),
                json_number(s.loss),
                s.kernel_drops.map_or("null".to_string(), json_number),
                json_number(s.cpu_per_million),
                json_number(s.interrupt_per_million),
                json_number(s.process_per_million),
                json_number(s.other_share),
                s.lossless,
            );
        }
        let _ = writeln!(out, "      \"runs\": [");
        for (j, s) in row.samples.iter().enumerate() {
            let comma = if j + 1 < row.samples.len() { "," } else { "" };
            let _ = writeln!(
                out,
                "        {{\"seconds\": {}, \"offered\": {}, \"refused\": {}, \"in_file\": {}, \
                 \"kernel_drops\": {}, \"capture_cpu_s\": {}, \"capture_cpu_interrupt_s\": {}, \
                 \"process_s\": {}, \"cpu_window_s\": {}}}{comma}",
                json_number(s.seconds),
                s.offered,
                s.refused,
                s.in_file,
                s.kernel_drops.map_or("null".to_string(), |n| n.to_string()),
                json_number(s.cpu_s),
                json_number(s.interrupt_s),
                json_number(s.process_s),
                json_number(s.window_s),
            );
        }
        let comma = if i + 1 < rows.len() { "," } else { "" };
        let _ = writeln!(out, "      ]");
        let _ = writeln!(out, "    }}{comma}");
    }
    let _ = writeln!(out, "  ],");
    let capturers = capturers_in(rows);
    let _ = writeln!(out, "  \"lossless\": [");
    let mut rates = Vec::new();
    for (i, &capturer) in capturers.iter().enumerate() {
        let l = lossless_rate(&steps_of(rows, capturer));
        rates.push((capturer, l));
        let first_loss = match l.first_loss {
            Some((load, offered)) => format!(
                "{{\"target_fps\": {}, \"offered_fps\": {}}}",
                json_target(load),
                json_number(offered)
            ),
            None => "null".to_string(),
        };
        let comma = if i + 1 < capturers.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "    {{\"capturer\": {}, \"rate_fps\": {}, \"first_loss\": {first_loss}}}{comma}",
            json_string(capturer.name()),
            l.rate.map_or("null".to_string(), json_number),
        );
    }
    let _ = writeln!(out, "  ],");
    let of = |wanted: Capturer| rates.iter().find(|(c, _)| *c == wanted).map(|&(_, l)| l);
    let aim = match (of(Capturer::Ringtap), of(Capturer::Tcpdump)) {
        (Some(ours), Some(theirs)) => {
            let verdict = judge_aim(ours, theirs);
            let over = ours
                .rate
                .zip(theirs.rate)
                .map(|(a, b)| a / b)
                .map_or("null".to_string(), json_number);
            let why = match verdict {
                Verdict::CannotTell(why) => json_string(why),
                _ => "null".to_string(),
            };
            format!(
                "{{\"ringtap_over_tcpdump\": {over}, \"at_least\": {}, \"verdict\": {}, \
                 \"why\": {why}}}",
                json_number(AIM_OVER_TCPDUMP),
                json_string(verdict.label())
            )
        }
        _ => "null".to_string(),
    };
    let _ = writeln!(out, "  \"aim\": {aim}");
    out.push_str("}\n");
    out
}

/// A step's target rate, `null` for flood.
fn json_target(load: Load) -> String {
    match load {
        Load::Rate(fps) => fps.to_string(),
        Load::Flood => "null".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use ringtap_core::pcap::LINKTYPE_ETHERNET;
    use ringtap_core::pcapng::PcapngWriter;

    use super::super::DESTINATION_MAC;
    use super::*;

    /// A 60-byte frame from `source`.
    fn frame(source: [u8; 6]) -> Vec<u8> {
        let mut frame = DESTINATION_MAC.to_vec();
        frame.extend_from_slice(&source);
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.resize(60, 0);
        frame
    }

    const OTHER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x09];

    #[test]
    fn pcapng_frames_are_counted_by_source_address() {
        let mut buf = [0u8; 1024];
        let mut w = PcapngWriter::new(&mut buf[..], "test").unwrap();
        w.add_interface("dut0", LINKTYPE_ETHERNET as u16, 0)
            .unwrap();
        for (source, dropped_before) in [
            (GENERATOR_MAC, None),
            (OTHER_MAC, None),
            (GENERATOR_MAC, Some(3)),
        ] {
            w.write_packet(0, 1, 60, &frame(source), dropped_before)
                .unwrap();
        }
        w.write_statistics(0, 2, 5, 3).unwrap();
        let len = w.bytes_written() as usize;
        assert_eq!(generator_frames(&buf[..len]), Ok(2));
        assert!(
            generator_frames(&buf[..len - 1]).is_err(),
            "a cut file is an error, not a short count"
        );
    }

    #[test]
    fn microsecond_pcap_as_tcpdump_writes_it_is_counted() {
        // Little-endian header: magic a1b2c3d4 (microseconds), 2.4,
        // thiszone 0, sigfigs 0, snaplen 262144, Ethernet.
        let mut file = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00,
            0x04, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
        for source in [GENERATOR_MAC, GENERATOR_MAC, OTHER_MAC] {
            // ts_sec, ts_usec 999999, incl_len 60, orig_len 60.
            file.extend_from_slice(&[1, 0, 0, 0, 0x3f, 0x42, 0x0f, 0, 60, 0, 0, 0, 60, 0, 0, 0]);
            file.extend_from_slice(&frame(source));
        }
        assert_eq!(generator_frames(&file), Ok(2));
        assert_eq!(generator_frames(&file[..24]), Ok(0), "header only");
        assert!(generator_frames(b"not a capture").is_err());
        assert!(generator_frames(&[]).is_err());
    }

    #[test]
    fn tcpdump_exit_statistics() {
        let output = "\
tcpdump: listening on dut0, link-type EN10MB (Ethernet), snapshot length 262144 bytes
50008 packets captured
50010 packets received by filter
1234 packets dropped by kernel
";
        assert_eq!(tcpdump_kernel_drops(output), Some(1234));
        assert_eq!(tcpdump_kernel_drops("50008 packets captured\n"), None);
        assert_eq!(
            tcpdump_kernel_drops("lots of packets dropped by kernel\n"),
            None
        );
        assert_eq!(netsniff_kernel_drops(output), None);
    }

    #[test]
    fn netsniff_ng_exit_statistics_start_with_carriage_returns() {
        let output = "Running! Hang up with ^C!\n\n\
\r       50008  packets incoming (0 unread on exit)\n\
\r       49990  packets passed filter\n\
\r          18  packets failed filter (out of space)\n\
\r      0.0360% packet droprate\n\
\r           2  sec, 330496 usec in total\n";
        assert_eq!(netsniff_kernel_drops(output), Some(18));
        assert_eq!(netsniff_kernel_drops("Running! Hang up with ^C!\n"), None);
        assert_eq!(tcpdump_kernel_drops(output), None);
    }

    fn step(load: Load, offered_rate: f64, lossless: bool) -> Step {
        Step {
            load,
            offered_rate,
            lossless,
        }
    }

    #[test]
    fn the_ladder_is_read_up_to_the_first_loss() {
        let [a, b, c, d, flood] = LADDER;
        let l = lossless_rate(&[
            step(a, 100e3, true),
            step(b, 200e3, true),
            step(c, 400e3, false),
            step(d, 800e3, true),
            step(flood, 900e3, false),
        ]);
        assert_eq!(
            l,
            Lossless {
                rate: Some(200e3),
                first_loss: Some((c, 400e3))
            },
            "a lossless step above a lossy one does not count"
        );
        let short = lossless_rate(&[
            step(a, 100e3, true),
            step(b, 200e3, true),
            step(c, 250e3, true),
            step(d, 240e3, true),
            step(flood, 245e3, true),
        ]);
        assert_eq!(
            short,
            Lossless {
                rate: Some(250e3),
                first_loss: None
            },
            "the highest rate offered, where trafgen fell short of the steps"
        );
        assert!(short.describe().contains("or more"));
        let none = lossless_rate(&[step(a, 99e3, false), step(b, 200e3, true)]);
        assert_eq!(
            none,
            Lossless {
                rate: None,
                first_loss: Some((a, 99e3))
            }
        );
        assert!(none.describe().starts_with("below the ladder"));
        assert_eq!(
            lossless_rate(&[]),
            Lossless {
                rate: None,
                first_loss: None
            }
        );
    }

    #[test]
    fn the_aim_is_judged_only_where_the_ladder_can_tell() {
        let l = |rate: Option<f64>, lost_at: Option<f64>| Lossless {
            rate,
            first_loss: lost_at.map(|offered| (Load::Rate(offered as u64), offered)),
        };
        let tcpdump = l(Some(200e3), Some(400e3));
        assert_eq!(
            judge_aim(l(Some(400e3), Some(800e3)), tcpdump),
            Verdict::Met
        );
        assert_eq!(
            judge_aim(l(Some(300e3), Some(400e3)), tcpdump),
            Verdict::NotMet
        );
        assert!(matches!(
            judge_aim(l(Some(300e3), None), tcpdump),
            Verdict::CannotTell(why) if why.starts_with("ringtap lost no frames")
        ));
        assert!(matches!(
            judge_aim(l(Some(900e3), None), l(Some(900e3), None)),
            Verdict::CannotTell(why) if why.starts_with("tcpdump lost no frames")
        ));
        assert_eq!(judge_aim(l(None, Some(100e3)), tcpdump), Verdict::NotMet);
        assert_eq!(
            judge_aim(l(Some(200e3), Some(400e3)), l(None, Some(100e3))),
            Verdict::Met,
            "tcpdump's rate is below the 100k it lost at"
        );
        assert!(matches!(
            judge_aim(l(Some(150e3), Some(200e3)), l(None, Some(100e3))),
            Verdict::CannotTell(_)
        ));
        assert!(matches!(
            judge_aim(l(None, Some(100e3)), l(None, Some(100e3))),
            Verdict::CannotTell(_)
        ));
        assert_eq!(Verdict::NotMet.describe(), "NOT met");
    }

    fn sample(offered: u64, in_file: u64, refused: u64) -> Sample {
        Sample {
            seconds: 2.0,
            offered,
            refused,
            in_file,
            kernel_drops: Some(offered - in_file),
            cpu_s: 1.0,
            interrupt_s: 0.5,
            process_s: 0.25,
            window_s: 2.5,
        }
    }

    #[test]
    fn a_run_is_lossless_with_every_offered_frame_in_the_file() {
        assert!(sample(1000, 1000, 0).lossless());
        assert!(!sample(1000, 999, 0).lossless());
        assert!(
            sample(1000, 1000, 50).lossless(),
            "refused frames are sent again"
        );
        assert_eq!(sample(1000, 750, 0).loss(), 0.25);
        assert_eq!(sample(1000, 750, 50).loss(), 0.25);
        assert_eq!(sample(0, 0, 0).loss(), 0.0);
        let busy_capturer = Sample {
            cpu_s: 0.5,
            ..sample(1000, 1000, 0)
        };
        assert_eq!(
            busy_capturer.other_share(),
            0.0,
            "softirq time counted in the capturer's too"
        );
    }

    #[test]
    fn summaries_take_medians_and_the_majority() {
        let samples = [
            sample(400_000, 400_000, 0),
            sample(400_000, 200_000, 0),
            sample(400_000, 400_000, 0),
        ];
        let s = summarize(&samples).unwrap();
        assert!(s.lossless, "2 of 3 runs lossless");
        assert_eq!(s.offered_rate, 200_000.0);
        assert_eq!(s.file_rate, 200_000.0);
        assert_eq!(s.loss, 0.0);
        assert_eq!(s.kernel_drops, Some(0.0));
        assert_eq!(s.cpu_per_million, 2.5, "median of 2.5, 5 and 2.5");
        assert_eq!(s.process_per_million, 0.625);
        assert_eq!(s.other_share, 0.1, "(1 - 0.5 - 0.25) / 2.5");
        let s = summarize(&samples[..2]).unwrap();
        assert!(!s.lossless, "1 of 2 runs is not a majority");
        let unreported = Sample {
            kernel_drops: None,
            ..samples[0]
        };
        assert_eq!(
            summarize(&[samples[0], unreported]).unwrap().kernel_drops,
            None
        );
        assert_eq!(summarize(&[]), None);
    }

    fn ladder_rows(capturer: Capturer, in_file_at: [u64; 5]) -> Vec<Row> {
        LADDER
            .iter()
            .zip(in_file_at)
            .map(|(&load, in_file)| {
                let offered = match load {
                    Load::Rate(fps) => 2 * fps,
                    Load::Flood => 2_000_000,
                };
                Row {
                    load,
                    capturer,
                    samples: vec![sample(offered, in_file.min(offered), 0)],
                }
            })
            .collect()
    }

    #[test]
    fn report_and_json_name_the_lossless_rates_and_the_aim() {
        let mut rows = ladder_rows(
            Capturer::Ringtap,
            [200_000, 400_000, 800_000, 1_000_000, 1_000_000],
        );
        rows.extend(ladder_rows(
            Capturer::Tcpdump,
            [200_000, 400_000, 500_000, 500_000, 500_000],
        ));
        let text = report(&rows);
        assert!(text.contains("ringtap      400k fps (frames lost at the 800k fps step"));
        assert!(text.contains("tcpdump      200k fps (frames lost at the 400k fps step"));
        assert!(text.contains("lossless rate        ringtap / tcpdump: 2.00x"));
        assert!(text.contains(
            "64 B at 400k fps     ringtap / tcpdump: in file 1.60x, CPU per frame 0.62x"
        ));
        assert!(text.contains("at least 2x tcpdump's: met"));
        assert!(!text.contains("netsniff-ng"));

        let info = RunInfo {
            kernel: "6.18".to_string(),
            cpus: 2,
            seconds: 2,
            repetitions: 1,
            idle_busy: [1.0, 2.0],
        };
        let json = to_json(&info, &rows);
        assert!(json.contains("\"capture_cpu\": 1,"));
        assert!(json.contains("\"ring_bytes\": 33554432,"));
        assert!(json.contains(
            "{\"capturer\": \"ringtap\", \"rate_fps\": 400000, \"first_loss\": \
             {\"target_fps\": 800000, \"offered_fps\": 800000}}"
        ));
        assert!(json.contains("\"ringtap_over_tcpdump\": 2, \"at_least\": 2, \"verdict\": \"met\""));
        assert!(json.contains("\"target_fps\": null,"), "flood");
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
        let without_tcpdump = to_json(&info, &rows[..5]);
        assert!(without_tcpdump.contains("\"aim\": null"));
    }
}
