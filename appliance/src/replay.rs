//! `ringtap replay`: the frames of a pcap or pcapng file, in file order,
//! out of an interface through a TX ring, as fast as possible or paced.
//!
//! The whole file is checked before the first frame leaves: a damaged file
//! is refused (exit 2, naming the byte offset), never half sent.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use ringtap_core::pcap::LINKTYPE_ETHERNET;
use ringtap_core::pcapng::{CaptureReader, Record};
use ringtap_core::vlan;
use ringtap_linux::TxError;

use crate::board::Board;
use crate::bridge::config::{self, parse_count, tx_request};
use crate::bridge::port::{self, TxPort};
use crate::Failure;

const EXAMPLES: &str = "\
Examples:
  ringtap replay --out eth1 --read trace.pcapng
  ringtap replay --out eth1 --read trace.pcap --pps 10000 --loop 5
  ringtap replay --out eth1 --read trace.pcapng --timing original

Reads pcap (microsecond and nanosecond, either byte order) and pcapng (several
interfaces and sections, either byte order). The file is checked completely
before the first frame is sent.";

/// Options of `ringtap replay`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, allow_negative_numbers = true)]
#[command(group(ArgGroup::new("rate").args(["pps", "mbps", "timing"])))]
pub struct ReplayArgs {
    /// Interface to send on
    #[arg(short = 'o', long, value_name = "IF")]
    pub out: Option<String>,
    /// pcap or pcapng file
    #[arg(short = 'r', long, value_name = "PATH")]
    pub read: PathBuf,
    /// Send N frames per second
    #[arg(long, value_name = "N")]
    pub pps: Option<String>,
    /// Send N megabits per second (frame bytes)
    #[arg(long, value_name = "N")]
    pub mbps: Option<String>,
    /// Keep the gaps between the file's timestamps
    #[arg(long, value_name = "MODE", value_parser = ["original"])]
    pub timing: Option<String>,
    /// Play the file N times
    #[arg(long = "loop", value_name = "N", default_value = "1")]
    pub loops: String,
    /// Stop after N frames
    #[arg(long, value_name = "N")]
    pub count: Option<String>,
    /// TX ring and port from a built-in board profile ([replay], ports.out)
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub board: Option<String>,
    /// TX ring and port from a board profile file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Send straight to the driver, skipping the port's queueing discipline (tc)
    #[arg(long)]
    pub qdisc_bypass: bool,
}

/// When each frame is due.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    /// As fast as the ring takes them.
    Flood,
    /// Frames per second.
    Pps(f64),
    /// Bits per second.
    Bps(f64),
    /// The file's own gaps.
    Original,
}

/// What the check of the file found.
#[derive(Debug)]
struct Contents {
    frames: u64,
    first_ts: Option<u64>,
}

/// Read every record once: the file must be whole and all Ethernet.
fn check(bytes: &[u8], shown: &str) -> Result<Contents, Failure> {
    let bad =
        |e: ringtap_core::pcapng::CaptureError| Failure::Usage(format!("--read {shown}: {e}"));
    let mut reader = CaptureReader::<'_>::new(bytes).map_err(bad)?;
    let mut linktypes = [None::<u16>; 64];
    let mut contents = Contents {
        frames: 0,
        first_ts: None,
    };
    loop {
        let at = reader.offset();
        let Some(record) = reader.next_record() else {
            break;
        };
        match record.map_err(bad)? {
            Record::Section => linktypes = [None; 64],
            Record::Interface { id, linktype, .. } => {
                if let Some(slot) = linktypes.get_mut(id as usize) {
                    *slot = Some(linktype);
                }
            }
            Record::Packet { iface, ts_ns, .. } => {
                let linktype = linktypes.get(iface as usize).copied().flatten();
                if linktype != Some(LINKTYPE_ETHERNET as u16) {
                    return Err(Failure::Usage(format!(
                        "--read {shown}: at byte {at}: the packet is on interface {iface}, whose \
                         link type is {} [rule: only Ethernet (link type 1) can be replayed]",
                        linktype.map_or("unknown".to_owned(), |l| l.to_string())
                    )));
                }
                contents.frames += 1;
                contents.first_ts.get_or_insert(ts_ns);
            }
            Record::Statistics { .. } => {}
        }
    }
    Ok(contents)
}

