//! Helpers for ringtap's integration tests against the running kernel.
//!
//! Each test runs its body in a thread that has its own, private network
//! namespace (`unshare(CLONE_NEWNET)` on that thread only). Commands the
//! thread starts (`ip`) inherit the namespace, so veth pairs are created
//! inside it, and everything disappears when the thread ends: no names to
//! collide, nothing to clean up after a failure, and no traffic can leave.

use std::process::Command;
use std::time::{Duration, Instant};

pub mod confined;
pub mod corpus;
pub mod packets;
pub mod tools;

pub use ringtap_core as core;
pub use ringtap_linux as linux;

/// Whether a test that cannot get a namespace must fail (set by
/// `cargo xtask test`) instead of being skipped with a printed reason.
pub fn netns_required() -> bool {
    std::env::var_os("RINGTAP_REQUIRE_NETNS").is_some_and(|v| v == "1")
}

/// Run `body` on a thread inside a fresh network namespace.
///
/// Returns `None` (after printing why) when the namespace cannot be made and
/// `RINGTAP_REQUIRE_NETNS` is not `1`; panics in that case when it is.
pub fn in_netns<T: Send>(test: &str, body: impl FnOnce() -> T + Send) -> Option<T> {
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: CLONE_NEWNET only changes this thread's network
            // namespace; it shares no file table or fs state that other
            // threads could see change under them.
            #[allow(unsafe_code)]
            let r = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) };
            match r {
                Ok(()) => {
                    quiet_ipv6();
                    Ok(body())
                }
                Err(e) => Err(e),
            }
        })
        .join()
    });
    match outcome {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            let why = format!(
                "{test}: cannot create a network namespace ({e}); needs root or CAP_NET_ADMIN"
            );
            assert!(!netns_required(), "{why} (RINGTAP_REQUIRE_NETNS=1)");
            println!("SKIPPED {why}");
            None
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A tmpfs of a fixed size, mounted in a mount namespace of the calling
/// thread's own (the processes it starts see it; nothing else does), so a
/// test can fill a filesystem. Unmounted when dropped; the namespace goes
/// with the thread.
#[derive(Debug)]
pub struct SmallFs {
    dir: std::path::PathBuf,
}

impl SmallFs {
    /// Mount `bytes` of tmpfs at `dir` (an existing, empty directory).
    pub fn mount(dir: &std::path::Path, bytes: u64) -> SmallFs {
        // SAFETY: CLONE_NEWNS (with the CLONE_FS it implies) only gives this
        // thread its own mount namespace and filesystem attributes (root,
        // cwd, umask); other threads keep theirs and share no state that
        // could change under them.
        #[allow(unsafe_code)]
        unsafe {
            rustix::thread::unshare_unsafe(
                rustix::thread::UnshareFlags::NEWNS | rustix::thread::UnshareFlags::FS,
            )
        }
        .expect("unshare(CLONE_NEWNS): needs root or CAP_SYS_ADMIN");
        let run = |args: &[&str]| {
            let out = Command::new("mount")
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run mount: {e} (install mount)"));
            assert!(
                out.status.success(),
                "mount {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // Mounts made here must not reach the host's namespace.
        run(&["--make-rprivate", "/"]);
        let size = format!("size={bytes}");
        let path = dir.to_str().expect("UTF-8 path");
        run(&["-t", "tmpfs", "-o", &size, "tmpfs", path]);
        SmallFs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// IPv6 autoconfiguration would send router solicitations and MLD reports
/// on every new link and pollute the frame streams the tests compare.
fn quiet_ipv6() {
    for f in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/disable_ipv6"), "1");
    }
}

/// Run `ip ARGS` in the calling thread's namespace; panic with its output
/// if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e} (install iproute2)"));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An interface's packet counters, as the kernel keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames it transmitted.
    pub tx_packets: u64,
    /// Frames it dropped on transmit.
    pub tx_dropped: u64,
    /// Frames it received.
    pub rx_packets: u64,
}

/// `ip -j -s link show dev DEV` in the calling thread's namespace.
pub fn link_stats(dev: &str) -> LinkStats {
    let out = Command::new("ip")
        .args(["-j", "-s", "link", "show", "dev", dev])
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e} (install iproute2)"));
    assert!(out.status.success(), "ip -s link show {dev} failed");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
    let stats = &json[0]["stats64"];
    let n = |dir: &str, key: &str| {
        stats[dir][key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {dir}.{key} in {stats}"))
    };
    LinkStats {
        tx_packets: n("tx", "packets"),
        tx_dropped: n("tx", "dropped"),
        rx_packets: n("rx", "packets"),
    }
}

/// Create a veth pair `a` <-> `b` with the given MTU, both up, no IPv6.
pub fn veth_pair(a: &str, b: &str, mtu: u32) {
    veth_pair_mtus(a, mtu, b, mtu);
}

/// A veth pair whose ends have different MTUs (a veth drops a frame longer
/// than its peer's MTU).
pub fn veth_pair_mtus(a: &str, a_mtu: u32, b: &str, b_mtu: u32) {
    let (a_mtu, b_mtu) = (a_mtu.to_string(), b_mtu.to_string());
    ip(&[
        "link", "add", "name", a, "mtu", &a_mtu, "type", "veth", "peer", "name", b, "mtu", &b_mtu,
    ]);
    for dev in [a, b] {
        ip(&["link", "set", "dev", dev, "up"]);
    }
    wait_until(Duration::from_secs(5), || {
        [a, b]
            .iter()
            .all(|d| linux::netdev::link_flags(d).is_ok_and(|f| f.running))
    });
}

/// Poll `cond` every millisecond until it holds or `limit` passes; returns
/// whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// A test frame: broadcast destination, locally administered source, the
/// given EtherType, and a payload whose bytes encode `seq` so order and
/// content can be checked. `len` is the whole frame length (>= 60).
pub fn frame(seq: u32, len: usize, ethertype: u16) -> Vec<u8> {
    let len = len.max(60);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761);
    while f.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

/// An EtherType from the IEEE local experimental range, which no stack in
/// the namespace answers.
pub const TEST_ETHERTYPE: u16 = 0x88b5;

/// `req` judged for the running kernel (its page size and word size).
pub fn layout(req: core::geometry::RingRequest) -> core::geometry::Layout {
    let sys = linux::System::probe();
    req.validate(sys.page, sys.word).expect("ring geometry")
}

/// An RX ring socket bound to `ifindex` for every protocol, through
/// `filter` (run by the kernel) if given.
pub fn open_rx_ring(
    req: core::geometry::RingRequest,
    ifindex: u32,
    filter: Option<&[core::bpf::Instruction]>,
) -> (linux::PacketSocket, linux::MappedRing) {
    let mut builder = linux::RingSocketBuilder::rx(layout(req));
    if let Some(program) = filter {
        builder = builder.filter(program);
    }
    builder
        .open(ifindex, linux::ETH_P_ALL)
        .expect("RX ring socket")
}

/// A TX-only ring socket (protocol 0: it receives nothing) bound to
/// `ifindex`, with a forced send buffer so `send` does not fail with EAGAIN
/// inside a namespace.
pub fn open_tx_ring(
    req: core::geometry::RingRequest,
    ifindex: u32,
) -> (linux::PacketSocket, linux::MappedRing) {
    linux::RingSocketBuilder::tx(layout(req))
        .buffers(linux::Buffers::Forced(4 << 20))
        .open(ifindex, 0)
        .expect("TX ring socket")
}

/// The release `ringtap` binary: `$RINGTAP_BIN` (set by `cargo xtask test`,
/// which builds it first), or built here on first use into a target
/// directory of its own (so the outer cargo's lock is not in the way).
pub fn ringtap_bin() -> std::path::PathBuf {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("RINGTAP_BIN") {
            return p.into();
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let target = root.join("target").join("tests-bin");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "ringtap",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --release -p ringtap failed");
        target.join("release").join("ringtap")
    })
    .clone()
}

/// A running `ringtap bridge`, started in the calling thread's namespace.
#[derive(Debug)]
pub struct Bridge {
    child: std::process::Child,
    /// Its `--stats-file`.
    pub stats: std::path::PathBuf,
    dir: std::path::PathBuf,
}

/// What a stopped bridge left behind.
#[derive(Debug)]
pub struct Stopped {
    /// Exit status.
    pub status: std::process::ExitStatus,
    /// Time from SIGTERM to exit.
    pub took: Duration,
    /// The final stats file.
    pub stats: serde_json::Value,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ringtap-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

impl Bridge {
    /// Start `ringtap bridge ARGS --stats-file ... --stats-interval 0.1` and
    /// wait until its workers run (the first stats file appears).
    pub fn start(args: &[&str]) -> Bridge {
        Bridge::start_in(scratch_dir("bridge"), args, &[])
    }

    /// [`Bridge::start`] with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Bridge {
        Bridge::start_in(scratch_dir("bridge"), args, env)
    }

    /// [`Bridge::start`] with a stats directory any user may write (for
    /// `--user`).
    pub fn start_shared(args: &[&str]) -> Bridge {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch_dir("bridge");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))
            .expect("chmod scratch dir");
        Bridge::start_in(dir, args, &[])
    }

    fn start_in(dir: std::path::PathBuf, args: &[&str], env: &[(&str, &str)]) -> Bridge {
        let stats = dir.join("stats.json");
        let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
        let child = Command::new(ringtap_bin())
            .arg("bridge")
            .args(args)
            .arg("--stats-file")
            .arg(&stats)
            .args(["--stats-interval", "0.1"])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ringtap");
        let mut b = Bridge { child, stats, dir };
        let up = wait_until(Duration::from_secs(10), || {
            b.stats.exists() || b.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            up && b.stats.exists(),
            "ringtap bridge {} did not start: {}",
            args.join(" "),
            b.stderr()
        );
        b
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// The stats file as last written.
    pub fn stats(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.stats).expect("stats file");
        serde_json::from_str(&text).expect("stats JSON")
    }

    /// SIGKILL, as a crash would end it; waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (at most 5 s, then SIGKILL and panic).
    pub fn stop(mut self) -> Stopped {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        let start = Instant::now();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let mut status = None;
        while start.elapsed() < Duration::from_secs(5) {
            if let Some(s) = self.child.try_wait().expect("wait") {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = start.elapsed();
        let Some(status) = status else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "ringtap did not stop within 5 s of SIGTERM: {}",
                self.stderr()
            );
        };
        let stats = self.stats();
        let stderr = self.stderr();
        Stopped {
            status,
            took,
            stats,
            stderr,
        }
    }
}

/// A test that fails before `stop` must not leave the bridge running.
impl Drop for Bridge {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Check the accounting invariant of every direction in a final stats
/// file: `kernel_packets = tx_packets + filtered + dropped + kernel_drops`.
pub fn assert_accounted(stats: &serde_json::Value) {
    assert_eq!(stats["final"], true, "not a final stats file: {stats}");
    for d in stats["directions"].as_array().expect("directions") {
        let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("{k} missing: {d}"));
        let dropped: u64 = d["dropped"]
            .as_object()
            .expect("dropped")
            .values()
            .map(|v| v.as_u64().expect("count"))
            .sum();
        assert_eq!(
            n("kernel_packets"),
            n("tx_packets") + n("filtered") + dropped + n("kernel_drops"),
            "accounting does not add up: {d}"
        );
        assert_eq!(
            n("rx_packets"),
            n("tx_packets") + n("filtered") + dropped,
            "frames taken from the ring are not all accounted for: {d}"
        );
    }
}

/// Run `body` on a thread with a network namespace of its own (inside the
/// caller's user namespace), after telling the caller its thread id through
/// `tid` so interfaces can be moved in (`ip link set DEV netns TID`).
/// `go` is awaited before `body` runs, so the caller can set things up.
pub fn spawn_in_own_netns<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> (i32, std::sync::mpsc::Sender<()>, std::thread::JoinHandle<T>) {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        // SAFETY: CLONE_NEWNET only changes this thread's network namespace.
        #[allow(unsafe_code)]
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
            .expect("unshare(CLONE_NEWNET)");
        quiet_ipv6();
        tid_tx
            .send(rustix::thread::gettid().as_raw_nonzero().get())
            .expect("send tid");
        go_rx.recv().expect("go");
        body()
    });
    let tid = tid_rx.recv().expect("namespace thread started");
    (tid, go_tx, handle)
}

