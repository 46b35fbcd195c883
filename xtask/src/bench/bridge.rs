//! The bridge part of `cargo xtask bench`: how many frames per second
//! `ringtap bridge`, `netsniff-ng --in/--out` and the kernel bridge forward
//! from dut0 to dut1, and the CPU time a frame costs each of them. The
//! delay part starts and stops its bridges here too.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::Duration;

use serde::Serialize;

use super::lab::{cpu_pair, in_netns, Process};
use super::summary::{
    fixed, format_rate, median, median_of, per_million, ratio, write_json, Facts, Repeated,
    RunInfo, Traffic,
};
use super::{Bench, Case, Load, DUT_CPU, GENERATOR_CPU, NETSNIFF_RING_SIZE, SETTLE};
use crate::{Cmd, Error, Result};

/// A bridge under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dut {
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
pub(super) const ALL_DUTS: [Dut; 3] = [Dut::Ringtap, Dut::NetsniffNg, Dut::KernelBridge];

/// The delay part's: every RX mode of ringtap, then the references.
pub(super) const DELAY_DUTS: [Dut; 5] = [
    Dut::Ringtap,
    Dut::RingtapV3,
    Dut::RingtapLowLatency,
    Dut::NetsniffNg,
    Dut::KernelBridge,
];

impl Dut {
    pub(super) fn name(self) -> &'static str {
        match self {
            Dut::Ringtap => "ringtap",
            Dut::RingtapV3 => "ringtap-v3",
            Dut::RingtapLowLatency => "ringtap-lowlat",
            Dut::NetsniffNg => "netsniff-ng",
            Dut::KernelBridge => "kernel-bridge",
        }
    }

    /// `ringtap bridge` options of a ringtap mode; `None` for the others.
    pub(super) fn ringtap_args(self) -> Option<&'static [&'static str]> {
        match self {
            Dut::Ringtap => Some(&[]),
            Dut::RingtapV3 => Some(&["--tpacket", "v3"]),
            Dut::RingtapLowLatency => Some(&["--low-latency"]),
            Dut::NetsniffNg | Dut::KernelBridge => None,
        }
    }
}