fn rate(option: &str, text: &str) -> Result<f64, Failure> {
    let value: f64 = text
        .parse()
        .map_err(|_| Failure::Usage(format!("{option}: '{text}' is not a number")))?;
    if !value.is_finite() || value <= 0.0 || value > 1e12 {
        return Err(Failure::Usage(format!(
            "{option}: '{text}' must be a positive number"
        )));
    }
    Ok(value)
}

/// Sends frames through the TX ring.
struct Transmitter {
    port: TxPort,
    queued: u32,
}

impl Transmitter {
    fn kick(&mut self) -> Result<(), Failure> {
        if self.queued == 0 {
            return Ok(());
        }
        match self.port.sock.kick() {
            Ok(_) => {
                self.queued = 0;
                Ok(())
            }
            Err(e)
                if e.errno() == rustix::io::Errno::AGAIN
                    || e.errno() == rustix::io::Errno::NOBUFS =>
            {
                Ok(())
            }
            Err(e) => Err(Failure::Runtime(format!("send on the TX ring: {e}"))),
        }
    }

    /// Queue one frame, waiting for room.
    fn queue(&mut self, frame: &[u8], stop: &AtomicBool) -> Result<bool, Failure> {
        loop {
            let Some(ring) = self.port.ring.tx() else {
                return Err(Failure::Runtime("the TX ring is gone".into()));
            };
            match ring.send(frame) {
                Ok(_) => {
                    self.queued += 1;
                    return Ok(true);
                }
                Err(TxError::Full) => {
                    self.kick()?;
                    if stop.load(Ordering::Relaxed) {
                        return Ok(false);
                    }
                    let _ = self.port.sock.poll(false, true, 50);
                }
                Err(TxError::Refused { .. }) => {
                    // Refused by the kernel (the MTU changed under us):
                    // drop it and go on.
                    let _ = ring.drop_refused();
                }
                Err(e) => return Err(Failure::Runtime(format!("TX ring: {e}"))),
            }
        }
    }

    /// Wait (bounded) until the kernel has sent everything.
    fn finish(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            self.kick()?;
            let idle = self.port.ring.tx().is_none_or(|r| r.is_idle());
            if idle || Instant::now() >= deadline {
                return Ok(());
            }
            let _ = self.port.sock.poll(false, true, 10);
        }
    }
}

/// Frames queued before the ring is kicked when they are due close together.
const KICK_BATCH: u32 = 32;
/// A wait shorter than this spins and keeps the queued frames for the
/// batch; a longer one sends them first.
const SPIN: Duration = Duration::from_micros(100);

