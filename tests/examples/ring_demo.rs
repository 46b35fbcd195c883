//! Frames through PACKET_MMAP rings, slot by slot.
//!
//! In a private network namespace: a veth pair `demo-tx` <-> `demo-rx`, a
//! `TPACKET_V2` TX ring on `demo-tx` and a `TPACKET_V3` RX ring on
//! `demo-rx`. A handful of frames of different sizes and destinations (one
//! of them 802.1Q-tagged, VID 42) are written into TX frames and sent with
//! one `send()`; the demo then prints where each one landed in the RX
//! ring's blocks and what the kernel wrote in its header, and the socket's
//! `PACKET_STATISTICS`.
//!
//! Exits 0 only if every frame arrived once, in order and byte-identical
//! (a VLAN tag the kernel moved into `tp_vlan_tci` is put back from the
//! ring header before comparing, as the bridge does); otherwise it says
//! what differed and exits 1. Needs root (or a user namespace that maps
//! root): run it with `cargo xtask demo`.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use ringtap_core::frame::Timestamp;
use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_core::status::RxStatus;
use ringtap_linux::{
    kernel_word, netdev, page_size, Buffers, FrameInfo, MappedRing, PacketSocket,
    RingSocketBuilder, TxError, ETH_P_ALL,
};
use ringtap_tests::{frame, in_netns, wait_until, TEST_ETHERTYPE};

const TX_DEV: &str = "demo-tx";
const RX_DEV: &str = "demo-rx";
const TX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const RX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// 802.1Q: TPID and the VLAN the tagged frame is sent on.
const TPID_8021Q: u16 = 0x8100;
const DEMO_VID: u16 = 42;

/// RX: 4 blocks of 64 KiB (whole ring 256 KiB), blocks retired after 20 ms
/// so a few frames do not wait for a full block.
const RX_BLOCK_SIZE: u32 = 1 << 16;
const RX_BLOCK_NR: u32 = 4;
const RX_RETIRE_MS: u32 = 20;
/// TX: 16 frames of 2 KiB in 2 blocks of 16 KiB.
const TX_BLOCK_SIZE: u32 = 1 << 14;
const TX_BLOCK_NR: u32 = 2;
const FRAME_SIZE: u32 = 2048;

/// Where a frame goes: the destination MAC decides `sll_pkttype` on the
/// receiving side.
#[derive(Debug, Clone, Copy)]
enum Dest {
    Broadcast,
    /// The RX interface's own address.
    Host,
    Multicast,
    /// Somebody else's unicast address.
    OtherHost,
}

impl Dest {
    fn mac(self) -> [u8; 6] {
        match self {
            Dest::Broadcast => [0xff; 6],
            Dest::Host => RX_MAC,
            Dest::Multicast => [0x01, 0x00, 0x5e, 0x7f, 0x00, 0x01],
            Dest::OtherHost => [0x02, 0x00, 0x00, 0x00, 0x00, 0x99],
        }
    }
}

/// One frame to send: its length on the wire, destination, and whether it
/// carries an 802.1Q tag.
#[derive(Debug, Clone, Copy)]
struct Plan {
    len: usize,
    dest: Dest,
    tagged: bool,
}

const PLANS: [Plan; 8] = [
    untagged(60, Dest::Broadcast),
    untagged(61, Dest::Host),
    untagged(128, Dest::Multicast),
    untagged(500, Dest::OtherHost),
    tagged(118, Dest::Broadcast),
    untagged(1000, Dest::Host),
    untagged(1514, Dest::Broadcast),
    untagged(64, Dest::Broadcast),
];

const fn untagged(len: usize, dest: Dest) -> Plan {
    Plan {
        len,
        dest,
        tagged: false,
    }
}

/// `len` includes the 4-byte tag.
const fn tagged(len: usize, dest: Dest) -> Plan {
    Plan {
        len,
        dest,
        tagged: true,
    }
}

