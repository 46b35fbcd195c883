//! The remaining socket and interface calls against the kernel: a classic
//! BPF filter from `tcpdump -ddd`, promiscuous membership, and the netdev
//! queries and settings (MTU, link state, ethtool offloads).

use std::time::Duration;

use ringtap_core::bpf::{parse_ddd, Instruction};
use ringtap_core::geometry::{RingKind, RingRequest, TpacketVersion};
use ringtap_linux::netdev::{self, Offload};
use ringtap_linux::{MappedRing, Membership, PacketSocket};
use ringtap_tests::{
    frame, in_netns, open_rx_ring, open_tx_ring, veth_pair, wait_until, TEST_ETHERTYPE,
};

/// `tcpdump -ddd -y EN10MB 'ether proto 0x88b5'`.
const ONLY_TEST_ETHERTYPE: &str = "4\n40 0 0 12\n21 0 1 34997\n6 0 0 262144\n6 0 0 0\n";

fn rx(ifindex: u32, filter: Option<&[Instruction]>) -> (PacketSocket, MappedRing) {
    let req = RingRequest::new(TpacketVersion::V2, RingKind::Rx, 1 << 16, 2, 2048, 64);
    open_rx_ring(req, ifindex, filter)
}

fn send_plain(ifindex: u32, frames: &[Vec<u8>]) {
    let req = RingRequest::new(TpacketVersion::V2, RingKind::Tx, 1 << 16, 1, 2048, 32);
    let (s, mut ring) = open_tx_ring(req, ifindex);
    for f in frames {
        ring.tx().unwrap().send(f).unwrap();
    }
    s.kick_blocking().unwrap();
}

fn received(ring: &mut MappedRing, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    wait_until(Duration::from_secs(2), || {
        let rx = ring.rx_frames().unwrap();
        while let Some(f) = rx.next_frame() {
            got.push(f.data().unwrap().to_vec());
        }
        got.len() >= want
    });
    // Anything late would show up here.
    std::thread::sleep(Duration::from_millis(50));
    let rx = ring.rx_frames().unwrap();
    while let Some(f) = rx.next_frame() {
        got.push(f.data().unwrap().to_vec());
    }
    got
}

#[test]
fn tcpdump_filter_passes_only_what_it_matches() {
    in_netns("bpf filter", || {
        veth_pair("so0", "so1", 1500);
        let mut buf = [Instruction::stmt(0, 0); 8];
        let program = parse_ddd(ONLY_TEST_ETHERTYPE, &mut buf).unwrap();
        let (_sock, mut ring) = rx(netdev::ifindex("so1").unwrap(), Some(program));
        let (_all_sock, mut all) = rx(netdev::ifindex("so1").unwrap(), None);
        let frames: Vec<_> = (0..20)
            .map(|i| frame(i, 100, if i % 2 == 0 { TEST_ETHERTYPE } else { 0x88b6 }))
            .collect();
        send_plain(netdev::ifindex("so0").unwrap(), &frames);
        let filtered = received(&mut ring, 10);
        let expected: Vec<_> = frames.iter().step_by(2).cloned().collect();
        assert_eq!(
            filtered, expected,
            "the filter must pass exactly the 0x88b5 frames, in order"
        );
        assert_eq!(
            received(&mut all, 20).len(),
            20,
            "an unfiltered socket sees all 20"
        );
    });
}

#[test]
fn detached_filter_passes_everything_again() {
    in_netns("bpf detach", || {
        veth_pair("so0", "so1", 1500);
        let mut buf = [Instruction::stmt(0, 0); 8];
        let program = parse_ddd(ONLY_TEST_ETHERTYPE, &mut buf).unwrap();
        let (sock, mut ring) = rx(netdev::ifindex("so1").unwrap(), Some(program));
        sock.detach_filter().expect("SO_DETACH_FILTER");
        send_plain(netdev::ifindex("so0").unwrap(), &[frame(1, 100, 0x88b6)]);
        assert_eq!(received(&mut ring, 1).len(), 1);
    });
}

/// The device's promiscuity count, as `ip -d link` reports it (packet
/// socket memberships raise the count, not the user-visible IFF_PROMISC).
fn promiscuity(dev: &str) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["-d", "link", "show", "dev", dev])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "promiscuity");
    words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no promiscuity in: {text}"))
}

#[test]
fn promiscuous_membership_counts_and_is_released() {
    in_netns("promisc", || {
        veth_pair("so0", "so1", 1500);
        let rx_idx = netdev::ifindex("so1").unwrap();
        assert_eq!(promiscuity("so1"), 0);
        let (sock, ring) = rx(rx_idx, None);
        sock.add_membership(rx_idx, Membership::Promisc)
            .expect("PACKET_ADD_MEMBERSHIP");
        assert_eq!(promiscuity("so1"), 1);
        sock.drop_membership(rx_idx, Membership::Promisc)
            .expect("PACKET_DROP_MEMBERSHIP");
        assert_eq!(promiscuity("so1"), 0);
        sock.add_membership(rx_idx, Membership::Promisc).unwrap();
        sock.add_membership(rx_idx, Membership::AllMulti)
            .expect("PACKET_MR_ALLMULTI");
        sock.add_membership(
            rx_idx,
            Membership::Multicast([0x01, 0x80, 0xc2, 0, 0, 0x0e]),
        )
        .expect("PACKET_MR_MULTICAST");
        assert_eq!(promiscuity("so1"), 1);
        // The mapping holds the socket open too: release both.
        drop(ring);
        drop(sock);
        assert!(
            wait_until(Duration::from_secs(2), || promiscuity("so1") == 0),
            "closing the socket must release its membership"
        );
    });
}

#[test]
fn netdev_mtu_link_and_offloads() {
    in_netns("netdev", || {
        veth_pair("so0", "so1", 9000);
        assert_eq!(netdev::mtu("so0").unwrap(), 9000);
        assert!(netdev::ifindex("so0").unwrap() > 0);
        let e = netdev::ifindex("nosuchdev").unwrap_err();
        assert_eq!(e.call(), "ioctl");

        netdev::set_link_up("so0", false).expect("SIOCSIFFLAGS down");
        assert!(!netdev::link_flags("so0").unwrap().up);
        netdev::set_link_up("so0", true).expect("SIOCSIFFLAGS up");
        assert!(netdev::link_flags("so0").unwrap().up);
        assert!(wait_until(Duration::from_secs(5), || netdev::link_flags(
            "so1"
        )
        .is_ok_and(|f| f.running)));

        for off in [Offload::Gro, Offload::Gso, Offload::Tso] {
            let was = netdev::offload("so0", off).unwrap_or_else(|e| panic!("{off:?}: {e}"));
            netdev::set_offload("so0", off, !was).unwrap_or_else(|e| panic!("set {off:?}: {e}"));
            assert_eq!(
                netdev::offload("so0", off).unwrap(),
                !was,
                "{off:?} did not change"
            );
            netdev::set_offload("so0", off, was).unwrap();
            assert_eq!(netdev::offload("so0", off).unwrap(), was);
        }
        // veth has no LRO: reading works and says off.
        assert!(!netdev::offload("so0", Offload::Lro).unwrap());
    });
}