/// The bridge part's loads; the 64-byte fixed rates are the ladder a
/// lossless rate is read from.
pub(super) const CASES: [Case; 7] = [
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

/// ringtap's lossless rate in the bridge part: the highest fixed 64-byte
/// load at which its median loss was under 0.1%, with every lower load
/// lossless too.
pub(super) fn lossless_rate(rows: &[Row]) -> Option<u64> {
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

/// Every chosen bridge at every load, `repetitions` times, the bridges
/// taking turns at each load.
pub(super) fn measure(bench: &Bench<'_>, duts: &[Dut], repetitions: u32) -> Result<Vec<Row>> {
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
    super::summary::measure_rows(
        &mut rows,
        repetitions,
        |row, repetition| bench.measure(row.dut, row.case, repetition),
        Sample::describe,
    )?;
    Ok(rows)
}

/// A bridge started for one run.
#[derive(Debug)]
pub(super) struct Running {
    dut: Dut,
    /// The bridge's process (none for the kernel bridge).
    process: Option<Process>,
    /// ringtap's counters file.
    stats_file: PathBuf,
}

impl Bench<'_> {
    /// Starts `dut` between dut0 and dut1 and waits until it listens.
    pub(super) fn start_dut(&self, dut: Dut, run_name: &str) -> Result<Running> {
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
    pub(super) fn stop_dut(&self, running: Running) -> Result {
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
        let seconds = match self.run_generator(case, generator_log.clone()) {
            Ok(seconds) => seconds,
            Err(e) => {
                // Take the bridge down (the kernel bridge's br0 too), so
                // that the run can be measured again; the generator's
                // failure is the one to report.
                let _ = self.stop_dut(running);
                return Err(e);
            }
        };
        let after = lab.counters_when_drained()?;
        let cpus_after = cpu_pair()?;
        let process_after = running
            .process
            .as_ref()
            .map(Process::cpu_ticks)
            .transpose()?;
        self.stop_dut(running)?;

        let cpu_seconds = |i: usize, pick| {
            cpus_after[i].seconds_since(&cpus_before[i], pick, self.ticks_per_second)
        };
        Ok(Sample {
            traffic: Traffic::between(&before, &after, seconds, &generator_log)?,
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
}

/// One run of one bridge at one load; serialised as a `runs` entry of
/// bridge.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Sample {
    #[serde(flatten)]
    traffic: Traffic,
    /// sink0 rx_packets: frames the bridge got to the sink.
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
        self.traffic.offered_rate()
    }

    fn delivered_rate(&self) -> f64 {
        self.traffic.rate(self.delivered)
    }

    /// The share of offered frames that did not arrive, 0 to 1.
    fn loss(&self) -> f64 {
        self.traffic.loss(self.delivered)
    }

    /// Seconds per million delivered frames (infinite when none arrived).
    fn per_million(&self, cpu_seconds: f64) -> f64 {
        per_million(cpu_seconds, self.delivered)
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

/// The medians over one row's repetitions; serialised as its `median` in
/// bridge.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Summary {
    #[serde(rename = "offered_fps")]
    pub(super) offered_rate: f64,
    #[serde(rename = "delivered_fps")]
    pub(super) delivered_rate: f64,
    loss: f64,
    #[serde(rename = "cpu_s_per_mframe")]
    cpu_per_million: f64,
    #[serde(rename = "irq_s_per_mframe")]
    interrupt_per_million: f64,
    #[serde(rename = "process_s_per_mframe")]
    process_per_million: Option<f64>,
}

fn summarize(samples: &[Sample]) -> Option<Summary> {
    let process: Option<Vec<f64>> = samples
        .iter()
        .map(|s| s.process_s.map(|p| s.per_million(p)))
        .collect();
    Some(Summary {
        offered_rate: median_of(samples, Sample::offered_rate)?,
        delivered_rate: median_of(samples, Sample::delivered_rate)?,
        loss: median_of(samples, Sample::loss)?,
        cpu_per_million: median_of(samples, |s| s.per_million(s.bridge_cpu_s))?,
        interrupt_per_million: median_of(samples, |s| s.per_million(s.bridge_cpu_interrupt_s))?,
        process_per_million: process.and_then(|values| median(&values)),
    })
}

/// One bridge at one load, over the repetitions.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) case: Case,
    pub(super) dut: Dut,
    pub(super) samples: Vec<Sample>,
}

impl Repeated for Row {
    type Sample = Sample;

    fn label(&self) -> String {
        format!("{}, {}", self.case.label(), self.dut.name())
    }

    fn samples(&mut self) -> &mut Vec<Sample> {
        &mut self.samples
    }
}

impl Row {
    pub(super) fn summary(&self) -> Option<Summary> {
        summarize(&self.samples)
    }
}

pub(super) fn table(rows: &[Row]) -> String {
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
pub(super) fn ratios(rows: &[Row]) -> String {
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

/// ringtap's throughput aims, judged on the medians: lossless (under 0.1%)
/// at the 1M step with one worker, as far as the kernel bridge goes here;
/// flooded, at least 70% of what the kernel bridge delivers.
pub(super) fn ringtap_aims(rows: &[Row]) -> Option<String> {
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

/// bridge.json: the run's facts and every row.
#[derive(Debug, Serialize)]
struct Results<'a> {
    #[serde(flatten)]
    run: Facts<'a>,
    bridge_cpu: usize,
    results: Vec<RowResults<'a>>,
}

#[derive(Debug, Serialize)]
struct RowResults<'a> {
    bridge: &'static str,
    frame_bytes: u16,
    /// None for a flood.
    target_fps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    median: Option<Summary>,
    runs: &'a [Sample],
}

fn results<'a>(info: &'a RunInfo, rows: &'a [Row]) -> Results<'a> {
    Results {
        run: info.facts(),
        bridge_cpu: DUT_CPU,
        results: rows
            .iter()
            .map(|row| RowResults {
                bridge: row.dut.name(),
                frame_bytes: row.case.frame_bytes,
                target_fps: row.case.load.target(),
                median: row.summary(),
                runs: &row.samples,
            })
            .collect(),
    }
}

/// Writes bridge.json.
pub(super) fn write_results(path: &std::path::Path, info: &RunInfo, rows: &[Row]) -> Result {
    write_json(path, &results(info, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(delivered: u64, process_s: Option<f64>) -> Sample {
        Sample {
            traffic: Traffic {
                seconds: 2.0,
                offered: 500_000,
                refused: 0,
            },
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
    fn results_are_json_with_null_for_flood_and_infinity() {
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
            Row {
                case: CASES[0],
                dut: Dut::Ringtap,
                samples: vec![],
            },
        ];
        assert_eq!(CASES[4].load, Load::Flood);
        let text = serde_json::to_string_pretty(&results(&info, &rows)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["kernel"], "6.18");
        assert_eq!(json["generator_cpu"], 0);
        assert_eq!(json["bridge_cpu"], 1);
        assert_eq!(json["idle_busy_percent"], serde_json::json!([1.0, 2.0]));
        assert_eq!(json["seconds_per_run"], 2);
        assert_eq!(json["frame_size_counts_fcs"], true);
        let [flood, rate, unmeasured] = [0, 1, 2].map(|i| &json["results"][i]);
        assert_eq!(flood["bridge"], "netsniff-ng");
        assert_eq!(flood["frame_bytes"], 64);
        assert!(flood["target_fps"].is_null());
        assert!(flood["median"]["cpu_s_per_mframe"].is_null(), "infinity");
        assert!(flood["median"]["process_s_per_mframe"].is_null());
        assert_eq!(rate["target_fps"], 250_000);
        assert_eq!(rate["median"]["delivered_fps"], 0.5);
        let run = &rate["runs"][0];
        for key in [
            "seconds",
            "offered",
            "refused",
            "delivered",
            "bridge_cpu_s",
            "bridge_cpu_interrupt_s",
            "generator_cpu_s",
            "generator_cpu_interrupt_s",
            "process_s",
        ] {
            assert!(run.get(key).is_some(), "{key} in {run}");
        }
        assert_eq!(run["offered"], 500_000);
        assert!(unmeasured.get("median").is_none());
        assert_eq!(unmeasured["runs"], serde_json::json!([]));
    }
}
