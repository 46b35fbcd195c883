//! Acceptance: the receive room of `ringtap_core::room` against the kernel
//! (`tpacket_rcv` in net/packet/af_packet.c is the oracle).
//!
//! For rings with and without `PACKET_RESERVE` and (V3) a block private
//! area, an Ethernet frame of exactly `Layout::rx_room()` bytes arrives
//! whole at `tp_mac == Layout::rx_mac_offset()`, and a frame one byte
//! longer is cut to that many bytes. The bridge and capture refuse a ring
//! whose room is below the MTU's longest frame, and `ringtap plan` prints
//! the same number, so this is the check that the number is the kernel's.

use std::time::Duration;

use ringtap_core::geometry::{Layout, RingKind, RingRequest, TpacketVersion};
use ringtap_linux::{netdev, FrameInfo, RingSocketBuilder, ETH_P_ALL};
use ringtap_tests::{frame, in_netns, layout, veth_pair, wait_until, Sender, TEST_ETHERTYPE};

/// Jumbo frames, so the rooms of V3 blocks can be reached.
const MTU: u32 = 9000;
const WAIT: Duration = Duration::from_secs(5);

/// An RX ring: `block_nr` blocks of `block_size` bytes in `frame_size`
/// frames, with a reserve and (V3) a private area.
fn ring(
    version: TpacketVersion,
    block_size: u32,
    frame_size: u32,
    reserve: u32,
    sizeof_priv: u32,
) -> Layout {
    let mut req = RingRequest::tiled(version, RingKind::Rx, block_size, 4, frame_size);
    req.reserve = reserve;
    if version == TpacketVersion::V3 {
        req.retire_blk_tov = 5;
        req.sizeof_priv = sizeof_priv;
    }
    layout(req)
}

/// Send a frame of `room` and one of `room + 1` bytes through a veth pair
/// into a socket with this RX ring, and check where and how whole each
/// arrives.
fn check(case: &str, rx: Layout) {
    let room = rx.rx_room();
    let mac = rx.rx_mac_offset();
    assert!(
        (60..(MTU + 14)).contains(&room),
        "{case}: a room of {room} cannot be tested on this link"
    );
    veth_pair("room0", "room1", MTU);
    let ifindex = netdev::ifindex("room1").expect("ifindex room1");
    let (_sock, mut ring) = RingSocketBuilder::rx(rx)
        .open(ifindex, ETH_P_ALL)
        .unwrap_or_else(|e| panic!("{case}: RX ring socket: {e}"));
    let fits = frame(1, room as usize, TEST_ETHERTYPE);
    let cut = frame(2, room as usize + 1, TEST_ETHERTYPE);
    let mut tx = Sender::open("room0");
    tx.queue(&fits);
    tx.queue(&cut);
    tx.flush();

    let mut got: Vec<(FrameInfo, Vec<u8>)> = Vec::new();
    wait_until(WAIT, || {
        ring.for_each_received(16, |info, data| {
            if data.get(12..14) == Some(&TEST_ETHERTYPE.to_be_bytes()[..]) {
                got.push((*info, data.to_vec()));
            }
            Ok::<(), ()>(())
        })
        .expect("walk the ring");
        got.len() >= 2
    });
    assert_eq!(got.len(), 2, "{case}: both frames arrive");

    let (info, data) = &got[0];
    assert_eq!(
        u32::from(info.mac),
        mac,
        "{case}: tp_mac of the frame that fits"
    );
    assert_eq!(
        (info.len, info.snaplen),
        (room, room),
        "{case}: a frame of rx_room bytes arrives whole"
    );
    assert_eq!(data, &fits, "{case}: its bytes");

    let (info, data) = &got[1];
    assert_eq!(
        u32::from(info.mac),
        mac,
        "{case}: tp_mac of the frame that is cut"
    );
    assert_eq!(
        (info.len, info.snaplen),
        (room + 1, room),
        "{case}: a frame one byte longer is cut to rx_room bytes"
    );
    assert_eq!(data[..], cut[..room as usize], "{case}: its first bytes");
}

#[test]
fn v1_frames() {
    let case = "TPACKET_V1, 512-byte frames";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V1, 4096, 512, 0, 0))
    });
}

#[test]
fn v2_frames_with_a_reserve() {
    let case = "TPACKET_V2, 1024-byte frames, PACKET_RESERVE 20";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V2, 4096, 1024, 20, 0))
    });
    // The reserve is added after the kernel's alignment, not rounded.
    let case = "TPACKET_V2, 2048-byte frames, PACKET_RESERVE 37";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V2, 8192, 2048, 37, 0))
    });
}

#[test]
fn v3_blocks_with_a_private_area_and_a_reserve() {
    let case = "TPACKET_V3, 4096-byte blocks";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V3, 4096, 2048, 0, 0))
    });
    // tp_sizeof_priv comes out of every block (rounded up to 8).
    let case = "TPACKET_V3, 4096-byte blocks, tp_sizeof_priv 3000, PACKET_RESERVE 8";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V3, 4096, 1024, 8, 3000));
    });
    let case = "TPACKET_V3, 8192-byte blocks, tp_sizeof_priv 13, PACKET_RESERVE 3";
    in_netns(case, || {
        check(case, ring(TpacketVersion::V3, 8192, 2048, 3, 13));
    });
}
