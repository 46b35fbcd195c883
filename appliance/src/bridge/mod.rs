//! `ringtap bridge`: a fixed-memory layer-2 bridge / TAP from RX rings to
//! TX rings.
//!
//! Start-up checks everything ([`config`]), opens every socket and ring
//! ([`port`]), then starts one pinned thread per fanout member and
//! direction ([`worker`]). The main thread only watches: signals, the
//! duration, the stats file.

mod config;
mod counters;
mod watch;
pub(crate) mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringtap_core::fanout::{FanoutArg, FanoutFlags, FanoutMode};
use ringtap_core::geometry::Layout;
use ringtap_linux::notify::Notifier;
use ringtap_linux::sandbox::CapabilitySet;
use ringtap_linux::system::{self as sys_facts, GRO_NORMAL_BATCH};
use ringtap_linux::{netdev, System};
use static_cell::StaticCell;

pub use config::BridgeArgs;
use config::{Config, Defaults, MAX_WORKERS};
use counters::Counters;
use watch::{Handoff, PortState};
use worker::{Egress, Ingress, Worker};

use crate::files::{FileMode, Target};
use crate::log;
use crate::options::refused_by;
use crate::ports::{self, Port, RxPort, TxPort};
use crate::stats::{DirectionReport, MirrorReport, Report};
use crate::Failure;

/// `WATCHDOG=1` only while every worker makes progress: its loop beats at
/// least every tick whether frames come or not, so a worker that stops
/// beating is stuck, and systemd restarts the service.
#[derive(Debug)]
struct Watchdog {
    every: Duration,
    next: Instant,
    beats: Vec<u64>,
    withheld: bool,
}

impl Watchdog {
    fn tend(&mut self, notifier: &Notifier, shared: &Shared) {
        if Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + self.every;
        let now: Vec<u64> = shared
            .workers
            .iter()
            .map(|w| w.heartbeat.load(Ordering::Relaxed))
            .collect();
        let stuck: Vec<usize> = now
            .iter()
            .zip(&self.beats)
            .enumerate()
            .filter(|(_, (n, b))| n == b)
            .map(|(i, _)| i)
            .collect();
        self.beats = now;
        if stuck.is_empty() {
            self.withheld = false;
            let _ = notifier.notify("WATCHDOG=1");
        } else if !self.withheld {
            self.withheld = true;
            log::warn(format_args!(
                "worker(s) {stuck:?} made no progress for {:.1} s: no WATCHDOG=1 until they do",
                self.every.as_secs_f64()
            ));
        }
    }
}

/// How often the main thread looks at the interfaces.
const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// One set of counters per worker of each direction.
static COUNTERS: [Counters; 2 * MAX_WORKERS] = [const { Counters::new() }; 2 * MAX_WORKERS];
static CONFIG: StaticCell<Config> = StaticCell::new();
static SHARED: StaticCell<Shared> = StaticCell::new();
static STOP: AtomicBool = AtomicBool::new(false);

/// What the main thread and the workers share besides the counters: the
/// interfaces as the main thread sees them, and per worker the sockets
/// passed between them and a heartbeat.
#[derive(Debug)]
struct Shared {
    ports: Vec<PortState>,
    workers: Vec<WorkerShared>,
}

#[derive(Debug, Default)]
struct WorkerShared {
    input: Handoff<RxPort>,
    output: Handoff<TxPort>,
    mirror: Handoff<TxPort>,
    heartbeat: AtomicU64,
}

