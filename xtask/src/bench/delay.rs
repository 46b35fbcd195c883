//! One-way delay through a bridge: probe frames stamped with the wall
//! clock (`CLOCK_REALTIME`) just before the generator's `send` on its veth,
//! and read on the sink's veth by a packet socket whose ring carries the
//! kernel's receive time (`tpacket_rcv` stamps with the same clock). The
//! difference is the time from the generator's system call to the sink's
//! receive path, which includes the bridge and both veth hops; the same
//! probes over a veth pair that joins the generator and the sink directly
//! give the harness floor, and a bridge's added delay is its figure minus
//! the floor.
//!
//! The receiver takes the kernel's timestamp, so when it is woken does not
//! matter; both ends run in this process, pinned to the generator CPU, so
//! the CPU under test sees only the bridge's work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_linux::{netdev, MappedRing, PacketSocket, RingSocketBuilder, System, TxError};
use rustix::io::Errno;

use std::fmt::Write as _;

use super::bridge::Dut;
use super::lab::Process;
use super::summary::{format_rate, measure_rows, Repeated};
use super::Bench;
use crate::vm::netns;
use crate::{Error, Result};

/// The veth pair that joins the generator's and the sink's namespaces
/// directly, for the harness floor.
pub(super) const FLOOR_GEN: &str = "gfloor";
pub(super) const FLOOR_SINK: &str = "sfloor";

/// IEEE 802 local experimental ethertype 1: nothing else on the wires uses
/// it, and the receiver binds to it, so it sees only probes.
const PROBE_ETHERTYPE: u16 = 0x88b5;
const MAGIC: &[u8; 8] = b"rtdelay1";
const PROBE_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];
/// The smallest Ethernet frame without its FCS.
const PROBE_LEN: usize = 60;
const FRAME_SIZE: u32 = 2048;

/// Where probes go in and come out.
#[derive(Debug, Clone)]
pub struct Path<'a> {
    pub sender_netns: &'a str,
    pub sender_dev: &'a str,
    pub receiver_netns: &'a str,
    pub receiver_dev: &'a str,
    /// The bridge's ingress sees frames to this address as not its own
    /// (the bench's frames use the same one).
    pub destination: [u8; 6],
    /// Sender and receiver run here.
    pub cpu: usize,
}

/// What one run of probes measured.
#[derive(Debug, Clone, Default)]
pub struct Delays {
    /// One-way delay of each probe that arrived, in nanoseconds, sorted.
    pub ns: Vec<u64>,
    /// `(sequence number, delay in ns)` of each probe that arrived, in
    /// arrival order.
    pub arrivals: Vec<(u64, u64)>,
    pub sent: u64,
    /// Probes that never arrived.
    pub lost: u64,
    /// Probes that arrived more than once.
    pub duplicates: u64,
}

impl Delays {
    /// The `q`-quantile (0..=1) in microseconds, nearest rank.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let n = self.ns.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(self.ns[rank - 1] as f64 / 1000.0)
    }

    pub fn max_us(&self) -> Option<f64> {
        self.ns.last().map(|&ns| ns as f64 / 1000.0)
    }
}

/// The probe frame with sequence number `seq` and send time `stamp_ns`.
fn probe(destination: [u8; 6], seq: u64, stamp_ns: u64) -> [u8; PROBE_LEN] {
    let mut f = [0u8; PROBE_LEN];
    f[..6].copy_from_slice(&destination);
    f[6..12].copy_from_slice(&PROBE_SRC);
    f[12..14].copy_from_slice(&PROBE_ETHERTYPE.to_be_bytes());
    f[14..22].copy_from_slice(MAGIC);
    f[22..30].copy_from_slice(&seq.to_be_bytes());
    f[30..38].copy_from_slice(&stamp_ns.to_be_bytes());
    f
}

/// `(seq, stamp_ns)` of a probe as received (the ethertype is what the
/// socket is bound to).
fn parse(frame: &[u8]) -> Option<(u64, u64)> {
    if frame.get(14..22)? != MAGIC {
        return None;
    }
    let word = |at: usize| Some(u64::from_be_bytes(frame.get(at..at + 8)?.try_into().ok()?));
    Some((word(22)?, word(30)?))
}

