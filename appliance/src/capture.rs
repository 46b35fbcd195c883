//! `ringtap capture`: an RX ring into a pcapng or pcap file, with the
//! positions of the kernel's drops.
//!
//! One thread takes frames from the ring and writes them through
//! `ringtap_core`'s encoders into a buffered file. When the writer falls
//! behind, the ring fills and the kernel drops; the first frame after a drop
//! carries `TP_STATUS_LOSING`, the drops are read from `PACKET_STATISTICS`
//! at once and written into that frame's `epb_dropcount`, so the file says
//! where frames are missing.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use embedded_io_adapters::std::FromStd;
use ringtap_core::bpf::Instruction;
use ringtap_core::geometry::{Layout, RingKind, RingRequest, TpacketVersion};
use ringtap_core::loss::LossLedger;
use ringtap_core::pcap::{PcapWriter, LINKTYPE_ETHERNET};
use ringtap_core::pcapng::PcapngWriter;
use ringtap_core::status::RxStatus;
use ringtap_core::vlan::{self, Tag};
use ringtap_linux::{FrameInfo, PacketSocket};
use serde::Serialize;

use crate::board::{Board, Tpacket};
use crate::bridge::config::{self, parse_count, rx_room, seconds};
use crate::bridge::port::{self, RxPort};
use crate::filter::{self as filters, Filter};
use crate::log;
use crate::plan::{parse_u32, refused_by, Kind};
use crate::Failure;

/// Loss positions kept for the stats file.
const MAX_LOSS_ENTRIES: usize = 4096;
/// Loss positions printed at exit.
const PRINTED_LOSSES: usize = 20;
/// Room a file needs beyond a packet for the blocks that close it.
const CLOSING_ROOM: u64 = 128;
/// Output buffer: large enough that the kernel sees few, large writes.
const OUTPUT_BUFFER: usize = 1 << 20;

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
it as frame.drop_count), and the stats output lists the positions.";

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
    /// Keep at most N files: PATH.0 ... PATH.N-1, the oldest overwritten
    #[arg(short = 'W', long, value_name = "N", requires = "rotate_size")]
    pub rotate_files: Option<String>,
    /// RX ring version (default: the board's, else v3)
    #[arg(long, value_enum, value_name = "VERSION")]
    pub tpacket: Option<Tpacket>,
    /// RX ring block size
    #[arg(long, value_name = "B")]
    pub block_size: Option<String>,
    /// RX ring blocks
    #[arg(long, value_name = "N")]
    pub block_nr: Option<String>,
    /// RX frame size (TPACKET_V2)
    #[arg(long, value_name = "F")]
    pub frame_size: Option<String>,
    /// Write counters and loss positions here as JSON (every second and at exit)
    #[arg(long, value_name = "PATH")]
    pub stats_file: Option<PathBuf>,
    /// Ring geometry and port from a built-in board profile
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub board: Option<String>,
    /// Ring geometry and port from a board profile file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Capture only frames this pcap-filter expression matches; its words are joined by spaces
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// Where frames were lost: `lost` frames before frame number `before_frame`.
#[derive(Debug, Clone, Copy, Serialize)]
struct Loss {
    before_frame: u64,
    lost: u64,
}

/// The stats file.
#[derive(Debug, Serialize)]
struct CaptureReport<'a> {
    interface: &'a str,
    captured: u64,
    bytes: u64,
    kernel_packets: u64,
    kernel_drops: u64,
    drops_attached: u64,
    drops_after_last_frame: u64,
    loss: &'a [Loss],
    files: &'a [String],
    #[serde(rename = "final")]
    final_: bool,
    uptime_s: f64,
}

/// The output file (or standard output), with rotation.
enum Sink {
    File(std::fs::File),
    Stdout(std::io::Stdout),
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stdout(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stdout(s) => s.flush(),
        }
    }
}

type Out = FromStd<std::io::BufWriter<Sink>>;

enum Writer {
    Pcapng(PcapngWriter<Out>),
    Pcap(PcapWriter<Out>),
}