/// How the main thread opens a worker's sockets again.
#[derive(Debug)]
struct Reopen {
    input: &'static str,
    rx: Layout,
    fanout: Option<FanoutArg>,
    output: (&'static str, Layout),
    mirror: Option<(&'static str, Layout)>,
    qdisc_bypass: bool,
}

impl Shared {
    fn port(&self, name: &str) -> &PortState {
        // Every name a worker uses was registered at start.
        self.ports
            .iter()
            .find(|p| p.name() == name)
            .unwrap_or(&self.ports[0])
    }
}

fn counters(direction: usize, worker: usize) -> &'static Counters {
    &COUNTERS[direction * MAX_WORKERS + worker]
}

/// The counters file contents now.
fn report(cfg: &Config, started: Instant, final_: bool) -> Report {
    let directions = cfg
        .directions
        .iter()
        .enumerate()
        .map(|(d, dir)| {
            let mut r = DirectionReport {
                in_port: dir.input.name.clone(),
                out: dir.output.name.clone(),
                rx_packets: 0,
                rx_bytes: 0,
                tx_packets: 0,
                tx_bytes: 0,
                kernel_packets: 0,
                kernel_drops: 0,
                filtered: 0,
                checksums_completed: 0,
                dropped: Default::default(),
                mirror: cfg.mirror.as_ref().map(|m| MirrorReport {
                    out: m.port.name.clone(),
                    tx_packets: 0,
                    dropped: Default::default(),
                }),
                workers: cfg.workers as u32,
                worker_rx_packets: Vec::with_capacity(cfg.workers),
            };
            for w in 0..cfg.workers {
                let c = counters(d, w);
                let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                r.rx_packets += get(&c.rx_packets);
                r.worker_rx_packets.push(get(&c.rx_packets));
                r.rx_bytes += get(&c.rx_bytes);
                r.tx_packets += get(&c.tx_packets);
                r.tx_bytes += get(&c.tx_bytes);
                r.kernel_packets += get(&c.kernel_packets);
                r.kernel_drops += get(&c.kernel_drops);
                r.filtered += get(&c.filtered);
                r.checksums_completed += get(&c.checksums_completed);
                for (k, v) in c.dropped() {
                    *r.dropped.entry(k).or_default() += v;
                }
                if let Some(m) = r.mirror.as_mut() {
                    m.tx_packets += get(&c.mirror_tx_packets);
                    for (k, v) in c.mirror_dropped() {
                        *m.dropped.entry(k).or_default() += v;
                    }
                }
            }
            r
        })
        .collect();
    let reopened = (0..cfg.directions.len())
        .flat_map(|d| (0..cfg.workers).map(move |w| counters(d, w)))
        .map(|c| c.reopened.load(Ordering::Relaxed))
        .sum();
    Report {
        directions,
        uptime_s: (started.elapsed().as_millis() as f64) / 1000.0,
        final_,
        data_path_allocations: crate::alloc_count::data_path_allocations(),
        reopened,
    }
}

/// How a counters file shows a report.
type Render = fn(&Report) -> String;

/// A counters file, checked before any socket is opened: `--stats-file`
/// (JSON) or `--metrics-file` (Prometheus text), both rewritten atomically.
#[derive(Debug)]
struct CountersFile {
    option: &'static str,
    target: Target,
    mode: FileMode,
    render: Render,
    /// The last write failed (warned about once, until one succeeds).
    failing: bool,
}

impl CountersFile {
    /// The files the options name.
    fn open_all(args: &BridgeArgs) -> Result<Vec<CountersFile>, Failure> {
        let mode = FileMode::from_option(args.mode.as_deref(), crate::files::STATS_MODE)?;
        let wanted: [(&'static str, Option<&std::path::Path>, Render); 2] = [
            ("--stats-file", args.stats_file.as_deref(), Report::to_json),
            (
                "--metrics-file",
                args.metrics_file.as_deref(),
                crate::metrics::render,
            ),
        ];
        let mut files: Vec<CountersFile> = Vec::new();
        for (option, path, render) in wanted {
            let Some(path) = path else { continue };
            let fail = |e: crate::files::FileError| e.into_failure(option);
            let target = Target::new(path).map_err(fail)?;
            target.check_replaceable().map_err(fail)?;
            if let Some(other) = files.iter().find(|f| f.target.path() == target.path()) {
                return Err(Failure::Usage(format!(
                    "{option} {}: the same file as {} [rule: one file per format]",
                    path.display(),
                    other.option
                )));
            }
            files.push(CountersFile {
                option,
                target,
                mode,
                render,
                failing: false,
            });
        }
        Ok(files)
    }

    fn write(&self, r: &Report) -> Result<(), crate::files::FileError> {
        self.target
            .replace_with((self.render)(r).as_bytes(), self.mode)
    }

    /// Rewrite the file; a failure is a warning, once.
    fn update(&mut self, r: &Report) {
        match self.write(r) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::warn(format_args!("cannot write the {} file: {e}", self.option));
            }
            Err(_) => {}
        }
    }
}