/// `CLOCK_REALTIME`, the clock of the kernel's receive timestamps.
fn now_realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn failed(what: String) -> impl FnOnce(ringtap_linux::Error) -> Error {
    move |e| Error::Failed(format!("{what}: {e}"))
}

fn open(dev: &str, kind: RingKind, protocol: u16) -> Result<(PacketSocket, MappedRing)> {
    let ifindex = netdev::ifindex(dev).map_err(failed(format!("ifindex of {dev}")))?;
    let sys = System::probe();
    let layout = RingRequest::tiled(TpacketVersion::V2, kind, 64 << 10, 16, FRAME_SIZE)
        .validate(sys.page, sys.word)
        .map_err(|e| Error::Failed(format!("probe ring on {dev}: {e}")))?;
    match kind {
        RingKind::Rx => RingSocketBuilder::rx(layout),
        RingKind::Tx => RingSocketBuilder::tx(layout),
    }
    .open(ifindex, protocol)
    .map_err(failed(format!("ring socket on {dev}")))
}

/// Sends `count` probes at `rate` per second over `path` and returns their
/// delays. The receiver waits `grace` after the last probe for stragglers.
pub fn measure(path: &Path<'_>, rate: u32, count: u64, grace: Duration) -> Result<Delays> {
    let done = &AtomicBool::new(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let receiver = s.spawn(move || {
            let result = receive(path, &ready_tx, done, grace);
            // Unblock a sender still waiting for the receiver.
            drop(ready_tx);
            result
        });
        let sent = s
            .spawn(move || {
                let result = ready_rx
                    .recv()
                    .map_err(|_| Error::Failed("the probe receiver did not start".into()))
                    .and_then(|()| send(path, rate, count));
                done.store(true, Ordering::SeqCst);
                result
            })
            .join()
            .map_err(|_| Error::Failed("the probe sender panicked".into()))??;
        let (arrivals, duplicates) = receiver
            .join()
            .map_err(|_| Error::Failed("the probe receiver panicked".into()))??;
        let mut ns: Vec<u64> = arrivals.iter().map(|&(_, d)| d).collect();
        ns.sort_unstable();
        Ok(Delays {
            lost: sent.saturating_sub(ns.len() as u64),
            ns,
            arrivals,
            sent,
            duplicates,
        })
    })
}

