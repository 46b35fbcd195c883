//! The capture part's figures: each run's sample, the medians of a row,
//! each capturer's lossless rate read from the ladder, ringtap's aim
//! against tcpdump, the report and capture.json.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::super::summary::{
    fixed, format_rate, median, median_of, per_million, ratio, write_json, Facts, Repeated,
    RunInfo, Traffic,
};
use super::super::{Load, DUT_CPU};
use super::{Capturer, AIM_OVER_TCPDUMP, ALL_CAPTURERS, FRAME_BYTES, LADDER, RING_BYTES};
use crate::Result;

/// One run of one capturer at one load; serialised as a `runs` entry of
/// capture.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(in crate::bench) struct Sample {
    #[serde(flatten)]
    pub(super) traffic: Traffic,
    /// trafgen's frames in the file.
    pub(super) in_file: u64,
    /// The kernel's ring-full drops as the capturer reports them.
    pub(super) kernel_drops: Option<u64>,
    /// Busy time of the capture CPU from just before trafgen started until
    /// the capturer went idle.
    #[serde(rename = "capture_cpu_s")]
    pub(super) cpu_s: f64,
    /// The irq + softirq part of it.
    #[serde(rename = "capture_cpu_interrupt_s")]
    pub(super) interrupt_s: f64,
    /// utime + stime of the capturer over the same span.
    pub(super) process_s: f64,
    /// How long that span was.
    #[serde(rename = "cpu_window_s")]
    pub(super) window_s: f64,
}

impl Sample {
    fn offered_rate(&self) -> f64 {
        self.traffic.offered_rate()
    }

    fn file_rate(&self) -> f64 {
        self.traffic.rate(self.in_file)
    }

    /// The share of offered frames missing from the file, 0 to 1.
    fn loss(&self) -> f64 {
        self.traffic.loss(self.in_file)
    }

