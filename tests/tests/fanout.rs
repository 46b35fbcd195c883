//! Acceptance: `PACKET_FANOUT` against the kernel. Four RX rings bound to
//! one veth share one group:
//!
//! * HASH keeps every flow (IPv4/UDP 5-tuple) on one member, and uses more
//!   than one member;
//! * LB (round robin) gives every member the same share, within one frame;
//! * ROLLOVER (the mode, and HASH with `PACKET_FANOUT_FLAG_ROLLOVER`) moves
//!   frames off a member whose ring is full, so nothing is dropped;
//! * a socket whose request does not match the group (mode, flags, device,
//!   not running, already in a group) is refused as `fanout_add` refuses it,
//!   and what `FanoutArg::validate` rejects the kernel rejects too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ringtap_core::fanout::{FanoutArg, FanoutFlags, FanoutMode};
use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_linux::{netdev, MappedRing, PacketSocket, RingSocketBuilder, SocketType, ETH_P_ALL};
use ringtap_tests::{in_netns, layout, veth_pair, wait_until};
use rustix::io::Errno;
use rustix::net::SendFlags;

const MEMBERS: usize = 4;
const GROUP: u16 = 0x2a;
const WAIT: Duration = Duration::from_secs(5);
/// How long to keep listening for frames that must not arrive.
const SETTLE: Duration = Duration::from_millis(50);
/// Frames sent between two drains of the members' rings.
const BATCH: usize = 16;

/// The two ends of a veth pair: frames are sent on `tx`, the group listens
/// on `rx`.
struct Link {
    tx: u32,
    rx: u32,
}

fn link() -> Link {
    veth_pair("fan0", "fan1", 1500);
    Link {
        tx: netdev::ifindex("fan0").expect("ifindex fan0"),
        rx: netdev::ifindex("fan1").expect("ifindex fan1"),
    }
}

// ---------------------------------------------------------------- frames

/// Unicast to nobody here: the peer's IPv4 stack drops it as
/// PACKET_OTHERHOST, so the frames cause no replies.
const DST_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];
const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
const SRC_IP: [u8; 4] = [10, 99, 0, 1];
const DST_IP: [u8; 4] = [10, 99, 0, 2];
const BASE_PORT: u16 = 20_000;
const DST_PORT: u16 = 9_999;
const MAGIC: [u8; 4] = *b"rtfo";
const PAYLOAD_LEN: usize = 32;

/// One frame of a test flow: flow `flow` is UDP from port
/// `BASE_PORT + flow`; `seq` numbers the frames of the whole test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Tag {
    flow: u16,
    seq: u16,
}

/// Ethernet + IPv4 (valid checksum) + UDP (checksum 0: none, allowed on
/// IPv4), so the kernel's flow dissector finds the 5-tuple.
fn udp_frame(tag: Tag) -> Vec<u8> {
    let udp_len = 8 + PAYLOAD_LEN;
    let ip_len = 20 + udp_len;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&tag.seq.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&SRC_IP);
    ip[16..20].copy_from_slice(&DST_IP);
    let csum = ringtap_core::checksum::internet(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());

    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&(BASE_PORT + tag.flow).to_be_bytes());
    f.extend_from_slice(&DST_PORT.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&MAGIC);
    f.extend_from_slice(&tag.flow.to_be_bytes());
    f.extend_from_slice(&tag.seq.to_be_bytes());
    f.resize(14 + ip_len, 0xa5);
    f
}

/// The tag of one of our frames, checked against the frame it claims to be.
fn parse(data: &[u8]) -> Option<Tag> {
    let payload = data.get(42..)?;
    if data.get(12..14)? != [0x08, 0x00] || payload.get(..4)? != MAGIC {
        return None;
    }
    let tag = Tag {
        flow: u16::from_be_bytes([payload[4], payload[5]]),
        seq: u16::from_be_bytes([payload[6], payload[7]]),
    };
    assert_eq!(data, udp_frame(tag), "received frame {tag:?} is corrupt");
    Some(tag)
}