/// The bytes of frame `seq`: the test frame of `ringtap_tests::frame` (its
/// payload encodes `seq`), readdressed, and for a tagged plan with the tag
/// inserted after the MAC addresses.
fn build(seq: u32, plan: Plan) -> Vec<u8> {
    let untagged_len = if plan.tagged { plan.len - 4 } else { plan.len };
    let mut f = frame(seq, untagged_len, TEST_ETHERTYPE);
    f[0..6].copy_from_slice(&plan.dest.mac());
    f[6..12].copy_from_slice(&TX_MAC);
    if plan.tagged {
        let mut tag = [0u8; 4];
        tag[..2].copy_from_slice(&TPID_8021Q.to_be_bytes());
        tag[2..].copy_from_slice(&DEMO_VID.to_be_bytes());
        f.splice(12..12, tag);
    }
    f
}

/// A frame as the RX ring handed it over.
#[derive(Debug)]
struct Arrival {
    /// Position of the block in the RX ring.
    block: u32,
    /// Offset of the packet header from the block start.
    offset: u64,
    info: FrameInfo,
    data: Vec<u8>,
}

impl Arrival {
    /// The frame as it was on the wire: if the kernel stripped a VLAN tag
    /// into the header, put it back where it was (after the MAC addresses).
    fn as_sent(&self) -> (Vec<u8>, bool) {
        match self.info.vlan_tci {
            Some(tci) if self.data.len() >= 12 => {
                let tpid = self.info.vlan_tpid.unwrap_or(TPID_8021Q);
                let mut f = self.data.clone();
                let mut tag = [0u8; 4];
                tag[..2].copy_from_slice(&tpid.to_be_bytes());
                tag[2..].copy_from_slice(&tci.to_be_bytes());
                f.splice(12..12, tag);
                (f, true)
            }
            _ => (self.data.clone(), false),
        }
    }

    /// Ours: the test EtherType, directly or behind an 802.1Q tag (in the
    /// data, or stripped into the header).
    fn is_ours(&self) -> bool {
        let (f, _) = self.as_sent();
        let ethertype = |at: usize| f.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        ethertype(12) == Some(TEST_ETHERTYPE)
            || (ethertype(12) == Some(TPID_8021Q) && ethertype(16) == Some(TEST_ETHERTYPE))
    }
}

/// A retired RX block, for the summary under the table.
#[derive(Debug)]
struct BlockSeen {
    index: u32,
    seq_num: u64,
    num_pkts: u32,
    blk_len: u32,
    status: RxStatus,
}

/// What happened in the namespace (errors travel separately, as `Err`).
#[derive(Debug)]
struct Outcome {
    sent: Vec<(u32, Vec<u8>)>,
    arrivals: Vec<Arrival>,
    others: usize,
    blocks: Vec<BlockSeen>,
    stats: ringtap_linux::Stats,
    tx_idle: bool,
}

