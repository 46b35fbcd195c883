//! Acceptance: frames of 60..=1514 bytes sent through a TX ring (V1, V2, V3)
//! over a veth pair arrive in an RX ring (V1, V2, V3) byte-identical, in
//! order, with the right lengths, sockaddr_ll and timestamps, and
//! PACKET_STATISTICS agrees. V3 blocks retire by timeout on an idle link.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_core::status::RxStatus;
use ringtap_linux::{netdev, FrameInfo, PacketSocket};
use ringtap_tests::{
    frame, in_netns, open_rx_ring, open_tx_ring, veth_pair, wait_until, TEST_ETHERTYPE,
};

const FRAMES: u32 = 300;

fn sizes() -> impl Iterator<Item = (u32, usize)> {
    // Walk the whole 60..=1514 range, including both ends.
    (0..FRAMES).map(|i| (i, 60 + (i as usize * 1454) / (FRAMES as usize - 1)))
}

fn rx_socket(v: TpacketVersion, ifindex: u32) -> (PacketSocket, ringtap_linux::MappedRing) {
    let mut req = RingRequest::new(v, RingKind::Rx, 1 << 16, 8, 2048, 8 * 32);
    if v == TpacketVersion::V3 {
        req.retire_blk_tov = 20;
    }
    open_rx_ring(req, ifindex, None)
}

fn tx_socket(v: TpacketVersion, ifindex: u32) -> (PacketSocket, ringtap_linux::MappedRing) {
    open_tx_ring(
        RingRequest::new(v, RingKind::Tx, 1 << 16, 4, 2048, 4 * 32),
        ifindex,
    )
}

/// Collect (info, bytes) of every test frame the RX ring holds.
fn drain(
    v: TpacketVersion,
    ring: &mut ringtap_linux::MappedRing,
    out: &mut Vec<(FrameInfo, Vec<u8>)>,
) {
    if v == TpacketVersion::V3 {
        let rx = ring.rx_blocks().expect("V3 ring");
        while let Some(block) = rx.next_block() {
            for p in block.packets().expect("block header") {
                let p = p.expect("packet inside block");
                out.push((FrameInfo::from_v3(&p), p.data.to_vec()));
            }
        }
    } else {
        let rx = ring.rx_frames().expect("V1/V2 ring");
        while let Some(f) = rx.next_frame() {
            out.push((
                f.info().expect("header"),
                f.data().expect("packet").to_vec(),
            ));
        }
    }
}

