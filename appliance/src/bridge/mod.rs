//! `ringtap bridge`: a fixed-memory layer-2 bridge / TAP from RX rings to
//! TX rings.
//!
//! Start-up checks everything ([`config`]), opens every socket and ring
//! ([`port`]), then starts one pinned thread per fanout member and
//! direction ([`worker`]). The main thread only watches: signals, the
//! duration, the stats file.

pub(crate) mod config;
mod counters;
pub(crate) mod port;
mod watch;
pub(crate) mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringtap_core::fanout::{FanoutArg, FanoutFlags, FanoutMode};
use ringtap_core::geometry::{Layout, RingRequest};
use ringtap_linux::netdev;
use static_cell::StaticCell;

pub use config::BridgeArgs;
use config::{Config, Defaults, System, MAX_WORKERS};
use counters::Counters;
use port::{RxPort, TxPort};
use watch::{Handoff, PortState};
use worker::{Egress, Ingress, Worker};

use crate::board::Board;
use crate::files::{FileMode, Target};
use crate::log;
use crate::stats::{DirectionReport, MirrorReport, Report};
use crate::Failure;

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
    rx: RingRequest,
    rx_layout: Layout,
    fanout: Option<FanoutArg>,
    output: (&'static str, RingRequest, Layout),
    mirror: Option<(&'static str, RingRequest, Layout)>,
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

/// The `--stats-file`, checked before any socket is opened.
#[derive(Debug)]
struct StatsFile {
    target: Target,
    mode: FileMode,
    /// The last write failed (warned about once, until one succeeds).
    failing: bool,
}

impl StatsFile {
    fn open(args: &BridgeArgs) -> Result<Option<StatsFile>, Failure> {
        let mode = FileMode::from_option(args.mode.as_deref(), crate::files::STATS_MODE)?;
        let Some(path) = &args.stats_file else {
            return Ok(None);
        };
        let stats = |e: crate::files::FileError| e.into_failure("--stats-file");
        let target = Target::new(path).map_err(stats)?;
        target.check_replaceable().map_err(stats)?;
        Ok(Some(StatsFile {
            target,
            mode,
            failing: false,
        }))
    }

    /// Rewrite the file; a failure is a warning, once.
    fn update(&mut self, r: &Report) {
        match r.write_to(&self.target, self.mode) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::warn(format_args!("cannot write the stats file: {e}"));
            }
            Err(_) => {}
        }
    }
}

fn write_stats(stats: &mut Option<StatsFile>, r: &Report) {
    if let Some(s) = stats {
        s.update(r);
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
        .map_err(|e| crate::plan::refused_by(e, "the mirror MTU"))?;
    let mut ports: Vec<PortState> = Vec::new();
    let mut register = |p: &config::Port| {
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
            .map_err(|e| crate::plan::refused_by(e, "the egress MTU"))?;
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
            let rx = port::open_rx(name, &cfg.rx, cfg.rx_layout, fanout)
                .map_err(|e| runtime(&format!("RX ring on {name}"), e))?;
            let out_name = dir.output.name.as_str();
            let tx = port::open_tx(out_name, &dir.tx, tx_layout, cfg.qdisc_bypass)
                .map_err(|e| runtime(&format!("TX ring on {out_name}"), e))?;
            let mirror = match (&cfg.mirror, mirror_layout) {
                (Some(m), Some(layout)) => {
                    let mname = m.port.name.as_str();
                    let p = port::open_tx(mname, &m.tx, layout, cfg.qdisc_bypass)
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
            };
            reopens.push(Reopen {
                input: name,
                rx: cfg.rx,
                rx_layout: cfg.rx_layout,
                fanout,
                output: (out_name, dir.tx, tx_layout),
                mirror: cfg
                    .mirror
                    .as_ref()
                    .zip(mirror_layout)
                    .map(|(m, layout)| (m.port.name.as_str(), m.tx, layout)),
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
            if let Ok(p) = port::open_rx(r.input, &r.rx, r.rx_layout, r.fanout) {
                ws.input.offer(p);
            }
        }
        let (name, req, layout) = r.output;
        if ws.output.is_wanted() && exists(name) {
            if let Ok(p) = port::open_tx(name, &req, layout, r.qdisc_bypass) {
                ws.output.offer(p);
            }
        }
        if let Some((name, req, layout)) = r.mirror {
            if ws.mirror.is_wanted() && exists(name) {
                if let Ok(p) = port::open_tx(name, &req, layout, r.qdisc_bypass) {
                    ws.mirror.offer(p);
                }
            }
        }
    }
}

fn restore_offloads(cfg: &Config) {
    if let Some(batch) = cfg.gro_batch_to_restore {
        if let Err(e) = std::fs::write(config::GRO_NORMAL_BATCH, batch.to_string()) {
            log::warn(format_args!(
                "cannot set {} back to {batch}: {e}",
                config::GRO_NORMAL_BATCH
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
    let sys = System {
        page: ringtap_linux::page_size(),
        word: ringtap_linux::kernel_word(),
    };
    let board = Board::from_options(args.board.as_deref(), args.config.as_deref())?;
    let (defaults, ports, source) = match &board {
        Some(b) => (
            Defaults::of_board(b),
            Some((
                b.ports.r#in.as_str(),
                b.ports.out.as_str(),
                b.ports.mirror.as_deref(),
            )),
            match &args.config {
                Some(path) => format!("profile {}", path.display()),
                None => format!("board {}", b.name),
            },
        ),
        None => (Defaults::HOST, None, "host defaults".to_owned()),
    };
    let stats = StatsFile::open(args)?;
    let cfg = config::resolve(args, &defaults, ports, source, sys)?;
    let cfg: &'static Config = CONFIG.init(cfg);
    let result = forward(cfg, sys, stats);
    restore_offloads(cfg);
    result
}

fn forward(
    cfg: &'static Config,
    sys: System,
    mut stats: Option<StatsFile>,
) -> Result<String, Failure> {
    let term = crate::signals::stop()?;
    let usr1 = crate::signals::usr1()?;
    let control = netdev::Control::open().map_err(|e| runtime("interface queries", e))?;
    let Opened {
        workers,
        shared,
        reopens,
    } = open_workers(cfg, sys)?;
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

    let mut next_stats = Instant::now() + cfg.stats_interval;
    let mut next_check = Instant::now() + HOUSEKEEPING;
    loop {
        if term.load(Ordering::Relaxed) {
            log::info(format_args!("stopping"));
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
        if Instant::now() >= next_stats {
            write_stats(&mut stats, &report(cfg, started, false));
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
        write_stats(&mut stats, &last);
        return Err(Failure::Runtime("a worker thread failed".into()));
    }
    if let Some(s) = &stats {
        // The final counters are the ones that matter: not written is a
        // failure, with the counters on stderr instead.
        s.target
            .replace_with(last.to_json().as_bytes(), s.mode)
            .map_err(|e| {
                Failure::Runtime(format!(
                    "cannot write the final stats file: {e}\n{}",
                    last.render()
                ))
            })?;
    }
    Ok(last.render())
}
