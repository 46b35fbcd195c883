//! `ringtap capture`: an RX ring into a pcapng or pcap file, with the
//! positions of the kernel's drops.
//!
//! One thread takes frames from the ring and writes them through
//! `ringtap_core`'s encoders into a buffered file. When the writer falls
//! behind, the ring fills and the kernel drops; the first frame after a drop
//! carries `TP_STATUS_LOSING`, the drops are read from `PACKET_STATISTICS`
//! at once and written into that frame's `epb_dropcount`, so the file says
//! where frames are missing.
//!
//! The file is what must not be lost ([`output`]): it is created (and its
//! headers written) before the capture socket, under a temporary name that
//! replaces an older file only once the capture runs; a write error stops
//! the capture at once, leaves the file ending on its last whole record and
//! says how many frames that is and how many were lost (exit status 1).
//! SIGHUP starts a new file, SIGUSR1 prints the counters.

mod output;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use ringtap_core::bpf::Instruction;
use ringtap_core::geometry::{Layout, RingKind, RingRequest, TpacketVersion};
use ringtap_core::loss::LossLedger;
use ringtap_core::room::max_frame;
use ringtap_core::status::RxStatus;
use ringtap_core::vlan::{self, Tag};
use ringtap_linux::sandbox::CapabilitySet;
use ringtap_linux::{system, FrameInfo, PacketSocket, System};
use rustix::event::PollFlags;
use rustix::fd::AsFd as _;

use crate::files::{FileError, FileMode, Target};
use crate::filter::{self as filters, Filter};
use crate::log;
use crate::options::{parse_count, parse_u32, refused_by, seconds, Kind, ProfileArgs, RxRingArgs};
use crate::ports::{self, RxPort};
use crate::signals::Signals;
use crate::stats::{CaptureReport, Loss};
use crate::Failure;
use output::{Output, OutputError, Settings};
use ringtap_board::{Board, Tpacket};

/// Loss positions kept for the stats file.
const MAX_LOSS_ENTRIES: usize = 4096;
/// Loss positions printed at exit.
const PRINTED_LOSSES: usize = 20;
/// Files a rotating capture may keep.
const MAX_ROTATE_FILES: u32 = 100_000;
/// How often the stats file is rewritten.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// pcapng: interface name, nanosecond timestamps, drop positions, statistics (default)
    Pcapng,
    /// classic pcap with nanosecond timestamps
    Pcap,
}

const EXAMPLES: &str = "\
Examples:
  ringtap capture --in eth0 --write eth0.pcapng
  ringtap capture -i eth0 -w web.pcapng tcp port 80 or tcp port 443
  ringtap capture -i eth0 -w - 'vlan 10 and udp' | tcpdump -r - -nn
  ringtap capture --in eth0 --write ring.pcapng --rotate-size 16M --rotate-files 4

A pcap-filter expression (the trailing words, or -F FILE) is compiled as
libpcap compiles it for a live interface and runs in the kernel. Unlike
tcpdump's -C (millions of bytes), -C/--rotate-size counts bytes, with K and M
for KiB and MiB: tcpdump -C 16 is about -C 15M here.

Frames the kernel dropped (ring full) are recorded where they happened: the
next frame in the file carries the count (pcapng epb_dropcount; tshark shows
it as frame.drop_count), and the stats output lists the positions.

Files are created with mode 0600 (the stats file 0640) less the umask, or
exactly --mode. An existing file at PATH is replaced once the capture runs,
never through a symbolic link; anything but a regular file there is refused.
A write error (a full disk) stops the capture with exit status 1: the file
ends on its last whole frame, and a summary says how many frames it holds.
SIGHUP starts a new file (the next one when rotating; a new PATH when the old
one was moved away, as logrotate does); SIGUSR1 prints the counters.";

