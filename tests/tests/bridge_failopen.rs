//! Fail-open: when the bridge dies, `ringtap bypass ... on` (what the unit
//! and the init script run after it) lets the kernel forward between its
//! ports; tagged, stacked, link-local and jumbo frames cross the bypass
//! unchanged; a bridge started again turns the bypass off, and no frame is
//! delivered twice.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringtap_tests::corpus::corpus;
use ringtap_tests::{
    frame, in_netns, ringtap_bin, veth_pair, Bridge, Receiver, Sender, TEST_ETHERTYPE,
};

fn bypass(action: &str) -> String {
    let out = Command::new(ringtap_bin())
        .args(["bypass", "--in", "bra", "--out", "brb", action])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bypass {action}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The sequence number the test frames carry after the EtherType.
fn seq(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[14..18].try_into().unwrap())
}

#[test]
fn a_killed_bridge_fails_open_and_a_new_one_takes_over() {
    in_netns("bridge fail-open", || {
        veth_pair("gen0", "bra", 9000);
        veth_pair("brb", "sink0", 9000);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        let mut sink = Receiver::open("sink0");
        let stop = AtomicBool::new(false);
        let sent = std::thread::scope(|s| {
            let sender = s.spawn(|| {
                let mut gen = Sender::open("gen0");
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    gen.send_paced(&[frame(n, 128, TEST_ETHERTYPE)], 1, Duration::ZERO);
                    n += 1;
                    std::thread::sleep(Duration::from_micros(500));
                }
                n
            });
            // The test's receive ring holds a few hundred milliseconds of
            // this stream: keep taking from it.
            let mut drain = |ms: u64| {
                for _ in 0..ms / 10 {
                    sink.poll();
                    std::thread::sleep(Duration::from_millis(10));
                }
            };
            drain(300);
            bridge.kill();
            assert_eq!(bypass("on"), "bypass bra <-> brb: on\n");
            drain(300);
            stop.store(true, Ordering::Relaxed);
            sender.join().unwrap()
        });
        let got: Vec<u32> = sink
            .settle(Duration::from_millis(300))
            .iter()
            .filter(|f| f[12..14] == TEST_ETHERTYPE.to_be_bytes())
            .map(|f| seq(f))
            .collect();
        let last = *got.last().expect("nothing arrived");
        assert_eq!(
            last + 1,
            sent,
            "the stream did not resume through the bypass"
        );
        let lost = sent as usize - got.len();
        // Frames in the dead bridge's rings and in the moments between the
        // kill and the bypass: a handful at 2,000 frames per second.
        assert!(
            lost < 200,
            "{lost} of {sent} frames lost across the switch-over"
        );

        // The corpus crosses the bypass unchanged.
        let frames = corpus(300, 9000);
        let mut sink = Receiver::open("sink0");
        Sender::open("gen0").send_paced(&frames, 16, Duration::from_millis(2));
        let through = sink.collect(frames.len(), Duration::from_secs(5));
        assert_eq!(through.len(), frames.len(), "frames lost in the bypass");
        for (i, (a, b)) in frames.iter().zip(through).enumerate() {
            assert!(
                a == b,
                "frame {i} ({} bytes) changed in the bypass",
                a.len()
            );
        }

        // A new bridge turns the bypass off: each frame arrives once.
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        assert_eq!(bypass("status"), "bypass bra <-> brb: off\n");
        let mut sink = Receiver::open("sink0");
        let frames: Vec<Vec<u8>> = (0..500).map(|i| frame(i, 200, TEST_ETHERTYPE)).collect();
        Sender::open("gen0").send_paced(&frames, 10, Duration::from_millis(1));
        let got = sink.collect(frames.len(), Duration::from_secs(5)).len();
        assert_eq!(sink.settle(Duration::from_millis(300)).len(), got);
        assert_eq!(got, frames.len(), "frames lost or delivered twice");
        let stopped = bridge.stop();
        assert!(
            stopped.stderr.contains("was on: turned it off"),
            "{}",
            stopped.stderr
        );
        assert_eq!(stopped.stats["directions"][0]["tx_packets"], 500);
    });
}

#[test]
fn fail_open_turns_the_bypass_on_at_exit() {
    in_netns("bridge --fail-open", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb", "--fail-open"]);
        assert_eq!(bypass("status"), "bypass bra <-> brb: off\n");
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert_eq!(bypass("status"), "bypass bra <-> brb: on\n");
        let mut sink = Receiver::open("sink0");
        let frames: Vec<Vec<u8>> = (0..50).map(|i| frame(i, 100, TEST_ETHERTYPE)).collect();
        Sender::open("gen0").send_paced(&frames, 10, Duration::from_millis(1));
        assert_eq!(sink.collect(50, Duration::from_secs(3)).len(), 50);
        assert_eq!(bypass("off"), "bypass bra <-> brb: off\n");
    });
}
