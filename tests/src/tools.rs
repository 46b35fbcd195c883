//! Helpers for the `ringtap capture` and `ringtap replay` acceptance tests:
//! the outside programs that judge ringtap's files (tcpdump, tshark), a
//! `ringtap capture` process, a reference capture taken by tcpdump, a
//! `ringtap replay` process, and a writer of pcap and pcapng files (correct
//! ones, in every flavour a reader must accept, and deliberately damaged
//! ones).
//!
//! The files ringtap writes are read back with tcpdump and tshark only, so
//! the tests do not depend on ringtap's own capture-file reader.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{netns_required, ringtap_bin, wait_until};

/// Where `tool` lives: `PATH`, then the sbin directories a non-root `PATH`
/// often lacks.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// A command for `tool`, which [`tools_present`] has found.
pub fn tool(tool: &str) -> Command {
    Command::new(find_tool(tool).unwrap_or_else(|| panic!("{tool} not found")))
}

/// Whether every one of `tools` is installed. When one is missing, prints
/// why `test` is skipped and returns false, or panics when
/// `RINGTAP_REQUIRE_NETNS=1` (set by `cargo xtask test`, which installs
/// them).
pub fn tools_present(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_tool(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{test}: needs {} (apt-get install tcpdump tshark, or `cargo xtask deps`)",
        missing.join(", ")
    );
    assert!(!netns_required(), "{why} (RINGTAP_REQUIRE_NETNS=1)");
    println!("SKIPPED {why}");
    false
}

/// A directory for one test's files; removed when dropped, unless the test
/// is failing (the files are the evidence then).
#[derive(Debug)]
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory named after `tag`.
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ringtap-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch { dir }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!("left for inspection: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Make a FIFO at `path` with `mkfifo(1)`: an input that must never be
/// opened as if it were a file.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn send_signal(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, signal).expect("kill");
}

/// Wait at most `limit` for `child` to exit; on time-out kill it and panic
/// with `what` and `log()`.
pub fn wait_bounded(
    child: &mut Child,
    limit: Duration,
    what: &str,
    log: impl Fn() -> String,
) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}: {}", log());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Fails the test when a reader printed anything but its usual notices:
/// tcpdump's `reading from file ...` line and tshark's notice that it runs
/// as root. Damage reports ("appears to have been cut short", "truncated
/// dump file", "warning") all end up here.
pub fn assert_clean_stderr(what: &str, stderr: &str) {
    let unexpected: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("reading from file"))
        .filter(|l| !l.starts_with("Running as user \"root\""))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{what} printed warnings: {}",
        unexpected.join("\n")
    );
}

/// One frame as tcpdump prints it with `-nn -e -xx -tt`: its summary line
/// without the timestamp (link addresses, VLAN tags, `length` = original
/// length, decode) and the captured bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumped {
    /// The summary line(s), timestamp cut off.
    pub summary: String,
    /// The frame's bytes, from the hex dump.
    pub bytes: Vec<u8>,
}

/// The tcpdump arguments whose output [`parse_tcpdump`] reads.
pub const TCPDUMP_DUMP_ARGS: [&str; 4] = ["-nn", "-e", "-xx", "-tt"];

