//! `ringtap bridge` options, and their validation into a [`Config`] before
//! any socket is opened: interfaces, MTUs, ring geometry against the
//! kernel's rules and the memory budget, the filter program. Every problem
//! is a [`Failure::Usage`] (exit status 2) that names the option and the
//! rule.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ringtap_core::geometry::{Layout, RingKind, RingRequest, TpacketVersion};
use ringtap_core::room::max_frame;
use ringtap_linux::netdev::{self, Offload};
use ringtap_linux::system::{self as sys_facts, GRO_NORMAL_BATCH};
use ringtap_linux::{CpuList, System};

use super::worker::Idle;
use crate::filter::{self, Filter};
use crate::options::{parse_count, parse_u32, refused_by, seconds, Kind, ProfileArgs, RxRingArgs};
use crate::ports::{port, reorder_warning, Port};
use crate::Failure;
use ringtap_board::{Board, Tpacket};

/// Fanout members per direction, at most.
pub const MAX_WORKERS: usize = 16;

const EXAMPLES: &str = "\
Every frame received on --in is sent out --out unchanged (VLAN tags the
kernel stripped are put back, partial checksums completed), or counted in a
named drop counter. Stop with Ctrl-C or SIGTERM; SIGUSR1 prints the counters.

Examples:
  ringtap bridge --in eth0 --out eth1 --both
  ringtap bridge --in eth0 --out eth1 --mirror eth2 --stats-file /run/ringtap.json
  ringtap bridge -i eth0 -o eth1 not arp
  tcpdump -i eth0 -ddd 'not arp' > f.bpf && ringtap bridge --in eth0 --out eth1 --filter f.bpf

A pcap-filter expression (the trailing words, or -F FILE) is compiled as
libpcap compiles it for a live interface; the bridge runs it on every frame
and counts those it rejects as `filtered`.

Sizes take 4096, 0x1000, 128K or 2M. Exit status: 0 after a clean stop, 2 for
a bad option or configuration (nothing is forwarded), 1 when the system fails.";

/// Options of `ringtap bridge`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, allow_negative_numbers = true)]
pub struct BridgeArgs {
    /// Interface whose frames are forwarded
    #[arg(short = 'i', long = "in", value_name = "IF_A")]
    pub in_port: Option<String>,
    /// Interface the frames leave on
    #[arg(short = 'o', long = "out", value_name = "IF_B")]
    pub out_port: Option<String>,
    /// Also forward IF_B -> IF_A
    #[arg(long)]
    pub both: bool,
    /// Also send every forwarded frame out this interface (a TAP)
    #[arg(long, value_name = "IF_M")]
    pub mirror: Option<String>,
    /// Forward only frames this classic BPF program accepts (`tcpdump -ddd` output)
    #[arg(long, value_name = "FILE")]
    pub filter: Option<PathBuf>,
    /// Read the filter expression from FILE (`#` starts a comment)
    #[arg(short = 'F', value_name = "FILE")]
    pub expression_file: Option<PathBuf>,
    /// Forwarding threads per direction (a PACKET_FANOUT hash group; flows stay in order)
    #[arg(long, value_name = "N", default_value = "1")]
    pub workers: String,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub ring: RxRingArgs,
    /// Seconds between rewrites of --stats-file
    #[arg(long, value_name = "SECS", default_value = "1")]
    pub stats_interval: String,
    /// Write the counters here as JSON (atomically), every interval and at exit
    #[arg(long, value_name = "PATH")]
    pub stats_file: Option<PathBuf>,
    /// Write the counters here for Prometheus (node_exporter's textfile format), atomically, every interval and at exit
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Mode of the stats file, exactly (default: 0640 less the umask)
    #[arg(long, value_name = "OCTAL")]
    pub mode: Option<String>,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<String>,
    /// Switch GRO/LRO off on the ingress ports while running (restored at exit)
    #[arg(long)]
    pub fix_offloads: bool,
    /// After the last frame, keep checking the RX ring this long before sleeping
    #[arg(long, value_name = "USECS")]
    pub busy_poll: Option<String>,
    /// Never sleep: check the RX ring continuously (lowest delay; a whole CPU per worker)
    #[arg(long)]
    pub low_latency: bool,
    /// CPUs for the workers, in order (e.g. 1 or 2,3 or 0-3); default: the CPUs ringtap may run on
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Send through the egress's queueing discipline (tc) instead of straight to its driver
    #[arg(long)]
    pub use_qdisc: bool,
    /// Wait at most this long for a port that is missing or down at start, then exit 75 (default: as long as it takes)
    #[arg(long, value_name = "SECS")]
    pub wait_for_ports: Option<String>,
    /// At exit, let the kernel forward between --in and --out (`ringtap bypass ... on`)
    #[arg(long)]
    pub fail_open: bool,
    #[command(flatten)]
    pub confine: crate::confine::ConfineArgs,
    /// Forward only frames this pcap-filter expression matches; its words are joined by spaces
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// One forwarding direction.
#[derive(Debug, Clone)]
pub struct Direction {
    /// Where frames come from.
    pub input: Port,
    /// Where they go.
    pub output: Port,
    /// The TX ring of the output port.
    pub tx: RingRequest,
}

/// A mirror port.
#[derive(Debug, Clone)]
pub struct Mirror {
    /// The port.
    pub port: Port,
    /// Its TX ring.
    pub tx: RingRequest,
}

/// Ring geometry defaults: the host's, or a board profile's.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// RX ring version.
    pub tpacket: Tpacket,
    /// Block size.
    pub block_size: u32,
    /// Blocks.
    pub block_nr: u32,
    /// Frame size; `None`: derived from the ingress MTU (V2) or 2048 (V3).
    pub frame_size: Option<u32>,
    /// V3 block timeout in ms.
    pub retire_blk_tov_ms: u32,
    /// Memory all rings may take together, if limited.
    pub ring_budget: Option<u64>,
    /// What a worker does when its RX ring is empty.
    pub idle: Idle,
}