/// Receives every frame arriving on an interface (not the ones it sends:
/// `PACKET_OUTGOING` is skipped), with VLAN tags the kernel stripped put
/// back, so frames compare byte for byte with what was sent.
#[derive(Debug)]
pub struct Receiver {
    sock: linux::PacketSocket,
    ring: linux::MappedRing,
    /// Frames received so far.
    pub frames: Vec<Vec<u8>>,
}

/// `PACKET_OUTGOING` in `sll_pkttype`.
const PACKET_OUTGOING: u8 = 4;

impl Receiver {
    /// A 32 MiB V3 ring on `ifname` of 128 blocks (a block retires every
    /// 2 ms, so paced traffic fills one block per burst), without the
    /// frames the interface sends.
    pub fn open(ifname: &str) -> Receiver {
        use core::geometry::{RingKind, RingRequest, TpacketVersion};
        let ifindex = linux::netdev::ifindex(ifname).expect("ifindex");
        let mut req = RingRequest::tiled(TpacketVersion::V3, RingKind::Rx, 256 << 10, 128, 2048);
        req.retire_blk_tov = 2;
        let (sock, ring) = linux::RingSocketBuilder::rx(layout(req))
            .ignore_outgoing(true)
            .open(ifindex, linux::ETH_P_ALL)
            .expect("RX ring socket");
        Receiver {
            sock,
            ring,
            frames: Vec::new(),
        }
    }