fn write_stats(files: &mut [CountersFile], r: &Report) {
    for f in files {
        f.update(r);
    }
}

fn runtime(what: &str, e: ringtap_linux::Error) -> Failure {
    Failure::Runtime(format!("{what}: {e}"))
}

/// The workers ready to start, each with its CPU; what they share with the
/// main thread; how the main thread opens their sockets again.
struct Opened {
    workers: Vec<(Worker, usize)>,
    shared: &'static Shared,
    reopens: Vec<Reopen>,
}

/// Open every worker's sockets: all before any thread starts, so a failure
/// leaves nothing running.
fn open_workers(cfg: &'static Config, sys: System) -> Result<Opened, Failure> {
    let cpus = cfg.cpus.as_slice();
    let mirror_layout = cfg
        .mirror
        .as_ref()
        .map(|m| m.tx.validate(sys.page, sys.word))
        .transpose()
        .map_err(|e| refused_by(e, "the mirror MTU"))?;
    let mut ports: Vec<PortState> = Vec::new();
    let mut register = |p: &Port| {
        if !ports.iter().any(|s| s.name() == p.name) {
            ports.push(PortState::new(&p.name, p.ifindex, p.mtu));
        }
    };
    for dir in &cfg.directions {
        register(&dir.input);
        register(&dir.output);
    }
    if let Some(m) = &cfg.mirror {
        register(&m.port);
    }
    let control =
        || netdev::Control::open().map_err(|e| runtime("a socket for interface queries", e));
    let count = cfg.directions.len() * cfg.workers;
    let stall_after = std::env::var("RINGTAP_TEST_STALL_WORKER")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    let shared: &'static Shared = SHARED.init(Shared {
        ports,
        workers: (0..count).map(|_| WorkerShared::default()).collect(),
    });
    let mut workers = Vec::new();
    let mut reopens = Vec::new();
    for (d, dir) in cfg.directions.iter().enumerate() {
        let tx_layout = dir
            .tx
            .validate(sys.page, sys.word)
            .map_err(|e| refused_by(e, "the egress MTU"))?;
        // One fanout group per direction; its id only has to be unique in
        // the namespace while we run.
        let fanout = (cfg.workers > 1).then(|| FanoutArg {
            id: (std::process::id() as u16)
                .wrapping_mul(2)
                .wrapping_add(d as u16),
            mode: FanoutMode::Hash,
            flags: FanoutFlags::IGNORE_OUTGOING,
        });
        for w in 0..cfg.workers {
            let index = d * cfg.workers + w;
            let ws = &shared.workers[index];
            let name = dir.input.name.as_str();
            let rx = ports::open_rx(name, cfg.rx_layout, fanout)
                .map_err(|e| runtime(&format!("RX ring on {name}"), e))?;
            let out_name = dir.output.name.as_str();
            let tx = ports::open_tx(out_name, tx_layout, cfg.qdisc_bypass)
                .map_err(|e| runtime(&format!("TX ring on {out_name}"), e))?;
            let mirror = match (&cfg.mirror, mirror_layout) {
                (Some(m), Some(layout)) => {
                    let mname = m.port.name.as_str();
                    let p = ports::open_tx(mname, layout, cfg.qdisc_bypass)
                        .map_err(|e| runtime(&format!("TX ring on {mname}"), e))?;
                    Some(Egress::new(
                        shared.port(mname),
                        &ws.mirror,
                        p,
                        true,
                        control()?,
                    ))
                }
                _ => None,
            };
            let worker = Worker {
                input: Ingress {
                    state: shared.port(name),
                    handoff: &ws.input,
                    req: cfg.rx,
                    port: Some(rx),
                },
                output: Egress::new(shared.port(out_name), &ws.output, tx, false, control()?),
                mirror,
                counters: counters(d, w),
                filter: cfg.filter.as_deref(),
                idle: cfg.idle,
                stop: &STOP,
                heartbeat: &ws.heartbeat,
                stall_after,
            };
            reopens.push(Reopen {
                input: name,
                rx: cfg.rx_layout,
                fanout,
                output: (out_name, tx_layout),
                mirror: cfg
                    .mirror
                    .as_ref()
                    .zip(mirror_layout)
                    .map(|(m, layout)| (m.port.name.as_str(), layout)),
                qdisc_bypass: cfg.qdisc_bypass,
            });
            let cpu = usize::from(cpus[index % cpus.len().max(1)]);
            workers.push((worker, cpu));
        }
    }
    Ok(Opened {
        workers,
        shared,
        reopens,
    })
}

