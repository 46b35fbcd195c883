//! Frames through the simulated board: a sender on the host's `tap0` (the
//! guest's eth0) and a receiver on `tap1` (the guest's eth1), both
//! `PACKET_MMAP` rings of ringtap-linux on threads inside the namespace.
//!
//! Every frame the harness sends carries the IEEE local experimental
//! EtherType 0x88b5 (behind up to two VLAN tags), the magic `RTVM`, a kind
//! (probe, corpus, flood) and a sequence number, so the receiver can tell
//! the harness's frames from anything else and put them in order.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringtap_core::geometry::{Layout, RingKind, RingRequest, TpacketVersion};
use ringtap_linux::{
    netdev, Buffers, FrameInfo, MappedRing, PacketSocket, RingSocketBuilder, System, TxError,
    ETH_P_ALL,
};
use rustix::io::Errno;

use super::netns::Netns;
use crate::{Error, Result};

/// The host ends of the guest's NICs: frames go into `IN_TAP` (eth0) and
/// come out of `OUT_TAP` (eth1).
pub const IN_TAP: &str = "tap0";
pub const OUT_TAP: &str = "tap1";

const ETHERTYPE: u16 = 0x88b5;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;
const MAGIC: [u8; 4] = *b"RTVM";
const SRC_MAC: [u8; 6] = [0x02, 0x72, 0x74, 0x00, 0x00, 0x01];
/// Destinations a bridge floods: broadcast, IPv4 multicast, and a unicast
/// address nobody has. (Not 01:80:c2:00:00:0x, which bridges never forward.)
const DESTINATIONS: [[u8; 6]; 3] = [
    [0xff; 6],
    [0x01, 0x00, 0x5e, 0x72, 0x74, 0x01],
    [0x02, 0x72, 0x74, 0x00, 0x00, 0x99],
];
/// `sll_pkttype` of a frame this host sent (if_packet.h `PACKET_OUTGOING`).
const PACKET_OUTGOING: u8 = 4;

/// Frame lengths on the wire (without FCS) the corpus cycles through. The
/// kernel lets a packet socket send 4 bytes over the MTU only behind an
/// 802.1Q tag, so 1518 is clamped to 1514 for the other shapes.
const LENGTHS: [usize; 15] = [
    60, 61, 64, 65, 100, 128, 255, 256, 511, 512, 1000, 1400, 1500, 1514, 1518,
];
/// Length of flood frames: the smallest Ethernet frame, the hardest load.
const FLOOD_LEN: usize = 60;

/// What a frame is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sent until one comes back, to learn the forwarder is up.
    Probe = 1,
    /// The frames checked byte for byte.
    Corpus = 2,
    /// The load for the rate figure.
    Flood = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        [Kind::Probe, Kind::Corpus, Kind::Flood]
            .into_iter()
            .find(|k| *k as u8 == b)
    }
}

/// VLAN tags in front of the EtherType (TCI values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tags {
    None,
    Dot1Q(u16),
    /// 802.1ad outer tag, 802.1Q inner tag.
    QinQ(u16, u16),
}

/// A frame of `kind` with sequence number `seq`, `len` bytes long.
fn frame(kind: Kind, seq: u32, len: usize, dst: [u8; 6], tags: Tags) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&SRC_MAC);
    let mut tag = |tpid: u16, tci: u16| {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    };
    match tags {
        Tags::None => {}
        Tags::Dot1Q(tci) => tag(TPID_8021Q, tci),
        Tags::QinQ(outer, inner) => {
            tag(TPID_8021AD, outer);
            tag(TPID_8021Q, inner);
        }
    }
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&MAGIC);
    f.push(kind as u8);
    f.extend_from_slice(&seq.to_be_bytes());
    // xorshift32 from the sequence number: every frame's payload differs.
    let mut x = seq.wrapping_mul(2_654_435_761) | 1;
    while f.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

/// The corpus: `count` frames of every length in `LENGTHS`, to the three
/// destinations, half of them tagged (802.1Q with and without a VLAN ID,
/// and 802.1ad over 802.1Q).
pub fn corpus(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let seq = i as u32;
            let tags = match i % 6 {
                1 => Tags::Dot1Q((((seq % 8) << 13) | (1 + seq * 7 % 4094)) as u16),
                3 => Tags::QinQ((100 + seq % 100) as u16, (200 + seq % 50) as u16),
                // Priority-tagged: VLAN ID 0, PCP 5.
                5 => Tags::Dot1Q(5 << 13),
                _ => Tags::None,
            };
            let len = LENGTHS[i * 7 % LENGTHS.len()];
            let len = match tags {
                Tags::Dot1Q(_) => len,
                _ => len.min(1514),
            };
            frame(Kind::Corpus, seq, len, DESTINATIONS[i % 3], tags)
        })
        .collect()
}

