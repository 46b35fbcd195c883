//! `ringtap replay`: the frames of a pcap or pcapng file, in file order,
//! out of an interface through a TX ring, as fast as possible or paced.
//!
//! The file is streamed through a fixed buffer ([`READ_BUFFER`]), whatever
//! its size. A regular file is checked completely first: a damaged one is
//! refused (exit 2, naming the byte offset), never half sent. Standard
//! input or a FIFO can be read only once: damage found on the way stops
//! the replay there (exit 2, with the counters).
//!
//! The counters tell the truth: a frame counts as sent once the kernel has
//! taken it from the ring. A frame the egress drops (`ENOBUFS`: the device
//! or its queueing discipline refused it) is tried again for a short while
//! ([`RETAIN_LIMIT`]) and then counted as dropped; one the kernel refuses is
//! counted as refused; either makes the exit status 1. Every wait (for the
//! next frame's time, for room in the ring) ends at once on SIGINT or
//! SIGTERM, which stop the replay with the counters printed.

use std::fs::File;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use embedded_io_adapters::std::FromStd;
use ringtap_core::geometry::RingRequest;
use ringtap_core::pcap::LINKTYPE_ETHERNET;
use ringtap_core::pcapng::{CaptureStreamReader, Record, StreamError};
use ringtap_core::room::max_frame;
use ringtap_core::vlan;
use ringtap_linux::{System, TxError};
use rustix::event::PollFlags;
use rustix::fd::AsFd as _;
use rustix::io::Errno;

use crate::options::{parse_count, refused_by, ProfileArgs};
use crate::ports::{self, TxPort};
use crate::signals::Signals;
use crate::Failure;

const EXAMPLES: &str = "\
Examples:
  ringtap replay --out eth1 --read trace.pcapng
  ringtap replay --out eth1 --read trace.pcap --pps 10000 --loop 5
  ringtap replay --out eth1 --read trace.pcapng --timing original
  tcpdump -i eth0 -w - | ringtap replay --out eth1 --read -

Reads pcap (microsecond and nanosecond, either byte order) and pcapng (several
interfaces and sections, either byte order), streamed: memory stays the same
whatever the file's size. A regular file is checked completely before the
first frame is sent; standard input (--read -) or a FIFO is read once, so it
cannot be looped and damage found on the way stops the replay there.
SIGUSR1 prints the counters so far.

Exit status: 0 when every frame went out (frames skipped as too long or too
short for the port, or cut short in the file with --skip-truncated, are
counted, not errors), 1 when the egress dropped or the kernel refused frames,
2 for a bad option or a damaged file. SIGINT/SIGTERM stop at once, with the
counters.";

/// Options of `ringtap replay`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, allow_negative_numbers = true)]
#[command(group(ArgGroup::new("rate").args(["pps", "mbps", "timing"])))]
pub struct ReplayArgs {
    /// Interface to send on
    #[arg(short = 'o', long, value_name = "IF")]
    pub out: Option<String>,
    /// pcap or pcapng file, or - for standard input
    #[arg(short = 'r', long, value_name = "PATH")]
    pub read: PathBuf,
    /// Send N frames per second (0.001 to 1000000000)
    #[arg(long, value_name = "N")]
    pub pps: Option<String>,
    /// Send N megabits per second of frame bytes (0.000001 to 10000000)
    #[arg(long, value_name = "N")]
    pub mbps: Option<String>,
    /// Keep the gaps between the file's timestamps
    #[arg(long, value_name = "MODE", value_parser = ["original"])]
    pub timing: Option<String>,
    /// Play the file N times (0: until stopped)
    #[arg(long = "loop", value_name = "N", default_value = "1")]
    pub loops: String,
    /// Stop after N frames
    #[arg(long, value_name = "N")]
    pub count: Option<String>,
    /// Skip records cut short in the file (captured length below the original length)
    /// instead of sending them as captured
    #[arg(long)]
    pub skip_truncated: bool,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Send straight to the driver, skipping the port's queueing discipline (tc)
    #[arg(long)]
    pub qdisc_bypass: bool,
    #[command(flatten)]
    pub confine: crate::confine::ConfineArgs,
}

