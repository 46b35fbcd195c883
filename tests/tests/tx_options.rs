//! Acceptance: TX ring and RX copy options against the kernel
//! (`net/packet/af_packet.c` is the oracle).
//!
//! * `PACKET_LOSS` on: a frame longer than the link allows is skipped
//!   (`tpacket_snd` marks it `AVAILABLE` and moves its head on); the frames
//!   around it go out in order.
//! * `PACKET_LOSS` off: the ring stops at that frame (`WRONG_FORMAT`, `send`
//!   fails with `EMSGSIZE`, later kicks send nothing) until
//!   `TxRing::drop_refused` removes it and keeps the frames behind it.
//! * `PACKET_COPY_THRESH`: a packet too long for its V1/V2 RX frame is also
//!   queued whole for `recvfrom` and its frame is marked `TP_STATUS_COPY`.
//! * `PACKET_TX_HAS_OFF`: the kernel takes each frame's data offset from
//!   `tp_mac`; without it, `tp_mac` is ignored and the data is read at the
//!   default offset.

use std::time::Duration;

use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_core::status::RxStatus;
use ringtap_linux::{
    netdev, Buffers, FrameInfo, MappedRing, PacketSocket, RingSocketBuilder, SocketType, TxError,
    TxRing, ETH_P_ALL,
};
use ringtap_tests::{frame, in_netns, layout, veth_pair, wait_until, TEST_ETHERTYPE};
use rustix::io::Errno;

const MTU: u32 = 1500;
/// Longest frame the link takes: MTU plus the Ethernet header.
const MAX_FRAME: usize = 1514;
/// Longer than `MTU + hard_header_len + VLAN_HLEN` (1518), the `size_max`
/// of `tpacket_snd`: `tpacket_parse_header` refuses it with `EMSGSIZE`.
const OVERSIZE: usize = 1600;
const TX_FRAME_SIZE: u32 = 2048;
/// Two frames per 4 KiB block, four blocks.
const TX_FRAMES: u32 = 8;
const WAIT: Duration = Duration::from_secs(5);
/// How long to keep listening for frames that must not arrive.
const SETTLE: Duration = Duration::from_millis(50);

const VERSIONS: [TpacketVersion; 3] = [TpacketVersion::V1, TpacketVersion::V2, TpacketVersion::V3];

/// The two ends of a veth pair: the TX ring sends on `tx`, the RX ring
/// listens on `rx`.
struct Link {
    tx: u32,
    rx: u32,
}

