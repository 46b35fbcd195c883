//! A running `ringtap bridge` keeps only what it still needs: on every
//! thread, no capability beyond CAP_NET_RAW and CAP_NET_ADMIN, no_new_privs
//! and a seccomp filter; with `--user` another uid, and it still forwards,
//! follows a re-created port and writes its final counters.

use std::time::Duration;

use ringtap_tests::confined::{assert_confined, NET_ADMIN_AND_RAW};
use ringtap_tests::{
    assert_accounted, frame, in_netns, ip, veth_pair, Bridge, Receiver, Sender, TEST_ETHERTYPE,
};

fn check_confined(pid: u32, uid: Option<u32>) {
    let threads = assert_confined(pid, NET_ADMIN_AND_RAW, uid);
    assert!(
        threads >= 2,
        "the workers have not started: {threads} thread(s)"
    );
}

#[test]
fn the_running_bridge_keeps_only_what_it_needs() {
    in_netns("bridge privileges", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let bridge = Bridge::start(&["--in", "bra", "--out", "brb"]);
        check_confined(bridge.pid(), None);
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert!(
            stopped.stderr.contains("seccomp allow-list"),
            "{}",
            stopped.stderr
        );
    });
}

#[test]
fn as_nobody_it_forwards_follows_a_new_port_and_writes_its_counters() {
    in_netns("bridge as nobody", || {
        veth_pair("gen0", "bra", 1500);
        veth_pair("brb", "sink0", 1500);
        let bridge =
            Bridge::start_shared(&["--in", "bra", "--out", "brb", "--user", "65534:65534"]);
        check_confined(bridge.pid(), Some(65534));
        let frames: Vec<Vec<u8>> = (0..200).map(|i| frame(i, 200, TEST_ETHERTYPE)).collect();
        let mut sink = Receiver::open("sink0");
        Sender::open("gen0").send_paced(&frames, 20, Duration::from_millis(2));
        assert_eq!(sink.collect(200, Duration::from_secs(5)).len(), 200);
        drop(sink);

        // The egress goes and comes back: the main thread re-opens it with
        // what it kept.
        ip(&["link", "del", "brb"]);
        std::thread::sleep(Duration::from_millis(300));
        veth_pair("brb", "sink0", 1500);
        let mut sink = Receiver::open("sink0");
        let mut got = 0;
        for round in 0..20u32 {
            let burst: Vec<Vec<u8>> = (0..20)
                .map(|i| frame(1000 + round * 20 + i, 200, TEST_ETHERTYPE))
                .collect();
            Sender::open("gen0").send_paced(&burst, 20, Duration::ZERO);
            got = sink.collect(1, Duration::from_millis(200)).len();
            if got > 0 {
                break;
            }
        }
        assert!(
            got > 0,
            "nothing crossed the re-created port: {}",
            bridge.stderr()
        );
        let stopped = bridge.stop();
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert!(
            stopped.stderr.contains("as uid 65534"),
            "{}",
            stopped.stderr
        );
        assert_accounted(&stopped.stats);
        assert!(
            stopped.stats["reopened"].as_u64().unwrap() >= 1,
            "{}",
            stopped.stats
        );
    });
}