/// Options of `ringtap capture`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, allow_negative_numbers = true)]
pub struct CaptureArgs {
    /// Interface to capture on (both directions)
    #[arg(short = 'i', long = "in", value_name = "IF")]
    pub in_port: Option<String>,
    /// Output file, or - for standard output
    #[arg(short = 'w', long, value_name = "PATH")]
    pub write: PathBuf,
    /// File format
    #[arg(long, value_enum, default_value = "pcapng")]
    pub format: Format,
    /// Bytes kept of each frame (0: 262144, as with tcpdump -s 0)
    #[arg(short = 's', long, value_name = "N", default_value = "262144")]
    pub snaplen: String,
    /// Stop after N frames
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<String>,
    /// Stop after SECS seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<String>,
    /// Capture only frames this classic BPF program accepts (`tcpdump -ddd` output)
    #[arg(long, value_name = "FILE")]
    pub filter: Option<PathBuf>,
    /// Read the filter expression from FILE (`#` starts a comment)
    #[arg(short = 'F', value_name = "FILE")]
    pub expression_file: Option<PathBuf>,
    /// Start a new file when the current one would exceed BYTES
    #[arg(short = 'C', long, value_name = "BYTES", requires = "rotate_files")]
    pub rotate_size: Option<String>,
    /// Keep at most N files: PATH.0 ... PATH.N-1, the oldest overwritten (N up to 100000)
    #[arg(short = 'W', long, value_name = "N", requires = "rotate_size")]
    pub rotate_files: Option<String>,
    #[command(flatten)]
    pub ring: RxRingArgs,
    /// Write counters and loss positions here as JSON (every second and at exit)
    #[arg(long, value_name = "PATH")]
    pub stats_file: Option<PathBuf>,
    /// Mode of the files written, exactly (default: 0600, the stats file 0640, less the umask)
    #[arg(long, value_name = "OCTAL")]
    pub mode: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub confine: crate::confine::ConfineArgs,
    /// Capture only frames this pcap-filter expression matches; its words are joined by spaces
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// Everything but the ring: what is written and counted.
struct State {
    output: Output,
    ledger: LossLedger,
    snaplen: usize,
    scratch: Vec<u8>,
    captured: u64,
    bytes: u64,
    loss: heapless::Vec<Loss, MAX_LOSS_ENTRIES>,
    losses: u64,
    count: Option<u64>,
}

impl State {
    fn read_statistics(&mut self, sock: &PacketSocket) {
        if let Ok(s) = sock.statistics() {
            self.ledger.add_kernel_statistics(s.packets, s.drops);
        }
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|n| self.captured >= n)
    }

    /// Write one frame, its VLAN tag put back, with the drops since the
    /// previous frame.
    fn frame(
        &mut self,
        sock: &PacketSocket,
        info: &FrameInfo,
        data: &[u8],
    ) -> Result<(), OutputError> {
        if self.done() {
            return Ok(());
        }
        if info.status.contains(RxStatus::LOSING) {
            self.read_statistics(sock);
        }
        // A frame the kernel took a VLAN tag out of is written with the tag
        // put back (through the scratch buffer); every other frame straight
        // from the ring. A frame shorter than an Ethernet header cannot
        // hold a tag: it is written as it came.
        let tag = Tag::from_ring(info.vlan_tci, info.vlan_tpid);
        let (frame, orig_len) = match tag {
            None => (data, info.len),
            Some(_) => match vlan::copy_restoring(data, tag, &mut self.scratch) {
                Ok(n) => (&self.scratch[..n], info.len + vlan::TAG_LEN as u32),
                Err(_) => (data, info.len),
            },
        };
        let caplen = frame.len().min(self.snaplen);
        let ts_ns = u64::from(info.timestamp.sec) * 1_000_000_000 + u64::from(info.timestamp.nsec);
        let dropped_before = self.ledger.take_dropped_before();
        self.captured += 1;
        self.bytes += caplen as u64;
        if let Some(lost) = dropped_before {
            self.losses += 1;
            let _ = self.loss.push(Loss {
                before_frame: self.captured,
                lost,
            });
        }
        let ledger = self.ledger;
        self.output
            .packet(ts_ns, orig_len, &frame[..caplen], dropped_before, &ledger)
    }

    fn report(&self, name: &str, started: Instant, final_: bool) -> CaptureReport {
        CaptureReport {
            interface: name.to_owned(),
            captured: self.captured,
            bytes: self.bytes,
            written: self.output.written(),
            cut_to_fit: self.output.cut_to_fit(),
            kernel_packets: self.ledger.received(),
            kernel_drops: self.ledger.dropped(),
            drops_attached: self.ledger.attributed(),
            drops_after_last_frame: self.ledger.unattributed(),
            loss: self.loss.to_vec(),
            files: self.output.files().to_vec(),
            write_error: None,
            final_,
            uptime_s: started.elapsed().as_millis() as f64 / 1000.0,
        }
    }
}

