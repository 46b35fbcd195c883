//! Helpers for ringtap's integration tests against the running kernel.
//!
//! Each test runs its body in a thread that has its own, private network
//! namespace (`unshare(CLONE_NEWNET)` on that thread only). Commands the
//! thread starts (`ip`) inherit the namespace, so veth pairs are created
//! inside it, and everything disappears when the thread ends: no names to
//! collide, nothing to clean up after a failure, and no traffic can leave.

use std::process::Command;
use std::time::{Duration, Instant};

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

/// Create a veth pair `a` <-> `b` with the given MTU, both up, no IPv6.
pub fn veth_pair(a: &str, b: &str, mtu: u32) {
    let mtu = mtu.to_string();
    ip(&[
        "link", "add", "name", a, "mtu", &mtu, "type", "veth", "peer", "name", b, "mtu", &mtu,
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

/// An RX ring socket in the order the kernel needs: version, ring, map,
/// optional filter, then bind to `ifindex` for every protocol.
pub fn open_rx_ring(
    req: core::geometry::RingRequest,
    ifindex: u32,
    filter: Option<&[core::bpf::Instruction]>,
) -> (linux::PacketSocket, linux::MappedRing) {
    let mut s =
        linux::PacketSocket::open(linux::SocketType::Raw, Some(linux::ETH_P_ALL)).expect("socket");
    s.set_version(req.version).expect("PACKET_VERSION");
    let layout = req
        .validate(linux::page_size(), s.kernel_word())
        .expect("geometry");
    s.set_rx_ring(&req).expect("PACKET_RX_RING");
    let ring = s.map(Some(layout), None).expect("mmap");
    if let Some(program) = filter {
        s.attach_filter(program).expect("SO_ATTACH_FILTER");
    }
    s.bind(ifindex, linux::ETH_P_ALL).expect("bind");
    (s, ring)
}

/// A TX-only ring socket (protocol 0: it receives nothing) bound to
/// `ifindex`, with a forced send buffer so `send` does not fail with EAGAIN
/// inside a namespace.
pub fn open_tx_ring(
    req: core::geometry::RingRequest,
    ifindex: u32,
) -> (linux::PacketSocket, linux::MappedRing) {
    let mut s = linux::PacketSocket::open(linux::SocketType::Raw, None).expect("socket");
    s.set_version(req.version).expect("PACKET_VERSION");
    s.force_buffers(4 << 20).expect("SO_SNDBUFFORCE");
    let layout = req
        .validate(linux::page_size(), s.kernel_word())
        .expect("geometry");
    s.set_tx_ring(&req).expect("PACKET_TX_RING");
    let ring = s.map(None, Some(layout)).expect("mmap");
    s.bind(ifindex, 0).expect("bind");
    (s, ring)
}