/// Sends the probes, evenly spaced; returns how many it sent.
fn send(path: &Path<'_>, rate: u32, count: u64) -> Result<u64> {
    netns::enter(path.sender_netns)?;
    ringtap_linux::pin_current_thread(path.cpu).map_err(failed("pinning the sender".into()))?;
    let (sock, mut mapped) = open(path.sender_dev, RingKind::Tx, 0)?;
    let tx = mapped
        .tx()
        .ok_or_else(|| Error::Failed("the probe socket has no TX ring".into()))?;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut sent = 0;
    for seq in 0..count {
        let due = start + interval.mul_f64(seq as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let queued = tx.send_with(tx.data_offset(), PROBE_LEN, |buf| {
            buf.copy_from_slice(&probe(path.destination, seq, now_realtime_ns()))
        });
        match queued {
            Ok(_) => {}
            // The previous probe is still being sent: skip this one.
            Err(TxError::Full) => continue,
            Err(e) => return Err(Error::Failed(format!("probe on {}: {e}", path.sender_dev))),
        }
        // A full backlog behind the veth refuses the frame (ENOBUFS) and the
        // kernel keeps it queued: try again, briefly; the wait counts as
        // delay, as it would for any frame offered then.
        for attempt in 0.. {
            match sock.kick() {
                Ok(_) => {
                    sent += 1;
                    break;
                }
                Err(e) if e.errno() == Errno::NOBUFS && attempt < 1000 => {
                    std::thread::sleep(Duration::from_micros(10));
                }
                Err(e) => return Err(Error::Failed(format!("probe on {}: {e}", path.sender_dev))),
            }
        }
    }
    Ok(sent)
}

/// Receives probes until the sender is done and `grace` has passed; returns
/// `(seq, delay)` in arrival order and the number of duplicates.
#[allow(clippy::type_complexity)]
fn receive(
    path: &Path<'_>,
    ready: &std::sync::mpsc::Sender<()>,
    done: &AtomicBool,
    grace: Duration,
) -> Result<(Vec<(u64, u64)>, u64)> {
    netns::enter(path.receiver_netns)?;
    ringtap_linux::pin_current_thread(path.cpu).map_err(failed("pinning the receiver".into()))?;
    let (sock, mut mapped) = open(path.receiver_dev, RingKind::Rx, PROBE_ETHERTYPE)?;
    let _ = ready.send(());
    let mut delays = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0;
    let mut stop_at = None;
    loop {
        sock.poll(true, false, 10)
            .map_err(failed(format!("poll on {}", path.receiver_dev)))?;
        let walk = mapped.for_each_received(usize::MAX, |info, data| {
            if let Some((seq, stamp)) = parse(data) {
                let at =
                    u64::from(info.timestamp.sec) * 1_000_000_000 + u64::from(info.timestamp.nsec);
                if !seen.insert(seq) {
                    duplicates += 1;
                } else {
                    delays.push((seq, at.saturating_sub(stamp)));
                }
            }
            Ok::<(), std::convert::Infallible>(())
        });
        let Ok(_) = walk;
        match stop_at {
            None if done.load(Ordering::SeqCst) => stop_at = Some(Instant::now() + grace),
            Some(at) if Instant::now() >= at => break,
            _ => {}
        }
    }
    Ok((delays, duplicates))
}

/// Probes per second: a rate at which no bridge batches or queues.
pub(super) const PROBE_RATE: u32 = 1000;

/// The load beside the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Load {
    /// Probes only.
    Probes,
    /// Probes among 64-byte frames at this rate (`ringtap replay --pps`).
    Background(u64),
}

impl Load {
    pub(super) fn slug(self) -> String {
        match self {
            Load::Probes => "probes".to_string(),
            Load::Background(fps) => format_rate(fps as f64),
        }
    }

    pub(super) fn label(self) -> String {
        match self {
            Load::Probes => format!("{PROBE_RATE} fps"),
            Load::Background(fps) => format!("+{} fps", format_rate(fps as f64)),
        }
    }
}

/// What was measured: a bridge, or the direct veth pair (the floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    Floor,
    Bridge(Dut),
}

impl Subject {
    pub(super) fn name(self) -> &'static str {
        match self {
            Subject::Floor => "floor",
            Subject::Bridge(dut) => dut.name(),
        }
    }
}

/// One subject at one load, over the repetitions.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) load: Load,
    pub(super) subject: Subject,
    pub(super) runs: Vec<Delays>,
}

impl Repeated for Row {
    type Sample = Delays;

    fn label(&self) -> String {
        format!("delay, {}, {}", self.load.label(), self.subject.name())
    }

    fn samples(&mut self) -> &mut Vec<Delays> {
        &mut self.runs
    }
}

impl Row {
    /// All repetitions' probes together.
    pub(super) fn pooled(&self) -> Delays {
        let mut all = Delays::default();
        for run in &self.runs {
            all.ns.extend_from_slice(&run.ns);
            all.sent += run.sent;
            all.lost += run.lost;
            all.duplicates += run.duplicates;
        }
        all.ns.sort_unstable();
        all
    }
}

/// Every subject at every load: the floor (probes only), then each bridge
/// with probes only and among `background` frames per second.
pub(super) fn measure_all(
    bench: &Bench<'_>,
    duts: &[Dut],
    background: u64,
    repetitions: u32,
) -> Result<Vec<Row>> {
    let mut rows = vec![Row {
        load: Load::Probes,
        subject: Subject::Floor,
        runs: Vec::new(),
    }];
    for load in [Load::Probes, Load::Background(background)] {
        for &dut in duts {
            rows.push(Row {
                load,
                subject: Subject::Bridge(dut),
                runs: Vec::new(),
            });
        }
    }
    measure_rows(
        &mut rows,
        repetitions,
        |row, repetition| {
            let run = measure_one(bench, row.subject, row.load, repetition)?;
            let csv = bench.out_dir.join("delay").join(format!(
                "{}-{}-r{repetition}.csv",
                row.subject.name(),
                row.load.slug()
            ));
            write_csv(&csv, &run)?;
            Ok(run)
        },
        describe,
    )?;
    Ok(rows)
}