impl Defaults {
    /// Without a board: 8 MiB V2 RX rings of 64 blocks of 128 KiB (frames
    /// sized from the MTU: 4096 frames at MTU 1500), workers that sleep
    /// when idle. The kernel hands each frame over as it arrives.
    pub const HOST: Defaults = Defaults {
        tpacket: Tpacket::V2,
        block_size: 128 << 10,
        block_nr: 64,
        frame_size: None,
        retire_blk_tov_ms: 0,
        ring_budget: None,
        idle: Idle::Sleep {
            spin: Duration::ZERO,
        },
    };

    /// `--tpacket v3` without a board: 64 blocks of 128 KiB, each retired
    /// after 1 ms at the latest (at a low rate, every frame waits that
    /// long; the ring still rides out a 64 ms stall of its worker).
    const HOST_V3: Defaults = Defaults {
        tpacket: Tpacket::V3,
        retire_blk_tov_ms: 1,
        ..Defaults::HOST
    };

    /// A board profile's `[bridge]` ring and its ring memory budget.
    pub fn of_board(board: &Board) -> Defaults {
        let g = &board.bridge;
        Defaults {
            tpacket: g.tpacket,
            block_size: g.block_size,
            block_nr: g.block_nr,
            frame_size: Some(g.frame_size),
            retire_blk_tov_ms: g.retire_blk_tov_ms,
            ring_budget: Some(board.ring_budget_bytes()),
            idle: if g.low_latency {
                Idle::Spin
            } else {
                Idle::Sleep {
                    spin: Duration::from_micros(u64::from(g.busy_poll_us)),
                }
            },
        }
    }

    /// The defaults for `version`: ours if it is our version, else the
    /// host's for it (keeping the budget).
    fn for_version(&self, version: Tpacket) -> Defaults {
        if version == self.tpacket {
            return *self;
        }
        let host = match version {
            Tpacket::V2 => Defaults::HOST,
            Tpacket::V3 => Defaults::HOST_V3,
        };
        Defaults {
            ring_budget: self.ring_budget,
            idle: self.idle,
            ..host
        }
    }
}

/// Everything the bridge needs, checked.
#[derive(Debug)]
pub struct Config {
    /// One or two directions.
    pub directions: Vec<Direction>,
    /// The mirror port.
    pub mirror: Option<Mirror>,
    /// Fanout members per direction.
    pub workers: usize,
    /// The RX ring of every worker.
    pub rx: RingRequest,
    /// Its layout on this kernel.
    pub rx_layout: Layout,
    /// The filter program.
    pub filter: Option<Filter>,
    /// How often the stats file is rewritten.
    pub stats_interval: Duration,
    /// When to stop by ourselves.
    pub duration: Option<Duration>,
    /// Offloads to switch off now and back on at exit.
    pub offloads_to_restore: Vec<(String, Offload)>,
    /// `net.core.gro_normal_batch` before `--fix-offloads` set it to 1.
    pub gro_batch_to_restore: Option<u32>,
    /// Memory all rings take.
    pub ring_bytes: u64,
    /// Where the ring defaults came from, for the start-up message.
    pub source: String,
    /// What a worker does when its RX ring is empty.
    pub idle: Idle,
    /// The CPUs the workers are pinned to, in order.
    pub cpus: CpuList,
    /// `PACKET_QDISC_BYPASS` on the TX rings.
    pub qdisc_bypass: bool,
    /// Whom to become after set-up (`--user`).
    pub user: Option<(u32, u32)>,
}