#[test]
fn test_frames_are_valid_ipv4_udp() {
    let f = udp_frame(Tag { flow: 7, seq: 300 });
    assert_eq!(f.len(), 14 + 20 + 8 + PAYLOAD_LEN);
    assert_eq!(
        ringtap_core::checksum::internet(&f[14..34]),
        0,
        "IPv4 header checksum verifies"
    );
    assert_eq!(
        u16::from_be_bytes([f[16], f[17]]) as usize,
        f.len() - 14,
        "IPv4 total length"
    );
    assert_eq!(
        u16::from_be_bytes([f[34], f[35]]),
        BASE_PORT + 7,
        "UDP source port"
    );
    assert_eq!(
        u16::from_be_bytes([f[38], f[39]]) as usize,
        8 + PAYLOAD_LEN,
        "UDP length"
    );
    assert_eq!(parse(&f), Some(Tag { flow: 7, seq: 300 }));
}

/// `flows` flows of `per_flow` frames each, interleaved (every flow's first
/// frame, then every flow's second, ...), numbered in sending order.
fn traffic(flows: u16, per_flow: u16) -> Vec<Tag> {
    (0..per_flow)
        .flat_map(|round| (0..flows).map(move |flow| (round, flow)))
        .enumerate()
        .map(|(seq, (_, flow))| Tag {
            flow,
            seq: seq as u16,
        })
        .collect()
}

// ---------------------------------------------------------------- sockets

/// A plain (ringless) packet socket bound to the sending end; it receives
/// nothing (protocol 0).
fn sender(ifindex: u32) -> PacketSocket {
    let s = PacketSocket::open(SocketType::Raw, None).expect("socket");
    s.force_buffers(4 << 20).expect("SO_SNDBUFFORCE");
    s.bind(ifindex, 0).expect("bind sender");
    s
}

fn send(case: &str, s: &PacketSocket, tag: Tag) {
    let f = udp_frame(tag);
    let n = rustix::net::send(s, &f, SendFlags::empty())
        .unwrap_or_else(|e| panic!("{case}: send {tag:?}: {e}"));
    assert_eq!(n, f.len(), "{case}: send {tag:?}");
}

/// RX ring shape.
#[derive(Debug, Clone, Copy)]
struct Shape {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
}

/// 128 frames of 256 bytes (V3: 8 blocks of 4 KiB).
const ROOMY: Shape = Shape {
    block_size: 4096,
    block_nr: 8,
    frame_size: 256,
};

/// 8 frames: full after a handful of test frames.
const TINY: Shape = Shape {
    block_size: 4096,
    block_nr: 1,
    frame_size: 512,
};

/// One group member: an RX ring bound to the listening end, and what it
/// received so far.
struct Member {
    version: TpacketVersion,
    sock: PacketSocket,
    ring: MappedRing,
    got: Vec<Tag>,
}

impl Member {
    /// A running (bound) socket, not yet in a group.
    fn new(version: TpacketVersion, ifindex: u32, shape: Shape) -> Member {
        let mut req = RingRequest::tiled(
            version,
            RingKind::Rx,
            shape.block_size,
            shape.block_nr,
            shape.frame_size,
        );
        if version == TpacketVersion::V3 {
            req.retire_blk_tov = 10;
        }
        let (sock, ring) = RingSocketBuilder::rx(layout(req))
            .open(ifindex, ETH_P_ALL)
            .expect("RX ring socket");
        Member {
            version,
            sock,
            ring,
            got: Vec::new(),
        }
    }

    /// Take every frame the ring holds and hand the slots back.
    fn drain(&mut self) {
        let got = &mut self.got;
        if self.version == TpacketVersion::V3 {
            let rx = self.ring.rx_blocks().expect("V3 RX ring");
            while let Some(block) = rx.next_block() {
                for p in block.packets().expect("block header") {
                    got.extend(parse(p.expect("packet inside block").data));
                }
            }
        } else {
            let rx = self.ring.rx_frames().expect("V1/V2 RX ring");
            while let Some(f) = rx.next_frame() {
                got.extend(parse(f.data().expect("RX packet")));
            }
        }
    }
}

fn members(version: TpacketVersion, ifindex: u32, shapes: [Shape; MEMBERS]) -> Vec<Member> {
    shapes
        .into_iter()
        .map(|shape| Member::new(version, ifindex, shape))
        .collect()
}