/// One probe per line: sequence number (at 1000 per second, the ms since
/// the first) and one-way delay in ns, in arrival order.
fn write_csv(path: &std::path::Path, run: &Delays) -> Result {
    let mut text = String::from("seq,delay_ns\n");
    for (seq, ns) in &run.arrivals {
        let _ = writeln!(text, "{seq},{ns}");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

fn describe(d: &Delays) -> String {
    let us = |q: Option<f64>| q.map_or("-".to_string(), |v| format!("{v:.1}"));
    format!(
        "{} probes, {} lost; one-way delay p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        d.sent,
        d.lost,
        us(d.quantile_us(0.5)),
        us(d.quantile_us(0.99)),
        us(d.quantile_us(0.999)),
        us(d.max_us())
    )
}

fn measure_one(bench: &Bench<'_>, subject: Subject, load: Load, repetition: u32) -> Result<Delays> {
    let lab = bench.lab;
    let count = u64::from(PROBE_RATE) * u64::from(bench.seconds);
    let grace = Duration::from_millis(300);
    let path = |sender_dev, receiver_dev| Path {
        sender_netns: &lab.gen,
        sender_dev,
        receiver_netns: &lab.sink,
        receiver_dev,
        destination: super::DESTINATION_MAC,
        cpu: super::GENERATOR_CPU,
    };
    let dut = match subject {
        Subject::Floor => return measure(&path(FLOOR_GEN, FLOOR_SINK), PROBE_RATE, count, grace),
        Subject::Bridge(dut) => dut,
    };
    let run_name = format!(
        "delay-{}-r{repetition}",
        match load {
            Load::Probes => "probes".to_string(),
            Load::Background(fps) => format_rate(fps as f64),
        }
    );
    let running = bench.start_dut(dut, &run_name)?;
    let background = match load {
        Load::Probes => None,
        Load::Background(fps) => {
            let case = super::Case {
                frame_bytes: 64,
                load: super::Load::Rate(fps),
            };
            let log = bench
                .out_dir
                .join("logs")
                .join(format!("generator-{run_name}.log"));
            let process = Process::start(bench.replay(case, fps)?, log)?;
            // Let the background reach its rate before the first probe.
            std::thread::sleep(Duration::from_millis(200));
            Some(process)
        }
    };
    let delays = measure(&path("gen0", "sink0"), PROBE_RATE, count, grace);
    let background = match background {
        Some(mut generator) => generator
            .wait_for_exit(Duration::from_secs(u64::from(bench.seconds) + 15))
            .map(|status| Some((status, generator))),
        None => Ok(None),
    };
    // The bridge comes down whatever happened, so that a failed run can be
    // measured again.
    bench.stop_dut(running)?;
    if let Some((status, generator)) = background? {
        // 1: gen0 refused some background frames (dut0's backlog was full),
        // which the probes measure rather than suffer from.
        if !matches!(status.code(), Some(0 | 1)) {
            return Err(Error::Failed(format!(
                "the background generator failed ({status}); its output is in {}",
                generator.log.display()
            )));
        }
    }
    delays
}

/// The probes of `subject` at `load`, all repetitions together, if the run
/// measured it.
fn pooled(rows: &[Row], load: Load, subject: Subject) -> Option<Delays> {
    rows.iter()
        .find(|r| r.load == load && r.subject == subject)
        .map(Row::pooled)
}

/// The delay table: percentiles, and what each bridge adds to the floor.
pub(super) fn table(rows: &[Row]) -> String {
    let floor = pooled(rows, Load::Probes, Subject::Floor);
    let at = |d: &Delays, q: f64| d.quantile_us(q);
    let added = |d: &Delays, q: f64| Some(at(d, q)? - at(floor.as_ref()?, q)?);
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let mut text = format!(
        "{:<10} {:<15} {:>8} {:>8} {:>8} {:>9} {:>10} {:>10} {:>6}\n",
        "load", "bridge", "p50", "p99", "p99.9", "max", "added p50", "added p99", "lost"
    );
    for row in rows {
        let d = row.pooled();
        let _ = writeln!(
            text,
            "{:<10} {:<15} {:>8} {:>8} {:>8} {:>9} {:>10} {:>10} {:>6}",
            row.load.label(),
            row.subject.name(),
            cell(at(&d, 0.5)),
            cell(at(&d, 0.99)),
            cell(at(&d, 0.999)),
            cell(d.max_us()),
            if row.subject == Subject::Floor {
                "-".to_string()
            } else {
                cell(added(&d, 0.5))
            },
            if row.subject == Subject::Floor {
                "-".to_string()
            } else {
                cell(added(&d, 0.99))
            },
            d.lost
        );
    }
    text.push_str(
        "One-way delay in microseconds, all repetitions' probes pooled: from the generator's \
         send on gen0\nto the kernel's receive time on sink0 (floor: over a veth pair that \
         joins the two directly).\nAdded = the bridge's percentile minus the floor's.\n\n",
    );
    text.push_str(&comparison(rows));
    text.push('\n');
    text.push_str(&aims_text(rows));
    text
}

/// The percentiles the comparison and the aims are read at.
const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)];