fn usage(text: String) -> Failure {
    Failure::Usage(text)
}

/// The bridge's ports: from the options, else from the profile.
pub fn port_names<'a>(
    args: &'a BridgeArgs,
    default_ports: Option<(&'a str, &'a str, Option<&'a str>)>,
) -> Result<(&'a str, &'a str, Option<&'a str>), Failure> {
    let in_name = match (&args.in_port, default_ports) {
        (Some(p), _) => p.as_str(),
        (None, Some((p, _, _))) => p,
        (None, None) => {
            return Err(usage(
                "--in IF_A is required (or a --board/--config with ports.in)".into(),
            ))
        }
    };
    let out_name = match (&args.out_port, default_ports) {
        (Some(p), _) => p.as_str(),
        (None, Some((_, p, _))) => p,
        (None, None) => {
            return Err(usage(
                "--out IF_B is required (or a --board/--config with ports.out)".into(),
            ))
        }
    };
    let mirror_name = args
        .mirror
        .as_deref()
        .or_else(|| default_ports.and_then(|(_, _, m)| m));
    Ok((in_name, out_name, mirror_name))
}

/// `--wait-for-ports SECS`: `None` waits as long as it takes.
pub fn wait_limit(args: &BridgeArgs) -> Result<Option<Duration>, Failure> {
    let Some(text) = args.wait_for_ports.as_deref() else {
        return Ok(None);
    };
    if text.trim() == "0" {
        return Ok(Some(Duration::ZERO));
    }
    seconds("--wait-for-ports", text).map(Some)
}

/// The options that do not depend on the interfaces, checked: every
/// mistake in them is reported before ringtap waits for a port.
#[derive(Debug)]
pub struct Options {
    in_name: String,
    out_name: String,
    mirror_name: Option<String>,
    workers: usize,
    stats_interval: Duration,
    user: Option<(u32, u32)>,
    duration: Option<Duration>,
    filter: Option<Filter>,
    idle: Idle,
    cpus: CpuList,
    defaults: Defaults,
    version: Tpacket,
    block_size: Option<u32>,
    block_nr: Option<u32>,
    frame_size: Option<u32>,
}

impl Options {
    /// The bridge's ports: IF_A, IF_B and the mirror.
    pub fn ports(&self) -> (String, String, Option<String>) {
        (
            self.in_name.clone(),
            self.out_name.clone(),
            self.mirror_name.clone(),
        )
    }
}

/// Check the options on their own and against the defaults.
pub fn parse(
    args: &BridgeArgs,
    defaults: &Defaults,
    default_ports: Option<(&str, &str, Option<&str>)>,
) -> Result<Options, Failure> {
    let (in_name, out_name, mirror_name) = port_names(args, default_ports)?;
    if in_name == out_name {
        return Err(usage(format!(
            "--in and --out are both {in_name}: a bridge needs two interfaces"
        )));
    }
    if let Some(m) = mirror_name {
        if m == in_name || m == out_name {
            return Err(usage(format!(
                "--mirror {m} is also a bridge port: the mirror must be a third interface"
            )));
        }
    }
    let workers = parse_count("--workers", &args.workers)? as usize;
    if workers == 0 || workers > MAX_WORKERS {
        return Err(usage(format!(
            "--workers {workers}: must be between 1 and {MAX_WORKERS}"
        )));
    }
    let stats_interval = seconds("--stats-interval", &args.stats_interval)?;
    let user = crate::confine::user(&args.confine)?;
    let duration = args
        .duration
        .as_deref()
        .map(|d| seconds("--duration", d))
        .transpose()?;
    let filter = filter::select(
        args.filter.as_deref(),
        args.expression_file.as_deref(),
        &args.expression,
        true,
    )?;
    let idle = match (args.low_latency, &args.busy_poll) {
        (true, Some(_)) => {
            return Err(usage(
                "--low-latency never sleeps, so --busy-poll has nothing to shorten: give one \
                 of them"
                    .into(),
            ))
        }
        (true, None) => Idle::Spin,
        (false, Some(text)) => Idle::Sleep {
            spin: Duration::from_micros(u64::from(parse_u32("--busy-poll", text, Kind::Count)?)),
        },
        (false, None) => defaults.idle,
    };
    let cpus = match &args.cpus {
        Some(text) => parse_cpus(text)?,
        None => ringtap_linux::online_cpus()
            .map_err(|e| Failure::Runtime(format!("the CPUs ringtap may run on: {e}")))?,
    };
    let ring = args.ring.parse()?;
    if ring.block_nr == Some(0) {
        return Err(usage(
            "--block-nr 0: a ring needs at least one block [rule: tp_block_nr >= 1]".into(),
        ));
    }
    let version = ring.tpacket.unwrap_or(defaults.tpacket);
    Ok(Options {
        in_name: in_name.to_owned(),
        out_name: out_name.to_owned(),
        mirror_name: mirror_name.map(str::to_owned),
        workers,
        stats_interval,
        user,
        duration,
        filter,
        idle,
        cpus,
        defaults: defaults.for_version(version),
        version,
        block_size: ring.block_size,
        block_nr: ring.block_nr,
        frame_size: ring.frame_size,
    })
}