/// Take what the ring holds (a bounded amount); returns the frames and
/// blocks handed back.
fn pump(port: &mut RxPort, state: &mut State) -> Result<usize, OutputError> {
    let RxPort { sock, ring, .. } = port;
    let budget = if ring.rx_blocks().is_some() { 8 } else { 1024 };
    let walk = ring.for_each_received(budget, |info, data| state.frame(sock, info, data))?;
    if walk.malformed > 0 {
        log::warn(format_args!(
            "{} frames in the ring failed their bounds checks and were not written",
            walk.malformed
        ));
    }
    Ok(walk.slots)
}

/// The RX ring: options over the board's `[capture]` ring over the defaults.
fn ring_request(args: &CaptureArgs, board: Option<&Board>) -> Result<RingRequest, Failure> {
    let ring = args.ring.parse()?;
    let g = board.map(|b| b.capture);
    let board_version = g.map(|g| g.tpacket);
    let version = ring.tpacket.or(board_version).unwrap_or(Tpacket::V3);
    let from_board = g.filter(|_| board_version == Some(version));
    // 32 MiB by default (V3): a capture rides out slow storage on its ring.
    let (v, default_blocks, default_tov) = match version {
        Tpacket::V3 => (TpacketVersion::V3, 32, 100),
        Tpacket::V2 => (TpacketVersion::V2, 16, 0),
    };
    let block_size = ring
        .block_size
        .unwrap_or(from_board.map_or(1 << 20, |g| g.block_size));
    let block_nr = ring
        .block_nr
        .unwrap_or(from_board.map_or(default_blocks, |g| g.block_nr));
    if block_nr == 0 {
        return Err(Failure::Usage(
            "--block-nr 0: a capture needs at least one block [rule: tp_block_nr 0 asks the \
             kernel to free the ring, not to make one]"
                .into(),
        ));
    }
    let frame_size = ring
        .frame_size
        .unwrap_or(from_board.map_or(2048, |g| g.frame_size));
    let tov = if v == TpacketVersion::V3 {
        from_board.map_or(default_tov, |g| g.retire_blk_tov_ms)
    } else {
        0
    };
    Ok(RingRequest {
        retire_blk_tov: tov,
        ..RingRequest::tiled(v, RingKind::Rx, block_size, block_nr, frame_size)
    })
}

/// The names the capture writes and its stats file, checked before
/// anything is opened: each may be replaced (absent or a regular file),
/// and the stats file is none of the capture files, by name or by inode
/// (a symbolic link in the directory part, a hard link).
fn check_names(
    output: Option<&Target>,
    rotate: Option<(u64, u32)>,
    stats: Option<&Target>,
) -> Result<(), Failure> {
    let write = |e: FileError| e.into_failure("--write");
    let names: Vec<Target> = match (output, rotate) {
        (None, _) => Vec::new(),
        (Some(base), Some((_, files))) => Output::rotation_names(base, files).collect(),
        (Some(base), None) => vec![base.clone()],
    };
    if let Some(first) = names.first() {
        first.check_replaceable().map_err(write)?;
    }
    let Some(stats) = stats else {
        return Ok(());
    };
    let stats_id = stats
        .existing()
        .map_err(|e| e.into_failure("--stats-file"))?;
    let same_dir = names.first().is_some_and(|n| n.same_dir(stats));
    for name in &names {
        let same_inode = stats_id.is_some() && name.existing().map_err(write)? == stats_id;
        if (same_dir && name.name() == stats.name()) || same_inode {
            return Err(Failure::Usage(format!(
                "--stats-file {} is the capture file {} [rule: the stats file and the capture \
                 files must be different files]",
                stats.path().display(),
                name.path().display()
            )));
        }
    }
    Ok(())
}