fn roundtrip(rx_v: TpacketVersion, tx_v: TpacketVersion) {
    let name = format!("roundtrip rx {rx_v} tx {tx_v}");
    in_netns(&name, || {
        veth_pair("rt0", "rt1", 1500);
        let (tx_idx, rx_idx) = (
            netdev::ifindex("rt0").unwrap(),
            netdev::ifindex("rt1").unwrap(),
        );
        let (rx_sock, mut rx_ring) = rx_socket(rx_v, rx_idx);
        let (tx_sock, mut tx_ring) = tx_socket(tx_v, tx_idx);
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;

        let mut got = Vec::new();
        for (seq, len) in sizes() {
            let data = frame(seq, len, TEST_ETHERTYPE);
            let tx = tx_ring.tx().unwrap();
            // Bounded wait for a free TX frame; the RX side is drained meanwhile.
            let queued = wait_until(Duration::from_secs(5), || {
                drain(rx_v, &mut rx_ring, &mut got);
                match tx.send(&data) {
                    Ok(_) => true,
                    Err(ringtap_linux::TxError::Full) => {
                        tx_sock.kick().ok();
                        false
                    }
                    Err(e) => panic!("{name}: frame {seq}: {e}"),
                }
            });
            assert!(queued, "{name}: TX ring stayed full at frame {seq}");
            if seq % 8 == 7 {
                tx_sock.kick().expect("send");
            }
        }
        tx_sock.kick().expect("send");
        let all_in = wait_until(Duration::from_secs(5), || {
            drain(rx_v, &mut rx_ring, &mut got);
            got.iter()
                .filter(|(i, _)| i.addr.protocol == TEST_ETHERTYPE)
                .count()
                >= FRAMES as usize
        });
        let ours: Vec<_> = got
            .iter()
            .filter(|(i, _)| i.addr.protocol == TEST_ETHERTYPE)
            .collect();
        assert!(all_in, "{name}: {} of {FRAMES} frames arrived", ours.len());
        assert!(
            wait_until(Duration::from_secs(5), || tx_ring.tx().unwrap().is_idle()),
            "{name}: TX frames not returned"
        );

        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32
            + 1;
        for ((seq, len), (info, bytes)) in sizes().zip(&ours) {
            assert_eq!(
                bytes,
                &frame(seq, len, TEST_ETHERTYPE),
                "{name}: frame {seq} bytes"
            );
            assert_eq!(info.len as usize, len, "{name}: frame {seq} tp_len");
            assert_eq!(info.snaplen as usize, len, "{name}: frame {seq} tp_snaplen");
            assert!(info.status.contains(RxStatus::USER));
            assert_eq!(info.addr.ifindex as u32, rx_idx, "{name}: sll_ifindex");
            assert_eq!(info.addr.hatype, 1, "{name}: ARPHRD_ETHER");
            assert_eq!(info.addr.pkttype, 1, "{name}: PACKET_BROADCAST");
            assert_eq!(info.addr.halen, 6);
            assert_eq!(
                &info.addr.addr[..6],
                &bytes[6..12],
                "{name}: sll_addr is the source MAC"
            );
            assert!(
                (before..=after).contains(&info.timestamp.sec)
                    && info.timestamp.nsec < 1_000_000_000,
                "{name}: frame {seq} timestamp {:?} outside {before}..={after}",
                info.timestamp
            );
        }
        let ts: Vec<_> = ours.iter().map(|(i, _)| i.timestamp).collect();
        let sorted = ts.windows(2).all(|w| w[0] <= w[1]);
        assert!(sorted, "{name}: timestamps go backwards");

        let stats = rx_sock.statistics().expect("PACKET_STATISTICS");
        assert_eq!(stats.drops, 0, "{name}: drops");
        assert_eq!(
            stats.packets as usize,
            got.len(),
            "{name}: tp_packets counts every frame the ring got"
        );
        assert_eq!(stats.freeze_q_cnt.is_some(), rx_v == TpacketVersion::V3);
    });
}

#[test]
fn v1_rx_v1_tx() {
    roundtrip(TpacketVersion::V1, TpacketVersion::V1);
}

#[test]
fn v2_rx_v2_tx() {
    roundtrip(TpacketVersion::V2, TpacketVersion::V2);
}

#[test]
fn v3_rx_v3_tx() {
    roundtrip(TpacketVersion::V3, TpacketVersion::V3);
}

#[test]
fn v3_rx_v1_tx() {
    roundtrip(TpacketVersion::V3, TpacketVersion::V1);
}

#[test]
fn v2_rx_v3_tx() {
    roundtrip(TpacketVersion::V2, TpacketVersion::V3);
}

/// An idle V3 ring still hands out blocks: the retire timer closes the
/// block holding a single frame, flagged TP_STATUS_BLK_TMO.
#[test]
fn v3_block_retired_by_timeout() {
    in_netns("v3 retire timeout", || {
        veth_pair("rt0", "rt1", 1500);
        let (rx_sock, mut rx_ring) = rx_socket(TpacketVersion::V3, netdev::ifindex("rt1").unwrap());
        let (tx_sock, mut tx_ring) = tx_socket(TpacketVersion::V2, netdev::ifindex("rt0").unwrap());
        tx_ring
            .tx()
            .unwrap()
            .send(&frame(1, 100, TEST_ETHERTYPE))
            .unwrap();
        tx_sock.kick().unwrap();
        let mut seen = None;
        let retired = wait_until(Duration::from_secs(2), || {
            let rx = rx_ring.rx_blocks().unwrap();
            if let Some(block) = rx.next_block() {
                let n = block
                    .packets()
                    .unwrap()
                    .filter(|p| p.as_ref().is_ok_and(|p| p.data.len() == 100))
                    .count();
                seen = Some((block.status(), n));
                n > 0
            } else {
                false
            }
        });
        assert!(retired, "no block retired within 2 s on an idle link");
        let (status, n) = seen.unwrap();
        assert_eq!(n, 1);
        assert!(
            status.contains(RxStatus::BLK_TMO),
            "block status {status:?} lacks TP_STATUS_BLK_TMO"
        );
        assert!(rx_sock.statistics().unwrap().freeze_q_cnt.is_some());
    });
}