/// Whether a frame carries a VLAN tag.
pub fn is_tagged(f: &[u8]) -> bool {
    matches!(ethertype(f, 12), Some(TPID_8021Q | TPID_8021AD))
}

fn ethertype(f: &[u8], at: usize) -> Option<u16> {
    f.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Kind and sequence number of one of our frames (tags in the data).
fn identify(f: &[u8]) -> Option<(Kind, u32)> {
    let mut at = 12;
    while matches!(ethertype(f, at)?, TPID_8021Q | TPID_8021AD) && at < 20 {
        at += 4;
    }
    if ethertype(f, at)? != ETHERTYPE || f.get(at + 2..at + 6)? != MAGIC {
        return None;
    }
    let kind = Kind::from_byte(*f.get(at + 6)?)?;
    let seq = f.get(at + 7..at + 11)?;
    Some((kind, u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]])))
}

/// The frame as it was on the wire: a VLAN tag the kernel moved into the
/// ring header goes back after the MAC addresses.
fn as_on_wire(data: &[u8], info: &FrameInfo) -> Vec<u8> {
    match info.vlan_tci {
        Some(tci) if data.len() >= 12 => {
            let tpid = info.vlan_tpid.unwrap_or(TPID_8021Q);
            let mut f = Vec::with_capacity(data.len() + 4);
            f.extend_from_slice(&data[..12]);
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
            f.extend_from_slice(&data[12..]);
            f
        }
        _ => data.to_vec(),
    }
}

/// One of our frames, seen on `OUT_TAP`.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub kind: Kind,
    pub seq: u32,
    /// The bytes (for probes and the corpus; flood frames are only counted).
    pub data: Vec<u8>,
    pub at: Instant,
}

/// How the sender offers frames.
#[derive(Debug, Clone, Copy)]
pub enum Offer<'a> {
    /// These frames, at `rate` frames per second.
    Corpus { frames: &'a [Vec<u8>], rate: u32 },
    /// Minimum-size frames at `rate` frames per second for `seconds`.
    Flood { rate: u32, seconds: f64 },
}

/// What happened during one exchange.
#[derive(Debug)]
pub struct Exchange {
    pub probes_sent: u32,
    /// Frames handed to the kernel on `IN_TAP` after the probes.
    pub sent: usize,
    pub send_time: Duration,
    /// Our frames on `OUT_TAP`, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Frames on `OUT_TAP` that are not ours (the first few).
    pub strays: Vec<Vec<u8>>,
    pub stray_count: usize,
    /// `PACKET_STATISTICS` drops of the receiving ring (the host's, not the
    /// guest's).
    pub receiver_drops: u32,
}

impl Exchange {
    /// Probes that never came out (sent before the forwarder was up).
    pub fn probes_lost(&self) -> u32 {
        let back = self
            .arrivals
            .iter()
            .filter(|a| a.kind == Kind::Probe)
            .count();
        self.probes_sent.saturating_sub(back as u32)
    }
}

/// State the sender and the receiver share.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    probe_back: AtomicBool,
    /// Our non-probe frames received.
    received: AtomicUsize,
    /// Microseconds from the exchange's start to the latest arrival.
    last_arrival_us: AtomicU64,
}