fn join(case: &str, members: &[Member], arg: FanoutArg) {
    for (i, m) in members.iter().enumerate() {
        m.sock
            .set_fanout(arg)
            .unwrap_or_else(|e| panic!("{case}: member {i} joining {arg:?}: {e}"));
    }
}

/// Send `traffic` in batches, draining the members in `drained` between
/// batches; then drain everyone until every frame is accounted for.
fn run(case: &str, tx: &PacketSocket, group: &mut [Member], drained: &[usize], traffic: &[Tag]) {
    for batch in traffic.chunks(BATCH) {
        for &tag in batch {
            send(case, tx, tag);
        }
        for &i in drained {
            group[i].drain();
        }
    }
    let all = |g: &mut [Member]| {
        g.iter_mut().for_each(Member::drain);
        g.iter().map(|m| m.got.len()).sum::<usize>() >= traffic.len()
    };
    wait_until(WAIT, || all(group));
    std::thread::sleep(SETTLE);
    all(group);
}

/// Every frame sent arrived exactly once, across the group, and no member
/// counted a drop.
fn assert_all_received_once(case: &str, group: &[Member], traffic: &[Tag]) {
    let mut got: Vec<Tag> = group.iter().flat_map(|m| m.got.iter().copied()).collect();
    got.sort();
    let mut want = traffic.to_vec();
    want.sort();
    assert!(
        got == want,
        "{case}: {} frames received for {} sent (per member: {:?})",
        got.len(),
        want.len(),
        counts(group)
    );
    for (i, m) in group.iter().enumerate() {
        let stats = m.sock.statistics().expect("PACKET_STATISTICS");
        assert_eq!(stats.drops, 0, "{case}: member {i} dropped frames");
        assert_eq!(
            stats.packets as usize,
            m.got.len(),
            "{case}: member {i} tp_packets"
        );
    }
}

fn counts(group: &[Member]) -> Vec<usize> {
    group.iter().map(|m| m.got.len()).collect()
}

/// For each flow, the members that received some of its frames.
fn members_per_flow(group: &[Member]) -> BTreeMap<u16, BTreeSet<usize>> {
    let mut map: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
    for (i, m) in group.iter().enumerate() {
        for tag in &m.got {
            map.entry(tag.flow).or_default().insert(i);
        }
    }
    map
}

fn arg(mode: FanoutMode, flags: FanoutFlags) -> FanoutArg {
    FanoutArg {
        id: GROUP,
        mode,
        flags,
    }
}

// ---------------------------------------------------------------- tests

fn hash_keeps_flows(version: TpacketVersion) {
    let case = format!("fanout HASH, RX {version}");
    in_netns(&case, || {
        let link = link();
        let mut group = members(version, link.rx, [ROOMY; MEMBERS]);
        join(&case, &group, arg(FanoutMode::Hash, FanoutFlags::EMPTY));
        let traffic = traffic(32, 4);
        let tx = sender(link.tx);
        let everyone: Vec<usize> = (0..MEMBERS).collect();
        run(&case, &tx, &mut group, &everyone, &traffic);

        assert_all_received_once(&case, &group, &traffic);
        let per_flow = members_per_flow(&group);
        assert_eq!(per_flow.len(), 32, "{case}: every flow arrived");
        for (flow, on) in &per_flow {
            assert_eq!(
                on.len(),
                1,
                "{case}: flow {flow} (UDP source port {}) split over members {on:?}",
                BASE_PORT + flow
            );
        }
        let used: BTreeSet<usize> = per_flow.values().flatten().copied().collect();
        assert!(
            used.len() > 1,
            "{case}: 32 flows all hashed to member {used:?}"
        );
        // Within a member, a flow's frames keep their order.
        for (i, m) in group.iter().enumerate() {
            for flow in 0..32 {
                let seqs: Vec<u16> = m
                    .got
                    .iter()
                    .filter(|t| t.flow == flow)
                    .map(|t| t.seq)
                    .collect();
                assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "{case}: member {i} got flow {flow} out of order: {seqs:?}"
                );
            }
        }
    });
}

#[test]
fn hash_keeps_each_flow_on_one_socket_v2() {
    hash_keeps_flows(TpacketVersion::V2);
}