/// `ringtap capture`.
pub fn run(args: &CaptureArgs) -> Result<String, Failure> {
    let board = args.profile.load()?;
    let name = match (&args.in_port, &board) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.ports.r#in.clone(),
        (None, None) => {
            return Err(Failure::Usage(
                "--in IF is required (or a --board/--config with ports.in)".into(),
            ))
        }
    };
    let user = crate::confine::user(&args.confine)?;
    let snaplen = match parse_u32("--snaplen", &args.snaplen, Kind::Size)? {
        0 => 262_144,
        n => n,
    };
    if !(14..=262_144).contains(&snaplen) {
        return Err(Failure::Usage(format!(
            "--snaplen {snaplen}: must be between 14 (an Ethernet header) and 262144, or 0 \
             for 262144"
        )));
    }
    let count = args
        .count
        .as_deref()
        .map(|c| parse_count("--count", c).map(u64::from))
        .transpose()?;
    if count == Some(0) {
        return Err(Failure::Usage("--count 0: must be at least 1".into()));
    }
    let duration = args
        .duration
        .as_deref()
        .map(|d| seconds("--duration", d))
        .transpose()?;
    let to_stdout = args.write.as_os_str() == "-";
    let rotate = match (&args.rotate_size, &args.rotate_files) {
        (Some(size), Some(files)) => {
            let size = u64::from(parse_u32("--rotate-size", size, Kind::Size)?);
            let files = parse_count("--rotate-files", files)?;
            if to_stdout {
                return Err(Failure::Usage(
                    "--rotate-size needs a file: it cannot rotate standard output".into(),
                ));
            }
            if size < 4096 {
                return Err(Failure::Usage(format!(
                    "--rotate-size {size}: must be at least 4096 bytes (it counts bytes, with \
                     K and M for KiB and MiB; tcpdump's -C counts millions of bytes: write \
                     -C {size}M for about that)"
                )));
            }
            if !(1..=MAX_ROTATE_FILES).contains(&files) {
                return Err(Failure::Usage(format!(
                    "--rotate-files {files}: must be between 1 and {MAX_ROTATE_FILES}"
                )));
            }
            Some((size, files))
        }
        _ => None,
    };
    let file_mode = |default| FileMode::from_option(args.mode.as_deref(), default);
    let (capture_mode, stats_mode) = (
        file_mode(crate::files::CAPTURE_MODE)?,
        file_mode(crate::files::STATS_MODE)?,
    );
    let filter = filters::select(
        args.filter.as_deref(),
        args.expression_file.as_deref(),
        &args.expression,
        false,
    )?;
    let req = ring_request(args, board.as_ref())?;
    let sys = System::probe();
    let layout = req
        .validate(sys.page, sys.word)
        .map_err(|e| refused_by(e, "--tpacket, --block-size, --block-nr, --frame-size"))?;
    let port_info = ports::port("--in", &name)?;
    if let Some(batch) = system::gro_normal_batch().filter(|&b| b > 1) {
        log::warn(format_args!("{}", ports::reorder_warning(batch)));
    }
    let need = max_frame(port_info.mtu).min(snaplen);
    if let Some((size, _)) = rotate {
        // A file holds its headers, one frame and the closing statistics.
        let least = u64::from(need) + 512;
        if size < least {
            return Err(Failure::Usage(format!(
                "--rotate-size {size}: a file must hold at least one frame of {need} bytes \
                 (MTU {} of {name}, --snaplen {snaplen}) with its headers: at least {least}",
                port_info.mtu
            )));
        }
    }
    let room = layout.rx_room();
    if room < need {
        let what = if req.version == TpacketVersion::V3 {
            "--block-size"
        } else {
            "--frame-size"
        };
        return Err(Failure::Usage(format!(
            "{what}: a ring slot holds {room} bytes of packet, but frames on {name} (MTU {}) \
             with --snaplen {snaplen} need {need} [rule: the ring must not cut frames shorter \
             than the snap length]; raise {what}",
            port_info.mtu
        )));
    }
    let base = (!to_stdout)
        .then(|| Target::new(&args.write))
        .transpose()
        .map_err(|e| e.into_failure("--write"))?;
    let stats = args
        .stats_file
        .as_deref()
        .map(Target::new)
        .transpose()
        .map_err(|e| e.into_failure("--stats-file"))?;
    if let Some(s) = &stats {
        s.check_replaceable()
            .map_err(|e| e.into_failure("--stats-file"))?;
    }
    check_names(base.as_ref(), rotate, stats.as_ref())?;
    if to_stdout && crate::files::stdout_was_closed() {
        return Err(Failure::Runtime(
            "--write -: standard output is closed; nothing could be written to it".into(),
        ));
    }
    let output = Output::new(Settings {
        format: args.format,
        snaplen,
        ifname: name.clone(),
        base,
        rotate,
        mode: capture_mode,
    });
    let stats = stats.map(|target| StatsFile {
        target,
        mode: stats_mode,
        failing: false,
    });
    let state = State {
        output,
        ledger: LossLedger::new(),
        snaplen: snaplen as usize,
        scratch: vec![0u8; layout.rx_room() as usize + vlan::TAG_LEN],
        captured: 0,
        bytes: 0,
        loss: heapless::Vec::new(),
        losses: 0,
        count,
    };
    let run = Run {
        name,
        duration,
        filter,
        req,
        layout,
        confine: &args.confine,
        user,
    };
    capture(state, stats, run)
}