/// Every ringtap mode against the kernel bridge and netsniff-ng at the same
/// load: the difference of each percentile (positive: ringtap is slower)
/// and their ratio.
fn comparison(rows: &[Row]) -> String {
    let mut text = String::new();
    for row in rows {
        let Subject::Bridge(dut) = row.subject else {
            continue;
        };
        if dut.ringtap_args().is_none() {
            continue;
        }
        let ours = row.pooled();
        for reference in [Dut::KernelBridge, Dut::NetsniffNg] {
            let Some(theirs) = pooled(rows, row.load, Subject::Bridge(reference)) else {
                continue;
            };
            let cells: Vec<String> = QUANTILES
                .iter()
                .map(
                    |&(name, q)| match (ours.quantile_us(q), theirs.quantile_us(q)) {
                        (Some(a), Some(b)) => format!("{name} {:+.1} us ({:.2}x)", a - b, a / b),
                        _ => format!("{name} -"),
                    },
                )
                .collect();
            let _ = writeln!(
                text,
                "{:<10} {:<15} vs {:<14} {}",
                row.load.label(),
                dut.name(),
                reference.name(),
                cells.join(", ")
            );
        }
    }
    if !text.is_empty() {
        text.insert_str(
            0,
            "ringtap against the references at the same load (difference of the percentile, \
             ratio):\n",
        );
    }
    text
}

/// One of ringtap's delay aims, judged on the run's figures.
struct Aim {
    what: &'static str,
    /// The measured figure in microseconds, `None` when the run lacks a row.
    value: Option<f64>,
    limit: f64,
}

/// ringtap's aims (README, "Delay part"): with its defaults at most
/// +100 us p50 and +250 us p99 over the kernel bridge at 1000 fps; with
/// `--low-latency` at most 10 us p50 and 50 us p99 over the floor; with its
/// defaults among the background load, p99 at most 500 us.
fn aims(rows: &[Row]) -> Vec<Aim> {
    let over = |load: Load, dut: Dut, base: Subject, q: f64| {
        let ours = pooled(rows, load, Subject::Bridge(dut))?.quantile_us(q)?;
        Some(ours - pooled(rows, load, base)?.quantile_us(q)?)
    };
    let kernel = Subject::Bridge(Dut::KernelBridge);
    let background = rows.iter().map(|r| r.load).find(|l| *l != Load::Probes);
    let mut aims = vec![
        Aim {
            what: "defaults, 1000 fps: p50 over the kernel bridge",
            value: over(Load::Probes, Dut::Ringtap, kernel, 0.5),
            limit: 100.0,
        },
        Aim {
            what: "defaults, 1000 fps: p99 over the kernel bridge",
            value: over(Load::Probes, Dut::Ringtap, kernel, 0.99),
            limit: 250.0,
        },
        Aim {
            what: "--low-latency, 1000 fps: p50 over the floor",
            value: over(Load::Probes, Dut::RingtapLowLatency, Subject::Floor, 0.5),
            limit: 10.0,
        },
        Aim {
            what: "--low-latency, 1000 fps: p99 over the floor",
            value: over(Load::Probes, Dut::RingtapLowLatency, Subject::Floor, 0.99),
            limit: 50.0,
        },
    ];
    if let Some(load) = background {
        aims.push(Aim {
            what: "defaults, among the background load: p99",
            value: pooled(rows, load, Subject::Bridge(Dut::Ringtap))
                .and_then(|d| d.quantile_us(0.99)),
            limit: 500.0,
        });
    }
    aims
}