    /// Every offered frame is in the file.
    fn lossless(&self) -> bool {
        self.in_file >= self.traffic.offered
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
        per_million(cpu_seconds, self.in_file)
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "offered {} fps, refused {}, in file {} fps, loss {:.2}%, kernel drops {}; \
             per Mframe: CPU {DUT_CPU} busy {} s, irq {} s, process {} s; other work {:.0}%",
            format_rate(self.offered_rate()),
            self.traffic.refused,
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
pub(in crate::bench) struct Row {
    pub(super) load: Load,
    pub(super) capturer: Capturer,
    pub(super) samples: Vec<Sample>,
}

impl Repeated for Row {
    type Sample = Sample;

    fn label(&self) -> String {
        format!(
            "{FRAME_BYTES} B at {}, {}",
            self.load.label(),
            self.capturer.name()
        )
    }

    fn samples(&mut self) -> &mut Vec<Sample> {
        &mut self.samples
    }
}

/// The medians over one row's repetitions; serialised as its `median` in
/// capture.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Summary {
    #[serde(rename = "offered_fps")]
    offered_rate: f64,
    refused: f64,
    #[serde(rename = "in_file_fps")]
    file_rate: f64,
    loss: f64,
    /// None when a run had no count.
    kernel_drops: Option<f64>,
    #[serde(rename = "cpu_s_per_mframe")]
    cpu_per_million: f64,
    #[serde(rename = "irq_s_per_mframe")]
    interrupt_per_million: f64,
    #[serde(rename = "process_s_per_mframe")]
    process_per_million: f64,
    other_share: f64,
    /// More than half of the runs were lossless.
    lossless: bool,
}

fn summarize(samples: &[Sample]) -> Option<Summary> {
    let kernel_drops: Option<Vec<f64>> = samples
        .iter()
        .map(|s| s.kernel_drops.map(|n| n as f64))
        .collect();
    let lossless_runs = samples.iter().filter(|s| s.lossless()).count();
    Some(Summary {
        offered_rate: median_of(samples, Sample::offered_rate)?,
        refused: median_of(samples, |s| s.traffic.refused as f64)?,
        file_rate: median_of(samples, Sample::file_rate)?,
        loss: median_of(samples, Sample::loss)?,
        kernel_drops: kernel_drops.and_then(|values| median(&values)),
        cpu_per_million: median_of(samples, |s| s.per_million(s.cpu_s))?,
        interrupt_per_million: median_of(samples, |s| s.per_million(s.interrupt_s))?,
        process_per_million: median_of(samples, |s| s.per_million(s.process_s))?,
        other_share: median_of(samples, Sample::other_share)?,
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
pub(in crate::bench) fn report(rows: &[Row]) -> String {
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

/// capture.json: the run's facts, every row, each capturer's lossless rate
/// and ringtap's aim.
#[derive(Debug, Serialize)]
struct Results<'a> {
    #[serde(flatten)]
    run: Facts<'a>,
    capture_cpu: usize,
    frame_bytes: u16,
    ring_bytes: u32,
    results: Vec<RowResults<'a>>,
    lossless: Vec<LosslessResults>,
    /// None unless both ringtap and tcpdump were measured.
    aim: Option<AimResults>,
}

#[derive(Debug, Serialize)]
struct RowResults<'a> {
    capturer: &'static str,
    /// None for a flood.
    target_fps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    median: Option<Summary>,
    runs: &'a [Sample],
}

#[derive(Debug, Serialize)]
struct LosslessResults {
    capturer: &'static str,
    rate_fps: Option<f64>,
    first_loss: Option<FirstLoss>,
}

/// The first step that lost frames.
#[derive(Debug, Serialize)]
struct FirstLoss {
    target_fps: Option<u64>,
    offered_fps: f64,
}

#[derive(Debug, Serialize)]
struct AimResults {
    ringtap_over_tcpdump: Option<f64>,
    at_least: f64,
    verdict: &'static str,
    /// Why the ladder cannot tell, when it cannot.
    why: Option<&'static str>,
}

fn results<'a>(info: &'a RunInfo, rows: &'a [Row]) -> Results<'a> {
    let rates: Vec<(Capturer, Lossless)> = capturers_in(rows)
        .into_iter()
        .map(|c| (c, lossless_rate(&steps_of(rows, c))))
        .collect();
    let of = |wanted: Capturer| rates.iter().find(|(c, _)| *c == wanted).map(|&(_, l)| l);
    let aim = match (of(Capturer::Ringtap), of(Capturer::Tcpdump)) {
        (Some(ours), Some(theirs)) => {
            let verdict = judge_aim(ours, theirs);
            Some(AimResults {
                ringtap_over_tcpdump: ours.rate.zip(theirs.rate).map(|(a, b)| a / b),
                at_least: AIM_OVER_TCPDUMP,
                verdict: verdict.label(),
                why: match verdict {
                    Verdict::CannotTell(why) => Some(why),
                    _ => None,
                },
            })
        }
        _ => None,
    };
    Results {
        run: info.facts(),
        capture_cpu: DUT_CPU,
        frame_bytes: FRAME_BYTES,
        ring_bytes: RING_BYTES,
        results: rows
            .iter()
            .map(|row| RowResults {
                capturer: row.capturer.name(),
                target_fps: row.load.target(),
                median: summarize(&row.samples),
                runs: &row.samples,
            })
            .collect(),
        lossless: rates
            .iter()
            .map(|&(capturer, l)| LosslessResults {
                capturer: capturer.name(),
                rate_fps: l.rate,
                first_loss: l.first_loss.map(|(load, offered)| FirstLoss {
                    target_fps: load.target(),
                    offered_fps: offered,
                }),
            })
            .collect(),
        aim,
    }
}

/// Writes capture.json.
pub(in crate::bench) fn write_results(path: &Path, info: &RunInfo, rows: &[Row]) -> Result {
    write_json(path, &results(info, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            traffic: Traffic {
                seconds: 2.0,
                offered,
                refused,
            },
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
        let json = serde_json::to_value(results(&info, &rows)).unwrap();
        assert_eq!(json["capture_cpu"], 1);
        assert_eq!(json["ring_bytes"], 33_554_432);
        assert_eq!(json["frame_bytes"], 64);
        assert_eq!(
            json["lossless"][0],
            serde_json::json!({"capturer": "ringtap", "rate_fps": 400000.0, "first_loss":
                {"target_fps": 800000, "offered_fps": 800000.0}})
        );
        assert_eq!(
            json["aim"],
            serde_json::json!({"ringtap_over_tcpdump": 2.0, "at_least": 2.0, "verdict": "met",
                "why": null})
        );
        let flood = &json["results"][4];
        assert!(flood["target_fps"].is_null(), "flood");
        assert_eq!(flood["median"]["lossless"], false);
        let run = &flood["runs"][0];
        for key in [
            "seconds",
            "offered",
            "refused",
            "in_file",
            "kernel_drops",
            "capture_cpu_s",
            "capture_cpu_interrupt_s",
            "process_s",
            "cpu_window_s",
        ] {
            assert!(run.get(key).is_some(), "{key} in {run}");
        }
        let without_tcpdump = serde_json::to_value(results(&info, &rows[..5])).unwrap();
        assert!(without_tcpdump["aim"].is_null());
    }
}