/// Check the [`Options`] against the interfaces and the system.
pub fn resolve(
    args: &BridgeArgs,
    opts: Options,
    source: String,
    sys: System,
) -> Result<Config, Failure> {
    let Options {
        in_name,
        out_name,
        mirror_name,
        workers,
        stats_interval,
        user,
        duration,
        filter,
        idle,
        cpus,
        defaults,
        version,
        block_size,
        block_nr,
        frame_size,
    } = opts;
    let a = port("--in", &in_name)?;
    let b = port("--out", &out_name)?;
    let mirror = mirror_name
        .as_deref()
        .map(|m| port("--mirror", m))
        .transpose()?;
    // Names differ, but one may be the other's altname.
    if a.ifindex == b.ifindex {
        return Err(usage(format!(
            "--in {in_name} and --out {out_name} are the same interface (ifindex {}; one name is \
             an altname of the other): a bridge needs two interfaces",
            a.ifindex
        )));
    }
    if let Some(m) = &mirror {
        if m.ifindex == a.ifindex || m.ifindex == b.ifindex {
            return Err(usage(format!(
                "--mirror {}: the same interface as a bridge port (ifindex {}): the mirror must \
                 be a third interface",
                m.name, m.ifindex
            )));
        }
    }

    // RX ring: explicit options over the defaults.
    let ingress_mtu = if args.both { a.mtu.max(b.mtu) } else { a.mtu };
    let need = max_frame(ingress_mtu);
    let rx = match version {
        Tpacket::V3 => {
            let block_size = block_size.unwrap_or(defaults.block_size);
            let block_nr = block_nr.unwrap_or(defaults.block_nr);
            // V3 checks tp_frame_size only against the block; 2048 keeps
            // the kernel's frame count meaningful.
            let frame_size =
                frame_size.unwrap_or_else(|| defaults.frame_size.unwrap_or(2048).min(block_size));
            RingRequest {
                retire_blk_tov: defaults.retire_blk_tov_ms,
                ..RingRequest::tiled(
                    TpacketVersion::V3,
                    RingKind::Rx,
                    block_size,
                    block_nr,
                    frame_size,
                )
            }
        }
        Tpacket::V2 => {
            // Room for the MTU's frames, in frames that tile the blocks.
            let frame_size = frame_size.unwrap_or_else(|| {
                defaults
                    .frame_size
                    .unwrap_or_else(|| RingRequest::rx_frame_size_for_mtu(ingress_mtu, 0, sys.word))
            });
            let block_size = block_size.unwrap_or_else(|| defaults.block_size.max(frame_size));
            let block_nr = block_nr.unwrap_or(defaults.block_nr);
            RingRequest::tiled(
                TpacketVersion::V2,
                RingKind::Rx,
                block_size,
                block_nr,
                frame_size,
            )
        }
    };
    let rx_layout = rx
        .validate(sys.page, sys.word)
        .map_err(|e| refused_by(e, "--tpacket, --block-size, --block-nr, --frame-size"))?;
    let room = rx_layout.rx_room();
    if room < need {
        let what = match version {
            Tpacket::V3 => "--block-size",
            Tpacket::V2 => "--frame-size",
        };
        return Err(usage(format!(
            "{what}: an RX slot holds {room} bytes of packet after the kernel's header, but \
             MTU {ingress_mtu} frames need {need} [rule: every frame must fit its ring slot \
             untruncated]; raise {what}"
        )));
    }

    let tx_for = |p: &Port| RingRequest::tx_for_mtu(p.mtu, sys.word);
    let mut directions = vec![Direction {
        input: a.clone(),
        output: b.clone(),
        tx: tx_for(&b),
    }];
    if args.both {
        directions.push(Direction {
            input: b.clone(),
            output: a.clone(),
            tx: tx_for(&a),
        });
    }
    let mirror = mirror.map(|port| Mirror {
        tx: tx_for(&port),
        port,
    });

    // Memory: every worker of every direction has an RX ring, a TX ring and
    // perhaps a mirror TX ring.
    let mut ring_bytes = 0u64;
    for d in &directions {
        let tx =
            d.tx.validate(sys.page, sys.word)
                .map_err(|e| refused_by(e, "the egress MTU (TX ring derived from it)"))?;
        let mirror_len = match &mirror {
            Some(m) => {
                m.tx.validate(sys.page, sys.word)
                    .map_err(|e| refused_by(e, "the mirror MTU (TX ring derived from it)"))?
                    .mmap_len()
            }
            None => 0,
        };
        ring_bytes += (rx_layout.mmap_len() + tx.mmap_len() + mirror_len) * workers as u64;
    }
    let budget = defaults
        .ring_budget
        .or_else(|| sys_facts::mem_total().map(|bytes| bytes / 2));
    let budget_source = if defaults.ring_budget.is_some() {
        "the board's ring_budget_mib"
    } else {
        "half of this machine's memory"
    };
    if let Some(budget) = budget {
        if ring_bytes > budget {
            return Err(usage(format!(
                "the rings need {} MiB ({} direction(s) x {workers} worker(s) x (RX {} KiB + TX \
                 + mirror)) but the ring memory budget ({budget_source}) is {} MiB [rule: rings \
                 must fit the budget]; use fewer --workers, a smaller --block-size/--block-nr, or a board \
                 with a larger ring_budget_mib",
                ring_bytes >> 20,
                directions.len(),
                rx_layout.mmap_len() >> 10,
                budget >> 20
            )));
        }
    }

    // Offloads that make the kernel hand us frames larger than the MTU.
    let mut offloads_to_restore = Vec::new();
    for d in &directions {
        for offload in [Offload::Gro, Offload::Lro] {
            let name = &d.input.name;
            if netdev::offload(name, offload).unwrap_or(false) {
                if args.fix_offloads {
                    netdev::set_offload(name, offload, false).map_err(|e| {
                        Failure::Runtime(format!("cannot switch {offload:?} off on {name}: {e}"))
                    })?;
                    offloads_to_restore.push((name.clone(), offload));
                } else {
                    crate::log::warn(format_args!(
                        "{offload:?} is on for {name}: the kernel merges received segments into \
                         frames larger than the MTU, which ringtap must drop (oversize); \
                         --fix-offloads switches it off while ringtap runs"
                    ));
                }
            }
        }
    }

    let gro_batch_to_restore = match sys_facts::gro_normal_batch() {
        Some(batch) if batch > 1 && args.fix_offloads => {
            sys_facts::set_gro_normal_batch(1).map_err(|e| {
                Failure::Runtime(format!("cannot set {GRO_NORMAL_BATCH} to 1: {e}"))
            })?;
            Some(batch)
        }
        Some(batch) if batch > 1 => {
            crate::log::warn(format_args!("{}", reorder_warning(batch)));
            None
        }
        _ => None,
    };

    Ok(Config {
        directions,
        mirror,
        workers,
        rx,
        rx_layout,
        filter,
        stats_interval,
        duration,
        offloads_to_restore,
        gro_batch_to_restore,
        ring_bytes,
        source,
        idle,
        cpus,
        qdisc_bypass: !args.use_qdisc,
        user,
    })
}

/// `--cpus LIST`: CPU numbers and ranges (`1`, `2,3`, `0-3`), each one this
/// process may run on.
fn parse_cpus(text: &str) -> Result<CpuList, Failure> {
    let allowed = ringtap_linux::online_cpus()
        .map_err(|e| Failure::Runtime(format!("the CPUs ringtap may run on: {e}")))?;
    let bad = |why: &str| {
        usage(format!(
            "--cpus {text}: {why} [rule: a comma-separated list of CPU numbers or ranges \
             like 0-3, each among the CPUs ringtap may run on: {}]",
            allowed
                .as_slice()
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ))
    };
    let mut list = CpuList::default();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let number = |t: &str| {
            t.trim()
                .parse::<u16>()
                .map_err(|_| bad(&format!("`{part}` is not a CPU number or range")))
        };
        let (first, last) = (number(first)?, number(last)?);
        if first > last {
            return Err(bad(&format!("`{part}` runs backwards")));
        }
        for cpu in first..=last {
            if !allowed.as_slice().contains(&cpu) {
                return Err(bad(&format!("CPU {cpu} is not one of them")));
            }
            if list.push(cpu).is_err() {
                return Err(bad("too many CPUs"));
            }
        }
    }
    Ok(list)
}