/// `--stats-file`.
struct StatsFile {
    target: Target,
    mode: FileMode,
    /// The last write failed (warned about once, until one succeeds).
    failing: bool,
}

impl StatsFile {
    fn write(&self, report: &CaptureReport) -> Result<(), FileError> {
        report.write_to(&self.target, self.mode)
    }

    /// Rewrite the file while running; a failure is a warning, once.
    fn update(&mut self, report: &CaptureReport) {
        match self.write(report) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::warn(format_args!("cannot write the stats file: {e}"));
            }
            Err(_) => {}
        }
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The counters, as SIGUSR1 prints them.
fn counters_line(name: &str, state: &State) -> String {
    format!(
        "counters: {} frames captured ({} bytes) on {name}, {} in files; the kernel saw {} \
         and dropped {}",
        state.captured,
        state.bytes,
        state.output.written(),
        state.ledger.received(),
        state.ledger.dropped()
    )
}

/// What [`capture`] opens and how long it runs.
struct Run<'a> {
    name: String,
    duration: Option<Duration>,
    filter: Option<Filter>,
    req: RingRequest,
    layout: Layout,
    confine: &'a crate::confine::ConfineArgs,
    user: Option<(u32, u32)>,
}

fn capture(
    mut state: State,
    mut stats: Option<StatsFile>,
    run: Run<'_>,
) -> Result<String, Failure> {
    let Run {
        name,
        duration,
        filter,
        req,
        layout,
        confine,
        user,
    } = run;
    let signals = Signals::install(true)?;
    let started_file = |e: OutputError| {
        if e.usage {
            Failure::Usage(format!("--write {}", e.message))
        } else {
            Failure::Runtime(e.message)
        }
    };
    // The file first: if it cannot be written, nothing is captured; an
    // older file at its name stays as it was until the capture runs.
    let pending = state.output.start().map_err(started_file)?;
    let mut port = ports::open_capture(&name, layout, filter.as_deref())
        .map_err(|e| Failure::Runtime(format!("capture socket on {name}: {e}")))?;
    // The socket is open: parsing the traffic needs no capability.
    crate::confine::apply(confine, user, CapabilitySet::empty(), false, "capture")?;
    let started = Instant::now();
    if let Some(s) = &stats {
        s.write(&state.report(&name, started, false))
            .map_err(|e| e.into_failure("--stats-file"))?;
    }
    state.output.commit(pending).map_err(started_file)?;
    log::info(format_args!(
        "capturing on {name} ({}, {} x {} KiB ring, snaplen {})",
        req.version,
        req.block_nr,
        req.block_size >> 10,
        state.snaplen
    ));
    let mut next_stats = started + STATS_INTERVAL;
    let mut stopped: Option<OutputError> = None;
    loop {
        if signals.stopping() || state.done() {
            break;
        }
        let now = Instant::now();
        let end = duration.map(|d| started + d);
        if end.is_some_and(|end| now >= end) {
            break;
        }
        if signals.take_usr1() {
            state.read_statistics(&port.sock);
            if let Err(e) = state.output.flush() {
                stopped = Some(e);
                break;
            }
            log::info(format_args!("{}", counters_line(&name, &state)));
        }
        if signals.take_hup() {
            let ledger = state.ledger;
            if let Err(e) = state.output.reopen(now_ns(), &ledger) {
                stopped = Some(e);
                break;
            }
        }
        let frames = match pump(&mut port, &mut state) {
            Ok(n) => n,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        };
        if Instant::now() >= next_stats {
            if let Err(e) = state.output.flush() {
                stopped = Some(e);
                break;
            }
            state.read_statistics(&port.sock);
            if let Some(s) = &mut stats {
                s.update(&state.report(&name, started, false));
            }
            next_stats += STATS_INTERVAL;
        }
        if frames == 0 {
            let until = end.map_or(next_stats, |e| e.min(next_stats));
            let wait = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            let ev = signals.wait(Some((port.sock.as_fd(), PollFlags::IN)), wait)?;
            if ev.contains(PollFlags::ERR) {
                let _ = port.sock.take_error();
            }
        }
    }
    // Stop taking frames (the kernel counts none a filter rejects); unless
    // a write failed, write what the ring still holds.
    let reject_all = [Instruction::stmt(
        ringtap_core::bpf::BPF_RET | ringtap_core::bpf::BPF_K,
        0,
    )];
    let _ = port.sock.attach_filter(&reject_all);
    if stopped.is_none() {
        let tov = Duration::from_millis(u64::from(req.retire_blk_tov.max(1)));
        let deadline = Instant::now() + tov * 3 + Duration::from_millis(50);
        while Instant::now() < deadline && !state.done() {
            match pump(&mut port, &mut state) {
                Ok(0) => {
                    let _ = port.sock.poll(true, false, 5);
                }
                Ok(_) => {}
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            }
        }
    }
    state.read_statistics(&port.sock);
    if stopped.is_none() {
        let ledger = state.ledger;
        if let Err(e) = state.output.finish(now_ns(), &ledger) {
            stopped = Some(e);
        }
    }
    let mut final_report = state.report(&name, started, true);
    final_report.write_error = stopped.as_ref().map(|e| e.message.clone());
    let stats_failed = stats
        .as_ref()
        .and_then(|s| s.write(&final_report).err())
        .map(|e| format!("cannot write the final stats file: {e}\n"));
    let summary = summary(&name, &state, stopped.as_ref());
    match (stopped, stats_failed) {
        (None, None) => {
            // The summary goes to stderr: stdout may be the capture itself.
            let _ = std::io::stderr().write_all(summary.as_bytes());
            Ok(String::new())
        }
        (_, failed) => Err(Failure::Runtime(format!(
            "{}{summary}",
            failed.unwrap_or_default()
        ))),
    }
}