fn link() -> Link {
    veth_pair("txo0", "txo1", MTU);
    Link {
        tx: netdev::ifindex("txo0").expect("ifindex txo0"),
        rx: netdev::ifindex("txo1").expect("ifindex txo1"),
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct TxOptions {
    loss: bool,
    tx_has_off: bool,
    /// Set `PACKET_TX_HAS_OFF` after `PACKET_TX_RING` instead of before.
    tx_has_off_late: bool,
}

/// A bound TX-only socket with an 8-frame ring. Options go in before the
/// ring (the builder's order): the kernel refuses `PACKET_LOSS` (EBUSY) and
/// silently ignores `PACKET_TX_HAS_OFF` once a ring exists.
fn tx_socket(v: TpacketVersion, ifindex: u32, opts: TxOptions) -> (PacketSocket, MappedRing) {
    let req = RingRequest::new(
        v,
        RingKind::Tx,
        4096,
        TX_FRAMES / 2,
        TX_FRAME_SIZE,
        TX_FRAMES,
    );
    let (s, ring) = RingSocketBuilder::tx(layout(req))
        .buffers(Buffers::Forced(4 << 20))
        .loss(opts.loss)
        .tx_has_off(opts.tx_has_off)
        .open(ifindex, 0)
        .expect("TX ring socket");
    if opts.tx_has_off_late {
        s.set_tx_has_off(true)
            .expect("PACKET_TX_HAS_OFF after the ring is accepted (and ignored)");
    }
    (s, ring)
}

/// RX ring shape: `block_nr` blocks of `block_size` bytes cut in
/// `frame_size`-byte frames.
#[derive(Debug, Clone, Copy)]
struct RxShape {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    sizeof_priv: u32,
}

/// 64 frames of 2048 bytes: every frame the link carries fits.
const RX_ROOMY: RxShape = RxShape {
    block_size: 1 << 16,
    block_nr: 2,
    frame_size: 2048,
    sizeof_priv: 0,
};

/// 64 frames of 256 bytes: a 1000-byte packet is truncated.
const RX_SMALL: RxShape = RxShape {
    block_size: 4096,
    block_nr: 4,
    frame_size: 256,
    sizeof_priv: 0,
};

fn rx_socket(
    v: TpacketVersion,
    ifindex: u32,
    shape: RxShape,
    copy_thresh: Option<u32>,
) -> (PacketSocket, MappedRing) {
    let mut req = RingRequest::tiled(
        v,
        RingKind::Rx,
        shape.block_size,
        shape.block_nr,
        shape.frame_size,
    );
    if v == TpacketVersion::V3 {
        req.retire_blk_tov = 10;
        req.sizeof_priv = shape.sizeof_priv;
    }
    let mut builder = RingSocketBuilder::rx(layout(req));
    if let Some(bytes) = copy_thresh {
        builder = builder.copy_thresh(bytes);
    }
    builder.open(ifindex, ETH_P_ALL).expect("RX ring socket")
}

type Received = Vec<(FrameInfo, Vec<u8>)>;

/// Append every test frame (EtherType `TEST_ETHERTYPE`) the RX ring holds.
fn drain(v: TpacketVersion, ring: &mut MappedRing, out: &mut Received) {
    let ours = |i: &FrameInfo| i.addr.protocol == TEST_ETHERTYPE;
    if v == TpacketVersion::V3 {
        let rx = ring.rx_blocks().expect("V3 RX ring");
        while let Some(block) = rx.next_block() {
            for p in block.packets().expect("block header") {
                let p = p.expect("packet inside block");
                let info = FrameInfo::from_v3(&p);
                if ours(&info) {
                    out.push((info, p.data.to_vec()));
                }
            }
        }
    } else {
        let rx = ring.rx_frames().expect("V1/V2 RX ring");
        while let Some(f) = rx.next_frame() {
            let info = f.info().expect("RX header");
            if ours(&info) {
                out.push((info, f.data().expect("RX packet").to_vec()));
            }
        }
    }
}

/// Wait for `n` test frames, then listen a little longer so that extra
/// frames are caught too; returns everything that arrived.
fn receive(v: TpacketVersion, ring: &mut MappedRing, n: usize) -> Received {
    let mut got = Vec::new();
    wait_until(WAIT, || {
        drain(v, ring, &mut got);
        got.len() >= n
    });
    std::thread::sleep(SETTLE);
    drain(v, ring, &mut got);
    got
}

fn receive_bytes(ring: &mut MappedRing, n: usize) -> Vec<Vec<u8>> {
    receive(TpacketVersion::V2, ring, n)
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

/// Assert that exactly `want` arrived, in order, byte for byte.
fn assert_frames(case: &str, got: &[Vec<u8>], want: &[Vec<u8>]) {
    let lens = |v: &[Vec<u8>]| v.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(
        got.len(),
        want.len(),
        "{case}: {} frames arrived (lengths {:?}), expected {} (lengths {:?})",
        got.len(),
        lens(got),
        want.len(),
        lens(want)
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "{case}: frame {i} differs (got {} bytes starting {:02x?}, expected {} bytes \
             starting {:02x?})",
            g.len(),
            &g[..g.len().min(20)],
            w.len(),
            &w[..w.len().min(20)]
        );
    }
}

/// Test frames `first..first + n` of assorted lengths (60..=MAX_FRAME).
fn frames(first: u32, n: u32) -> Vec<Vec<u8>> {
    (first..first + n)
        .map(|seq| {
            frame(
                seq,
                60 + (seq as usize * 397) % (MAX_FRAME - 59),
                TEST_ETHERTYPE,
            )
        })
        .collect()
}

fn total_len(frames: &[Vec<u8>]) -> usize {
    frames.iter().map(Vec::len).sum()
}

/// Queue one frame at the default offset; the ring must have room.
fn queue(case: &str, tx: &mut TxRing, data: &[u8]) -> u32 {
    tx.send(data)
        .unwrap_or_else(|e| panic!("{case}: queueing a {}-byte frame: {e}", data.len()))
}

/// Queue and send `frames` through the ring, kicking whenever it is full,
/// and wait until the kernel has handed every frame back.
fn send_all(case: &str, sock: &PacketSocket, tx: &mut TxRing, frames: &[Vec<u8>]) {
    for (i, f) in frames.iter().enumerate() {
        let queued = wait_until(WAIT, || match tx.send(f) {
            Ok(_) => true,
            Err(TxError::Full) => {
                let _ = sock.kick();
                false
            }
            Err(e) => panic!("{case}: queueing frame {i}: {e}"),
        });
        assert!(queued, "{case}: TX ring stayed full at frame {i}");
    }
    sock.kick_blocking()
        .unwrap_or_else(|e| panic!("{case}: send: {e}"));
    assert_idle(case, tx);
}

fn assert_idle(case: &str, tx: &TxRing) {
    assert!(
        wait_until(WAIT, || tx.is_idle()),
        "{case}: TX frames not handed back (AVAILABLE) by the kernel"
    );
}

/// PACKET_LOSS on: an oversize frame between good ones is skipped, `send`
/// succeeds and counts only the good bytes, and the ring keeps flowing.
fn loss_skips_oversize(v: TpacketVersion) {
    let case = format!("PACKET_LOSS on, TX {v}");
    in_netns(&case, || {
        let link = link();
        let (_rx_sock, mut rx) = rx_socket(TpacketVersion::V2, link.rx, RX_ROOMY, None);
        let (tx_sock, mut tx_map) = tx_socket(
            v,
            link.tx,
            TxOptions {
                loss: true,
                ..TxOptions::default()
            },
        );
        let tx = tx_map.tx().expect("TX ring");
        let before = frames(1, 2);
        let after = frames(3, 3);
        for f in &before {
            queue(&case, tx, f);
        }
        let bad = queue(&case, tx, &frame(99, OVERSIZE, TEST_ETHERTYPE));
        for f in &after {
            queue(&case, tx, f);
        }
        let sent = tx_sock
            .kick_blocking()
            .unwrap_or_else(|e| panic!("{case}: send with a skipped frame must succeed: {e}"));
        let good: Vec<Vec<u8>> = before.iter().chain(&after).cloned().collect();
        assert_eq!(
            sent,
            total_len(&good),
            "{case}: send() returns the bytes of the good frames only"
        );
        assert_idle(&case, tx);
        assert_eq!(
            tx.refused(),
            None,
            "{case}: with PACKET_LOSS frame {bad} is made AVAILABLE, not WRONG_FORMAT"
        );
        assert_frames(
            &format!("{case}, good frames around the skipped one"),
            &receive_bytes(&mut rx, good.len()),
            &good,
        );

        // The kernel's head moved past the skipped frame: the ring goes on,
        // wrapping around more than once.
        let next = frames(10, 2 * TX_FRAMES + 3);
        send_all(&case, &tx_sock, tx, &next);
        assert_frames(
            &format!("{case}, next batch"),
            &receive_bytes(&mut rx, next.len()),
            &next,
        );
    });
}

/// How a refused-frame case is laid out in the ring.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    /// Frames sent (and received) first, to move the ring position.
    warmup: u32,
    /// Good frames queued before the refused one, in the same kick.
    before: u32,
    /// Good frames queued behind the refused one.
    behind: u32,
    /// Kick with a blocking `send` (else `MSG_DONTWAIT`).
    blocking: bool,
}

fn kick(sock: &PacketSocket, blocking: bool) -> ringtap_linux::Result<usize> {
    if blocking {
        sock.kick_blocking()
    } else {
        sock.kick()
    }
}

/// PACKET_LOSS off: the oversize frame ends in WRONG_FORMAT, `send` fails
/// with EMSGSIZE, and the ring is stuck there until `drop_refused`.
fn refused_frame(v: TpacketVersion, r: Refusal) {
    let case = format!("PACKET_LOSS off, TX {v}, {r:?}");
    in_netns(&case, || {
        let link = link();
        let (_rx_sock, mut rx) = rx_socket(TpacketVersion::V2, link.rx, RX_ROOMY, None);
        let (tx_sock, mut tx_map) = tx_socket(v, link.tx, TxOptions::default());
        let tx = tx_map.tx().expect("TX ring");

        let warmup = frames(1, r.warmup);
        send_all(&case, &tx_sock, tx, &warmup);
        assert_frames(
            &format!("{case}, warm-up"),
            &receive_bytes(&mut rx, warmup.len()),
            &warmup,
        );

        let before = frames(100, r.before);
        let behind = frames(200, r.behind);
        for f in &before {
            queue(&case, tx, f);
        }
        let bad = queue(&case, tx, &frame(99, OVERSIZE, TEST_ETHERTYPE));
        assert_eq!(
            bad,
            (r.warmup + r.before) % TX_FRAMES,
            "{case}: ring position"
        );
        for f in &behind {
            queue(&case, tx, f);
        }

        let err = kick(&tx_sock, r.blocking)
            .expect_err(&format!("{case}: send must report the refused frame"));
        assert_eq!(
            err.errno(),
            Errno::MSGSIZE,
            "{case}: send fails with EMSGSIZE ({err})"
        );
        assert_eq!(err.call(), "send", "{case}: the error names the call");
        assert_eq!(
            tx.refused(),
            Some(bad),
            "{case}: the oversize frame is TP_STATUS_WRONG_FORMAT"
        );
        assert_frames(
            &format!("{case}, frames before the refused one"),
            &receive_bytes(&mut rx, before.len()),
            &before,
        );

        // Stopped at a WRONG_FORMAT frame, the kernel sends nothing more:
        // its head only moves on from a frame it sent or skipped.
        let sent = kick(&tx_sock, r.blocking)
            .unwrap_or_else(|e| panic!("{case}: kick on a stopped ring: {e}"));
        assert_eq!(sent, 0, "{case}: a stopped ring sends nothing");
        assert_eq!(tx.refused(), Some(bad), "{case}: still stopped");
        assert_frames(
            &format!("{case}, nothing while stopped"),
            &receive_bytes(&mut rx, 0),
            &[],
        );

        assert_eq!(
            tx.drop_refused(),
            Some(bad),
            "{case}: drop_refused drops the refused frame"
        );
        assert_eq!(
            tx.refused(),
            None,
            "{case}: no refused frame after the drop"
        );
        let sent = kick(&tx_sock, r.blocking)
            .unwrap_or_else(|e| panic!("{case}: kick after drop_refused: {e}"));
        assert_eq!(
            sent,
            total_len(&behind),
            "{case}: the frames queued behind the refused one are sent"
        );
        assert_idle(&case, tx);
        assert_frames(
            &format!("{case}, frames queued behind the refused one"),
            &receive_bytes(&mut rx, behind.len()),
            &behind,
        );

        let next = frames(300, TX_FRAMES + 3);
        send_all(&case, &tx_sock, tx, &next);
        assert_frames(
            &format!("{case}, next batch"),
            &receive_bytes(&mut rx, next.len()),
            &next,
        );
    });
}

const REFUSED_ALONE: Refusal = Refusal {
    warmup: 0,
    before: 0,
    behind: 0,
    blocking: true,
};

/// The three frames behind the refused one wrap around the ring end
/// (refused at 6, behind at 7, 0, 1).
const REFUSED_WITH_QUEUE_WRAPPING: Refusal = Refusal {
    warmup: 4,
    before: 2,
    behind: 3,
    blocking: false,
};

const REFUSED_WITH_QUEUE_BLOCKING: Refusal = Refusal {
    warmup: 0,
    before: 0,
    behind: 3,
    blocking: true,
};

#[test]
fn loss_on_skips_oversize_frame() {
    for v in VERSIONS {
        loss_skips_oversize(v);
    }
}

#[test]
fn loss_off_refused_frame_alone() {
    for v in VERSIONS {
        refused_frame(v, REFUSED_ALONE);
    }
}

#[test]
fn loss_off_refused_frame_with_queue_wrapping() {
    for v in VERSIONS {
        refused_frame(v, REFUSED_WITH_QUEUE_WRAPPING);
    }
}

#[test]
fn loss_off_refused_frame_with_queue_blocking() {
    for v in VERSIONS {
        refused_frame(v, REFUSED_WITH_QUEUE_BLOCKING);
    }
}

/// Send one 1000-byte and one 100-byte frame into an RX ring of small
/// frames; return what the ring shows for each.
fn small_frames_receive(
    case: &str,
    rx_v: TpacketVersion,
    shape: RxShape,
    copy_thresh: Option<u32>,
) -> (PacketSocket, Received, Vec<u8>, Vec<u8>) {
    let link = link();
    let (rx_sock, mut rx) = rx_socket(rx_v, link.rx, shape, copy_thresh);
    let (tx_sock, mut tx_map) = tx_socket(TpacketVersion::V2, link.tx, TxOptions::default());
    let big = frame(1, 1000, TEST_ETHERTYPE);
    let small = frame(2, 100, TEST_ETHERTYPE);
    send_all(
        case,
        &tx_sock,
        tx_map.tx().expect("TX ring"),
        &[big.clone(), small.clone()],
    );
    let got = receive(rx_v, &mut rx, 2);
    assert_eq!(got.len(), 2, "{case}: frames in the ring");
    (rx_sock, got, big, small)
}

/// Check the ring frame of the 1000-byte packet: truncated to the frame,
/// `tp_len` still 1000, `TP_STATUS_COPY` as expected.
fn assert_truncated(case: &str, info: &FrameInfo, data: &[u8], big: &[u8], room: u32, copy: bool) {
    assert_eq!(info.len, 1000, "{case}: tp_len is the wire length");
    assert_eq!(
        info.snaplen,
        room - u32::from(info.mac),
        "{case}: tp_snaplen fills the frame from tp_mac on"
    );
    assert!(info.snaplen < info.len, "{case}: truncated");
    assert_eq!(data, &big[..data.len()], "{case}: the truncated bytes");
    assert_eq!(
        info.status.contains(RxStatus::COPY),
        copy,
        "{case}: TP_STATUS_COPY in {:?}",
        info.status
    );
}

fn assert_small_untouched(case: &str, info: &FrameInfo, data: &[u8], small: &[u8]) {
    assert_eq!(
        (info.len, info.snaplen),
        (100, 100),
        "{case}: the 100-byte packet fits"
    );
    assert!(
        !info.status.contains(RxStatus::COPY),
        "{case}: no TP_STATUS_COPY for a packet that fits"
    );
    assert_eq!(data, small, "{case}: the 100-byte packet");
}

fn assert_queue_empty(case: &str, sock: &PacketSocket) {
    let mut buf = [0u8; 2048];
    let err = sock
        .recv_from(&mut buf, true)
        .expect_err(&format!("{case}: nothing queued for recvfrom"));
    assert_eq!(
        err.errno(),
        Errno::AGAIN,
        "{case}: recvfrom on an empty queue"
    );
}

fn copy_thresh(rx_v: TpacketVersion, thresh: Option<u32>) {
    let case = format!("PACKET_COPY_THRESH {thresh:?}, RX {rx_v} with 256-byte frames");
    in_netns(&case, || {
        let (sock, got, big, small) = small_frames_receive(&case, rx_v, RX_SMALL, thresh);
        let copy = thresh.is_some_and(|t| t > 0);
        assert_truncated(&case, &got[0].0, &got[0].1, &big, RX_SMALL.frame_size, copy);
        assert_small_untouched(&case, &got[1].0, &got[1].1, &small);
        if copy {
            let mut buf = [0u8; 2048];
            let n = sock
                .recv_from(&mut buf, true)
                .unwrap_or_else(|e| panic!("{case}: recvfrom the whole packet: {e}"));
            assert_eq!(n, 1000, "{case}: recvfrom returns the whole packet");
            assert_eq!(
                &buf[..n],
                &big[..],
                "{case}: the whole packet, byte-identical"
            );
        }
        // Only the truncated packet was copied.
        assert_queue_empty(&case, &sock);
    });
}

#[test]
fn copy_thresh_queues_truncated_packet_v2() {
    copy_thresh(TpacketVersion::V2, Some(1));
}

#[test]
fn copy_thresh_queues_truncated_packet_v1() {
    copy_thresh(TpacketVersion::V1, Some(1));
}

/// The kernel only tests `copy_thresh != 0`: a threshold far above the
/// packet length copies just the same.
#[test]
fn copy_thresh_value_is_only_a_switch() {
    copy_thresh(TpacketVersion::V2, Some(1 << 20));
}

#[test]
fn no_copy_thresh_truncates_without_copy() {
    copy_thresh(TpacketVersion::V2, None);
    copy_thresh(TpacketVersion::V2, Some(0));
}

/// V3 rings clamp a packet longer than a block's frame room (here a large
/// private area leaves 544 bytes) but never copy: `tpacket_rcv` handles
/// `copy_thresh` for V1/V2 only.
#[test]
fn copy_thresh_ignored_by_v3() {
    let case = "PACKET_COPY_THRESH 1, RX V3 with a 3500-byte private area";
    in_netns(case, || {
        let shape = RxShape {
            block_size: 4096,
            block_nr: 4,
            frame_size: 256,
            sizeof_priv: 3500,
        };
        let (sock, got, big, small) =
            small_frames_receive(case, TpacketVersion::V3, shape, Some(1));
        // max_frame_len = block size - BLK_PLUS_PRIV(3500) = 4096 - (48 + 3504).
        let room = 4096 - (48 + 3504);
        assert_truncated(case, &got[0].0, &got[0].1, &big, room, false);
        assert_small_untouched(case, &got[1].0, &got[1].1, &small);
        assert_queue_empty(case, &sock);
    });
}

/// PACKET_TX_HAS_OFF on: each frame's data is read from its own `tp_mac`.
fn tx_has_off(v: TpacketVersion) {
    let case = format!("PACKET_TX_HAS_OFF on, TX {v}");
    in_netns(&case, || {
        let link = link();
        let (_rx_sock, mut rx) = rx_socket(TpacketVersion::V2, link.rx, RX_ROOMY, None);
        let (tx_sock, mut tx_map) = tx_socket(
            v,
            link.tx,
            TxOptions {
                tx_has_off: true,
                ..TxOptions::default()
            },
        );
        let tx = tx_map.tx().expect("TX ring");
        let d = tx.data_offset();
        let size = TX_FRAME_SIZE as usize;
        // (offset, frame): 64 past the default, an odd offset, far past the
        // default with room to spare, the last offset the kernel accepts
        // (off_max = frame_size - tp_len), and the default itself.
        let placed = [
            (d + 64, frame(1, 300, TEST_ETHERTYPE)),
            (d + 3, frame(2, 200, TEST_ETHERTYPE)),
            (512, frame(3, 1000, TEST_ETHERTYPE)),
            (size - MAX_FRAME, frame(4, MAX_FRAME, TEST_ETHERTYPE)),
            (d, frame(5, 60, TEST_ETHERTYPE)),
        ];
        for (off, f) in &placed {
            tx.send_at(*off, f)
                .unwrap_or_else(|e| panic!("{case}: queueing at offset {off}: {e}"));
        }
        let sent = tx_sock
            .kick_blocking()
            .unwrap_or_else(|e| panic!("{case}: send: {e}"));
        let want: Vec<Vec<u8>> = placed.iter().map(|(_, f)| f.clone()).collect();
        assert_eq!(sent, total_len(&want), "{case}: bytes sent");
        assert_idle(&case, tx);
        assert_frames(&case, &receive_bytes(&mut rx, want.len()), &want);

        // What the kernel would refuse (off < off_min, off > off_max) is
        // refused before it reaches the ring.
        assert_eq!(
            tx.send_at(d - 1, &want[0]),
            Err(TxError::OffsetTooSmall {
                offset: d - 1,
                min: d
            }),
            "{case}: offset below tp_hdrlen - sizeof(sockaddr_ll)"
        );
        assert_eq!(
            tx.send_at(size - 99, &frame(6, 100, TEST_ETHERTYPE)),
            Err(TxError::TooLong { len: 100, room: 99 }),
            "{case}: data running past the frame end"
        );
        assert!(
            tx.is_idle(),
            "{case}: refused requests leave the ring alone"
        );
    });
}

#[test]
fn tx_has_off_sends_from_tp_mac() {
    for v in VERSIONS {
        tx_has_off(v);
    }
}

/// Without PACKET_TX_HAS_OFF the kernel ignores `tp_mac` and reads `tp_len`
/// bytes at the default offset (`tp_hdrlen - sizeof(sockaddr_ll)`), so a
/// frame queued at `default + 64` goes out as the 64 stale bytes left at the
/// default offset by the slot's previous frame, followed by the start of
/// the new frame.
fn tp_mac_ignored(v: TpacketVersion, opts: TxOptions) {
    let case = format!("PACKET_TX_HAS_OFF off, TX {v}, {opts:?}");
    in_netns(&case, || {
        let link = link();
        let (_rx_sock, mut rx) = rx_socket(TpacketVersion::V2, link.rx, RX_ROOMY, None);
        let (tx_sock, mut tx_map) = tx_socket(v, link.tx, opts);
        let tx = tx_map.tx().expect("TX ring");

        // Fill every slot once so slot 0 holds a known frame at the default offset.
        let stale = frames(100, TX_FRAMES);
        send_all(&case, &tx_sock, tx, &stale);
        assert_frames(
            &format!("{case}, first round"),
            &receive_bytes(&mut rx, stale.len()),
            &stale,
        );

        let d = tx.data_offset();
        let data = frame(1, 300, TEST_ETHERTYPE);
        let slot = tx
            .send_at(d + 64, &data)
            .unwrap_or_else(|e| panic!("{case}: queueing at offset {}: {e}", d + 64));
        assert_eq!(slot, 0, "{case}: the ring wrapped to slot 0");
        let sent = tx_sock
            .kick_blocking()
            .unwrap_or_else(|e| panic!("{case}: send: {e}"));
        assert_eq!(sent, data.len(), "{case}: tp_len is still honoured");
        assert_idle(&case, tx);

        let mut wire = stale[0][..64].to_vec();
        wire.extend_from_slice(&data[..data.len() - 64]);
        let got = receive_bytes(&mut rx, 1);
        assert_frames(
            &format!("{case}: the bytes at the default offset go out, not those at tp_mac"),
            &got,
            &[wire],
        );
        assert_ne!(
            got[0], data,
            "{case}: the frame at tp_mac is not what was sent"
        );
    });
}

#[test]
fn without_tx_has_off_tp_mac_is_ignored() {
    for v in VERSIONS {
        tp_mac_ignored(v, TxOptions::default());
    }
}

/// `setsockopt(PACKET_TX_HAS_OFF)` after `PACKET_TX_RING` returns 0 but
/// changes nothing (`packet_setsockopt` only sets the flag while the socket
/// has no ring): the socket behaves as without the option.
#[test]
fn tx_has_off_after_ring_is_silently_ignored() {
    tp_mac_ignored(
        TpacketVersion::V2,
        TxOptions {
            tx_has_off_late: true,
            ..TxOptions::default()
        },
    );
}

/// Unlike `PACKET_TX_HAS_OFF`, `PACKET_LOSS` after the ring is refused
/// outright (EBUSY), so the mistake cannot go unnoticed.
#[test]
fn loss_after_ring_is_refused() {
    let case = "PACKET_LOSS after PACKET_TX_RING";
    in_netns(case, || {
        let mut s = PacketSocket::open(SocketType::Raw, None).expect("socket");
        s.set_version(TpacketVersion::V2).expect("PACKET_VERSION");
        let req = RingRequest::new(
            TpacketVersion::V2,
            RingKind::Tx,
            4096,
            TX_FRAMES / 2,
            TX_FRAME_SIZE,
            TX_FRAMES,
        );
        s.set_tx_ring(&req).expect("PACKET_TX_RING");
        let err = s.set_loss(true).expect_err(case);
        assert_eq!(err.errno(), Errno::BUSY, "{case}: {err}");
        assert_eq!(
            err.option(),
            Some("PACKET_LOSS"),
            "{case}: names the option"
        );
    });
}
