//! `cargo xtask vm`: the board simulation. Debian's own ARM kernel boots
//! under qemu-system (TCG, no KVM) with two virtio NICs whose host ends are
//! tap devices in a private network namespace. An initramfs built here holds
//! BusyBox as init (`boards/vm/init`), the kernel's virtio modules, the
//! board's `cargo xtask dist` tarball unpacked at the root (the static
//! `ringtap`, its board profile, its init script) and a job. The job
//! reports `ringtap --version` and a ring plan, then:
//!
//! - corpus: `ringtap bridge` eth0 -> eth1; frames sent into tap0 at a
//!   modest rate must leave tap1 byte-identical and in order, and the
//!   bridge's counters must agree;
//! - capture: `ringtap capture` on eth0; its pcapng, exported over the
//!   console, must hold the frames sent, as tcpdump reads it;
//! - service: `/etc/init.d/S50ringtap start`, frames cross, `stop`, and no
//!   ringtap is left;
//! - flood: `ringtap bridge` under full load, for the forwarding rate the
//!   emulated board reaches (a figure, not a check).

mod board;
mod capture;
mod checks;
mod fetch;
mod guest;
mod initramfs;
pub(crate) mod netns;
pub mod qemu;
pub(crate) mod stats;
mod traffic;

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{deps, is_root, target_dir, workspace_root, Cmd, Error, Result};
pub use board::emulated_names;
use board::Board;
use checks::check_exports;
use guest::{Guest, Message};
use netns::Netns;
use stats::{CaptureCounters, Counters};
use traffic::{FloodFigures, Offer, IN_TAP, OUT_TAP};

/// `cargo xtask vm --help`, above the options.
pub const ABOUT: &str = "\
Boots each emulated board (default: all) under qemu-system with two virtio
NICs on tap devices in a private network namespace, with the board's
`cargo xtask dist` tarball installed in its initramfs, and checks:
  corpus   ringtap bridge eth0 -> eth1 passes frames sent into tap0 (802.1Q
           and 802.1ad tagged ones among them) out of tap1 byte-identical
           and in order, and its counters agree
  capture  ringtap capture on eth0 writes a pcapng that tcpdump reads
           without a warning, holding exactly the frames sent
  service  /etc/init.d/S50ringtap starts the bridge, frames cross, and
           `S50ringtap stop` ends it cleanly
  flood    ringtap bridge under full load: prints the rate it forwarded
Needs root.

The first run downloads the board's Debian kernel and busybox-static with
apt (into <target>/vm-cache, without adding a dpkg architecture); later runs
use the cache.

Boards (the tier 1 boards of boards/, from their [qemu] table):
  qemu-virt-aarch64   qemu-system-aarch64 -M virt -cpu cortex-a53, Debian arm64 kernel
  qemu-virt-armv7     qemu-system-arm -M virt,highmem=off -cpu cortex-a7, Debian armhf (armmp) kernel";

/// The options of `cargo xtask vm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only this board (may be repeated; default: every emulated board)
    #[arg(long, value_name = "NAME", value_parser = board::emulated_name_parser())]
    board: Vec<String>,
    /// After the checks, keep the guest running with a shell on the console
    /// (the namespace and taps stay until it powers off)
    #[arg(long)]
    keep: bool,
}

/// The bridge the guest runs eth0 -> eth1 in the corpus and flood phases
/// (its `forward` helper adds `--stats-file`). `--fix-offloads`: ringtap
/// warns that GRO is on for virtio's eth0, and says to. The RX ring is the
/// default's 8 MiB in 128 blocks instead of 8: a V3 block is retired after
/// 1 ms even when nearly empty, so at the corpus rate the ring holds about
/// one block per millisecond the worker does not run, and an emulated CPU
/// on a busy host can stall for longer than 8 ms.
const BRIDGE: &str = "ringtap bridge --in eth0 --out eth1 --duration 600 --fix-offloads \
                      --block-size 65536 --block-nr 128";

/// The capture the guest runs (its `capture` helper adds `--write` and
/// `--stats-file`).
const CAPTURE: &str = "ringtap capture --in eth0";