struct Output {
    format: Format,
    path: Option<PathBuf>,
    rotate: Option<(u64, u32)>,
    index: u32,
    files: Vec<String>,
    writer: Option<Writer>,
    ifname: String,
    snaplen: u32,
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    Failure::Runtime(format!("{what}: {e}"))
}

impl Output {
    fn file_name(&self) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        Some(match self.rotate {
            Some(_) => {
                let mut p = path.clone().into_os_string();
                p.push(format!(".{}", self.index));
                PathBuf::from(p)
            }
            None => path.clone(),
        })
    }

    /// Start a file: its header, and for pcapng the interface.
    fn open(&mut self) -> Result<(), Failure> {
        let sink = match self.file_name() {
            Some(name) => {
                let f = std::fs::File::create(&name)
                    .map_err(|e| io_failure(&format!("cannot create {}", name.display()), e))?;
                let shown = name.display().to_string();
                if !self.files.contains(&shown) {
                    self.files.push(shown);
                }
                Sink::File(f)
            }
            None => Sink::Stdout(std::io::stdout()),
        };
        let out = FromStd::new(std::io::BufWriter::with_capacity(OUTPUT_BUFFER, sink));
        let failed = |e: std::io::Error| io_failure("cannot write the capture header", e);
        self.writer = Some(match self.format {
            Format::Pcapng => {
                let app = concat!("ringtap ", env!("CARGO_PKG_VERSION"));
                let mut w = PcapngWriter::new(out, app).map_err(failed)?;
                w.add_interface(&self.ifname, LINKTYPE_ETHERNET as u16, self.snaplen)
                    .map_err(failed)?;
                Writer::Pcapng(w)
            }
            Format::Pcap => {
                Writer::Pcap(PcapWriter::new(out, self.snaplen, LINKTYPE_ETHERNET).map_err(failed)?)
            }
        });
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        match &self.writer {
            Some(Writer::Pcapng(w)) => w.bytes_written(),
            Some(Writer::Pcap(w)) => w.bytes_written(),
            None => 0,
        }
    }

    /// End the current file: statistics (pcapng), flush.
    fn close(&mut self, ts_ns: u64, ledger: &LossLedger) -> Result<(), Failure> {
        let failed = |e: std::io::Error| io_failure("cannot finish the capture file", e);
        match self.writer.take() {
            Some(Writer::Pcapng(mut w)) => {
                w.write_statistics(0, ts_ns, ledger.received(), ledger.dropped())
                    .map_err(failed)?;
                w.into_inner().into_inner().flush().map_err(failed)
            }
            Some(Writer::Pcap(w)) => w.into_inner().into_inner().flush().map_err(failed),
            None => Ok(()),
        }
    }

    fn packet(
        &mut self,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        dropped_before: Option<u64>,
        ledger: &LossLedger,
    ) -> Result<(), Failure> {
        if let Some((limit, files)) = self.rotate {
            let need = self.bytes_written() + 64 + data.len() as u64 + CLOSING_ROOM;
            if need > limit {
                self.close(ts_ns, ledger)?;
                self.index = (self.index + 1) % files;
                self.open()?;
            }
        }
        let failed = |e: std::io::Error| io_failure("cannot write a frame", e);
        match self.writer.as_mut() {
            Some(Writer::Pcapng(w)) => w
                .write_packet(0, ts_ns, orig_len, data, dropped_before)
                .map(drop)
                .map_err(failed),
            Some(Writer::Pcap(w)) => w
                .write_packet(ts_ns, orig_len, data)
                .map(drop)
                .map_err(failed),
            None => Ok(()),
        }
    }
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
    fn frame(&mut self, sock: &PacketSocket, info: &FrameInfo, data: &[u8]) -> Result<(), Failure> {
        if self.done() {
            return Ok(());
        }
        if info.status.contains(RxStatus::LOSING) {
            self.read_statistics(sock);
        }
        let tag = Tag::from_ring(info.vlan_tci, info.vlan_tpid);
        // A frame shorter than an Ethernet header cannot hold a tag: it is
        // written as it came.
        let (n, added) = match vlan::copy_restoring(data, tag, &mut self.scratch) {
            Ok(n) => (n, n - data.len()),
            Err(_) => {
                let n = data.len().min(self.scratch.len());
                self.scratch[..n].copy_from_slice(&data[..n]);
                (n, 0)
            }
        };
        let orig_len = info.len + added as u32;
        let caplen = n.min(self.snaplen);
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
        self.output.packet(
            ts_ns,
            orig_len,
            &self.scratch[..caplen],
            dropped_before,
            &ledger,
        )
    }
}