/// The buffer the file is read through: it must hold the longest record
/// (a pcap snap length is at most 262144 bytes in practice).
const READ_BUFFER: usize = 1 << 20;
/// Interfaces a pcapng section may describe.
const MAX_INTERFACES: usize = 64;
/// `--pps` bounds: one frame per 1000 s at the slowest.
const PPS: (f64, f64) = (1e-3, 1e9);
/// `--mbps` bounds: one bit per second at the slowest.
const MBPS: (f64, f64) = (1e-6, 1e7);
/// How long, and how many sends, a frame the egress keeps dropping is
/// tried again before it counts as dropped.
const RETAIN_LIMIT: Duration = Duration::from_millis(20);
const RETAIN_TRIES: u32 = 3;
/// The wait between two tries of such a frame.
const RETRY_WAIT: Duration = Duration::from_millis(1);
/// How long the frames still queued at the end may take to leave; after
/// SIGINT/SIGTERM, much less.
const FINISH: Duration = Duration::from_secs(2);
const FINISH_STOPPED: Duration = Duration::from_millis(50);

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

/// A rate option within its bounds.
fn rate(option: &str, text: &str, (lo, hi): (f64, f64)) -> Result<f64, Failure> {
    let value: f64 = text
        .parse()
        .map_err(|_| Failure::Usage(format!("{option}: '{text}' is not a number")))?;
    if !(lo..=hi).contains(&value) {
        return Err(Failure::Usage(format!(
            "{option} {text}: must be between {lo} and {hi} [rule: a positive rate whose \
             frame gaps a timer can hold]"
        )));
    }
    Ok(value)
}

/// `base + secs`, or `None` (never) when no clock reaches it.
fn after(base: Instant, secs: f64) -> Option<Instant> {
    base.checked_add(Duration::try_from_secs_f64(secs).ok()?)
}

/// The input: a regular file (checked first, read again for every loop)
/// or a stream (standard input, a FIFO, a device), read once.
struct Input {
    file: File,
    shown: String,
    /// Where the capture starts (standard input may be a file read from
    /// elsewhere than its start); `None` for a stream.
    start: Option<u64>,
}

impl Input {
    /// Open `--read`: a FIFO waits here for its writer, as a FIFO does.
    fn open(path: &std::path::Path) -> Result<Input, Failure> {
        let stdin = path.as_os_str() == "-";
        let shown = if stdin {
            "- (standard input)".to_owned()
        } else {
            path.display().to_string()
        };
        let cannot =
            |e: std::io::Error| Failure::Usage(format!("--read {shown}: cannot read: {e}"));
        let file = if stdin {
            File::from(rustix::io::dup(rustix::stdio::stdin()).map_err(|e| cannot(e.into()))?)
        } else {
            File::open(path).map_err(cannot)?
        };
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_dir() {
            return Err(Failure::Usage(format!(
                "--read {shown}: a directory, not a capture file"
            )));
        }
        let start = if meta.is_file() {
            Some((&file).stream_position().map_err(cannot)?)
        } else {
            None
        };
        Ok(Input { file, shown, start })
    }

    /// A reader from the start of the capture.
    fn reader<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<CaptureStreamReader<'b, FromStd<&File>, MAX_INTERFACES>, Failure> {
        if let Some(start) = self.start {
            (&self.file)
                .seek(SeekFrom::Start(start))
                .map_err(|e| Failure::Runtime(format!("--read {}: {e}", self.shown)))?;
        }
        CaptureStreamReader::with_interface_capacity(FromStd::new(&self.file), buf)
            .map_err(|e| self.damaged(e))
    }

    /// A reading or format error, as a usage error naming the file.
    fn damaged(&self, e: StreamError<std::io::Error>) -> Failure {
        match e {
            StreamError::Capture(e) => Failure::Usage(format!("--read {}: {e}", self.shown)),
            StreamError::Read(e) => Failure::Runtime(format!("--read {}: {e}", self.shown)),
        }
    }
}

/// The link type of each interface of the current section.
struct Interfaces([Option<u16>; MAX_INTERFACES]);

impl Interfaces {
    fn new() -> Interfaces {
        Interfaces([None; MAX_INTERFACES])
    }