/// The init script of the dist tarball, and the settings the simulation
/// gives it in `/etc/default/ringtap`: `--fix-offloads` as for [`BRIDGE`],
/// and the bridge's stats file, for the host to check the stop was clean.
const INIT_SCRIPT: &str = "/etc/init.d/S50ringtap";
const SERVICE_STATS: &str = "/tmp/out/service.json";

fn ringtap_defaults() -> String {
    format!("RINGTAP_ARGS=\"--fix-offloads --stats-file {SERVICE_STATS}\"\n")
}

/// The guest kernel delivers a NAPI poll's frames to packet sockets in
/// batches of `net.core.gro_normal_batch` (8), and within a batch a
/// VLAN-tagged frame reaches the socket at once while an untagged one waits
/// for the end of the batch (`__netif_receive_skb_core` hands a tagged
/// frame to the last tap before `vlan_do_receive`; for an untagged one that
/// tap is the "last ptype" `__netif_receive_skb_list_core` calls once per
/// batch). Any packet socket on a NAPI NIC sees that order, ringtap's and
/// tcpdump's alike; batches of one keep the wire order, which the corpus
/// and capture checks compare against.
const WIRE_ORDER: &str = "sysctl -w net.core.gro_normal_batch=1";

/// The ring `ringtap plan` checks in the guest, against the guest kernel's
/// page size and word size.
const PLAN: &str = "plan --tpacket v3 --ring rx --block-size 65536 --block-nr 4 --frame-size 2048";

/// Modules the guest loads at boot (dependencies are found and added):
/// the virtio NICs on the virt machine's PCIe bus.
const GUEST_MODULES: [&str; 2] = ["virtio_pci", "virtio_net"];

/// MAC addresses of the guest's NICs, to check which one is eth0.
const IN_MAC: &str = "52:54:00:72:74:00";
const OUT_MAC: &str = "52:54:00:72:74:01";

/// From starting qemu to the guest's `ready`; from there to its result;
/// from its result to qemu's exit.
const BOOT_LIMIT: Duration = Duration::from_secs(120);
const JOB_LIMIT: Duration = Duration::from_secs(180);
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// How hard to drive the guest.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frames in the corpus check; the capture check sends the same.
    pub corpus_frames: usize,
    /// Corpus rate in frames per second (no loss allowed at this rate).
    pub corpus_rate: u32,
    /// Frames sent through the bridge the init script started.
    pub service_frames: usize,
    /// Offered load of the flood, frames per second, and how long.
    pub flood_rate: u32,
    pub flood_seconds: f64,
    /// Leave the guest running with a shell after the checks.
    pub keep: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            corpus_frames: 400,
            corpus_rate: 2_000,
            service_frames: 60,
            flood_rate: 100_000,
            flood_seconds: 2.0,
            keep: false,
        }
    }
}