/// How long the forwarder may take to pass the first probe.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// A probe is resent when it has not come back after this long.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// After the last frame is sent: stop waiting once nothing has arrived for
/// this long, or when `DRAIN_LIMIT` has passed.
const DRAIN_QUIET: Duration = Duration::from_millis(700);
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// Send probes into `IN_TAP` until one comes out of `OUT_TAP`, then offer
/// the frames, and collect everything that comes out.
pub fn exchange(ns: &Netns, offer: Offer<'_>) -> Result<Exchange> {
    let shared = &Shared::default();
    let start = Instant::now();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let received = &Mutex::new(None);
    let sent = std::thread::scope(|s| {
        let receiver = s.spawn(move || {
            let result = ns.enter().and_then(|()| {
                let (sock, ring) = rx_socket(OUT_TAP)?;
                let _ = ready_tx.send(());
                receive(&sock, ring, shared, start)
            });
            // The sender must not wait for a receiver that failed.
            shared.stop.store(true, Ordering::SeqCst);
            *received.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        });
        let sender = s.spawn(move || {
            let result = ns.enter().and_then(|()| {
                ready_rx.recv().map_err(|_| {
                    Error::Failed(format!("the receiver on {OUT_TAP} did not start"))
                })?;
                send(offer, shared, start)
            });
            shared.stop.store(true, Ordering::SeqCst);
            result
        });
        let sent = sender.join();
        let _ = receiver.join();
        sent
    })
    .map_err(|_| Error::Failed("the sender thread panicked".to_string()))??;
    let received = received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| Error::Failed("the receiver thread panicked".to_string()))??;
    Ok(Exchange {
        probes_sent: sent.probes,
        sent: sent.frames,
        send_time: sent.time,
        arrivals: received.arrivals,
        strays: received.strays,
        stray_count: received.stray_count,
        receiver_drops: received.drops,
    })
}

fn failed(what: String) -> impl FnOnce(ringtap_linux::Error) -> Error {
    move |e| Error::Failed(format!("{what}: {e}"))
}

const FRAME_SIZE: u32 = 2048;

/// A socket on `dev` with the ring `req`, opened by `builder` and bound for
/// `protocol`.
fn ring_socket(
    dev: &str,
    req: RingRequest,
    builder: impl FnOnce(Layout) -> RingSocketBuilder<'static>,
    protocol: u16,
) -> Result<(PacketSocket, MappedRing)> {
    let ifindex = netdev::ifindex(dev).map_err(failed(format!("ifindex of {dev}")))?;
    let sys = System::probe();
    let layout = req
        .validate(sys.page, sys.word)
        .map_err(|e| Error::Failed(format!("ring on {dev}: {e}")))?;
    builder(layout)
        .open(ifindex, protocol)
        .map_err(failed(format!("ring socket on {dev}")))
}

/// A `TPACKET_V3` RX ring on `dev`: 64 blocks of 64 KiB, retired after
/// 10 ms. Under load a block is retired by the timer long before it is
/// full, so the number of blocks decides how long the receiving thread may
/// be kept off the CPU (by qemu, on a small host) without drops: 640 ms.
fn rx_socket(dev: &str) -> Result<(PacketSocket, MappedRing)> {
    let mut req = RingRequest::tiled(TpacketVersion::V3, RingKind::Rx, 1 << 16, 64, FRAME_SIZE);
    req.retire_blk_tov = 10;
    ring_socket(dev, req, RingSocketBuilder::rx, ETH_P_ALL)
}

/// A `TPACKET_V2` TX ring on `dev`: 256 frames of 2 KiB.
fn tx_socket(dev: &str) -> Result<(PacketSocket, MappedRing)> {
    let req = RingRequest::tiled(TpacketVersion::V2, RingKind::Tx, 1 << 16, 8, FRAME_SIZE);
    // The default send buffer holds fewer frames than the ring.
    let builder = |layout| RingSocketBuilder::tx(layout).buffers(Buffers::Forced(4 << 20));
    ring_socket(dev, req, builder, 0)
}

struct Received {
    arrivals: Vec<Arrival>,
    strays: Vec<Vec<u8>>,
    stray_count: usize,
    drops: u32,
}

const STRAYS_KEPT: usize = 3;

