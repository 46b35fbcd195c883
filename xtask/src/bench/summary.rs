//! What the parts of the bench share to turn runs into figures: the
//! repetition loop, the generator's counts every run has, medians over the
//! repetitions, rates and ratios as the tables print them, and the facts
//! every results file starts with.

use std::path::Path;

use serde::Serialize;

use super::lab::Counters;
use super::GENERATOR_CPU;
use crate::{Error, Result};

/// A row of a part's table: one program at one load, measured once per
/// repetition.
pub(super) trait Repeated {
    type Sample;
    /// What a progress line calls the row (`64 B at 250k fps, ringtap`).
    fn label(&self) -> String;
    fn samples(&mut self) -> &mut Vec<Self::Sample>;
}

/// Measures every row `repetitions` times, the rows taking turns (so that
/// a drift in the machine spreads over all of them), printing a progress
/// line before and `describe`'s line after each run. A run that fails is
/// measured once more before the failure ends the bench.
pub(super) fn measure_rows<R: Repeated>(
    rows: &mut [R],
    repetitions: u32,
    mut measure: impl FnMut(&R, u32) -> Result<R::Sample>,
    describe: impl Fn(&R::Sample) -> String,
) -> Result {
    let total = rows.len() * repetitions as usize;
    let mut done = 0;
    for repetition in 1..=repetitions {
        for row in rows.iter_mut() {
            done += 1;
            println!();
            println!(
                "[{done}/{total}] {}, repetition {repetition}/{repetitions}",
                row.label()
            );
            // trafgen now and then fails to flush its TX ring (EAGAIN) and
            // a run can be cut short by such a transient: one more try of
            // the same run, a second failure ends the bench.
            let sample = match measure(row, repetition) {
                Ok(sample) => sample,
                Err(e) => {
                    println!("  failed: {e}; measuring this run once more");
                    measure(row, repetition)?
                }
            };
            println!("  {}", describe(&sample));
            row.samples().push(sample);
        }
    }
    Ok(())
}

/// What the generator did in one run, from gen0's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Traffic {
    /// How long the generator ran.
    pub(super) seconds: f64,
    /// gen0 tx_packets: frames handed to dut0.
    pub(super) offered: u64,
    /// gen0 tx_dropped: send attempts dut0's receive backlog on the DUT CPU
    /// turned away. af_packet's tpacket_snd puts such a frame back to
    /// TP_STATUS_SEND_REQUEST in trafgen's TX ring, to be sent again, so
    /// this is back pressure, which lowers the offered rate, not loss.
    pub(super) refused: u64,
}

impl Traffic {
    /// The counts between `before` and `after` a run of `seconds`; a run in
    /// which the generator sent nothing is an error that points at its log.
    pub(super) fn between(
        before: &Counters,
        after: &Counters,
        seconds: f64,
        generator_log: &Path,
    ) -> Result<Traffic> {
        if after.offered == before.offered {
            return Err(Error::Failed(format!(
                "the generator sent no frames; its output is in {}",
                generator_log.display()
            )));
        }
        Ok(Traffic {
            seconds,
            offered: after.offered - before.offered,
            refused: after.refused.saturating_sub(before.refused),
        })
    }

    pub(super) fn offered_rate(&self) -> f64 {
        self.rate(self.offered)
    }

    /// `frames` per second of the run.
    pub(super) fn rate(&self, frames: u64) -> f64 {
        frames as f64 / self.seconds
    }

    /// The share of the offered frames that did not arrive, 0 to 1.
    pub(super) fn loss(&self, arrived: u64) -> f64 {
        if self.offered == 0 {
            return 0.0;
        }
        self.offered.saturating_sub(arrived) as f64 / self.offered as f64
    }
}

/// Seconds per million `frames` (infinite when there were none).
pub(super) fn per_million(cpu_seconds: f64, frames: u64) -> f64 {
    cpu_seconds * 1e6 / frames as f64
}

/// The median of `metric` over `samples`.
pub(super) fn median_of<S>(samples: &[S], metric: impl Fn(&S) -> f64) -> Option<f64> {
    median(&samples.iter().map(metric).collect::<Vec<_>>())
}