fn aims_text(rows: &[Row]) -> String {
    let mut text = String::from("ringtap's delay aims:\n");
    for aim in aims(rows) {
        let verdict = match aim.value {
            Some(v) if v <= aim.limit => format!("{v:.1} us <= {:.0} us: met", aim.limit),
            Some(v) => format!("{v:.1} us > {:.0} us: NOT met", aim.limit),
            None => "not measured in this run".to_string(),
        };
        let _ = writeln!(text, "  {:<50} {verdict}", aim.what);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_round_trip() {
        let f = probe([2, 0, 0, 0, 0, 2], 7, 123_456_789);
        assert_eq!(&f[12..14], &[0x88, 0xb5]);
        assert_eq!(parse(&f), Some((7, 123_456_789)));
        assert_eq!(parse(&f[..30]), None);
        let mut other = f;
        other[14] = b'x';
        assert_eq!(parse(&other), None);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let d = Delays {
            ns: (1..=1000).map(|i| i * 1000).collect(),
            ..Delays::default()
        };
        assert_eq!(d.quantile_us(0.5), Some(500.0));
        assert_eq!(d.quantile_us(0.99), Some(990.0));
        assert_eq!(d.quantile_us(0.999), Some(999.0));
        assert_eq!(d.max_us(), Some(1000.0));
        assert_eq!(Delays::default().quantile_us(0.5), None);
    }

    /// A row whose every probe took `us` microseconds.
    fn row(load: Load, subject: Subject, us: u64) -> Row {
        Row {
            load,
            subject,
            runs: vec![Delays {
                ns: vec![us * 1000; 100],
                sent: 100,
                ..Delays::default()
            }],
        }
    }

    #[test]
    fn aims_and_comparisons_read_the_right_rows() {
        let busy = Load::Background(100_000);
        let rows = [
            row(Load::Probes, Subject::Floor, 5),
            row(Load::Probes, Subject::Bridge(Dut::Ringtap), 130),
            row(Load::Probes, Subject::Bridge(Dut::RingtapLowLatency), 12),
            row(Load::Probes, Subject::Bridge(Dut::KernelBridge), 20),
            row(busy, Subject::Bridge(Dut::Ringtap), 600),
            row(busy, Subject::Bridge(Dut::NetsniffNg), 300),
        ];
        let figures: Vec<Option<f64>> = aims(&rows).iter().map(|a| a.value).collect();
        assert_eq!(
            figures,
            [Some(110.0), Some(110.0), Some(7.0), Some(7.0), Some(600.0)]
        );
        let text = aims_text(&rows);
        assert!(text.contains("110.0 us > 100 us: NOT met"), "{text}");
        assert!(text.contains("7.0 us <= 10 us: met"), "{text}");
        let compared = comparison(&rows);
        assert!(
            compared.contains("kernel-bridge  p50 +110.0 us (6.50x)"),
            "{compared}"
        );
        assert!(
            compared.contains("netsniff-ng    p50 +300.0 us (2.00x)"),
            "{compared}"
        );
        // A run without the references compares nothing and says so.
        let alone = [row(Load::Probes, Subject::Bridge(Dut::Ringtap), 30)];
        assert_eq!(comparison(&alone), "");
        assert!(aims_text(&alone).contains("not measured in this run"));
    }
}