#[test]
fn hash_keeps_each_flow_on_one_socket_v3() {
    hash_keeps_flows(TpacketVersion::V3);
}

#[test]
fn lb_spreads_evenly() {
    let case = "fanout LB, RX V2";
    in_netns(case, || {
        let link = link();
        let mut group = members(TpacketVersion::V2, link.rx, [ROOMY; MEMBERS]);
        join(
            case,
            &group,
            arg(FanoutMode::LoadBalance, FanoutFlags::EMPTY),
        );
        // A single flow: LB ignores flows.
        let traffic = traffic(1, 402);
        let tx = sender(link.tx);
        let everyone: Vec<usize> = (0..MEMBERS).collect();
        run(case, &tx, &mut group, &everyone, &traffic);

        assert_all_received_once(case, &group, &traffic);
        let share = traffic.len() / MEMBERS;
        for (i, n) in counts(&group).into_iter().enumerate() {
            assert!(
                n.abs_diff(share) <= 1,
                "{case}: member {i} got {n} of {} frames, expected {share} ± 1 (all: {:?})",
                traffic.len(),
                counts(&group)
            );
        }
    });
}

/// Member 0 has a tiny ring that is never drained; the others are drained
/// as the frames arrive. `more` makes the mode's own checks.
fn rollover(mode: FanoutMode, flags: FanoutFlags, more: impl Fn(&str, &[Member], &[Tag]) + Sync) {
    let case = format!("fanout {mode:?} {flags:?}, tiny member 0");
    in_netns(&case, || {
        let link = link();
        // Joined in order: member 0 is the group's first slot (f->arr[0]).
        let mut group = members(TpacketVersion::V2, link.rx, [TINY, ROOMY, ROOMY, ROOMY]);
        join(&case, &group, arg(mode, flags));
        let traffic = traffic(64, 4);
        let tx = sender(link.tx);
        run(&case, &tx, &mut group, &[1, 2, 3], &traffic);

        assert_all_received_once(&case, &group, &traffic);
        let all = counts(&group);
        let tiny = all[0];
        let tiny_frames = (TINY.block_nr * (TINY.block_size / TINY.frame_size)) as usize;
        assert!(
            (1..=tiny_frames).contains(&tiny),
            "{case}: the tiny member got {tiny} frames, expected 1..={tiny_frames} (all: {all:?})"
        );
        let busiest = all[1..].iter().copied().max().unwrap_or(0);
        assert!(
            tiny < traffic.len() / MEMBERS && tiny < busiest,
            "{case}: the full member got {tiny}, not fewer than its share (all: {all:?})"
        );
        more(&case, &group, &traffic);
    });
}

/// PACKET_FANOUT_ROLLOVER fills one member (the first, then the one it
/// rolled to) before it moves on: the tiny member takes the first frames
/// sent and, once full, never another.
#[test]
fn rollover_mode_moves_frames_off_a_full_socket() {
    rollover(
        FanoutMode::Rollover,
        FanoutFlags::EMPTY,
        |case, group, traffic| {
            let tiny = &group[0].got;
            assert_eq!(
                tiny[..],
                traffic[..tiny.len()],
                "{case}: the tiny member got the first frames sent, in order"
            );
        },
    );
}

/// HASH with PACKET_FANOUT_FLAG_ROLLOVER: flows hashed to the full member
/// continue on another one.
#[test]
fn hash_with_rollover_flag_moves_flows_off_a_full_socket() {
    rollover(FanoutMode::Hash, FanoutFlags::ROLLOVER, |case, group, _| {
        let moved: Vec<u16> = members_per_flow(group)
            .into_iter()
            .filter(|(_, on)| on.contains(&0) && on.len() > 1)
            .map(|(flow, _)| flow)
            .collect();
        assert!(
            !moved.is_empty(),
            "{case}: no flow of the full member continued on another member"
        );
    });
}

/// `setsockopt(PACKET_FANOUT)` on a fresh running socket; the errno if the
/// kernel refuses.
fn try_join(version: TpacketVersion, ifindex: u32, a: FanoutArg) -> Result<(), Errno> {
    Member::new(version, ifindex, ROOMY)
        .sock
        .set_fanout(a)
        .map_err(|e| e.errno())
}