    /// Take a record's news; for a packet, check it is Ethernet.
    fn check(&mut self, record: &Record<'_>, at: u64, shown: &str) -> Result<(), Failure> {
        match *record {
            Record::Section => self.0 = [None; MAX_INTERFACES],
            Record::Interface { id, linktype, .. } => {
                if let Some(slot) = self.0.get_mut(id as usize) {
                    *slot = Some(linktype);
                }
            }
            Record::Packet { iface, .. } => {
                let linktype = self.0.get(iface as usize).copied().flatten();
                if linktype != Some(LINKTYPE_ETHERNET as u16) {
                    return Err(Failure::Usage(format!(
                        "--read {shown}: at byte {at}: the packet is on interface {iface}, \
                         whose link type is {} [rule: only Ethernet (link type 1) can be \
                         replayed]",
                        linktype.map_or("unknown".to_owned(), |l| l.to_string())
                    )));
                }
            }
            Record::Statistics { .. } => {}
        }
        Ok(())
    }
}

/// Read every record once: the file must be whole and all Ethernet.
fn check(input: &Input, buf: &mut [u8]) -> Result<(), Failure> {
    let mut reader = input.reader(buf)?;
    let mut interfaces = Interfaces::new();
    loop {
        let at = reader.offset();
        let Some(record) = reader.next_record() else {
            return Ok(());
        };
        let record = record.map_err(|e| input.damaged(e))?;
        interfaces.check(&record, at, &input.shown)?;
    }
}

/// What happened to the frames.
#[derive(Debug, Default)]
struct Counts {
    /// Taken by the kernel from the ring.
    sent: u64,
    sent_bytes: u64,
    /// Dropped by the egress (ENOBUFS) after the retries.
    egress_dropped: u64,
    /// Refused by the kernel (`TP_STATUS_WRONG_FORMAT`).
    refused: u64,
    /// Still queued when the replay ended.
    unsent: u64,
    too_long: u64,
    too_short: u64,
    /// Records whose captured length is below their original length.
    truncated: u64,
}

/// A frame the egress dropped, kept at the head of the ring for another
/// try.
#[derive(Debug, Clone, Copy)]
struct Retained {
    index: u32,
    since: Instant,
    tries: u32,
}

/// Sends frames through the TX ring, accounting by reaping.
struct Transmitter {
    port: TxPort,
    name: String,
    /// The port's MTU.
    mtu: u32,
    /// `--skip-truncated`.
    skip_truncated: bool,
    counts: Counts,
    retained: Option<Retained>,
    started: Instant,
}

impl Transmitter {
    /// SIGUSR1: print the counters so far.
    fn report_if_asked(&self, signals: &Signals) {
        if signals.take_usr1() {
            crate::log::info(format_args!("counters: {}", report(self).trim_end()));
        }
    }

    fn queued(&mut self) -> u32 {
        self.port.ring.tx().map_or(0, |r| r.queued())
    }

    /// One `send(MSG_DONTWAIT)` for what is queued, then count what the
    /// kernel took and deal with the frame it stopped at. Returns whether
    /// a dropped frame waits at the head for another try.
    fn kick_once(&mut self) -> Result<bool, Failure> {
        let Some(ring) = self.port.ring.tx() else {
            return Err(Failure::Runtime("the TX ring is gone".into()));
        };
        if ring.queued() == 0 {
            return Ok(false);
        }
        let errno = self.port.sock.kick().err().map(|e| e.errno());
        let reaped = ring.reap();
        self.counts.sent += u64::from(reaped.frames);
        self.counts.sent_bytes += reaped.bytes;
        let Some(head) = reaped.head else {
            self.retained = None;
            return Ok(false);
        };
        if head.refused {
            // Too long for the port now (its MTU changed) or malformed:
            // this frame can never be sent.
            self.retained = None;
            if ring.drop_head().is_some() {
                self.counts.refused += 1;
            }
            return Ok(false);
        }
        match errno {
            Some(Errno::NOBUFS) => {
                let now = Instant::now();
                let r = match self.retained {
                    Some(r) if r.index == head.index => Retained {
                        tries: r.tries + 1,
                        ..r
                    },
                    _ => Retained {
                        index: head.index,
                        since: now,
                        tries: 1,
                    },
                };
                if r.tries >= RETAIN_TRIES && now.duration_since(r.since) >= RETAIN_LIMIT {
                    self.retained = None;
                    if ring.drop_head().is_some() {
                        self.counts.egress_dropped += 1;
                    }
                    Ok(false)
                } else {
                    self.retained = Some(r);
                    Ok(true)
                }
            }
            // The send buffer is full, or a signal came: try later.
            None | Some(Errno::AGAIN | Errno::INTR) => Ok(false),
            Some(e) => Err(Failure::Runtime(format!(
                "send on the TX ring of {}: {}",
                self.name,
                std::io::Error::from(e)
            ))),
        }
    }