/// Take what the ring holds (a bounded amount); returns the frames and
/// blocks handed back.
fn pump(port: &mut RxPort, state: &mut State) -> Result<usize, Failure> {
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
    let g = board.map(|b| b.capture);
    let board_version = g.map(|g| g.tpacket);
    let version = args.tpacket.or(board_version).unwrap_or(Tpacket::V3);
    let from_board = g.filter(|_| board_version == Some(version));
    let size = |opt: &Option<String>, name: &str, default: u32| -> Result<u32, Failure> {
        match opt {
            Some(t) => parse_u32(name, t, Kind::Size),
            None => Ok(default),
        }
    };
    // 32 MiB by default (V3): a capture rides out slow storage on its ring.
    let (v, default_blocks, default_tov) = match version {
        Tpacket::V3 => (TpacketVersion::V3, 32, 100),
        Tpacket::V2 => (TpacketVersion::V2, 16, 0),
    };
    let block_size = size(
        &args.block_size,
        "--block-size",
        from_board.map_or(1 << 20, |g| g.block_size),
    )?;
    let block_nr = match &args.block_nr {
        Some(t) => parse_count("--block-nr", t)?,
        None => from_board.map_or(default_blocks, |g| g.block_nr),
    };
    let frame_size = size(
        &args.frame_size,
        "--frame-size",
        from_board.map_or(2048, |g| g.frame_size),
    )?;
    let tov = if v == TpacketVersion::V3 {
        from_board.map_or(default_tov, |g| g.retire_blk_tov_ms)
    } else {
        0
    };
    let per_block = block_size.checked_div(frame_size).unwrap_or(0);
    Ok(RingRequest {
        retire_blk_tov: tov,
        ..RingRequest::new(
            v,
            RingKind::Rx,
            block_size,
            block_nr,
            frame_size,
            per_block.saturating_mul(block_nr),
        )
    })
}

fn report<'a>(
    name: &'a str,
    state: &'a State,
    started: Instant,
    final_: bool,
) -> CaptureReport<'a> {
    CaptureReport {
        interface: name,
        captured: state.captured,
        bytes: state.bytes,
        kernel_packets: state.ledger.received(),
        kernel_drops: state.ledger.dropped(),
        drops_attached: state.ledger.attributed(),
        drops_after_last_frame: state.ledger.unattributed(),
        loss: &state.loss,
        files: &state.output.files,
        final_,
        uptime_s: started.elapsed().as_millis() as f64 / 1000.0,
    }
}

fn write_report(path: &std::path::Path, report: &CaptureReport<'_>) {
    let text = serde_json::to_string(report).unwrap_or_default() + "\n";
    let mut tmp = path.to_path_buf().into_os_string();
    tmp.push(".tmp");
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        log::warn(format_args!("cannot write {}: {e}", path.display()));
    }
}

/// `ringtap capture`.
pub fn run(args: &CaptureArgs) -> Result<String, Failure> {
    let board = Board::from_options(args.board.as_deref(), args.config.as_deref())?;
    let name = match (&args.in_port, &board) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => b.ports.r#in.clone(),
        (None, None) => {
            return Err(Failure::Usage(
                "--in IF is required (or a --board/--config with ports.in)".into(),
            ))
        }
    };
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
            if files == 0 {
                return Err(Failure::Usage(
                    "--rotate-files 0: must be at least 1".into(),
                ));
            }
            Some((size, files))
        }
        _ => None,
    };
    let filter = filters::select(
        args.filter.as_deref(),
        args.expression_file.as_deref(),
        &args.expression,
        false,
    )?;
    let port_info = config::port("--in", &name)?;
    if let Some(batch) = config::gro_normal_batch().filter(|&b| b > 1) {
        log::warn(format_args!("{}", config::reorder_warning(batch)));
    }
    let req = ring_request(args, board.as_ref())?;
    let layout = req
        .validate(ringtap_linux::page_size(), ringtap_linux::kernel_word())
        .map_err(|e| refused_by(e, "--tpacket, --block-size, --block-nr, --frame-size"))?;
    let need = config::max_rx_frame(port_info.mtu).min(snaplen);
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
    let room = rx_room(&layout);
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
    capture(
        args, name, snaplen, count, duration, rotate, filter, req, layout,
    )
}

