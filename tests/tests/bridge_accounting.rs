//! `ringtap bridge` counts every frame exactly: what it calls forwarded is
//! what the egress interface's own counters say it transmitted and what the
//! sink received, and everything else is in a named drop counter, at every
//! egress MTU, with a mirror that cannot take every frame, with bursts
//! larger than its TX ring, when the egress refuses a frame, and while
//! links flap. Each test runs in a private network namespace:
//! gen0 =veth= bra [ringtap bridge] brb =veth= sink0 (and brm =veth= mon0).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringtap_tests::{
    assert_accounted, frame, in_netns, ip, link_stats, veth_pair, veth_pair_mtus, Bridge, Receiver,
    Sender, TEST_ETHERTYPE,
};

fn n(d: &serde_json::Value, key: &str) -> u64 {
    d[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {d}"))
}

fn dropped(d: &serde_json::Value, reason: &str) -> u64 {
    d["dropped"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("dropped.{reason} missing in {d}"))
}

/// The ingress side's MTU: every frame of [`size_mix`] gets in.
const INGRESS_MTU: u32 = 9216;

/// Frames of every length class around `mtu`, `seq` numbered from `first`:
/// the shortest, the longest the MTU takes, one byte more, a standard full
/// frame and a jumbo frame.
fn size_mix(first: u32, rounds: u32, mtu: usize) -> Vec<Vec<u8>> {
    let lens = [60, mtu + 14, mtu + 15, 1514, 9014];
    (0..rounds)
        .flat_map(|r| lens.iter().enumerate().map(move |(i, &len)| (r, i, len)))
        .map(|(r, i, len)| {
            frame(
                first + r * lens.len() as u32 + i as u32,
                len,
                TEST_ETHERTYPE,
            )
        })
        .collect()
}

#[test]
fn accounting_is_exact_at_every_egress_mtu() {
    for mtu in [68u32, 576, 1280, 1500, 9000] {
        in_netns(&format!("bridge accounting, egress MTU {mtu}"), || {
            veth_pair("gen0", "bra", INGRESS_MTU);
            veth_pair("brb", "sink0", mtu);
            let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
            let mut sink = Receiver::open("sink0");
            let before = link_stats("brb");

            // Back to back, far more minimum-size frames than the TX ring
            // holds at this MTU, then every length class.
            let mut frames: Vec<Vec<u8>> = (0..30_000u32)
                .map(|i| frame(i, 60, TEST_ETHERTYPE))
                .collect();
            frames.extend(size_mix(30_000, 200, mtu as usize));
            Sender::open("gen0").send_paced(&frames, 256, Duration::ZERO);

            let stopped = bridge.stop();
            assert!(stopped.status.success(), "{}", stopped.stderr);
            assert_accounted(&stopped.stats);
            let d = &stopped.stats["directions"][0];
            let sent_by_brb = link_stats("brb").tx_packets - before.tx_packets;
            let got = sink.settle(Duration::from_millis(300)).len() as u64;
            assert_eq!(n(d, "kernel_packets"), frames.len() as u64, "{d}");
            assert_eq!(
                n(d, "tx_packets"),
                sent_by_brb,
                "forwarded vs brb's own tx_packets: {d}"
            );
            assert_eq!(
                n(d, "tx_packets"),
                got,
                "forwarded vs received on sink0: {d}"
            );
            let too_long = frames
                .iter()
                .filter(|f| f.len() > mtu as usize + 14)
                .count();
            if n(d, "kernel_drops") == 0 {
                assert_eq!(dropped(d, "oversize"), too_long as u64, "{d}");
                assert_eq!(n(d, "tx_packets"), (frames.len() - too_long) as u64, "{d}");
            }
            assert_eq!(dropped(d, "link_down"), 0, "every link stayed up: {d}");
        });
    }
}

#[test]
fn a_mirror_with_a_smaller_mtu_counts_every_copy_it_cannot_send() {
    in_netns("bridge mirror MTU", || {
        veth_pair("gen0", "bra", INGRESS_MTU);
        veth_pair("brb", "sink0", INGRESS_MTU);
        veth_pair("brm", "mon0", 576);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--mirror", "brm"]);
        let mut mon = Receiver::open("mon0");
        let before = link_stats("brm");
        let frames = size_mix(0, 400, 1500);
        Sender::open("gen0").send_paced(&frames, 32, Duration::from_millis(1));

        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        let m = &d["mirror"];
        assert_eq!(n(d, "tx_packets"), frames.len() as u64, "{d}");
        let copies: u64 = n(m, "tx_packets")
            + m["dropped"]
                .as_object()
                .expect("mirror drops")
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>();
        assert_eq!(
            copies,
            n(d, "tx_packets"),
            "each forwarded frame has a copy or a reason: {d}"
        );
        let too_long = frames.iter().filter(|f| f.len() > 576 + 14).count() as u64;
        assert_eq!(dropped(m, "oversize"), too_long, "{d}");
        assert_eq!(
            n(m, "tx_packets"),
            link_stats("brm").tx_packets - before.tx_packets,
            "mirror copies vs brm's tx_packets: {d}"
        );
        let got = mon.settle(Duration::from_millis(300)).len() as u64;
        assert_eq!(n(m, "tx_packets"), got, "mirror copies vs mon0: {d}");
    });
}

#[test]
fn a_frame_the_egress_refuses_does_not_stop_the_direction() {
    in_netns("bridge egress refusal", || {
        veth_pair("gen0", "bra", 1500);
        // brb takes 1500, but its peer only 1000: the veth drops longer
        // frames (NET_XMIT_DROP) and the kernel keeps them queued.
        veth_pair_mtus("brb", 1500, "sink0", 1000);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        let mut sink = Receiver::open("sink0");
        let mut frames: Vec<Vec<u8>> = (0..100).map(|i| frame(i, 128, TEST_ETHERTYPE)).collect();
        frames.push(frame(100, 1400, TEST_ETHERTYPE));
        frames.extend((101..401).map(|i| frame(i, 128, TEST_ETHERTYPE)));
        Sender::open("gen0").send_paced(&frames, 10, Duration::from_millis(2));

        let small: Vec<Vec<u8>> = frames.iter().filter(|f| f.len() < 1000).cloned().collect();
        let got = sink.collect(small.len(), Duration::from_secs(5)).to_vec();
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_eq!(
            got.len(),
            small.len(),
            "frames after the refused one went missing"
        );
        assert!(got == small, "frames arrived changed or out of order");
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(n(d, "tx_packets"), small.len() as u64, "{d}");
        assert_eq!(dropped(d, "egress_dropped"), 1, "{d}");
        assert_eq!(dropped(d, "link_down"), 0, "every link was up: {d}");
    });
}

#[test]
fn a_link_flap_under_traffic_counts_nothing_as_sent_that_did_not_leave() {
    in_netns("bridge link flap accounting", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        let before = link_stats("brb");
        let stop = AtomicBool::new(false);
        let sent = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                let mut gen = Sender::open("gen0");
                let mut seq = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let burst: Vec<Vec<u8>> = (seq..seq + 50)
                        .map(|i| frame(i, 256, TEST_ETHERTYPE))
                        .collect();
                    gen.send_paced(&burst, 50, Duration::from_millis(1));
                    seq += 50;
                }
                seq
            });
            // The egress itself, then its peer (brb loses its carrier),
            // twice each, under traffic.
            for dev in ["brb", "sink0", "brb", "sink0"] {
                std::thread::sleep(Duration::from_millis(300));
                ip(&["link", "set", dev, "down"]);
                std::thread::sleep(Duration::from_millis(300));
                ip(&["link", "set", dev, "up"]);
            }
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::Relaxed);
            sender.join().unwrap()
        });
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_accounted(&stopped.stats);
        let d = &stopped.stats["directions"][0];
        assert_eq!(n(d, "kernel_packets"), u64::from(sent), "{d}");
        assert_eq!(
            n(d, "tx_packets"),
            link_stats("brb").tx_packets - before.tx_packets,
            "frames counted as forwarded vs frames brb transmitted: {d}"
        );
        assert!(
            dropped(d, "link_down") > 0,
            "no frame met a down link, so the flaps proved nothing: {d}"
        );
    });
}