    /// Send what is queued; a frame the egress drops is tried again every
    /// [`RETRY_WAIT`] until it leaves or counts as dropped.
    fn kick(&mut self, signals: &Signals) -> Result<(), Failure> {
        while self.kick_once()? {
            if signals.stopping() {
                break;
            }
            signals.wait(None, RETRY_WAIT)?;
        }
        Ok(())
    }

    /// Queue one frame, waiting for room; false when stopped meanwhile.
    fn queue(&mut self, frame: &[u8], signals: &Signals) -> Result<bool, Failure> {
        loop {
            let Some(ring) = self.port.ring.tx() else {
                return Err(Failure::Runtime("the TX ring is gone".into()));
            };
            match ring.send(frame) {
                Ok(_) => return Ok(true),
                Err(TxError::Full | TxError::Refused { .. }) => {
                    self.kick(signals)?;
                    if signals.stopping() {
                        return Ok(false);
                    }
                    if !self.port.ring.tx().is_some_and(|r| r.has_room()) {
                        signals.wait(
                            Some((self.port.sock.as_fd(), PollFlags::OUT)),
                            Duration::from_millis(50),
                        )?;
                    }
                }
                Err(e) => return Err(Failure::Runtime(format!("TX ring: {e}"))),
            }
        }
    }

    /// Wait (bounded) until the kernel has taken everything; what it has
    /// not taken by then is counted as unsent.
    fn finish(&mut self, signals: &Signals) -> Result<(), Failure> {
        let deadline = Instant::now()
            + if signals.stopping() {
                FINISH_STOPPED
            } else {
                FINISH
            };
        loop {
            self.kick(signals)?;
            if self.queued() == 0 || Instant::now() >= deadline {
                break;
            }
            // Not a poll for POLLOUT: a packet socket reports it while the
            // send buffer has room, however full the ring is.
            let left = deadline.saturating_duration_since(Instant::now());
            signals.wait(None, left.min(RETRY_WAIT))?;
        }
        self.counts.unsent = u64::from(self.queued());
        Ok(())
    }
}

/// Frames queued before the ring is kicked when they are due close together.
const KICK_BATCH: u32 = 32;
/// A wait shorter than this spins and keeps the queued frames for the
/// batch; a longer one sends them first and sleeps in `poll`.
const SPIN: Duration = Duration::from_micros(100);

/// Wait until `due` (`None`: a time no clock reaches, so until stopped).
/// Before a wait longer than [`SPIN`] the queued frames go out, so they
/// leave on time; shorter gaps (high rates) are spun through and the frames
/// go out in batches of [`KICK_BATCH`]. Returns false when stopped.
fn wait_until(
    due: Option<Instant>,
    tx: &mut Transmitter,
    signals: &Signals,
) -> Result<bool, Failure> {
    let long = due.is_none_or(|d| d.saturating_duration_since(Instant::now()) > SPIN);
    if long {
        tx.kick(signals)?;
    }
    loop {
        if signals.stopping() {
            return Ok(false);
        }
        tx.report_if_asked(signals);
        let left = due.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left <= SPIN {
            break;
        }
        signals.wait(None, left - SPIN)?;
    }
    let due = due.unwrap_or_else(Instant::now);
    while Instant::now() < due {
        std::hint::spin_loop();
    }
    Ok(true)
}