/// What was captured and, after a failure, where the file ends and what
/// was lost.
fn summary(name: &str, state: &State, stopped: Option<&OutputError>) -> String {
    let ledger = &state.ledger;
    let written = state.output.written();
    let mut text = String::new();
    if let Some(e) = stopped {
        let not_written = state.captured - written.min(state.captured);
        let not_taken = ledger
            .received()
            .saturating_sub(ledger.dropped())
            .saturating_sub(state.captured);
        text.push_str(&format!(
            "the capture stopped: {}\n{written} frames written; {} frames lost: {not_written} \
             taken from the ring but not written, {} dropped by the kernel, {not_taken} not \
             taken from the ring\n",
            e.message,
            not_written + ledger.dropped() + not_taken,
            ledger.dropped()
        ));
        let end = state.output.where_it_ends();
        if !end.is_empty() {
            text.push_str(&end);
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "captured {} frames ({} bytes) on {name}; the kernel saw {} and dropped {}\n",
        state.captured,
        state.bytes,
        ledger.received(),
        ledger.dropped()
    ));
    if state.output.cut_to_fit() > 0 {
        text.push_str(&format!(
            "{} frames were cut to fit --rotate-size\n",
            state.output.cut_to_fit()
        ));
    }
    for l in state.loss.iter().take(PRINTED_LOSSES) {
        text.push_str(&format!(
            "{} frames lost before frame #{}\n",
            l.lost, l.before_frame
        ));
    }
    if state.losses > PRINTED_LOSSES as u64 {
        text.push_str(&format!(
            "... and {} more places where frames were lost (see --stats-file)\n",
            state.losses - PRINTED_LOSSES as u64
        ));
    }
    if ledger.unattributed() > 0 {
        text.push_str(&format!(
            "{} frames lost after the last captured frame\n",
            ledger.unattributed()
        ));
    }
    text
}