/// Parse `tcpdump -nn -e -xx -tt` output into frames.
pub fn parse_tcpdump(out: &str) -> Vec<Dumped> {
    let mut frames: Vec<Dumped> = Vec::new();
    for line in out.lines() {
        if let Some(hex) = line.strip_prefix("\t0x") {
            let frame = frames.last_mut().expect("hex dump before a summary line");
            let (offset, words) = hex.split_once(':').expect("hex dump offset");
            let offset = usize::from_str_radix(offset, 16).expect("hex dump offset");
            // Some decoders print a hex dump of their own before the
            // frame's (an unknown ICMPv6 type, say): the last dump from
            // offset 0 is the frame.
            if offset == 0 {
                frame.bytes.clear();
            }
            assert_eq!(offset, frame.bytes.len(), "hex dump offset in {line:?}");
            for word in words.split_whitespace() {
                let digits = word.as_bytes();
                assert!(digits.len() % 2 == 0, "odd hex word {word:?} in {line:?}");
                for pair in digits.chunks(2) {
                    let pair = std::str::from_utf8(pair).expect("ASCII");
                    frame
                        .bytes
                        .push(u8::from_str_radix(pair, 16).expect("hex byte"));
                }
            }
        } else if line.starts_with(char::is_whitespace) {
            let frame = frames.last_mut().expect("continuation before a summary");
            frame.summary.push('\n');
            frame.summary.push_str(line.trim());
        } else if !line.is_empty() {
            let (_, rest) = line.split_once(' ').unwrap_or((line, ""));
            frames.push(Dumped {
                summary: rest.to_owned(),
                bytes: Vec::new(),
            });
        }
    }
    frames
}

/// `tcpdump -r FILE -nn -e -xx -tt`: every frame, after checking that
/// tcpdump exits 0 and prints no warning.
pub fn tcpdump_read(file: &Path) -> Vec<Dumped> {
    let out = tool("tcpdump")
        .arg("-r")
        .arg(file)
        .args(TCPDUMP_DUMP_ARGS)
        .output()
        .expect("run tcpdump -r");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tcpdump -r {} failed: {stderr}",
        file.display()
    );
    assert_clean_stderr(&format!("tcpdump -r {}", file.display()), &stderr);
    parse_tcpdump(&String::from_utf8_lossy(&out.stdout))
}

/// `tshark -r FILE -T fields -e F ...`: one row per frame, one string per
/// field (empty when the frame lacks it), after checking that tshark exits
/// 0 and prints no warning.
pub fn tshark_fields(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = tool("tshark");
    cmd.arg("-n").arg("-r").arg(file).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark -r");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark -r {} failed: {stderr}",
        file.display()
    );
    assert_clean_stderr(&format!("tshark -r {}", file.display()), &stderr);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Compare frames read from a file with the frames expected, one by one.
pub fn assert_same_frames(what: &str, expected: &[Vec<u8>], got: &[Vec<u8>]) {
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        assert!(
            e == g,
            "{what}: frame #{} differs: expected {} bytes {:02x?}..., got {} bytes {:02x?}...",
            i + 1,
            e.len(),
            &e[..e.len().min(24)],
            g.len(),
            &g[..g.len().min(24)]
        );
    }
    assert_eq!(got.len(), expected.len(), "{what}: number of frames");
}

/// A running `ringtap capture --in IF ... --stats-file ...`, started in the
/// calling thread's namespace.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    iface: String,
    stats: PathBuf,
    stderr: PathBuf,
}