/// Wait until `due`. Before a wait longer than [`SPIN`] the queued frames go
/// out, so they leave on time; shorter gaps (high rates) are spun through
/// and the frames go out in batches of [`KICK_BATCH`].
fn wait_until(due: Instant, tx: &mut Transmitter, stop: &AtomicBool) -> Result<(), Failure> {
    let now = Instant::now();
    if due <= now {
        return Ok(());
    }
    if due - now > SPIN {
        tx.kick()?;
    }
    loop {
        let left = due.saturating_duration_since(Instant::now());
        if left <= SPIN || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep((left - SPIN).min(Duration::from_millis(50)));
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
    Ok(())
}

/// `ringtap replay`.
pub fn run(args: &ReplayArgs) -> Result<String, Failure> {
    let shown = args.read.display().to_string();
    let loops = u64::from(parse_count("--loop", &args.loops)?);
    if loops == 0 {
        return Err(Failure::Usage("--loop 0: must be at least 1".into()));
    }
    let count = args
        .count
        .as_deref()
        .map(|c| parse_count("--count", c).map(u64::from))
        .transpose()?;
    let pace = match (&args.pps, &args.mbps, &args.timing) {
        (Some(p), _, _) => Pace::Pps(rate("--pps", p)?),
        (_, Some(m), _) => Pace::Bps(rate("--mbps", m)? * 1e6),
        (_, _, Some(_)) => Pace::Original,
        _ => Pace::Flood,
    };
    let bytes = std::fs::read(&args.read)
        .map_err(|e| Failure::Usage(format!("--read {shown}: cannot read the file: {e}")))?;
    let contents = check(&bytes, &shown)?;
    let board = Board::from_options(args.board.as_deref(), args.config.as_deref())?;
    let out_name = match (&args.out, &board) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.ports.out.clone(),
        (None, None) => {
            return Err(Failure::Usage(
                "--out IF is required (or a --board/--config with ports.out)".into(),
            ))
        }
    };
    let out = config::port("--out", &out_name)?;
    let word = ringtap_linux::kernel_word();
    // The board's [replay] ring, or one sized from the MTU.
    let req = match &board {
        Some(b) => b.tx_request(b.replay.tpacket.version()),
        None => tx_request(out.mtu, word),
    };
    let layout = req
        .validate(ringtap_linux::page_size(), word)
        .map_err(|e| crate::plan::refused_by(e, "replay.frame_size / block_size / block_nr"))?;
    let room = req.frame_size - req.version.tx_data_offset(word) - config::VNET_HDR_LEN;
    let longest = out.mtu + 18;
    if room < longest {
        return Err(Failure::Usage(format!(
            "replay.frame_size {}: a TX frame holds {room} bytes, but {out_name} (MTU {}) takes \
             frames of up to {longest} [rule: a TX frame must hold the longest frame the port \
             sends]; raise replay.frame_size",
            req.frame_size, out.mtu
        )));
    }
    let port = port::open_tx(&out_name, &req, layout, args.qdisc_bypass)
        .map_err(|e| Failure::Runtime(format!("TX ring on {out_name}: {e}")))?;

    let stop = crate::signals::stop()?;
    let mut tx = Transmitter { port, queued: 0 };
    let (mut sent, mut sent_bytes, mut too_long, mut too_short) = (0u64, 0u64, 0u64, 0u64);
    let limit = count.unwrap_or(u64::MAX);
    let start = Instant::now();
    // Where the current pass of --timing original starts.
    let mut pass_start = start;
    'passes: for _ in 0..loops {
        let mut reader = CaptureReader::<'_>::new(&bytes)
            .map_err(|e| Failure::Usage(format!("--read {shown}: {e}")))?;
        let mut last_due = pass_start;
        while let Some(record) = reader.next_record() {
            let Ok(Record::Packet { ts_ns, data, .. }) = record else {
                continue;
            };
            if sent >= limit || stop.load(Ordering::Relaxed) {
                break 'passes;
            }
            if data.len() < vlan::ETH_HEADER_LEN {
                too_short += 1;
                continue;
            }
            if data.len() > vlan::max_tx_len(out.mtu, data) {
                too_long += 1;
                continue;
            }
            let due = match pace {
                Pace::Flood => None,
                Pace::Pps(pps) => Some(start + Duration::from_secs_f64(sent as f64 / pps)),
                Pace::Bps(bps) => {
                    Some(start + Duration::from_secs_f64(sent_bytes as f64 * 8.0 / bps))
                }
                Pace::Original => {
                    let first = contents.first_ts.unwrap_or(ts_ns);
                    // A timestamp before the first frame's is sent at once.
                    Some(pass_start + Duration::from_nanos(ts_ns.saturating_sub(first)))
                }
            };
            if let Some(due) = due {
                wait_until(due, &mut tx, &stop)?;
                last_due = due;
            }
            if !tx.queue(data, &stop)? {
                break 'passes;
            }
            sent += 1;
            sent_bytes += data.len() as u64;
            if tx.queued >= KICK_BATCH {
                tx.kick()?;
            }
        }
        pass_start = last_due.max(Instant::now());
    }
    tx.finish()?;
    let took = start.elapsed().as_secs_f64();
    let mut line = format!(
        "sent {sent} frames ({sent_bytes} bytes) in {took:.3} s ({:.0} frames/s)",
        if took > 0.0 { sent as f64 / took } else { 0.0 }
    );
    if too_long > 0 {
        line.push_str(&format!(
            ", {too_long} skipped: longer than the MTU allows (MTU {})",
            out.mtu
        ));
    }
    if too_short > 0 {
        line.push_str(&format!(
            ", {too_short} skipped: shorter than an Ethernet header"
        ));
    }
    line.push('\n');
    Ok(line)
}