/// The middle value (the mean of the middle two for an even count).
pub(super) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Frames (or anything) per second with three significant digits:
/// `250k`, `1M`, `1.23M`, `99.5k`, `512`.
pub(super) fn format_rate(per_second: f64) -> String {
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

/// Two decimals, or `-` when there is no finite value.
pub(super) fn fixed(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "-".to_string()
    }
}

/// `ours / theirs` as `1.23x`, or `-` when it is not a finite number.
pub(super) fn ratio(ours: f64, theirs: f64) -> String {
    let r = ours / theirs;
    if r.is_finite() {
        format!("{r:.2}x")
    } else {
        "-".to_string()
    }
}

/// What a results file records about the run itself.
#[derive(Debug)]
pub(super) struct RunInfo {
    pub(super) kernel: String,
    pub(super) cpus: usize,
    pub(super) seconds: u32,
    pub(super) repetitions: u32,
    pub(super) idle_busy: [f64; 2],
}

/// The run's facts as the results files start with them; the file adds
/// the CPU of its programs under its own name (`bridge_cpu`,
/// `capture_cpu`).
#[derive(Debug, Serialize)]
pub(super) struct Facts<'a> {
    kernel: &'a str,
    cpus: usize,
    generator_cpu: usize,
    idle_busy_percent: [f64; 2],
    seconds_per_run: u32,
    repetitions: u32,
    frame_size_counts_fcs: bool,
}

impl RunInfo {
    pub(super) fn facts(&self) -> Facts<'_> {
        Facts {
            kernel: &self.kernel,
            cpus: self.cpus,
            generator_cpu: GENERATOR_CPU,
            idle_busy_percent: self.idle_busy,
            seconds_per_run: self.seconds,
            repetitions: self.repetitions,
            frame_size_counts_fcs: true,
        }
    }
}

/// Writes `results` as indented JSON (infinities and NaN, which JSON lacks,
/// become `null`).
pub(super) fn write_json(path: &Path, results: &impl Serialize) -> Result {
    let mut text = serde_json::to_string_pretty(results)
        .map_err(|e| Error::Failed(format!("cannot encode {}: {e}", path.display())))?;
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(ratio(1.0, 4.0), "0.25x");
        assert_eq!(ratio(1.0, 0.0), "-");
        assert_eq!(fixed(f64::INFINITY), "-");
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::INFINITY, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median_of(&[(1, 5.0), (2, 3.0)], |s| s.1), Some(4.0));
    }

    #[test]
    fn traffic_counts_between_two_readings() {
        let counters = |offered, refused| Counters {
            offered,
            refused,
            delivered: 0,
        };
        let log = Path::new("gen.log");
        let t = Traffic::between(&counters(100, 5), &counters(1100, 9), 2.0, log).unwrap();
        assert_eq!((t.offered, t.refused), (1000, 4));
        assert_eq!(t.offered_rate(), 500.0);
        assert_eq!(t.rate(250), 125.0);
        assert_eq!(t.loss(750), 0.25);
        assert_eq!(t.loss(2000), 0.0, "more arrived than offered is no loss");
        let idle = Traffic::between(&counters(100, 0), &counters(100, 0), 2.0, log);
        assert!(idle.unwrap_err().to_string().contains("gen.log"));
        assert!(per_million(1.0, 0).is_infinite());
        assert_eq!(per_million(2.0, 4_000_000), 0.5);
    }

    #[test]
    fn repetitions_take_turns() {
        struct Row(&'static str, Vec<(&'static str, u32)>);
        impl Repeated for Row {
            type Sample = (&'static str, u32);
            fn label(&self) -> String {
                self.0.to_string()
            }
            fn samples(&mut self) -> &mut Vec<Self::Sample> {
                &mut self.1
            }
        }
        let mut rows = [Row("a", vec![]), Row("b", vec![])];
        let mut order = Vec::new();
        measure_rows(
            &mut rows,
            2,
            |row, repetition| {
                order.push((row.0, repetition));
                Ok((row.0, repetition))
            },
            |_| String::new(),
        )
        .unwrap();
        assert_eq!(order, [("a", 1), ("b", 1), ("a", 2), ("b", 2)]);
        assert_eq!(rows[1].1, [("b", 1), ("b", 2)]);
    }
}
