//! `cargo xtask vm`: the board simulation. Debian's own ARM kernel boots
//! under qemu-system (TCG, no KVM) with two virtio NICs whose host ends are
//! tap devices in a private network namespace. An initramfs built here holds
//! BusyBox as init (`boards/vm/init`), the kernel's virtio modules, the
//! static `ringtap` binary and a job. The job reports `ringtap --version`
//! and a ring plan, then runs the forwarder eth0 -> eth1 twice: once for
//! the corpus check (frames sent into tap0 at a modest rate must leave tap1
//! byte-identical and in order, and the forwarder's counters must agree),
//! once under a flood, for the forwarding rate the emulated board reaches.

mod fetch;
mod guest;
mod initramfs;
mod netns;
mod stats;
mod traffic;

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{deps, is_root, target_dir, workspace_root, Cmd, Error, Result};
use guest::{Guest, Message};
use netns::Netns;
use stats::Counters;
use traffic::{FloodFigures, Offer, IN_TAP, OUT_TAP};

const HELP: &str = "\
Usage: cargo xtask vm [--board NAME]... [--keep]

Boots each emulated board (default: all) under qemu-system with two virtio
NICs on tap devices in a private network namespace, runs the forwarder
eth0 -> eth1 in the guest, sends a corpus of frames (802.1Q and 802.1ad
tagged ones among them) into tap0 and checks they leave tap1 byte-identical
and in order, then floods it and prints the rate it forwarded. Needs root.

The first run downloads the board's Debian kernel and busybox-static with
apt (into <target>/vm-cache, without adding a dpkg architecture); later runs
use the cache.

Boards:
  qemu-virt-aarch64   qemu-system-aarch64 -M virt -cpu cortex-a53, Debian arm64 kernel
  qemu-virt-armv7     qemu-system-arm -M virt,highmem=off -cpu cortex-a15, Debian armhf (armmp) kernel

Options:
  --board NAME   run only this board (may be repeated)
  --keep         after the checks, keep the guest running with a shell on the
                 console (the namespace and taps stay until it powers off)
  -h, --help     print this message
";

/// An emulated board: how qemu models it, and where its kernel and user
/// space come from.
#[derive(Debug, Clone, Copy)]
pub struct Board {
    pub name: &'static str,
    pub qemu_system: &'static str,
    pub machine: &'static str,
    pub cpu: &'static str,
    pub memory_mib: u32,
    /// The Debian kernel metapackage; it depends on the versioned image.
    pub kernel_package: &'static str,
    pub debian_arch: &'static str,
    pub rust_target: &'static str,
    /// The serial console (the virt machine's PL011).
    pub console: &'static str,
}

/// The emulated boards, in one place until `boards/<name>/board.toml`
/// carries these fields.
///
/// armhf: both Debian flavours boot on `-M virt,highmem=off -cpu cortex-a15`;
/// `armmp` is the one that also runs on ARMv7 cores without LPAE, as most
/// 32-bit boards have.
pub const BOARDS: [Board; 2] = [
    Board {
        name: "qemu-virt-aarch64",
        qemu_system: "qemu-system-aarch64",
        machine: "virt",
        cpu: "cortex-a53",
        memory_mib: 256,
        kernel_package: "linux-image-arm64",
        debian_arch: "arm64",
        rust_target: "aarch64-unknown-linux-musl",
        console: "ttyAMA0",
    },
    Board {
        name: "qemu-virt-armv7",
        qemu_system: "qemu-system-arm",
        machine: "virt,highmem=off",
        cpu: "cortex-a15",
        memory_mib: 256,
        kernel_package: "linux-image-armmp",
        debian_arch: "armhf",
        rust_target: "armv7-unknown-linux-gnueabihf",
        console: "ttyAMA0",
    },
];

/// The forwarder the guest runs eth0 -> eth1 in each phase (its `forward`
/// helper adds `--stats-file`). `kernel-bridge` (boards/vm) is a stand-in
/// with the command-line contract of `ringtap bridge`.
const FORWARDER: &str = "kernel-bridge --in eth0 --out eth1 --duration 600";

/// The ring `ringtap plan` checks in the guest, against the guest kernel's
/// page size and word size.
const PLAN: &str = "plan --tpacket v3 --ring rx --block-size 65536 --block-nr 4 --frame-size 2048";

