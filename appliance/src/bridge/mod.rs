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
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ringtap_core::fanout::{FanoutArg, FanoutFlags, FanoutMode};
use ringtap_linux::netdev;
use static_cell::StaticCell;

pub use config::BridgeArgs;
use config::{Config, Defaults, System, MAX_WORKERS};
use counters::Counters;
use worker::{Egress, Ingress, Worker};

use crate::board::Board;
use crate::log;
use crate::stats::{DirectionReport, MirrorReport, Report};
use crate::Failure;

/// One set of counters per worker of each direction.
static COUNTERS: [Counters; 2 * MAX_WORKERS] = [const { Counters::new() }; 2 * MAX_WORKERS];
static CONFIG: StaticCell<Config> = StaticCell::new();
static STOP: AtomicBool = AtomicBool::new(false);

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

fn write_stats(cfg: &Config, r: &Report) {
    if let Some(path) = &cfg.stats_file {
        if let Err(e) = r.write_atomically(path) {
            log::warn(format_args!("cannot write {}: {e}", path.display()));
        }
    }
}

fn runtime(what: &str, e: ringtap_linux::Error) -> Failure {
    Failure::Runtime(format!("{what}: {e}"))
}

/// Open every worker's sockets: all before any thread starts, so a failure
/// leaves nothing running.
fn open_workers(cfg: &'static Config, sys: System) -> Result<Vec<(Worker, usize)>, Failure> {
    let cpus = ringtap_linux::online_cpus().map_err(|e| runtime("CPU list", e))?;
    let cpus = cpus.as_slice();
    let mirror_layout = cfg
        .mirror
        .as_ref()
        .map(|m| m.tx.validate(sys.page, sys.word))
        .transpose()
        .map_err(|e| crate::plan::refused_by(e, "the mirror MTU"))?;
    let mut workers = Vec::new();
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
            let name = dir.input.name.as_str();
            let rx = port::open_rx(name, &cfg.rx, cfg.rx_layout, fanout)
                .map_err(|e| runtime(&format!("RX ring on {name}"), e))?;
            let out_name = dir.output.name.as_str();
            let tx = port::open_tx(out_name, &dir.tx, tx_layout)
                .map_err(|e| runtime(&format!("TX ring on {out_name}"), e))?;
            let mirror = match (&cfg.mirror, mirror_layout) {
                (Some(m), Some(layout)) => {
                    let mname = m.port.name.as_str();
                    let p = port::open_tx(mname, &m.tx, layout)
                        .map_err(|e| runtime(&format!("TX ring on {mname}"), e))?;
                    Some(Egress::new(mname, m.tx, layout, m.port.mtu, p, true))
                }
                _ => None,
            };
            let worker = Worker {
                input: Ingress {
                    name,
                    req: cfg.rx,
                    layout: cfg.rx_layout,
                    fanout,
                    port: Some(rx),
                },
                output: Egress::new(out_name, dir.tx, tx_layout, dir.output.mtu, tx, false),
                mirror,
                counters: counters(d, w),
                filter: cfg.filter.as_deref(),
                stop: &STOP,
            };
            let cpu = usize::from(cpus[(d * cfg.workers + w) % cpus.len().max(1)]);
            workers.push((worker, cpu));
        }
    }
    Ok(workers)
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
    let cfg = config::resolve(args, &defaults, ports, source, sys)?;
    let cfg: &'static Config = CONFIG.init(cfg);
    let result = forward(cfg, sys);
    restore_offloads(cfg);
    result
}

fn forward(cfg: &'static Config, sys: System) -> Result<String, Failure> {
    let term = crate::signals::stop()?;
    let usr1 = crate::signals::usr1()?;
    let workers = open_workers(cfg, sys)?;
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
        if Instant::now() >= next_stats {
            write_stats(cfg, &report(cfg, started, false));
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
    write_stats(cfg, &last);
    if crashed {
        return Err(Failure::Runtime("a worker thread failed".into()));
    }
    Ok(last.render())
}