/// What a finished capture left behind.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// The final stats file.
    pub stats: serde_json::Value,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Capture {
    /// Start `ringtap capture --in IFACE --stats-file <in scratch> ARGS`,
    /// its stdout going to `stdout`, and wait (at most 10 s) for the line
    /// `ringtap: capturing on IFACE` on its stderr.
    pub fn start(scratch: &Scratch, iface: &str, args: &[&str], stdout: Stdio) -> Capture {
        let stats = scratch.path("capture-stats.json");
        let stderr = scratch.path("capture-stderr");
        let child = Command::new(ringtap_bin())
            .args(["capture", "--in", iface])
            .arg("--stats-file")
            .arg(&stats)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start ringtap capture");
        let mut c = Capture {
            child,
            iface: iface.to_owned(),
            stats,
            stderr,
        };
        let ready = format!("ringtap: capturing on {iface}");
        let up = wait_until(Duration::from_secs(10), || {
            c.stderr().contains(&ready) || c.child.try_wait().ok().flatten().is_some()
        });
        if !(up && c.stderr().contains(&ready)) {
            let _ = c.child.kill();
            let _ = c.child.wait();
            panic!(
                "ringtap capture --in {iface} {} never printed {ready:?}: {}",
                args.join(" "),
                c.stderr()
            );
        }
        c
    }

    /// Send it `signal` (and go on).
    pub fn signal(&self, signal: rustix::process::Signal) {
        send_signal(&self.child, signal);
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// Wait (at most 10 s) until its stderr contains `text`; false if it
    /// never did.
    pub fn wait_stderr(&self, text: &str) -> bool {
        wait_until(Duration::from_secs(10), || self.stderr().contains(text))
    }

    /// Its stdout, when started with `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child.stdout.take().expect("stdout was not piped")
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The stats file as last written, if there is a complete one yet.
    pub fn stats(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(&self.stats).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// `captured` in the stats file (0 before the first one).
    pub fn captured(&self) -> u64 {
        self.stats()
            .and_then(|s| s["captured"].as_u64())
            .unwrap_or(0)
    }

    /// Wait (at most 10 s; the stats file is rewritten every second) until
    /// the stats file says `n` frames were captured; false if it never did.
    pub fn wait_captured(&self, n: u64) -> bool {
        wait_until(Duration::from_secs(10), || self.captured() >= n)
    }

    /// Send `signal` (SIGINT or SIGTERM), then wait at most 5 s.
    pub fn stop(self, signal: rustix::process::Signal) -> Finished {
        send_signal(&self.child, signal);
        self.finish(Duration::from_secs(5))
    }

    /// Wait at most `limit` for it to stop by itself (`--count`,
    /// `--duration`).
    pub fn finish(mut self, limit: Duration) -> Finished {
        let what = format!("ringtap capture --in {}", self.iface);
        let log = self.stderr.clone();
        let status = wait_bounded(&mut self.child, limit, &what, || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        let stderr = self.stderr();
        let text = std::fs::read_to_string(&self.stats)
            .unwrap_or_else(|e| panic!("{what}: no stats file at exit ({e}): {stderr}"));
        let stats = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: stats file is not JSON ({e}): {text}"));
        Finished {
            status,
            stats,
            stderr,
        }
    }
}

/// A reference capture: a live tcpdump writing a file.
#[derive(Debug)]
pub struct TcpdumpCapture {
    child: Child,
    stderr: PathBuf,
    /// The file it writes.
    pub file: PathBuf,
}

impl TcpdumpCapture {
    /// `tcpdump -i IFACE -w FILE -U --immediate-mode -s 0 -B 65536`, FILE in
    /// `scratch`; returns once tcpdump says it is listening. (In immediate
    /// mode libpcap uses a TPACKET_V2 ring of snaplen-sized frames: `-B
    /// 4096` would hold only 16 frames of 256 KiB, too few for the bursts
    /// the tests send.)
    pub fn start(scratch: &Scratch, iface: &str, file: &str) -> TcpdumpCapture {
        TcpdumpCapture::start_with(scratch, iface, file, &[])
    }

    /// As [`TcpdumpCapture::start`], with `more` arguments after those
    /// (options override the defaults; a filter expression goes last,
    /// after `--`).
    pub fn start_with(scratch: &Scratch, iface: &str, file: &str, more: &[&str]) -> TcpdumpCapture {
        let stderr = scratch.path(&format!("{file}.stderr"));
        let file = scratch.path(file);
        let child = tool("tcpdump")
            .args(["-i", iface, "-U", "--immediate-mode", "-s", "0"])
            .args(["-B", "65536", "-w"])
            .arg(&file)
            .args(more)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tcpdump");
        let mut c = TcpdumpCapture {
            child,
            stderr,
            file,
        };
        let ready = format!("listening on {iface}");
        let up = wait_until(Duration::from_secs(10), || {
            c.log().contains(&ready) || c.child.try_wait().ok().flatten().is_some()
        });
        if !(up && c.log().contains(&ready)) {
            let _ = c.child.kill();
            let _ = c.child.wait();
            panic!("tcpdump -i {iface} never printed {ready:?}: {}", c.log());
        }
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// How many frames the file holds so far (as far as tcpdump can read):
    /// the lines that start with a timestamp (some decoders add indented
    /// lines, even with `-q`).
    pub fn frames_so_far(&self) -> usize {
        tool("tcpdump")
            .arg("-r")
            .arg(&self.file)
            .args(["-nn", "-q", "-tt"])
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                o.stdout
                    .split(|&b| b == b'\n')
                    .filter(|l| l.first().is_some_and(u8::is_ascii_digit))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Wait (at most 10 s) until the file holds `n` frames, then stop
    /// tcpdump with SIGINT and wait for it (at most 5 s); it must exit 0
    /// having lost no frame. Returns the file.
    pub fn stop_after(mut self, n: usize) -> PathBuf {
        wait_until(Duration::from_secs(10), || self.frames_so_far() >= n);
        send_signal(&self.child, rustix::process::Signal::INT);
        let log = self.stderr.clone();
        let status = wait_bounded(&mut self.child, Duration::from_secs(5), "tcpdump", || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        let log = self.log();
        assert!(status.success(), "tcpdump: {status}: {log}");
        // The reference must be complete, or comparing with it means nothing.
        let dropped = log
            .lines()
            .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
            .map(|n| n.trim().parse::<u64>().expect("tcpdump's drop count"));
        assert_eq!(dropped, Some(0), "the reference capture lost frames: {log}");
        self.file.clone()
    }
}

/// A running `ringtap replay`, started in the calling thread's namespace.
#[derive(Debug)]
pub struct Replay {
    child: Child,
    args: String,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
}

/// What a finished replay said.
#[derive(Debug)]
pub struct Replayed {
    /// Exit status.
    pub status: ExitStatus,
    /// Its stdout (`sent N frames (B bytes) in S s`).
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Wall time from start to exit.
    pub took: Duration,
}

/// The numbers of the `sent N frames (B bytes) in S s[, K skipped: ...]`
/// line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentLine {
    /// Frames sent.
    pub frames: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Frames skipped as longer than the MTU allows.
    pub skipped: u64,
}

impl Replay {
    /// Start `ringtap replay ARGS`.
    pub fn start(scratch: &Scratch, args: &[&str]) -> Replay {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdout = scratch.path(&format!("replay-{n}.stdout"));
        let stderr = scratch.path(&format!("replay-{n}.stderr"));
        let started = Instant::now();
        let child = Command::new(ringtap_bin())
            .arg("replay")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start ringtap replay");
        Replay {
            child,
            args: args.join(" "),
            stdout,
            stderr,
            started,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send it `signal` (and go on).
    pub fn signal(&self, signal: rustix::process::Signal) {
        send_signal(&self.child, signal);
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Send SIGTERM; returns when it was sent.
    pub fn terminate(&self) -> Instant {
        send_signal(&self.child, rustix::process::Signal::TERM);
        Instant::now()
    }

    /// Whether it has exited.
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_some()
    }

    /// Wait at most `limit` for it to exit.
    pub fn finish(mut self, limit: Duration) -> Replayed {
        let what = format!("ringtap replay {}", self.args);
        let status = wait_bounded(&mut self.child, limit, &what, || {
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        });
        let took = self.started.elapsed();
        Replayed {
            status,
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
            took,
        }
    }
}

impl Replayed {
    /// The `sent ...` line, parsed; panics (showing the output) when it is
    /// missing or malformed.
    pub fn sent(&self) -> SentLine {
        let fail = || -> ! {
            panic!(
                "no `sent N frames (B bytes) in S s` line in stdout {:?} (stderr {:?})",
                self.stdout, self.stderr
            )
        };
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("sent "))
            .unwrap_or_else(|| fail());
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 7 || words[2] != "frames" || words[4] != "bytes)" || words[5] != "in" {
            fail();
        }
        let number = |w: &str| w.trim_matches(|c| c == '(' || c == ',').parse::<u64>().ok();
        let skipped = match line.find(" skipped: longer than the MTU allows") {
            Some(at) => line[..at]
                .rsplit(' ')
                .next()
                .and_then(number)
                .unwrap_or_else(|| fail()),
            None => 0,
        };
        SentLine {
            frames: number(words[1]).unwrap_or_else(|| fail()),
            bytes: number(words[3]).unwrap_or_else(|| fail()),
            seconds: words[6].parse().unwrap_or_else(|_| fail()),
            skipped,
        }
    }
}

/// Byte order of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

impl Order {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Order::Little => v.to_le_bytes(),
            Order::Big => v.to_be_bytes(),
        }
    }

    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Order::Little => v.to_le_bytes(),
            Order::Big => v.to_be_bytes(),
        }
    }

    /// Overwrite the 32-bit field at `at` of `buf` with `v`.
    pub fn put_u32(self, buf: &mut [u8], at: usize, v: u32) {
        buf[at..at + 4].copy_from_slice(&self.u32(v));
    }
}

/// One frame to write: timestamp (ns since the epoch) and bytes.
#[derive(Debug, Clone)]
pub struct Stamped {
    /// Nanoseconds since the epoch.
    pub ts_ns: u64,
    /// The frame.
    pub data: Vec<u8>,
}

/// `frames` stamped `gap` apart, starting at a fixed time.
pub fn stamped(frames: &[Vec<u8>], gap: Duration) -> Vec<Stamped> {
    const START_NS: u64 = 1_700_000_000_123_456_789;
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| Stamped {
            ts_ns: START_NS + i as u64 * gap.as_nanos() as u64,
            data: f.clone(),
        })
        .collect()
}

/// A classic pcap file: global header (`nanos` picks the nanosecond magic
/// 0xa1b23c4d over the microsecond one 0xa1b2c3d4), link type Ethernet,
/// then one record per frame with caplen = orig_len = its length.
pub fn pcap(order: Order, nanos: bool, snaplen: u32, frames: &[Stamped]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&order.u32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend_from_slice(&order.u16(2));
    f.extend_from_slice(&order.u16(4));
    f.extend_from_slice(&order.u32(0)); // thiszone
    f.extend_from_slice(&order.u32(0)); // sigfigs
    f.extend_from_slice(&order.u32(snaplen));
    f.extend_from_slice(&order.u32(1)); // LINKTYPE_ETHERNET
    for s in frames {
        let secs = s.ts_ns / 1_000_000_000;
        let frac = s.ts_ns % 1_000_000_000;
        let frac = if nanos { frac } else { frac / 1000 };
        f.extend_from_slice(&order.u32(secs as u32));
        f.extend_from_slice(&order.u32(frac as u32));
        f.extend_from_slice(&order.u32(s.data.len() as u32));
        f.extend_from_slice(&order.u32(s.data.len() as u32));
        f.extend_from_slice(&s.data);
    }
    f
}

/// Offset of the first record in a pcap file.
pub const PCAP_HEADER_LEN: usize = 24;

/// A pcapng file being written, block by block; each method returns the
/// offset of the block it wrote, so tests can damage it precisely.
#[derive(Debug)]
pub struct Pcapng {
    order: Order,
    buf: Vec<u8>,
}

impl Pcapng {
    /// A file in byte order `order`, starting with a section header block.
    pub fn new(order: Order) -> Pcapng {
        let mut p = Pcapng {
            order,
            buf: Vec::new(),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&order.u32(0x1a2b_3c4d));
        body.extend_from_slice(&order.u16(1));
        body.extend_from_slice(&order.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length: unknown
        p.block(0x0a0d_0d0a, &body);
        p
    }

    /// Append a block of `kind` with `body` (padded to 4 bytes).
    pub fn block(&mut self, kind: u32, body: &[u8]) -> usize {
        let at = self.buf.len();
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded) as u32;
        self.buf.extend_from_slice(&self.order.u32(kind));
        self.buf.extend_from_slice(&self.order.u32(total));
        self.buf.extend_from_slice(body);
        self.buf.resize(at + 8 + padded, 0);
        self.buf.extend_from_slice(&self.order.u32(total));
        at
    }

    fn option(&self, out: &mut Vec<u8>, code: u16, value: &[u8]) {
        out.extend_from_slice(&self.order.u16(code));
        out.extend_from_slice(&self.order.u16(value.len() as u16));
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    /// An Ethernet interface description block named `name`, with
    /// `if_tsresol` 9 when `nanos` (else the default, microseconds).
    pub fn idb(&mut self, name: &str, snaplen: u32, nanos: bool) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.order.u16(1));
        body.extend_from_slice(&self.order.u16(0));
        body.extend_from_slice(&self.order.u32(snaplen));
        self.option(&mut body, 2, name.as_bytes());
        if nanos {
            self.option(&mut body, 9, &[9]);
        }
        self.option(&mut body, 0, &[]);
        self.block(1, &body)
    }

    /// An enhanced packet block on interface `iface`, its timestamp in
    /// `units_per_s` units (1e9 for `if_tsresol` 9, 1e6 by default).
    pub fn epb(&mut self, iface: u32, units_per_s: u64, s: &Stamped) -> usize {
        let ts = s.ts_ns / (1_000_000_000 / units_per_s);
        let mut body = Vec::new();
        body.extend_from_slice(&self.order.u32(iface));
        body.extend_from_slice(&self.order.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.order.u32(ts as u32));
        body.extend_from_slice(&self.order.u32(s.data.len() as u32));
        body.extend_from_slice(&self.order.u32(s.data.len() as u32));
        body.extend_from_slice(&s.data);
        self.block(6, &body)
    }

    /// A simple packet block (interface 0, no timestamp).
    pub fn spb(&mut self, data: &[u8]) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.order.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// An interface statistics block for `iface`, with `isb_ifdrop`.
    pub fn isb(&mut self, iface: u32, ifdrop: u64) -> usize {
        let mut body = Vec::new();
        body.extend_from_slice(&self.order.u32(iface));
        body.extend_from_slice(&[0; 8]); // timestamp
        let drop = match self.order {
            Order::Little => ifdrop.to_le_bytes(),
            Order::Big => ifdrop.to_be_bytes(),
        };
        self.option(&mut body, 5, &drop);
        self.option(&mut body, 0, &[]);
        self.block(5, &body)
    }

    /// The file so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.clone()
    }
}