/// Modules the guest loads at boot (dependencies are found and added):
/// the virtio NICs on the virt machine's PCIe bus, and the kernel bridge
/// for the stand-in forwarder.
const GUEST_MODULES: [&str; 3] = ["virtio_pci", "virtio_net", "bridge"];

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
    /// Frames in the corpus check.
    pub corpus_frames: usize,
    /// Corpus rate in frames per second (no loss allowed at this rate).
    pub corpus_rate: u32,
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
            flood_rate: 100_000,
            flood_seconds: 2.0,
            keep: false,
        }
    }
}

/// What a board run measured.
#[derive(Debug)]
pub struct BoardReport {
    pub board: &'static str,
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
    pub flood: FloodFigures,
    pub flood_counters: Counters,
}

pub fn run(args: &[String]) -> Result {
    let mut names = Vec::new();
    let mut options = Options::default();
    let mut args = args.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        match arg {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--keep" => options.keep = true,
            "--board" => {
                let name = args.next().ok_or_else(|| {
                    Error::Usage(format!("`--board` needs a board: {}", board_names()))
                })?;
                names.push(board(name)?.name);
            }
            _ => match arg.strip_prefix("--board=") {
                Some(name) => names.push(board(name)?.name),
                None => {
                    return Err(Error::Usage(format!(
                        "unexpected argument `{arg}` for `cargo xtask vm` (see --help)"
                    )))
                }
            },
        }
    }
    if names.is_empty() {
        names = BOARDS.iter().map(|b| b.name).collect();
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for name in names {
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

fn board(name: &str) -> Result<&'static Board> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        Error::Usage(format!(
            "unknown board `{name}`; emulated boards are: {}",
            board_names()
        ))
    })
}

fn board_names() -> String {
    BOARDS.map(|b| b.name).join(", ")
}

/// Fetch, build, boot and check one emulated board.
pub fn run_board(name: &str, options: &Options) -> Result<BoardReport> {
    let board = board(name)?;
    println!();
    println!("==> vm: {}", board.name);
    if !is_root() {
        return Err(Error::Failed(
            "cargo xtask vm needs root: it creates a network namespace and tap devices".to_string(),
        ));
    }
    deps::ensure(&deps::FOR_VM)?;
    let started = Instant::now();
    let mut timings = Vec::new();
    let mut step = |name: &'static str, since: &mut Instant| {
        let now = Instant::now();
        timings.push((name, now - *since));
        *since = now;
    };
    let mut since = Instant::now();

    let packages = fetch::guest_packages(board)?;
    step("fetch", &mut since);

    Cmd::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "ringtap",
            "--target",
            board.rust_target,
        ])
        .run()?;
    let ringtap = target_dir()
        .join(board.rust_target)
        .join("release")
        .join("ringtap");
    step("build", &mut since);

    let work = target_dir().join("vm").join(board.name);
    fetch::create_dir(&work)?;
    let profile = workspace_root()
        .join("boards")
        .join(board.name)
        .join("board.toml");
    let profile = profile.is_file().then_some(profile);
    let job = job();
    let image = initramfs::build(
        &work,
        &initramfs::Contents {
            guest_files: &workspace_root().join("boards").join("vm"),
            busybox: &packages.busybox,
            ringtap: &ringtap,
            modules_dir: &packages.modules_dir,
            modules: &GUEST_MODULES,
            board_profile: profile.as_deref(),
            job: &job,
            keep: options.keep,
        },
    )?;
    println!(
        "vm: initramfs {} ({} KiB): busybox, ringtap, {}, board profile: {}",
        image.path.display(),
        image.bytes / 1024,
        image.modules.join(" "),
        profile
            .as_deref()
            .map_or("none".to_string(), |p| p.display().to_string())
    );
    step("initramfs", &mut since);

    let ns = Netns::create(board.name)?;
    ns.add_tap(IN_TAP)?;
    ns.add_tap(OUT_TAP)?;
    let qemu = qemu_command(board, ns.name(), &packages.kernel_image, &image.path);
    let mut guest = Guest::start(qemu, &work.join("console.log"))?;
    let session = drive(&mut guest, &ns, options);
    let session = match session {
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
    timings.push(("corpus", session.corpus_time));
    timings.push(("flood", session.flood_time));
    timings.push(("total", started.elapsed()));

    let counters = |phase: &str| -> Result<Counters> {
        let json = session
            .files
            .iter()
            .find(|(n, _)| n == &format!("{phase}.json"));
        let (_, bytes) = json.ok_or_else(|| {
            Error::Failed(format!("the guest exported no {phase}.json stats file"))
        })?;
        Counters::parse(&String::from_utf8_lossy(bytes))
            .map_err(|e| Error::Failed(format!("{phase}.json from the guest: {e}")))
    };
    let corpus_counters = counters("corpus")?;
    let flood_counters = counters("flood")?;
    let mut problems = session.problems;
    problems.extend(
        corpus_count_problems(&corpus_counters, session.corpus_out, session.probes_lost)
            .into_iter()
            .map(|p| format!("corpus phase: {p}")),
    );
    if !problems.is_empty() {
        return Err(Error::Failed(format!(
            "{}: {}",
            board.name,
            problems.join("\n  ")
        )));
    }
    let report = BoardReport {
        board: board.name,
        kernel: session.kernel,
        packages: packages.packages,
        download: packages.download,
        initramfs_bytes: image.bytes,
        timings,
        corpus_frames: options.corpus_frames,
        corpus_tagged: session.corpus_tagged,
        corpus_counters,
        flood: session.flood,
        flood_counters,
    };
    Ok(report)
}