/// `ringtap replay`.
pub fn run(args: &ReplayArgs) -> Result<String, Failure> {
    let user = crate::confine::user(&args.confine)?;
    let loops = u64::from(parse_count("--loop", &args.loops)?);
    let count = args
        .count
        .as_deref()
        .map(|c| parse_count("--count", c).map(u64::from))
        .transpose()?;
    if count == Some(0) {
        return Err(Failure::Usage("--count 0: must be at least 1".into()));
    }
    let pace = match (&args.pps, &args.mbps, &args.timing) {
        (Some(p), _, _) => Pace::Pps(rate("--pps", p, PPS)?),
        (_, Some(m), _) => Pace::Bps(rate("--mbps", m, MBPS)? * 1e6),
        (_, _, Some(_)) => Pace::Original,
        _ => Pace::Flood,
    };
    let input = Input::open(&args.read)?;
    if input.start.is_none() && loops != 1 {
        return Err(Failure::Usage(format!(
            "--loop {loops}: --read {} can be read only once (not a regular file) [rule: \
             looping needs a file]",
            input.shown
        )));
    }
    let mut buf = vec![0u8; READ_BUFFER];
    if input.start.is_some() {
        check(&input, &mut buf)?;
    }
    let board = args.profile.load()?;
    let out_name = match (&args.out, &board) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.ports.out.clone(),
        (None, None) => {
            return Err(Failure::Usage(
                "--out IF is required (or a --board/--config with ports.out)".into(),
            ))
        }
    };
    let out = ports::port("--out", &out_name)?;
    let sys = System::probe();
    // The board's [replay] ring, or one sized from the MTU.
    let req = match &board {
        Some(b) => b.tx_request(b.replay.tpacket.version()),
        None => RingRequest::tx_for_mtu(out.mtu, sys.word),
    };
    let layout = req
        .validate(sys.page, sys.word)
        .map_err(|e| refused_by(e, "replay.frame_size / block_size / block_nr"))?;
    // The port socket has PACKET_VNET_HDR (see ports::open_tx).
    let room = layout.tx_room(true);
    let longest = max_frame(out.mtu);
    if room < longest {
        return Err(Failure::Usage(format!(
            "replay.frame_size {}: a TX frame holds {room} bytes, but {out_name} (MTU {}) takes \
             frames of up to {longest} [rule: a TX frame must hold the longest frame the port \
             sends]; raise replay.frame_size",
            req.frame_size, out.mtu
        )));
    }
    let port = ports::open_tx(&out_name, layout, args.qdisc_bypass)
        .map_err(|e| Failure::Runtime(format!("TX ring on {out_name}: {e}")))?;
    let signals = Signals::install(false)?;
    // The socket is open: sending on it and reading the file need no
    // capability.
    crate::confine::apply(
        &args.confine,
        user,
        ringtap_linux::sandbox::CapabilitySet::empty(),
        false,
        "replay",
    )?;
    let mut tx = Transmitter {
        port,
        name: out_name,
        mtu: out.mtu,
        skip_truncated: args.skip_truncated,
        counts: Counts::default(),
        retained: None,
        started: Instant::now(),
    };
    let plan = Plan {
        pace,
        loops,
        limit: count.unwrap_or(u64::MAX),
    };
    let outcome = send(&plan, &input, &mut buf, &mut tx, &signals);
    tx.finish(&signals)?;
    let line = report(&tx);
    let failure = match outcome {
        Err(e) => Some(e),
        Ok(()) => {
            let c = &tx.counts;
            if c.truncated > 0 && !args.skip_truncated {
                crate::log::warn(format_args!(
                    "{} records were cut short in the file (captured length below the \
                     original length) and were sent as captured; --skip-truncated skips them",
                    c.truncated
                ));
            }
            (c.egress_dropped > 0 || c.refused > 0).then(|| {
                Failure::Runtime(format!(
                    "not every frame left {}: {} dropped by the egress (its device or \
                     queueing discipline refused them), {} refused by the kernel",
                    tx.name, c.egress_dropped, c.refused
                ))
            })
        }
    };
    match failure {
        None => Ok(line),
        Some(f) => {
            // The counters still go where they always go.
            let _ = std::io::stdout().write_all(line.as_bytes());
            Err(f)
        }
    }
}