    /// Take what the ring holds now.
    pub fn poll(&mut self) {
        let blocks = self.ring.rx_blocks().expect("V3 ring");
        while let Some(block) = blocks.next_block() {
            for p in block.packets().expect("block header") {
                let p = p.expect("packet inside block");
                let info = linux::FrameInfo::from_v3(&p);
                if info.addr.pkttype == PACKET_OUTGOING {
                    continue;
                }
                assert_eq!(info.snaplen, info.len, "the test ring truncated a frame");
                let tag = core::vlan::Tag::from_ring(info.vlan_tci, info.vlan_tpid);
                let mut buf = vec![0u8; p.data.len() + core::vlan::TAG_LEN];
                let n = core::vlan::copy_restoring(p.data, tag, &mut buf).expect("restore tag");
                buf.truncate(n);
                self.frames.push(buf);
            }
        }
    }

    /// Receive until `want` frames are in, or `limit` passes.
    pub fn collect(&mut self, want: usize, limit: Duration) -> &[Vec<u8>] {
        let start = Instant::now();
        loop {
            self.poll();
            if self.frames.len() >= want || start.elapsed() >= limit {
                return &self.frames;
            }
            let _ = self.sock.poll(true, false, 10);
        }
    }

    /// Wait `quiet` and take whatever came meanwhile (to prove nothing
    /// more arrives).
    pub fn settle(&mut self, quiet: Duration) -> &[Vec<u8>] {
        std::thread::sleep(quiet);
        self.poll();
        &self.frames
    }
}