#[allow(clippy::too_many_arguments)]
fn capture(
    args: &CaptureArgs,
    name: String,
    snaplen: u32,
    count: Option<u64>,
    duration: Option<Duration>,
    rotate: Option<(u64, u32)>,
    filter: Option<Filter>,
    req: RingRequest,
    layout: Layout,
) -> Result<String, Failure> {
    let term = crate::signals::stop()?;
    let to_stdout = args.write.as_os_str() == "-";
    let mut output = Output {
        format: args.format,
        path: (!to_stdout).then(|| args.write.clone()),
        rotate,
        index: 0,
        files: Vec::new(),
        writer: None,
        ifname: name.clone(),
        snaplen,
    };
    output.open()?;
    let mut port = port::open_capture(&name, &req, layout, filter.as_deref())
        .map_err(|e| Failure::Runtime(format!("capture socket on {name}: {e}")))?;
    let mut state = State {
        output,
        ledger: LossLedger::new(),
        snaplen: snaplen as usize,
        scratch: vec![0u8; rx_room(&layout) as usize + vlan::TAG_LEN],
        captured: 0,
        bytes: 0,
        loss: heapless::Vec::new(),
        losses: 0,
        count,
    };
    log::info(format_args!(
        "capturing on {name} ({}, {} x {} KiB ring, snaplen {snaplen})",
        req.version,
        req.block_nr,
        req.block_size >> 10
    ));
    let started = Instant::now();
    let mut next_stats = Instant::now() + Duration::from_secs(1);
    while !term.load(Ordering::Relaxed)
        && !state.done()
        && duration.is_none_or(|d| started.elapsed() < d)
    {
        let frames = pump(&mut port, &mut state)?;
        if Instant::now() >= next_stats {
            state.read_statistics(&port.sock);
            if let Some(path) = &args.stats_file {
                write_report(path, &report(&name, &state, started, false));
            }
            next_stats += Duration::from_secs(1);
        }
        if frames == 0 {
            let ev = port
                .sock
                .poll(true, false, 100)
                .unwrap_or(rustix::event::PollFlags::ERR);
            if ev.contains(rustix::event::PollFlags::ERR) {
                let _ = port.sock.take_error();
            }
        }
    }
    // Stop taking frames (the kernel counts none a filter rejects), write
    // what the ring still holds, then the final statistics.
    let reject_all = [Instruction::stmt(
        ringtap_core::bpf::BPF_RET | ringtap_core::bpf::BPF_K,
        0,
    )];
    let _ = port.sock.attach_filter(&reject_all);
    let tov = Duration::from_millis(u64::from(req.retire_blk_tov.max(1)));
    let deadline = Instant::now() + tov * 3 + Duration::from_millis(50);
    while Instant::now() < deadline && !state.done() {
        if pump(&mut port, &mut state)? == 0 {
            let _ = port.sock.poll(true, false, 5);
        }
    }
    state.read_statistics(&port.sock);
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let ledger = state.ledger;
    state.output.close(now_ns, &ledger)?;
    let final_report = report(&name, &state, started, true);
    if let Some(path) = &args.stats_file {
        write_report(path, &final_report);
    }
    let mut text = format!(
        "captured {} frames ({} bytes) on {name}; the kernel saw {} and dropped {}\n",
        state.captured,
        state.bytes,
        ledger.received(),
        ledger.dropped()
    );
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
    // The summary goes to stderr: stdout may be the capture itself.
    let _ = std::io::stderr().write_all(text.as_bytes());
    Ok(String::new())
}