fn receive(
    sock: &PacketSocket,
    mut ring: MappedRing,
    shared: &Shared,
    start: Instant,
) -> Result<Received> {
    let mut out = Received {
        arrivals: Vec::new(),
        strays: Vec::new(),
        stray_count: 0,
        drops: 0,
    };
    let rx = ring
        .rx_blocks()
        .ok_or_else(|| Error::Failed(format!("the ring on {OUT_TAP} is not a V3 RX ring")))?;
    let mut stopping = false;
    loop {
        sock.poll(true, false, 10)
            .map_err(failed(format!("poll on {OUT_TAP}")))?;
        while let Some(block) = rx.next_block() {
            let packets = block
                .packets()
                .map_err(|e| Error::Failed(format!("RX block on {OUT_TAP}: {e}")))?;
            for packet in packets {
                let packet =
                    packet.map_err(|e| Error::Failed(format!("RX block on {OUT_TAP}: {e}")))?;
                let info = FrameInfo::from_v3(&packet);
                if info.addr.pkttype == PACKET_OUTGOING {
                    continue;
                }
                let wire = as_on_wire(packet.data, &info);
                let at = Instant::now();
                match identify(&wire) {
                    Some((kind, seq)) => {
                        if kind == Kind::Probe {
                            shared.probe_back.store(true, Ordering::SeqCst);
                        } else {
                            shared.received.fetch_add(1, Ordering::SeqCst);
                        }
                        let us = at.duration_since(start).as_micros() as u64;
                        shared.last_arrival_us.store(us, Ordering::SeqCst);
                        let data = if kind == Kind::Flood {
                            Vec::new()
                        } else {
                            wire
                        };
                        out.arrivals.push(Arrival {
                            kind,
                            seq,
                            data,
                            at,
                        });
                    }
                    None => {
                        out.stray_count += 1;
                        if out.strays.len() < STRAYS_KEPT {
                            out.strays.push(wire);
                        }
                    }
                }
            }
        }
        if stopping {
            break;
        }
        if shared.stop.load(Ordering::SeqCst) {
            // One more pass for blocks retired since (retire timeout 10 ms).
            std::thread::sleep(Duration::from_millis(30));
            stopping = true;
        }
    }
    let stats = sock
        .statistics()
        .map_err(failed(format!("PACKET_STATISTICS on {OUT_TAP}")))?;
    out.drops = stats.drops;
    Ok(out)
}

struct Sent {
    probes: u32,
    frames: usize,
    time: Duration,
}

/// Ask the kernel to send what is queued; a full queue (`EAGAIN`,
/// `ENOBUFS`) is not an error, the frames stay queued for the next kick.
fn kick(sock: &PacketSocket) -> Result {
    match sock.kick() {
        Ok(_) => Ok(()),
        Err(e) if e.errno() == Errno::AGAIN || e.errno() == Errno::NOBUFS => Ok(()),
        Err(e) => Err(Error::Failed(format!("sending on {IN_TAP}: {e}"))),
    }
}

/// Queue one frame, kicking and waiting while the ring is full.
fn queue(sock: &PacketSocket, ring: &mut MappedRing, f: &[u8]) -> Result {
    let tx = ring
        .tx()
        .ok_or_else(|| Error::Failed(format!("the ring on {IN_TAP} has no TX ring")))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tx.send(f) {
            Ok(_) => return Ok(()),
            Err(TxError::Full) if Instant::now() < deadline => {
                kick(sock)?;
                sock.poll(false, true, 10)
                    .map_err(failed(format!("poll on {IN_TAP}")))?;
            }
            Err(e) => {
                return Err(Error::Failed(format!(
                    "queueing a {}-byte frame on {IN_TAP}: {e}",
                    f.len()
                )))
            }
        }
    }
}

/// Send `frames` into `IN_TAP` at `rate` frames per second, without probes
/// and without looking at `OUT_TAP` (for a guest that only receives).
/// Returns how long the sending took.
pub fn send_only(ns: &Netns, frames: &[Vec<u8>], rate: u32) -> Result<Duration> {
    ns.in_thread(|| {
        let (sock, mut ring) = tx_socket(IN_TAP)?;
        let (_, time) = offer_paced(&sock, &mut ring, Offer::Corpus { frames, rate })?;
        Ok(time)
    })?
}

fn send(offer: Offer<'_>, shared: &Shared, start: Instant) -> Result<Sent> {
    let (sock, mut ring) = tx_socket(IN_TAP)?;

    // Probes until the forwarder passes one: it may still be starting.
    let mut probes = 0;
    let ready_by = Instant::now() + READY_LIMIT;
    while !shared.probe_back.load(Ordering::SeqCst) {
        if Instant::now() > ready_by || shared.stop.load(Ordering::SeqCst) {
            return Err(Error::Failed(format!(
                "none of {probes} probe frames sent into {IN_TAP} came out of {OUT_TAP} within \
                 {} s: the guest is not forwarding eth0 -> eth1",
                READY_LIMIT.as_secs()
            )));
        }
        queue(
            &sock,
            &mut ring,
            &frame(Kind::Probe, probes, 60, DESTINATIONS[0], Tags::None),
        )?;
        kick(&sock)?;
        probes += 1;
        let resend_at = Instant::now() + PROBE_INTERVAL;
        while Instant::now() < resend_at && !shared.probe_back.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    let (frames, time) = offer_paced(&sock, &mut ring, offer)?;

    // Wait for the tail: everything back, or quiet for a while.
    let sent_at = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        let everything = shared.received.load(Ordering::SeqCst) >= frames;
        let last = Duration::from_micros(shared.last_arrival_us.load(Ordering::SeqCst));
        let since_sent = sent_at.elapsed();
        let quiet = start.elapsed().saturating_sub(last.max(sent_at - start));
        if everything || quiet >= DRAIN_QUIET || since_sent >= DRAIN_LIMIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Sent {
        probes,
        frames,
        time,
    })
}