/// Kill a helper process a failing test left running.
fn reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        reap(&mut self.child);
    }
}

impl Drop for TcpdumpCapture {
    fn drop(&mut self) {
        reap(&mut self.child);
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        reap(&mut self.child);
    }
}

/// What a finished program printed.
#[derive(Debug)]
pub struct Ran {
    /// Exit status.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Wall time from start to exit.
    pub took: Duration,
}

impl Ran {
    /// The exit code (None: killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Run `cmd` with stdout and stderr going to files in `scratch`, waiting at
/// most `limit` (then kill it and panic, showing its stderr).
pub fn run_bounded(scratch: &Scratch, cmd: &mut Command, limit: Duration) -> Ran {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = scratch.path(&format!("run-{n}.stdout"));
    let err = scratch.path(&format!("run-{n}.stderr"));
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let status = wait_bounded(&mut child, limit, &what, || {
        std::fs::read_to_string(&err).unwrap_or_default()
    });
    Ran {
        status,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        took: started.elapsed(),
    }
}

/// `ringtap ARGS` with standard input from /dev/null, run as
/// [`run_bounded`] runs it.
pub fn run_ringtap(scratch: &Scratch, args: &[&str], limit: Duration) -> Ran {
    run_bounded(
        scratch,
        Command::new(ringtap_bin()).args(args).stdin(Stdio::null()),
        limit,
    )
}

/// The signal that ended a process, if one did.
pub fn killed_by(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

/// Send `signal` to a running child.
pub fn signal(child: &Child, signal: rustix::process::Signal) {
    send_signal(child, signal);
}