/// What to send, how fast, how often.
struct Plan {
    pace: Pace,
    /// Passes over the file; 0: until stopped.
    loops: u64,
    /// Frames to send at most.
    limit: u64,
}

/// Play the file as `plan` says.
fn send(
    plan: &Plan,
    input: &Input,
    buf: &mut [u8],
    tx: &mut Transmitter,
    signals: &Signals,
) -> Result<(), Failure> {
    let Plan { pace, loops, limit } = *plan;
    let (mtu, skip_truncated) = (tx.mtu, tx.skip_truncated);
    let (mut queued, mut queued_bytes) = (0u64, 0u64);
    let start = Instant::now();
    // Where the current pass of --timing original starts.
    let mut pass_start = start;
    let mut pass = 0u64;
    'passes: while loops == 0 || pass < loops {
        pass += 1;
        let mut reader = input.reader(buf)?;
        let mut interfaces = Interfaces::new();
        let mut first_ts = None;
        let mut last_due = Some(pass_start);
        let queued_before = queued;
        loop {
            let at = reader.offset();
            let Some(record) = reader.next_record() else {
                break;
            };
            let record = record.map_err(|e| input.damaged(e))?;
            interfaces.check(&record, at, &input.shown)?;
            let Record::Packet {
                ts_ns,
                orig_len,
                data,
                ..
            } = record
            else {
                continue;
            };
            if queued >= limit || signals.stopping() {
                break 'passes;
            }
            tx.report_if_asked(signals);
            let c = &mut tx.counts;
            if (data.len() as u64) < u64::from(orig_len) {
                c.truncated += 1;
                if skip_truncated {
                    continue;
                }
            }
            if data.len() < vlan::ETH_HEADER_LEN {
                c.too_short += 1;
                continue;
            }
            if data.len() > vlan::max_tx_len(mtu, data) {
                c.too_long += 1;
                continue;
            }
            let due = match pace {
                Pace::Flood => None,
                Pace::Pps(pps) => Some(after(start, queued as f64 / pps)),
                Pace::Bps(bps) => Some(after(start, queued_bytes as f64 * 8.0 / bps)),
                Pace::Original => {
                    let first = *first_ts.get_or_insert(ts_ns);
                    // A timestamp before the first frame's is sent at once.
                    let gap = Duration::from_nanos(ts_ns.saturating_sub(first));
                    Some(pass_start.checked_add(gap))
                }
            };
            if let Some(due) = due {
                if !wait_until(due, tx, signals)? {
                    break 'passes;
                }
                last_due = due;
            }
            if !tx.queue(data, signals)? {
                break 'passes;
            }
            queued += 1;
            queued_bytes += data.len() as u64;
            if tx.queued() >= KICK_BATCH {
                tx.kick(signals)?;
            }
        }
        if queued == queued_before {
            // A pass with nothing to send: another would send nothing too.
            break;
        }
        pass_start = last_due.map_or_else(Instant::now, |d| d.max(Instant::now()));
    }
    Ok(())
}

/// The `sent ...` line.
fn report(tx: &Transmitter) -> String {
    let c = &tx.counts;
    let took = tx.started.elapsed().as_secs_f64();
    let mut line = format!(
        "sent {} frames ({} bytes) in {took:.3} s ({:.0} frames/s)",
        c.sent,
        c.sent_bytes,
        if took > 0.0 {
            c.sent as f64 / took
        } else {
            0.0
        }
    );
    let mut part = |n: u64, what: &str| {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    };
    part(
        c.too_long,
        &format!("skipped: longer than the MTU allows (MTU {})", tx.mtu),
    );
    part(c.too_short, "skipped: shorter than an Ethernet header");
    part(
        c.truncated,
        if tx.skip_truncated {
            "skipped: cut short in the file (--skip-truncated)"
        } else {
            "sent cut short: the file holds less than the original frame"
        },
    );
    part(c.egress_dropped, "dropped by the egress");
    part(c.refused, "refused by the kernel");
    part(c.unsent, "still queued at the end, not sent");
    line.push('\n');
    line
}