/// Queue the offered frames at their rate; returns how many were sent and
/// how long that took.
fn offer_paced(
    sock: &PacketSocket,
    ring: &mut MappedRing,
    offer: Offer<'_>,
) -> Result<(usize, Duration)> {
    let (rate, limit, count) = match offer {
        Offer::Corpus { frames, rate } => (rate, None, frames.len()),
        Offer::Flood { rate, seconds } => {
            (rate, Some(Duration::from_secs_f64(seconds)), usize::MAX)
        }
    };
    let interval = 1.0 / f64::from(rate.max(1));
    let sending = Instant::now();
    let mut unkicked = 0;
    let mut frames = 0;
    while frames < count {
        let elapsed = sending.elapsed();
        if limit.is_some_and(|l| elapsed >= l) {
            break;
        }
        let due = Duration::from_secs_f64(frames as f64 * interval);
        if due > elapsed {
            kick(sock)?;
            unkicked = 0;
            std::thread::sleep(due - elapsed);
        }
        match offer {
            Offer::Corpus { frames: list, .. } => queue(sock, ring, &list[frames])?,
            Offer::Flood { .. } => {
                let f = frame(
                    Kind::Flood,
                    frames as u32,
                    FLOOD_LEN,
                    DESTINATIONS[0],
                    Tags::None,
                );
                queue(sock, ring, &f)?;
            }
        }
        frames += 1;
        unkicked += 1;
        if unkicked >= 32 {
            kick(sock)?;
            unkicked = 0;
        }
    }
    kick(sock)?;
    Ok((frames, sending.elapsed()))
}

/// The corpus check: after the probes, exactly the corpus, in order and
/// byte-identical, and nothing else. Returns a description of every
/// problem (empty: passed).
pub fn check_corpus(corpus: &[Vec<u8>], ex: &Exchange) -> Vec<String> {
    let mut problems = Vec::new();
    if ex.stray_count > 0 {
        let first: Vec<String> = ex.strays.iter().map(|f| describe(f)).collect();
        problems.push(format!(
            "{} frames on {OUT_TAP} that the harness did not send, first: {}",
            ex.stray_count,
            first.join("; ")
        ));
    }
    if ex.receiver_drops > 0 {
        problems.push(format!(
            "the host's receiving ring on {OUT_TAP} dropped {} frames (a host problem, not the guest's)",
            ex.receiver_drops
        ));
    }
    let first_corpus = ex
        .arrivals
        .iter()
        .position(|a| a.kind == Kind::Corpus)
        .unwrap_or(ex.arrivals.len());
    let (probes, rest) = ex.arrivals.split_at(first_corpus);
    let (arrived, others): (Vec<&Arrival>, Vec<&Arrival>) = probes
        .iter()
        .filter(|a| a.kind != Kind::Probe)
        .chain(rest)
        .partition(|a| a.kind == Kind::Corpus);
    if let Some(other) = others.first() {
        problems.push(format!(
            "{} probe or flood frames came out with the corpus, first: {:?} seq {}",
            others.len(),
            other.kind,
            other.seq
        ));
    }
    let mut seen = vec![false; corpus.len()];
    let (mut late, mut changed, mut duplicates) = (Vec::new(), Vec::new(), 0);
    let mut highest: Option<u32> = None;
    for a in arrived {
        let Some(expected) = corpus.get(a.seq as usize) else {
            problems.push(format!(
                "a corpus frame with unknown seq {} came out",
                a.seq
            ));
            continue;
        };
        if std::mem::replace(&mut seen[a.seq as usize], true) {
            duplicates += 1;
            continue;
        }
        match highest {
            Some(h) if a.seq < h => late.push(format!("seq {} after seq {h}", a.seq)),
            _ => highest = Some(a.seq),
        }
        if a.data != *expected {
            changed.push(format!(
                "seq {}: sent {}, got {}{}",
                a.seq,
                describe(expected),
                describe(&a.data),
                first_difference(expected, &a.data)
                    .map(|at| format!(", first difference at byte {at}"))
                    .unwrap_or_default()
            ));
        }
    }
    let missing: Vec<String> = (0..corpus.len())
        .filter(|&i| !seen[i])
        .map(|i| i.to_string())
        .collect();
    let listed = |items: &[String]| {
        let shown = items.len().min(5);
        let more = if items.len() > shown { ", ..." } else { "" };
        format!("{}{more}", items[..shown].join("; "))
    };
    if !missing.is_empty() {
        problems.push(format!(
            "{} of {} corpus frames did not come out of {OUT_TAP}: seq {}",
            missing.len(),
            corpus.len(),
            listed(&missing)
        ));
    }
    if !late.is_empty() {
        problems.push(format!(
            "{} corpus frames out of order: {}",
            late.len(),
            listed(&late)
        ));
    }
    if !changed.is_empty() {
        problems.push(format!(
            "{} corpus frames differ from what was sent: {}",
            changed.len(),
            listed(&changed)
        ));
    }
    if duplicates > 0 {
        problems.push(format!(
            "{duplicates} corpus frames came out more than once"
        ));
    }
    problems
}