/// The main thread's tick: look at the interfaces again, open the sockets
/// workers are waiting for, close the ones they gave up.
fn housekeeping(control: &netdev::Control, shared: &Shared, reopens: &[Reopen]) {
    for p in &shared.ports {
        p.refresh(control);
    }
    for (ws, r) in shared.workers.iter().zip(reopens) {
        ws.input.close_retired();
        ws.output.close_retired();
        ws.mirror.close_retired();
        let exists = |name: &str| shared.port(name).ifindex().is_some();
        if ws.input.is_wanted() && exists(r.input) {
            if let Ok(p) = ports::open_rx(r.input, r.rx, r.fanout) {
                ws.input.offer(p);
            }
        }
        let (name, layout) = r.output;
        if ws.output.is_wanted() && exists(name) {
            if let Ok(p) = ports::open_tx(name, layout, r.qdisc_bypass) {
                ws.output.offer(p);
            }
        }
        if let Some((name, layout)) = r.mirror {
            if ws.mirror.is_wanted() && exists(name) {
                if let Ok(p) = ports::open_tx(name, layout, r.qdisc_bypass) {
                    ws.mirror.offer(p);
                }
            }
        }
    }
}

fn restore_offloads(cfg: &Config) {
    if let Some(batch) = cfg.gro_batch_to_restore {
        if let Err(e) = sys_facts::set_gro_normal_batch(batch) {
            log::warn(format_args!(
                "cannot set {GRO_NORMAL_BATCH} back to {batch}: {e}"
            ));
        }
    }
    for (name, offload) in &cfg.offloads_to_restore {
        if let Err(e) = netdev::set_offload(name, *offload, true) {
            log::warn(format_args!(
                "cannot switch {offload:?} back on for {name}: {e}"
            ));
        }
    }
}

/// `ringtap bridge`.
pub fn run(args: &BridgeArgs) -> Result<String, Failure> {
    let sys = System::probe();
    let board = args.profile.load()?;
    let (defaults, ports, source) = match &board {
        Some(b) => (
            Defaults::of_board(b),
            Some((
                b.ports.r#in.as_str(),
                b.ports.out.as_str(),
                b.ports.mirror.as_deref(),
            )),
            match &args.profile.config {
                Some(path) => format!("profile {}", path.display()),
                None => format!("board {}", b.name),
            },
        ),
        None => (Defaults::HOST, None, "host defaults".to_owned()),
    };
    let mut stats = CountersFile::open_all(args)?;
    let term = crate::signals::stop()?;
    let notifier = Notifier::from_env().map_err(|e| runtime("NOTIFY_SOCKET", e))?;
    let opts = config::parse(args, &defaults, ports)?;
    let (in_name, out_name, mirror_name) = opts.ports();
    let names: Vec<&str> = [in_name.as_str(), out_name.as_str()]
        .into_iter()
        .chain(mirror_name.as_deref())
        .collect();
    let bring_up = board.as_ref().is_some_and(|b| b.ports.bring_up);
    if !wait_for_ports(
        &names,
        config::wait_limit(args)?,
        bring_up,
        &term,
        notifier.as_ref(),
    )? {
        return Ok("stopped while waiting for the ports".to_owned());
    }
    // The bypass would forward every frame a second time.
    let bypass = ringtap_linux::bypass::state(&in_name, &out_name)
        .map_err(|e| runtime(&format!("the bypass between {in_name} and {out_name}"), e))?;
    if bypass.a_to_b || bypass.b_to_a {
        ringtap_linux::bypass::set(&in_name, &out_name, false).map_err(|e| {
            runtime(
                &format!("turning the bypass between {in_name} and {out_name} off"),
                e,
            )
        })?;
        log::info(format_args!(
            "the bypass between {in_name} and {out_name} was on: turned it off"
        ));
    }
    let fail_open = args.fail_open || board.as_ref().is_some_and(|b| b.fail_open);
    let cfg = config::resolve(args, opts, source, sys)?;
    let cfg: &'static Config = CONFIG.init(cfg);
    let result = forward(
        cfg,
        sys,
        args,
        &mut stats,
        &term,
        notifier.as_ref(),
        fail_open,
    );
    if let Some(n) = &notifier {
        let _ = n.notify("STOPPING=1");
    }
    restore_offloads(cfg);
    if fail_open {
        match ringtap_linux::bypass::set(&in_name, &out_name, true) {
            Ok(()) => log::info(format_args!(
                "fail-open: the kernel forwards between {in_name} and {out_name} now"
            )),
            Err(e) => log::warn(format_args!(
                "fail-open: cannot turn the bypass between {in_name} and {out_name} on: {e}"
            )),
        }
    }
    result
}