fn main() -> ExitCode {
    println!(
        "ring_demo: {} frames, TPACKET_V2 TX ring -> veth -> TPACKET_V3 RX ring",
        PLANS.len()
    );
    match in_netns("ring_demo", run) {
        None => {
            eprintln!(
                "ring_demo: could not create a private network namespace, so nothing was sent.\n\
                 Run it as root, or as `unshare --user --map-root-user ring_demo` where \
                 unprivileged user namespaces are allowed (`cargo xtask demo` does this)."
            );
            ExitCode::FAILURE
        }
        Some(Err(why)) => {
            eprintln!("ring_demo: {why}");
            ExitCode::FAILURE
        }
        Some(Ok(outcome)) => {
            if report(&outcome) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Run `ip ARGS` in this thread's namespace.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` ({e}); install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn veth_pair() -> Result<(u32, u32), String> {
    let (tx_mac, rx_mac) = (mac_str(&TX_MAC), mac_str(&RX_MAC));
    ip(&[
        "link", "add", "name", TX_DEV, "address", &tx_mac, "mtu", "1500", "type", "veth", "peer",
        "name", RX_DEV, "address", &rx_mac, "mtu", "1500",
    ])?;
    for dev in [TX_DEV, RX_DEV] {
        ip(&["link", "set", "dev", dev, "up"])?;
    }
    let running = wait_until(Duration::from_secs(5), || {
        [TX_DEV, RX_DEV]
            .iter()
            .all(|d| netdev::link_flags(d).is_ok_and(|f| f.running))
    });
    if !running {
        return Err(format!("{TX_DEV}/{RX_DEV} did not come up within 5 s"));
    }
    let index = |d: &str| netdev::ifindex(d).map_err(|e| format!("ifindex of {d}: {e}"));
    Ok((index(TX_DEV)?, index(RX_DEV)?))
}

fn rx_socket(ifindex: u32) -> Result<(PacketSocket, MappedRing), String> {
    let mut req = RingRequest::tiled(
        TpacketVersion::V3,
        RingKind::Rx,
        RX_BLOCK_SIZE,
        RX_BLOCK_NR,
        FRAME_SIZE,
    );
    req.retire_blk_tov = RX_RETIRE_MS;
    let layout = req
        .validate(page_size(), kernel_word().word)
        .map_err(|e| format!("RX ring geometry: {e}"))?;
    RingSocketBuilder::rx(layout)
        .open(ifindex, ETH_P_ALL)
        .map_err(|e| format!("RX socket: {e}"))
}

fn tx_socket(ifindex: u32) -> Result<(PacketSocket, MappedRing), String> {
    let req = RingRequest::tiled(
        TpacketVersion::V2,
        RingKind::Tx,
        TX_BLOCK_SIZE,
        TX_BLOCK_NR,
        FRAME_SIZE,
    );
    let layout = req
        .validate(page_size(), kernel_word().word)
        .map_err(|e| format!("TX ring geometry: {e}"))?;
    // Larger socket buffers need CAP_NET_ADMIN in the initial user
    // namespace, which `unshare --user` does not give; a send buffer within
    // the sysctl limit easily holds a handful of frames.
    RingSocketBuilder::tx(layout)
        .buffers(Buffers::ForcedOrLimited(1 << 20))
        .open(ifindex, 0)
        .map_err(|e| format!("TX socket: {e}"))
}

/// Take every retired block from the RX ring, keep its packets, and hand
/// the block back (dropping `block` does that).
fn drain(ring: &mut MappedRing, out: &mut Outcome) -> Result<(), String> {
    let rx = ring.rx_blocks().ok_or("the RX mapping has no V3 ring")?;
    while let Some(block) = rx.next_block() {
        let d = block.descriptor();
        out.blocks.push(BlockSeen {
            index: block.index(),
            seq_num: d.seq_num(),
            num_pkts: d.num_pkts(),
            blk_len: d.blk_len(),
            status: block.status(),
        });
        let packets = block
            .packets()
            .map_err(|e| format!("RX block {}: {e}", block.index()))?;
        for p in packets {
            let p = p.map_err(|e| format!("RX block {}: {e}", block.index()))?;
            let a = Arrival {
                block: block.index(),
                offset: p.offset,
                info: FrameInfo::from_v3(&p),
                data: p.data.to_vec(),
            };
            if a.is_ours() {
                out.arrivals.push(a);
            } else {
                out.others += 1;
            }
        }
    }
    Ok(())
}

fn run() -> Result<Outcome, String> {
    let (tx_index, rx_index) = veth_pair()?;
    let (rx_sock, mut rx_ring) = rx_socket(rx_index)?;
    let (tx_sock, mut tx_ring) = tx_socket(tx_index)?;
    println!(
        "  TX {TX_DEV} (ifindex {tx_index}, {}): TPACKET_V2, {} frames of {FRAME_SIZE} B",
        mac_str(&TX_MAC),
        TX_BLOCK_NR * (TX_BLOCK_SIZE / FRAME_SIZE),
    );
    println!(
        "  RX {RX_DEV} (ifindex {rx_index}, {}): TPACKET_V3, {RX_BLOCK_NR} blocks of {} KiB, \
         retired after {RX_RETIRE_MS} ms",
        mac_str(&RX_MAC),
        RX_BLOCK_SIZE / 1024,
    );

    let mut out = Outcome {
        sent: Vec::new(),
        arrivals: Vec::new(),
        others: 0,
        blocks: Vec::new(),
        stats: ringtap_linux::Stats::default(),
        tx_idle: false,
    };
    let tx = tx_ring.tx().ok_or("the TX mapping has no ring")?;
    for (seq, plan) in PLANS.iter().enumerate() {
        let bytes = build(seq as u32, *plan);
        let index = tx
            .send(&bytes)
            .map_err(|e: TxError| format!("queueing frame {seq} ({} bytes): {e}", bytes.len()))?;
        out.sent.push((index, bytes));
    }
    // One system call sends every queued frame.
    tx_sock
        .kick()
        .map_err(|e| format!("TX socket, kick: {e}"))?;
    out.tx_idle = wait_until(Duration::from_secs(2), || tx.is_idle());
    if let Some(refused) = tx.refused() {
        return Err(format!(
            "the kernel refused TX frame {refused} (TP_STATUS_WRONG_FORMAT) and stopped the ring"
        ));
    }

    // Blocks come back when the retire timer fires; allow a few periods.
    let deadline = Instant::now() + Duration::from_secs(2);
    while out.arrivals.len() < PLANS.len() && Instant::now() < deadline {
        drain(&mut rx_ring, &mut out)?;
        rx_sock
            .poll(true, false, RX_RETIRE_MS * 2)
            .map_err(|e| format!("RX socket, poll: {e}"))?;
    }
    // A last look, so a late extra frame shows up too.
    std::thread::sleep(Duration::from_millis(u64::from(RX_RETIRE_MS) * 3));
    drain(&mut rx_ring, &mut out)?;
    out.stats = rx_sock
        .statistics()
        .map_err(|e| format!("RX socket, statistics: {e}"))?;
    Ok(out)
}

fn pkttype_name(t: u8) -> String {
    match t {
        0 => "HOST".into(),
        1 => "BROADCAST".into(),
        2 => "MULTICAST".into(),
        3 => "OTHERHOST".into(),
        4 => "OUTGOING".into(),
        n => format!("type {n}"),
    }
}

fn status_names(s: RxStatus) -> String {
    let names = [
        (RxStatus::USER, "USER"),
        (RxStatus::COPY, "COPY"),
        (RxStatus::LOSING, "LOSING"),
        (RxStatus::CSUMNOTREADY, "CSUMNOTREADY"),
        (RxStatus::VLAN_VALID, "VLAN_VALID"),
        (RxStatus::BLK_TMO, "BLK_TMO"),
        (RxStatus::VLAN_TPID_VALID, "VLAN_TPID_VALID"),
        (RxStatus::CSUM_VALID, "CSUM_VALID"),
        (RxStatus::TS_SOFTWARE, "TS_SOFTWARE"),
        (RxStatus::TS_SYS_HARDWARE, "TS_SYS_HARDWARE"),
        (RxStatus::TS_RAW_HARDWARE, "TS_RAW_HARDWARE"),
    ];
    let set: Vec<_> = names
        .iter()
        .filter(|(f, _)| f.bits() != 0 && s.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        format!("{:#x}", s.bits())
    } else {
        set.join("|")
    }
}

fn timestamp(t: Timestamp) -> String {
    format!("{}.{:09}", t.sec, t.nsec)
}

/// What the ring says about VLANs for this packet.
fn vlan_column(a: &Arrival) -> String {
    match a.info.vlan_tci {
        Some(tci) => {
            let tpid = a
                .info
                .vlan_tpid
                .map_or("tpid ?".to_string(), |t| format!("tpid {t:#06x}"));
            format!("vid {} pcp {}, {tpid}, stripped", tci & 0x0fff, tci >> 13)
        }
        None if a.data.get(12..14) == Some(&TPID_8021Q.to_be_bytes()[..]) => {
            let tci = a
                .data
                .get(14..16)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
            format!("in data: vid {} (no VLAN_VALID)", tci & 0x0fff)
        }
        None => "-".into(),
    }
}

/// Print the table and the verdict; true when every frame crossed intact
/// and in order.
fn report(o: &Outcome) -> bool {
    println!();
    println!(
        "{:>2} {:>4} {:>5} | {:>5} {:>6} {:>6} {:>7} {:>6}  {:<20}  {:<9}  {:<35}  match",
        "#",
        "tx#",
        "bytes",
        "block",
        "offset",
        "tp_len",
        "snaplen",
        "tp_mac",
        "timestamp (s.ns)",
        "pkttype",
        "VLAN (ring header)",
    );
    let mut problems = Vec::new();
    let mut tags_put_back = 0;
    for (i, (tx_index, sent)) in o.sent.iter().enumerate() {
        let Some(a) = o.arrivals.get(i) else {
            println!("{i:>2} {tx_index:>4} {:>5} | (not received)", sent.len());
            problems.push(format!("frame {i} ({} bytes) never arrived", sent.len()));
            continue;
        };
        let (as_sent, reinserted) = a.as_sent();
        let verdict = if &as_sent == sent && reinserted {
            tags_put_back += 1;
            "yes, tag put back".to_string()
        } else if &as_sent == sent {
            "yes".to_string()
        } else {
            problems.push(describe_difference(i, sent, &as_sent, &o.sent));
            "NO".to_string()
        };
        println!(
            "{i:>2} {tx_index:>4} {:>5} | {:>5} {:>6} {:>6} {:>7} {:>6}  {:<20}  {:<9}  {:<35}  {verdict}",
            sent.len(),
            a.block,
            a.offset,
            a.info.len,
            a.info.snaplen,
            a.info.mac,
            timestamp(a.info.timestamp),
            pkttype_name(a.info.addr.pkttype),
            vlan_column(a),
        );
    }
    for (k, a) in o.arrivals.iter().enumerate().skip(o.sent.len()) {
        problems.push(format!(
            "an extra copy arrived (#{k}, {} bytes in block {} at offset {})",
            a.data.len(),
            a.block,
            a.offset
        ));
    }

    println!();
    for b in &o.blocks {
        println!(
            "RX block {} (seq_num {}): {} packets, blk_len {} of {} bytes, block_status {}",
            b.index,
            b.seq_num,
            b.num_pkts,
            b.blk_len,
            RX_BLOCK_SIZE,
            status_names(b.status),
        );
    }
    if o.others > 0 {
        println!(
            "other frames seen on {RX_DEV} and not compared: {}",
            o.others
        );
    }
    let freeze = o
        .stats
        .freeze_q_cnt
        .map_or("n/a".to_string(), |n| n.to_string());
    println!(
        "PACKET_STATISTICS on {RX_DEV}: tp_packets {}, tp_drops {}, tp_freeze_q_cnt {freeze}",
        o.stats.packets, o.stats.drops
    );
    if !o.tx_idle {
        problems.push("TX frames were not all handed back by the kernel within 2 s".into());
    }

    println!();
    if problems.is_empty() {
        let note = match tags_put_back {
            0 => String::new(),
            n => {
                format!(" ({n} after putting back the VLAN tag the kernel moved into tp_vlan_tci)")
            }
        };
        println!(
            "OK: all {} frames arrived once, in order, byte-identical{note}.",
            o.sent.len()
        );
        true
    } else {
        for p in &problems {
            println!("FAILED: {p}");
        }
        false
    }
}

fn describe_difference(i: usize, sent: &[u8], got: &[u8], all: &[(u32, Vec<u8>)]) -> String {
    if let Some(j) = all.iter().position(|(_, f)| f == got) {
        return format!("frame {i}: in its place arrived frame {j} (out of order)");
    }
    match sent.iter().zip(got).position(|(a, b)| a != b) {
        Some(at) => format!(
            "frame {i}: byte {at} differs (sent {:#04x}, got {:#04x}); {} bytes sent, {} received",
            sent[at],
            got[at],
            sent.len(),
            got.len()
        ),
        None => format!(
            "frame {i}: {} bytes sent, {} received (one is a prefix of the other)",
            sent.len(),
            got.len()
        ),
    }
}