pub(super) fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then_some(a.len().min(b.len())))
}

/// A frame in a few words: kind, sequence number, length and tags if ours;
/// otherwise length, EtherType and its first 64 bytes in hex.
pub(super) fn describe(f: &[u8]) -> String {
    let tags = match ethertype(f, 12) {
        Some(TPID_8021AD) => " 802.1ad+802.1Q",
        Some(TPID_8021Q) => " 802.1Q",
        _ => "",
    };
    match identify(f) {
        Some((kind, seq)) => format!("{kind:?} seq {seq} ({} bytes{tags})", f.len()),
        None => format!(
            "{} bytes, EtherType {:#06x}: {}",
            f.len(),
            ethertype(f, 12).unwrap_or(0),
            f.iter()
                .take(64)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    }
}

/// Figures of a flood exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloodFigures {
    pub sent: usize,
    pub offered_fps: f64,
    pub received: usize,
    /// Frames per second between the first and the last flood frame out.
    pub forwarded_fps: f64,
    /// Frames the host's receiving ring dropped (the figures undercount
    /// the guest by as many).
    pub receiver_drops: u32,
}

pub fn flood_figures(ex: &Exchange) -> FloodFigures {
    let flood: Vec<&Arrival> = ex
        .arrivals
        .iter()
        .filter(|a| a.kind == Kind::Flood)
        .collect();
    let span = match (flood.first(), flood.last()) {
        (Some(first), Some(last)) => last.at.duration_since(first.at).as_secs_f64(),
        _ => 0.0,
    };
    let rate = |frames: usize, secs: f64| {
        if secs > 0.0 {
            frames as f64 / secs
        } else {
            0.0
        }
    };
    FloodFigures {
        sent: ex.sent,
        offered_fps: rate(ex.sent, ex.send_time.as_secs_f64()),
        received: flood.len(),
        forwarded_fps: rate(flood.len().saturating_sub(1), span),
        receiver_drops: ex.receiver_drops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange_of(arrivals: Vec<Arrival>) -> Exchange {
        Exchange {
            probes_sent: 1,
            sent: 0,
            send_time: Duration::ZERO,
            arrivals,
            strays: Vec::new(),
            stray_count: 0,
            receiver_drops: 0,
        }
    }

    fn arrival(data: &[u8]) -> Arrival {
        let (kind, seq) = identify(data).unwrap();
        Arrival {
            kind,
            seq,
            data: data.to_vec(),
            at: Instant::now(),
        }
    }

    #[test]
    fn corpus_has_every_shape_and_legal_lengths() {
        let c = corpus(240);
        assert_eq!(c.len(), 240);
        let tagged = c.iter().filter(|f| is_tagged(f)).count();
        assert_eq!(tagged, 120);
        for (i, f) in c.iter().enumerate() {
            assert_eq!(identify(f), Some((Kind::Corpus, i as u32)));
            let max = if ethertype(f, 12) == Some(TPID_8021Q) {
                1518
            } else {
                1514
            };
            assert!(
                (60..=max).contains(&f.len()),
                "frame {i}: {} bytes",
                f.len()
            );
        }
        assert!(c.iter().any(|f| f.len() == 1518));
        assert!(c.iter().any(|f| ethertype(f, 12) == Some(TPID_8021AD)));
        assert!(
            c.iter().any(|f| f.get(14..16) == Some(&[0xa0, 0x00][..])),
            "priority tag"
        );
    }

    #[test]
    fn stripped_tag_goes_back_after_the_addresses() {
        let tagged = frame(
            Kind::Corpus,
            7,
            100,
            DESTINATIONS[1],
            Tags::QinQ(0x0064, 0x00c8),
        );
        let mut stripped = tagged.clone();
        stripped.drain(12..16);
        let info = FrameInfo {
            vlan_tci: Some(0x0064),
            vlan_tpid: Some(TPID_8021AD),
            ..info_without_tag()
        };
        assert_eq!(as_on_wire(&stripped, &info), tagged);
        assert_eq!(as_on_wire(&stripped, &info_without_tag()), stripped);
        assert_eq!(identify(&tagged), Some((Kind::Corpus, 7)));
    }

    fn info_without_tag() -> FrameInfo {
        FrameInfo {
            status: ringtap_core::status::RxStatus(0),
            len: 0,
            snaplen: 0,
            mac: 0,
            net: 0,
            timestamp: ringtap_core::frame::Timestamp { sec: 0, nsec: 0 },
            vlan_tci: None,
            vlan_tpid: None,
            addr: ringtap_core::frame::ll::Repr::default(),
        }
    }

    #[test]
    fn others_frames_are_not_ours() {
        let mut f = frame(Kind::Flood, 1, 60, DESTINATIONS[0], Tags::None);
        assert_eq!(identify(&f), Some((Kind::Flood, 1)));
        f[14] = b'X';
        assert_eq!(identify(&f), None);
        assert_eq!(identify(&[0u8; 20]), None);
    }

    #[test]
    fn corpus_in_order_after_probes_passes() {
        let c = corpus(10);
        let probe = frame(Kind::Probe, 0, 60, DESTINATIONS[0], Tags::None);
        let mut arrivals = vec![arrival(&probe)];
        arrivals.extend(c.iter().map(|f| arrival(f)));
        assert_eq!(
            check_corpus(&c, &exchange_of(arrivals)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reordered_changed_missing_and_stray_frames_fail() {
        let c = corpus(10);
        let mut arrivals: Vec<Arrival> = c.iter().map(|f| arrival(f)).collect();
        arrivals.swap(3, 4);
        let problems = check_corpus(&c, &exchange_of(arrivals));
        assert_eq!(
            problems,
            ["1 corpus frames out of order: seq 3 after seq 4"]
        );

        let mut arrivals: Vec<Arrival> = c.iter().map(|f| arrival(f)).collect();
        arrivals[5].data[40] ^= 1;
        arrivals.pop();
        let problems = check_corpus(&c, &exchange_of(arrivals));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("first difference at byte 40")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.ends_with("did not come out of tap1: seq 9")),
            "{problems:?}"
        );

        let mut ex = exchange_of(c.iter().map(|f| arrival(f)).collect());
        ex.stray_count = 1;
        ex.strays.push(vec![0u8; 60]);
        let probe = frame(Kind::Probe, 9, 60, DESTINATIONS[0], Tags::None);
        ex.arrivals.insert(4, arrival(&probe));
        let problems = check_corpus(&c, &ex);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn flood_rate_spans_first_to_last_arrival() {
        let t0 = Instant::now();
        let f = frame(Kind::Flood, 0, 60, DESTINATIONS[0], Tags::None);
        let arrivals = (0..11)
            .map(|i| Arrival {
                at: t0 + Duration::from_millis(100 * i),
                ..arrival(&f)
            })
            .collect();
        let mut ex = exchange_of(arrivals);
        ex.sent = 100;
        ex.send_time = Duration::from_secs(2);
        let figures = flood_figures(&ex);
        assert_eq!(figures.received, 11);
        assert!((figures.forwarded_fps - 10.0).abs() < 1e-6);
        assert!((figures.offered_fps - 50.0).abs() < 1e-6);
    }
}