/// The forwarder's counters against what the host saw: every frame it sent
/// came out (`corpus_out`: our frames out of the out tap, probes included),
/// it dropped none, and it received nothing it did not forward except
/// probes that never came back (sent while it was starting).
fn corpus_count_problems(c: &Counters, corpus_out: usize, probes_lost: u32) -> Vec<String> {
    let mut problems = Vec::new();
    if c.tx_packets != corpus_out as u64 {
        problems.push(format!(
            "the forwarder counted tx_packets {}, but {corpus_out} frames came out of {OUT_TAP}",
            c.tx_packets
        ));
    }
    let unforwarded = c.rx_packets.checked_sub(c.tx_packets);
    if unforwarded.is_none_or(|n| n > u64::from(probes_lost)) {
        problems.push(format!(
            "the forwarder counted rx_packets {} and tx_packets {}; only the {probes_lost} \
             probes that never came back may be received and not forwarded",
            c.rx_packets, c.tx_packets
        ));
    }
    if c.kernel_drops != 0 || c.dropped_total() != 0 {
        problems.push(format!(
            "the forwarder dropped frames (none may be lost at this rate): kernel_drops {}, \
             dropped {:?}",
            c.kernel_drops, c.dropped
        ));
    }
    problems
}

/// The guest's job: `run`, `forward` and the other helpers are
/// `boards/vm/init`'s.
fn job() -> String {
    format!(
        "run ringtap --version\n\
         run ringtap {PLAN}\n\
         forward corpus {FORWARDER}\n\
         forward flood {FORWARDER}\n"
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
        .args(["netns", "exec", netns, board.qemu_system])
        .args(["-machine", board.machine, "-cpu", board.cpu])
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

/// What the session with the guest produced.
#[derive(Debug)]
struct Session {
    kernel: String,
    boot: Duration,
    corpus_time: Duration,
    corpus_tagged: usize,
    /// Frames (probes and corpus) that came out of the out tap.
    corpus_out: usize,
    /// Probes of the corpus phase that did not come out.
    probes_lost: u32,
    flood_time: Duration,
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
        corpus_time: Duration::ZERO,
        corpus_tagged: 0,
        corpus_out: 0,
        probes_lost: 0,
        flood_time: Duration::ZERO,
        flood: FloodFigures::default(),
        files: Vec::new(),
        problems: Vec::new(),
    };
    let corpus = traffic::corpus(options.corpus_frames);
    session.corpus_tagged = corpus.iter().filter(|f| traffic::is_tagged(f)).count();
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
            Message::Phase("corpus") => {
                let started = Instant::now();
                let offer = Offer::Corpus {
                    frames: &corpus,
                    rate: options.corpus_rate,
                };
                let ex = traffic::exchange(ns, offer);
                guest.answer("continue")?;
                let ex = ex?;
                session.corpus_time = started.elapsed();
                session.corpus_out = ex.arrivals.len();
                session.probes_lost = ex.probes_lost();
                let problems = traffic::check_corpus(&corpus, &ex);
                println!(
                    "vm: corpus: {} frames ({} tagged) at {} frames/s after {} probes: {}",
                    corpus.len(),
                    session.corpus_tagged,
                    options.corpus_rate,
                    ex.probes_sent,
                    if problems.is_empty() {
                        "all came out byte-identical and in order"
                    } else {
                        "FAILED"
                    }
                );
                session
                    .problems
                    .extend(problems.into_iter().map(|p| format!("corpus: {p}")));
            }
            Message::Phase("flood") => {
                let started = Instant::now();
                let offer = Offer::Flood {
                    rate: options.flood_rate,
                    seconds: options.flood_seconds,
                };
                let ex = traffic::exchange(ns, offer);
                guest.answer("continue")?;
                let ex = ex?;
                session.flood_time = started.elapsed();
                session.flood = traffic::flood_figures(&ex);
                let f = &session.flood;
                println!(
                    "vm: flood: offered {} frames at {:.0}/s, {} came out: {:.0} frames/s \
                     forwarded (the host's receiving ring dropped {})",
                    f.sent, f.offered_fps, f.received, f.forwarded_fps, f.receiver_drops
                );
                if f.received == 0 {
                    session
                        .problems
                        .push("flood: no frame came out of the guest".to_string());
                }
            }
            Message::Phase(other) => {
                guest.answer("continue")?;
                session.problems.push(format!(
                    "the guest asked for phase `{other}`, which the host does not know"
                ));
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
            "    corpus: {} frames ({} tagged) byte-identical and in order; forwarder rx {} tx {}",
            self.corpus_frames, self.corpus_tagged, c.rx_packets, c.tx_packets
        );
        let f = &self.flood;
        let fc = &self.flood_counters;
        let _ =
            writeln!(
            s,
            "    flood: {:.0} frames/s forwarded ({} of {} frames offered at {:.0}/s came out, \
             host ring drops {}; forwarder rx {} tx {}, kernel drops {})",
            f.forwarded_fps, f.received, f.sent, f.offered_fps, f.receiver_drops, fc.rx_packets,
            fc.tx_packets, fc.kernel_drops
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_are_named_once_and_build_for_arm() {
        for (i, b) in BOARDS.iter().enumerate() {
            assert!(BOARDS[..i].iter().all(|o| o.name != b.name), "{}", b.name);
            assert!(b.rust_target.starts_with("a"), "{}", b.rust_target);
            assert!(HELP.contains(b.name), "--help lists {}", b.name);
        }
        assert!(matches!(board("pi"), Err(Error::Usage(_))));
    }

    #[test]
    fn job_reports_then_forwards_twice() {
        let job = job();
        assert!(job.starts_with("run ringtap --version\nrun ringtap plan "));
        assert_eq!(job.matches("forward ").count(), 2);
        assert!(job.contains(&format!("forward corpus {FORWARDER}\n")));
    }

    #[test]
    fn counters_must_match_what_came_out() {
        let counters = |rx, tx, kernel_drops, dropped: u64| Counters {
            rx_packets: rx,
            tx_packets: tx,
            kernel_drops,
            dropped: vec![("tx_ring_full".to_string(), dropped)],
        };
        assert!(corpus_count_problems(&counters(403, 401, 0, 0), 401, 2).is_empty());
        assert_eq!(
            corpus_count_problems(&counters(403, 401, 0, 0), 401, 1).len(),
            1
        );
        assert_eq!(
            corpus_count_problems(&counters(401, 402, 0, 0), 401, 0).len(),
            2
        );
        assert_eq!(
            corpus_count_problems(&counters(401, 401, 1, 0), 401, 0).len(),
            1
        );
        assert_eq!(
            corpus_count_problems(&counters(401, 401, 0, 3), 401, 0).len(),
            1
        );
    }

    #[test]
    fn qemu_gets_both_taps_and_the_console() {
        let shown = qemu_command(
            &BOARDS[1],
            "ringtap-vm-1-test",
            Path::new("/k"),
            Path::new("/i"),
        )
        .shown();
        assert!(shown.starts_with(
            "ip netns exec ringtap-vm-1-test qemu-system-arm -machine virt,highmem=off"
        ));
        assert!(shown.contains("ifname=tap0,script=no,downscript=no"));
        assert!(shown.contains("mac=52:54:00:72:74:01,addr=3,romfile="));
        assert!(shown.contains("'console=ttyAMA0 panic=-1 quiet ipv6.disable=1'"));
    }
}