/// What a board run measured.
#[derive(Debug)]
pub struct BoardReport {
    pub board: String,
    /// `Linux <uname -r> <uname -m>` as the guest reported them.
    pub kernel: String,
    /// Debian packages used, `name version`.
    pub packages: Vec<String>,
    /// Bytes and seconds, when this run downloaded them.
    pub download: Option<(u64, f64)>,
    pub initramfs_bytes: u64,
    /// Named steps and how long they took, in order.
    pub timings: Vec<(&'static str, Duration)>,
    pub corpus_frames: usize,
    pub corpus_tagged: usize,
    pub corpus_counters: Counters,
    pub capture_counters: CaptureCounters,
    pub service_frames: usize,
    pub service_counters: Counters,
    pub flood: FloodFigures,
    pub flood_counters: Counters,
}

pub fn run(args: &Args) -> Result {
    let options = Options {
        keep: args.keep,
        ..Options::default()
    };
    let names = if args.board.is_empty() {
        emulated_names()?
    } else {
        args.board.clone()
    };
    // Every name is checked before the first board boots.
    for name in &names {
        Board::load(name)?;
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for name in &names {
        reports.push(run_board(name, &options)?);
    }
    println!();
    for report in &reports {
        print!("{}", report.summary());
    }
    println!(
        "vm: {} boards passed in {:.1} s",
        reports.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Why this machine cannot run the simulation, if it cannot.
pub fn cannot_run() -> Option<String> {
    if !is_root() {
        return Some(
            "not root: the board simulation creates a network namespace and tap devices"
                .to_string(),
        );
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun: the guest's NICs need tap devices".to_string());
    }
    None
}

/// Fetch, build, boot and check one emulated board.
pub fn run_board(name: &str, options: &Options) -> Result<BoardReport> {
    let board = Board::load(name)?;
    println!();
    println!("==> vm: {}", board.name);
    if let Some(why) = cannot_run() {
        return Err(Error::Failed(format!("cargo xtask vm cannot run: {why}")));
    }
    deps::ensure(&deps::FOR_VM)?;
    if deps::find_program("tcpdump").is_none() {
        return Err(Error::Failed(
            "the capture check reads the guest's pcapng with tcpdump, which is not installed \
             (apt-get install tcpdump, or `cargo xtask deps`)"
                .to_string(),
        ));
    }
    let started = Instant::now();
    let mut timings = Vec::new();
    let mut step = |name: &'static str, since: &mut Instant| {
        let now = Instant::now();
        timings.push((name, now - *since));
        *since = now;
    };
    let mut since = Instant::now();

    let packages = fetch::guest_packages(&board)?;
    step("fetch", &mut since);

    let tarball = dist_tarball(&board)?;
    step("dist", &mut since);

    let work = target_dir().join("vm").join(&board.name);
    fetch::create_dir(&work)?;
    let image = initramfs::build(
        &work,
        &initramfs::Contents {
            guest_files: &workspace_root().join("boards").join("vm"),
            busybox: &packages.busybox,
            dist_tarball: &tarball,
            ringtap_defaults: &ringtap_defaults(),
            modules_dir: &packages.modules_dir,
            modules: &GUEST_MODULES,
            job: &job(options),
            keep: options.keep,
        },
    )?;
    println!(
        "vm: initramfs {} ({} KiB): busybox, {}, {}",
        image.path.display(),
        image.bytes / 1024,
        tarball.file_name().unwrap_or_default().to_string_lossy(),
        image.modules.join(" "),
    );
    step("initramfs", &mut since);

    let ns = Netns::create(&board.name)?;
    ns.add_tap(IN_TAP)?;
    ns.add_tap(OUT_TAP)?;
    let qemu = qemu_command(&board, ns.name(), &packages.kernel_image, &image.path);
    let mut guest = Guest::start(qemu, &work.join("console.log"))?;
    let session = match drive(&mut guest, &ns, options) {
        Ok(session) => session,
        Err(e) => {
            println!("vm: the guest's console is in {}", guest.log().display());
            return Err(e);
        }
    };
    let status = guest.wait_exit(EXIT_LIMIT)?;
    if !status.success() {
        return Err(Error::Failed(format!("qemu exited with {status}")));
    }
    drop(guest);
    drop(ns);
    timings.push(("boot", session.boot));
    timings.extend(session.phase_times.iter().copied());
    timings.push(("total", started.elapsed()));

    let mut problems = session.problems.clone();
    let checked = check_exports(&session, &work, options, &mut problems)?;
    if !problems.is_empty() {
        println!(
            "vm: the guest's console is in {}",
            work.join("console.log").display()
        );
        return Err(Error::Failed(format!(
            "{}: {}",
            board.name,
            problems.join("\n  ")
        )));
    }
    Ok(BoardReport {
        board: board.name,
        kernel: session.kernel,
        packages: packages.packages,
        download: packages.download,
        initramfs_bytes: image.bytes,
        timings,
        corpus_frames: options.corpus_frames,
        corpus_tagged: session.corpus_tagged,
        corpus_counters: checked.corpus,
        capture_counters: checked.capture,
        service_frames: options.service_frames,
        service_counters: checked.service,
        flood: session.flood,
        flood_counters: checked.flood,
    })
}

/// `cargo xtask dist --board NAME`: the board's binary, built and checked
/// as `cargo xtask build` does, in the tarball an image build installs.
fn dist_tarball(board: &Board) -> Result<PathBuf> {
    let tarball = target_dir().join("dist").join(format!(
        "ringtap-{}-{}.tar.gz",
        env!("CARGO_PKG_VERSION"),
        board.name
    ));
    // Not last run's tarball: this run's or none.
    fetch::remove_file(&tarball)?;
    crate::dist::boards(std::slice::from_ref(&board.name))?;
    if !tarball.is_file() {
        return Err(Error::Failed(format!(
            "`cargo xtask dist --board {}` wrote no {}",
            board.name,
            tarball.display()
        )));
    }
    Ok(tarball)
}

/// Phases of the job; the guest names them, the host answers.
const CORPUS: &str = "corpus";
const CAPTURE_PHASE: &str = "capture";
const SERVICE: &str = "service";
const FLOOD: &str = "flood";

/// The guest's job: `run`, `forward`, `capture` and `service` are
/// `boards/vm/init`'s helpers. The flood comes last, so no frame of it can
/// still be on its way into a later phase.
fn job(options: &Options) -> String {
    format!(
        "run ringtap --version\n\
         run ringtap {PLAN}\n\
         run {WIRE_ORDER}\n\
         forward {CORPUS} {BRIDGE}\n\
         capture {CAPTURE_PHASE} {} {CAPTURE}\n\
         service {SERVICE} {INIT_SCRIPT}\n\
         forward {FLOOD} {BRIDGE}\n",
        options.corpus_frames
    )
}

fn qemu_command(board: &Board, netns: &str, kernel: &Path, initrd: &Path) -> Cmd {
    let nic = |id: &str, tap: &str, mac: &str, slot: u8| {
        [
            "-netdev".to_string(),
            format!("tap,id={id},ifname={tap},script=no,downscript=no"),
            "-device".to_string(),
            // No option ROM: the kernel is booted directly, and the
            // iPXE ROMs are not installed.
            format!("virtio-net-pci,netdev={id},mac={mac},addr={slot},romfile="),
        ]
    };
    Cmd::new("ip")
        .args(["netns", "exec", netns])
        .arg(qemu::program(board.qemu_system))
        .args(["-machine", &board.machine, "-cpu", &board.cpu])
        .args(["-m", &board.memory_mib.to_string(), "-smp", "1"])
        .args(["-accel", "tcg", "-nodefaults", "-no-user-config"])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .arg("-no-reboot")
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args([
            "-append",
            &format!("console={} panic=-1 quiet ipv6.disable=1", board.console),
        ])
        .args(nic("in", IN_TAP, IN_MAC, 2))
        .args(nic("out", OUT_TAP, OUT_MAC, 3))
}

/// What came out of `OUT_TAP` in a bridge phase.
#[derive(Debug, Default, Clone, Copy)]
struct Crossed {
    /// Our frames (probes included).
    out: usize,
    /// Probes that never came out.
    probes_lost: u32,
}

/// What the session with the guest produced.
#[derive(Debug)]
struct Session {
    kernel: String,
    boot: Duration,
    /// How long each phase took, from the guest's call to the host's answer.
    phase_times: Vec<(&'static str, Duration)>,
    corpus_tagged: usize,
    corpus: Crossed,
    service: Crossed,
    flood: FloodFigures,
    files: Vec<(String, Vec<u8>)>,
    /// Checks that failed; the session goes on so the guest can report.
    problems: Vec<String>,
}

/// Follow the guest's console from boot to its result, running the host's
/// side of each phase.
fn drive(guest: &mut Guest, ns: &Netns, options: &Options) -> Result<Session> {
    let spawned = Instant::now();
    let mut session = Session {
        kernel: String::new(),
        boot: Duration::ZERO,
        phase_times: Vec::new(),
        corpus_tagged: 0,
        corpus: Crossed::default(),
        service: Crossed::default(),
        flood: FloodFigures::default(),
        files: Vec::new(),
        problems: Vec::new(),
    };
    let corpus = traffic::corpus(options.corpus_frames);
    session.corpus_tagged = corpus.iter().filter(|f| traffic::is_tagged(f)).count();
    let service_corpus = traffic::corpus(options.service_frames);
    let mut deadline = spawned + BOOT_LIMIT;
    let mut waiting_for = "the guest to boot";
    let mut nics = Vec::new();
    let mut file: Option<(String, usize, String)> = None;
    let mut running: Option<String> = None;
    loop {
        let Some(line) = guest.line(deadline, waiting_for)? else {
            return Err(Error::Failed(format!(
                "qemu closed the console before the guest's result (waiting for {waiting_for})"
            )));
        };
        if let Some((_, _, text)) = &mut file {
            if guest::parse(&line) != Some(Ok(Message::EndFile)) {
                text.push_str(line.trim());
                continue;
            }
        }
        println!("guest| {line}");
        let message = match guest::parse(&line) {
            None => continue,
            Some(Err(e)) => return Err(Error::Failed(e)),
            Some(Ok(message)) => message,
        };
        match message {
            Message::Booted(what) => {
                let field = |key: &str| {
                    what.split_whitespace()
                        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                        .unwrap_or("?")
                };
                session.kernel = format!("Linux {} {}", field("kernel"), field("machine"));
            }
            Message::Nic { name, mac } => nics.push(format!("{name} {mac}")),
            Message::Ready(_) => {
                session.boot = spawned.elapsed();
                let expected = [format!("eth0 {IN_MAC}"), format!("eth1 {OUT_MAC}")];
                if nics != expected {
                    return Err(Error::Failed(format!(
                        "the guest's NICs are {nics:?}, expected {expected:?} (eth0 on \
                         {IN_TAP}, eth1 on {OUT_TAP})"
                    )));
                }
                println!("vm: booted in {:.1} s", session.boot.as_secs_f64());
                deadline = Instant::now() + JOB_LIMIT;
                waiting_for = "the guest's job";
            }
            Message::Run(command) => running = Some(command.to_string()),
            Message::Rc(rc) => {
                if rc != 0 {
                    session.problems.push(format!(
                        "`{}` exited with {rc} in the guest",
                        running.as_deref().unwrap_or("?")
                    ));
                }
                running = None;
            }
            Message::Phase(phase) => {
                let started = Instant::now();
                let (name, outcome) = match phase {
                    CORPUS => (CORPUS, bridge_phase(ns, CORPUS, &corpus, options)),
                    CAPTURE_PHASE => (CAPTURE_PHASE, capture_phase(ns, &corpus, options)),
                    SERVICE => (SERVICE, bridge_phase(ns, SERVICE, &service_corpus, options)),
                    FLOOD => (FLOOD, flood_phase(ns, options)),
                    other => {
                        guest.answer("continue")?;
                        session.problems.push(format!(
                            "the guest asked for phase `{other}`, which the host does not know"
                        ));
                        continue;
                    }
                };
                // The guest waits for the answer whatever happened here.
                guest.answer("continue")?;
                let outcome = outcome?;
                session.phase_times.push((name, started.elapsed()));
                match name {
                    CORPUS => session.corpus = outcome.crossed,
                    SERVICE => session.service = outcome.crossed,
                    FLOOD => session.flood = outcome.flood,
                    _ => {}
                }
                session
                    .problems
                    .extend(outcome.problems.into_iter().map(|p| format!("{name}: {p}")));
            }
            Message::File { name, size } => file = Some((name.to_string(), size, String::new())),
            Message::EndFile => {
                let Some((name, size, text)) = file.take() else {
                    return Err(Error::Failed(
                        "the guest ended a file it never began".to_string(),
                    ));
                };
                let bytes = guest::base64_decode(&text)
                    .map_err(|e| Error::Failed(format!("file {name} from the guest: {e}")))?;
                if bytes.len() != size {
                    return Err(Error::Failed(format!(
                        "file {name} from the guest: {} bytes arrived, the guest sent {size}",
                        bytes.len()
                    )));
                }
                let copy = guest.log().with_file_name(&name);
                std::fs::write(&copy, &bytes)
                    .map_err(|e| Error::Failed(format!("cannot write {}: {e}", copy.display())))?;
                session.files.retain(|(n, _)| n != &name);
                session.files.push((name, bytes));
            }
            Message::GuestError(text) => session.problems.push(format!("guest: {text}")),
            Message::Result(rc) => {
                if rc != 0 && session.problems.is_empty() {
                    session
                        .problems
                        .push(format!("the guest's job ended with {rc}"));
                }
                if !options.keep {
                    return Ok(session);
                }
            }
            Message::Shell => {
                hand_over_console(guest, ns)?;
                return Ok(session);
            }
        }
    }
}

/// The host's side of one phase.
#[derive(Debug, Default)]
struct PhaseOutcome {
    crossed: Crossed,
    flood: FloodFigures,
    problems: Vec<String>,
}

/// A bridge runs eth0 -> eth1: `frames` into `IN_TAP` after probes; they
/// must come out of `OUT_TAP` byte-identical, in order, and alone.
fn bridge_phase(
    ns: &Netns,
    phase: &str,
    frames: &[Vec<u8>],
    options: &Options,
) -> Result<PhaseOutcome> {
    let offer = Offer::Corpus {
        frames,
        rate: options.corpus_rate,
    };
    let ex = traffic::exchange(ns, offer)?;
    let problems = traffic::check_corpus(frames, &ex);
    let tagged = frames.iter().filter(|f| traffic::is_tagged(f)).count();
    println!(
        "vm: {phase}: {} frames ({tagged} tagged) at {} frames/s after {} probes: {}",
        frames.len(),
        options.corpus_rate,
        ex.probes_sent,
        if problems.is_empty() {
            "all came out byte-identical and in order"
        } else {
            "FAILED"
        }
    );
    Ok(PhaseOutcome {
        crossed: Crossed {
            out: ex.arrivals.len(),
            probes_lost: ex.probes_lost(),
        },
        problems,
        ..PhaseOutcome::default()
    })
}

/// The guest captures on eth0 (it said so before calling the phase): the
/// corpus goes into `IN_TAP`, and nothing is expected out of `OUT_TAP`.
/// The capture file is checked once the guest has exported it.
fn capture_phase(ns: &Netns, corpus: &[Vec<u8>], options: &Options) -> Result<PhaseOutcome> {
    let took = traffic::send_only(ns, corpus, options.corpus_rate)?;
    println!(
        "vm: capture: sent {} frames into {IN_TAP} in {:.2} s",
        corpus.len(),
        took.as_secs_f64()
    );
    Ok(PhaseOutcome::default())
}

/// Minimum-size frames at the offered load; the rate they come out at is
/// the figure.
fn flood_phase(ns: &Netns, options: &Options) -> Result<PhaseOutcome> {
    let offer = Offer::Flood {
        rate: options.flood_rate,
        seconds: options.flood_seconds,
    };
    let ex = traffic::exchange(ns, offer)?;
    let flood = traffic::flood_figures(&ex);
    println!(
        "vm: flood: offered {} frames at {:.0}/s, {} came out: {:.0} frames/s forwarded (the \
         host's receiving ring dropped {})",
        flood.sent, flood.offered_fps, flood.received, flood.forwarded_fps, flood.receiver_drops
    );
    let mut problems = Vec::new();
    if flood.received == 0 {
        problems.push("no frame came out of the guest".to_string());
    }
    Ok(PhaseOutcome {
        flood,
        problems,
        ..PhaseOutcome::default()
    })
}

/// `--keep`: the guest now runs a shell on its console; connect it to
/// this terminal until the guest powers off.
fn hand_over_console(guest: &mut Guest, ns: &Netns) -> Result {
    println!(
        "vm: the guest keeps running with a shell on its console (type `exit` to power off); \
         from another terminal: ip netns exec {} tcpdump -eni {OUT_TAP}",
        ns.name()
    );
    let (typed, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if typed.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        while let Ok(line) = lines.try_recv() {
            guest.answer(&line)?;
        }
        // A timeout only means the guest printed nothing for a while.
        if let Ok(line) = guest.line(Instant::now() + Duration::from_millis(50), "output") {
            match line {
                Some(line) => println!("{line}"),
                None => break,
            }
        }
    }
    guest.wait_exit(EXIT_LIMIT).map(|_| ())
}

impl BoardReport {
    /// A few lines for the end of the run.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "vm: {} ({})", self.board, self.kernel);
        if let Some((bytes, secs)) = self.download {
            let _ = writeln!(
                s,
                "    downloaded {:.1} MB in {secs:.1} s: {}",
                bytes as f64 / 1e6,
                self.packages.join(", ")
            );
        }
        let times: Vec<String> = self
            .timings
            .iter()
            .map(|(name, d)| format!("{name} {:.1} s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(s, "    times: {}", times.join(", "));
        let _ = writeln!(s, "    initramfs: {} KiB", self.initramfs_bytes / 1024);
        let c = &self.corpus_counters;
        let _ = writeln!(
            s,
            "    corpus: {} frames ({} tagged) byte-identical and in order; bridge rx {} tx {}",
            self.corpus_frames, self.corpus_tagged, c.rx_packets, c.tx_packets
        );
        let _ = writeln!(
            s,
            "    capture: {} frames in the pcapng, as tcpdump reads it",
            self.capture_counters.captured
        );
        let sc = &self.service_counters;
        let _ = writeln!(
            s,
            "    service: {INIT_SCRIPT} start/stop; {} frames crossed; bridge rx {} tx {}",
            self.service_frames, sc.rx_packets, sc.tx_packets
        );
        let f = &self.flood;
        let fc = &self.flood_counters;
        let _ = writeln!(
            s,
            "    flood: {:.0} frames/s forwarded ({} of {} frames offered at {:.0}/s came out, \
             host ring drops {}; bridge rx {} tx {}, kernel drops {}, dropped {})",
            f.forwarded_fps,
            f.received,
            f.sent,
            f.offered_fps,
            f.receiver_drops,
            fc.rx_packets,
            fc.tx_packets,
            fc.kernel_drops,
            fc.dropped_total()
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_emulated_board() {
        for name in emulated_names().unwrap() {
            assert!(ABOUT.contains(&name), "--help lists {name}");
        }
    }

    #[test]
    fn job_runs_every_phase_with_the_real_ringtap() {
        let job = job(&Options::default());
        assert!(job.starts_with("run ringtap --version\nrun ringtap plan "));
        assert!(job.contains("run sysctl -w net.core.gro_normal_batch=1\n"));
        assert!(job.contains(&format!("forward {CORPUS} ringtap bridge ")));
        assert!(job.contains("capture capture 400 ringtap capture --in eth0\n"));
        assert!(job.contains("service service /etc/init.d/S50ringtap\n"));
        assert!(job.ends_with(&format!("forward {FLOOD} {BRIDGE}\n")));
        assert_eq!(SERVICE_STATS, format!("/tmp/out/{SERVICE}.json"));
        assert!(ringtap_defaults().contains(&format!("--stats-file {SERVICE_STATS}\"")));
    }

    #[test]
    fn qemu_gets_both_taps_and_the_console() {
        let board = Board::load("qemu-virt-armv7").unwrap();
        let shown = qemu_command(
            &board,
            "ringtap-vm-1-test",
            Path::new("/k"),
            Path::new("/i"),
        )
        .shown();
        assert!(
            shown.starts_with("ip netns exec ringtap-vm-1-test "),
            "{shown}"
        );
        assert!(
            shown.contains("/qemu-system-arm -machine virt,highmem=off"),
            "{shown}"
        );
        assert!(shown.contains("ifname=tap0,script=no,downscript=no"));
        assert!(shown.contains("mac=52:54:00:72:74:01,addr=3,romfile="));
        assert!(shown.contains("'console=ttyAMA0 panic=-1 quiet ipv6.disable=1'"));
    }
}