/// Sends frames out of an interface through a TX ring sized for jumbo
/// frames.
#[derive(Debug)]
pub struct Sender {
    sock: linux::PacketSocket,
    ring: linux::MappedRing,
}

impl Sender {
    /// A 4 MiB V2 TX ring of 16 KiB frames on `ifname`.
    pub fn open(ifname: &str) -> Sender {
        use core::geometry::{RingKind, RingRequest, TpacketVersion};
        let ifindex = linux::netdev::ifindex(ifname).expect("ifindex");
        let req = RingRequest::tiled(TpacketVersion::V2, RingKind::Tx, 1 << 16, 64, 1 << 14);
        let (sock, ring) = open_tx_ring(req, ifindex);
        Sender { sock, ring }
    }

    /// Queue one frame, waiting for room (at most 5 s).
    pub fn queue(&mut self, frame: &[u8]) {
        let start = Instant::now();
        loop {
            match self.ring.tx().expect("TX ring").send(frame) {
                Ok(_) => return,
                Err(linux::TxError::Full) => {
                    assert!(start.elapsed() < Duration::from_secs(5), "TX ring stuck");
                    let _ = self.sock.kick();
                    let _ = self.sock.poll(false, true, 10);
                }
                Err(e) => panic!("cannot queue a {}-byte frame: {e}", frame.len()),
            }
        }
    }

    /// Send everything queued and wait until the kernel is done with it.
    pub fn flush(&mut self) {
        let start = Instant::now();
        loop {
            let _ = self.sock.kick();
            if self.ring.tx().expect("TX ring").is_idle() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "TX ring never drained"
            );
            let _ = self.sock.poll(false, true, 10);
        }
    }

    /// Send `frames` in order, `burst` at a time with `gap` between bursts.
    pub fn send_paced(&mut self, frames: &[Vec<u8>], burst: usize, gap: Duration) {
        for chunk in frames.chunks(burst.max(1)) {
            for f in chunk {
                self.queue(f);
            }
            let _ = self.sock.kick();
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
        }
        self.flush();
    }
}