/// Wait until every port exists and is up (bringing it up when the profile
/// says `bring_up`), at most `limit`; `Ok(false)` when told to stop first.
/// A port that never comes is `Failure::Unavailable` (exit status 75): the
/// configuration may be right and the hardware late.
fn wait_for_ports(
    names: &[&str],
    limit: Option<Duration>,
    bring_up: bool,
    term: &AtomicBool,
    notifier: Option<&Notifier>,
) -> Result<bool, Failure> {
    let control = netdev::Control::open().map_err(|e| runtime("interface queries", e))?;
    let started = Instant::now();
    let mut reported: Vec<(String, &str)> = Vec::new();
    loop {
        let mut waiting = None;
        for &name in names {
            let why = match control.link_flags(name) {
                Err(_) => Some("no such interface"),
                Ok(f) if f.up => None,
                Ok(_) if bring_up => {
                    control.set_link_up(name, true).map_err(|e| {
                        Failure::Runtime(format!(
                            "cannot bring {name} up (the profile's ports.bring_up): {e}"
                        ))
                    })?;
                    log::info(format_args!("brought {name} up (ports.bring_up)"));
                    None
                }
                Ok(_) => Some("down"),
            };
            if let Some(why) = why {
                waiting = Some((name, why));
                break;
            }
        }
        let Some((name, why)) = waiting else {
            return Ok(true);
        };
        if !reported.iter().any(|(n, w)| n == name && *w == why) {
            reported.push((name.to_owned(), why));
            let bound = match limit {
                Some(l) => format!("at most {} s (--wait-for-ports)", l.as_secs_f64()),
                None => "until it comes (--wait-for-ports SECS bounds the wait)".to_owned(),
            };
            log::info(format_args!("waiting for port {name} ({why}), {bound}"));
            if let Some(n) = notifier {
                let _ = n.notify(&format!("STATUS=waiting for port {name} ({why})"));
            }
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            return Err(Failure::Unavailable(format!(
                "port {name}: {why} after {:.1} s of waiting (--wait-for-ports); exit status 75 \
                 asks a service manager to try again later",
                started.elapsed().as_secs_f64()
            )));
        }
        if term.load(Ordering::Relaxed) {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn forward(
    cfg: &'static Config,
    sys: System,
    args: &BridgeArgs,
    stats: &mut [CountersFile],
    term: &AtomicBool,
    notifier: Option<&Notifier>,
    fail_open: bool,
) -> Result<String, Failure> {
    let usr1 = crate::signals::usr1()?;
    let control = netdev::Control::open().map_err(|e| runtime("interface queries", e))?;
    let Opened {
        workers,
        shared,
        reopens,
    } = open_workers(cfg, sys)?;
    // Re-opening a port takes CAP_NET_RAW; putting offloads and the
    // receive batch back at exit, CAP_NET_ADMIN.
    let mut keep = CapabilitySet::NET_RAW;
    if !cfg.offloads_to_restore.is_empty() || cfg.gro_batch_to_restore.is_some() {
        keep |= CapabilitySet::NET_ADMIN;
    }
    if fail_open {
        keep |= CapabilitySet::NET_ADMIN;
    }
    crate::confine::apply(&args.confine, cfg.user, keep, fail_open, "bridge")?;
    let names: Vec<String> = cfg
        .directions
        .iter()
        .map(|d| format!("{} -> {}", d.input.name, d.output.name))
        .collect();
    log::info(format_args!(
        "bridging {}{}; {} worker(s) per direction; RX ring {} x {} KiB ({}); {} MiB of rings; {}",
        names.join(", "),
        cfg.mirror
            .as_ref()
            .map(|m| format!(", mirrored to {}", m.port.name))
            .unwrap_or_default(),
        cfg.workers,
        cfg.rx.block_nr,
        cfg.rx.block_size >> 10,
        cfg.rx.version,
        cfg.ring_bytes.div_ceil(1 << 20),
        cfg.source,
    ));
    let started = Instant::now();
    let mut threads = Vec::new();
    for (i, (worker, cpu)) in workers.into_iter().enumerate() {
        let t = std::thread::Builder::new()
            .name(format!("ringtap-w{i}"))
            .spawn(move || {
                if let Err(e) = ringtap_linux::pin_current_thread(cpu) {
                    log::warn(format_args!("worker {i} not pinned to CPU {cpu}: {e}"));
                }
                worker.run();
            })
            .map_err(|e| Failure::Runtime(format!("cannot start a worker thread: {e}")))?;
        threads.push(t);
    }
    if let Some(n) = notifier {
        let _ = n.notify(&format!("READY=1\nSTATUS=bridging {}", names.join(", ")));
    }
    let mut watchdog = notifier.and_then(Notifier::watchdog).map(|usec| Watchdog {
        // Half the timeout, but no sooner than the workers beat (every
        // tick) so a healthy worker always shows progress.
        every: (usec / 2).max(HOUSEKEEPING * 2),
        next: Instant::now(),
        beats: shared
            .workers
            .iter()
            .map(|w| w.heartbeat.load(Ordering::Relaxed))
            .collect(),
        withheld: false,
    });

    let mut next_stats = Instant::now() + cfg.stats_interval;
    let mut next_check = Instant::now() + HOUSEKEEPING;
    loop {
        if term.load(Ordering::Relaxed) {
            log::info(format_args!("stopping"));
            if let Some(n) = notifier {
                let _ = n.notify("STOPPING=1");
            }
            break;
        }
        if cfg.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if threads.iter().any(|t| t.is_finished()) {
            // A worker only ends when told to; if one did, stop them all
            // rather than forward in part.
            log::warn(format_args!("a worker thread ended unexpectedly; stopping"));
            break;
        }
        if usr1.swap(false, Ordering::Relaxed) {
            log::info(format_args!(
                "counters:\n{}",
                report(cfg, started, false).render()
            ));
        }
        if Instant::now() >= next_check {
            housekeeping(&control, shared, &reopens);
            next_check = Instant::now() + HOUSEKEEPING;
        }
        if let (Some(n), Some(w)) = (notifier, watchdog.as_mut()) {
            w.tend(n, shared);
        }
        if Instant::now() >= next_stats {
            let r = report(cfg, started, false);
            if let Some(n) = notifier {
                let _ = n.notify(&format!("STATUS={}", r.status_line()));
            }
            write_stats(stats, &r);
            next_stats += cfg.stats_interval;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    STOP.store(true, Ordering::Relaxed);
    let mut crashed = false;
    for t in threads {
        crashed |= t.join().is_err();
    }
    let last = report(cfg, started, true);
    if crashed {
        write_stats(stats, &last);
        return Err(Failure::Runtime("a worker thread failed".into()));
    }
    for f in stats.iter() {
        // The final counters are the ones that matter: not written is a
        // failure, with the counters on stderr instead.
        f.write(&last).map_err(|e| {
            Failure::Runtime(format!(
                "cannot write the final {} file: {e}\n{}",
                f.option,
                last.render()
            ))
        })?;
    }
    Ok(last.render())
}