#[test]
fn mismatched_requests_are_refused() {
    let case = "fanout group rules";
    in_netns(case, || {
        let link = link();
        let v = TpacketVersion::V2;
        let group = arg(FanoutMode::Hash, FanoutFlags::EMPTY);
        let first = Member::new(v, link.rx, ROOMY);
        first.sock.set_fanout(group).expect("create the group");
        let raw = first.sock.fanout().expect("getsockopt PACKET_FANOUT");
        let read_back = FanoutArg::decode(raw).expect("decode the group");
        assert_eq!(read_back, group, "{case}: getsockopt reads the group back");

        // Same id, other settings: judged against the group, as
        // FanoutArg::compatible_with predicts.
        let candidates = [
            (arg(FanoutMode::Hash, FanoutFlags::EMPTY), Ok(())),
            (
                arg(FanoutMode::LoadBalance, FanoutFlags::EMPTY),
                Err(Errno::INVAL),
            ),
            (
                arg(FanoutMode::Rollover, FanoutFlags::EMPTY),
                Err(Errno::INVAL),
            ),
            (
                arg(FanoutMode::Hash, FanoutFlags::DEFRAG),
                Err(Errno::INVAL),
            ),
            (
                arg(FanoutMode::Hash, FanoutFlags::ROLLOVER),
                Err(Errno::INVAL),
            ),
        ];
        for (candidate, expected) in candidates {
            assert_eq!(
                try_join(v, link.rx, candidate),
                expected,
                "{case}: joining {read_back:?} with {candidate:?}"
            );
            assert_eq!(
                candidate.compatible_with(&read_back),
                expected.is_ok(),
                "{case}: compatible_with agrees with the kernel on {candidate:?}"
            );
        }

        // What FanoutArg::validate rejects, the kernel rejects (before it
        // looks at any group).
        let invalid = [
            FanoutArg {
                id: GROUP + 1,
                mode: FanoutMode::Rollover,
                flags: FanoutFlags::ROLLOVER,
            },
            FanoutArg {
                id: GROUP + 1,
                mode: FanoutMode::Hash,
                flags: FanoutFlags::UNIQUE_ID,
            },
        ];
        for a in invalid {
            let why = a.validate().expect_err("validate rejects it");
            assert_eq!(
                try_join(v, link.rx, a),
                Err(Errno::INVAL),
                "{case}: {a:?} ({why})"
            );
        }

        // The socket state rules.
        assert_eq!(
            first.sock.set_fanout(group).map_err(|e| e.errno()),
            Err(Errno::ALREADY),
            "{case}: a socket already in a group"
        );
        assert_eq!(
            try_join(v, link.tx, group),
            Err(Errno::INVAL),
            "{case}: a socket bound to another device than the group's"
        );
        let idle = PacketSocket::open(SocketType::Raw, None).expect("socket");
        assert_eq!(
            idle.set_fanout(group).map_err(|e| e.errno()),
            Err(Errno::INVAL),
            "{case}: a socket that is not running (protocol 0, unbound)"
        );

        // UNIQUE_ID: the kernel picks the id and drops the flag from the
        // group; others join with what getsockopt reads back.
        let unique = Member::new(v, link.rx, ROOMY);
        unique
            .sock
            .set_fanout(FanoutArg {
                id: 0,
                mode: FanoutMode::LoadBalance,
                flags: FanoutFlags::UNIQUE_ID,
            })
            .expect("create a group with a kernel-chosen id");
        let chosen = FanoutArg::decode(unique.sock.fanout().expect("getsockopt PACKET_FANOUT"))
            .expect("decode the group");
        assert_eq!(
            (chosen.mode, chosen.flags),
            (FanoutMode::LoadBalance, FanoutFlags::EMPTY),
            "{case}: the kernel keeps the mode and drops UNIQUE_ID"
        );
        assert_ne!(
            chosen.id, GROUP,
            "{case}: a fresh id, not the existing group"
        );
        assert_eq!(
            try_join(v, link.rx, chosen),
            Ok(()),
            "{case}: joining the kernel-chosen group {chosen:?}"
        );
    });
}
